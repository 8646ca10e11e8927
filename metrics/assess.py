"""Assessments (指标考核, contract section 11): score subjects on weighted items, rank them.

An item's points are ``weight × clamp((value − floor) / (target − floor), 0, 1)``: the
share of the way from the floor (no points) to the target (full points). The same formula
serves both directions, since a ``lower_better`` item has its floor above its target. The
values are the indicator rows of contract section 5 (:class:`metrics.engine.Engine`).

Beyond the contract's JSON, every :class:`SubjectScore` says where its points were lost
(:attr:`ItemScore.lost`), how its rank moved since the previous period
(:attr:`SubjectScore.rank_change`) and what it takes to reach the next rank
(:attr:`SubjectScore.catch_up`), for the pages.

Examples
--------
>>> item_points(88.0, weight=30, floor=60, target=90)
28.0
>>> item_points(2.5, weight=20, floor=8, target=3)   # lower_better: beyond the target
20.0
>>> item_points(None, weight=20, floor=8, target=3)  # no value: no points
0.0
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from . import periods
from .access import OPEN, Scope
from .catalogue import spec
from .catalogue.load import Catalogue
from .format import fmt_value

# Scores are sums of doubles; two subjects whose scores differ by less than this share a rank
# (the order in which the same points were added must not decide a ranking).
_TIE = 1e-9


@dataclass(frozen=True)
class ItemScore:
    """One item of one subject in one period."""

    indicator: str
    weight: float
    floor: float
    target: float  # the subject's own target where it has one (逐项分解), else the item's
    value: float | None
    points: float

    @property
    def lost(self) -> float:
        """Points lost on this item: ``weight − points``."""
        return self.weight - self.points

    def to_record(self) -> dict[str, object]:
        return {
            "indicator": self.indicator,
            "value": self.value,
            "target": self.target,
            "points": self.points,
        }


@dataclass(frozen=True)
class Move:
    """One item's improvement in a catch-up plan: the value to reach and the points it adds."""

    indicator: str
    value: float | None  # today's value (None: no value this period)
    needed: float  # the value that earns the points
    gain: float  # points added


@dataclass(frozen=True)
class CatchUp:
    """What it takes to reach the next rank up: ``gap`` points, e.g. by ``moves``."""

    rank: int  # the rank to reach (the subject ranked just above)
    gap: float  # score difference to that subject; reaching it ties, and ties share the rank
    moves: tuple[Move, ...]  # one item when one item can close the gap, else the fewest needed
    text: str  # 追上第2名需再得 3.2 分，例如全程网办率提高到 91.5%


@dataclass(frozen=True)
class SubjectScore:
    """One object of ``cockpit assess``: an assessment × period × subject."""

    assessment: str
    period: str
    region: str | None
    department: str | None
    score: float
    rank: int
    items: tuple[ItemScore, ...]
    previous_rank: int | None = None  # rank in the period just before, where it was scored
    catch_up: CatchUp | None = None  # None for a subject ranked first

    @property
    def subject(self) -> str | None:
        """The subject's id: the department for ``departments`` subjects, else the region."""
        return self.department if self.department is not None else self.region

    @property
    def rank_change(self) -> int | None:
        """Places gained since the previous period (positive: moved up); None without one."""
        return None if self.previous_rank is None else self.previous_rank - self.rank

    @property
    def lost(self) -> tuple[ItemScore, ...]:
        """The items that lost points, the largest loss first."""
        return tuple(sorted((i for i in self.items if i.lost > _TIE), key=lambda i: -i.lost))

    def to_record(self) -> dict[str, object]:
        """Exactly the contract's JSON object (section 11)."""
        return {
            "assessment": self.assessment,
            "period": self.period,
            "region": self.region,
            "department": self.department,
            "score": self.score,
            "rank": self.rank,
            "items": [i.to_record() for i in self.items],
        }


# ----------------------------------------------------------------- the formula


def item_points(
    value: float | None, weight: float, floor: float, target: float, direction: str = "higher_better"
) -> float:
    """``weight × clamp((value − floor) / (target − floor), 0, 1)``; no value scores 0.

    ``target == floor`` (refused by validation, but a subject's own target could still be given
    so by a program) is a step: full points when the value reaches the target in the
    indicator's ``direction``, none otherwise.
    """
    if value is None or not math.isfinite(value):
        return 0.0
    w, f, t = float(weight), float(floor), float(target)
    if t == f:
        met = value >= t if direction != "lower_better" else value <= t
        return w if met else 0.0
    share = (value - f) / (t - f)
    return w * min(max(share, 0.0), 1.0)


