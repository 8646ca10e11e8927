"""Frames for the 指标详情 page: one indicator, one region, one period.

Pure functions over the catalogue, the engine rows and the user's scope; the
page (``pages/detail.py``) only draws what they return, so everything here is
tested without Streamlit.

::

    headline(cat, rows, scope, ind, region, period) -> Headline | None
    trend(cat, rows, scope, ind, region, period) -> pl.DataFrame
    anomaly_markers(cat, findings, ind, region, shown) -> pl.DataFrame
    outlook(cat, rows, scope, ind, region, period) -> Outlook | None
    outlook_band(outlook, trend_frame) -> pl.DataFrame
    child_breakdown(cat, rows, scope, ind, region, period) -> pl.DataFrame
    department_breakdown(cat, rows, scope, ind, region, period) -> pl.DataFrame
    changes(cat, rows, scope, ind, region, period, by) -> list[Change]
    definition(cat, ind, rows, stale, errors) -> list[tuple[str, str]]

Every function filters the rows through the scope first: a region outside it
is never named. A rank's denominator ("第 3 / 8 名") counts the siblings that
have a value without naming them, as contract section 9 allows.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import polars as pl

from . import periods
from .access import Scope
from .catalogue import spec
from .catalogue.load import Catalogue
from .format import fmt_change, fmt_value
from .lineage import source_location, sources_feeding
from .views import STATUS_COLOR, STATUS_LABEL

# the five-light scheme's meaning of each colour (contract section 10)
BAND_MEANING = {"blue": "过冷", "lightblue": "偏冷", "green": "正常", "yellow": "偏热", "red": "过热"}
KIND_LABEL = {"spike": "突增", "dip": "突降", "level_shift": "持续性变化", "trend_change": "趋势转折"}
GRAIN_WORD = {"day": "日", "week": "周", "month": "月", "quarter": "季度", "year": "年"}
AGG_WORD = {
    "count": "记录数",
    "sum": "求和",
    "mean": "平均值",
    "min": "最小值",
    "max": "最大值",
    "median": "中位数",
    "count_distinct": "去重计数",
}
SOURCE_KIND = {
    "csv": "CSV 文件",
    "parquet": "Parquet 文件",
    "excel": "Excel 表格",
    "duckdb": "DuckDB 数据库",
    "sql": "SQL 数据库",
    "http_json": "HTTP 接口（JSON）",
}
# how many periods the trend shows before the selected one, by grain
WINDOW = {"day": 120, "week": 104, "month": 36, "quarter": 16, "year": 15}
NO_STATUS_COLOR = "#607d8b"


# ----------------------------------------------------------------- small helpers


def cumulative(ind: spec.Indicator) -> bool:
    """累计值 (``accumulate: ytd | source``): no 环比, periods read 1-N月."""
    return ind.accumulate in ("ytd", "source")


def additive(ind: spec.Indicator) -> bool:
    """A count or a sum added up the tree: its children's values are parts of a whole (bars from 0)."""
    from .models.contribution import kind_of

    return kind_of(ind) == "additive"


def unit_of(ind: spec.Indicator) -> str:
    return (ind.unit or "").strip()


def period_label(ind: spec.Indicator, period: str) -> str:
    return periods.label(period, cumulative=cumulative(ind))


def status_text(ind: spec.Indicator, status: str | None) -> str:
    """``绿`` / ``红``; five-light indicators add the meaning: ``浅蓝（偏冷）``."""
    if not status:
        return "—" if ind.thresholds is not None or ind.bands is not None else "未设阈值"
    word = STATUS_LABEL.get(status, status)
    if ind.bands is not None and status in BAND_MEANING:
        return f"{word}（{BAND_MEANING[status]}）"
    return word


def grain(cat: Catalogue, ind_id: str) -> str:
    from .catalogue.rules import grain_of

    return grain_of(cat.indicators, ind_id) or "month"


def region_name(cat: Catalogue, region: str | None) -> str:
    if region is None or cat.tree is None:
        return "全部"
    return cat.tree.name(region)


def department_names(cat: Catalogue) -> dict[str, str]:
    return {d.id: d.name for d in cat.config.org.departments}


def parent_in_scope(cat: Catalogue, scope: Scope, region: str | None) -> str | None:
    """The region's parent when the user may see it ("返回上级"), else None."""
    if region is None or cat.tree is None or region not in cat.tree:
        return None
    parent = cat.tree.get(region).parent
    return parent if parent is not None and scope.sees_region(parent) else None


