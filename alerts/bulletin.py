"""数据通报 (contract section 8): one period, one region's subtree, in the register of a 通报.

Two steps, so that Markdown and HTML say the same thing:

1. :func:`build_bulletin` computes the rows once and builds a :class:`Bulletin`, a tree of
   frozen dataclasses holding the numbers (rankings, the 红黄灯 list, the year-end outlooks at
   risk of missing their target, the largest changes, anomaly findings, alert items, the points
   of a few trend charts) and the Chinese sentences written from them.
2. :func:`render` lays that out (:func:`outline`: sections, paragraphs, tables, items and
   figures, every number already formatted by :mod:`metrics.format`) and writes it as
   GitHub-flavoured Markdown (text only) or as one self-contained HTML page (inline CSS, the
   charts as inline SVG drawn by vl-convert, A4 print, phone width).

::

    build_bulletin(cat, *, bulletin_id=None, period=None, region=None, scope=OPEN, alerts=(), now=None)
        -> Bulletin
    render(b, "md" | "html") -> str

The period of an indicator in a bulletin of period P (grain G) is its own latest period with
data that ends no later than P: P itself for indicators of grain G, the latest complete
quarter for a quarterly indicator in a monthly bulletin, and one period of publication lag is
accepted (October's economic figures in a November bulletin, labelled 2026年10月). Indicators
finer than G are left out unless they are cumulative (their last 累计 value inside P is the
value of P); the bulletin lists the ones it leaves out. Nothing here reads the clock: ``now``
only dates the document and decides staleness in the engine.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from html import escape as html_escape
from typing import Any
from urllib.parse import urlencode

import polars as pl

from metrics import periods
from metrics.access import OPEN, Scope
from metrics.catalogue import spec
from metrics.catalogue.load import Catalogue
from metrics.catalogue.problems import did_you_mean
from metrics.catalogue.rules import grain_of
from metrics.engine import Engine
from metrics.format import fmt_change, fmt_value
from metrics.views import STATUS_COLOR, STATUS_LABEL

RHYTHM_GRAIN = {
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "quarterly": "quarter",
    "yearly": "year",
}
GRAIN_WORD = {"day": "日", "week": "周", "month": "月", "quarter": "季度", "year": "年"}
LIGHT_WORD = {"red": "红灯", "yellow": "黄灯", "green": "绿灯", "lightblue": "浅蓝灯", "blue": "蓝灯"}
# the statuses listed under 红黄灯情况, in this order: the five-light 过冷 beside 过热, 偏冷 beside 偏热
FLAGGED = ("red", "blue", "yellow", "lightblue")
FIVE_LIGHT_MEANING = {"red": "过热", "yellow": "偏热", "green": "正常", "lightblue": "偏冷", "blue": "过冷"}
FINDING_KIND = {"spike": "突增", "dip": "突降", "level_shift": "水平突变", "trend_change": "趋势转折"}
MOVERS = 10  # how many of the largest 同比 changes a bulletin lists
NO_ALERTS = "本期无需关注的预警事项。"
AT_RISK = 0.5  # a year-end outlook below this probability of reaching the target is listed
OUTLOOK_TITLE = "年底目标预判（达标概率低于50%）"
MIN_OUTLOOK_ROWS = 6  # as on the overview (metrics.views.outlooks); the model itself wants 8 values
MAX_CHARTS = 8  # trend charts in the HTML bulletin
TREND_PERIODS = 13  # a year and the same period a year before
TREND_WORD = {"day": "天", "week": "周", "month": "个月", "quarter": "个季度", "year": "年"}


class BulletinError(ValueError):
    """A problem with the arguments, found before any data is read (the CLI exits 2)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


# ----------------------------------------------------------------- the document


@dataclass(frozen=True)
class BulletinAlert:
    """One ``level: bulletin`` alert item kept for the next 通报 (passed in by the alert engine)."""

    indicator: str
    region: str
    period: str
    text: str


@dataclass(frozen=True)
class Entry:
    """One line of a ranking: a region or a department at the indicator's period."""

    subject: str  # region id, or department id
    name: str
    kind: str  # "region" | "department"
    value: float | None
    target: float | None
    status: str | None
    yoy: float | None
    mom: float | None
    rank: int | None
    previous_rank: int | None  # the rank at the period before (位次变化)
    url: str

    @property
    def rank_change(self) -> int | None:
        """Places gained since the period before: +2 moved up two places, -1 fell one."""
        if self.rank is None or self.previous_rank is None:
            return None
        return self.previous_rank - self.rank


@dataclass(frozen=True)
class IndicatorReport:
    indicator: str
    name: str
    domain: str
    unit: str
    direction: str
    cumulative: bool
    five_light: bool
    rated: bool  # has thresholds or bands: a status, and a better and a worse end of the ranking
    period: str | None  # None: no data for this bulletin
    period_label: str
    url: str
    own: Entry | None  # the bulletin's region itself
    regions: tuple[Entry, ...]  # its children, best first
    departments: tuple[Entry, ...]  # best first; only at the root with the scope holding it
    text: str  # one or two sentences in the register of a 通报
    failed: str | None = None  # why the indicator could not be computed


@dataclass(frozen=True)
class DomainReport:
    domain: str
    indicators: tuple[IndicatorReport, ...]


@dataclass(frozen=True)
class Flag:
    """An indicator × region (or department) in red or yellow, or for five-light indicators
    blue or light blue (过冷/偏冷, as worth a look as 过热/偏热): the 红黄灯 list."""

    indicator: str
    name: str
    domain: str
    unit: str
    period: str
    period_label: str
    subject: str
    subject_name: str
    kind: str
    status: str
    five_light: bool
    value: float | None
    target: float | None
    url: str


@dataclass(frozen=True)
class Move:
    """One of the largest 同比 changes."""

    indicator: str
    name: str
    unit: str
    period: str
    period_label: str
    subject: str
    subject_name: str
    kind: str
    value: float | None
    yoy: float
    url: str


@dataclass(frozen=True)
class AnomalyNote:
    """An anomaly finding of the bulletin's period, with its one-sentence explanation."""

    indicator: str
    name: str
    period: str
    subject: str
    subject_name: str
    kind: str
    score: float
    text: str
    url: str


@dataclass(frozen=True)
class OutlookNote:
    """A year-end outlook of the bulletin's region whose probability of reaching the target is low."""

    indicator: str
    name: str
    domain: str
    unit: str
    period: str  # the indicator's period in the bulletin: the outlook starts from there
    period_label: str
    value: float | None  # the region's value at ``period``
    target: float | None  # the target of the outlook's year
    year_end: str  # the period forecast (``2026-12``, ``2026-Q4``)
    mean: float
    lower: float  # the 90 % prediction interval
    upper: float
    probability: float  # of reaching the target, by direction
    horizon: int  # periods from ``period`` to ``year_end``
    text: str  # the forecast sentence (``metrics.models.forecast.explain``)
    url: str


@dataclass(frozen=True)
class Trend:
    """The region's own recent values of one indicator: a chart in the HTML bulletin."""

    indicator: str
    name: str
    unit: str
    region_name: str
    grain: str
    points: tuple[tuple[str, float | None], ...]  # (period, value), oldest first, the shown period last
    target: float | None
    status: str | None  # of the last point: the colour of its marker
    why: str  # a status of FLAGGED ("red", "yellow", …) or "outlook": why this indicator was chosen


@dataclass(frozen=True)
class AlertItem:
    alert: BulletinAlert
    name: str  # the indicator's name
    region_name: str
    period_label: str
    url: str


