"""The ``cockpit`` command line on a small hand-made city (contract sections 2, 4, 5 and 9).

The city (示范市) has two districts, one of them with a 街道, two departments and six
records; every expected number below is worked out by hand from ``RECORDS``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from servers import REPO_ROOT, run_cli

CITY_INDICATORS = {"online_rate", "avg_duration", "case_count", "city_cases", "double_duration"}
OUTPUT_KEYS = [
    "indicator",
    "period",
    "region",
    "department",
    "value",
    "target",
    "status",
    "yoy",
    "mom",
    "rank",
]

CONFIG = """\
version: 1
org:
  regions:
    id: "130300"
    name: 示范市
    children:
      - id: "130302"
        name: 海港区
        children: [{id: "130302001", name: 东山街道}]
      - {id: "130303", name: 山海关区}
  departments:
    - {id: zwfw, name: 市政务服务管理办公室}
    - {id: gaj, name: 市公安局}
sources:
  records: {type: csv, path: data/records.csv}
SOURCES
indicators:
  - id: online_rate
    name: 全程网办率
    domain: 政务服务效能
    unit: "%"
    owner: zwfw
    source: records
    time: {column: accepted_at, grain: month}
    region: region_code
    department: dept_code
    measure:
      type: ratio
      numerator: {agg: count, where: "channel = '网办'"}
      denominator: {agg: count}
      scale: 100
    target: 90
    thresholds: {green: 90, yellow: 60}
  - id: avg_duration
    name: 平均办理时长
    domain: 办理效率
    unit: 天
    source: records
    time: {column: accepted_at, grain: month}
    region: region_code
    measure: {type: mean, column: duration}
    direction: lower_better
  - id: case_count
    name: 办件量
    domain: 办理效率
    unit: 件
    source: records
    time: {column: accepted_at, grain: month}
    region: region_code
    measure: {type: count}
  - id: city_cases
    name: 全市办件量
    domain: 办理效率
    unit: 件
    source: records
    time: {column: accepted_at, grain: month}
    measure: {type: count}
  - id: double_duration
    name: 双倍时长
    domain: 办理效率
    unit: 天
    measure: {type: formula, expr: "d * 2", inputs: {d: avg_duration}}
INDICATORS
"""

# contract section 9, verbatim
ACCESS = """\
access:
  users:
    - {id: zhang, name: 张区长, role: leader, regions: ["130302"]}          # a district leader
    - {id: wang,  name: 王秘书长, role: leader, regions: ["130300"]}        # the whole city
    - {id: li,    name: 李科长, role: staff, regions: ["130300"], domains: [政务服务效能]}
"""

HEADER = "accepted_at,region_code,dept_code,channel,duration\n"
RECORDS = HEADER + (
    "2026-01-05,130302,zwfw,网办,2.0\n"
    "2026-01-06,130303,zwfw,网办,4.0\n"
    "2026-01-07,130302001,gaj,窗口,6.0\n"
    "2026-02-03,130302,zwfw,网办,1.0\n"
    "2026-02-04,130303,gaj,窗口,3.0\n"
    "2026-02-05,130302001,gaj,网办,5.0\n"
)


def make_city(
    folder: Path,
    records: str = RECORDS,
    sources: str = "",
    indicators: str = "",
    access: bool = True,
    files: dict[str, str] | None = None,
) -> Path:
    """Write ``folder/indicators.yaml`` and ``folder/data/records.csv``; return the config's path."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "records.csv").write_text(records, encoding="utf-8")
    for name, text in (files or {}).items():
        (folder / "data" / name).write_text(text, encoding="utf-8")
    text = CONFIG.replace("SOURCES\n", sources).replace("INDICATORS\n", indicators) + (
        ACCESS if access else ""
    )
    config = folder / "indicators.yaml"
    config.write_text(text, encoding="utf-8")
    return config


def rows_of(r: subprocess.CompletedProcess[str]) -> list[dict]:
    assert "Traceback" not in r.stderr, r.stderr
    data = json.loads(r.stdout)
    assert isinstance(data, list)
    return data


def index(rows: list[dict]) -> dict[tuple, dict]:
    return {(x["indicator"], x["period"], x["region"], x["department"]): x for x in rows}


def lines(stderr: str, level: str) -> list[str]:
    return [s for s in stderr.splitlines() if s.startswith(f"{level}:")]