def breadcrumb(cat: Catalogue, scope: Scope, region: str | None) -> list[tuple[str, str]]:
    """(id, name) from the highest region in scope down to ``region``."""
    if region is None or cat.tree is None or region not in cat.tree:
        return []
    chain = [r for r in reversed(cat.tree.ancestors_or_self(region)) if scope.sees_region(r)]
    return [(r, cat.tree.name(r)) for r in chain]


def _at(region: str | None) -> pl.Expr:
    return pl.col("region").is_null() if region is None else pl.col("region") == region


def _f(v: Any) -> float | None:
    if v is None:
        return None
    x = float(v)
    return None if math.isnan(x) else x


def _date(period: str) -> dt.date:
    return periods.start(period)


def _mine(rows: pl.DataFrame, scope: Scope, ind_id: str, region: str | None) -> pl.DataFrame:
    """The region's own rows of one indicator (no department rows), oldest first."""
    if not scope.sees_region(region) and region is not None:
        return rows.clear()
    out = scope.filter_rows(rows).filter(
        (pl.col("indicator") == ind_id) & _at(region) & pl.col("department").is_null()
    )
    return out.sort(pl.col("period").map_elements(periods.ordinal, return_dtype=pl.Int64))


def region_periods(rows: pl.DataFrame, scope: Scope, ind_id: str, region: str | None) -> list[str]:
    """Periods the region has a row for, newest first (the period picker's options)."""
    mine = _mine(rows, scope, ind_id, region)
    return sorted(set(mine["period"].to_list()), key=periods.ordinal, reverse=True)


# ----------------------------------------------------------------- the headline


@dataclass(frozen=True)
class Headline:
    """What the metrics at the top of the page say, raw and formatted."""

    indicator: str
    name: str
    unit: str
    region: str | None
    region_name: str
    period: str
    period_label: str
    value: float | None
    target: float | None
    status: str | None
    yoy: float | None
    mom: float | None
    rank: int | None
    peers: int  # siblings (or departments) with a value in that period, self included
    cumulative: bool
    direction: str
    yoy_base: str | None  # the 同比 base period and its value
    yoy_base_value: float | None
    mom_base: str | None  # None for cumulative indicators (no 环比)
    mom_base_value: float | None
    status_word: str
    suppressed_text: str | None = None  # "<5": a group too small to show (metrics.masking.suppress_small)

    @property
    def value_text(self) -> str:
        return self.suppressed_text or fmt_value(self.value, self.unit)

    @property
    def target_text(self) -> str:
        return fmt_value(self.target, self.unit)

    @property
    def gap(self) -> float | None:
        """value − target, in the indicator's units (个百分点 for %)."""
        if self.value is None or self.target is None:
            return None
        return self.value - self.target

    @property
    def gap_text(self) -> str | None:
        """``-1.99个百分点`` / ``+0.5工作日``: how far from the target, signed."""
        return None if self.gap is None else _diff_text(self.gap, self.unit)

    @property
    def yoy_text(self) -> str:
        return fmt_change(self.yoy, self.unit)

    @property
    def mom_text(self) -> str:
        return fmt_change(self.mom, self.unit)

    @property
    def rank_text(self) -> str:
        if self.rank is None:
            return "—"
        return f"第 {self.rank} / {self.peers} 名"

    @property
    def status_color(self) -> str:
        return STATUS_COLOR.get(self.status or "", NO_STATUS_COLOR)