def competition_ranks(scores: list[float]) -> list[int]:
    """1 for the highest; ties share the smaller rank (1, 2, 2, 4)."""
    out = []
    for s in scores:
        out.append(1 + sum(1 for o in scores if o > s + _TIE))
    return out


# ----------------------------------------------------------------- subjects and values


def subjects_of(cat: Catalogue, assessment: spec.Assessment) -> list[tuple[str | None, str | None]]:
    """The (region, department) of every subject, in catalogue order.

    ``regions``: the root's children, ``department: None``. ``departments``: every department
    of ``org.departments``, with the root's region id (None without a region tree).
    """
    if assessment.subjects == "departments":
        return [(cat.root, d.id) for d in cat.config.org.departments]
    if cat.tree is None:
        return []
    return [(rid, None) for rid in cat.tree.children(cat.tree.root)]


def needed_indicators(assessments: Iterable[spec.Assessment]) -> list[str]:
    """The indicators the assessments' items use, each once, in order of first use."""
    return list(dict.fromkeys(item.indicator for a in assessments for item in a.items))


def visible_to(cat: Catalogue, assessment: spec.Assessment, scope: Scope) -> bool:
    """Whether a user may see this assessment at all: every item's indicator in their domains.

    A score is a sum over its items: showing it to a user limited to some domains would
    reveal the items outside them.
    """
    return all(
        item.indicator in cat.indicators and scope.sees_indicator(cat.indicators[item.indicator])
        for item in assessment.items
    )


def _sees_subject(scope: Scope, region: str | None, department: str | None) -> bool:
    if department is not None:
        return scope.regions is None or scope.departments
    return scope.sees_region(region)


def _values(
    rows: pl.DataFrame, ids: list[str]
) -> tuple[dict[tuple[str, str, str | None, str | None], float | None], dict[str, set[str]]]:
    """Every row's value by (indicator, period, region, department), and each indicator's periods."""
    want = rows.filter(pl.col("indicator").is_in(ids)).select(
        "indicator", "period", "region", "department", "value"
    )
    values: dict[tuple[str, str, str | None, str | None], float | None] = {}
    seen: dict[str, set[str]] = defaultdict(set)
    for ind, p, r, d, v in want.iter_rows():
        values[(ind, p, r, d)] = None if v is None or not math.isfinite(v) else float(v)
        seen[ind].add(p)
    return values, seen


# ----------------------------------------------------------------- scoring


def score(
    cat: Catalogue,
    rows: pl.DataFrame,
    assessment: spec.Assessment | str,
    period: str | None = None,
    scope: Scope = OPEN,
) -> list[SubjectScore]:
    """Score one assessment's subjects on the engine's ``rows`` (contract section 11).

    ``rows`` are :class:`metrics.engine.Engine` rows over ALL regions (not filtered by a
    scope, and over every period: the previous period gives the change in rank). Without
    ``period`` every period in which any item's indicator has a row is scored. Ranks are
    computed over all subjects; ``scope`` then keeps the subjects the user may see (section
    9), and an assessment with an item outside the user's domains yields nothing.

    Returns the subjects sorted by period, then region and department id (``cockpit
    compute``'s order).
    """
    a = assessment if isinstance(assessment, spec.Assessment) else _find(cat, assessment)
    if not visible_to(cat, a, scope):
        return []
    ids = needed_indicators([a])
    values, seen = _values(rows, ids)
    all_periods = sorted(set().union(*(seen.get(i, set()) for i in ids)))
    subjects = subjects_of(cat, a)
    by_period: dict[str, list[SubjectScore]] = {}
    for p in all_periods:
        by_period[p] = _score_period(cat, a, p, subjects, values)
    out: list[SubjectScore] = []
    for p in all_periods:
        if period is not None and p != period:
            continue
        before = {s.subject: s.rank for s in by_period.get(periods.previous(p), [])}
        scored = by_period[p]
        for s in scored:
            if not _sees_subject(scope, s.region, s.department):
                continue
            out.append(
                SubjectScore(
                    s.assessment,
                    s.period,
                    s.region,
                    s.department,
                    s.score,
                    s.rank,
                    s.items,
                    previous_rank=before.get(s.subject),
                    catch_up=catch_up(cat, a, s, scored),
                )
            )
    return sorted(out, key=lambda s: (s.period, s.region or "", s.department or ""))


