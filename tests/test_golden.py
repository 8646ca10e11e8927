"""Golden rows for a small city computed by hand (contract sections 3–5)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from servers import run_cli

CITY = """\
version: 1
org:
  regions:
    id: "100"
    name: 市
    children:
      - {id: "101", name: 甲区}
      - {id: "102", name: 乙区, children: [{id: "102001", name: 乙镇}]}
      - {id: "103", name: 丙县}
  departments:
    - {id: da, name: 甲局}
    - {id: db, name: 乙局}
sources:
  recs: {type: csv, path: data/recs.csv}
  stats: {type: csv, path: data/stats.csv}
  weekly: {type: csv, path: data/weekly.csv}
indicators:
  - id: cases
    name: 办件量
    unit: 件
    source: recs
    time: {column: day, grain: month}
    region: region
    department: dept
    measure: {type: count}
  - id: online_rate
    name: 网办率
    unit: "%"
    source: recs
    time: {column: day, grain: month}
    region: region
    measure: {type: ratio, numerator: {agg: count, where: "channel = 'net'"}, denominator: {agg: count}, scale: 100}
    target: {default: 50, "2026": 60, "101": 70}
    thresholds: {green: 60, yellow: 40}
  - id: avg_days
    name: 平均时长
    unit: 天
    source: recs
    time: {column: day, grain: month}
    region: region
    measure: {type: mean, column: days}
    direction: lower_better
    thresholds: {green: 2, yellow: 3}
  - id: ytd_cases
    name: 累计办件量
    unit: 件
    source: recs
    time: {column: day, grain: month}
    region: region
    measure: {type: count}
    accumulate: ytd
  - id: ytd_rate
    name: 累计网办率
    unit: "%"
    source: recs
    time: {column: day, grain: month}
    region: region
    measure: {type: ratio, numerator: {agg: count, where: "channel = 'net'"}, denominator: {agg: count}, scale: 100}
    accumulate: ytd
  - id: growth
    name: 增速(累计)
    unit: "%"
    source: stats
    time: {column: period, grain: month}
    region: region
    measure: {type: mean, column: growth}
    rollup: none
    accumulate: source
  - id: calls
    name: 周来电
    unit: 件
    source: weekly
    time: {column: day, grain: week}
    measure: {type: sum, column: calls}
  - id: per_case
    name: 网办件数
    unit: 件
    measure: {type: formula, expr: "rate * n / 100", inputs: {rate: online_rate, n: cases}}
