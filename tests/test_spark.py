"""Spark sources (contract section 12): the same ``cockpit compute --format json`` rows as DuckDB
for the same records.

One local Spark (``local[2]``) serves the whole file: the session fixture starts it once, and
``cockpit compute`` runs in this process through click's CliRunner, so every run reuses the JVM
(a subprocess per run would start a JVM each time). The test city (tests/cities.py) is written
as Parquet in three shapes, and as CSV, and each shape is computed twice: by a ``type: spark``
source and by the embedded DuckDB over the same file. The rows must be equal (ratios, counts,
sums, mean/min/max, median, count_distinct, ytd, ISO weeks across the year boundary, nulls,
region ids as numbers, as text and as doubles, records outside the tree).

Skips when pyspark is not installed or there is no Java.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import cities
import pytest

pytest.importorskip("pyspark")
pytestmark = [
    pytest.mark.skipif(
        not (shutil.which("java") or os.environ.get("JAVA_HOME")), reason="Spark needs Java (no java on PATH)"
    ),
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

MASTER = "local[2]"
# A text column with numbers in it, "n/a" included: DuckDB reads it with TRY_CAST, Spark (ANSI off) as null.
TEXT_INDICATORS: list[dict[str, Any]] = [
    {
        "id": "days_txt_mean",
        "name": "平均办理天数(文本)",
        "unit": "天",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "department": "dept_code",
        "measure": {"type": "mean", "column": "days_txt"},
    },
    {
        "id": "days_txt_median",
        "name": "办理天数中位数(文本)",
        "unit": "天",
        "time": {"column": "accepted_at", "grain": "week"},
        "region": "region_code",
        "measure": {"type": "median", "column": "days_txt"},
    },
    # medians outside the tree-level query: each node's own records, and the city alone
    {
        "id": "days_txt_median_own",
        "name": "本级办理天数中位数(文本)",
        "unit": "天",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "rollup": "none",
        "measure": {"type": "median", "column": "days_txt"},
    },
    {
        "id": "days_txt_median_city",
        "name": "全市办理天数中位数(文本)",
        "unit": "天",
        "time": {"column": "accepted_at", "grain": "quarter"},
        "department": "dept_code",
        "measure": {"type": "median", "column": "days_txt"},
    },
]
# shape → (file under data/, spark reader settings, extra indicators)
SHAPES: dict[str, tuple[str, dict[str, Any], list[dict[str, Any]]]] = {
    "typed": ("city.parquet", {"format": "parquet"}, []),
    "text": ("city_text.parquet", {}, TEXT_INDICATORS),
    "float": ("city_float.parquet", {"format": "parquet"}, []),
    "csv": ("city.csv", {"format": "csv"}, []),
}
FLOAT_INDICATORS = ["cases", "cases_own", "days_median", "applicants", "online_rate_ytd", "cases_week"]


def _text_table(rows: list[dict[str, Any]]):
    """Region ids as text (some padded, some missing), times as text, and a text copy of ``days``."""
    import pyarrow as pa

    out = []
    for i, r in enumerate(rows):
        r = dict(r)
        code = r["region_code"]
        r["region_code"] = None if i % 97 == 13 else (f" {code} " if i % 5 == 0 else str(code))
        r["dept_code"] = None if i % 89 == 7 else r["dept_code"]
        r["accepted_at"] = r["accepted_at"].strftime("%Y-%m-%d %H:%M:%S")
        r["days_txt"] = ("n/a" if i % 2 else None) if r["days"] is None else str(r["days"])
        out.append(r)
    base = cities.arrow_table(rows).schema
    fields = [
        pa.field(f.name, pa.string() if f.name in ("region_code", "accepted_at") else f.type) for f in base
    ]
    return pa.Table.from_pylist(out, schema=pa.schema([*fields, pa.field("days_txt", pa.string())]))


def _float_table(rows: list[dict[str, Any]]):
    import pyarrow as pa

    t = cities.arrow_table(rows)
    return t.set_column(
        t.schema.get_field_index("region_code"), "region_code", t["region_code"].cast(pa.float64())
    )


def _invoke(config: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, list | None, str]:
    """``cockpit compute --format json --config CONFIG ARGS…`` in this process → (exit, rows, stderr)."""
    from click.testing import CliRunner

    from cockpit.cli import main

    res = CliRunner().invoke(
        main,
        ["compute", "--format", "json", "--config", str(config), *args],
        env={"COCKPIT_NO_CACHE": "1", **(env or {})},
        catch_exceptions=True,
    )
    stderr = res.stderr
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        import traceback

        stderr += "Traceback (most recent call last):\n" + "".join(traceback.format_exception(res.exception))
    rows = json.loads(res.stdout) if res.stdout.strip() else None
    return res.exit_code, rows, stderr


def _spark_source(path: str, **settings: Any) -> dict[str, Any]:
    return {"type": "spark", "master": MASTER, "path": path, **settings}


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def spark():
    """The process's local Spark, started once for the whole test session."""
    from connectors import spark as spark_connector

    started = time.perf_counter()
    session, _ = spark_connector.session(MASTER, None, {}, "tests")
    session.sql("SELECT 1").collect()
    yield {"session": session, "start_seconds": time.perf_counter() - started}
    spark_connector.stop_all()