def headline(
    cat: Catalogue, rows: pl.DataFrame, scope: Scope, ind_id: str, region: str | None, period: str
) -> Headline | None:
    """The region's row for the period with its 同比/环比 bases and its rank among siblings."""
    ind = cat.indicators[ind_id]
    mine = _mine(rows, scope, ind_id, region)
    now = mine.filter(pl.col("period") == period)
    if now.height == 0:
        return None
    r = now.row(0, named=True)
    values = dict(zip(mine["period"].to_list(), mine["value"].to_list(), strict=True))
    yb = periods.year_ago(period)
    mb = None if cumulative(ind) else periods.previous(period)
    peers = 0
    if r["rank"] is not None and cat.tree is not None and region in cat.tree:
        parent = cat.tree.get(region).parent  # type: ignore[arg-type]
        sibs = cat.tree.children(parent) if parent is not None else (region,)
        # counted over every sibling (not only those in scope): a number, never a name
        peers = rows.filter(
            (pl.col("indicator") == ind_id)
            & (pl.col("period") == period)
            & pl.col("region").is_in(list(sibs))
            & pl.col("department").is_null()
            & _has_value(rows)
        ).height
    return Headline(
        indicator=ind_id,
        name=ind.name,
        unit=unit_of(ind),
        region=region,
        region_name=region_name(cat, region),
        period=period,
        period_label=period_label(ind, period),
        value=_f(r["value"]),
        target=_f(r["target"]),
        status=r["status"],
        yoy=_f(r["yoy"]),
        mom=None if cumulative(ind) else _f(r["mom"]),
        rank=r["rank"],
        peers=max(peers, r["rank"] or 0),
        cumulative=cumulative(ind),
        direction=ind.direction,
        yoy_base=yb,
        yoy_base_value=_f(values.get(yb)) if yb else None,
        mom_base=mb,
        mom_base_value=_f(values.get(mb)) if mb else None,
        status_word=status_text(ind, r["status"]),
        suppressed_text=r.get("suppressed_text"),
    )


def _has_value(frame: pl.DataFrame) -> pl.Expr:
    """A row with a value, or one whose value is hidden as a small group: both count among the ranked."""
    if "suppressed" in frame.columns:
        return pl.col("value").is_not_null() | pl.col("suppressed").fill_null(False)
    return pl.col("value").is_not_null()


def _texts(frame: pl.DataFrame, unit: str) -> list[str]:
    """Each row's value as shown: ``<5`` for a suppressed small group."""
    hidden = (
        frame["suppressed_text"].to_list() if "suppressed_text" in frame.columns else [None] * frame.height
    )
    return [h or fmt_value(v, unit) for v, h in zip(frame["value"].to_list(), hidden, strict=True)]


# ----------------------------------------------------------------- the trend


def trend(
    cat: Catalogue,
    rows: pl.DataFrame,
    scope: Scope,
    ind_id: str,
    region: str | None,
    period: str,
    window: int | None = None,
) -> pl.DataFrame:
    """The region's series up to ``period`` (the last ``window`` periods), for the chart.

    Columns: period, date (the period's first day), label (Chinese), value,
    value_text, target, status, status_text, color, selected.
    """
    ind = cat.indicators[ind_id]
    g = grain(cat, ind_id)
    n = window or WINDOW.get(g, 36)
    mine = _mine(rows, scope, ind_id, region)
    if mine.height == 0:
        return _empty_trend()
    end = periods.ordinal(period)
    keep = [p for p in mine["period"].to_list() if end - n < periods.ordinal(p) <= end]
    mine = mine.filter(pl.col("period").is_in(keep))
    unit = unit_of(ind)
    ps = mine["period"].to_list()
    statuses = mine["status"].to_list()
    return pl.DataFrame(
        {
            "period": ps,
            "date": [_date(p) for p in ps],
            "label": [period_label(ind, p) for p in ps],
            "value": mine["value"].to_list(),
            "value_text": _texts(mine, unit),
            "target": mine["target"].to_list(),
            "status": statuses,
            "status_text": [status_text(ind, s) for s in statuses],
            "color": [STATUS_COLOR.get(s or "", NO_STATUS_COLOR) for s in statuses],
            "selected": [p == period for p in ps],
        },
        schema=_TREND_SCHEMA,
    )


_TREND_SCHEMA = {
    "period": pl.String,
    "date": pl.Date,
    "label": pl.String,
    "value": pl.Float64,
    "value_text": pl.String,
    "target": pl.Float64,
    "status": pl.String,
    "status_text": pl.String,
    "color": pl.String,
    "selected": pl.Boolean,
}


def _empty_trend() -> pl.DataFrame:
    return pl.DataFrame(schema=_TREND_SCHEMA)


