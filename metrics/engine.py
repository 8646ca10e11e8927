"""Compute indicator rows (contract section 5) from a catalogue.

The flow for one run:

1. Indicators are grouped by (source, time column, grain, region column,
   department column); each group is ONE aggregate query in its source
   (:mod:`metrics.query`).
2. The partial aggregates come back per (time key, region code, department
   code), are mapped to periods and folded up the region tree in Polars.
3. Formulas combine their inputs' rows; then targets, statuses, 同比/环比 and
   ranks are added.

A source that fails marks its indicators failed and leaves the rest alone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from sqlglot import exp

from connectors import Connector, SourceError, open_source
from connectors.partitions import Partitions

from . import increment, periods
from .catalogue import spec
from .catalogue.expressions import check_formula
from .catalogue.load import Catalogue
from .query import MEDIAN_DIALECTS, Component, QueryBuilder, render_for
from .store import Store

OUTPUT_COLUMNS = [
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
ROW_SCHEMA = {
    "indicator": pl.String,
    "period": pl.String,
    "region": pl.String,
    "department": pl.String,
    "value": pl.Float64,
    "target": pl.Float64,
    "status": pl.String,
    "yoy": pl.Float64,
    "mom": pl.Float64,
    "rank": pl.Int64,
    "records": pl.Int64,
    "num": pl.Float64,
    "den": pl.Float64,
}
# Internal columns beside the contract's: `records` (source records behind the row), and for a
# ratio or a mean its numerator and denominator (value = num / den × scale), which contribution
# analysis splits into mix and rate effects.
_VALUE_SCHEMA = {
    "period": pl.String,
    "region": pl.String,
    "department": pl.String,
    "value": pl.Float64,
    "records": pl.Int64,
    "num": pl.Float64,
    "den": pl.Float64,
}


@dataclass
class Result:
    """Rows plus what went wrong on the way."""

    rows: pl.DataFrame
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # indicator id → why
    stale: dict[str, str] = field(default_factory=dict)  # source id → why
    latest: dict[str, str] = field(default_factory=dict)  # source id → latest period
    # source id → what an incremental compute read from its partitions (metrics.increment)
    refresh: dict[str, increment.Refresh] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


# ----------------------------------------------------------------- planning


def needed_indicators(cat: Catalogue, ids: Iterable[str] | None) -> list[spec.Indicator]:
    """The requested indicators and every formula input they need, in catalogue order."""
    wanted = set(ids) if ids is not None else set(cat.indicators)
    stack = list(wanted)
    while stack:
        ind = cat.indicators[stack.pop()]
        if isinstance(ind.measure, spec.FormulaMeasure):
            for ref in ind.measure.inputs.values():
                if ref not in wanted:
                    wanted.add(ref)
                    stack.append(ref)
    return [i for i in cat.config.indicators if i.id in wanted]


def components_of(ind: spec.Indicator) -> dict[str, Component]:
    """The aggregates an indicator needs, by role."""
    m = ind.measure
    out: dict[str, Component] = {}

    def side(role: str, agg: str, column: str | None, where: str | None) -> None:
        if agg == "mean":
            out[f"{role}.sum"] = Component("sum", column, where)
            out[f"{role}.n"] = Component("count_col", column, where)
        elif agg == "count" and column:
            out[role] = Component("count_col", column, where)
        else:
            out[role] = Component(agg, column, where)

    if isinstance(m, spec.CountMeasure):
        side("v", "count", None, m.where)
    elif isinstance(m, spec.ColumnMeasure):
        side("v", m.type, m.column, m.where)
    elif isinstance(m, spec.RatioMeasure):
        side("num", m.numerator.agg, m.numerator.column, m.numerator.where)
        side("den", m.denominator.agg, m.denominator.column, m.denominator.where)
    return out


def numeric_columns(cat: Catalogue, source_id: str) -> set[str]:
    """Columns the catalogue reads as numbers: aggregated, or compared with a number in a ``where``.

    A connector reads text in them as a skipped row (CSV) or a null (Excel, HTTP),
    with a warning naming the row, instead of failing the whole query.
    """
    from .catalogue.expressions import ExpressionError, check_where

    out: set[str] = set()
    for ind in cat.config.indicators:
        if ind.source != source_id:
            continue
        for _role, c in components_of(ind).items():
            if c.column and c.agg in ("sum", "min", "max", "median"):
                out.add(c.column)
        for _field, where in ind.where_clauses():
            try:
                tree = check_where(where).tree
            except ExpressionError:
                continue  # reported by the rules; nothing here reads it

            for node in tree.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ, exp.NEQ, exp.Between):
                operands = (
                    [node.this, node.expression]
                    if not isinstance(node, exp.Between)
                    else [node.this, node.args.get("low"), node.args.get("high")]
                )
                numbers = any(isinstance(o, exp.Literal) and not o.is_string for o in operands) or any(
                    isinstance(o, exp.Neg) and isinstance(o.this, exp.Literal) for o in operands
                )
                if numbers:
                    out.update(o.name for o in operands if isinstance(o, exp.Column))
    return out


def open_connector(cat: Catalogue, source_id: str, state_dir: Path | None = None) -> Connector:
    settings = cat.config.sources[source_id]
    return open_source(
        source_id,
        settings,
        cat.resolve,
        lambda p: p,
        numeric_columns(cat, source_id),
        state_dir,
    )


# ----------------------------------------------------------------- the run


class Engine:
    """Computes rows for a catalogue; ``now`` decides staleness."""

    def __init__(self, cat: Catalogue, now: dt.datetime | None = None, use_store: bool = True) -> None:
        self.cat = cat
        self.now = now or dt.datetime.now()
        self.tree = cat.tree
        self.root = cat.root
        self.store = Store(cat.state_dir) if use_store else None
        self.parts_store = increment.PartStore(cat.state_dir) if self.store and self.store.enabled else None
        self._keys: dict[tuple[str, str, str], list[object]] = {}
        # partitioned sources (read partition by partition) and which partitions hold each time key
        self._parts: dict[str, Partitions] = {}
        self._holders: dict[tuple[str, str, str], dict[object, set[str | None]]] = {}

    def compute(self, ids: Iterable[str] | None = None, period: str | None = None) -> Result:
        cat = self.cat
        inds = needed_indicators(cat, ids)
        res = Result(pl.DataFrame(schema=ROW_SCHEMA))
        values: dict[str, pl.DataFrame] = {}
        groups: dict[str, dict[tuple, list[spec.Indicator]]] = defaultdict(lambda: defaultdict(list))
        for ind in inds:
            if ind.source and ind.time:
                key = (ind.time.column, ind.time.grain, ind.region if self.tree else None, ind.department)
                groups[ind.source][key].append(ind)
        for source_id, by_key in groups.items():
            self._run_source(source_id, by_key, values, res)
        for ind in inds:
            if isinstance(ind.measure, spec.FormulaMeasure):
                self._formula(ind, values, res)
        frames = []
        wanted = set(ids) if ids is not None else None
        for ind in inds:
            if ind.id in values and (wanted is None or ind.id in wanted):
                frames.append(self._finish(ind, values[ind.id]))
        if frames:
            rows = pl.concat(frames, how="vertical")
            if period is not None:
                rows = rows.filter(pl.col("period") == period)
            res.rows = rows.sort(["indicator", "period", "region", "department"], nulls_last=False)
        return res

    # -- one source
    def _run_source(
        self,
        source_id: str,
        by_key: dict[tuple, list[spec.Indicator]],
        values: dict[str, pl.DataFrame],
        res: Result,
    ) -> None:
        cat = self.cat
        try:
            con = open_connector(cat, source_id, cat.state_dir if self.parts_store is not None else None)
        except SourceError as e:
            self._source_failed(source_id, by_key, e, e.field, res)
            return
        res.warnings.extend(con.notes.warnings)
        qb = QueryBuilder(con.columns(), con.dialect)
        if self.parts_store is not None and hasattr(con, "partitions"):
            try:
                parts = con.partitions()
            except SourceError as e:
                self._source_failed(source_id, by_key, e, e.field or "partition", res)
                con.close()
                return
            if parts is not None and qb.real(parts.column) in qb.columns:
                self._parts[source_id] = parts
                res.refresh[source_id] = increment.Refresh(parts.column)
        latest: list[str] = []
        unknown_codes: dict[tuple[str, str | None], int] = defaultdict(int)
        for (time_col, grain, region_col, dept_col), inds in by_key.items():
            usable = []
            for ind in inds:
                missing = self._missing_columns(ind, qb)
                if missing:
                    res.errors.append(missing)
                    res.failed[ind.id] = missing
                else:
                    usable.append(ind)
            if not usable:
                continue
            try:
                part = self._partials(con, qb, time_col, grain, region_col, dept_col, usable, res)
            except SourceError as e:
                msg = str(cat.problem(("sources", source_id), e.message))
                res.errors.append(msg)
                for ind in usable:
                    res.failed[ind.id] = e.message
                continue
            if part.height:
                latest.append(part["period"].max())  # type: ignore[arg-type]
            if region_col and self.tree is not None:
                # several groups may read the same column: count each record once
                for r, n in part.group_by("r").agg(pl.col("__n").sum()).iter_rows():
                    if r is None or r not in self.tree:
                        unknown_codes[(region_col, r)] = max(unknown_codes[(region_col, r)], n)
            for ind in usable:
                try:
                    values[ind.id] = self._indicator_values(ind, con, qb, part, res)
                except SourceError as e:
                    res.errors.append(str(cat.problem(("sources", source_id), e.message)))
                    res.failed[ind.id] = e.message
        for (col, code), n in sorted(unknown_codes.items(), key=lambda x: (x[0][0], str(x[0][1]))):
            if code is None:
                res.warnings.append(
                    f"{con.label}: source '{source_id}': {col}: {n} records without a region id; counted at the root only"
                )
            else:
                res.warnings.append(
                    f"{con.label}: source '{source_id}': {col}: region id '{code}' is not in the region tree: "
                    f"{n} records counted at the root only"
                )
        if not latest and not any(ind.id in res.failed for inds in by_key.values() for ind in inds):
            res.warnings.append(
                f"{con.label}: source '{source_id}': the source has no records; its indicators have no rows"
            )
        if latest:
            last = max(latest, key=periods.ordinal)
            res.latest[source_id] = last
            lag = cat.config.sources[source_id].expected_lag
            if lag is not None:
                age = self.now.date() - periods.end(last)
                if age > spec.parse_duration(lag):
                    why = f"stale: latest period {last} ended {periods.end(last).isoformat()}, {age.days} days ago (expected_lag {lag})"
                    res.stale[source_id] = why
                    res.warnings.append(f"source '{source_id}': {why}")
        con.close()

    def _source_failed(
        self, source_id: str, by_key: dict[tuple, list[spec.Indicator]], e: SourceError, fld: str, res: Result
    ) -> None:
        """One error line naming ``sources.<id>.<fld>``; every indicator of the source failed."""
        path = ("sources", source_id, *([fld] if fld else []))
        res.errors.append(str(self.cat.problem(path, e.message)))
        for inds in by_key.values():
            for ind in inds:
                res.failed[ind.id] = e.message

    def _missing_columns(self, ind: spec.Indicator, qb: QueryBuilder) -> str | None:
        from .catalogue.expressions import ExpressionError, check_where
        from .catalogue.problems import did_you_mean

        names = list(qb.columns)
        path = self.cat.indicator_path(ind.id)
        for fld, col in ind.source_columns():
            if col.lower() not in (n.lower() for n in names):
                parts = tuple(fld.split("."))
                return str(
                    self.cat.problem((*path, *parts), f"unknown column '{col}'{did_you_mean(col, names)}")
                )
        for fld, where in ind.where_clauses():
            try:
                check_where(where, names)
            except ExpressionError as e:
                return str(self.cat.problem((*path, *fld.split(".")), str(e)))
        return None

    def _fetch(self, con: Connector, sql: str) -> pl.DataFrame:
        """Run an aggregate query, or read its result from the store while the source is unchanged."""
        cached = self.store.get(con, sql) if self.store else None
        if cached is not None:
            return cached
        frame = con.fetch(sql)
        if self.store:
            self.store.put(con, sql, frame)
        return frame

    def _by_period(
        self,
        con: Connector,
        ind: spec.Indicator,
        build: Callable[[list[tuple[object, str]], Sequence[str | None] | None], str],
        pmap: list[tuple[object, str]],
        res: Result,
    ) -> pl.DataFrame:
        """A per-period query (medians, distinct counts): by partition when the source has them."""
        assert ind.time is not None
        parts = self._parts.get(con.source_id)
        holders = self._holders.get((con.source_id, ind.time.column, ind.time.grain))
        if parts is not None and holders is not None and self.parts_store is not None:
            try:
                return increment.by_period(
                    self.parts_store,
                    con,
                    parts,
                    build,
                    pmap,
                    holders,
                    dt.datetime.now(),
                    res.refresh[con.source_id],
                )
            except increment.Mismatch:
                pass  # computed whole below
        return self._fetch(con, build(pmap, None))

    def _partials(
        self,
        con: Connector,
        qb: QueryBuilder,
        time_col: str,
        grain: str,
        region_col: str | None,
        dept_col: str | None,
        inds: list[spec.Indicator],
        res: Result,
    ) -> pl.DataFrame:
        comps: list[Component] = []
        for ind in inds:
            for c in components_of(ind).values():
                if c.decomposable and c not in comps:
                    comps.append(c)
        raw = None
        parts = self._parts.get(con.source_id)
        if parts is not None and self.parts_store is not None:

            def build(only: Sequence[str | None] | None) -> str:
                sql = qb.partials(time_col, grain, region_col, dept_col, comps, parts, only)
                return render_for(sql, con.relation())

            try:
                raw = increment.partials(
                    self.parts_store, con, parts, build, dt.datetime.now(), res.refresh[con.source_id]
                )
                self._holders[(con.source_id, time_col, grain)] = increment.key_partitions(raw)
            except increment.Mismatch:
                raw = None
        if raw is None:
            sql = render_for(qb.partials(time_col, grain, region_col, dept_col, comps), con.relation())
            raw = self._fetch(con, sql)
        # integer sums come back as DECIMAL(38,0) from DuckDB and NUMERIC from PostgreSQL: use doubles
        raw = raw.with_columns(
            [pl.col(f"c{i}").cast(pl.Float64) for i in range(len(comps))] + [pl.col("__n").cast(pl.Int64)]
        )
        # time keys → periods (a few thousand distinct keys at most)
        keys = raw["k"].unique().to_list()
        mapping: dict[object, str | None] = {}
        bad: list[str] = []
        for k in keys:
            if k is None:
                mapping[k] = None
                continue
            try:
                mapping[k] = periods.to_period(k, grain)
            except periods.PeriodError as e:
                mapping[k] = None
                bad.append(str(e))
        kdf = pl.DataFrame(
            {"k": keys, "period": [mapping[k] for k in keys]},
            schema={"k": raw["k"].dtype, "period": pl.String},
        )
        raw = raw.join(kdf, on="k", how="left", nulls_equal=True)
        dropped = raw.filter(pl.col("period").is_null())
        if dropped.height:
            n = int(dropped["__n"].sum())
            example = f" ({bad[0]})" if bad else " (empty)"
            res.warnings.append(
                f"{con.label}: source '{con.source_id}': {time_col}: {n} records with no usable date skipped{example}"
            )
        # a fixed order, so sums of doubles come out the same bits on every run
        order = ["period", "r", "d", *(["__part"] if "__part" in raw.columns else [])]
        raw = raw.filter(pl.col("period").is_not_null()).sort(order, nulls_last=False)
        aggs = [pl.col("__n").sum()]
        for i, c in enumerate(comps):
            col = pl.col(f"c{i}")
            aggs.append(_merge(col, c))
        part = raw.group_by(["period", "r", "d"], maintain_order=True).agg(aggs)
        part = part.with_columns(pl.col("r").cast(pl.String), pl.col("d").cast(pl.String))
        # name the columns by component, so each indicator finds its own
        self._keys[(con.source_id, time_col, grain)] = [
            k for k, p in mapping.items() if k is not None and p is not None
        ]
        return part.rename({f"c{i}": _comp_name(c) for i, c in enumerate(comps)})

    # -- one indicator from the partials
    def _node_map(self, rollup: str) -> pl.DataFrame:
        assert self.tree is not None
        codes, nodes = [], []
        for r in self.tree:
            targets = self.tree.ancestors_or_self(r.id) if rollup == "sum" else (r.id,)
            for t in targets:
                codes.append(r.id)
                nodes.append(t)
        return pl.DataFrame({"r": codes, "node": nodes}, schema={"r": pl.String, "node": pl.String})

    def _indicator_values(
        self, ind: spec.Indicator, con: Connector, qb: QueryBuilder, part: pl.DataFrame, res: Result
    ) -> pl.DataFrame:
        roles = components_of(ind)
        dec = {role: c for role, c in roles.items() if c.decomposable}
        hol = {role: c for role, c in roles.items() if not c.decomposable}
        cols = [_comp_name(c) for c in dec.values()]
        ytd = ind.accumulate == "ytd"
        region_on = self.tree is not None and ind.region is not None

        def fold(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
            aggs = [pl.col("__n").sum()]
            for c in dec.values():
                col = pl.col(_comp_name(c))
                aggs.append(_merge(col, c))
            out = frame.group_by(by, maintain_order=True).agg(aggs)
            if ytd:
                # A cumulative value exists from a node's first record of the year on, also in
                # periods where the node itself had no record (its 1-2月 total is still 1).
                others = [b for b in by if b != "period"]
                grid = out.select(others).unique().join(all_periods, how="cross") if others else all_periods
                out = grid.join(out, on=by, how="left", nulls_equal=True)
                fills = [pl.col("__n").fill_null(0)] + [
                    pl.col(_comp_name(c)).fill_null(0) for c in dec.values() if c.agg not in ("min", "max")
                ]
                out = out.with_columns(fills)
                out = out.with_columns(
                    pl.col("period").map_elements(periods.ordinal, return_dtype=pl.Int64).alias("__ord"),
                    pl.col("period").str.slice(0, 4).alias("__year"),
                ).sort("__ord")
                keys = [b for b in by if b != "period"] + ["__year"]
                cums = [pl.col("__n").cum_sum().over(keys).alias("__n")]
                for c in dec.values():
                    col = pl.col(_comp_name(c))
                    cum = (
                        col.cum_min()
                        if c.agg == "min"
                        else col.cum_max()
                        if c.agg == "max"
                        else col.fill_null(0).cum_sum()
                    )
                    cums.append(cum.over(keys).alias(_comp_name(c)))
                out = out.with_columns(cums).drop("__ord", "__year").filter(pl.col("__n") > 0)
            return out

        base = part.select(["period", "r", "d", "__n", *dict.fromkeys(cols)])
        all_periods = part.select("period").unique()
        # regions
        if region_on:
            nm = self._node_map(ind.rollup)
            joined = base.join(nm, on="r", how="left", maintain_order="left").with_columns(
                pl.col("node").fill_null(self.root)
            )
            regions = fold(joined, ["period", "node"]).rename({"node": "region"})
        else:
            regions = fold(base, ["period"]).with_columns(pl.lit(self.root, pl.String).alias("region"))
        regions = regions.with_columns(pl.lit(None, pl.String).alias("department"))
        frames = [regions]
        if ind.department:
            depts = fold(base.filter(pl.col("d").is_not_null()), ["period", "d"]).rename({"d": "department"})
            depts = depts.with_columns(pl.lit(self.root, pl.String).alias("region"))
            frames.append(depts)
        # holistic aggregates (median, count_distinct) run in the source
        if hol:
            extra_r, extra_d = self._holistic(ind, con, qb, part, hol, region_on, res)
            frames[0] = frames[0].join(extra_r, on=["period", "region"], how="left")
            if ind.department:
                frames[1] = frames[1].join(extra_d, on=["period", "department"], how="left")
        out = []
        num, den = _parts_expr(ind, roles)
        for f in frames:
            out.append(
                f.with_columns(
                    _value_expr(ind, roles).alias("value"),
                    pl.col("__n").alias("records"),
                    num.alias("num"),
                    den.alias("den"),
                ).select(list(_VALUE_SCHEMA))
            )
        return pl.concat([o.cast(_VALUE_SCHEMA) for o in out], how="vertical")

    def _holistic(
        self,
        ind: spec.Indicator,
        con: Connector,
        qb: QueryBuilder,
        part: pl.DataFrame,
        hol: dict[str, Component],
        region_on: bool,
        res: Result,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        assert ind.time is not None
        grain = ind.time.grain
        # the time keys as the source returned them to the partials query of this group
        keys = self._keys.get((con.source_id, ind.time.column, grain), [])
        pmap: list[tuple[object, str]] = []
        for k in keys:
            try:
                p = periods.to_period(k, grain)
            except periods.PeriodError:
                continue
            if ind.accumulate == "ytd":
                year_periods = sorted(
                    {
                        q
                        for q in part["period"].unique().to_list()
                        if q[:4] == p[:4] and periods.ordinal(q) >= periods.ordinal(p)
                    }
                )
                pmap.extend((k, q) for q in year_periods)
            else:
                pmap.append((k, p))
        comps = [(_comp_name(c), c) for c in hol.values()]
        if pmap and region_on and ind.rollup == "sum" and qb.dialect in MEDIAN_DIALECTS:
            return self._holistic_levels(ind, con, qb, comps, pmap, res)
        if not pmap:
            cols = {a: pl.Float64 for a, _ in comps}
            return (
                pl.DataFrame(schema={"period": pl.String, "region": pl.String, **cols}),
                pl.DataFrame(schema={"period": pl.String, "department": pl.String, **cols}),
            )
        node_pairs = None
        if region_on:
            nm = self._node_map(ind.rollup)
            node_pairs = list(zip(nm["r"].to_list(), nm["node"].to_list(), strict=True))
        parts = self._parts.get(con.source_id)
        time_col = ind.time.column

        def build_reg(pm: list[tuple[object, str]], only: Sequence[str | None] | None) -> str:
            region = ind.region if region_on else None
            sql = qb.holistic(time_col, grain, region, comps, pm, node_pairs, self.root, parts, only)
            return render_for(sql, con.relation())

        reg = self._by_period(con, ind, build_reg, pmap, res).rename({"node": "region"})
        aliases = [a for a, _ in comps]
        reg = reg.with_columns(
            pl.col("region").cast(pl.String),
            pl.col("period").cast(pl.String),
            *[pl.col(a).cast(pl.Float64) for a in aliases],
        )
        dep = pl.DataFrame(schema={"period": pl.String, "department": pl.String})
        if ind.department:
            dept = ind.department

            def build_dep(pm: list[tuple[object, str]], only: Sequence[str | None] | None) -> str:
                sql = qb.holistic(time_col, grain, dept, comps, pm, None, None, parts, only)
                return render_for(sql, con.relation())

            dep = self._by_period(con, ind, build_dep, pmap, res).rename({"node": "department"})
            dep = dep.with_columns(
                pl.col("department").cast(pl.String),
                pl.col("period").cast(pl.String),
                *[pl.col(a).cast(pl.Float64) for a in aliases],
            )
            dep = dep.filter(pl.col("department").is_not_null())
        return reg, dep

    def _holistic_levels(
        self,
        ind: spec.Indicator,
        con: Connector,
        qb: QueryBuilder,
        comps: list[tuple[str, Component]],
        pmap: list,
        res: Result,
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Region nodes and departments from one GROUPING SETS query (see QueryBuilder.holistic_levels)."""
        assert self.tree is not None and ind.time is not None and ind.region is not None
        level_map = [(r.id, list(reversed(self.tree.ancestors_or_self(r.id)))[1:]) for r in self.tree]
        depth = max((len(lv) for _, lv in level_map), default=0)
        parts = self._parts.get(con.source_id)
        time_col, grain, region, dept = ind.time.column, ind.time.grain, ind.region, ind.department

        def build(pm: list[tuple[object, str]], only: Sequence[str | None] | None) -> str:
            sql = qb.holistic_levels(time_col, grain, region, dept, comps, pm, level_map, parts, only)
            return render_for(sql, con.relation())

        out = self._by_period(con, ind, build, pmap, res)
        aliases = [a for a, _ in comps]
        lcols = [f"__l{i + 1}" for i in range(depth)]
        flag = {c: pl.col(f"__g_{c}") == 0 for c in [*lcols, "__dept"] if f"__g_{c}" in out.columns}
        parts = []
        grouped_none = pl.lit(True)
        for c in flag.values():
            grouped_none = grouped_none & ~c
        parts.append(out.filter(grouped_none).with_columns(pl.lit(self.root, pl.String).alias("region")))
        for c in lcols:
            parts.append(
                out.filter(flag[c] & pl.col(c).is_not_null()).with_columns(
                    pl.col(c).cast(pl.String).alias("region")
                )
            )
        cast = [pl.col("period").cast(pl.String), *[pl.col(a).cast(pl.Float64) for a in aliases]]
        reg = pl.concat([p.select("period", "region", *aliases) for p in parts]).with_columns(cast)
        dep = pl.DataFrame(
            schema={"period": pl.String, "department": pl.String, **{a: pl.Float64 for a in aliases}}
        )
        if ind.department and "__dept" in flag:
            dep = (
                out.filter(flag["__dept"] & pl.col("__dept").is_not_null())
                .select("period", pl.col("__dept").cast(pl.String).alias("department"), *aliases)
                .with_columns(cast)
            )
        return reg, dep

    # -- formulas
    def _formula(self, ind: spec.Indicator, values: dict[str, pl.DataFrame], res: Result) -> None:
        m = ind.measure
        assert isinstance(m, spec.FormulaMeasure)
        missing = [ref for ref in m.inputs.values() if ref not in values]
        if missing:
            res.failed[ind.id] = f"input '{missing[0]}' could not be computed"
            return
        joined: pl.DataFrame | None = None
        keys = ["period", "region", "department"]
        for name, ref in m.inputs.items():
            f = values[ref].select(
                [*keys, pl.col("value").alias(f"__in_{name}"), pl.col("records").alias(f"__rec_{name}")]
            )
            joined = f if joined is None else joined.join(f, on=keys, how="inner", nulls_equal=True)
        assert joined is not None
        tree = check_formula(m.expr, list(m.inputs)).tree
        rec = pl.min_horizontal([pl.col(f"__rec_{n}") for n in m.inputs])
        values[ind.id] = joined.select(
            *keys,
            _polars_expr(tree).cast(pl.Float64).alias("value"),
            rec.cast(pl.Int64).alias("records"),
            pl.lit(None, pl.Float64).alias("num"),
            pl.lit(None, pl.Float64).alias("den"),
        ).cast(_VALUE_SCHEMA)

    # -- targets, status, 同比/环比, rank
    def _finish(self, ind: spec.Indicator, vals: pl.DataFrame) -> pl.DataFrame:
        cumulative = ind.accumulate in ("ytd", "source")
        pct = (ind.unit or "").strip() == "%"
        ps = vals["period"].unique().to_list()
        prev = {p: periods.previous(p) for p in ps}
        ago = {p: periods.year_ago(p) for p in ps}
        f = vals.with_columns(
            pl.col("period").replace_strict(prev, default=None, return_dtype=pl.String).alias("__prev"),
            pl.col("period").replace_strict(ago, default=None, return_dtype=pl.String).alias("__ago"),
        )
        base = vals.select(
            pl.col("period").alias("__p"), "region", "department", pl.col("value").alias("__v")
        )
        keys = ["region", "department"]
        f = f.join(
            base.rename({"__v": "__vprev"}),
            left_on=["__prev", *keys],
            right_on=["__p", *keys],
            how="left",
            nulls_equal=True,
        )
        f = f.join(
            base.rename({"__v": "__vago"}),
            left_on=["__ago", *keys],
            right_on=["__p", *keys],
            how="left",
            nulls_equal=True,
        )

        def change(prev_col: str) -> pl.Expr:
            v, p = pl.col("value"), pl.col(prev_col)
            if pct:
                return pl.when(v.is_not_null() & p.is_not_null()).then(v - p).otherwise(None)
            return (
                pl.when(v.is_not_null() & p.is_not_null() & (p != 0))
                .then((v - p) / p.abs() * 100)
                .otherwise(None)
            )

        f = f.with_columns(
            change("__vago").alias("yoy"),
            (pl.lit(None, pl.Float64) if cumulative else change("__vprev")).alias("mom"),
        )
        # targets per (region, year)
        pairs = f.select("region", pl.col("period").str.slice(0, 4).alias("__y")).unique()
        tmap = {(r, y): resolve_target(ind.target, r, y) for r, y in pairs.iter_rows()}
        tdf = pl.DataFrame(
            {"region": [k[0] for k in tmap], "__y": [k[1] for k in tmap], "target": list(tmap.values())},
            schema={"region": pl.String, "__y": pl.String, "target": pl.Float64},
        )
        f = f.with_columns(pl.col("period").str.slice(0, 4).alias("__y")).join(
            tdf, on=["region", "__y"], how="left", nulls_equal=True
        )
        f = f.with_columns(_status_expr(ind).alias("status"))
        # rank among siblings (regions with the same parent) or among departments
        parent = {r.id: r.parent for r in self.tree} if self.tree else {}
        f = f.with_columns(
            pl.when(pl.col("department").is_not_null())
            .then(pl.lit("__dept__"))
            .otherwise(pl.col("region").replace_strict(parent, default=None, return_dtype=pl.String))
            .alias("__parent")
        )
        desc = ind.direction == "higher_better"
        ranked = f.with_columns(
            pl.when(
                pl.col("__parent").is_not_null()
                & pl.col("value").is_not_null()
                & pl.col("value").is_not_nan()
            )
            .then(pl.col("value"))
            .otherwise(None)
            .alias("__rv")
        ).with_columns(
            pl.col("__rv")
            .rank(method="min", descending=desc)
            .over(["period", "__parent"])
            .cast(pl.Int64)
            .alias("rank")
        )
        return (
            ranked.with_columns(pl.lit(ind.id).alias("indicator")).select(list(ROW_SCHEMA)).cast(ROW_SCHEMA)
        )


