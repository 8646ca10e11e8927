"""Data health (数据健康): per source, how fresh, how big, what went wrong, and what it feeds.

Everything here reads what one engine run already produced (the rows, with
their internal ``records`` column, and the run's warnings, errors and stale
sources); nothing reaches a source again, and no record is loaded into Python.
A "result-like" object is anything with ``rows``, ``warnings``, ``errors`` and
``stale`` (:class:`metrics.engine.Result`, or the pages' cached ``Data``);
``failed`` and ``latest`` are used when present and derived otherwise.

Examples
--------
>>> res = Engine(cat).compute()  # doctest: +SKIP
>>> source_health(cat, res).select("source", "freshness", "records")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from . import periods
from .access import OPEN, Scope
from .catalogue import spec
from .catalogue.load import Catalogue
from .lineage import SOURCE_TYPE_LABEL, mask_text, source_location, sources_feeding

FRESH, LATE, FAILED, EMPTY = "正常", "滞后", "失败", "无数据"
_SOURCE_IN = re.compile(r"source '([^']+)'")
_INDICATOR_IN = re.compile(r"indicator '([^']+)'")
_FILE_LINE = re.compile(r":\d+: source '")


@dataclass(frozen=True)
class RunNotes:
    """The parts of a run that health reads, with ``failed`` and ``latest`` filled in."""

    rows: pl.DataFrame
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stale: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # indicator id → why
    latest: dict[str, str] = field(default_factory=dict)  # source id → latest period


def notes_of(cat: Catalogue, result: Any) -> RunNotes:
    """Normalise a result-like object; ``failed`` and ``latest`` are derived when it lacks them."""
    if isinstance(result, RunNotes):
        return result
    rows: pl.DataFrame = result.rows
    errors = list(result.errors)
    failed = dict(getattr(result, "failed", None) or {})
    if not failed:
        for msg in errors:
            sid = _match(_SOURCE_IN, msg)
            if sid is not None and sid in cat.config.sources:
                for ind in cat.config.indicators:
                    if ind.source == sid:
                        failed.setdefault(ind.id, msg)
            iid = _match(_INDICATOR_IN, msg)
            if iid is not None and iid in cat.indicators:
                failed.setdefault(iid, msg)
        # a formula fails with its inputs
        for ind in cat.config.indicators:
            if isinstance(ind.measure, spec.FormulaMeasure) and any(
                ref in failed for ref in ind.measure.inputs.values()
            ):
                failed.setdefault(ind.id, f"input of '{ind.id}' could not be computed")
    latest = dict(getattr(result, "latest", None) or {})
    if not latest and rows.height:
        per_ind = rows.group_by("indicator").agg(pl.col("period").unique())
        seen: dict[str, set[str]] = {}
        for iid, ps in per_ind.iter_rows():
            ind = cat.indicators.get(iid)
            if ind is not None and ind.source:
                seen.setdefault(ind.source, set()).update(ps)
        # a source read at several grains: the latest period of the finest grain, as the engine does
        latest = {sid: max(ps, key=_recency) for sid, ps in seen.items() if ps}
    return RunNotes(rows, list(result.warnings), errors, dict(result.stale), failed, latest)


def _recency(p: str) -> tuple[int, int]:
    # the finest grain first: a month still running (2026-11) says less than its last day (2026-11-28)
    return -periods.GRAINS.index(periods.grain_of(p)), periods.ordinal(p)


def _match(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return m.group(1) if m else None


def message_source(cat: Catalogue, msg: str) -> str | None:
    """The source a warning or error is about: named as ``source 'x'``, or through ``indicator 'y'``."""
    sid = _match(_SOURCE_IN, msg)
    if sid is not None and sid in cat.config.sources:
        return sid
    iid = _match(_INDICATOR_IN, msg)
    if iid is not None and iid in cat.indicators:
        return cat.indicators[iid].source
    return None


def warning_kind(msg: str) -> str:
    """A warning's kind, in Chinese: 未知地区代码, 坏行, 数据滞后, 无记录, 其他."""
    if "is not in the region tree" in msg or "without a region id" in msg:
        return "未知地区代码"
    if "stale" in msg:
        return "数据滞后"
    if "has no records" in msg:
        return "无记录"
    if _FILE_LINE.search(msg) or "not a number" in msg or "skipped" in msg or "malformed" in msg:
        return "坏行"
    return "其他"


def _sees_root(cat: Catalogue, scope: Scope) -> bool:
    return scope.regions is None or (cat.root is not None and cat.root in scope.regions)


def visible_sources(cat: Catalogue, scope: Scope) -> list[str]:
    """Sources feeding an indicator the user may see (and, without a domain limit, unused ones too)."""
    out = []
    for sid in cat.config.sources:
        feeds = [i for i in cat.config.indicators if sid in sources_feeding(cat, i)]
        if any(scope.sees_indicator(i) for i in feeds) or (not feeds and scope.domains is None):
            out.append(sid)
    return out