def anomaly_markers(
    cat: Catalogue,
    findings: Iterable[Mapping[str, Any]],
    ind_id: str,
    region: str | None,
    shown: Sequence[str] | None = None,
) -> pl.DataFrame:
    """The region's anomaly findings (department null), each with its one-sentence explanation.

    ``shown`` limits them to the periods the chart shows. Columns: period,
    date, label, kind, kind_label, observed, expected, explanation; newest first.
    """
    from .models.explain import explain_finding

    ind = cat.indicators[ind_id]
    keep = set(shown) if shown is not None else None
    out = []
    for f in findings:
        if f["indicator"] != ind_id or f.get("department") is not None or f["region"] != region:
            continue
        if keep is not None and f["period"] not in keep:
            continue
        try:
            sentence = explain_finding(f, ind, region_name(cat, region))
        except (ValueError, KeyError, TypeError):
            sentence = f"{period_label(ind, f['period'])}{KIND_LABEL.get(f['kind'], f['kind'])}"
        out.append(
            {
                "period": f["period"],
                "date": _date(f["period"]),
                "label": period_label(ind, f["period"]),
                "kind": f["kind"],
                "kind_label": KIND_LABEL.get(f["kind"], f["kind"]),
                "observed": float(f["observed"]),
                "expected": float(f["expected"]),
                "explanation": sentence,
            }
        )
    out.sort(key=lambda m: periods.ordinal(m["period"]), reverse=True)
    return pl.DataFrame(
        out,
        schema={
            "period": pl.String,
            "date": pl.Date,
            "label": pl.String,
            "kind": pl.String,
            "kind_label": pl.String,
            "observed": pl.Float64,
            "expected": pl.Float64,
            "explanation": pl.String,
        },
    )


def outlook(
    cat: Catalogue, rows: pl.DataFrame, scope: Scope, ind_id: str, region: str | None, period: str
) -> Any:
    """The year-end outlook as seen from ``period`` (history up to it), or None.

    Returns a :class:`metrics.models.forecast.Outlook` carrying its sentence
    ("按当前趋势，…年底预计为 …，达到 90% 目标的概率约 72%"). The target is the
    region's for that year.
    """
    from .engine import resolve_target
    from .models.forecast import forecast_year_end
    from .models.runner import regular

    ind = cat.indicators[ind_id]
    if ind.accumulate == "source" and unit_of(ind) != "%":
        # the model reads a published 累计 series as a cumulative growth rate (smooth, no season);
        # a cumulative level (1-3季度 GDP in 亿元) keeps growing to the year's end, which it would miss
        return None
    mine = _mine(rows, scope, ind_id, region).filter(pl.col("value").is_not_null())
    end = periods.ordinal(period)
    mine = mine.filter(
        pl.col("period").map_elements(lambda p: periods.ordinal(p) <= end, return_dtype=pl.Boolean)
    )
    if mine.height < 6:
        return None
    ps, x = regular(mine)
    target = resolve_target(ind.target, region, str(periods.year_of(ps[-1])))
    return forecast_year_end(
        x,
        ps,
        grain=grain(cat, ind_id),
        accumulate=ind.accumulate,
        direction=ind.direction,
        target=target,
        name=ind.name,
        unit=unit_of(ind),
    )


def outlook_band(outlook: Any, series: pl.DataFrame) -> pl.DataFrame:
    """A cone from the latest value to the year-end interval, for the chart (empty at horizon 0).

    Columns: date, label, lower, upper, mean.
    """
    schema = {
        "date": pl.Date,
        "label": pl.String,
        "lower": pl.Float64,
        "upper": pl.Float64,
        "mean": pl.Float64,
    }
    if outlook is None or outlook.horizon <= 0:
        return pl.DataFrame(schema=schema)
    seen = series.filter(pl.col("value").is_not_null())
    if seen.height == 0:
        return pl.DataFrame(schema=schema)
    last = seen.row(-1, named=True)
    cum = outlook.accumulate != "none"
    return pl.DataFrame(
        {
            "date": [last["date"], _date(outlook.period)],
            "label": [last["label"], periods.label(outlook.period, cumulative=cum)],
            "lower": [last["value"], outlook.lower],
            "upper": [last["value"], outlook.upper],
            "mean": [last["value"], outlook.mean],
        },
        schema=schema,
    )


# ----------------------------------------------------------------- breakdowns


_BREAKDOWN_SCHEMA = {
    "id": pl.String,
    "name": pl.String,
    "value": pl.Float64,
    "target": pl.Float64,
    "status": pl.String,
    "yoy": pl.Float64,
    "mom": pl.Float64,
    "rank": pl.Int64,
    "drill": pl.Boolean,
    "value_text": pl.String,
    "status_text": pl.String,
    "yoy_text": pl.String,
    "mom_text": pl.String,
    "rank_text": pl.String,
    "color": pl.String,
}