@dataclass(frozen=True)
class Bulletin:
    """A 数据通报: what it covers (period, region, domains) and what it says."""

    id: str | None
    title: str
    site_title: str
    period: str | None  # None only when nothing has data
    period_label: str
    grain: str
    region: str | None
    region_name: str
    base_url: str
    domains: tuple[DomainReport, ...]
    summary: str
    flags: tuple[Flag, ...]
    movers: tuple[Move, ...]
    anomalies: tuple[AnomalyNote, ...]
    alerts: tuple[AlertItem, ...]
    notes: tuple[str, ...]
    n_regions: int  # the region's children (the ranked regions)
    counts: Mapping[str, int]  # the region's own statuses: green, yellow, red, …, none, missing
    generated: str | None = None  # the date of issue, only when ``now`` was given
    outlook: tuple[OutlookNote, ...] = ()  # at risk of missing the year's target, least likely first
    outlook_checked: int = 0  # indicators with a target whose year-end outlook was computed
    trends: tuple[Trend, ...] = ()  # at most MAX_CHARTS, drawn in the HTML only
    errors: tuple[str, ...] = field(default=())  # source failures: ERROR lines for standard error
    warnings: tuple[str, ...] = field(default=())

    @property
    def indicators(self) -> tuple[IndicatorReport, ...]:
        return tuple(r for d in self.domains for r in d.indicators)

    def report(self, indicator: str) -> IndicatorReport | None:
        return next((r for r in self.indicators if r.indicator == indicator), None)


# ----------------------------------------------------------------- words and numbers


def cn_number(n: int) -> str:
    """1 → 一, 12 → 十二, 24 → 二十四 (section numbers)."""
    d = "零一二三四五六七八九"
    if n < 10:
        return d[n]
    if n < 20:
        return "十" + (d[n % 10] if n % 10 else "")
    if n < 100:
        return d[n // 10] + "十" + (d[n % 10] if n % 10 else "")
    return str(n)


def period_label(period: str, *, cumulative: bool = False) -> str:
    """Chinese period labels as statistics bureaus print them.

    ``2026年10月``, ``2026年1-10月`` (cumulative), ``2026年第3季度``, and for cumulative
    quarters ``2026年上半年`` / ``2026年前三季度`` / ``2026年全年``.
    """
    g = periods.grain_of(period)
    if g == "quarter":
        y, q = period.split("-Q")
        if cumulative and q != "1":
            return f"{y}年" + {"2": "上半年", "3": "前三季度", "4": "全年"}[q]
        return f"{y}年第{q}季度"
    return periods.label(period, cumulative=cumulative)


def _span(period: str) -> str:
    """A week's days: ``（11月23日—11月29日）``; nothing for other grains."""
    if periods.grain_of(period) != "week":
        return ""
    a, b = periods.start(period), periods.end(period)
    return f"（{a.month}月{a.day}日—{b.month}月{b.day}日）"


def _finite(v: float | None) -> float | None:
    return None if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))) else v


def change_words(v: float, unit: str) -> str:
    """``提高2.1个百分点`` / ``下降3.4%`` / ``持平`` (a rate's change is in 个百分点)."""
    pct = unit == "%"
    if round(v, 2 if pct else 1) == 0:
        return "持平"
    up = "提高" if pct else "增长"
    return f"{up if v > 0 else '下降'}{fmt_change(abs(v), unit).lstrip('+')}"


def status_text(status: str | None, five_light: bool) -> str:
    """``红`` / ``黄`` / ``绿``; five-light indicators add the meaning: ``黄（偏热）``."""
    if not status:
        return "—"
    label = STATUS_LABEL.get(status, status)
    return (
        f"{label}（{FIVE_LIGHT_MEANING[status]}）" if five_light and status in FIVE_LIGHT_MEANING else label
    )


def rank_change_text(change: int | None) -> str:
    if change is None:
        return "—"
    if change == 0:
        return "持平"
    return f"↑{change}" if change > 0 else f"↓{-change}"


def detail_url(base_url: str, indicator: str, region: str | None, period: str | None) -> str:
    """The cockpit page of an indicator, region and period (contract section 13)."""
    q = {"indicator": indicator}
    if region is not None:
        q["region"] = region
    if period is not None:
        q["period"] = period
    return f"{base_url.rstrip('/')}/detail?{urlencode(q)}"


# ----------------------------------------------------------------- building


@dataclass(frozen=True)
class _Plan:
    spec: spec.Bulletin | None
    grain: str
    period: str | None
    region: str | None
    domains: tuple[str, ...]
    indicators: tuple[spec.Indicator, ...]
    excluded: tuple[spec.Indicator, ...]  # finer than the bulletin and not cumulative


def _domain(ind: spec.Indicator) -> str:
    return ind.domain or "其他"


def _plan(
    cat: Catalogue, bulletin_id: str | None, period: str | None, region: str | None, scope: Scope
) -> _Plan:
    """Check the arguments against the catalogue and the scope; nothing is read yet."""
    declared: spec.Bulletin | None = None
    if bulletin_id is not None:
        known = {b.id: b for b in cat.config.bulletins}
        if bulletin_id not in known:
            hint = did_you_mean(bulletin_id, list(known))
            if not known:
                hint += " (the config declares no bulletins)"
            raise BulletinError("--bulletin", f"unknown bulletin '{bulletin_id}'{hint}")
        declared = known[bulletin_id]

    grain = RHYTHM_GRAIN[declared.rhythm] if declared else "month"
    if period is not None:
        try:
            g = periods.grain_of(period)
            canonical = periods.to_period(periods.start(period), g)
        except (periods.PeriodError, ValueError):
            canonical = None
        if canonical != period:
            raise BulletinError(
                "--period", f"'{period}' is not a period (write 2026-10, 2026-Q3, 2026-W41 …)"
            )
        if declared is not None and g != grain:
            example = {"day": "2026-10-05", "week": "2026-W41", "month": "2026-10", "quarter": "2026-Q3"}
            raise BulletinError(
                "--period",
                f"bulletin '{declared.id}' is {declared.rhythm}: give a period such as {example.get(grain, '2026')},"
                f" not '{period}'",
            )
        grain = g

    tree = cat.tree
    if region is not None:
        if tree is None or region not in tree:
            if tree is None:
                hint = " (the config has no org.regions)"
            else:  # a name typed for an id gets its id
                by_name = {r.name: r.id for r in tree}
                hint = (
                    f" (did you mean '{by_name[region]}'?)"
                    if region in by_name
                    else did_you_mean(region, tree.ids())
                )
            raise BulletinError("--region", f"unknown region '{region}'{hint}")
        if not scope.sees_region(region):
            who = scope.user.id if scope.user else "?"
            raise BulletinError("--region", f"region '{region}' is outside what user '{who}' may see")
        if declared is not None and declared.region is not None and tree is not None:
            if region not in tree.subtree(declared.region):
                raise BulletinError(
                    "--region",
                    f"region '{region}' is outside the region of bulletin '{declared.id}' ('{declared.region}')",
                )
    elif tree is not None:
        top = declared.region if declared is not None and declared.region is not None else tree.root
        if scope.sees_region(top):
            region = top
        else:  # the user's highest regions inside the bulletin's: the bulletin narrowed to the scope
            inside = set(tree.subtree(top))
            region = next((r.id for r in tree if r.id in inside and scope.sees_region(r.id)), None)
            if region is None:
                who = scope.user.id if scope.user else "?"
                what = f"bulletin '{declared.id}'" if declared else "the region tree"
                raise BulletinError("--as", f"user '{who}' may see nothing of {what}")

    order: list[str] = []
    for ind in cat.config.indicators:
        if _domain(ind) not in order:
            order.append(_domain(ind))
    wanted = [d for d in order if declared is None or declared.domains is None or d in declared.domains]
    if scope.domains is not None:
        wanted = [d for d in wanted if d in scope.domains]
        if not wanted:
            who = scope.user.id if scope.user else "?"
            raise BulletinError("--as", f"user '{who}' may see none of the bulletin's domains")
    inds, excluded = [], []
    for ind in cat.config.indicators:
        if _domain(ind) not in wanted or not scope.sees_indicator(ind):
            continue
        g = grain_of(cat.indicators, ind.id) or "month"
        if periods.finer_or_equal(grain, g) or ind.accumulate in ("ytd", "source"):
            inds.append(ind)
        else:
            excluded.append(ind)
    return _Plan(declared, grain, period, region, tuple(wanted), tuple(inds), tuple(excluded))