def _comp_name(c: Component) -> str:
    import hashlib

    return "c_" + hashlib.sha1(repr(c).encode()).hexdigest()[:10]


def _merge(col: pl.Expr, c: Component) -> pl.Expr:
    """Partials of one component merged: minima of minima, maxima of maxima, sums of the rest."""
    return col.min() if c.agg == "min" else col.max() if c.agg == "max" else col.sum()


def _side(roles: dict[str, Component], role: str, agg: str) -> pl.Expr:
    """One side's value from its components: a mean is sum / n; a count or sum of nothing is 0."""
    if agg == "mean":
        s, n = pl.col(_comp_name(roles[f"{role}.sum"])), pl.col(_comp_name(roles[f"{role}.n"]))
        return pl.when(n > 0).then(s / n).otherwise(None)
    c = roles[role]
    col = pl.col(_comp_name(c)).cast(pl.Float64)
    return col.fill_null(0.0) if c.agg in ("count", "count_col", "sum", "count_distinct") else col


def _value_expr(ind: spec.Indicator, roles: dict[str, Component]) -> pl.Expr:
    def side(role: str, agg: str) -> pl.Expr:
        return _side(roles, role, agg)

    m = ind.measure
    if isinstance(m, spec.CountMeasure):
        return side("v", "count")
    if isinstance(m, spec.ColumnMeasure):
        return side("v", m.type)
    assert isinstance(m, spec.RatioMeasure)
    num, den = side("num", m.numerator.agg), side("den", m.denominator.agg)
    return pl.when(den.is_not_null() & (den != 0)).then(num / den * m.scale).otherwise(None)


