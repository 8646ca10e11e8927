"""Frames for a domain's page: every indicator of one domain, at one region and up to one period.

The overview shows a few key indicators per domain; a domain's page shows all of them: a card
each, a trend each, and the regions in red or yellow. ``period=None`` means each indicator's
latest period (as on the overview); a period P means each indicator's latest period that ends
no later than P, so a quarterly figure in a monthly view is its last complete quarter and a
daily one is the last day of P.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import polars as pl

from . import periods
from .access import Scope
from .catalogue import spec
from .catalogue.load import Catalogue
from .catalogue.rules import grain_of
from .views import Card, card_of, top_region

HISTORY = 24  # periods in a trend chart and a card's history


def indicators_of(cat: Catalogue, scope: Scope, domain: str) -> list[spec.Indicator]:
    """The domain's indicators the user may see, in catalogue order (no domain reads 其他)."""
    return [i for i in cat.config.indicators if (i.domain or "其他") == domain and scope.sees_indicator(i)]


def main_grain(cat: Catalogue, inds: Sequence[spec.Indicator]) -> str:
    """The grain most of the indicators have (the period picker's grain); month on a tie or none."""
    count = Counter(grain_of(cat.indicators, i.id) or "month" for i in inds)
    if not count:
        return "month"
    best = max(count.values())
    return "month" if count.get("month") == best else count.most_common(1)[0][0]


def _region_rows(rows: pl.DataFrame, ids: Sequence[str], region: str | None) -> pl.DataFrame:
    keep = pl.col("indicator").is_in(list(ids)) & pl.col("department").is_null()
    keep = keep & (pl.col("region") == region if region is not None else pl.col("region").is_null())
    return rows.filter(keep)


def period_options(
    cat: Catalogue, rows: pl.DataFrame, scope: Scope, domain: str, region: str | None
) -> list[str]:
    """The periods of the domain's main grain that have data at ``region``, newest first."""
    inds = indicators_of(cat, scope, domain)
    grain = main_grain(cat, inds)
    ids = [i.id for i in inds if (grain_of(cat.indicators, i.id) or "month") == grain]
    mine = _region_rows(_domain_rows(cat, rows, scope, inds), ids, region)
    found = mine["period"].unique().to_list() if mine.height else []
    return sorted(found, key=periods.ordinal, reverse=True)


def _domain_rows(
    cat: Catalogue, rows: pl.DataFrame, scope: Scope, inds: Sequence[spec.Indicator]
) -> pl.DataFrame:
    """The scope's region rows of these indicators (one pass over the rows, not one per indicator),
    with the small groups of 敏感 sources hidden (:func:`metrics.masking.suppress_small`)."""
    from .masking import suppress_small

    ids = [i.id for i in inds]
    mine = scope.filter_rows(rows).filter(pl.col("indicator").is_in(ids) & pl.col("department").is_null())
    return suppress_small(mine, cat, scope)


def _up_to(frame: pl.DataFrame, period: str | None) -> pl.DataFrame:
    """Rows whose period ends no later than ``period`` (all of them for None or a bad period)."""
    if period is None or frame.height == 0:
        return frame
    try:
        limit = periods.end(period)
    except (periods.PeriodError, ValueError):
        return frame
    ends = {p: periods.end(p) <= limit for p in frame["period"].unique().to_list()}
    return frame.filter(pl.col("period").replace_strict(ends, default=False, return_dtype=pl.Boolean))


def _series(rows: pl.DataFrame, ind: spec.Indicator, region: str | None, period: str | None) -> pl.DataFrame:
    mine = _region_rows(rows, [ind.id], region)
    mine = _up_to(mine, period)
    if mine.height == 0:
        return mine
    order = {p: periods.ordinal(p) for p in mine["period"].unique().to_list()}
    return mine.with_columns(
        pl.col("period").replace_strict(order, return_dtype=pl.Int64).alias("__ord")
    ).sort("__ord")


