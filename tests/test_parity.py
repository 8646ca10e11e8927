"""Parity: the same records in CSV, Parquet, a DuckDB file, SQLite and PostgreSQL give the same
``cockpit compute --format json`` rows (contract sections 3, 5 and 12: the rows do not depend on
where the data lives). The configs differ only in the indicators' ``source``.

The CSV rows are also checked against values computed here in plain Python from the records, so
"all sources agree" cannot mean "all sources are wrong the same way".
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import cities
import pytest

FILE_SOURCES = ["parquet", "duckdb", "duckdb_query", "sqlite"]


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> dict[str, Any]:
    """The city written to every file source; compute runs once per source (the file sources at once)."""
    folder = tmp_path_factory.mktemp("parity_city")
    rows = cities.write_city(folder)
    jobs = {}
    for source in FILE_SOURCES:
        config = folder / f"{source}.yaml"
        config.write_text(cities.city_yaml(source, folder), encoding="utf-8")
        jobs[source] = (config, (), None)
    return {"folder": folder, "records": rows, "runs": cities.compute_many(jobs)}


def _run(city: dict[str, Any], source: str, env: dict[str, str] | None = None, pg: bool = False):
    """compute for one source, once per module."""
    runs = city["runs"]
    if source not in runs:
        folder: Path = city["folder"]
        config = folder / f"{source}.yaml"
        config.write_text(cities.city_yaml(source, folder, pg=pg), encoding="utf-8")
        runs[source] = cities.compute(config, env=env)
    return runs[source]


@pytest.fixture(scope="module")
def csv_rows(tmp_path_factory) -> dict[str, list[dict[str, Any]]]:
    return cities.csv_reference(tmp_path_factory)


@pytest.fixture(scope="module")
def pg_env(request, city) -> dict[str, str]:
    postgres_url = request.getfixturevalue("postgres_url")
    url = postgres_url.create_database()
    cities.load_postgres(url, city["records"])
    return {"PG_URL": url}


def _source_rows(request, city, source: str) -> tuple[Any, dict[str, list[dict[str, Any]]]]:
    if source == "pg":
        proc, rows = _run(city, "pg", env=request.getfixturevalue("pg_env"), pg=True)
    else:
        proc, rows = _run(city, source)
    cities.assert_no_traceback(proc)
    return proc, cities.by_indicator(rows)


def _params():
    out = []
    for source in [*FILE_SOURCES, "pg"]:
        for ind in cities.INDICATOR_IDS:
            marks = []
            if source == "pg":
                marks.append(pytest.mark.postgres)
            out.append(pytest.param(source, ind, marks=marks, id=f"{source}-{ind}"))
    return out


@pytest.mark.parametrize(("source", "indicator"), _params())
def test_same_rows_as_csv(request, city, csv_rows, source, indicator):
    proc, got = _source_rows(request, city, source)
    want = csv_rows[indicator]
    assert want, f"the CSV source gave no rows for {indicator}"
    assert not [e for e in cities.error_lines(proc.stderr) if f"'{indicator}'" in e], proc.stderr
    cities.assert_rows_equal(got.get(indicator, []), want, f"{source}/{indicator}")


@pytest.mark.parametrize("source", [*FILE_SOURCES, pytest.param("pg", marks=pytest.mark.postgres)])
def test_warnings_name_the_source_and_match(request, city, csv_rows, source):
    """The unknown region id is reported for every source type, with the same count."""
    proc, _ = _source_rows(request, city, source)
    n_unknown = sum(1 for r in city["records"] if r["region_code"] == 990999)
    lines = [x for x in proc.stderr.splitlines() if x.startswith("WARNING:") and "990999" in x]
    assert lines, proc.stderr
    assert all(f"source '{source}'" in x and f"{n_unknown} records" in x for x in lines), lines


# ----------------------------------------------------------------- the CSV rows are right


def _parents() -> dict[str, str | None]:
    out: dict[str, str | None] = {}

    def walk(node: dict[str, Any], parent: str | None) -> None:
        out[node["id"]] = parent
        for c in node.get("children", []):
            walk(c, node["id"])

    walk(cities.REGIONS, None)
    return out


PARENTS = _parents()


def _nodes(code: int, rollup: str) -> list[str]:
    c: str | None = str(code)
    if c not in PARENTS:
        return [cities.ROOT]
    if rollup == "none":
        return [c]  # type: ignore[list-item]
    out = []
    while c:
        out.append(c)
        c = PARENTS[c]
    return out


def _period(ts: dt.datetime, grain: str) -> str:
    if grain == "day":
        return ts.date().isoformat()
    if grain == "week":
        y, w, _ = ts.isocalendar()
        return f"{y}-W{w:02d}"
    if grain == "month":
        return f"{ts.year}-{ts.month:02d}"
    if grain == "quarter":
        return f"{ts.year}-Q{(ts.month - 1) // 3 + 1}"
    return str(ts.year)


def _reference(records, value, grain="month", rollup="sum", dept=False, ytd=False):
    """{(period, region, department): value} computed straight from the records."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        p = _period(r["accepted_at"], grain)
        for n in _nodes(r["region_code"], rollup):
            groups[(p, n, None)].append(r)
        if dept:
            groups[(p, cities.ROOT, r["dept_code"])].append(r)
    if ytd:
        # A node's cumulative value has a row in every period of the indicator from its first
        # record of the year on, also where the node had no record in that period itself.
        periods_ = {p for p, _, _ in groups}
        nodes = {(n, d) for _, n, d in groups}
        cum = {}
        for p in periods_:
            for n, d in nodes:
                rs = [
                    r
                    for (q, m, e), rs in groups.items()
                    if m == n and e == d and q[:4] == p[:4] and q <= p
                    for r in rs
                ]
                if rs:
                    cum[(p, n, d)] = rs
        groups = cum  # type: ignore[assignment]
    return {k: value(v) for k, v in groups.items()}


