"""Check the sample catalogue against the sample data.

    python -m sample.check [--config indicators.yaml] [--values]

A development aid for whoever edits ``indicators.yaml`` or the generator; the
engine's own ``cockpit validate`` is the authority. It checks that

- the YAML parses and uses only the keys of the contract (section 3),
- ``org`` is exactly the tree and departments of ``sample/city.py``,
- every source file exists and every column an indicator names is in it,
- every ``where`` clause uses only columns, literals and operators (no
  functions, no sub-queries) and runs in DuckDB,
- formula inputs exist and share the grain, thresholds and bands are ordered,
- every measure type is used at least once,

and with ``--values`` prints each indicator's city-level value for the latest
periods (a rough computation, not the engine's), to see that targets and
thresholds sit where the data is. Exits 1 when it finds a problem.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
import yaml
from sqlglot import exp

from sample.city import ROOT_ID, org_dict

TOP_KEYS = {"version", "org", "site", "sources", "channels", "indicators"}
INDICATOR_KEYS = {
    "id",
    "name",
    "domain",
    "unit",
    "owner",
    "description",
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
}
SOURCE_KEYS = {"type", "path", "expected_lag"}
MEASURE_TYPES = {"count", "sum", "mean", "min", "max", "median", "count_distinct", "ratio", "formula"}
GRAINS = {"day", "week", "month", "quarter", "year"}
# Node types a where clause may contain: comparisons, logic, IN, BETWEEN, LIKE, IS, arithmetic, literals.
WHERE_NODES = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.Tuple,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.And,
    exp.Or,
    exp.Not,
    exp.In,
    exp.Between,
    exp.Like,
    exp.Is,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.Neg,
)
AGG_SQL = {
    "count": "count(*)",
    "sum": "sum({c})",
    "mean": "avg({c})",
    "min": "min({c})",
    "max": "max({c})",
    "median": "median({c})",
    "count_distinct": "count(DISTINCT {c})",
}


def _reader(source: dict[str, Any], base: Path) -> str:
    path = (base / source["path"]).as_posix()
    if source["type"] == "parquet":
        return f"read_parquet('{path}')"
    return f"read_csv('{path}', header = true)"


def _period_sql(column: str, grain: str, column_type: str) -> str:
    if column_type == "VARCHAR":
        return column
    return {
        "day": f"strftime({column}, '%Y-%m-%d')",
        "week": f"strftime({column}, '%G-W%V')",
        "month": f"strftime({column}, '%Y-%m')",
        "quarter": f"year({column}) || '-Q' || quarter({column})",
        "year": f"CAST(year({column}) AS VARCHAR)",
    }[grain]


def _agg_sql(spec: dict[str, Any], kind: str) -> str:
    sql = AGG_SQL[kind].format(c=spec.get("column"))
    if spec.get("where"):
        sql += f" FILTER (WHERE {spec['where']})"
    return sql


def _wheres(measure: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if measure["type"] == "ratio":
        yield "numerator", measure["numerator"]
        yield "denominator", measure["denominator"]
    elif measure["type"] != "formula":
        yield "measure", measure


def check(config: Path, show_values: bool) -> list[str]:
    problems: list[str] = []
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    base = config.resolve().parent
    problems += [f"top level: unknown key {k!r}" for k in set(doc) - TOP_KEYS]
    if doc.get("version") != 1:
        problems.append("version must be 1")
    if doc["org"] != org_dict():
        problems.append("org differs from sample/city.py")
    departments = {d["id"] for d in doc["org"]["departments"]}

    con = duckdb.connect()
    columns: dict[str, dict[str, str]] = {}
    for name, source in doc["sources"].items():
        problems += [f"source {name}: unknown key {k!r}" for k in set(source) - SOURCE_KEYS]
        if not (base / source["path"]).exists():
            problems.append(f"source {name}: missing file {source['path']}")
            continue
        rows = con.sql(f"DESCRIBE SELECT * FROM {_reader(source, base)}").fetchall()
        columns[name] = {row[0]: row[1] for row in rows}

    indicators = {ind["id"]: ind for ind in doc["indicators"]}
    if len(indicators) != len(doc["indicators"]):
        problems.append("duplicate indicator ids")
    used_types: set[str] = set()
    for ind in doc["indicators"]:
        iid = ind["id"]
        where = f"indicator {iid!r}"
        problems += [f"{where}: unknown key {k!r}" for k in set(ind) - INDICATOR_KEYS]
        for key in ("name", "domain", "unit", "owner", "description"):
            if not ind.get(key):
                problems.append(f"{where}: no {key}")
        if ind.get("owner") not in departments:
            problems.append(f"{where}: owner {ind.get('owner')!r} is not a department")
        measure = ind["measure"]
        used_types.add(measure["type"])
        if measure["type"] not in MEASURE_TYPES:
            problems.append(f"{where}: unknown measure type")
        _check_status(ind, where, problems)
        if measure["type"] == "formula":
            grains = set()
            for name, input_id in measure["inputs"].items():
                if input_id not in indicators:
                    problems.append(f"{where}: formula input {name} -> unknown indicator {input_id!r}")
                else:
                    grains.add(indicators[input_id]["time"]["grain"])
            if len(grains) > 1:
                problems.append(f"{where}: formula inputs have different grains {sorted(grains)}")
            continue
        cols = columns.get(ind["source"])
        if cols is None:
            problems.append(f"{where}: unknown or unreadable source {ind['source']!r}")
            continue
        if ind["time"]["grain"] not in GRAINS:
            problems.append(f"{where}: unknown grain")
        named = [ind["time"]["column"], ind.get("region"), ind.get("department")]
        named += [spec.get("column") for _, spec in _wheres(measure)]
        for column in filter(None, named):
            if column not in cols:
                problems.append(f"{where}: unknown column {column!r} in source {ind['source']!r}")
        reader = _reader(doc["sources"][ind["source"]], base)
        for part, spec in _wheres(measure):
            if not spec.get("where"):
                continue
            tree = sqlglot.parse_one(spec["where"], read="duckdb")
            for node in tree.walk():
                if not isinstance(node, WHERE_NODES):
                    problems.append(f"{where}: {part}.where: {type(node).__name__} is not allowed")
                if isinstance(node, exp.Column) and node.name not in cols:
                    problems.append(f"{where}: {part}.where: unknown column {node.name!r}")
            try:
                hits = con.execute(f"SELECT count(*) FROM {reader} WHERE {spec['where']}").fetchall()[0][0]
                if hits == 0:
                    problems.append(f"{where}: {part}.where matches no record")
            except duckdb.Error as err:
                problems.append(f"{where}: {part}.where does not run: {err}")
        if show_values:
            _show(con, ind, reader, cols)

    for missing in sorted(MEASURE_TYPES - used_types):
        problems.append(f"measure type {missing!r} is not used")
    print(f"{len(indicators)} indicators in {len({i.get('domain') for i in doc['indicators']})} domains")
    return problems


def _check_status(ind: dict[str, Any], where: str, problems: list[str]) -> None:
    if "thresholds" in ind and "bands" in ind:
        problems.append(f"{where}: both thresholds and bands")
    if "thresholds" in ind:
        green, yellow = ind["thresholds"]["green"], ind["thresholds"]["yellow"]
        lower = ind.get("direction") == "lower_better"
        if (lower and green > yellow) or (not lower and green < yellow):
            problems.append(f"{where}: thresholds out of order for the direction")
    if "bands" in ind:
        edges = [ind["bands"][k] for k in ("blue", "lightblue", "green", "yellow")]
        if edges != sorted(edges) or len(set(edges)) < 4:
            problems.append(f"{where}: bands must rise")


def _show(con: duckdb.DuckDBPyConnection, ind: dict[str, Any], reader: str, cols: dict[str, str]) -> None:
    measure = ind["measure"]
    time_col = ind["time"]["column"]
    period = _period_sql(time_col, ind["time"]["grain"], cols[time_col])
    if measure["type"] == "ratio":
        value = (
            f"{_agg_sql(measure['numerator'], measure['numerator']['agg'])} / "
            f"nullif({_agg_sql(measure['denominator'], measure['denominator']['agg'])}, 0)"
            f" * {measure.get('scale', 1)}"
        )
    else:
        value = _agg_sql(measure, measure["type"])
    scope = ""
    if ind.get("rollup") == "none" and ind.get("region"):
        scope = f"WHERE CAST({ind['region']} AS VARCHAR) = '{ROOT_ID}'"
    rows = con.sql(
        f"SELECT {period} AS p, {value} AS v FROM {reader} {scope} GROUP BY p ORDER BY p DESC LIMIT 3"
    ).fetchall()
    shown = ", ".join(f"{p}: {v:.2f}" if v is not None else f"{p}: null" for p, v in rows)
    extra = f" target {ind.get('target')} {ind.get('thresholds') or ind.get('bands') or ''}"
    note = " (ytd not applied)" if ind.get("accumulate") == "ytd" else ""
    print(f"  {ind['id']:24s} {shown}{note} |{extra}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m sample.check", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", type=Path, default=Path(__file__).resolve().parent.parent / "indicators.yaml"
    )
    parser.add_argument("--values", action="store_true", help="print city-level values of the latest periods")
    args = parser.parse_args()
    problems = check(args.config, args.values)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
