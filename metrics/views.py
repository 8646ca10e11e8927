"""Frames the pages draw. Pages ask here; they never talk to a connector."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from . import periods
from .access import Scope
from .catalogue import spec
from .catalogue.load import Catalogue, load_catalogue
from .engine import Engine, Result

STATUS_LABEL = {"green": "绿", "yellow": "黄", "red": "红", "lightblue": "浅蓝", "blue": "蓝"}
STATUS_COLOR = {
    "green": "#2e7d32",
    "yellow": "#f9a825",
    "red": "#c62828",
    "lightblue": "#4fc3f7",
    "blue": "#1565c0",
}


def default_config() -> Path:
    """``COCKPIT_CONFIG``, else ``indicators.yaml`` beside ``app.py``."""
    env = os.environ.get("COCKPIT_CONFIG")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "indicators.yaml"


def load(path: Path | None = None) -> Catalogue:
    return load_catalogue(path or default_config())


def compute_all(cat: Catalogue, now: dt.datetime | None = None) -> Result:
    return Engine(cat, now=now).compute()


@dataclass(frozen=True)
class Card:
    indicator: str
    name: str
    domain: str
    unit: str
    period: str
    period_label: str
    value: float | None
    target: float | None
    status: str | None
    yoy: float | None
    mom: float | None
    direction: str
    history: list[float | None]


def key_indicators(cat: Catalogue, per_domain: int = 3) -> list[spec.Indicator]:
    """Per domain, the indicators marked ``key: true``, else the first few with a target."""
    by_domain: dict[str, list[spec.Indicator]] = {}
    for ind in cat.config.indicators:
        by_domain.setdefault(ind.domain or "其他", []).append(ind)
    out = []
    for inds in by_domain.values():
        marked = [i for i in inds if i.key]
        chosen = marked or sorted(
            inds, key=lambda i: i.target is None and i.thresholds is None and i.bands is None
        )
        out.extend(chosen[:per_domain])
    return out


def cards(
    cat: Catalogue,
    rows: pl.DataFrame,
    scope: Scope,
    region: str | None = None,
    period: str | None = None,
    domain: str | None = None,
) -> list[Card]:
    """KPI cards: each key indicator's latest period (or ``period`` and before) for one region.

    ``region`` defaults to the scope's top; a region outside the scope shows nothing.
    """
    from .masking import suppress_small

    rows = suppress_small(scope.filter_rows(rows), cat, scope)  # small groups of 敏感 sources stay hidden
    region = region or top_region(cat, scope)
    out = []
    for ind in key_indicators(cat):
        if not scope.sees_indicator(ind) or (domain and ind.domain != domain):
            continue
        mine = rows.filter(
            (pl.col("indicator") == ind.id) & (pl.col("region") == region) & pl.col("department").is_null()
        ).sort("period")
        if period:
            try:
                limit = periods.end(period)
            except (periods.PeriodError, ValueError):
                limit = None
            if limit is not None:
                ends = {p: periods.end(p) <= limit for p in mine["period"].unique().to_list()}
                mine = mine.filter(
                    pl.col("period").replace_strict(ends, default=False, return_dtype=pl.Boolean)
                )
        if mine.height == 0:
            continue
        out.append(card_of(ind, mine, 24))
    return out


def card_of(ind: spec.Indicator, series: pl.DataFrame, history: int) -> Card:
    """The card of an indicator's series (rows in time order): its last row, and the last
    ``history`` values for the sparkline."""
    last = series.row(-1, named=True)
    return Card(
        ind.id,
        ind.name,
        ind.domain or "其他",
        ind.unit or "",
        last["period"],
        periods.label(last["period"], cumulative=ind.accumulate != "none"),
        last["value"],
        last["target"],
        last["status"],
        last["yoy"],
        last["mom"],
        ind.direction,
        series.tail(history)["value"].to_list(),
    )


def top_region(cat: Catalogue, scope: Scope) -> str | None:
    """The highest region the scope sees (the root for the open demo)."""
    if cat.tree is None:
        return None
    if scope.regions is None or cat.tree.root in scope.regions:
        return cat.tree.root
    for r in cat.tree:
        if r.id in scope.regions:
            return r.id
    return None


def status_counts(
    cat: Catalogue, rows: pl.DataFrame, scope: Scope, region: str | None = None
) -> dict[str, int]:
    """How many indicators are red / yellow / green at their latest period, for one region (default: the top)."""
    region = region or top_region(cat, scope)
    seen = [i.id for i in cat.config.indicators if scope.sees_indicator(i)]  # the user's domains only
    latest = (
        scope.filter_rows(rows)
        .filter(
            (pl.col("region") == region) & pl.col("department").is_null() & pl.col("indicator").is_in(seen)
        )
        .sort("period")
        .group_by("indicator")
        .last()
    )
    counts = latest.group_by("status").len()
    return {s: n for s, n in counts.iter_rows() if s}


def movers(cat: Catalogue, rows: pl.DataFrame, scope: Scope, n: int = 5) -> pl.DataFrame:
    """The largest 同比 moves among regions at each indicator's latest period."""
    seen = [i.id for i in cat.config.indicators if scope.sees_indicator(i)]  # the user's domains only
    from .masking import suppress_small

    rows = suppress_small(scope.filter_rows(rows), cat, scope).filter(
        pl.col("department").is_null() & pl.col("yoy").is_not_null() & pl.col("indicator").is_in(seen)
    )
    latest = rows.group_by("indicator").agg(pl.col("period").max().alias("__last"))
    cur = rows.join(latest, on="indicator").filter(pl.col("period") == pl.col("__last"))
    names = {i.id: i.name for i in cat.config.indicators}
    units = {i.id: i.unit or "" for i in cat.config.indicators}
    cur = cur.with_columns(
        pl.col("indicator").replace_strict(names, default="").alias("指标"),
        pl.col("indicator").replace_strict(units, default="").alias("unit"),
        pl.col("region")
        .map_elements(lambda r: cat.tree.name(r) if cat.tree else r, return_dtype=pl.String)
        .alias("地区"),
    )
    return cur.sort(pl.col("yoy").abs(), descending=True).head(n)