@pytest.fixture(scope="module")
def city(tmp_path_factory, spark) -> dict[str, Any]:
    """Every shape computed by DuckDB and by Spark; the SQL Spark was sent, with its result sizes."""
    import pyarrow.parquet as pq

    from connectors import spark as spark_connector

    folder = tmp_path_factory.mktemp("spark_city")
    records = cities.write_city(folder)
    pq.write_table(_text_table(records), folder / "data" / "city_text.parquet")
    pq.write_table(_float_table(records), folder / "data" / "city_float.parquet")
    sent: list[tuple[str, int]] = []
    fetch = spark_connector.SparkConnector.fetch

    def recording_fetch(self, sql):
        frame = fetch(self, sql)
        sent.append((sql, frame.height))
        return frame

    runs: dict[str, dict[str, Any]] = {}
    spark_connector.SparkConnector.fetch = recording_fetch
    try:
        for shape, (file, reader, extra) in SHAPES.items():
            duck = {"type": "csv" if file.endswith(".csv") else "parquet", "path": f"data/{file}"}
            sources = {"duck": duck, "spark": _spark_source(f"data/{file}", **reader)}
            wanted = FLOAT_INDICATORS if shape == "float" else None
            for engine in ("duck", "spark"):
                config = folder / f"{shape}-{engine}.yaml"
                config.write_text(
                    cities.city_yaml(
                        engine,
                        folder,
                        indicators=wanted,
                        extra_sources=sources,
                        extra_indicators=[{**i, "source": engine} for i in extra],
                    ),
                    encoding="utf-8",
                )
                started = time.perf_counter()
                code, rows, stderr = _invoke(config)
                runs[f"{shape}-{engine}"] = {
                    "code": code,
                    "rows": cities.by_indicator(rows),
                    "stderr": stderr,
                    "seconds": time.perf_counter() - started,
                }
    finally:
        spark_connector.SparkConnector.fetch = fetch
    return {"folder": folder, "records": records, "runs": runs, "sent": sent}


def _params():
    out = []
    for shape in SHAPES:
        ids = (
            FLOAT_INDICATORS
            if shape == "float"
            else cities.INDICATOR_IDS + [i["id"] for i in SHAPES[shape][2]]
        )
        out += [pytest.param(shape, ind, id=f"{shape}-{ind}") for ind in ids]
    return out


# ----------------------------------------------------------------- the same rows


@pytest.mark.parametrize(("shape", "indicator"), _params())
def test_same_rows_as_duckdb(city, shape, indicator):
    duck, spark = city["runs"][f"{shape}-duck"], city["runs"][f"{shape}-spark"]
    want = duck["rows"].get(indicator, [])
    assert want, f"DuckDB gave no rows for {indicator} ({shape}):\n{duck['stderr']}"
    cities.assert_rows_equal(spark["rows"].get(indicator, []), want, f"spark/{shape}/{indicator}")


