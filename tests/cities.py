"""A small hand-made test city, written to every kind of source the engine reads.

``write_city(folder, pg_url=...)`` writes the same records as

- ``data/city.csv``       (CSV; dates as text, booleans as true/false, empty cells for nulls)
- ``data/city.parquet``   (typed: TIMESTAMP, DATE, BIGINT, DOUBLE, BOOLEAN)
- ``data/city.duckdb``    (table ``city``, typed as the Parquet file)
- ``data/city.sqlite``    (table ``city``; dates stored as text, the boolean as 0/1)
- PostgreSQL tables ``tcity_int`` (region_code INTEGER) and ``tcity_txt`` (region_code TEXT)
  when ``pg_url`` (a SQLAlchemy URL) is given

and returns nothing; ``city_yaml(source=...)`` returns the text of an ``indicators.yaml`` whose
``sources`` point at each of them and whose indicators all read ``source``. Switching the source
is the only difference between two configs, so ``cockpit compute`` must give the same rows.

The records span 2025-01 … 2026-03 (so 同比 and year-to-date across a year boundary exist) and
include days of ISO week 2026-W01 that lie in December 2025, nulls in ``days``, records coded to
the root itself, to a town (third level) and to an id outside the tree.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = "990000"
REGIONS = {
    "id": ROOT,
    "name": "测试市",
    "children": [
        {
            "id": "990100",
            "name": "甲区",
            "children": [{"id": "990101", "name": "甲一街道"}, {"id": "990102", "name": "甲二镇"}],
        },
        {"id": "990200", "name": "乙县"},
        {"id": "990300", "name": "丙县"},
    ],
}
DEPARTMENTS = [{"id": "d1", "name": "一局"}, {"id": "d2", "name": "二局"}, {"id": "d3", "name": "三局"}]
# 990000: the root itself; 990999: not in the tree (counted at the root only, with a warning)
REGION_CODES = [990100, 990101, 990102, 990200, 990300, 990000, 990999]
REGION_WEIGHTS = [3, 4, 3, 5, 4, 1, 1]
CHANNELS = ["网办", "窗口", "自助"]
COLUMNS = [
    "id",
    "accepted_at",
    "accepted_on",
    "period",
    "region_code",
    "dept_code",
    "channel",
    "days",
    "on_time",
    "applicant",
]
PG_TABLE_INT = "tcity_int"
PG_TABLE_TXT = "tcity_txt"


def records(n: int = 360, seed: int = 20261005) -> list[dict[str, Any]]:
    """The city's records: plain Python values (datetime, date, int, float or None, bool, str)."""
    rnd = random.Random(seed)
    start = dt.datetime(2025, 1, 1)
    span = (dt.datetime(2026, 3, 31, 23, 0) - start).total_seconds()
    out: list[dict[str, Any]] = []
    fixed = [
        # ISO week 2026-W01 runs from Monday 2025-12-29 to Sunday 2026-01-04
        dt.datetime(2025, 12, 29, 9, 15),
        dt.datetime(2025, 12, 31, 16, 40),
        dt.datetime(2026, 1, 1, 8, 0),
        dt.datetime(2026, 1, 4, 23, 59, 59),
        dt.datetime(2025, 12, 28, 12, 0),  # 2025-W52
        dt.datetime(2025, 1, 1, 0, 0),
        dt.datetime(2026, 3, 31, 22, 30),
    ]
    for i in range(n):
        if i < len(fixed):
            ts = fixed[i]
        else:
            ts = start + dt.timedelta(seconds=int(rnd.random() * span))
        region = rnd.choices(REGION_CODES, REGION_WEIGHTS)[0]
        dept = rnd.choice(["d1", "d1", "d2", "d3"])
        channel = rnd.choice(CHANNELS)
        days = None if rnd.random() < 0.06 else round(rnd.uniform(0.5, 12.0), 1)
        on_time = rnd.random() < 0.8
        out.append(
            {
                "id": i + 1,
                "accepted_at": ts,
                "accepted_on": ts.date(),
                "period": f"{ts.year}-{ts.month:02d}",
                "region_code": region,
                "dept_code": dept,
                "channel": channel,
                "days": days,
                "on_time": on_time,
                "applicant": f"p{rnd.randrange(70):03d}",
            }
        )
    return out