def no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    assert "internal error" not in r.stderr, r.stderr


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_city(tmp_path_factory.mktemp("city"))


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another folder, holding a decoy ``data/records.csv`` (2030-05 only): were the paths of a
    config resolved against the current directory, the numbers would come from it."""
    folder = tmp_path_factory.mktemp("elsewhere")
    (folder / "data").mkdir()
    (folder / "data" / "records.csv").write_text(HEADER + "2030-05-05,130303,gaj,网办,99\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def city_rows(city: Path, elsewhere: Path) -> list[dict]:
    """``compute --format json`` on the city, run from ``elsewhere`` with a relative ``--config``."""
    rel = Path("..") / city.parent.name / city.name
    r = run_cli("compute", "--config", rel, "--format", "json", cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    return rows_of(r)


# ----------------------------------------------------------------- help and schema


def test_help_lists_the_commands() -> None:
    r = run_cli("--help")
    assert r.returncode == 0
    for command in ("validate", "compute", "schema"):
        assert re.search(rf"^\s+{command}\b", r.stdout, re.M), r.stdout
    r = run_cli("compute", "--help")
    assert r.returncode == 0
    for option in ("--config", "--indicator", "--period", "--format", "--output", "--as"):
        assert option in r.stdout, option


@pytest.fixture(scope="module")
def schema() -> dict:
    r = run_cli("schema")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    return json.loads(r.stdout)


def test_schema_is_a_json_schema_of_the_config(schema: dict) -> None:
    assert schema.get("type") == "object"
    assert "$schema" in schema and "json-schema.org" in schema["$schema"]
    props = schema["properties"]
    for key in (
        "version",
        "org",
        "sources",
        "channels",
        "indicators",
        "site",
        "access",
        "bulletins",
        "assessments",
    ):
        assert key in props, key
    assert "version" in schema.get("required", [])
    # the indicator's own definition: every field of contract section 3
    defs = schema.get("$defs") or schema.get("definitions") or {}
    indicator = next(
        d for d in defs.values() if "measure" in d.get("properties", {}) and "thresholds" in d["properties"]
    )
    for key in (
        "id",
        "name",
        "domain",
        "unit",
        "owner",
        "source",
        "time",
        "region",
        "department",
        "measure",
        "accumulate",
        "rollup",
        "direction",
        "target",
        "thresholds",
        "bands",
        "alerts",
    ):
        assert key in indicator["properties"], key
    assert {"id", "name", "measure"} <= set(indicator.get("required", []))
    # every top-level key of the shipped catalogue is known to the schema
    shipped = REPO_ROOT / "indicators.yaml"
    if shipped.exists():
        yaml = pytest.importorskip("yaml")
        doc = yaml.safe_load(shipped.read_text(encoding="utf-8"))
        assert set(doc) <= set(props), set(doc) - set(props)


def test_schema_takes_config_like_every_sub_command(city: Path) -> None:
    r = run_cli("schema", "--config", city)
    assert r.returncode == 0, r.stderr
    assert "indicators" in json.loads(r.stdout)["properties"]


def test_schema_accepts_the_good_fixtures_if_jsonschema_is_there(schema: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    yaml = pytest.importorskip("yaml")
    validator = jsonschema.Draft202012Validator(schema)
    good = sorted((Path(__file__).parent / "fixtures" / "config" / "good").glob("*.yaml"))
    shipped = REPO_ROOT / "indicators.yaml"
    for path in [*good, *([shipped] if shipped.exists() else [])]:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
        assert not errors, (path.name, errors[:5])
    # and it is strict, as validate is: a typo is flagged
    assert list(validator.iter_errors({"version": 1, "indicator": []}))


# ----------------------------------------------------------------- compute: the shape of the rows


def test_json_rows_have_exactly_the_contract_keys(city_rows: list[dict]) -> None:
    assert city_rows
    for row in city_rows:
        assert set(row) == set(OUTPUT_KEYS), row
        assert isinstance(row["indicator"], str) and isinstance(row["period"], str)
        for k in ("value", "target", "yoy", "mom"):
            assert row[k] is None or isinstance(row[k], int | float), (k, row)
        assert row["rank"] is None or (isinstance(row["rank"], int) and row["rank"] >= 1), row
        assert row["status"] in (None, "green", "yellow", "red", "blue", "lightblue"), row


def test_rows_are_sorted_by_indicator_period_region_department(city_rows: list[dict]) -> None:
    keys = [(x["indicator"], x["period"], x["region"] or "", x["department"] or "") for x in city_rows]
    assert keys == sorted(keys)
    assert len(keys) == len(set(keys)), "a row is given twice"


def test_relative_paths_resolve_against_the_config_folder(
    city: Path, elsewhere: Path, city_rows: list[dict]
) -> None:
    # the decoy in the current directory holds only 2030-05: none of it may show
    assert {x["period"] for x in city_rows} == {"2026-01", "2026-02"}
    # state lives in .cockpit/ beside the config, never in the current directory
    assert not (elsewhere / ".cockpit").exists()
    r = run_cli("validate", "--config", Path("..") / city.parent.name / city.name, cwd=elsewhere)
    assert r.returncode == 0, r.stderr


def test_every_node_and_department_gets_its_row(city_rows: list[dict]) -> None:
    got = {(x["indicator"], x["period"], x["region"], x["department"]) for x in city_rows}
    regions = ["130300", "130302", "130302001", "130303"]
    expected = set()
    for period in ("2026-01", "2026-02"):
        for ind in ("online_rate", "avg_duration", "case_count", "double_duration"):
            expected |= {(ind, period, r, None) for r in regions}
        # department rows carry the root's region id; only online_rate has a department column
        expected |= {("online_rate", period, "130300", d) for d in ("gaj", "zwfw")}
        # an indicator without a region column has only the root's rows
        expected.add(("city_cases", period, "130300", None))
    assert got == expected


def test_values_are_aggregated_from_raw_records_and_unrounded(city_rows: list[dict]) -> None:
    rows = index(city_rows)

    def v(ind: str, period: str, region: str, dept: str | None = None) -> float | None:
        return rows[(ind, period, region, dept)]["value"]

    # 2 of 3 records online: 2/3*100, not 66.67
    assert v("online_rate", "2026-01", "130300") == pytest.approx(200 / 3, rel=1e-12)
    assert v("online_rate", "2026-01", "130300") != round(v("online_rate", "2026-01", "130300"), 2)
    assert v("online_rate", "2026-01", "130302") == pytest.approx(50.0)  # itself + its 街道
    assert v("online_rate", "2026-01", "130302001") == pytest.approx(0.0)
    assert v("online_rate", "2026-01", "130303") == pytest.approx(100.0)
    assert v("online_rate", "2026-02", "130300", "gaj") == pytest.approx(50.0)
    assert v("online_rate", "2026-02", "130300", "zwfw") == pytest.approx(100.0)
    # a mean over the records (2, 4, 6), never a mean of the children's means
    assert v("avg_duration", "2026-01", "130300") == pytest.approx(4.0)
    assert v("avg_duration", "2026-01", "130302") == pytest.approx(4.0)
    assert v("case_count", "2026-01", "130300") == 3
    assert v("case_count", "2026-01", "130302") == 2
    assert v("city_cases", "2026-02", "130300") == 3


def test_status_target_changes_and_rank(city_rows: list[dict]) -> None:
    rows = index(city_rows)
    root = rows[("online_rate", "2026-01", "130300", None)]
    assert (root["target"], root["status"], root["rank"]) == (90, "yellow", None)
    assert rows[("online_rate", "2026-01", "130303", None)]["status"] == "green"
    assert rows[("online_rate", "2026-01", "130302", None)]["status"] == "red"
    # unit "%": 环比 in percentage points; otherwise relative change in percent
    assert rows[("online_rate", "2026-02", "130302", None)]["mom"] == pytest.approx(50.0)
    assert rows[("avg_duration", "2026-02", "130300", None)]["mom"] == pytest.approx(-25.0)
    assert rows[("online_rate", "2026-01", "130302", None)]["mom"] is None  # no earlier period
    assert all(x["yoy"] is None for x in city_rows)  # no data a year earlier
    # rank among siblings, 1 best by direction
    assert rows[("online_rate", "2026-01", "130303", None)]["rank"] == 1
    assert rows[("online_rate", "2026-01", "130302", None)]["rank"] == 2
    assert rows[("online_rate", "2026-01", "130302001", None)]["rank"] == 1
    assert rows[("online_rate", "2026-01", "130300", "zwfw")]["rank"] == 1
    assert rows[("online_rate", "2026-01", "130300", "gaj")]["rank"] == 2
    # ties share the smaller rank (both districts average 4 days in January)
    assert rows[("avg_duration", "2026-01", "130302", None)]["rank"] == 1
    assert rows[("avg_duration", "2026-01", "130303", None)]["rank"] == 1
    assert all(x["rank"] is None for x in city_rows if x["region"] == "130300" and x["department"] is None)


def test_csv_format(city: Path, city_rows: list[dict]) -> None:
    r = run_cli("compute", "--config", city, "--format", "csv")
    assert r.returncode == 0, r.stderr
    no_traceback(r)
    assert r.stdout.splitlines()[0] == ",".join(OUTPUT_KEYS)
    records = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(records) == len(city_rows)
    for rec, row in zip(records, city_rows, strict=True):
        assert (rec["indicator"], rec["period"], rec["region"]) == (
            row["indicator"],
            row["period"],
            row["region"],
        )
        assert (rec["department"] or None) == row["department"]
        if row["value"] is None:
            assert rec["value"] == ""
        else:
            assert float(rec["value"]) == row["value"]  # unrounded in CSV too


def test_table_is_the_default_and_speaks_chinese(city: Path) -> None:
    r = run_cli("compute", "--config", city)
    assert r.returncode == 0, r.stderr
    no_traceback(r)
    for text in (
        "全程网办率",
        "平均办理时长",
        "示范市",
        "海港区",
        "东山街道",
        "山海关区",
        "市政务服务管理办公室",
        "2026-01",
    ):
        assert text in r.stdout, text
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.stdout)


def test_output_writes_the_file(city: Path, city_rows: list[dict], tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    r = run_cli("compute", "--config", city, "--format", "json", "--output", out)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""
    assert json.loads(out.read_text(encoding="utf-8")) == city_rows


def test_period_keeps_only_that_period(city: Path, city_rows: list[dict]) -> None:
    rows = rows_of(run_cli("compute", "--config", city, "--format", "json", "--period", "2026-02"))
    assert rows
    assert {x["period"] for x in rows} == {"2026-02"}
    # the same rows as without --period: 环比 still looks at January
    assert rows == [x for x in city_rows if x["period"] == "2026-02"]


def test_indicator_is_repeatable(city: Path, city_rows: list[dict]) -> None:
    r = run_cli(
        "compute",
        "--config",
        city,
        "--format",
        "json",
        "--indicator",
        "case_count",
        "--indicator",
        "online_rate",
    )
    assert r.returncode == 0, r.stderr
    rows = rows_of(r)
    assert {x["indicator"] for x in rows} == {"case_count", "online_rate"}
    assert rows == [x for x in city_rows if x["indicator"] in ("case_count", "online_rate")]


def test_a_formula_alone_brings_only_its_own_rows(city: Path, city_rows: list[dict]) -> None:
    rows = rows_of(run_cli("compute", "--config", city, "--format", "json", "--indicator", "double_duration"))
    assert rows == [x for x in city_rows if x["indicator"] == "double_duration"]
    inputs = index(city_rows)
    for x in rows:
        assert x["value"] == pytest.approx(
            2 * inputs[("avg_duration", x["period"], x["region"], None)]["value"]
        )


@pytest.mark.parametrize("period", ["2026-2", "2026-W7"])
def test_non_canonical_period_is_refused_or_understood(
    city: Path, city_rows: list[dict], period: str
) -> None:
    r = run_cli("compute", "--config", city, "--format", "json", "--period", period)
    no_traceback(r)
    if r.returncode == 2:
        assert r.stdout == "" and lines(r.stderr, "ERROR")
    else:
        assert r.returncode == 0
        assert rows_of(r), f"--period {period} printed no rows and no error"


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (("--indicator", "online_rat"), "online_rat"),
        (("--indicator", "case_count", "--indicator", "no_such_indicator"), "no_such_indicator"),
        (("--period", "2026-13"), "2026-13"),
        (("--period", "2026-W54"), "2026-W54"),
        (("--as", "nobody"), "nobody"),
    ],
    ids=["unknown-indicator", "one-unknown-indicator", "month-13", "week-54", "unknown-user"],
)
def test_usage_errors_exit_2_and_compute_nothing(city: Path, args: tuple[str, ...], word: str) -> None:
    r = run_cli("compute", "--config", city, "--format", "json", *args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    no_traceback(r)
    assert r.stdout == ""
    errors = lines(r.stderr, "ERROR")
    assert errors and any(word in e for e in errors), r.stderr


def test_unknown_user_without_access_block_is_a_usage_error(tmp_path: Path) -> None:
    config = make_city(tmp_path, access=False)
    r = run_cli("compute", "--config", config, "--format", "json", "--as", "zhang")
    assert r.returncode == 2
    no_traceback(r)
    assert r.stdout == ""


def test_default_config_is_indicators_yaml_in_the_current_folder(city: Path, tmp_path: Path) -> None:
    r = run_cli("validate", cwd=city.parent)
    assert r.returncode == 0, r.stderr
    r = run_cli("validate", cwd=tmp_path)
    assert r.returncode == 2
    no_traceback(r)
    assert any("indicators.yaml" in e for e in lines(r.stderr, "ERROR")), r.stderr


# ----------------------------------------------------------------- exit statuses


def test_source_deleted_after_validate_fails_only_its_indicators(tmp_path: Path) -> None:
    config = make_city(
        tmp_path,
        sources="  other: {type: csv, path: data/other.csv}\n",
        indicators=(
            "  - id: other_count\n    name: 其他办件量\n    source: other\n"
            "    time: {column: accepted_at, grain: month}\n    measure: {type: count}\n"
        ),
        files={"other.csv": RECORDS},
    )
    r = run_cli("validate", "--config", config)
    assert r.returncode == 0, r.stderr
    (tmp_path / "data" / "other.csv").unlink()
    r = run_cli("compute", "--config", config, "--format", "json")
    no_traceback(r)
    assert r.returncode == 1, (r.returncode, r.stderr)
    errors = lines(r.stderr, "ERROR")
    assert any("other" in e and ("source 'other'" in e or "other.csv" in e) for e in errors), r.stderr
    rows = rows_of(r)
    assert {x["indicator"] for x in rows} == CITY_INDICATORS


def test_unreachable_database_fails_only_its_indicators(tmp_path: Path) -> None:
    config = make_city(
        tmp_path,
        sources='  hotline: {type: sql, url: "postgresql+psycopg://postgres@127.0.0.1:1/x", table: tickets}\n',
        indicators=(
            "  - id: hotline_calls\n    name: 热线来电量\n    source: hotline\n"
            "    time: {column: opened_at, grain: month}\n    measure: {type: count}\n"
        ),
    )
    r = run_cli("compute", "--config", config, "--format", "json", timeout=60)
    no_traceback(r)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert any("hotline" in e for e in lines(r.stderr, "ERROR")), r.stderr
    assert "127.0.0.1:1" in r.stderr or "hotline" in r.stderr
    rows = rows_of(r)
    assert {x["indicator"] for x in rows} == CITY_INDICATORS


def test_bad_rows_are_warnings_naming_file_and_row(tmp_path: Path) -> None:
    records = HEADER + (
        "2026-01-05,130302,zwfw,网办,2.0\n"  # line 2
        "2026-01-06,130303,zwfw,网办,abc\n"  # line 3: text in a numeric column
        "2026-01-07,130302001,gaj,窗口,6.0,surplus\n"  # line 4: one field too many
        "2026-02-03,130302,zwfw,网办,1.0\n"  # line 5
    )
    config = make_city(tmp_path, records=records)
    r = run_cli("compute", "--config", config, "--format", "json")
    no_traceback(r)
    assert r.returncode == 0, (r.returncode, r.stderr)
    warnings = lines(r.stderr, "WARNING")

    def names_row(n: int) -> bool:
        return any("records.csv" in w and re.search(rf"(:|row |line |第){n}\b", w) for w in warnings)

    assert names_row(3), warnings
    assert names_row(4), warnings
    assert not lines(r.stderr, "ERROR"), r.stderr
    rows = index(rows_of(r))
    # the rest of the source is used
    assert rows[("case_count", "2026-02", "130300", None)]["value"] == 1
    assert rows[("case_count", "2026-01", "130302", None)]["value"] == 1
    assert rows[("avg_duration", "2026-01", "130302", None)]["value"] == pytest.approx(2.0)
    assert rows[("case_count", "2026-01", "130300", None)]["value"] in (
        1,
        2,
    )  # the 'abc' row: skipped or null


def test_region_not_in_tree_counts_at_the_root_only(tmp_path: Path) -> None:
    records = (
        RECORDS
        + "2026-01-08,999999,zwfw,网办,8.0\n2026-01-09,999999,zwfw,窗口,8.0\n2026-02-09,999999,gaj,窗口,8.0\n"
    )
    config = make_city(tmp_path, records=records)
    r = run_cli("compute", "--config", config, "--format", "json", "--indicator", "case_count")
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    warnings = [w for w in lines(r.stderr, "WARNING") if "999999" in w]
    assert warnings, r.stderr
    assert any(re.search(r"\b3\b", w.replace("999999", "")) for w in warnings), warnings
    rows = index(rows_of(r))

    def v(period: str, region: str) -> float:
        return rows[("case_count", period, region, None)]["value"]

    assert v("2026-01", "130300") == 5  # 3 known + 2 unknown
    assert v("2026-01", "130302") + v("2026-01", "130303") == 3
    assert v("2026-02", "130300") == 4
    assert v("2026-02", "130302") + v("2026-02", "130303") == 3
    assert not any(x["region"] == "999999" for x in rows_of(r))


def test_header_only_csv_says_so(tmp_path: Path) -> None:
    """An empty source (a header, no rows) is a clear line, not a traceback and not silence."""
    config = make_city(tmp_path, records=HEADER)
    r = run_cli("compute", "--config", config, "--format", "json")
    no_traceback(r)
    assert r.returncode in (0, 1)
    said = lines(r.stderr, "WARNING") + lines(r.stderr, "ERROR")
    assert any("records" in s for s in said), r.stderr
    assert rows_of(r) == []


def test_zero_byte_csv_fails_the_source_with_a_clear_line(tmp_path: Path) -> None:
    config = make_city(tmp_path, records="")
    r = run_cli("compute", "--config", config, "--format", "json")
    no_traceback(r)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert any("records" in e and "empty" in e for e in lines(r.stderr, "ERROR")), r.stderr


# ----------------------------------------------------------------- --as


@pytest.fixture(scope="module")
def as_user(city: Path) -> Callable[[str], list[dict]]:
    def run(user: str) -> list[dict]:
        r = run_cli("compute", "--config", city, "--format", "json", "--as", user)
        assert r.returncode == 0, r.stderr
        return rows_of(r)

    return run


def test_as_district_leader_sees_only_the_district_subtree(as_user, city_rows: list[dict]) -> None:
    rows = as_user("zhang")
    assert rows
    assert {x["region"] for x in rows} == {"130302", "130302001"}
    assert all(x["department"] is None for x in rows), "department rows need the root in scope"
    # each row exactly as computed for everyone: rank kept (海港区 is 2nd of 2 in January)
    assert rows == [
        x for x in city_rows if x["region"] in ("130302", "130302001") and x["department"] is None
    ]
    assert index(rows)[("online_rate", "2026-01", "130302", None)]["rank"] == 2


def test_as_city_leader_sees_everything(as_user, city_rows: list[dict]) -> None:
    assert as_user("wang") == city_rows


def test_as_staff_with_domains_sees_only_those_indicators(as_user, city_rows: list[dict]) -> None:
    rows = as_user("li")
    assert rows == [x for x in city_rows if x["indicator"] == "online_rate"]
    assert any(x["department"] is not None for x in rows), "the root is in li's scope: department rows shown"


def test_as_applies_to_the_table_too(city: Path) -> None:
    r = run_cli("compute", "--config", city, "--as", "zhang")
    assert r.returncode == 0, r.stderr
    assert "海港区" in r.stdout and "东山街道" in r.stdout
    for outside in ("示范市", "山海关区", "市公安局", "市政务服务管理办公室"):
        assert outside not in r.stdout, outside


def test_validate_names_a_missing_map_file(tmp_path) -> None:
    (tmp_path / "d.csv").write_text("month,v\n2026-01-01,1\n", encoding="utf-8")
    cfg = tmp_path / "indicators.yaml"
    cfg.write_text(
        "version: 1\n"
        "org:\n"
        '  regions: {id: "1", name: 测试市}\n'
        "  geojson: maps/regions.geojson\n"
        "sources:\n"
        "  s: {type: csv, path: d.csv}\n"
        "indicators:\n"
        "  - {id: v, name: 值, source: s, time: {column: month, grain: month}, measure: {type: sum, column: v}}\n",
        encoding="utf-8",
    )
    p = run_cli("validate", "--config", cfg)
    assert p.returncode == 2, p.stderr
    assert "geojson" in p.stderr and "file not found: maps/regions.geojson" in p.stderr
    assert ":4:" in p.stderr  # the line of org.geojson