@pytest.mark.parametrize("shape", list(SHAPES))
def test_runs_cleanly_with_the_same_warnings(city, shape):
    """Exit 0 both ways; the unknown and missing region ids are reported with the same counts."""
    duck, spark = city["runs"][f"{shape}-duck"], city["runs"][f"{shape}-spark"]
    assert duck["code"] == 0, duck["stderr"]
    assert spark["code"] == 0, spark["stderr"]
    for text in (spark["stderr"],):
        assert "Traceback" not in text and "at org.apache" not in text and "py4j" not in text.lower(), text

    def regions(stderr: str, source: str) -> list[str]:
        lines = [x for x in stderr.splitlines() if x.startswith("WARNING:") and "region" in x]
        return sorted(x.split(f"source '{source}': ", 1)[1] for x in lines)

    assert regions(spark["stderr"], "spark") == regions(duck["stderr"], "duck")
    n_unknown = sum(1 for r in city["records"] if r["region_code"] == 990999)
    assert any("'990999'" in x and f"{n_unknown} records" in x for x in regions(spark["stderr"], "spark"))
    if shape == "text":
        assert any("without a region id" in x for x in regions(spark["stderr"], "spark"))


def test_iso_week_one_holds_the_last_days_of_december(city):
    """2025-12-29 … 2026-01-04 is ISO week 2026-W01 in Spark too, and a weekly ytd starts there."""
    rows = city["runs"]["typed-spark"]["rows"]
    week = {
        r["period"]: r["value"]
        for r in rows["cases_week"]
        if r["region"] == cities.ROOT and r["department"] is None
    }
    in_w01 = [
        r for r in city["records"] if dt.date(2025, 12, 29) <= r["accepted_at"].date() <= dt.date(2026, 1, 4)
    ]
    assert week["2026-W01"] == len(in_w01) and "2025-W52" in week
    assert not any(p.startswith("2025-W53") for p in week)
    ytd = {r["period"]: r["value"] for r in rows["cases_week_ytd"] if r["region"] == cities.ROOT}
    assert ytd["2026-W01"] == week["2026-W01"]


def test_only_aggregates_come_back(city):
    """Every query Spark ran was an aggregate (GROUP BY / GROUPING SETS); the city's records never
    left Spark as rows."""
    import sqlglot
    from sqlglot import exp

    assert len(city["sent"]) >= 40
    for sql, _height in city["sent"]:
        tree = sqlglot.parse_one(sql, read="spark")
        assert isinstance(tree, exp.Select), sql[:300]
        assert tree.args.get("group") is not None, sql[:300]
    # the day grain has the most groups: still far fewer rows than (days × regions × departments) of raw data
    assert max(h for _, h in city["sent"]) < 4 * len(city["records"])


def test_one_spark_for_the_whole_run(city, spark):
    from connectors import spark as spark_connector

    assert list(spark_connector._SESSIONS) == [MASTER]
    assert spark_connector._SESSIONS[MASTER] is spark["session"]
    assert not spark_connector._VIEWS, "temporary views left behind after compute"


# ----------------------------------------------------------------- settings, fingerprint, errors


def _config(folder: Path, name: str, source: dict[str, Any], indicators=("cases",)) -> Path:
    config = folder / f"{name}.yaml"
    config.write_text(
        cities.city_yaml("s", folder, indicators=list(indicators), extra_sources={"s": source}),
        encoding="utf-8",
    )
    return config


def _one_error(code: int, stderr: str, *fragments: str) -> str:
    assert code == 1, stderr
    errors = [x for x in stderr.splitlines() if x.startswith("ERROR:")]
    assert errors, stderr
    assert all(f in errors[0] for f in ("source 's'", *fragments)), errors
    assert "Traceback" not in stderr and "\tat " not in stderr and "at org.apache" not in stderr, stderr
    assert len(stderr.splitlines()) <= 4, stderr
    return errors[0]


