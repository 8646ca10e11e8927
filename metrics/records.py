"""明细: the latest source records behind one indicator × region × period, masked.

One query, pushed down to the indicator's source through its connector::

    SELECT <columns> FROM <relation>
    WHERE <time in the period>
      AND <region code in the region's subtree, within the scope>
      AND <the indicator's where, if any>
    ORDER BY <time> DESC LIMIT n

written in DuckDB's dialect with :class:`metrics.query.QueryBuilder`'s
expressions (time keys, region codes as text, checked ``where`` trees) and
transpiled by sqlglot to the source's dialect. At most ``limit`` records come
back into Python; the source is never read whole.

Scope is applied here, below the page: an indicator or a region the user may
not see gives an empty view, exactly like one without records. Columns
classified 敏感 are masked (:mod:`metrics.masking`) unless ``unmask`` is asked
AND the user holds the ``unmask`` grant; each unmasked view is written to the
audit log before it is returned. An unmask request without the grant falls
back to the masked view (``note`` says so) and is audited as refused.

Examples
--------
>>> view = records(cat, "hotline_calls", "130302", "2026-11-28", scope)  # doctest: +SKIP
>>> view.frame.select("caller_name", "caller_phone").head(2)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from connectors import SourceError
from connectors.base import quote_ident as _q
from connectors.base import sql_string as _lit

from . import audit, masking, periods
from .access import Scope
from .catalogue import spec
from .catalogue.load import Catalogue
from .engine import open_connector
from .query import PLACEHOLDER, QueryBuilder, render_for

DEFAULT_LIMIT = 200
MAX_LIMIT = 5000


@dataclass(frozen=True)
class RecordsView:
    """What a 明细 section shows: the records, which columns are masked, and how they were read."""

    indicator: str
    source: str | None
    region: str | None
    period: str
    frame: pl.DataFrame
    masks: dict[str, str] = field(default_factory=dict)  # column → mask of every 敏感 column
    unmasked: bool = False  # True only when the grant holder asked and the view was audited
    note: str | None = None  # why the view is empty or masked against the request
    sql: str | None = None  # the query sent to the source
    limit: int = DEFAULT_LIMIT
    classification: str = "内部"

    @property
    def rows(self) -> int:
        return self.frame.height

    @property
    def masked(self) -> list[str]:
        """Columns shown masked in :attr:`frame`."""
        return [] if self.unmasked else [c for c in self.masks if c in self.frame.columns]

    @property
    def maybe_more(self) -> bool:
        """The limit was reached: older records of the period exist or may exist."""
        return self.frame.height >= self.limit


def _empty(
    ind_id: str, source: str | None, region: str | None, period: str, note: str, **kw: Any
) -> RecordsView:
    return RecordsView(ind_id, source, region, period, pl.DataFrame(), note=note, **kw)


def _key_literal(k: object) -> str:
    if isinstance(k, bool):
        return "TRUE" if k else "FALSE"
    if isinstance(k, int | float):
        return str(int(k))
    return _lit(str(k))


def _first_day(ind: spec.Indicator, period: str) -> dt.date:
    """Where the records of ``period`` start: the period's first day; January 1st for a year-to-date sum."""
    first = periods.start(period)
    if ind.accumulate == "ytd":
        year = periods.year_of(period)
        jan = periods.start(f"{year}-W01") if periods.grain_of(period) == "week" else dt.date(year, 1, 1)
        first = min(first, jan)
    return first


def _time_filter(qb: QueryBuilder, con: Any, ind: spec.Indicator, period: str) -> str:
    """The period as a condition on the time column, in DuckDB's dialect."""
    assert ind.time is not None
    col = ind.time.column
    lo, hi = _first_day(ind, period), periods.end(period) + dt.timedelta(days=1)
    if qb.kind(col) in ("date", "timestamp"):
        ts = f"CAST({_q(qb.real(col))} AS TIMESTAMP)"
        return (
            f"{ts} >= CAST({_lit(lo.isoformat() + ' 00:00:00')} AS TIMESTAMP) "
            f"AND {ts} < CAST({_lit(hi.isoformat() + ' 00:00:00')} AS TIMESTAMP)"
        )
    # years as numbers, dates and periods as text: the distinct keys (a few thousand at most) are
    # read once and placed in periods the way the engine places them
    key = qb.time_key(col, ind.time.grain)
    sql = render_for(qb.finish(f"SELECT DISTINCT {key} AS k FROM {_q(PLACEHOLDER)}"), con.relation())
    g = periods.grain_of(period)
    keep = []
    for k in con.fetch(sql)["k"].to_list():
        if k is None:
            continue
        try:
            p = periods.to_period(k, g)
        except periods.PeriodError:
            continue
        if p == period or (
            ind.accumulate == "ytd"
            and periods.year_of(p) == periods.year_of(period)
            and periods.ordinal(p) <= periods.ordinal(period)
        ):
            keep.append(k)
    if not keep:
        return "FALSE"
    return f"{key} IN ({', '.join(_key_literal(k) for k in keep)})"