def source_messages(cat: Catalogue, result: Any, scope: Scope = OPEN) -> pl.DataFrame:
    """Every error and warning of the run, by source: ``source``, ``level`` (错误/警告), ``kind``, ``message``.

    Messages are shown with URLs masked. Notes on unknown region codes are about
    the root's counts and shown only to users who see the root.
    """
    notes = notes_of(cat, result)
    shown = set(visible_sources(cat, scope))
    recs = []
    for level, msgs in (("错误", notes.errors), ("警告", notes.warnings)):
        for msg in msgs:
            sid = message_source(cat, msg)
            if sid is not None and sid not in shown:
                continue
            kind = "读取失败" if level == "错误" else warning_kind(msg)
            if kind == "未知地区代码" and not _sees_root(cat, scope):
                continue
            recs.append({"source": sid, "level": level, "kind": kind, "message": mask_text(msg)})
    return pl.DataFrame(
        recs, schema={"source": pl.String, "level": pl.String, "kind": pl.String, "message": pl.String}
    )


def _tops(cat: Catalogue, scope: Scope) -> list[str] | None:
    """The highest regions of the scope (their parent is outside it); None without a region tree."""
    if cat.tree is None:
        return None
    if scope.regions is None:
        return [cat.tree.root]
    return [r for r in scope.regions if r in cat.tree and cat.tree.get(r).parent not in scope.regions]


def records_seen(
    cat: Catalogue, rows: pl.DataFrame, scope: Scope = OPEN
) -> dict[str, tuple[int | None, int | None]]:
    """Per source: (records behind the computed rows, records in its latest period), within the scope.

    From the engine's internal ``records`` column (source records behind each
    row, before any ``where``): at the scope's top regions for ``rollup: sum``,
    over every region row for ``rollup: none``. A year-to-date row already
    holds the year's records so far, so only each year's last one counts. Of a
    source's indicators, the largest count is taken (indicators on other time
    columns may skip records without a usable date).
    """
    rows = scope.filter_rows(rows).filter(pl.col("department").is_null())
    tops = _tops(cat, scope)
    out: dict[str, tuple[int | None, int | None]] = {}
    for sid in cat.config.sources:
        total: int | None = None
        last: int | None = None
        for ind in cat.config.indicators:
            if ind.source != sid:
                continue
            mine = rows.filter(pl.col("indicator") == ind.id)
            if tops is not None and ind.region and ind.rollup == "sum":
                mine = mine.filter(pl.col("region").is_in(tops))
            if mine.height == 0:
                total = max(total or 0, 0)
                continue
            if ind.accumulate == "ytd":
                ordinals = {p: periods.ordinal(p) for p in mine["period"].unique().to_list()}
                mine = (
                    mine.with_columns(
                        pl.col("period").replace_strict(ordinals, return_dtype=pl.Int64).alias("__o"),
                        pl.col("period").str.slice(0, 4).alias("__y"),
                    )
                    .sort("__o")
                    .group_by(["region", "__y"])
                    .last()
                )
                n = int(mine["records"].fill_null(0).sum())
            else:
                n = int(mine["records"].fill_null(0).sum())
                p_last = max(mine["period"].unique().to_list(), key=periods.ordinal)
                n_last = int(mine.filter(pl.col("period") == p_last)["records"].fill_null(0).sum())
                last = n_last if last is None else max(last, n_last)
            total = n if total is None else max(total, n)
        out[sid] = (total, last)
    return out


def _lag_days(lag: str | int) -> float:
    return spec.parse_duration(lag).total_seconds() / 86400


def source_health(
    cat: Catalogue, result: Any, scope: Scope = OPEN, now: dt.datetime | None = None
) -> pl.DataFrame:
    """One row per source the user may see.

    Columns: ``source``, ``name``, ``type`` (Chinese), ``location`` (masked),
    ``latest`` (period), ``latest_label``, ``data_end`` (ISO date the latest
    period ends), ``age_days``, ``expected_lag``, ``freshness`` (正常 / 滞后 / 失败 /
    无数据), ``freshness_text`` (``滞后 12 天`` …), ``records``, ``records_latest``,
    ``warnings``, ``errors``, ``indicators``, ``stale_indicators``,
    ``indicator_ids``, ``stale_ids``.
    """
    notes = notes_of(cat, result)
    now = now or dt.datetime.now()
    counts = records_seen(cat, notes.rows, scope)
    msgs = source_messages(cat, notes, scope)
    stale_inds = stale_indicators(cat, notes)
    recs = []
    for sid in visible_sources(cat, scope):
        src = cat.config.sources[sid]
        feeds = [
            i for i in cat.config.indicators if sid in sources_feeding(cat, i) and scope.sees_indicator(i)
        ]
        mine = msgs.filter(pl.col("source") == sid)
        n_err = mine.filter(pl.col("level") == "错误").height
        direct = [i for i in cat.config.indicators if i.source == sid]
        failed = n_err > 0 and (not direct or all(i.id in notes.failed for i in direct))
        latest = notes.latest.get(sid)
        end = periods.end(latest) if latest else None
        age = (now.date() - end).days if end else None
        lag = src.expected_lag
        if failed:
            fresh, text = FAILED, "读取失败"
        elif latest is None:
            fresh, text = EMPTY, "无数据"
        elif lag is not None and (sid in notes.stale or (age is not None and age > _lag_days(lag))):
            over = max(1, int(round((age or 0) - _lag_days(lag))))
            fresh, text = LATE, f"滞后 {over} 天（数据截至 {end}，已 {age} 天）"
        else:
            fresh = FRESH
            text = f"正常（数据截至 {end}）" if lag is not None else f"正常（未设时限，数据截至 {end}）"
        total, last = counts.get(sid, (None, None))
        stale_ids = [i.id for i in feeds if i.id in stale_inds]
        recs.append(
            {
                "source": sid,
                "name": src.name or sid,
                "type": SOURCE_TYPE_LABEL.get(src.type, src.type),
                "location": source_location(src),
                "latest": latest,
                "latest_label": periods.label(latest) if latest else "—",
                "data_end": end.isoformat() if end else None,
                "age_days": age,
                "expected_lag": str(lag) if lag is not None else None,
                "freshness": fresh,
                "freshness_text": text,
                "records": total,
                "records_latest": last,
                "warnings": mine.filter(pl.col("level") == "警告").height,
                "errors": n_err,
                "indicators": len(feeds),
                "stale_indicators": len(stale_ids),
                "indicator_ids": ", ".join(i.id for i in feeds),
                "stale_ids": ", ".join(stale_ids),
            }
        )
    return pl.DataFrame(recs, schema=HEALTH_SCHEMA)