def _days(rs):
    return [r["days"] for r in rs if r["days"] is not None]


REFERENCE = {
    "cases": dict(value=len, dept=True),
    "days_total": dict(value=lambda rs: sum(_days(rs))),
    "days_mean": dict(value=lambda rs: statistics.fmean(_days(rs)) if _days(rs) else None, dept=True),
    "days_min": dict(value=lambda rs: min(_days(rs), default=None)),
    "days_max": dict(
        value=lambda rs: max(
            (r["days"] for r in rs if r["days"] is not None and r["channel"] != "自助"), default=None
        )
    ),
    "days_median": dict(value=lambda rs: statistics.median(_days(rs)) if _days(rs) else None, dept=True),
    "applicants": dict(
        value=lambda rs: len({r["applicant"] for r in rs if r["channel"] == "网办"}), dept=True
    ),
    "online_rate": dict(value=lambda rs: 100 * sum(r["channel"] == "网办" for r in rs) / len(rs), dept=True),
    "cases_ytd": dict(value=len, dept=True, ytd=True),
    "median_ytd": dict(value=lambda rs: statistics.median(_days(rs)) if _days(rs) else None, ytd=True),
    "cases_own": dict(value=len, rollup="none"),
    "cases_day": dict(value=len, grain="day"),
    "cases_week": dict(value=len, grain="week", dept=True),
    "cases_week_ytd": dict(value=len, grain="week", ytd=True),
    "cases_quarter": dict(value=len, grain="quarter"),
    "days_year": dict(value=lambda rs: sum(_days(rs)), grain="year"),
}


@pytest.mark.parametrize("indicator", sorted(REFERENCE))
def test_csv_rows_match_a_plain_python_reference(city, csv_rows, indicator):
    want = _reference(city["records"], **REFERENCE[indicator])
    got = {(r["period"], r["region"], r["department"]): r["value"] for r in csv_rows[indicator]}
    assert set(got) == set(want), (
        sorted(set(got) - set(want), key=str)[:5],
        sorted(set(want) - set(got), key=str)[:5],
    )
    for k, w in want.items():
        g = got[k]
        if w is None:
            assert g is None, (k, g)
        else:
            assert g is not None and math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-9), (indicator, k, g, w)


def test_iso_week_one_holds_the_last_days_of_december(csv_rows):
    """Records of 2025-12-29 … 2026-01-04 are ISO week 2026-W01 (contract section 4)."""
    weeks = {r["period"] for r in csv_rows["cases_week"]}
    assert "2026-W01" in weeks and "2025-W52" in weeks
    assert not any(p.startswith("2025-W53") for p in weeks)
    ytd = {r["period"]: r["value"] for r in csv_rows["cases_week_ytd"] if r["region"] == cities.ROOT}
    week = {
        r["period"]: r["value"]
        for r in csv_rows["cases_week"]
        if r["region"] == cities.ROOT and r["department"] is None
    }
    assert ytd["2026-W01"] == week["2026-W01"]  # a weekly year-to-date starts at ISO week 1


# ----------------------------------------------------------------- one damaged cell


def test_non_number_in_a_where_only_column_is_a_warning(tmp_path):
    cities.write_csv(tmp_path / "data" / "city.csv", cities.records())
    path = tmp_path / "data" / "city.csv"
    lines = list(csv.reader(path.open(encoding="utf-8")))
    col = lines[0].index("days")
    lines[5][col] = "n/a"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(lines)
    config = tmp_path / "indicators.yaml"
    config.write_text(cities.city_yaml("csv", indicators=["cases_by_date"]), encoding="utf-8")
    proc, rows = cities.compute(config)
    cities.assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    assert any(
        x.startswith("WARNING:") and "city.csv" in x and "n/a" in x for x in proc.stderr.splitlines()
    ), proc.stderr
    assert rows and {r["indicator"] for r in rows} == {"cases_by_date"}


# ----------------------------------------------------------------- year-to-date without records in the period


def test_ytd_row_for_a_region_without_records_in_that_period(tmp_path):
    (tmp_path / "data.csv").write_text(
        "d,region,v\n2026-01-05,990100,1\n2026-01-06,990200,1\n2026-02-03,990100,1\n2026-03-03,990100,1\n"
        "2026-03-04,990200,1\n",
        encoding="utf-8",
    )
    (tmp_path / "indicators.yaml").write_text(
        """version: 1
org:
  regions: {id: "990000", name: 市, children: [{id: "990100", name: 甲}, {id: "990200", name: 乙}]}
sources:
  s: {type: csv, path: data.csv}
indicators:
  - {id: c_ytd, name: 累计件数, source: s, time: {column: d, grain: month}, region: region,
     measure: {type: count}, accumulate: ytd}
""",
        encoding="utf-8",
    )
    proc, rows = cities.compute(tmp_path / "indicators.yaml")
    assert proc.returncode == 0, proc.stderr
    got = {(r["period"], r["region"]): r["value"] for r in rows}
    assert got[("2026-02", "990000")] == 3
    assert got.get(("2026-02", "990200")) == 1, sorted(got.items())