def score_all(
    cat: Catalogue,
    rows: pl.DataFrame,
    assessments: Iterable[spec.Assessment] | None = None,
    period: str | None = None,
    scope: Scope = OPEN,
) -> list[SubjectScore]:
    """:func:`score` for several assessments (default: all), sorted by assessment id, period, subject."""
    chosen = list(cat.config.assessments if assessments is None else assessments)
    out = [s for a in chosen for s in score(cat, rows, a, period, scope)]
    return sorted(out, key=lambda s: (s.assessment, s.period, s.region or "", s.department or ""))


def to_records(scores: Iterable[SubjectScore]) -> list[dict[str, object]]:
    """The contract's JSON objects, numbers unrounded."""
    return [s.to_record() for s in scores]


def _find(cat: Catalogue, assessment_id: str) -> spec.Assessment:
    for a in cat.config.assessments:
        if a.id == assessment_id:
            return a
    raise KeyError(assessment_id)


def _score_period(
    cat: Catalogue,
    a: spec.Assessment,
    period: str,
    subjects: list[tuple[str | None, str | None]],
    values: dict[tuple[str, str, str | None, str | None], float | None],
) -> list[SubjectScore]:
    scored: list[tuple[str | None, str | None, float, tuple[ItemScore, ...]]] = []
    for region, department in subjects:
        key = department if department is not None else region
        items = []
        for item in a.items:
            target = float(item.targets.get(key, item.target)) if key is not None else float(item.target)
            value = values.get((item.indicator, period, region, department))
            ind = cat.indicators.get(item.indicator)
            direction = ind.direction if ind is not None else "higher_better"
            pts = item_points(value, item.weight, item.floor, target, direction)
            items.append(ItemScore(item.indicator, float(item.weight), float(item.floor), target, value, pts))
        scored.append((region, department, math.fsum(i.points for i in items), tuple(items)))
    ranks = competition_ranks([s[2] for s in scored])
    return [
        SubjectScore(a.id, period, region, department, total, rank, items)
        for (region, department, total, items), rank in zip(scored, ranks, strict=True)
    ]


# ----------------------------------------------------------------- what it takes to move up


def _needed_value(item: ItemScore, points: float) -> float:
    """The value that earns ``points`` on this item (the formula read backwards)."""
    if item.target == item.floor:
        return item.target
    return item.floor + points / item.weight * (item.target - item.floor)


def _effort(item: ItemScore, points: float) -> float:
    """How far the value must move, as a share of the floor-to-target span.

    An item without a value (data not in yet) counts from the floor plus one whole span, so
    that advice names items with values first.
    """
    if item.target == item.floor:
        return 1.0
    if item.value is None:
        return 1.0 + points / item.weight
    now = (item.value - item.floor) / (item.target - item.floor)
    return max(points / item.weight - now, 0.0)


def _round_towards_target(v: float, item: ItemScore, digits: int = 2) -> float:
    """Round a needed value so that reaching the shown figure is enough."""
    q = 10**digits
    return math.ceil(v * q - 1e-9) / q if item.target > item.floor else math.floor(v * q + 1e-9) / q


def plan(s: SubjectScore, gap: float) -> tuple[Move, ...]:
    """The cheapest improvement worth ``gap`` points.

    One item when one can close the gap: the one whose value has the smallest move as a share
    of its floor-to-target span (roughly: the heaviest item with enough points left). Otherwise
    items in that order, each to its target, until the gap is closed.
    """
    open_items = [i for i in s.items if i.lost > _TIE]
    single = [i for i in open_items if i.lost >= gap - _TIE]
    if single:
        best = min(single, key=lambda i: _effort(i, i.points + gap))
        return (Move(best.indicator, best.value, _needed_value(best, best.points + gap), gap),)
    moves = []
    left = gap
    for i in sorted(open_items, key=lambda i: _effort(i, i.weight) / i.lost):
        if left <= _TIE:
            break
        gain = min(i.lost, left)
        moves.append(Move(i.indicator, i.value, _needed_value(i, i.points + gain), gain))
        left -= gain
    return tuple(moves)