def test_a_failing_query_is_one_error_line(city):
    """ANSI mode asked for in ``conf``: the text 'n/a' fails the cast inside Spark; the cockpit prints one
    ERROR line naming the source (no Java stack), and the session's own settings are untouched."""
    folder = city["folder"]
    source = _spark_source("data/city_text.parquet", conf={"spark.sql.ansi.enabled": "true"})
    config = folder / "ansi.yaml"
    config.write_text(
        cities.city_yaml(
            "s",
            folder,
            indicators=[],
            extra_sources={"s": source},
            extra_indicators=[{**TEXT_INDICATORS[0], "source": "s"}],
        ),
        encoding="utf-8",
    )
    code, _, stderr = _invoke(config)
    _one_error(code, stderr, "CAST_INVALID_INPUT")
    from connectors import spark as spark_connector

    assert spark_connector._SESSIONS[MASTER].conf.get("spark.sql.ansi.enabled") == "false"


def test_missing_file_and_table(city):
    folder = city["folder"]
    code, _, stderr = _invoke(_config(folder, "nofile", _spark_source("data/nope.parquet")))
    _one_error(code, stderr, "file not found: data/nope.parquet")
    code, _, stderr = _invoke(
        _config(folder, "notable", {"type": "spark", "master": MASTER, "table": "no_such_tbl"})
    )
    _one_error(code, stderr, "no table 'no_such_tbl'")


def test_settings_that_cannot_work(city):
    folder = city["folder"]
    both = {"type": "spark", "master": MASTER, "remote": "sc://127.0.0.1:1", "path": "data/city.parquet"}
    code, _, stderr = _invoke(_config(folder, "both", both))
    _one_error(code, stderr, "not both")
    other = _spark_source("data/city.parquet", master="local[1]")
    code, _, stderr = _invoke(_config(folder, "other", other))
    _one_error(code, stderr, "already runs Spark with master 'local[2]'")
    remote = {"type": "spark", "remote": "sc://127.0.0.1:1", "path": "/data/city.parquet"}
    started = time.perf_counter()
    code, _, stderr = _invoke(_config(folder, "remote", remote))
    line = _one_error(code, stderr)
    # without grpcio & co. the message says what to install; with them, that nothing answers
    assert "pyspark[connect]" in line or "cannot reach sc://127.0.0.1:1" in line, line
    assert time.perf_counter() - started < 30


def test_no_java_is_a_clear_error(monkeypatch):
    from connectors import SourceError
    from connectors import spark as spark_connector

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(SourceError, match="needs Java 17"):
        spark_connector._start_local("local[1]", {})


def test_fingerprint_follows_the_files(city):
    from connectors import embedded
    from connectors import spark as spark_connector

    folder: Path = city["folder"]
    part = folder / "data" / "parts"
    for month in ("2026-01", "2026-02"):
        (part / f"month={month}").mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / "data" / "city.parquet", part / f"month={month}" / "a.parquet")
    data = spark_connector.SparkData(None, str(part), part, "parquet", ())
    con = spark_connector.SparkConnector("s", "data/parts", data, MASTER, None, {}).open()
    try:
        assert "month" in con.columns()  # hive partitions are columns
        first = con.fingerprint()
        assert first == embedded.file_fingerprint(part) and first != "none"
        target = part / "month=2026-02" / "a.parquet"
        os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
        assert con.fingerprint() != first
    finally:
        con.close()
    table = spark_connector.SparkConnector(
        "t", "spark table x", spark_connector.SparkData("x", None, None, "parquet", ()), MASTER, None, {}
    )
    assert table.fingerprint() == "none"  # the store never caches what it cannot fingerprint