def _region_codes(
    cat: Catalogue, scope: Scope, ind: spec.Indicator, region: str | None
) -> list[str] | None | bool:
    """Region codes the records may carry: a list; None for no condition (everything); False for nothing."""
    tree = cat.tree
    if tree is None:
        return None if scope.regions is None else False
    if region is None:
        region = tree.root
    if region not in tree or not scope.sees_region(region):
        return False
    if ind.region is None:
        # records without a region column belong to the root alone
        return None if region == tree.root else False
    if region == tree.root:
        # the root counts every record, unknown codes included (as the engine does)
        return None
    return [r for r in tree.subtree(region) if scope.sees_region(r)]


def _where_of(ind: spec.Indicator) -> str | None:
    """The records an indicator counts: a count's or column's ``where``; a ratio's denominator's."""
    m = ind.measure
    if isinstance(m, spec.CountMeasure | spec.ColumnMeasure):
        return m.where
    if isinstance(m, spec.RatioMeasure):
        return m.denominator.where
    return None


def records_sql(
    qb: QueryBuilder,
    con: Any,
    cat: Catalogue,
    scope: Scope,
    ind: spec.Indicator,
    region: str | None,
    period: str,
    limit: int,
) -> tuple[str, list[str]] | None:
    """The records query in the source's dialect and its columns; None when the scope allows nothing."""
    assert ind.time is not None
    codes = _region_codes(cat, scope, ind, region)
    if codes is False:
        return None
    names = list(qb.columns)
    first = [qb.real(c) for c in (ind.time.column, ind.region, ind.department) if c]
    cols = list(dict.fromkeys([c for c in first if c in qb.columns] + names))
    conds = [_time_filter(qb, con, ind, period)]
    if isinstance(codes, list):
        assert ind.region is not None
        conds.append(f"{qb.code(ind.region)} IN ({', '.join(_lit(c) for c in codes)})")
    where = _where_of(ind)
    if where:
        conds.append(f"({qb.where_sql(where)})")
    sql = (
        f"SELECT {', '.join(_q(c) for c in cols)} FROM {_q(PLACEHOLDER)} "
        f"WHERE {' AND '.join(conds)} "
        f"ORDER BY {_q(qb.real(ind.time.column))} DESC LIMIT {int(limit)}"
    )
    return render_for(qb.finish(sql), con.relation()), cols


def _release(con: Any) -> None:
    """Close a connector, but leave an embedded source's shared view in place.

    Dropping ``src_<id>`` from the process-wide DuckDB could pull it from under
    an engine run of another session that opened it a moment ago.
    """
    from connectors.embedded import EmbeddedConnector

    if isinstance(con, EmbeddedConnector) and type(con).close is EmbeddedConnector.close:
        return
    con.close()


def _who(scope: Scope) -> str | None:
    return scope.user.id if scope.user is not None else None