def catch_up(
    cat: Catalogue, a: spec.Assessment, s: SubjectScore, scored: list[SubjectScore]
) -> CatchUp | None:
    """What ``s`` needs to reach the subject ranked just above it in ``scored`` (its period's subjects)."""
    above = [o for o in scored if o.score > s.score + _TIE]
    if not above:
        return None
    nxt = min(above, key=lambda o: o.score)
    gap = nxt.score - s.score
    moves = plan(s, gap)
    by_id = {i.indicator: i for i in s.items}
    parts = []
    for m in moves:
        ind = cat.indicators.get(m.indicator)
        name = ind.name if ind is not None else m.indicator
        unit = (ind.unit or "") if ind is not None else ""
        item = by_id[m.indicator]
        shown = fmt_value(_round_towards_target(m.needed, item), unit)
        if m.value is None:
            verb = "达到"
        else:
            verb = "提高到" if m.needed > m.value else "降低到"
        parts.append(f"{name}{verb} {shown}")
    gap_text = f"{gap:.1f}" if gap >= 0.05 else f"{gap:.2f}"
    lead = "例如" if len(moves) == 1 else "单项不足以追上，例如"
    text = f"追上第{nxt.rank}名需再得 {gap_text} 分，{lead}{'、'.join(parts)}"
    return CatchUp(nxt.rank, gap, moves, text)


# ----------------------------------------------------------------- for the page: scoreboards and exports


def scored_periods(scores: Iterable[SubjectScore]) -> list[str]:
    """The periods scored, newest first."""
    return sorted({s.period for s in scores}, key=periods.ordinal, reverse=True)


def missing_items(scores: Iterable[SubjectScore], period: str) -> list[str]:
    """The indicators of the items that no subject has a value for in ``period`` (item order)."""
    mine = [s for s in scores if s.period == period]
    if not mine:
        return []
    return [
        item.indicator for k, item in enumerate(mine[0].items) if all(s.items[k].value is None for s in mine)
    ]


def default_period(scores: Iterable[SubjectScore]) -> str | None:
    """The newest period in which every item has a value for some subject, else the newest.

    One source can run ahead of another (the sample's 12345 hotline already has the current
    month): a page should not open on a period where half the items score 0 for want of data.
    """
    scores = list(scores)
    ps = scored_periods(scores)
    for p in ps:
        if not missing_items(scores, p):
            return p
    return ps[0] if ps else None


def subject_name(cat: Catalogue, s: SubjectScore) -> str:
    """The department's name for ``departments`` subjects, else the region's."""
    if s.department is not None:
        return cat.department_name(s.department)
    return cat.tree.name(s.region) if cat.tree is not None else (s.region or "")


def item_header(cat: Catalogue, item: spec.AssessmentItem) -> str:
    """``全程网办率（25分）``: an item's column header, with its weight."""
    ind = cat.indicators.get(item.indicator)
    return f"{ind.name if ind is not None else item.indicator}（{float(item.weight):g}分）"


def rank_change_label(s: SubjectScore) -> str:
    """``↑2`` / ``↓1`` / ``—`` (unchanged) / ``新`` (not scored the period before), as on the 排名 page."""
    from .rankings import move_label

    return move_label(s.rank, s.previous_rank)