def test_validate_reaches_the_spark_source(city):
    from click.testing import CliRunner

    from cockpit.cli import main

    res = CliRunner().invoke(main, ["validate", "--config", str(city["folder"] / "typed-spark.yaml")])
    assert res.exit_code == 0, res.stderr


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_the_jvm_never_writes_to_our_stdout(spark):
    """Standard output carries the JSON rows: the JVM's standard output and error are the Spark log
    file (a subprocess per check would start another JVM; /proc shows where its fds point)."""
    from connectors import spark as spark_connector

    proc = spark["session"].sparkContext._gateway.proc
    for fd in (1, 2):
        assert os.readlink(f"/proc/{proc.pid}/fd/{fd}") == str(spark_connector.log_path())


# ----------------------------------------------------------------- incremental refresh


def test_incremental_refresh_on_spark_equals_duckdb(spark, tmp_path, monkeypatch):
    """Month partitions on Spark: the first compute reads all, a rewritten month is read alone
    (Spark's plan prunes to it), an unchanged folder starts no query at all, and every compute
    gives the rows of DuckDB over the same folder computed whole."""
    from connectors import spark as spark_connector
    from metrics.catalogue.load import load_catalogue
    from metrics.engine import Engine, rows_as_records

    rows = cities.records()
    cases = tmp_path / "data" / "cases"
    cities.write_months(cases, rows)
    spark_yaml, duck_yaml = tmp_path / "spark.yaml", tmp_path / "duck.yaml"
    sources = {
        "spark": _spark_source("data/cases", format="parquet", partition="month"),
        "duck": {"type": "parquet", "path": "data/cases"},
    }
    spark_yaml.write_text(cities.city_yaml("spark", extra_sources=sources), encoding="utf-8")
    duck_yaml.write_text(cities.city_yaml("duck", extra_sources=sources), encoding="utf-8")

    plans: list[str] = []
    starts: list[str] = []
    fetch, start = spark_connector.SparkConnector.fetch, spark_connector.SparkConnector._start

    sent: list[str] = []

    def planned_fetch(self, sql):
        frame = fetch(self, sql)
        sent.append(sql)
        plans.append(self._spark.sql(sql)._jdf.queryExecution().executedPlan().toString())
        return frame

    def counted_start(self):
        starts.append(self.source_id)
        return start(self)

    monkeypatch.setattr(spark_connector.SparkConnector, "fetch", planned_fetch)
    monkeypatch.setattr(spark_connector.SparkConnector, "_start", counted_start)

    def both() -> tuple[Any, list[dict[str, Any]]]:
        res = Engine(load_catalogue(spark_yaml)).compute()
        assert not res.errors, res.errors
        want = Engine(load_catalogue(duck_yaml), use_store=False).compute()
        cities.assert_rows_equal(rows_as_records(res.rows), rows_as_records(want.rows), "spark incremental")
        return res, rows_as_records(res.rows)

    first, _ = both()
    assert len(first.refresh["spark"].read) == 15
    # unchanged: no Spark query and no Spark start (the columns are kept with the files' fingerprint)
    plans.clear()
    starts.clear()
    again, _ = both()
    assert again.refresh["spark"].read == set() and plans == [] and starts == []
    # one month rewritten: read alone, and Spark's scan is pruned to its folder
    extra = dict(rows[20], id=30_000, accepted_at=dt.datetime(2025, 11, 3, 9, 0), days=99.0)
    extra.update(accepted_on=extra["accepted_at"].date(), period="2025-11")
    cities.write_months(cases, [*rows, extra], {"2025-11"})
    plans.clear()
    sent.clear()
    changed, _ = both()
    assert changed.refresh["spark"].read == {"2025-11"}
    assert starts == ["spark"] and plans
    # every query is pruned (Spark's scan has partition filters); the partials read November
    # alone, the medians the partitions of the periods November is in (its quarter, its year,
    # the year-to-date months after it): never a 2026 folder
    filters = [plan.split("PartitionFilters: [", 1)[1] for plan in plans]
    assert all(f.startswith("isnotnull(month#") or f.startswith("month#") for f in filters), filters
    assert any(f.startswith("isnotnull(month#") and "= 2025-11)]" in f[:60] for f in filters), filters
    for sql in sent:
        months = sql.split("AS STRING) IN (", 1)[1].split(")", 1)[0]
        assert "'2025-11'" in months and "'2026-" not in months, months