def _breakdown(
    ind: spec.Indicator,
    found: pl.DataFrame,
    key: str,
    ids: list[str],
    names: Mapping[str, str],
    drill: set[str],
    peers: int | None = None,
) -> pl.DataFrame:
    by_id = {r[key]: r for r in found.iter_rows(named=True)}
    unit = unit_of(ind)
    n = (
        peers
        if peers is not None
        else sum(1 for r in by_id.values() if r["value"] is not None or r.get("suppressed"))
    )
    out = []
    for i in ids:
        r = by_id.get(i, {})
        status = r.get("status")
        rank = r.get("rank")
        out.append(
            {
                "id": i,
                "name": names.get(i, i),
                "value": _f(r.get("value")),
                "target": _f(r.get("target")),
                "status": status,
                "yoy": _f(r.get("yoy")),
                "mom": None if cumulative(ind) else _f(r.get("mom")),
                "rank": rank,
                "drill": i in drill,
                "value_text": r.get("suppressed_text") or fmt_value(_f(r.get("value")), unit),
                "status_text": status_text(ind, status),
                "yoy_text": fmt_change(_f(r.get("yoy")), unit),
                "mom_text": "—" if cumulative(ind) else fmt_change(_f(r.get("mom")), unit),
                "rank_text": f"{rank}/{max(n, rank)}" if rank is not None else "—",
                "color": STATUS_COLOR.get(status or "", NO_STATUS_COLOR),
            }
        )
    frame = pl.DataFrame(out, schema=_BREAKDOWN_SCHEMA)
    # best first by rank; no rank (no value) last, in tree order
    return frame.with_row_index("__order").sort(["rank", "__order"], nulls_last=True).drop("__order")


def child_breakdown(
    cat: Catalogue, rows: pl.DataFrame, scope: Scope, ind_id: str, region: str | None, period: str
) -> pl.DataFrame:
    """The region's children in scope at ``period``: value, status, 同比, 环比, rank.

    Every child is listed, a child without a row with empty values; ``drill``
    says whether it has children of its own. Sorted by rank.
    """
    ind = cat.indicators[ind_id]
    if cat.tree is None or region is None or region not in cat.tree or not scope.sees_region(region):
        return pl.DataFrame(schema=_BREAKDOWN_SCHEMA)
    siblings = rows.filter(
        (pl.col("indicator") == ind_id)
        & (pl.col("period") == period)
        & pl.col("region").is_in(list(cat.tree.children(region)))
        & pl.col("department").is_null()
    )
    peers = siblings.filter(_has_value(siblings)).height  # the ranks' denominator: a count
    kids = [c for c in cat.tree.children(region) if scope.sees_region(c)]
    found = scope.filter_rows(siblings).filter(pl.col("region").is_in(kids))
    names = {c: cat.tree.name(c) for c in kids}
    drill = {c for c in kids if cat.tree.children(c)}
    return _breakdown(ind, found, "region", kids, names, drill, peers)


def shows_departments(
    cat: Catalogue, rows: pl.DataFrame, scope: Scope, ind_id: str, region: str | None
) -> bool:
    """Departments are shown at the root only, when the scope holds it and the indicator has department rows."""
    if not scope.departments or region != cat.root:
        return False
    return _has_dept_rows(rows, ind_id)


def _has_dept_rows(rows: pl.DataFrame, ind_id: str) -> bool:
    return rows.filter((pl.col("indicator") == ind_id) & pl.col("department").is_not_null()).height > 0


def department_breakdown(
    cat: Catalogue, rows: pl.DataFrame, scope: Scope, ind_id: str, region: str | None, period: str
) -> pl.DataFrame:
    """Departments at ``period`` (same columns as :func:`child_breakdown`); empty where not shown."""
    ind = cat.indicators[ind_id]
    if not shows_departments(cat, rows, scope, ind_id, region):
        return pl.DataFrame(schema=_BREAKDOWN_SCHEMA)
    found = scope.filter_rows(rows).filter(
        (pl.col("indicator") == ind_id) & (pl.col("period") == period) & pl.col("department").is_not_null()
    )
    found = found.filter(_at(region))
    names = department_names(cat)
    present = set(found["department"].to_list())
    ids = [d for d in names if d in present] + sorted(present - set(names))
    return _breakdown(ind, found, "department", ids, names, set())


# ----------------------------------------------------------------- who drove the change


@dataclass(frozen=True)
class Change:
    """One comparison (环比 or 同比) split over children or departments."""

    compare: str  # 环比 | 同比
    base: str
    base_label: str
    by: Literal["regions", "departments"]
    sentence: str  # explain_change's sentence
    decomposable: bool
    kind: str  # additive | ratio | none
    reason: str | None  # why it does not split, in Chinese
    change_text: str  # the parent's change, formatted
    rate_effect_text: str | None  # ratios and means: Σ rate effects, Σ mix effects
    mix_effect_text: str | None
    items: pl.DataFrame  # see _CONTRIB_SCHEMA; largest push first