def outlooks(
    cat: Catalogue,
    rows: pl.DataFrame,
    scope: Scope,
    region: str | None = None,
    indicators: list[spec.Indicator] | None = None,
) -> list[tuple[spec.Indicator, object]]:
    """Year-end outlooks (``metrics.models.forecast.Outlook``) of the key indicators that have a target.

    Each: the forecast for the year's last period with its 90 % interval and
    the probability of reaching that year's target, for one region (default:
    the scope's top). Indicators with too little history are left out.
    """
    region = region or top_region(cat, scope)
    rows = scope.filter_rows(rows)
    out: list[tuple[spec.Indicator, object]] = []
    for ind in indicators if indicators is not None else key_indicators(cat):
        if ind.target is None or not scope.sees_indicator(ind):
            continue
        mine = rows.filter(
            (pl.col("indicator") == ind.id)
            & (pl.col("region") == region)
            & pl.col("department").is_null()
            & pl.col("value").is_not_null()
        )
        if mine.height < 6:
            continue
        outlook = outlook_of(cat, ind, mine, region)
        if outlook is not None:
            out.append((ind, outlook))
    return out


def outlook_of(cat: Catalogue, ind: spec.Indicator, series: pl.DataFrame, region: str | None) -> Any:
    """The year-end outlook of one series of ``ind`` at ``region`` (rows with period and value),
    against that region's target for the series' last year; None when it cannot be made."""
    from .catalogue.rules import grain_of
    from .engine import resolve_target
    from .models.forecast import forecast_year_end
    from .models.runner import regular

    ps, x = regular(series)
    return forecast_year_end(
        x,
        ps,
        grain=grain_of(cat.indicators, ind.id) or "month",
        accumulate=ind.accumulate,
        direction=ind.direction,
        target=resolve_target(ind.target, region, str(periods.year_of(ps[-1]))),
        name=ind.name,
        unit=ind.unit or "",
    )


def latest_alerts(cat: Catalogue, scope: Scope, n: int = 5) -> list[object]:
    """The newest 特别呈报 in the user's scope (``alerts.inbox.Item``), firing first."""
    from alerts.inbox import items
    from alerts.run import default_state_path

    try:
        found = items(cat, default_state_path(cat), scope, level="special")
    except Exception:  # the inbox's state file is optional on a fresh install
        return []
    firing = [i for i in found if i.state == "firing"]
    rest = [i for i in found if i.state != "firing"]
    return (firing + rest)[:n]