def _shown_period(
    available: Iterable[str], ind_grain: str, cumulative: bool, period: str, grain: str
) -> str | None:
    """The indicator's period in a bulletin of ``period``: its latest with data that ends by then.

    Same or coarser grain: the last period ending by the end of ``period``, or the one before it
    (publication lag). Finer (cumulative only): its last period inside ``period``.
    """
    have = set(available)
    last_day = periods.end(period)
    if periods.finer_or_equal(grain, ind_grain):
        q0 = periods.to_period(last_day, ind_grain)
        if periods.end(q0) > last_day:
            q0 = periods.previous(q0)
        for q in (q0, periods.previous(q0)):
            if q in have:
                return q
        return None
    first_day = periods.start(period)
    inside = [q for q in have if first_day <= periods.end(q) <= last_day]
    return max(inside, key=periods.ordinal) if inside and cumulative else None


def _default_period(
    plan: _Plan, available: Mapping[str, Sequence[str]], grains: Mapping[str, str]
) -> str | None:
    """The latest period of the bulletin's grain that has data.

    "Has data" counts the bulletin's indicators of its own grain: the period must have data for
    at least half of those that have any, so that one fast source (the hotline, daily up to
    yesterday) does not make a month that has barely begun the month of the bulletin. Without
    indicators of its grain, the period that holds the end of the latest data.
    """
    same = [ps for i, ps in available.items() if grains[i] == plan.grain and ps]
    if same:
        count: dict[str, int] = {}
        for ps in same:
            for p in set(ps):
                count[p] = count.get(p, 0) + 1
        enough = [p for p, n in count.items() if 2 * n >= len(same)]
        return max(enough, key=periods.ordinal)
    others = [periods.to_period(periods.end(p), plan.grain) for ps in available.values() for p in ps]
    return max(others, key=periods.ordinal) if others else None


def build_bulletin(
    cat: Catalogue,
    *,
    bulletin_id: str | None = None,
    period: str | None = None,
    region: str | None = None,
    scope: Scope = OPEN,
    alerts: Sequence[BulletinAlert] = (),
    now: dt.datetime | None = None,
) -> Bulletin:
    """Compute and assemble one 数据通报.

    ``bulletin_id`` renders a declared bulletin (its rhythm, region and domains); ``region``
    limits everything to that node's subtree; ``scope`` (:func:`metrics.access.scope_for`)
    leaves out whatever its user may not see. Raises :class:`BulletinError` for a bad
    argument before reading any data; a source failing while running is reported in
    ``errors`` and the rest is still built.
    """
    plan = _plan(cat, bulletin_id, period, region, scope)
    tree = cat.tree
    base_url = cat.config.site.base_url
    ids = [i.id for i in plan.indicators]
    grains = {i: grain_of(cat.indicators, i) or "month" for i in ids}

    res = Engine(cat, now=now).compute(ids) if ids else None
    errors: list[str] = list(res.errors) if res else []
    if res:
        for ind_id, why in res.failed.items():
            if ind_id in grains and not any(why in e for e in errors):
                errors.append(f"ERROR: indicator '{ind_id}': {why}")
    rows = scope.filter_rows(res.rows) if res else pl.DataFrame()
    if rows.height:  # small groups of 敏感 sources are never shown (issue 6): their values go blank
        from metrics.masking import suppress_small

        rows = suppress_small(rows, cat, scope).drop("suppressed", "suppressed_text")

    own = plan.region
    children: tuple[str, ...] = tree.children(own) if tree is not None and own is not None else ()
    root = tree.root if tree is not None else None
    show_departments = scope.departments and own == root
    rows = _shown_rows(rows, own, children, show_departments)

    available: dict[str, list[str]] = {}
    if rows.height:
        for (ind_id,), part in rows.group_by(["indicator"], maintain_order=True):
            available[str(ind_id)] = part["period"].unique().to_list()
    the_period = plan.period or _default_period(plan, available, grains)

    region_name = tree.name(own) if tree is not None and own is not None else ""
    by_key = {
        (r["indicator"], r["period"], r["region"], r["department"]): r for r in rows.iter_rows(named=True)
    }
    dept_ids: dict[tuple[str, str], set[str]] = {}
    for ind_id, p, _r, d in by_key:
        if d is not None:
            dept_ids.setdefault((ind_id, p), set()).add(d)

    def entry(ind: spec.Indicator, q: str, rid: str | None, dept: str | None) -> Entry | None:
        r = by_key.get((ind.id, q, rid, dept))
        if r is None:
            return None
        before = by_key.get((ind.id, periods.previous(q), rid, dept))
        name = cat.department_name(dept) if dept else (tree.name(rid) if tree is not None else "合计")
        return Entry(
            subject=dept or rid or "",
            name=name,
            kind="department" if dept else "region",
            value=_finite(r["value"]),
            target=_finite(r["target"]),
            status=r["status"],
            yoy=_finite(r["yoy"]),
            mom=_finite(r["mom"]),
            rank=r["rank"],
            previous_rank=before["rank"] if before else None,
            url=detail_url(base_url, ind.id, rid, q),
        )

    def ranked(es: list[Entry], order: list[str]) -> tuple[Entry, ...]:
        pos = {s: k for k, s in enumerate(order)}  # ties in declared order
        return tuple(
            sorted(es, key=lambda e: (e.rank is None, e.rank or 0, pos.get(e.subject, len(pos)), e.subject))
        )

    dept_order = [d.id for d in cat.config.org.departments]
    parent = tree.get(own).parent if tree is not None and own is not None else None
    n_peers = len(tree.children(parent)) if tree is not None and parent is not None else 0
    reports: list[IndicatorReport] = []
    for ind in plan.indicators:
        unit = (ind.unit or "").strip()
        cumulative = ind.accumulate in ("ytd", "source")
        q = (
            _shown_period(available.get(ind.id, []), grains[ind.id], cumulative, the_period, plan.grain)
            if the_period
            else None
        )
        failed = res.failed.get(ind.id) if res else None
        own_e = entry(ind, q, own, None) if q else None
        kids: list[Entry] = []
        depts: list[Entry] = []
        if q:
            got = [entry(ind, q, c, None) for c in children]
            if any(got):
                for c, e in zip(children, got, strict=True):
                    kids.append(
                        e
                        or _empty(
                            c, tree.name(c) if tree is not None else c, detail_url(base_url, ind.id, c, q)
                        )
                    )
            if show_departments:
                for d in sorted(dept_ids.get((ind.id, q), ())):
                    e = entry(ind, q, own, d)
                    if e is not None:
                        depts.append(e)
        rep = IndicatorReport(
            indicator=ind.id,
            name=ind.name,
            domain=_domain(ind),
            unit=unit,
            direction=ind.direction,
            cumulative=cumulative,
            five_light=ind.bands is not None,
            rated=ind.thresholds is not None or ind.bands is not None,
            period=q,
            period_label=period_label(q, cumulative=cumulative) if q else "",
            url=detail_url(base_url, ind.id, own, q),
            own=own_e,
            regions=ranked(kids, list(children)),
            departments=ranked(depts, dept_order),
            text="",
            failed=failed,
        )
        reports.append(_with_text(rep, region_name, n_peers))

    domains = tuple(
        DomainReport(d, tuple(r for r in reports if r.domain == d))
        for d in plan.domains
        if any(r.domain == d for r in reports)
    )
    flags = _flags(reports)
    movers = _movers(reports)
    anomalies = _anomalies(cat, reports, res.rows if res else None, scope, own, children, show_departments)
    items = _alert_items(cat, plan, alerts, own, scope, base_url)
    outlook, checked = _outlook(cat, reports, rows, own, the_period)
    trends = _trends(reports, outlook, by_key, own, region_name, grains)

    counts = _counts(reports)
    title = plan.spec.name if plan.spec else f"{cat.config.site.title}数据通报"
    declared_region = plan.spec.region if plan.spec and plan.spec.region else root
    if own is not None and own != declared_region:
        title += f"（{region_name}）"
    label = (period_label(the_period) + _span(the_period)) if the_period else "（暂无数据）"
    generated = f"{now.year}年{now.month}月{now.day}日" if now is not None else None
    b = Bulletin(
        id=plan.spec.id if plan.spec else None,
        title=title,
        site_title=cat.config.site.title,
        period=the_period,
        period_label=label,
        grain=plan.grain,
        region=own,
        region_name=region_name,
        base_url=base_url,
        domains=domains,
        summary="",
        flags=flags,
        movers=movers,
        anomalies=anomalies,
        alerts=items,
        notes=_notes(plan, reports, checked),
        n_regions=len(children),
        counts=counts,
        generated=generated,
        outlook=outlook,
        outlook_checked=checked,
        trends=trends,
        errors=tuple(errors),
        warnings=tuple(res.warnings) if res else (),
    )
    return _with_summary(b, show_departments)