_CONTRIB_SCHEMA = {
    "id": pl.String,
    "name": pl.String,
    "value_now": pl.Float64,
    "value_base": pl.Float64,
    "change": pl.Float64,
    "contribution": pl.Float64,
    "rate_effect": pl.Float64,
    "mix_effect": pl.Float64,
    "share": pl.Float64,
    "residual": pl.Boolean,
    "now_text": pl.String,
    "base_text": pl.String,
    "change_text": pl.String,
    "contribution_text": pl.String,
    "rate_text": pl.String,
    "mix_text": pl.String,
    "share_text": pl.String,
}


def _diff_text(d: float | None, unit: str) -> str:
    """A difference in the indicator's units: ``+1.4个百分点`` for %, ``-320件`` otherwise."""
    if d is None:
        return "—"
    if unit == "%":
        return fmt_change(d, "%")
    if round(d, 2) == 0:
        return fmt_value(0.0, unit)
    return ("+" if d > 0 else "-") + fmt_value(abs(d), unit)


def _reason(ind: spec.Indicator, b: Any) -> str | None:
    if b.decomposable:
        return None
    if b.change is None:
        return "缺少比较期数据，无法分解。"
    if ind.rollup != "sum":
        return "该指标各级数值为统计部门单独发布（不由下级汇总），变化无法按下级分解；下表列出各下级自身的变化供参考。"
    m = ind.measure
    if isinstance(m, spec.FormulaMeasure):
        what = "公式"
    elif isinstance(m, spec.RatioMeasure):
        what = f"{AGG_WORD.get(m.numerator.agg, m.numerator.agg)}与{AGG_WORD.get(m.denominator.agg, m.denominator.agg)}之比"
    else:
        what = AGG_WORD.get(m.type, m.type)
    if b.kind == "none":
        return f"该指标按{what}计算，变化无法按下级分解；下表列出各下级自身的变化供参考。"
    return "缺少分子、分母数据，无法分解；下表列出各下级自身的变化供参考。"


def _contribution_items(ind: spec.Indicator, b: Any) -> pl.DataFrame:
    unit = unit_of(ind)
    out = []
    for c in b.items:
        share = c.share_of_change
        out.append(
            {
                "id": c.id,
                "name": c.name,
                "value_now": c.value_now,
                "value_base": c.value_base,
                "change": c.change,
                "contribution": c.contribution,
                "rate_effect": c.rate_effect,
                "mix_effect": c.mix_effect,
                "share": share,
                "residual": c.is_residual,
                "now_text": fmt_value(c.value_now, unit),
                "base_text": fmt_value(c.value_base, unit),
                "change_text": _diff_text(c.change, unit),
                "contribution_text": _diff_text(c.contribution, unit),
                "rate_text": _diff_text(c.rate_effect, unit) if c.rate_effect is not None else "—",
                "mix_text": _diff_text(c.mix_effect, unit) if c.mix_effect is not None else "—",
                "share_text": "—" if share is None else f"{share * 100:.0f}%",
            }
        )
    frame = pl.DataFrame(out, schema=_CONTRIB_SCHEMA)
    sign = -1.0 if (b.change or 0.0) < 0 else 1.0
    key = "contribution" if b.decomposable else "change"
    # the largest push the way the parent moved first; those pushing against it last
    return frame.sort(pl.col(key) * sign, descending=True, nulls_last=True)


def top_contributors(items: pl.DataFrame, n: int = 8) -> pl.DataFrame:
    """The ``n`` items of a :class:`Change` that moved most either way, in their order."""
    size = pl.coalesce(pl.col("contribution"), pl.col("change")).abs()
    return (
        items.with_row_index("__i")
        .sort(size, descending=True, nulls_last=True)
        .head(n)
        .sort("__i")
        .drop("__i")
    )