def scoreboard(
    cat: Catalogue, assessment: spec.Assessment, scores: Iterable[SubjectScore], period: str
) -> pl.DataFrame:
    """One period's scoreboard: best first, ties in the subjects' declared order.

    Columns: 名次, 代码, 地区 (or 部门), 得分, one column of points per item (headed by
    :func:`item_header`), 上期名次, 较上期 and 追赶 (the catch-up sentence). ``scores`` are
    :func:`score`'s, already limited to the user's scope: the board holds only what the user
    may see, with the ranks among all subjects.
    """
    order = {
        subject: k for k, subject in enumerate(r if d is None else d for r, d in subjects_of(cat, assessment))
    }
    mine = sorted(
        (s for s in scores if s.period == period and s.assessment == assessment.id),
        key=lambda s: (s.rank, order.get(s.subject, len(order)), s.subject or ""),
    )
    who = "部门" if assessment.subjects == "departments" else "地区"
    heads = _unique([item_header(cat, item) for item in assessment.items])
    cols: dict[str, list[object]] = {
        "名次": [s.rank for s in mine],
        "代码": [s.subject for s in mine],
        who: [subject_name(cat, s) for s in mine],
        "得分": [s.score for s in mine],
    }
    for k, head in enumerate(heads):
        cols[head] = [s.items[k].points for s in mine]
    cols["上期名次"] = [s.previous_rank for s in mine]
    cols["较上期"] = [rank_change_label(s) for s in mine]
    cols["追赶"] = [s.catch_up.text if s.catch_up else "" for s in mine]
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "名次": pl.Int64,
        "代码": pl.String,
        who: pl.String,
        "得分": pl.Float64,
        **dict.fromkeys(heads, pl.Float64),
        "上期名次": pl.Int64,
        "较上期": pl.String,
        "追赶": pl.String,
    }
    return pl.DataFrame(cols, schema=schema)


def _unique(names: list[str]) -> list[str]:
    """Column names made unique (an indicator used by two items)."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}#{seen[n]}")
    return out


def item_table(cat: Catalogue, assessment: spec.Assessment, s: SubjectScore) -> pl.DataFrame:
    """One subject's items, the biggest loss of points first.

    Columns: 考核项, 权重, 数值, 目标 (``（分解目标）`` where the subject has its own), 底线,
    得分, 失分, 得分率 (points as a share of the weight).
    """
    own = {
        k for k, item in enumerate(assessment.items) if s.subject is not None and s.subject in item.targets
    }
    recs = []
    for k, i in enumerate(s.items):
        ind = cat.indicators.get(i.indicator)
        unit = (ind.unit or "") if ind is not None else ""
        recs.append(
            {
                "考核项": ind.name if ind is not None else i.indicator,
                "权重": i.weight,
                "数值": fmt_value(i.value, unit) if i.value is not None else "—（本期无数据）",
                "目标": fmt_value(i.target, unit) + ("（分解目标）" if k in own else ""),
                "底线": fmt_value(i.floor, unit),
                "得分": i.points,
                "失分": i.lost if i.lost > _TIE else 0.0,
                "得分率": i.points / i.weight if i.weight else 0.0,
                "__k": k,
            }
        )
    recs.sort(key=lambda r: (-r["失分"], r["__k"]))
    for r in recs:
        del r["__k"]
    schema = {
        "考核项": pl.String,
        "权重": pl.Float64,
        "数值": pl.String,
        "目标": pl.String,
        "底线": pl.String,
        "得分": pl.Float64,
        "失分": pl.Float64,
        "得分率": pl.Float64,
    }
    return pl.DataFrame(recs, schema=schema)


def lost_text(cat: Catalogue, s: SubjectScore, n: int = 3) -> str:
    """``失分主要在：12345满意率 5.2 分、全程网办率 3.1 分`` (the ``n`` biggest losses), or full marks."""
    lost = s.lost
    if not lost:
        return "各项均得满分"
    parts = []
    for i in lost[:n]:
        ind = cat.indicators.get(i.indicator)
        parts.append(f"{ind.name if ind is not None else i.indicator} {i.lost:.1f} 分")
    more = f"等 {len(lost)} 项" if len(lost) > n else ""
    return f"共失 {sum(i.lost for i in lost):.1f} 分，主要在：{'、'.join(parts)}{more}"


def export_title(cat: Catalogue, assessment: spec.Assessment, period: str) -> str:
    """``2026年度数字政府建设考核 · 2026年10月 · 得分排名``."""
    return f"{assessment.name} · {periods.label(period)} · 得分排名"


def export_notes(assessment: spec.Assessment, scores: Iterable[SubjectScore], period: str) -> list[str]:
    """The notes under an export's title: full marks, ties, the comparison, items without data."""
    full = sum(float(i.weight) for i in assessment.items)
    notes = [
        f"满分 {full:g} 分；每项得分 = 权重 × (值 − 底线) / (目标 − 底线)，在 0 与权重之间；"
        f"名次按得分从高到低，同分并列；较上期与 {periods.label(periods.previous(period))} 比较。"
    ]
    if missing_items(scores, period):
        notes.append("部分考核项本期尚无数据，计 0 分。")
    return notes