"""

RECS = """\
day,region,dept,channel,days
2025-03-10,101,da,net,1
2025-03-11,102001,db,hall,3
2026-02-01,101,da,net,2
2026-02-02,101,db,hall,4
2026-02-03,102,da,net,1
2026-03-01,101,da,net,1
2026-03-02,101,da,net,3
2026-03-03,102001,db,hall,5
2026-03-04,103,db,net,2
2026-03-05,999,da,hall,6
"""

STATS = """\
period,region,growth
2025-02,100,5.0
2025-02,101,6.0
2026-02,100,4.0
2026-02,101,7.5
2026-03,100,4.5
2026-03,101,7.0
2026-03,102,3.0
"""

WEEKLY = """\
day,calls
2025-12-29,10
2026-01-04,5
2026-01-05,7
2025-01-01,3
"""


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple, dict]:
    d = tmp_path_factory.mktemp("golden")
    (d / "data").mkdir()
    (d / "indicators.yaml").write_text(CITY, encoding="utf-8")
    (d / "data" / "recs.csv").write_text(RECS, encoding="utf-8")
    (d / "data" / "stats.csv").write_text(STATS, encoding="utf-8")
    (d / "data" / "weekly.csv").write_text(WEEKLY, encoding="utf-8")
    p = run_cli("compute", "--config", str(d / "indicators.yaml"), "--format", "json", cwd=Path("/"))
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert "WARNING:" in p.stderr and "'999'" in p.stderr and "1 records" in p.stderr
    data = json.loads(p.stdout)
    return {(r["indicator"], r["period"], r["region"], r["department"]): r for r in data}


def approx(x: float | None) -> object:
    return None if x is None else pytest.approx(x, rel=1e-12, abs=1e-12)


# (indicator, period, region, department) → expected fields
GOLDEN = {
    # counts: the unknown region 999 counts at the root only; the town counts in its district
    ("cases", "2026-03", "101", None): {"value": 2, "rank": 1},
    ("cases", "2026-03", "102", None): {"value": 1, "rank": 2},
    ("cases", "2026-03", "103", None): {"value": 1, "rank": 2},
    ("cases", "2026-03", "102001", None): {"value": 1, "rank": 1},
    ("cases", "2026-03", "100", "da"): {"value": 3, "rank": 1},
    ("cases", "2026-03", "100", "db"): {"value": 2, "rank": 2},
    # relative change: (5 - 3) / 3 * 100 and (5 - 2) / 2 * 100; the root has no rank
    ("cases", "2026-03", "100", None): {
        "value": 5,
        "mom": (5 - 3) / 3 * 100,
        "yoy": (5 - 2) / 2 * 100,
        "rank": None,
    },
    ("cases", "2025-03", "100", None): {"value": 2},
    # ratio; % unit: changes in percentage points; target by region, then year, then default
    ("online_rate", "2026-03", "100", None): {
        "value": 3 / 5 * 100,
        "target": 60,
        "status": "green",
        "mom": 3 / 5 * 100 - 2 / 3 * 100,
    },
    ("online_rate", "2026-03", "101", None): {
        "value": 100.0,
        "target": 70,
        "status": "green",
        "yoy": 0.0,
        "rank": 1,
    },
    ("online_rate", "2026-03", "102", None): {"value": 0.0, "status": "red", "rank": 3},
    ("online_rate", "2026-03", "103", None): {"value": 100.0, "rank": 1},
    ("online_rate", "2025-03", "100", None): {"value": 50.0, "target": 50, "status": "yellow"},
    # mean over raw records, never an average of children
    ("avg_days", "2026-03", "100", None): {"value": (1 + 3 + 5 + 2 + 6) / 5, "status": "red"},
    ("avg_days", "2026-03", "102", None): {"value": 5.0, "rank": 3},
    ("avg_days", "2026-03", "101", None): {"value": 2.0, "rank": 1, "status": "green"},
    # year to date: February + March of 2026; mom is null for cumulative values
    ("ytd_cases", "2026-03", "100", None): {"value": 8, "mom": None, "yoy": (8 - 2) / 2 * 100},
    ("ytd_cases", "2026-03", "101", None): {"value": 4},
    ("ytd_rate", "2026-03", "100", None): {"value": 5 / 8 * 100, "mom": None},
    ("ytd_rate", "2026-03", "102", None): {"value": 1 / 2 * 100},
    # rollup none + accumulate source: published figures taken as they are; 1-2月 as February
    ("growth", "2026-02", "100", None): {"value": 4.0, "yoy": -1.0, "mom": None},
    ("growth", "2026-03", "102", None): {"value": 3.0, "rank": 2},
    ("growth", "2026-03", "101", None): {"value": 7.0, "rank": 1},
    # ISO weeks: 2025-12-29 and 2026-01-04 are both in 2026-W01
    ("calls", "2026-W01", "100", None): {"value": 15, "mom": None},
    ("calls", "2026-W02", "100", None): {"value": 7, "mom": (7 - 15) / 15 * 100},
    ("calls", "2025-W01", "100", None): {"value": 3},
    # formula over inputs of the same period and region
    ("per_case", "2026-03", "100", None): {"value": 3.0},
    ("per_case", "2026-03", "102001", None): {"value": 0.0},
}


@pytest.mark.parametrize("key", list(GOLDEN), ids=lambda k: "-".join(str(x) for x in k))
def test_golden_row(rows: dict[tuple, dict], key: tuple) -> None:
    assert key in rows, f"no row {key}"
    row = rows[key]
    for field, expected in GOLDEN[key].items():
        assert (
            row[field] == approx(expected) if isinstance(expected, float | int) else row[field] == expected
        ), (
            field,
            row,
        )


def test_absent_rows(rows: dict[tuple, dict]) -> None:
    # rollup none: 102 has no own record in 2026-02 → no row; January (1-2月 combined) has no row
    assert ("growth", "2026-02", "102", None) not in rows
    assert ("growth", "2026-01", "100", None) not in rows
    # a region with no records in a period has no row
    assert ("cases", "2026-02", "103", None) not in rows
    # the unknown id never becomes a row of its own
    assert not any(k[2] == "999" for k in rows)
    # an indicator without a region column has only the root's rows
    assert {k[2] for k in rows if k[0] == "calls"} == {"100"}


def test_department_rows_carry_root(rows: dict[tuple, dict]) -> None:
    depts = [k for k in rows if k[3] is not None]
    assert depts and all(k[2] == "100" for k in depts)
    assert all(k[0] == "cases" for k in depts)  # only indicators with a department column


def test_sorted_and_fields(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "indicators.yaml").write_text(CITY, encoding="utf-8")
    for name, text in (("recs", RECS), ("stats", STATS), ("weekly", WEEKLY)):
        (tmp_path / "data" / f"{name}.csv").write_text(text, encoding="utf-8")
    p = run_cli(
        "compute", "--config", str(tmp_path / "indicators.yaml"), "--format", "json", "--period", "2026-03"
    )
    data = json.loads(p.stdout)
    assert {r["period"] for r in data} == {"2026-03"}
    keys = [(r["indicator"], r["period"], r["region"], r["department"] or "") for r in data]
    assert keys == sorted(keys)
    assert all(
        list(r)
        == ["indicator", "period", "region", "department", "value", "target", "status", "yoy", "mom", "rank"]
        for r in data
    )


def test_no_regions_gives_null_region(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("d,x\n2026-01-03,1\n2026-01-09,2\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text(
        textwrap.dedent(
            """\
            version: 1
            sources: {s: {type: csv, path: r.csv}}
            indicators:
              - {id: total, name: 合计, source: s, time: {column: d, grain: day}, measure: {type: sum, column: x}}
            """
        ),
        encoding="utf-8",
    )
    p = run_cli("compute", "--config", str(tmp_path / "c.yaml"), "--format", "json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert [(r["period"], r["region"], r["value"]) for r in data] == [
        ("2026-01-03", None, 1.0),
        ("2026-01-09", None, 2.0),
    ]