def changes(
    cat: Catalogue,
    rows: pl.DataFrame,
    scope: Scope,
    ind_id: str,
    region: str | None,
    period: str,
    by: Literal["regions", "departments"] = "regions",
) -> list[Change]:
    """环比 (not for cumulative indicators) and 同比, each split over the region's children or departments.

    Empty when there is nothing to split over (a town without children;
    departments outside the root or the scope).
    """
    from .models.contribution import contributions
    from .models.explain import compare_word, explain_change

    ind = cat.indicators[ind_id]
    if region is None or not scope.sees_region(region):
        return []
    if by == "regions":
        if cat.tree is None or region not in cat.tree or not cat.tree.children(region):
            return []
        names: dict[str, str] = {}
    else:
        if not shows_departments(cat, rows, scope, ind_id, region):
            return []
        names = department_names(cat)
    bases = []
    if not cumulative(ind):
        bases.append(periods.previous(period))
    yb = periods.year_ago(period)
    if yb:
        bases.append(yb)
    visible = scope.filter_rows(rows).filter(pl.col("indicator") == ind_id)
    unit = unit_of(ind)
    out = []
    for base in bases:
        b = contributions(ind, visible, cat.tree, region, period, base, by, names=names)
        # a child region outside the scope is never named (scopes are whole subtrees, so this is a guard)
        kept = [i for i in b.items if i.is_residual or by == "departments" or scope.sees_region(i.id)]
        if len(kept) != len(b.items):
            b = replace(b, items=kept)
        if b.value_now is None and b.value_base is None:
            continue
        out.append(
            Change(
                compare=compare_word(period, base, cumulative(ind)),
                base=base,
                base_label=period_label(ind, base),
                by=by,
                sentence=explain_change(b, ind),
                decomposable=b.decomposable,
                kind=b.kind,
                reason=_reason(ind, b),
                change_text=_diff_text(b.change, unit),
                rate_effect_text=None if b.rate_effect is None else _diff_text(b.rate_effect, unit),
                mix_effect_text=None if b.mix_effect is None else _diff_text(b.mix_effect, unit),
                items=_contribution_items(ind, b),
            )
        )
    return out


# ----------------------------------------------------------------- the definition in words


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _side(side: spec.RatioSide) -> str:
    what = AGG_WORD.get(side.agg, side.agg)
    s = what if side.column is None else f"字段 {_code(side.column)} 的{what}"
    return s + (f"，条件 {_code(side.where)}" if side.where else "（全部记录）")


def formula_text(cat: Catalogue, ind: spec.Indicator) -> str:
    """The measure in words, its filters and expressions as code."""
    m = ind.measure
    if isinstance(m, spec.CountMeasure):
        return "记录数" + (f"，条件 {_code(m.where)}" if m.where else "（全部记录）")
    if isinstance(m, spec.ColumnMeasure):
        s = f"字段 {_code(m.column)} 的{AGG_WORD.get(m.type, m.type)}"
        return s + (f"，条件 {_code(m.where)}" if m.where else "")
    if isinstance(m, spec.RatioMeasure):
        scale = f" × {m.scale:g}" if m.scale != 1 else ""
        return f"分子 ÷ 分母{scale}。分子：{_side(m.numerator)}；分母：{_side(m.denominator)}"
    inputs = "；".join(
        f"{_code(k)} = {cat.indicators[v].name if v in cat.indicators else v}（{v}）"
        for k, v in m.inputs.items()
    )
    return f"公式 {_code(m.expr)}，其中 {inputs}"


def _target_text(cat: Catalogue, ind: spec.Indicator) -> str:
    unit = unit_of(ind)
    t = ind.target
    if t is None:
        return "未设定"
    if not isinstance(t, dict):
        return fmt_value(float(t), unit)
    parts = []
    if "default" in t:
        parts.append(f"默认 {fmt_value(float(t['default']), unit)}")
    for k, v in t.items():
        if k == "default":
            continue
        who = f"{k}年" if len(k) == 4 and k.isdigit() else region_name(cat, k)
        parts.append(f"{who} {fmt_value(float(v), unit)}")
    return "；".join(parts)


def thresholds_text(ind: spec.Indicator) -> str:
    unit = unit_of(ind)

    def v(x: float) -> str:
        return fmt_value(float(x), unit)

    if ind.bands is not None:
        b = ind.bands
        return (
            f"蓝（过冷）< {v(b.blue)}；浅蓝（偏冷）{v(b.blue)}–{v(b.lightblue)}；"
            f"绿（正常）{v(b.lightblue)}–{v(b.green)}；黄（偏热）{v(b.green)}–{v(b.yellow)}；"
            f"红（过热）≥ {v(b.yellow)}"
        )
    if ind.thresholds is not None:
        t = ind.thresholds
        if ind.direction == "lower_better":
            return f"绿 ≤ {v(t.green)}；黄 ≤ {v(t.yellow)}；红 > {v(t.yellow)}"
        return f"绿 ≥ {v(t.green)}；黄 ≥ {v(t.yellow)}；红 < {v(t.yellow)}"
    return "未设定（不判定红黄绿）"