def _shown_rows(
    rows: pl.DataFrame, own: str | None, children: tuple[str, ...], departments: bool
) -> pl.DataFrame:
    """The rows a bulletin may show: its region, the region's children, and departments.

    Department rows carry the root's id; they appear only in a bulletin of the root whose
    scope holds it. No parent, sibling or grandchild row.
    """
    if not rows.height:
        return rows
    dept = pl.col("department").is_not_null()
    if own is None:  # no region tree: every row is the whole jurisdiction's
        return rows if departments else rows.filter(~dept)
    regions = pl.col("region").is_in([own, *children])
    return rows.filter((~dept & regions) | (dept & pl.lit(departments) & (pl.col("region") == own)))


def _empty(rid: str, name: str, url: str) -> Entry:
    return Entry(rid, name, "region", None, None, None, None, None, None, None, url)


def _with_text(r: IndicatorReport, region_name: str, n_peers: int) -> IndicatorReport:
    """One or two sentences: the region's own figure, then who leads and who trails."""
    if r.failed:
        return replace(r, text=f"{r.name}本期数据未能取得（数据源故障）。")
    if r.period is None:
        return replace(r, text=f"{r.name}本期暂无数据。")
    parts: list[str] = []
    o = r.own
    if o is not None and o.value is not None:
        s = f"{r.period_label}，{region_name}{r.name}为{fmt_value(o.value, r.unit)}"
        extra = []
        if o.status:
            light = LIGHT_WORD.get(o.status, o.status)
            if r.five_light and o.status in FIVE_LIGHT_MEANING:
                light += f"，{FIVE_LIGHT_MEANING[o.status]}"
            extra.append(light)
        if o.target is not None:
            extra.append(f"目标{fmt_value(o.target, r.unit)}")
        if extra:
            s += "（" + "，".join(extra) + "）"
        changes = []
        if o.yoy is not None:
            changes.append("同比" + change_words(o.yoy, r.unit))
        if o.mom is not None and not r.cumulative:
            changes.append("环比" + change_words(o.mom, r.unit))
        if changes:
            s += "，" + "，".join(changes)
        if o.rank is not None and n_peers > 1:
            s += f"，在同级{n_peers}个地区中居第{o.rank}位"
        parts.append(s + "。")
    ranked = [e for e in r.regions if e.rank is not None]
    if len(ranked) >= 2:
        worst = max(e.rank or 0 for e in ranked)
        last = [e.name for e in ranked if e.rank == worst]
        lead_names = (
            [e.name for e in ranked[:3]] if len(ranked) >= 4 else [e.name for e in ranked if e.rank == 1]
        )
        if r.rated:
            lead = f"{'、'.join(lead_names)}{'位列前三' if len(ranked) >= 4 else '排名第一'}"
        else:  # a volume (办件量, 受理量) has no better or worse: only who is largest
            lead = f"{'、'.join(lead_names)}{'居前三位' if len(ranked) >= 4 else '居首位'}"
        s = f"下辖地区中，{lead}"
        if r.rated and worst > 1 and not set(last) & set(lead_names):
            s += f"，{'、'.join(last)}排名末位"
        lights = []
        for status in FLAGGED:  # five-light indicators: 蓝灯/浅蓝灯 too
            named = [e.name for e in r.regions if e.status == status]
            if named:
                lights.append(f"{LIGHT_WORD[status]}{len(named)}个（{'、'.join(named)}）")
        if lights:
            s += "；" + "，".join(lights)
        parts.append(s + "。")
    if not parts:
        parts.append(f"{r.period_label}{r.name}暂无{region_name}数据。")
    return replace(r, text="".join(parts))


def _flags(reports: list[IndicatorReport]) -> tuple[Flag, ...]:
    out: list[Flag] = []
    for status in FLAGGED:
        for r in reports:
            if r.period is None:
                continue
            for e in [*([r.own] if r.own else []), *r.regions, *r.departments]:
                if e.status == status:
                    out.append(
                        Flag(
                            r.indicator,
                            r.name,
                            r.domain,
                            r.unit,
                            r.period,
                            r.period_label,
                            e.subject,
                            e.name,
                            e.kind,
                            status,
                            r.five_light,
                            e.value,
                            e.target,
                            e.url,
                        )
                    )
    return tuple(out)


def _movers(reports: list[IndicatorReport], n: int = MOVERS) -> tuple[Move, ...]:
    """The largest 同比 changes among the ranked regions and departments.

    As on the overview (:func:`metrics.views.movers`), a rate's change in 个百分点 and another
    indicator's relative change in percent are put side by side by their size.
    """
    cands: list[tuple[float, int, int, Move]] = []
    for k, r in enumerate(reports):
        if r.period is None:
            continue
        for j, e in enumerate([*r.regions, *r.departments]):
            if e.yoy is None or round(e.yoy, 2 if r.unit == "%" else 1) == 0:
                continue
            m = Move(
                r.indicator,
                r.name,
                r.unit,
                r.period,
                r.period_label,
                e.subject,
                e.name,
                e.kind,
                e.value,
                e.yoy,
                e.url,
            )
            cands.append((-abs(e.yoy), k, j, m))
    cands.sort(key=lambda c: c[:3])
    return tuple(c[3] for c in cands[:n])


def _anomalies(
    cat: Catalogue,
    reports: list[IndicatorReport],
    all_rows: pl.DataFrame | None,
    scope: Scope,
    own: str | None,
    children: tuple[str, ...],
    show_departments: bool,
) -> tuple[AnomalyNote, ...]:
    """Findings (contract section 6) at each indicator's period, on the series the bulletin shows."""
    from metrics.models.explain import explain_finding
    from metrics.models.runner import findings

    if all_rows is None or not all_rows.height:
        return ()
    shown = {r.indicator: r.period for r in reports if r.period is not None}
    if not shown:
        return ()
    rows = scope.filter_rows(all_rows).filter(pl.col("indicator").is_in(list(shown)))
    rows = _shown_rows(rows, own, children, show_departments)
    # only series that have a point at the shown period can have a finding there
    at = pl.DataFrame(
        {"indicator": list(shown), "__q": list(shown.values())},
        schema={"indicator": pl.String, "__q": pl.String},
    )
    hit = rows.join(at, on="indicator").filter(pl.col("period") == pl.col("__q"))
    series = hit.select("indicator", "region", "department").unique()
    rows = rows.join(series, on=["indicator", "region", "department"], nulls_equal=True)
    inds = [cat.indicators[i] for i in shown]
    grains = {i: grain_of(cat.indicators, i) or "month" for i in shown}
    found = [f for f in findings(inds, rows, grains) if f["period"] == shown.get(f["indicator"])]
    order = {r.indicator: k for k, r in enumerate(reports)}
    place = {rid: k for k, rid in enumerate([own, *children])}
    found.sort(
        key=lambda f: (
            order[f["indicator"]],
            f["department"] is not None,
            place.get(f["region"], 0),
            f["department"] or "",
        )
    )
    out = []
    base_url = cat.config.site.base_url
    for f in found:
        ind = cat.indicators[f["indicator"]]
        rname = cat.tree.name(f["region"]) if cat.tree is not None and f["region"] else ""
        dname = cat.department_name(f["department"]) if f["department"] else None
        out.append(
            AnomalyNote(
                ind.id,
                ind.name,
                f["period"],
                f["department"] or f["region"] or "",
                dname or rname,
                f["kind"],
                float(f["score"]),
                explain_finding(f, ind, rname, dname),
                detail_url(base_url, ind.id, f["region"], f["period"]),
            )
        )
    return tuple(out)


