"""The aggregate SQL an indicator needs, rendered in the dialect of its source.

All indicators that share a source, time column, grain, region column and
department column are computed by ONE query that scans the source once and
returns *partial aggregates* per (time key, region code, department code):
counts, sums, minima and maxima, each with its own ``FILTER (WHERE …)``.
The region tree, year-to-date sums and ratios are then folded from those
few thousand rows in Polars. A province's billions of rows never leave the
database.

Medians and distinct counts cannot be folded from parts. For them a second
query joins the records to an ancestor map (each region code → itself and
every ancestor) and, for year-to-date, a period map, so the database
aggregates every node of the tree in one pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlglot

from connectors.base import ColumnInfo
from connectors.base import quote_ident as _q
from connectors.base import sql_string as _lit
from connectors.partitions import Partitions
from connectors.partitions import where as partition_where

from .catalogue.expressions import check_where, render

DECOMPOSABLE = ("count", "count_col", "sum", "min", "max")
MEDIAN_DIALECTS = {"duckdb", "postgres", "spark", "databricks", "snowflake", "redshift", "oracle"}
FILTER_DIALECTS = {"duckdb", "postgres", "sqlite", "spark", "databricks", "trino", "presto"}
PLACEHOLDER = "__cockpit_source__"


@dataclass(frozen=True)
class Component:
    """One aggregate over the source: ``agg(column) FILTER (WHERE where)``."""

    agg: str  # count | count_col | sum | min | max | median | count_distinct
    column: str | None
    where: str | None

    @property
    def decomposable(self) -> bool:
        return self.agg in DECOMPOSABLE


class QueryBuilder:
    """Builds SQL (written in DuckDB's dialect, transpiled by sqlglot) for one source."""

    def __init__(self, columns: dict[str, ColumnInfo], dialect: str) -> None:
        self.columns = columns
        self.dialect = dialect
        self._lower = {c.lower(): c for c in columns}

    def real(self, name: str) -> str:
        """The source's spelling of a column named in the config."""
        return self._lower.get(name.lower(), name)

    def kind(self, name: str) -> str:
        info = self.columns.get(self.real(name))
        return info.kind if info else "other"

    # -- expressions
    def time_key(self, column: str, grain: str) -> str:
        col = _q(self.real(column))
        kind = self.kind(column)
        if kind in ("date", "timestamp"):
            ts = f"CAST({col} AS TIMESTAMP)"
            if grain == "day":
                return f"CAST(CAST({col} AS DATE) AS TIMESTAMP)"
            return f"CAST(DATE_TRUNC('{grain}', {ts}) AS TIMESTAMP)"
        if kind == "integer":
            return col
        if kind == "float":
            return f"CAST({col} AS BIGINT)"
        return f"SUBSTR(TRIM(CAST({col} AS VARCHAR)), 1, 10)"

    def code(self, column: str) -> str:
        """A region or department id as text (130302 stored as a number matches '130302')."""
        col = _q(self.real(column))
        kind = self.kind(column)
        if kind == "float":
            return f"CAST(CAST({col} AS BIGINT) AS VARCHAR)"
        if kind == "text":
            return f"TRIM({col})"
        return f"CAST({col} AS VARCHAR)"

    def value(self, column: str) -> str:
        col = _q(self.real(column))
        kind = self.kind(column)
        if kind == "boolean":
            return f"CAST({col} AS INTEGER)"
        if kind in ("text", "other"):
            return f"TRY_CAST({col} AS DOUBLE)" if self.dialect == "duckdb" else f"CAST({col} AS DOUBLE)"
        return col

    def where_sql(self, where: str) -> str:
        tree = check_where(where).tree
        return render(tree, "duckdb", {c: c for c in self.columns})

    def aggregate(self, c: Component) -> str:
        cond = self.where_sql(c.where) if c.where else None
        use_filter = self.dialect in FILTER_DIALECTS
        if c.agg == "count":
            if cond is None:
                return "COUNT(*)"
            # DuckDB sums a CASE faster than it counts with FILTER (measured in bench/variants.py)
            if use_filter and self.dialect != "duckdb":
                return f"COUNT(*) FILTER (WHERE {cond})"
            return f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)"
        assert c.column is not None
        if c.agg == "count_distinct":
            arg = _q(self.real(c.column))
            if cond is None:
                return f"COUNT(DISTINCT {arg})"
            return (
                f"COUNT(DISTINCT {arg}) FILTER (WHERE {cond})"
                if use_filter
                else f"COUNT(DISTINCT CASE WHEN {cond} THEN {arg} END)"
            )
        if c.agg == "count_col":
            arg = _q(self.real(c.column))
            fn = "COUNT"
        else:
            arg = self.value(c.column)
            fn = {"sum": "SUM", "min": "MIN", "max": "MAX", "median": "MEDIAN"}[c.agg]
            if fn == "SUM" and self.dialect == "duckdb" and self.kind(c.column) not in ("integer", "boolean"):
                # An exact fixed-point sum: the same bits whatever the thread schedule (a parallel
                # float sum, FSUM included, differs in the last bits from run to run).
                arg = f"CAST({arg} AS DECIMAL(38, 10))"
        if cond is None:
            return f"{fn}({arg})"
        return (
            f"{fn}({arg}) FILTER (WHERE {cond})" if use_filter else f"{fn}(CASE WHEN {cond} THEN {arg} END)"
        )

    # -- whole queries
    def partials(
        self,
        time_col: str,
        grain: str,
        region: str | None,
        department: str | None,
        comps: Sequence[Component],
        parts: Partitions | None = None,
        only: Sequence[str | None] | None = None,
    ) -> str:
        """Partial aggregates per (k, r, d); the decomposable components only.

        With ``parts``, also per partition (column ``__part``), and only from the
        partitions ``only`` (all: ``None``), so each partition's partials can be
        stored on their own.
        """
        select = [
            f"{self.time_key(time_col, grain)} AS k",
            f"{self.code(region)} AS r" if region else "CAST(NULL AS VARCHAR) AS r",
            f"{self.code(department)} AS d" if department else "CAST(NULL AS VARCHAR) AS d",
        ]
        if parts is not None:
            select.append(f"CAST({_q(self.real(parts.column))} AS VARCHAR) AS __part")
        group = ", ".join(str(i + 1) for i in range(len(select)))
        select.append("COUNT(*) AS __n")
        select += [f"{self.aggregate(c)} AS c{i}" for i, c in enumerate(comps)]
        sql = f"SELECT {', '.join(select)} FROM {self._source(parts, only)} GROUP BY {group}"
        return self.finish(sql)

    def _source(self, parts: Partitions | None, only: Sequence[str | None] | None) -> str:
        """The source, or the subquery of its partitions ``only`` (which the engine prunes to)."""
        if parts is None or only is None:
            return _q(PLACEHOLDER)
        cond = partition_where(self.real(parts.column), list(only))
        return f"(SELECT * FROM {_q(PLACEHOLDER)} WHERE {cond}) AS __src"

    def holistic(
        self,
        time_col: str,
        grain: str,
        group_col: str | None,
        comps: Sequence[tuple[str, Component]],
        period_map: Iterable[tuple[object, str]],
        node_map: Iterable[tuple[str, str]] | None,
        root: str | None,
        parts: Partitions | None = None,
        only: Sequence[str | None] | None = None,
    ) -> str:
        """Medians and distinct counts per (period, node), mapped inside the database.

        ``period_map`` pairs each time key with the period(s) it counts in
        (several for year-to-date); ``node_map`` pairs each region code with
        the node(s) it counts in (None: group by ``group_col`` as it is).
        DuckDB and the databases without a ``MEDIAN`` aggregate (SQLite, Trino,
        MySQL, …) get the median from a histogram (:meth:`_median_ctes`).
        """
        key = self.time_key(time_col, grain)
        pm = ", ".join(f"({self._key_literal(k)}, {_lit(p)})" for k, p in period_map)
        ctes = [f"__pm(__k, __p) AS (VALUES {pm})"]
        joins = f" JOIN __pm ON {key} = __pm.__k"
        if node_map is not None and group_col is not None:
            nm = ", ".join(f"({_lit(c)}, {_lit(n)})" for c, n in node_map)
            ctes.append(f"__nm(__code, __node) AS (VALUES {nm})")
            joins += f" LEFT JOIN __nm ON {self.code(group_col)} = __nm.__code"
            node = f"COALESCE(__nm.__node, {_lit(root or '')})"
        elif group_col is not None:
            node = self.code(group_col)
        else:
            node = _lit(root) if root else "CAST(NULL AS VARCHAR)"
        medians = [(a, c) for a, c in comps if c.agg == "median" and self._histogram_medians]
        plain = [(a, c) for a, c in comps if (a, c) not in medians]
        if not medians:
            select = ["__pm.__p AS period", f"{node} AS node"] + [
                f"{self.aggregate(c)} AS {a}" for a, c in plain
            ]
            sql = f"WITH {', '.join(ctes)} SELECT {', '.join(select)} FROM {self._source(parts, only)}{joins} GROUP BY 1, 2"
            return self.finish(sql)
        ctes.append(
            f"__base AS (SELECT __pm.__p AS __period, {node} AS __node, __s.* "
            f"FROM (SELECT * FROM {self._source(parts, only)}) AS __s{joins})"
        )
        keys = ["__period", "__node"] + [f"{self.aggregate(c)} AS {a}" for a, c in plain]
        ctes.append(f"__keys AS (SELECT {', '.join(keys)} FROM __base GROUP BY 1, 2)")
        outer = ["__keys.__period AS period", "__keys.__node AS node"] + [
            f"__keys.{a} AS {a}" for a, _ in plain
        ]
        joined = ""
        for i, (alias, c) in enumerate(medians):
            ctes += self._median_ctes(
                i,
                "__base",
                ["__period", "__node"],
                ["__period", "__node"],
                "GROUP BY __period, __node, __v",
                c,
            )
            outer.append(f"__m{i}.__m AS {alias}")
            joined += (
                f" LEFT JOIN __m{i} ON __keys.__period = __m{i}.__period"
                f" AND __keys.__node IS NOT DISTINCT FROM __m{i}.__node"
            )
        sql = f"WITH {', '.join(ctes)} SELECT {', '.join(outer)} FROM __keys{joined}"
        return self.finish(sql)

    def holistic_levels(
        self,
        time_col: str,
        grain: str,
        region_col: str,
        dept_col: str | None,
        comps: Sequence[tuple[str, Component]],
        period_map: Iterable[tuple[object, str]],
        level_map: Sequence[tuple[str, Sequence[str | None]]],
        parts: Partitions | None = None,
        only: Sequence[str | None] | None = None,
    ) -> str:
        """Medians and distinct counts for every tree node and department in ONE scan.

        ``level_map`` gives each region code its ancestors by depth below the
        root (``l1`` the district, ``l2`` the town, …). ``GROUPING SETS`` then
        aggregate the root (all records, unknown codes included), each level
        and each department, without repeating a record per ancestor. For
        databases with a native ``MEDIAN`` (DuckDB, PostgreSQL, Spark).
        """
        depth = max((len(levels) for _, levels in level_map), default=0)
        key = self.time_key(time_col, grain)
        pm = ", ".join(f"({self._key_literal(k)}, {_lit(p)})" for k, p in period_map)
        lcols = [f"__l{i + 1}" for i in range(depth)]
        rows = []
        for code, levels in level_map:
            vals = [*levels, *([None] * (depth - len(levels)))]
            rows.append(
                "("
                + ", ".join(
                    [_lit(code), *(_lit(v) if v is not None else "CAST(NULL AS VARCHAR)" for v in vals)]
                )
                + ")"
            )
        ctes = [f"__pm(__k, __p) AS (VALUES {pm})"]
        if depth:
            ctes.append(f"__lm(__code, {', '.join(lcols)}) AS (VALUES {', '.join(rows)})")
        dept = self.code(dept_col) if dept_col else "CAST(NULL AS VARCHAR)"
        level_select = "".join(f"__lm.{c} AS {c}, " for c in lcols)
        join_lm = f" LEFT JOIN __lm ON {self.code(region_col)} = __lm.__code" if depth else ""
        ctes.append(
            f"__b AS (SELECT __pm.__p AS __period, {level_select}{dept} AS __dept, __s.* "
            f"FROM (SELECT * FROM {self._source(parts, only)}) AS __s JOIN __pm ON {key} = __pm.__k{join_lm})"
        )
        sets = ["__period"] + [f"__period, {c}" for c in lcols]
        if dept_col:
            sets.append("__period, __dept")
        grouped = [*lcols, *(["__dept"] if dept_col else [])]
        flags = [f"GROUPING({c}) AS __g_{c}" for c in grouped]
        dept_out = "__dept" if dept_col else "CAST(NULL AS VARCHAR) AS __dept"
        medians = [(a, c) for a, c in comps if c.agg == "median" and self._histogram_medians]
        plain = [(a, c) for a, c in comps if (a, c) not in medians]
        select = ["__period AS period", *lcols, dept_out, *flags] + [
            f"{self.aggregate(c)} AS {a}" for a, c in plain
        ]
        if not plain:
            select.append("COUNT(*) AS __rows")
        main = f"SELECT {', '.join(select)} FROM __b GROUP BY GROUPING SETS ({', '.join(f'({x})' for x in sets)})"
        if not medians:
            return self.finish(f"WITH {', '.join(ctes)} {main}")
        keys = ["__period", *lcols, "__dept", *(f"__g_{c}" for c in grouped)]
        joined, outer = "", ["__main.*"]
        hsets = ", ".join(f"({x}, __v)" for x in sets)
        for i, (alias, c) in enumerate(medians):
            ctes += self._median_ctes(
                i, "__b", keys, ["__period", *lcols, dept_out, *flags], f"GROUP BY GROUPING SETS ({hsets})", c
            )
            on = " AND ".join(
                f"__main.{'period' if k == '__period' else k} IS NOT DISTINCT FROM __m{i}.{k}" for k in keys
            )
            joined += f" LEFT JOIN __m{i} ON {on}"
            outer.append(f"__m{i}.__m AS {alias}")
        sql = f"WITH {', '.join(ctes)} SELECT {', '.join(outer)} FROM ({main}) AS __main{joined}"
        return self.finish(sql)

    @property
    def _histogram_medians(self) -> bool:
        """Medians from a histogram (:meth:`_median_ctes`): in DuckDB, whose ``MEDIAN`` keeps every
        value of every group in memory (≈ 40 bytes a record, never spilled: it ran out of memory at
        20 million records under a 1 GB limit), and in databases without a ``MEDIAN``. PostgreSQL
        and Spark keep their own (Spark's ``percentile`` is a value → count map already)."""
        return self.dialect == "duckdb" or self.dialect not in MEDIAN_DIALECTS

    def _median_ctes(
        self, i: int, source: str, keys: Sequence[str], select: Sequence[str], group_by: str, c: Component
    ) -> list[str]:
        """``__h{i}``: (group ``keys``, value) → count over ``source``, rows without a value left out;
        ``__m{i}``: each group's median from it, the mean of the values at positions (n + 1) // 2 and
        (n + 2) // 2, found by a running count. Its hash aggregate and window spill to disk, and it
        holds one row per distinct value of a group, not one per record."""
        assert c.column is not None
        cond = f"({self.where_sql(c.where)}) AND " if c.where else ""
        part = ", ".join(keys)
        return [
            f"__h{i} AS (SELECT {', '.join(select)}, __v, COUNT(*) AS __c "
            f"FROM (SELECT *, {self.value(c.column)} AS __v FROM {source}) AS __x "
            f"WHERE {cond}__v IS NOT NULL {group_by})",
            f"__m{i} AS (SELECT {part}, AVG(__v) AS __m FROM ("
            f"SELECT *, SUM(__c) OVER (PARTITION BY {part} ORDER BY __v "
            f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS __cum, "
            f"SUM(__c) OVER (PARTITION BY {part}) AS __tot FROM __h{i}) AS __y "
            f"WHERE __cum - __c < (__tot + 2) // 2 AND __cum >= (__tot + 1) // 2 GROUP BY {part})",
        ]

    def _key_literal(self, k: object) -> str:
        if isinstance(k, dt.datetime | dt.date):
            return f"CAST({_lit(k.isoformat(sep=' ') if isinstance(k, dt.datetime) else k.isoformat() + ' 00:00:00')} AS TIMESTAMP)"
        if isinstance(k, int | float) and not isinstance(k, bool):
            return str(int(k))
        return _lit(str(k))

    def finish(self, sql: str) -> str:
        """Transpile from DuckDB's dialect to the source's and put the source in."""
        if self.dialect != "duckdb":
            sql = sqlglot.transpile(sql, read="duckdb", write=self.dialect)[0]
        placeholder = sqlglot.exp.to_identifier(PLACEHOLDER, quoted=True).sql(dialect=self.dialect)
        return sql.replace(placeholder, "{relation}")


def render_for(sql_template: str, relation: str) -> str:
    return sql_template.replace("{relation}", relation)