def _parts_expr(ind: spec.Indicator, roles: dict[str, Component]) -> tuple[pl.Expr, pl.Expr]:
    """Numerator and denominator of a ratio (before ``scale``) or a mean; nulls otherwise."""
    none = pl.lit(None, pl.Float64)
    m = ind.measure
    if isinstance(m, spec.RatioMeasure):
        return _side(roles, "num", m.numerator.agg), _side(roles, "den", m.denominator.agg)
    if isinstance(m, spec.ColumnMeasure) and m.type == "mean":
        return (
            pl.col(_comp_name(roles["v.sum"])).cast(pl.Float64).fill_null(0.0),
            pl.col(_comp_name(roles["v.n"])).cast(pl.Float64),
        )
    return none, none


def _status_expr(ind: spec.Indicator) -> pl.Expr:
    v = pl.col("value")
    valid = v.is_not_null() & v.is_not_nan()
    if ind.bands is not None:
        b = ind.bands
        return (
            pl.when(~valid)
            .then(None)
            .when(v < b.blue)
            .then(pl.lit("blue"))
            .when(v < b.lightblue)
            .then(pl.lit("lightblue"))
            .when(v < b.green)
            .then(pl.lit("green"))
            .when(v < b.yellow)
            .then(pl.lit("yellow"))
            .otherwise(pl.lit("red"))
        )
    if ind.thresholds is not None:
        t = ind.thresholds
        if ind.direction == "higher_better":
            return (
                pl.when(~valid)
                .then(None)
                .when(v >= t.green)
                .then(pl.lit("green"))
                .when(v >= t.yellow)
                .then(pl.lit("yellow"))
                .otherwise(pl.lit("red"))
            )
        return (
            pl.when(~valid)
            .then(None)
            .when(v <= t.green)
            .then(pl.lit("green"))
            .when(v <= t.yellow)
            .then(pl.lit("yellow"))
            .otherwise(pl.lit("red"))
        )
    return pl.lit(None, pl.String)