def _alert_items(
    cat: Catalogue,
    plan: _Plan,
    alerts: Sequence[BulletinAlert],
    own: str | None,
    scope: Scope,
    base_url: str,
) -> tuple[AlertItem, ...]:
    """The alert items inside the bulletin: its indicators, its region's subtree, the scope."""
    tree = cat.tree
    inside = set(tree.subtree(own)) if tree is not None and own is not None else None
    shown = {i.id for i in plan.indicators}
    out: list[AlertItem] = []
    seen: set[BulletinAlert] = set()
    for a in alerts:
        if a in seen or a.indicator not in shown:
            continue
        if inside is not None and (a.region not in inside or not scope.sees_region(a.region)):
            continue
        seen.add(a)
        ind = cat.indicators[a.indicator]
        try:
            label = period_label(a.period, cumulative=ind.accumulate in ("ytd", "source"))
        except (periods.PeriodError, ValueError, KeyError):
            label = a.period
        name = tree.name(a.region) if tree is not None else a.region
        out.append(AlertItem(a, ind.name, name, label, detail_url(base_url, a.indicator, a.region, a.period)))
    return tuple(out)


def _outlook(
    cat: Catalogue,
    reports: list[IndicatorReport],
    rows: pl.DataFrame,
    own: str | None,
    the_period: str | None,
) -> tuple[tuple[OutlookNote, ...], int]:
    """Year-end outlooks of the region's indicators that have a target; those at risk, least likely first.

    Each indicator is forecast from its own history up to its period in the bulletin (never from
    later rows: a bulletin for an earlier month says what was foreseeable then), with the model
    of the overview's outlook (:func:`metrics.models.forecast.forecast_year_end`). An outlook for
    another year than the bulletin's (last December's figure in a January bulletin) is left out.
    Returns the notes and how many indicators were forecast.
    """
    from metrics.views import outlook_of

    wanted = [
        r
        for r in reports
        if r.period is not None
        and r.own is not None
        and r.own.value is not None
        and cat.indicators[r.indicator].target is not None
    ]
    if not wanted or not rows.height or the_period is None:
        return (), 0
    year = periods.year_of(the_period)
    where = pl.col("region").is_null() if own is None else pl.col("region") == own
    mine = rows.filter(
        pl.col("indicator").is_in([r.indicator for r in wanted])
        & where
        & pl.col("department").is_null()
        & pl.col("value").is_not_null()
    )
    checked = 0
    found: list[tuple[float, int, OutlookNote]] = []
    for k, r in enumerate(wanted):
        assert r.period is not None and r.own is not None
        ind = cat.indicators[r.indicator]
        upto = periods.ordinal(r.period)
        series = mine.filter(pl.col("indicator") == r.indicator)
        keep = [p for p in series["period"].unique().to_list() if periods.ordinal(p) <= upto]
        series = series.filter(pl.col("period").is_in(keep))
        if series.height < MIN_OUTLOOK_ROWS:
            continue
        o = outlook_of(cat, ind, series, own)
        if o is None or o.probability is None or periods.year_of(o.period) != year:
            continue
        checked += 1
        if o.probability >= AT_RISK:
            continue
        note = OutlookNote(
            indicator=ind.id,
            name=ind.name,
            domain=r.domain,
            unit=r.unit,
            period=r.period,
            period_label=r.period_label,
            value=r.own.value,
            target=o.target,
            year_end=o.period,
            mean=o.mean,
            lower=o.lower,
            upper=o.upper,
            probability=o.probability,
            horizon=o.horizon,
            text=o.explanation,
            url=r.url,
        )
        found.append((o.probability, k, note))
    found.sort(key=lambda f: f[:2])
    return tuple(f[2] for f in found), checked


def _trends(
    reports: list[IndicatorReport],
    outlook: tuple[OutlookNote, ...],
    by_key: Mapping[tuple[str, str, str | None, str | None], Mapping[str, Any]],
    own: str | None,
    region_name: str,
    grains: Mapping[str, str],
    limit: int = MAX_CHARTS,
) -> tuple[Trend, ...]:
    """The indicators worth a chart: the region's own red, then yellow, then those at risk of
    missing the year's target (least likely first); at most ``limit``, each with at least two
    values among its last :data:`TREND_PERIODS` periods."""
    by_id = {r.indicator: r for r in reports}
    chosen: list[tuple[IndicatorReport, str]] = []
    for status in FLAGGED:  # five-light: 蓝 (过冷) beside 红, 浅蓝 beside 黄
        chosen += [(r, status) for r in reports if r.period and r.own is not None and r.own.status == status]
    seen = {r.indicator for r, _ in chosen}
    chosen += [(by_id[o.indicator], "outlook") for o in outlook if o.indicator not in seen]
    out: list[Trend] = []
    for r, why in chosen:
        if len(out) >= limit:
            break
        assert r.period is not None and r.own is not None
        ps = [periods.shift(r.period, -k) for k in range(TREND_PERIODS - 1, -1, -1)]
        values: list[float | None] = []
        for p in ps:
            row = by_key.get((r.indicator, p, own, None))
            v = _finite(row["value"]) if row is not None else None
            values.append(v)
        while values and values[0] is None:  # before the series begins
            ps, values = ps[1:], values[1:]
        if sum(v is not None for v in values) < 2:
            continue
        out.append(
            Trend(
                indicator=r.indicator,
                name=r.name,
                unit=r.unit,
                region_name=region_name,
                grain=grains.get(r.indicator, "month"),
                points=tuple(zip(ps, values, strict=True)),
                target=r.own.target,
                status=r.own.status,
                why=why,
            )
        )
    return tuple(out)


def _counts(reports: list[IndicatorReport]) -> dict[str, int]:
    counts = {"green": 0, "yellow": 0, "red": 0, "lightblue": 0, "blue": 0, "none": 0, "missing": 0}
    for r in reports:
        if r.own is None or r.own.value is None:
            counts["missing"] += 1
        else:
            counts[r.own.status or "none"] = counts.get(r.own.status or "none", 0) + 1
    return counts


def _with_summary(b: Bulletin, show_departments: bool) -> Bulletin:
    """总体情况: how many indicators are green / yellow / red, over how many regions."""
    c = b.counts
    n = len(b.indicators)
    head = f"{b.period_label}，" if b.period else ""
    where = f"{b.region_name}层面" if b.region_name else "总体上"
    lights = [f"{LIGHT_WORD[s]}{c[s]}项" for s in ("green", "yellow", "red", "lightblue", "blue") if c.get(s)]
    s = f"{head}纳入本期通报的指标共{n}项。{where}，" if n else f"{head}本期通报没有可纳入的指标。"
    if n:
        s += "、".join(lights) if lights else "各项指标均未设评价标准"
        if c.get("none") and lights:
            s += f"，另有{c['none']}项未设评价标准"
        if c.get("missing"):
            s += f"，{c['missing']}项本期暂无数据"
        s += "。"
    if b.n_regions:
        reds = [f for f in b.flags if f.kind == "region" and f.subject != b.region and f.status == "red"]
        yellows = [
            f for f in b.flags if f.kind == "region" and f.subject != b.region and f.status == "yellow"
        ]
        cold = [
            sum(1 for f in b.flags if f.kind == "region" and f.subject != b.region and f.status == c)
            for c in ("blue", "lightblue")
        ]
        s += f"从下辖{b.n_regions}个地区看，" + _lights_count(
            len(reds), len(yellows), "（按指标×地区计）", *cold
        )
        if len(reds) >= 2:
            per: dict[str, int] = {}
            for f in reds:
                per[f.subject_name] = per.get(f.subject_name, 0) + 1
            top = max(per.values())
            names = [k for k, v in per.items() if v == top]
            s += (
                f"，红灯最多的是{'、'.join(names)}（各{top}个）"
                if len(names) > 1
                else f"，红灯最多的是{names[0]}（{top}个）"
            )
        s += "。"
    if show_departments and any(r.departments for r in b.indicators):
        dr = sum(1 for f in b.flags if f.kind == "department" and f.status == "red")
        dy = sum(1 for f in b.flags if f.kind == "department" and f.status == "yellow")
        s += "各部门" + _lights_count(dr, dy, "") + "。"
    if b.outlook:
        s += f"按当前趋势，{len(b.outlook)}项指标年底达到目标的概率低于50%。"
    tail = []
    if b.anomalies:
        tail.append(f"异常波动{len(b.anomalies)}项")
    if b.alerts:
        tail.append(f"需关注的预警事项{len(b.alerts)}项")
    if tail:
        s += f"本期监测到{'、'.join(tail)}，详见下文。"
    return replace(b, summary=s)