HEALTH_SCHEMA = {
    "source": pl.String,
    "name": pl.String,
    "type": pl.String,
    "location": pl.String,
    "latest": pl.String,
    "latest_label": pl.String,
    "data_end": pl.String,
    "age_days": pl.Int64,
    "expected_lag": pl.String,
    "freshness": pl.String,
    "freshness_text": pl.String,
    "records": pl.Int64,
    "records_latest": pl.Int64,
    "warnings": pl.Int64,
    "errors": pl.Int64,
    "indicators": pl.Int64,
    "stale_indicators": pl.Int64,
    "indicator_ids": pl.String,
    "stale_ids": pl.String,
}


def stale_indicators(cat: Catalogue, result: Any) -> dict[str, str]:
    """Indicators whose numbers may not be current, with why: a source stale or failed, or no rows at all."""
    notes = notes_of(cat, result)
    have = set(notes.rows["indicator"].unique().to_list()) if notes.rows.height else set()
    out: dict[str, str] = {}
    for ind in cat.config.indicators:
        srcs = sources_feeding(cat, ind)
        if ind.id in notes.failed:
            out[ind.id] = FAILED
        elif srcs & set(notes.stale):
            out[ind.id] = LATE
        elif ind.id not in have:
            out[ind.id] = EMPTY
    return out


def indicator_freshness(cat: Catalogue, result: Any, scope: Scope = OPEN) -> pl.DataFrame:
    """Per visible indicator: ``indicator``, ``latest`` (period with rows in the scope), ``latest_label``,
    ``freshness`` (正常 / 滞后 / 失败 / 无数据) and ``stale`` (anything but 正常)."""
    notes = notes_of(cat, result)
    rows = scope.filter_rows(notes.rows)
    per = dict(rows.group_by("indicator").agg(pl.col("period").unique()).iter_rows()) if rows.height else {}
    bad = stale_indicators(cat, notes)
    recs = []
    for ind in cat.config.indicators:
        if not scope.sees_indicator(ind):
            continue
        ps = per.get(ind.id) or []
        latest = max(ps, key=periods.ordinal) if ps else None
        state = bad.get(ind.id) or (FRESH if latest else EMPTY)
        recs.append(
            {
                "indicator": ind.id,
                "latest": latest,
                "latest_label": periods.label(latest, cumulative=ind.accumulate != "none") if latest else "—",
                "freshness": state,
                "stale": state != FRESH,
            }
        )
    return pl.DataFrame(
        recs,
        schema={
            "indicator": pl.String,
            "latest": pl.String,
            "latest_label": pl.String,
            "freshness": pl.String,
            "stale": pl.Boolean,
        },
    )


def source_indicators(cat: Catalogue, result: Any, source_id: str, scope: Scope = OPEN) -> pl.DataFrame:
    """The visible indicators a source feeds (through formulas too), with their freshness."""
    fresh = indicator_freshness(cat, result, scope)
    ids = [i.id for i in cat.config.indicators if source_id in sources_feeding(cat, i)]
    names = {i.id: i.name for i in cat.config.indicators}
    domains = {i.id: i.domain or "其他" for i in cat.config.indicators}
    return (
        fresh.filter(pl.col("indicator").is_in(ids))
        .with_columns(
            pl.col("indicator").replace_strict(names, return_dtype=pl.String).alias("name"),
            pl.col("indicator").replace_strict(domains, return_dtype=pl.String).alias("domain"),
        )
        .select("indicator", "name", "domain", "latest", "latest_label", "freshness", "stale")
    )