# ----------------------------------------------------------------- writers


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([_text(r[c]) for c in COLUMNS])


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def arrow_table(rows: Sequence[dict[str, Any]]):
    import pyarrow as pa

    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("accepted_at", pa.timestamp("us")),
            ("accepted_on", pa.date32()),
            ("period", pa.string()),
            ("region_code", pa.int64()),
            ("dept_code", pa.string()),
            ("channel", pa.string()),
            ("days", pa.float64()),
            ("on_time", pa.bool_()),
            ("applicant", pa.string()),
        ]
    )
    return pa.Table.from_pylist([{c: r[c] for c in COLUMNS} for r in rows], schema=schema)


def write_parquet(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(arrow_table(rows), path)


def write_duckdb(path: Path, rows: Sequence[dict[str, Any]], table: str = "city") -> None:
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    try:
        data = arrow_table(rows)  # noqa: F841 - read by DuckDB's replacement scan
        con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM data')
    finally:
        con.close()


def write_sqlite(path: Path, rows: Sequence[dict[str, Any]], table: str = "city") -> None:
    """Dates as text (the only way SQLite keeps them), the boolean as 0/1."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    con = sqlite3.connect(str(path))
    try:
        con.execute(
            f'CREATE TABLE "{table}" (id INTEGER, accepted_at DATETIME, accepted_on TEXT, period TEXT, '
            "region_code INTEGER, dept_code TEXT, channel TEXT, days REAL, on_time BOOLEAN, applicant TEXT)"
        )
        con.executemany(
            f'INSERT INTO "{table}" VALUES ({", ".join("?" for _ in COLUMNS)})',
            [
                tuple(
                    _text(r[c])
                    if isinstance(r[c], dt.date)
                    else int(r[c])
                    if isinstance(r[c], bool)
                    else r[c]
                    for c in COLUMNS
                )
                for r in rows
            ],
        )
        con.commit()
    finally:
        con.close()


def load_postgres(url: str, rows: Sequence[dict[str, Any]]) -> None:
    """Tables ``tcity_int`` (region_code INTEGER) and ``tcity_txt`` (region_code TEXT), replaced."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        for name, region_type in ((PG_TABLE_INT, sa.Integer()), (PG_TABLE_TXT, sa.Text())):
            md = sa.MetaData()
            table = sa.Table(
                name,
                md,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("accepted_at", sa.DateTime()),  # timestamp without time zone
                sa.Column("accepted_on", sa.Date()),
                sa.Column("period", sa.Text()),
                sa.Column("region_code", region_type),
                sa.Column("dept_code", sa.Text()),
                sa.Column("channel", sa.Text()),
                sa.Column("days", sa.Numeric(10, 1)),
                sa.Column("on_time", sa.Boolean()),
                sa.Column("applicant", sa.Text()),
            )
            with engine.begin() as conn:
                table.drop(conn, checkfirst=True)
                table.create(conn)
                conn.execute(
                    table.insert(),
                    [
                        {
                            **r,
                            "region_code": str(r["region_code"])
                            if region_type.__class__ is sa.Text
                            else r["region_code"],
                        }
                        for r in rows
                    ],
                )
    finally:
        engine.dispose()


def write_city(
    folder: Path, pg_url: str | None = None, rows: Sequence[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Write the records to every file source under ``folder/data`` (and PostgreSQL); return them."""
    rows = list(rows if rows is not None else records())
    data = Path(folder) / "data"
    write_csv(data / "city.csv", rows)
    write_parquet(data / "city.parquet", rows)
    write_duckdb(data / "city.duckdb", rows)
    write_sqlite(data / "city.sqlite", rows)
    if pg_url:
        load_postgres(pg_url, rows)
    return rows


MISFILED_ID = 50  # this record is written under the month before its own


def write_months(folder: Path, rows: list[dict[str, Any]], months: set[str] | None = None) -> None:
    """Write ``rows`` as ``month=YYYY-MM/part-0.parquet`` folders (only the months in ``months``, if given);
    the record ``MISFILED_ID`` goes to the folder of the month before its own."""
    import shutil

    import pyarrow.parquet as pq

    by_month: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        month = r["period"]
        if r["id"] == MISFILED_ID:
            y, m = int(month[:4]), int(month[5:])
            month = f"{y - (m == 1)}-{(m - 2) % 12 + 1:02d}"
        by_month.setdefault(month, []).append(r)
    for month, part in sorted(by_month.items()):
        if months is not None and month not in months:
            continue
        target = folder / f"month={month}"
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        pq.write_table(arrow_table(part), target / "part-0.parquet")


# ----------------------------------------------------------------- the config

# Indicators over the records; each reads the source given to city_yaml. Time columns: accepted_at
# (timestamp), accepted_on (date) and period (text '2026-01').
INDICATORS: list[dict[str, Any]] = [
    {
        "id": "cases",
        "name": "办件量",
        "unit": "件",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "department": "dept_code",
        "measure": {"type": "count"},
    },
    {
        "id": "days_total",
        "name": "办理总天数",
        "unit": "天",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "measure": {"type": "sum", "column": "days"},
    },
    {
        "id": "days_mean",
        "name": "平均办理天数",
        "unit": "天",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "department": "dept_code",
        "measure": {"type": "mean", "column": "days"},
        "direction": "lower_better",
        "target": 5,
        "thresholds": {"green": 5, "yellow": 7},
    },
    {
        "id": "days_min",
        "name": "最短办理天数",
        "unit": "天",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "measure": {"type": "min", "column": "days"},
        "direction": "lower_better",
    },
    {
        "id": "days_max",
        "name": "最长办理天数",
        "unit": "天",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "measure": {"type": "max", "column": "days", "where": "channel <> '自助'"},
        "direction": "lower_better",
    },
    {
        "id": "days_median",
        "name": "办理天数中位数",
        "unit": "天",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "department": "dept_code",
        "measure": {"type": "median", "column": "days"},
        "direction": "lower_better",
    },
    {
        "id": "applicants",
        "name": "办事人数",
        "unit": "人",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "department": "dept_code",
        "measure": {"type": "count_distinct", "column": "applicant", "where": "channel = '网办'"},
    },
    {
        "id": "online_rate",
        "name": "全程网办率",
        "unit": "%",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "department": "dept_code",
        "measure": {
            "type": "ratio",
            "numerator": {"agg": "count", "where": "channel = '网办'"},
            "denominator": {"agg": "count"},
            "scale": 100,
        },
        "target": {"default": 60, "990100": 65},
        "thresholds": {"green": 60, "yellow": 40},
    },
    {
        "id": "on_time_rate",
        "name": "按时办结率",
        "unit": "%",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "measure": {
            "type": "ratio",
            "numerator": {"agg": "count", "where": "on_time = true AND days IS NOT NULL"},
            "denominator": {"agg": "count", "column": "days"},
            "scale": 100,
        },
    },
    {
        "id": "long_days_share",
        "name": "超长办理天数占比",
        "unit": "%",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "measure": {
            "type": "ratio",
            "numerator": {"agg": "sum", "column": "days", "where": "days BETWEEN 8 AND 12"},
            "denominator": {"agg": "sum", "column": "days"},
            "scale": 100,
        },
    },
    {
        "id": "cases_ytd",
        "name": "累计办件量",
        "unit": "件",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "department": "dept_code",
        "measure": {"type": "count"},
        "accumulate": "ytd",
    },
    {
        "id": "online_rate_ytd",
        "name": "累计全程网办率",
        "unit": "%",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "accumulate": "ytd",
        "measure": {
            "type": "ratio",
            "numerator": {"agg": "count", "where": "channel IN ('网办', '自助')"},
            "denominator": {"agg": "count"},
            "scale": 100,
        },
    },
    {
        "id": "median_ytd",
        "name": "累计办理天数中位数",
        "unit": "天",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "accumulate": "ytd",
        "measure": {"type": "median", "column": "days"},
        "direction": "lower_better",
    },
    {
        "id": "cases_own",
        "name": "本级办件量",
        "unit": "件",
        "time": {"column": "accepted_at", "grain": "month"},
        "region": "region_code",
        "rollup": "none",
        "measure": {"type": "count"},
    },
    {
        "id": "cases_day",
        "name": "日办件量",
        "unit": "件",
        "time": {"column": "accepted_at", "grain": "day"},
        "region": "region_code",
        "measure": {"type": "count"},
    },
    {
        "id": "cases_week",
        "name": "周办件量",
        "unit": "件",
        "time": {"column": "accepted_at", "grain": "week"},
        "region": "region_code",
        "department": "dept_code",
        "measure": {"type": "count"},
    },
    {
        "id": "cases_week_ytd",
        "name": "周累计办件量",
        "unit": "件",
        "time": {"column": "accepted_at", "grain": "week"},
        "region": "region_code",
        "measure": {"type": "count"},
        "accumulate": "ytd",
    },
    {
        "id": "cases_quarter",
        "name": "季度办件量",
        "unit": "件",
        "time": {"column": "accepted_at", "grain": "quarter"},
        "region": "region_code",
        "measure": {"type": "count"},
    },
    {
        "id": "days_year",
        "name": "年度办理天数",
        "unit": "天",
        "time": {"column": "accepted_at", "grain": "year"},
        "region": "region_code",
        "measure": {"type": "sum", "column": "days"},
    },
    {
        "id": "cases_by_date",
        "name": "办件量(受理日期)",
        "unit": "件",
        "time": {"column": "accepted_on", "grain": "month"},
        "region": "region_code",
        "measure": {"type": "count", "where": "days > 2.5"},
    },
    {
        "id": "cases_by_date_week",
        "name": "周办件量(受理日期)",
        "unit": "件",
        "time": {"column": "accepted_on", "grain": "week"},
        "region": "region_code",
        "measure": {"type": "count"},
    },
    {
        "id": "cases_by_period",
        "name": "办件量(统计月份)",
        "unit": "件",
        "time": {"column": "period", "grain": "month"},
        "region": "region_code",
        "department": "dept_code",
        "measure": {"type": "count"},
    },
    {
        "id": "days_by_period_quarter",
        "name": "季度办理天数(统计月份)",
        "unit": "天",
        "time": {"column": "period", "grain": "quarter"},
        "region": "region_code",
        "measure": {"type": "sum", "column": "days"},
    },
    {
        "id": "cases_city",
        "name": "全市办件量",
        "unit": "件",
        "time": {"column": "accepted_at", "grain": "month"},
        "measure": {"type": "count"},
    },
    {
        "id": "cases_per_applicant",
        "name": "人均办件量",
        "unit": "件",
        "measure": {"type": "formula", "expr": "c / a", "inputs": {"c": "cases", "a": "applicants"}},
    },
]

INDICATOR_IDS = [i["id"] for i in INDICATORS]
HOLISTIC = {"days_median", "applicants", "median_ytd", "cases_per_applicant"}

SOURCE_TYPES = ("csv", "parquet", "duckdb", "duckdb_query", "sqlite", "pg", "pg_txt", "pg_query", "http")


def sources(
    folder: Path | None = None,
    *,
    pg: bool = False,
    http_url: str | None = None,
    sqlite_relative: bool = False,
) -> dict[str, dict[str, Any]]:
    """The ``sources`` block. Files are given relative to the config's folder (except the SQLite URL,
    which is absolute unless ``sqlite_relative``). ``pg``: the PostgreSQL sources, URL through ``${PG_URL}``."""
    out: dict[str, dict[str, Any]] = {
        "csv": {"type": "csv", "path": "data/city.csv"},
        "parquet": {"type": "parquet", "path": "data/city.parquet"},
        "duckdb": {"type": "duckdb", "path": "data/city.duckdb", "table": "city"},
        "duckdb_query": {
            "type": "duckdb",
            "path": "data/city.duckdb",
            "query": "SELECT * FROM city WHERE id > 0",
        },
    }
    if folder is not None or sqlite_relative:
        db = "data/city.sqlite" if sqlite_relative else str((Path(folder) / "data" / "city.sqlite").resolve())  # type: ignore[arg-type]
        out["sqlite"] = {"type": "sql", "url": f"sqlite:///{db}", "table": "city"}
    if pg:
        out["pg"] = {"type": "sql", "url": "${PG_URL}", "table": PG_TABLE_INT}
        out["pg_txt"] = {"type": "sql", "url": "${PG_URL}", "table": PG_TABLE_TXT}
        out["pg_query"] = {
            "type": "sql",
            "url": "${PG_URL}",
            "query": f"SELECT id, accepted_at, accepted_on, period, region_code, dept_code, channel, days, on_time, "
            f"applicant FROM {PG_TABLE_INT} WHERE id > 0",
        }
    if http_url:
        out["http"] = {"type": "http_json", "url": http_url, "records": "data.items"}
    return out


def city_yaml(
    source: str = "csv",
    folder: Path | None = None,
    *,
    indicators: Iterable[str] | None = None,
    pg: bool = False,
    http_url: str | None = None,
    sqlite_relative: bool = False,
    extra_sources: dict[str, dict[str, Any]] | None = None,
    extra_indicators: Sequence[dict[str, Any]] = (),
) -> str:
    """The text of an indicators.yaml over the city; every indicator (but formulas) reads ``source``."""
    wanted = set(indicators) if indicators is not None else None
    inds = []
    for spec in INDICATORS:
        if wanted is not None and spec["id"] not in wanted:
            continue
        spec = dict(spec)
        if spec["measure"]["type"] != "formula":
            spec["source"] = source
        inds.append(spec)
    inds.extend(extra_indicators)
    srcs = sources(folder, pg=pg, http_url=http_url, sqlite_relative=sqlite_relative)
    srcs.update(extra_sources or {})
    config = {
        "version": 1,
        "org": {"regions": REGIONS, "departments": DEPARTMENTS},
        "sources": srcs,
        "indicators": inds,
    }
    return yaml.safe_dump(config, allow_unicode=True, sort_keys=False, width=200)


def http_document(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The records as an API would serve them: ``{"data": {"items": [...]}}``, dates as text."""
    items = []
    for r in rows:
        item: dict[str, Any] = {}
        for c in COLUMNS:
            v = r[c]
            if isinstance(v, dt.datetime):
                v = v.strftime("%Y-%m-%d %H:%M:%S")
            elif isinstance(v, dt.date):
                v = v.isoformat()
            item[c] = v
        items.append(item)
    return {"code": 0, "data": {"total": len(items), "items": items}}


def build_city(folder: Path, source: str = "csv", pg_url: str | None = None, **kw: Any) -> str:
    """Write the records to every source (PostgreSQL too when ``pg_url`` is given) and return the text of
    a config whose sources point at each; the indicators read ``source``. The PostgreSQL URL is read
    from ``${PG_URL}`` by the config: pass it in the environment of the command."""
    write_city(folder, pg_url=pg_url)
    return city_yaml(source, folder, pg=pg_url is not None, **kw)


# ----------------------------------------------------------------- comparing outputs


def assert_rows_equal(
    got: list[dict[str, Any]], want: list[dict[str, Any]], what: str = "", tol: float = 1e-9
) -> None:
    """Same rows in the same order; numbers equal within ``tol`` (relative, absolute near 0)."""
    assert len(got) == len(want), f"{what}: {len(got)} rows, expected {len(want)}\n" + _diff(got, want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert set(g) == set(w), f"{what}: row {i} has keys {sorted(g)}, expected {sorted(w)}"
        for k in w:
            a, b = g[k], w[k]
            if isinstance(b, float) or isinstance(a, float):
                if a is None or b is None:
                    assert a is b, f"{what}: row {i} {k}: {a!r} != {b!r}\n got {g}\nwant {w}"
                else:
                    assert math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol), (
                        f"{what}: row {i} {k}: {a!r} != {b!r}\n got {g}\nwant {w}"
                    )
            else:
                assert a == b, f"{what}: row {i} {k}: {a!r} != {b!r}\n got {g}\nwant {w}"


def _diff(got: list[dict[str, Any]], want: list[dict[str, Any]], limit: int = 8) -> str:
    def key(r: dict[str, Any]) -> tuple:
        return (r.get("indicator"), r.get("period"), r.get("region"), r.get("department"))

    g, w = {key(r) for r in got}, {key(r) for r in want}
    extra, missing = sorted(g - w, key=str)[:limit], sorted(w - g, key=str)[:limit]
    return f"  extra rows: {extra}\n  missing rows: {missing}"


# ----------------------------------------------------------------- running the command line


def compute(
    config: Path | str, *args: Any, env: dict[str, str | None] | None = None, cwd: Path | str | None = None
):
    """``cockpit compute --format json --config CONFIG ARGS…`` → (process, rows or None)."""
    import json

    from servers import run_cli

    proc = run_cli("compute", "--format", "json", "--config", config, *args, env=env, cwd=cwd)
    try:
        rows = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        rows = None
    return proc, rows


def by_indicator(rows: Sequence[dict[str, Any]] | None) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows or ():
        out.setdefault(r["indicator"], []).append(r)
    return out


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ERROR:")]


def assert_no_traceback(proc) -> None:
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text, text[-3000:]
    assert "internal error" not in text, text[-3000:]


_REFERENCE: dict[str, Any] = {}


def csv_reference(tmp_path_factory) -> dict[str, list[dict[str, Any]]]:
    """The rows of the whole catalogue on the CSV source, by indicator: computed once per test process
    (every module compares its source with these)."""
    if "rows" not in _REFERENCE:
        folder = tmp_path_factory.mktemp("city_csv_reference")
        write_csv(folder / "data" / "city.csv", records())
        config = folder / "indicators.yaml"
        config.write_text(city_yaml("csv"), encoding="utf-8")
        proc, rows = compute(config)
        assert proc.returncode == 0, proc.stderr
        assert_no_traceback(proc)
        assert rows, "no rows from the CSV source"
        _REFERENCE["rows"] = by_indicator(rows)
    return _REFERENCE["rows"]


def compute_many(jobs: dict[str, tuple], workers: int = 4) -> dict[str, tuple]:
    """Run several ``compute(config, *args, env=…)`` at once: ``{name: (config, args, env)}`` → ``{name: (proc, rows)}``."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(compute, cfg, *args, env=env) for name, (cfg, args, env) in jobs.items()}
        return {name: f.result() for name, f in futures.items()}