def _lights_count(red: int, yellow: int, unit_note: str, blue: int = 0, lightblue: int = 0) -> str:
    if not red and not yellow and not blue and not lightblue:
        return "均无红灯、黄灯"
    counted = (("红灯", red), ("黄灯", yellow), ("蓝灯", blue), ("浅蓝灯", lightblue))
    parts = [f"{word}共{n}个" for word, n in counted if n]
    return "、".join(parts) + unit_note


def _notes(plan: _Plan, reports: list[IndicatorReport], outlooks: int = 0) -> tuple[str, ...]:
    notes = [
        "同比、环比：单位为%的比率类指标为与比较期的差值，以“个百分点”表示；其他指标为增减幅度（%）。"
        "累计指标只比同比，不比环比。",
        "排名按各指标的方向排列，第1位为最好；位次变化为与上期排名相比，↑为上升、↓为下降。",
        "红黄绿灯按各指标的阈值判定；景气监测指标按五色灯：红（过热）、黄（偏热）、绿（正常）、浅蓝（偏冷）、蓝（过冷）。",
        "各指标按其自身的统计周期取最近一期数据，数据期以指标后标注为准。",
    ]
    if plan.excluded:
        finer = sorted({grain_of({i.id: i for i in plan.excluded}, i.id) or "" for i in plan.excluded})
        words = "、".join(f"按{GRAIN_WORD.get(g, g)}" for g in finer if g)
        names = "、".join(i.name for i in plan.excluded)
        notes.append(
            f"本通报按{GRAIN_WORD[plan.grain]}编制，{words}统计的指标（{names}）未纳入，见相应的快报或周报。"
        )
    if outlooks:
        notes.append(
            "年底目标预判：按各指标截至本期的数据预测年底值（90%预测区间），达标概率为年底值达到"
            "当年目标的概率，仅列出低于50%的指标；预测仅供参考。"
        )
    failed = [r.name for r in reports if r.failed]
    if failed:
        notes.append(f"以下指标因数据源故障本期未能计算：{'、'.join(failed)}。")
    notes.append("点击指标或地区名称可打开驾驶舱的对应页面。")
    return tuple(notes)


# ----------------------------------------------------------------- layout


@dataclass(frozen=True)
class Run:
    """A piece of text: optionally a link, a status (a coloured marker in HTML) or bold."""

    text: str
    url: str | None = None
    status: str | None = None
    bold: bool = False


@dataclass(frozen=True)
class Paragraph:
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    align: str  # one letter per column: l, r or c
    rows: tuple[tuple[Run, ...], ...]
    caption: str | None = None
    emphasis: tuple[bool, ...] = ()  # per row: the region's own line


@dataclass(frozen=True)
class Items:
    items: tuple[Paragraph, ...]


@dataclass(frozen=True)
class Figure:
    """A trend chart: drawn in HTML (inline SVG), left out of Markdown."""

    trend: Trend
    caption: str


Block = Paragraph | Table | Items | Figure


@dataclass(frozen=True)
class Section:
    title: tuple[Run, ...]
    level: int  # 2: 一、…; 3: （一）…
    blocks: tuple[Block, ...] = ()
    sections: tuple[Section, ...] = ()


def _p(*parts: str | Run) -> Paragraph:
    return Paragraph(tuple(Run(x) if isinstance(x, str) else x for x in parts))


def _ranking_table(r: IndicatorReport) -> Table | None:
    lines: list[tuple[Run, ...]] = []
    emphasis: list[bool] = []
    u = r.unit

    def line(e: Entry, rank: str, own: bool) -> tuple[Run, ...]:
        return (
            Run(rank),
            Run(e.name, url=e.url, bold=own),
            Run(fmt_value(e.value, u)),
            Run(fmt_value(e.target, u)),
            Run(status_text(e.status, r.five_light), status=e.status),
            Run(fmt_change(e.yoy, u)),
            Run("—" if r.cumulative else fmt_change(e.mom, u)),
            Run("—" if own else rank_change_text(e.rank_change)),
        )

    if r.own is not None and r.regions:
        lines.append(line(r.own, "—", True))
        emphasis.append(True)
    for e in r.regions:
        lines.append(line(e, "—" if e.rank is None else str(e.rank), False))
        emphasis.append(False)
    if not lines:
        return None
    headers = ("排名", "地区", "数值", "目标", "状态", "同比", "环比", "位次变化")
    return Table(headers, "clrrcrrc", tuple(lines), None, tuple(emphasis))


def _department_table(r: IndicatorReport) -> Table | None:
    if not r.departments:
        return None
    u = r.unit
    rows = tuple(
        (
            Run("—" if e.rank is None else str(e.rank)),
            Run(e.name),
            Run(fmt_value(e.value, u)),
            Run(status_text(e.status, r.five_light), status=e.status),
            Run(fmt_change(e.yoy, u)),
            Run("—" if r.cumulative else fmt_change(e.mom, u)),
            Run(rank_change_text(e.rank_change)),
        )
        for e in r.departments
    )
    return Table(("排名", "部门", "数值", "状态", "同比", "环比", "位次变化"), "clrcrrc", rows, "部门排名")


def trend_caption(t: Trend) -> str:
    """``示范市全程网办率近13个月走势（%，虚线为目标90%）``."""
    n = len(t.points)
    extra = [t.unit] if t.unit else []
    if t.target is not None:
        extra.append(f"虚线为目标{fmt_value(t.target, t.unit)}")
    tail = f"（{'，'.join(extra)}）" if extra else ""
    return f"{t.region_name}{t.name}近{n}{TREND_WORD.get(t.grain, '期')}走势{tail}"


def _outlook_blocks(b: Bulletin) -> tuple[Block, ...]:
    if not b.outlook_checked:
        return (_p("本期纳入通报的指标均未设年度目标，或历史数据不足，未作年底预判。"),)
    n = b.outlook_checked
    if not b.outlook:
        return (_p(f"按当前趋势测算有年度目标的指标{n}项，年底达到目标的概率均不低于50%。"),)
    head = _p(
        f"按当前趋势测算有年度目标的指标{n}项，其中{len(b.outlook)}项年底达到目标的概率低于50%，"
        "按概率从低到高列出。"
    )
    items = []
    for o in b.outlook:
        tail = f"（{o.period_label}为{fmt_value(o.value, o.unit)}）。" if o.horizon > 0 else "。"
        items.append(_p(Run(o.text, url=o.url), Run(tail)))
    return (head, Items(tuple(items)))