def resolve_target(target: spec.Target | None, region: str | None, year: str) -> float | None:
    """A region's own entry first, then the year's, then ``default`` (contract section 3)."""
    if target is None:
        return None
    if not isinstance(target, dict):
        return float(target)
    for key in (region, year, "default"):
        if key is not None and key in target:
            return float(target[key])
    return None


def _polars_expr(node: exp.Expression) -> pl.Expr:
    """A checked formula tree as a Polars expression; x / 0 is null."""
    if isinstance(node, exp.Paren):
        return _polars_expr(node.this)
    if isinstance(node, exp.Column):
        return pl.col(f"__in_{node.name}")
    if isinstance(node, exp.Literal):
        return pl.lit(float(node.this))
    if isinstance(node, exp.Neg):
        return -_polars_expr(node.this)
    if isinstance(node, exp.Abs):
        return _polars_expr(node.this).abs()
    if isinstance(node, exp.Round):
        digits = int(node.args["decimals"].this) if node.args.get("decimals") is not None else 0
        return _polars_expr(node.this).round(digits)
    left, right = _polars_expr(node.this), _polars_expr(node.expression)
    if isinstance(node, exp.Add):
        return left + right
    if isinstance(node, exp.Sub):
        return left - right
    if isinstance(node, exp.Mul):
        return left * right
    if isinstance(node, exp.Div):
        return pl.when(right != 0).then(left / right).otherwise(None)
    if isinstance(node, exp.Mod):
        return pl.when(right != 0).then(left % right).otherwise(None)
    raise ValueError(f"unsupported formula node {type(node).__name__}")


def rows_as_records(rows: pl.DataFrame) -> list[dict[str, object]]:
    """Rows as JSON-ready dicts with exactly the contract's fields; NaN becomes null."""
    out = []
    for r in rows.select(OUTPUT_COLUMNS).iter_rows(named=True):
        for k in ("value", "target", "yoy", "mom"):
            v = r[k]
            if v is not None and (math.isnan(v) or math.isinf(v)):
                r[k] = None
        out.append(r)
    return out