def test_incremental_refresh_of_a_catalogue_table(spark, tmp_path):
    """A partitioned table in Spark's catalogue (as a Hive table would be): its partitions come
    from the catalogue, each fingerprinted by its location's files; a rewritten month is read
    alone, a partition added to the catalogue is read alone, and the rows equal DuckDB's."""
    from metrics.catalogue.load import load_catalogue
    from metrics.engine import Engine, rows_as_records

    rows = cities.records()
    cases = tmp_path / "cases"
    cities.write_months(cases, rows)
    session = spark["session"]
    session.sql(f"CREATE TABLE inc_cases USING parquet LOCATION 'file:{cases}'")
    try:
        session.sql("ALTER TABLE inc_cases RECOVER PARTITIONS")
        sources = {
            "spark": {"type": "spark", "master": MASTER, "table": "inc_cases"},
            "duck": {"type": "parquet", "path": str(cases)},
        }
        spark_yaml, duck_yaml = tmp_path / "spark.yaml", tmp_path / "duck.yaml"
        spark_yaml.write_text(cities.city_yaml("spark", extra_sources=sources), encoding="utf-8")
        duck_yaml.write_text(cities.city_yaml("duck", extra_sources=sources), encoding="utf-8")

        def both() -> Any:
            res = Engine(load_catalogue(spark_yaml)).compute()
            assert not res.errors, res.errors
            want = Engine(load_catalogue(duck_yaml), use_store=False).compute()
            cities.assert_rows_equal(rows_as_records(res.rows), rows_as_records(want.rows), "table")
            return res.refresh["spark"]

        first = both()
        assert first.column == "month" and len(first.read) == first.partitions == 15
        assert both().read == set()
        extra = dict(rows[30], id=40_000, accepted_at=dt.datetime(2025, 7, 9, 9, 0), days=77.0)
        extra.update(accepted_on=extra["accepted_at"].date(), period="2025-07")
        cities.write_months(cases, [*rows, extra], {"2025-07"})
        assert both().read == {"2025-07"}
        april = dict(rows[31], id=40_001, accepted_at=dt.datetime(2026, 4, 1, 9, 0), days=2.0)
        april.update(accepted_on=april["accepted_at"].date(), period="2026-04")
        rows_now = [*rows, extra, april]
        cities.write_months(cases, rows_now, {"2026-04"})
        # a folder the catalogue does not list yet is not part of the table (for Spark): add it
        session.sql(
            f"ALTER TABLE inc_cases ADD PARTITION (month='2026-04') LOCATION 'file:{cases}/month=2026-04'"
        )
        session.catalog.refreshTable("inc_cases")
        added = both()
        assert added.read == {"2026-04"} and added.partitions == 16
    finally:
        session.sql("DROP TABLE IF EXISTS inc_cases")


def test_a_declared_partition_of_a_table_must_exist(spark, tmp_path):
    from metrics.catalogue.load import load_catalogue
    from metrics.engine import Engine

    cases = tmp_path / "cases"
    cities.write_months(cases, cities.records()[:50])
    session = spark["session"]
    session.sql(f"CREATE TABLE inc_cases2 USING parquet LOCATION 'file:{cases}'")
    try:
        config = tmp_path / "c.yaml"
        source = {"type": "spark", "master": MASTER, "table": "inc_cases2", "partition": "day"}
        config.write_text(cities.city_yaml("spark", extra_sources={"spark": source}), encoding="utf-8")
        res = Engine(load_catalogue(config)).compute()
        assert (
            res.errors and "partition: table inc_cases2 is partitioned by month, not 'day'" in res.errors[0]
        )
    finally:
        session.sql("DROP TABLE IF EXISTS inc_cases2")