def outline(b: Bulletin) -> tuple[Section, ...]:
    """The bulletin as numbered sections of paragraphs, tables, items and (HTML) figures."""
    charts = {t.indicator: t for t in b.trends}
    out: list[Section] = [Section((Run("总体情况"),), 2, (_p(b.summary),))]
    for d in b.domains:
        subs = []
        for k, r in enumerate(d.indicators, start=1):
            blocks: list[Block] = [_p(r.text)]
            if r.indicator in charts:
                blocks.append(Figure(charts[r.indicator], trend_caption(charts[r.indicator])))
            t = _ranking_table(r)
            if t is None and r.own is not None:
                t = Table(
                    ("地区", "数值", "目标", "状态", "同比", "环比"),
                    "lrrcrr",
                    (
                        (
                            Run(r.own.name or "—", url=r.own.url),
                            Run(fmt_value(r.own.value, r.unit)),
                            Run(fmt_value(r.own.target, r.unit)),
                            Run(status_text(r.own.status, r.five_light), status=r.own.status),
                            Run(fmt_change(r.own.yoy, r.unit)),
                            Run("—" if r.cumulative else fmt_change(r.own.mom, r.unit)),
                        ),
                    ),
                )
            if t is not None:
                blocks.append(t)
            dt_ = _department_table(r)
            if dt_ is not None:
                blocks.append(dt_)
            title = [Run(f"（{cn_number(k)}）"), Run(r.name, url=r.url)]
            if r.unit:
                title.append(Run(f"（{r.unit}）"))
            if r.period_label:
                title.append(Run(f" · {r.period_label}"))
            subs.append(Section(tuple(title), 3, tuple(blocks)))
        out.append(Section((Run(d.domain),), 2, (), tuple(subs)))

    if b.flags:
        rows = tuple(
            (
                Run(f.domain),
                Run(f.name, url=f.url),
                Run(f.subject_name + ("（部门）" if f.kind == "department" else ""), url=f.url),
                Run(f.period_label),
                Run(fmt_value(f.value, f.unit)),
                Run(fmt_value(f.target, f.unit)),
                Run(status_text(f.status, f.five_light), status=f.status),
            )
            for f in b.flags
        )
        n = {st: sum(1 for f in b.flags if f.status == st) for st in FLAGGED}
        cold = "".join(f"、{LIGHT_WORD[st]}{n[st]}个" for st in ("blue", "lightblue") if n[st])
        order = "红灯、蓝灯、黄灯、浅蓝灯" if cold else "红灯、黄灯"
        head = _p(f"本期红灯{n['red']}个、黄灯{n['yellow']}个{cold}，按{order}和指标顺序列出。")
        flag_blocks: tuple[Block, ...] = (
            head,
            Table(("领域", "指标", "地区/部门", "期间", "数值", "目标", "状态"), "lllrrrc", rows),
        )
    else:
        flag_blocks = (_p("本期无红灯、黄灯指标。"),)
    out.append(Section((Run("红黄灯情况"),), 2, flag_blocks))
    out.append(Section((Run(OUTLOOK_TITLE),), 2, _outlook_blocks(b)))

    if b.movers:
        rows = tuple(
            (
                Run(str(k)),
                Run(m.name, url=m.url),
                Run(m.subject_name + ("（部门）" if m.kind == "department" else ""), url=m.url),
                Run(m.period_label),
                Run(fmt_value(m.value, m.unit)),
                Run(fmt_change(m.yoy, m.unit)),
            )
            for k, m in enumerate(b.movers, start=1)
        )
        move_blocks: tuple[Block, ...] = (
            _p("按同比变动幅度排列（比率类指标为个百分点，其他指标为百分比）。"),
            Table(("序号", "指标", "地区/部门", "期间", "数值", "同比"), "cllrrr", rows),
        )
    else:
        move_blocks = (_p("本期无可比的同比变动。"),)
    out.append(Section((Run("变动较大的指标"),), 2, move_blocks))

    if b.anomalies:
        items = tuple(
            _p(Run(f"【{FINDING_KIND.get(a.kind, a.kind)}】"), Run(a.text, url=a.url)) for a in b.anomalies
        )
        anomaly_blocks: tuple[Block, ...] = (Items(items),)
    else:
        anomaly_blocks = (_p("本期未监测到异常波动。"),)
    out.append(Section((Run("异常波动"),), 2, anomaly_blocks))

    if b.alerts:
        alert_items = tuple(
            _p(Run(f"{a.region_name}{a.name}（{a.period_label}）：", url=a.url), Run(a.alert.text))
            for a in b.alerts
        )
        alert_blocks: tuple[Block, ...] = (Items(alert_items),)
    else:
        alert_blocks = (_p(NO_ALERTS),)
    out.append(Section((Run("需关注的预警事项"),), 2, alert_blocks))

    out.append(Section((Run("说明"),), 2, (Items(tuple(_p(n) for n in b.notes)),)))
    return tuple(
        Section((Run(f"{cn_number(k)}、"), *s.title), s.level, s.blocks, s.sections)
        for k, s in enumerate(out, 1)
    )