def freshness(
    cat: Catalogue,
    ind: spec.Indicator,
    rows: pl.DataFrame,
    stale: Mapping[str, str],
    errors: Sequence[str] = (),
) -> tuple[bool, str]:
    """(fresh, words): is the indicator's data current, and why not."""
    srcs = sorted(sources_feeding(cat, ind))
    mine = rows.filter(pl.col("indicator") == ind.id)
    late = [s for s in srcs if s in stale]
    failed = [s for s in srcs if any(s in e for e in errors)]
    if mine.height == 0:
        which = "、".join(failed or srcs) or "数据源"
        return False, f"未取得数据（{which} 读取失败或没有记录，见页首提示）"
    last = max(mine["period"].unique().to_list(), key=periods.ordinal)
    latest = f"最新数据期 {period_label(ind, last)}"
    if late:
        return False, f"数据滞后：{'；'.join(f'{s}（{stale[s]}）' for s in late)}；{latest}"
    if failed:
        return False, f"数据源 {'、'.join(failed)} 本次读取有误，数值可能不是最新；{latest}"
    return True, f"正常，{latest}"


def definition(
    cat: Catalogue,
    ind_id: str,
    rows: pl.DataFrame,
    stale: Mapping[str, str],
    errors: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """The indicator's definition as (label, markdown) pairs, in reading order."""
    ind = cat.indicators[ind_id]
    g = grain(cat, ind_id)
    srcs = sorted(sources_feeding(cat, ind))
    formula = isinstance(ind.measure, spec.FormulaMeasure)
    src_parts = []
    for s in srcs:
        src = cat.config.sources.get(s)
        if src is None:
            src_parts.append(_code(s))
            continue
        kind = SOURCE_KIND.get(src.type, src.type)
        name = f"，{src.name}" if src.name else ""
        where = f"，{_code(source_location(src))}" if source_location(src) else ""  # URLs masked
        lag = f"，预期滞后不超过 {src.expected_lag}" if src.expected_lag else ""
        src_parts.append(f"{_code(s)}（{kind}{name}{where}{lag}）")
    via = "（经公式输入）" if formula else ""
    dims = ["与输入指标相同"] if formula else []
    if ind.region:
        dims.append(f"地区（字段 {_code(ind.region)}）")
    if ind.department:
        dims.append(f"部门（字段 {_code(ind.department)}）")
    time = f"，时间字段 {_code(ind.time.column)}" if ind.time else ""
    accumulate = {
        "none": "当期值",
        "ytd": "年初至今累计（由系统逐月累计；只比同比，不比环比）",
        "source": "数据源即为累计值（1-N月；只比同比，不比环比）",
    }[ind.accumulate]
    rollup = "由本级及全部下级的原始记录汇总" if ind.rollup == "sum" else "各级采用本级发布值，不由下级汇总"
    if formula:
        rollup = "各级由输入指标的同级数值按公式计算"
    _, words = freshness(cat, ind, rows, stale, errors)
    out = [
        ("指标", f"{ind.name}（{_code(ind.id)}）"),
        ("领域", ind.domain or "其他"),
        ("说明", ind.description or "—"),
        ("单位", ind.unit or "—"),
        ("计算口径", formula_text(cat, ind)),
        ("数据来源", "、".join(src_parts) + via if src_parts else "—"),
        ("责任部门", cat.department_name(ind.owner) if ind.owner else "未指定"),
        ("统计周期", f"按{GRAIN_WORD.get(g, g)}{time}"),
        ("统计维度", "、".join(dims) if dims else "仅全域"),
        ("累计方式", accumulate),
        ("汇总方式", rollup),
        ("方向", "越高越好" if ind.direction == "higher_better" else "越低越好"),
        ("目标", _target_text(cat, ind)),
        ("红黄绿" if ind.bands is None else "景气信号灯", thresholds_text(ind)),
        ("数据状态", words),
    ]
    if ind.alerts:
        rules = "；".join(
            f"{_code(a.when)} → {'特别呈报' if a.level == 'special' else '数据通报'}" for a in ind.alerts
        )
        out.append(("预警规则", rules))
    return out