def records(
    cat: Catalogue,
    indicator: str,
    region: str | None,
    period: str,
    scope: Scope,
    limit: int = DEFAULT_LIMIT,
    unmask: bool = False,
) -> RecordsView:
    """The latest ``limit`` records of ``indicator`` in ``region`` (and below) during ``period``.

    Masked unless ``unmask`` and the user holds the ``unmask`` grant; an
    unmasked view is audited (``unmask``) before it is returned, and is
    refused (masked) if the audit log cannot be written.
    """
    limit = max(1, min(int(limit), MAX_LIMIT))
    ind = cat.indicators.get(indicator)
    if ind is None or not scope.sees_indicator(ind):
        return _empty(indicator, None, region, period, "指标不存在或不在您的权限范围内", limit=limit)
    if ind.source is None or ind.time is None or ind.source not in cat.config.sources:
        return _empty(
            indicator, ind.source, region, period, "该指标由其他指标计算得出，没有明细记录", limit=limit
        )
    src = cat.config.sources[ind.source]
    klass = src.classification

    def empty(why: str) -> RecordsView:
        return _empty(indicator, ind.source, region, period, why, limit=limit, classification=klass)

    try:
        periods.grain_of(period)
    except periods.PeriodError:
        return empty(f"期间 {period} 无法识别")
    root = cat.tree.root if cat.tree is not None else None
    if (
        ind.region is None
        and cat.tree is not None
        and region in cat.tree
        and region != root
        and scope.sees_region(region)
    ):
        return empty("该指标只有全市数据，没有分地区的明细")
    if _region_codes(cat, scope, ind, region) is False:
        return empty("地区不存在或不在您的权限范围内")

    try:
        con = open_connector(cat, ind.source)
    except SourceError as e:
        return empty(f"数据源无法读取：{e.message}")
    try:
        qb = QueryBuilder(con.columns(), con.dialect)
        built = records_sql(qb, con, cat, scope, ind, region, period, limit)
        if built is None:
            return empty("地区不存在或不在您的权限范围内")
        sql, cols = built
        frame = con.fetch(sql)
    except SourceError as e:
        return empty(f"数据源无法读取：{e.message}")
    finally:
        _release(con)

    masks = masking.masks_for(cat, ind.source, frame.columns or cols)
    note = None
    shown_in_full = False
    if unmask and masks:
        if not masking.has_grant(scope, "unmask"):
            note = "您没有查看完整信息的权限，已脱敏显示。"
            audit.try_record(
                cat,
                "unmask",
                _who(scope),
                outcome="refused",
                indicator=indicator,
                source=ind.source,
                columns=list(masks),
                region=region,
                period=period,
            )
        else:
            try:
                audit.record(
                    cat,
                    "unmask",
                    _who(scope),
                    outcome="shown",
                    indicator=indicator,
                    source=ind.source,
                    columns=list(masks),
                    region=region,
                    period=period,
                    rows=frame.height,
                )
                shown_in_full = True
            except audit.AuditError:
                note = "审计日志暂时无法写入，未显示完整信息。"
    if not shown_in_full:
        frame = masking.mask_frame(frame, masks)
    return RecordsView(
        indicator,
        ind.source,
        region,
        period,
        frame,
        masks=masks,
        unmasked=shown_in_full,
        note=note,
        sql=sql,
        limit=limit,
        classification=klass,
    )


# ----------------------------------------------------------------- what the page shows and exports


def table(cat: Catalogue, view: RecordsView) -> pl.DataFrame:
    """The records as shown: the region's name beside its code."""
    frame = view.frame
    ind = cat.indicators.get(view.indicator)
    rcol = ind.region if ind is not None else None
    real = next((c for c in frame.columns if rcol and c.lower() == rcol.lower()), None)
    if real is None or cat.tree is None or frame.height == 0 or "地区名称" in frame.columns:
        return frame
    tree = cat.tree
    names = pl.Series(
        "地区名称",
        [tree.name(str(v).strip()) if v is not None else None for v in frame[real].to_list()],
        pl.String,
    )
    pos = frame.columns.index(real) + 1
    order = [*frame.columns[:pos], "地区名称", *frame.columns[pos:]]
    return frame.with_columns(names).select(order)


def export_title(cat: Catalogue, view: RecordsView) -> str:
    ind = cat.indicators[view.indicator]
    where = cat.tree.name(view.region or cat.tree.root) if cat.tree is not None else "全部"
    label = periods.label(view.period, cumulative=ind.accumulate != "none")
    return f"{ind.name} · {where} · {label} · 明细（最新 {view.rows} 条，已脱敏）"


def to_csv_bytes(cat: Catalogue, view: RecordsView) -> bytes:
    """Exactly the rows of the view, masked whatever the screen shows (UTF-8 with BOM, for Excel)."""
    from .rankings import to_csv_bytes as csv_bytes

    masked = view if not view.unmasked else _remasked(view)
    notes = [f"个人信息已脱敏：{', '.join(masked.masks)}"] if masked.masks else []
    return csv_bytes(table(cat, masked), export_title(cat, masked), notes)


def _remasked(view: RecordsView) -> RecordsView:
    from dataclasses import replace

    return replace(view, frame=masking.mask_frame(view.frame, view.masks), unmasked=False)


def export_details(view: RecordsView, fmt: str = "csv") -> dict[str, Any]:
    """What the audit log keeps of a 明细 export: which view, how many rows, never their content."""
    return {
        "what": "records",
        "indicator": view.indicator,
        "source": view.source,
        "region": view.region,
        "period": view.period,
        "rows": view.rows,
        "format": fmt,
        "masked": True,
    }