def cards(
    cat: Catalogue,
    rows: pl.DataFrame,
    scope: Scope,
    domain: str,
    region: str | None,
    period: str | None = None,
) -> list[Card]:
    """A KPI card for every indicator of the domain that has data at ``region`` (default: the scope's top)."""
    inds = indicators_of(cat, scope, domain)
    rows = _domain_rows(cat, rows, scope, inds)
    region = region or top_region(cat, scope)
    out = []
    for ind in inds:
        mine = _series(rows, ind, region, period)
        if mine.height == 0:
            continue
        out.append(card_of(ind, mine, HISTORY))
    return out


def trends(
    cat: Catalogue,
    rows: pl.DataFrame,
    scope: Scope,
    domain: str,
    region: str | None,
    period: str | None = None,
    n: int = HISTORY,
) -> dict[str, pl.DataFrame]:
    """Per indicator id, its last ``n`` periods at ``region``: period, label, value, target, status (in time order)."""
    inds = indicators_of(cat, scope, domain)
    rows = _domain_rows(cat, rows, scope, inds)
    region = region or top_region(cat, scope)
    out: dict[str, pl.DataFrame] = {}
    for ind in inds:
        mine = _series(rows, ind, region, period).tail(n)
        if mine.height == 0:
            continue
        cumulative = ind.accumulate != "none"
        labels = {p: periods.label(p, cumulative=cumulative) for p in mine["period"].to_list()}
        out[ind.id] = mine.select(
            "period",
            pl.col("period").replace_strict(labels, return_dtype=pl.String).alias("label"),
            "value",
            "target",
            pl.col("status").fill_null("none"),
        )
    return out


def flagged(
    cat: Catalogue,
    rows: pl.DataFrame,
    scope: Scope,
    domain: str,
    region: str | None,
    period: str | None = None,
) -> pl.DataFrame:
    """The red and yellow cells (five-light: also blue and light blue) among ``region`` and every
    region under it, on the domain's indicators.

    Each indicator is taken at the period its card shows (its latest at ``region`` up to
    ``period``). Red (and blue) first, then in catalogue order, then by rank. Columns: indicator, name,
    region, region_name, period, period_label, value, unit, target, status, yoy.
    """
    inds = indicators_of(cat, scope, domain)
    rows = _domain_rows(cat, rows, scope, inds)
    region = region or top_region(cat, scope)
    if cat.tree is None or region is None or region not in cat.tree:
        return pl.DataFrame()
    under = [r for r in cat.tree.subtree(region) if scope.sees_region(r)]
    parts = []
    for k, ind in enumerate(inds):
        mine = _series(rows, ind, region, period)
        if mine.height == 0:
            continue
        shown = mine.row(-1, named=True)["period"]
        cells = rows.filter(
            (pl.col("indicator") == ind.id)
            & (pl.col("period") == shown)
            & pl.col("region").is_in(under)
            & pl.col("status").is_in(["red", "yellow", "blue", "lightblue"])  # five-light: 过冷/偏冷 too
        )
        if cells.height == 0:
            continue
        parts.append(
            cells.select(
                "indicator",
                pl.lit(ind.name).alias("name"),
                "region",
                "period",
                pl.lit(periods.label(shown, cumulative=ind.accumulate != "none")).alias("period_label"),
                "value",
                pl.lit(ind.unit or "").alias("unit"),
                "target",
                "status",
                "yoy",
                "rank",
                pl.lit(k).alias("__order"),
            )
        )
    if not parts:
        return pl.DataFrame()
    tree = cat.tree
    out = pl.concat(parts, how="vertical_relaxed")
    names = {r: tree.name(r) for r in out["region"].unique().to_list()}
    return (
        out.with_columns(pl.col("region").replace_strict(names, return_dtype=pl.String).alias("region_name"))
        .sort(
            [~pl.col("status").is_in(["red", "blue"]), "__order", pl.col("rank").is_null(), "rank"],
        )
        .drop("__order", "rank")
    )