# ----------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def _md_text(s: str) -> str:
    """Text safe in Markdown: no raw HTML, no accidental emphasis, links or table cells."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(s.split()))


def _md_run(r: Run) -> str:
    t = _md_text(r.text)
    if r.bold and t:
        t = f"**{t}**"
    if r.url:
        t = f"[{t}](<{r.url}>)" if " " in r.url else f"[{t}]({r.url})"
    return t


def _md_runs(runs: Iterable[Run]) -> str:
    return "".join(_md_run(r) for r in runs)


def _md_table(t: Table) -> list[str]:
    out = []
    if t.caption:
        out += [f"**{_md_text(t.caption)}**", ""]
    out.append("| " + " | ".join(_md_text(h) for h in t.headers) + " |")
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    out.append("| " + " | ".join(marks[a] for a in t.align) + " |")
    for row in t.rows:
        out.append("| " + " | ".join(_md_run(c) or " " for c in row) + " |")
    return out


def _md_section(s: Section) -> list[str]:
    out = ["#" * s.level + " " + _md_runs(s.title), ""]
    for blk in s.blocks:
        if isinstance(blk, Paragraph):
            out += [_md_runs(blk.runs), ""]
        elif isinstance(blk, Table):
            out += [*_md_table(blk), ""]
        elif isinstance(blk, Figure):
            continue  # Markdown stays text: the chart is in the HTML only
        else:
            out += [*(f"{k}. {_md_runs(p.runs)}" for k, p in enumerate(blk.items, 1)), ""]
    for sub in s.sections:
        out += _md_section(sub)
    return out


def render_markdown(b: Bulletin) -> str:
    meta = [f"**{_md_text(b.period_label)}**"]
    if b.region_name:
        meta.append(_md_text(b.region_name) + (f" · 下辖{b.n_regions}个地区" if b.n_regions else ""))
    if b.generated:
        meta.append(f"{b.generated}印发")
    out = [f"# {_md_text(b.title)}", "", " · ".join(meta), ""]
    for s in outline(b):
        out += _md_section(s)
    return "\n".join(out).rstrip("\n") + "\n"


# ----------------------------------------------------------------- charts (HTML only)

CHART_FONT = "Noto Sans CJK SC"  # what vl-convert measures text with (Debian's fonts-noto-cjk)
CHART_LINE, CHART_TARGET, CHART_GRID = "#1f5fbf", "#86909c", "#eef0f3"


def _axis_labels(ps: Sequence[str]) -> dict[str, str]:
    """Short x labels: ``2025年11月``, ``12月``, ``2026年1月``, ``2月`` … (the year where it changes).

    Falls back to the period itself where short labels would repeat (13 quarters hold two Q4s).
    """
    out: dict[str, str] = {}
    last_year = None
    for p in ps:
        g = periods.grain_of(p)
        y = periods.year_of(p)
        head = f"{y}年" if y != last_year else ""
        last_year = y
        if g == "month":
            out[p] = f"{head}{int(p[5:7])}月"
        elif g == "quarter":
            out[p] = f"{head}Q{p[-1]}"
        elif g == "week":
            out[p] = f"{head}第{int(p.split('-W')[1])}周"
        elif g == "day":
            d = periods.start(p)
            out[p] = f"{d.month}月{d.day}日"
        else:
            out[p] = p
    if len(set(out.values())) < len(out):
        out = {p: p for p in ps}
    return out


def trend_spec(t: Trend) -> dict[str, object]:
    """The Vega-Lite spec of a trend chart: the values, a dashed target line, the last value marked."""
    import json

    rows = [{"p": p, "v": v} for p, v in t.points]
    last_p, last_v = t.points[-1]
    mark = STATUS_COLOR.get(t.status or "", CHART_LINE)
    labels = json.dumps(_axis_labels([p for p, _ in t.points]), ensure_ascii=False)
    unit = t.unit if len(t.unit) <= 3 else ""  # 上年同月=100 is in the caption, not on every label
    x = {
        "field": "p",
        "type": "ordinal",
        "sort": None,
        "title": None,
        "axis": {"labelAngle": 0, "labelExpr": f"{labels}[datum.value]"},
    }
    y = {"field": "v", "type": "quantitative", "title": None, "scale": {"zero": False, "nice": True}}
    layers: list[dict[str, object]] = [
        {
            "data": {"values": rows},
            "mark": {
                "type": "line",
                "color": CHART_LINE,
                "strokeWidth": 2,
                "invalid": "break-paths-filter-domains",  # a gap breaks the line
            },
            "encoding": {"x": x, "y": y},
        },
        {
            "data": {"values": rows},
            "transform": [{"filter": "isValid(datum.v)"}],
            "mark": {"type": "point", "filled": True, "size": 22, "color": CHART_LINE, "opacity": 1},
            "encoding": {"x": x, "y": y},
        },
    ]
    if t.target is not None:
        tgt = [{"t": float(t.target), "label": f"目标 {fmt_value(t.target, unit)}"}]
        layers.append(
            {
                "data": {"values": tgt},
                "mark": {"type": "rule", "color": CHART_TARGET, "strokeDash": [5, 4], "strokeWidth": 1.2},
                "encoding": {"y": {"field": "t", "type": "quantitative"}},
            }
        )
        layers.append(
            {
                "data": {"values": tgt},
                "mark": {
                    "type": "text",
                    "align": "left",
                    "dx": 3,
                    "dy": -6,
                    "color": CHART_TARGET,
                    "fontSize": 10,
                },
                "encoding": {
                    "y": {"field": "t", "type": "quantitative"},
                    "x": {"value": 0},
                    "text": {"field": "label"},
                },
            }
        )
    if last_v is not None:
        last = [{"p": last_p, "v": last_v, "label": fmt_value(last_v, unit)}]
        layers.append(
            {
                "data": {"values": last},
                "mark": {"type": "point", "filled": True, "size": 64, "color": mark, "opacity": 1},
                "encoding": {"x": x, "y": y},
            }
        )
        layers.append(
            {
                "data": {"values": last},
                "mark": {
                    "type": "text",
                    "align": "right",
                    "dx": -6,
                    "dy": -9,
                    "color": mark,
                    "fontSize": 11,
                    "fontWeight": "bold",
                },
                "encoding": {"x": x, "y": y, "text": {"field": "label"}},
            }
        )
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "width": 520,
        "height": 120,
        "padding": 4,
        "layer": layers,
        "config": {
            "font": CHART_FONT,
            "view": {"stroke": None},
            "axis": {
                "labelColor": "#4e5969",
                "labelFontSize": 10,
                "gridColor": CHART_GRID,
                "domainColor": "#c9cdd4",
                "tickColor": "#c9cdd4",
            },
            "axisY": {"tickCount": 4},
        },
    }


@lru_cache(maxsize=64)
def trend_svg(t: Trend) -> str:
    """The trend chart as an SVG element (vl-convert, in-process, no network), or ``""`` if it
    cannot be drawn: a chart is a nicety and the bulletin goes without it.

    vl-convert's SVG is byte-stable (the same spec gives the same bytes, in any order and in any
    process), carries no ids to collide between charts on one page, and escapes its text.
    """
    try:
        import vl_convert

        svg = vl_convert.vegalite_to_svg(trend_spec(t))
    except Exception:
        return ""
    name = html_escape(trend_caption(t), quote=True)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{name}" ', 1).strip()


# ----------------------------------------------------------------- HTML

_HTML = """\
<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ b.title }} · {{ b.period_label }}</title>
<style>
  @page { size: A4; margin: 16mm 14mm; }
  * { box-sizing: border-box; }
  body { margin: 0 auto; max-width: 210mm; padding: 16px; color: #1f2328; background: #fff;
         font: 15px/1.7 "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
  header { text-align: center; border-bottom: 2px solid #c00000; padding-bottom: 8px; margin-bottom: 16px; }
  h1 { color: #c00000; font-size: 1.55em; margin: .3em 0; letter-spacing: .05em; }
  .meta { color: #555; font-size: .95em; }
  h2 { font-size: 1.2em; margin: 1.4em 0 .5em; border-left: 4px solid #c00000; padding-left: 8px; }
  h3 { font-size: 1.05em; margin: 1.1em 0 .4em; }
  p { margin: .4em 0; text-align: justify; }
  a { color: #0b57d0; text-decoration: none; }
  .wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; margin: .4em 0 .8em; }
  table { border-collapse: collapse; width: 100%; font-size: .9em; }
  caption { text-align: left; font-weight: 600; padding: 2px 0; }
  th, td { border: 1px solid #d0d7de; padding: 3px 6px; white-space: nowrap; }
  th { background: #f3f4f6; font-weight: 600; }
  td.r { text-align: right; font-variant-numeric: tabular-nums; }
  td.c { text-align: center; }
  tr.own td { background: #fafafa; font-weight: 600; }
  .light { display: inline-block; width: .75em; height: .75em; border-radius: 50%; margin-right: .3em;
           vertical-align: -.05em; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  ol { padding-left: 1.6em; margin: .4em 0; }
  figure.chart { margin: .3em 0 .6em; }
  figure.chart svg { display: block; width: 100%; max-width: 540px; height: auto; }
  figure.chart svg text { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
  figcaption { color: #555; font-size: .85em; }
  @media (max-width: 600px) { body { padding: 10px; font-size: 14px; } th, td { padding: 2px 4px; } }
  @media print {
    body { max-width: none; padding: 0; font-size: 10.5pt; }
    a { color: inherit; }
    .wrap { overflow: visible; }
    th, td { white-space: normal; }
    h2, h3 { break-after: avoid; page-break-after: avoid; }
    tr, li, figure { break-inside: avoid; page-break-inside: avoid; }
  }
</style>
</head>
<body>
{%- macro run(r) -%}
{%- set inner -%}
{%- if r.status %}<span class="light" style="background:{{ colors.get(r.status, '#999') }}"></span>{% endif -%}
{%- if r.bold %}<strong>{{ r.text }}</strong>{% else %}{{ r.text }}{% endif -%}
{%- endset -%}
{%- if r.url %}<a href="{{ r.url }}">{{ inner }}</a>{% else %}{{ inner }}{% endif -%}
{%- endmacro -%}
{%- macro runs(rs) -%}{%- for r in rs %}{{ run(r) }}{% endfor -%}{%- endmacro -%}
{%- macro section(s) %}
<section>
<h{{ s.level }}>{{ runs(s.title) }}</h{{ s.level }}>
{%- for blk in s.blocks %}
{%- if blk.runs is defined %}
<p>{{ runs(blk.runs) }}</p>
{%- elif blk.trend is defined %}
{%- set svg = chart(blk.trend) %}
{%- if svg %}
<figure class="chart">{{ svg }}<figcaption>{{ blk.caption }}</figcaption></figure>
{%- endif %}
{%- elif blk.headers is defined %}
<div class="wrap"><table>
{%- if blk.caption %}<caption>{{ blk.caption }}</caption>{% endif %}
<thead><tr>{% for h in blk.headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>
{%- for row in blk.rows %}
<tr{% if blk.emphasis and blk.emphasis[loop.index0] %} class="own"{% endif %}>
{%- for c in row %}<td class="{{ blk.align[loop.index0] }}">{{ run(c) }}</td>{% endfor %}</tr>
{%- endfor %}
</tbody></table></div>
{%- else %}
<ol>
{%- for p in blk.items %}
<li>{{ runs(p.runs) }}</li>
{%- endfor %}
</ol>
{%- endif %}
{%- endfor %}
{%- for sub in s.sections %}{{ section(sub) }}{% endfor %}
</section>
{%- endmacro %}
<header>
<h1>{{ b.title }}</h1>
<div class="meta">{{ b.period_label }}
{%- if b.region_name %} · {{ b.region_name }}{% if b.n_regions %} · 下辖{{ b.n_regions }}个地区{% endif %}{% endif %}
{%- if b.generated %} · {{ b.generated }}印发{% endif %}</div>
</header>
<main>
{%- for s in sections %}{{ section(s) }}{% endfor %}
</main>
</body>
</html>
"""


def render_html(b: Bulletin) -> str:
    """One self-contained page: inline CSS, the trend charts as inline SVG, no script."""
    import jinja2
    import markupsafe

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    tpl = env.from_string(_HTML)

    def chart(t: Trend) -> markupsafe.Markup:
        return markupsafe.Markup(trend_svg(t))  # vl-convert's SVG, its text escaped by Vega

    return tpl.render(b=b, sections=outline(b), colors=STATUS_COLOR, chart=chart)


def render(b: Bulletin, fmt: str) -> str:
    """The bulletin as ``md`` (GitHub-flavoured Markdown) or ``html`` (one self-contained page)."""
    if fmt in ("md", "markdown"):
        return render_markdown(b)
    if fmt == "html":
        return render_html(b)
    raise ValueError(f"unknown bulletin format {fmt!r} (md or html)")
