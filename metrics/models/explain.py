"""One-sentence explanations in plain Chinese, reused by the pages and the pushes.

Pure functions: the indicator's spec and the display names come in, a string
goes out. Numbers go through :mod:`metrics.format` (``5,120件``, ``12.3万件``,
``88.1%``, ``2.1个百分点``); a rate's differences are in 个百分点, never in
relative percent. Each sentence aims at a phone's lock screen: when the full
sentence has :data:`MAX_CHARS` characters or more, the least needed parts are
dropped in turn (the relative change, a second contributor, the period, …).

::

    explain_finding(finding, ind, region_name, dept_name=None) -> str
    explain_change(breakdown, ind, names=None) -> str

The forecast's sentence lives with the forecast (``metrics.models.forecast``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from .. import periods
from ..catalogue import spec
from ..format import fmt_change, fmt_number, fmt_value
from .contribution import Breakdown, Contribution, kind_of

MAX_CHARS = 60  # a sentence is kept below this many characters when it can be


# ----------------------------------------------------------------- helpers


def _unit(ind: spec.Indicator) -> str:
    return (ind.unit or "").strip()


def _pct(ind: spec.Indicator) -> bool:
    return _unit(ind) == "%"


def _cumulative(ind: spec.Indicator) -> bool:
    return ind.accumulate in ("ytd", "source")


def _val(v: float, ind: spec.Indicator) -> str:
    return fmt_value(v, _unit(ind))


def _amount(d: float, ind: spec.Indicator) -> str:
    """The size of a difference: ``2.1个百分点`` for a rate, ``320件`` otherwise."""
    if _pct(ind):
        return fmt_change(abs(d), "%").lstrip("+")
    return fmt_value(abs(d), _unit(ind))


def _bare(v: float, ind: spec.Indicator) -> str:
    """A value without its unit (the first end of a range), unless the unit is %."""
    s = _val(v, ind)
    u = _unit(ind)
    if u and u != "%" and s.endswith(u):
        return s[: -len(u)]
    return s


def _relative(r: float) -> str:
    """|r| percent: whole percents from 10 % up, one decimal below."""
    a = abs(r)
    return f"{fmt_number(a, 0 if a >= 10 else 1)}%"


def _zero(d: float, ind: spec.Indicator) -> bool:
    """True when a difference prints as zero."""
    if _pct(ind):
        return round(d, 2) == 0
    return fmt_value(abs(d), _unit(ind)) == fmt_value(0.0, _unit(ind))


def _get(obj: Any, key: str) -> Any:
    return obj[key] if isinstance(obj, Mapping) else getattr(obj, key)


def _fit(candidates: Iterable[str]) -> str:
    """The first candidate shorter than MAX_CHARS, else the shortest."""
    seen: list[str] = []
    for c in candidates:
        if len(c) < MAX_CHARS:
            return c
        seen.append(c)
    return min(seen, key=len)


def _gap(observed: float, reference: float, ind: spec.Indicator, against: str) -> str:
    """``比预期高 50%`` / ``比预期低 6.2个百分点`` / ``约为预期的 2.5 倍``."""
    d = observed - reference
    word = "高" if d > 0 else "低"
    if _pct(ind):
        return f"比{against}{word} {_amount(d, ind)}"
    if reference > 0 and observed >= 0:
        ratio = observed / reference
        if ratio >= 2:
            return f"约为{against}的 {fmt_number(ratio, 1)} 倍"
        return f"比{against}{word} {_relative(d / reference * 100)}"
    return f"比{against}{word} {_amount(d, ind)}"


def _nonnegative(ind: spec.Indicator) -> bool:
    m = ind.measure
    if isinstance(m, spec.CountMeasure):
        return True
    if isinstance(m, spec.ColumnMeasure) and m.type == "count_distinct":
        return True
    return isinstance(m, spec.RatioMeasure) and m.numerator.agg == "count" and m.denominator.agg == "count"


def _range(lower: float, upper: float, ind: spec.Indicator) -> str:
    if _nonnegative(ind):
        lower = max(lower, 0.0)
        m = ind.measure
        if isinstance(m, spec.RatioMeasure) and m.scale > 0:
            upper = min(upper, float(m.scale))  # a share of records tops out at 100 %
    return f"{_bare(lower, ind)}–{_val(upper, ind)}"


def _trend_phrase(slopes: tuple[float, float] | None, rising_word: str, weaker: bool) -> str:
    if slopes is None:
        return "走势明显转弱" if weaker else "走势明显转强"
    before, after = slopes
    if before > 0:
        if after <= 0:
            return f"由{rising_word}转为下降"
        return f"{rising_word}明显放缓" if after < before else f"{rising_word}明显加快"
    if before < 0:
        if after >= 0:
            return f"由下降转为{rising_word}"
        return "下降明显放缓" if after > before else "下降明显加快"
    return f"转为{rising_word}" if after > 0 else "转为下降"


# ----------------------------------------------------------------- findings


def explain_finding(
    finding: Any,
    ind: spec.Indicator,
    region_name: str,
    dept_name: str | None = None,
    *,
    slopes: tuple[float, float] | None = None,
) -> str:
    """One sentence for an anomaly finding.

    ``finding`` is a :class:`metrics.models.anomaly.Finding` or a finding row
    (a mapping with period, kind, observed, expected, lower, upper). The
    subject is the department when ``dept_name`` is given, else the region.
    For a trend change, ``slopes`` (per period, the year before and the year
    after) tells a slowdown from a turn; without it the sentence says the
    trend turned weaker or stronger.

    >>> from metrics.catalogue.spec import Indicator
    >>> ind = Indicator(id="calls", name="12345热线受理量", unit="件", measure={"type": "count"})
    >>> f = {"period": "2026-08", "kind": "spike", "observed": 5120, "expected": 3413.3,
    ...      "lower": 2900, "upper": 3920}
    >>> explain_finding(f, ind, "海港区")
    '2026年8月海港区12345热线受理量 5,120件，比预期高 50%（正常范围 2,900–3,920件）'
    """
    period = str(_get(finding, "period"))
    kind = str(_get(finding, "kind"))
    observed = float(_get(finding, "observed"))
    expected = float(_get(finding, "expected"))
    subject = f"{dept_name or region_name}{ind.name}"
    if kind in ("spike", "dip"):
        lower, upper = float(_get(finding, "lower")), float(_get(finding, "upper"))
        when = periods.label(period, cumulative=_cumulative(ind))
        head = f"{when}{subject} {_val(observed, ind)}，{_gap(observed, expected, ind, '预期')}"
        return _fit([f"{head}（正常范围 {_range(lower, upper, ind)}）", head])
    since = f"自{periods.label(period)}起"
    if kind == "level_shift":
        up = observed > expected
        word, verb = ("上升", "升") if up else ("下降", "降")
        head = f"{since}{subject}出现持续性{word}"
        return _fit([f"{head}，由约 {_val(expected, ind)} {verb}至 {_val(observed, ind)}", head])
    if kind == "trend_change":
        rising = "增长" if kind_of(ind) == "additive" else "上升"
        phrase = _trend_phrase(slopes, rising, weaker=observed < expected)
        head = f"{since}{subject}{phrase}"
        gap = _gap(observed, expected, ind, "原趋势")
        return _fit([f"{head}，当期 {_val(observed, ind)}，{gap}", f"{head}，{gap}", head])
    raise ValueError(f"unknown finding kind {kind!r}")


# ----------------------------------------------------------------- contributions


def compare_word(period: str, base: str, cumulative: bool = False) -> str:
    """同比 (a year earlier), 环比 (the period before) or 较<base>."""
    if base == periods.year_ago(period):
        return "同比"
    if base == periods.previous(period) and not cumulative:
        return "环比"
    return f"较{periods.label(base, cumulative=cumulative)}"


def _name(names: Any, key: str, default: str) -> str:
    if names is None:
        return default
    if isinstance(names, Mapping):
        return str(names.get(key, default))
    if hasattr(names, "name") and key in names:  # a RegionTree
        return str(names.name(key))
    return default


def explain_change(breakdown: Breakdown, ind: spec.Indicator, names: Any = None) -> str:
    """One sentence for a breakdown: the parent's move and its top one or two drivers.

    ``names`` (optional) maps ids to display names (a dict, or a RegionTree);
    the breakdown's own names are used otherwise.

    Example: ``2026年8月全市按时办结率环比下降 2.1个百分点，其中东湖县贡献 1.4个百分点``.
    For a ratio or mean whose mix effects outweigh its rate effects (and push
    the way it moved) the sentence adds ``主要因结构变化``.
    """
    b = breakdown
    cum = _cumulative(ind)
    when = periods.label(b.period, cumulative=cum)
    parent = _name(names, b.parent, b.parent_name or b.parent)
    cmp = compare_word(b.period, b.base, cum)
    subject = f"{parent}{ind.name}"
    if b.change is None or (isinstance(b.change, float) and math.isnan(b.change)):
        return f"{when}{subject}缺少{periods.label(b.base, cumulative=cum)}数据，无法比较"
    if _zero(b.change, ind):
        return f"{when}{subject}{cmp}持平"
    additive = b.kind == "additive"
    up = b.change > 0
    verb = ("增加" if up else "减少") if additive else ("上升" if up else "下降")
    amount = _amount(b.change, ind)
    rel = ""
    if additive and not _pct(ind) and b.value_base:
        rel = f"（{fmt_change(b.change / abs(b.value_base) * 100)}）"

    def part(c: Contribution) -> str:
        name = c.name if c.is_residual else _name(names, c.id, c.name)
        assert c.contribution is not None
        how = verb if additive else "贡献"
        if b.kind == "ratio" and c.mix_effect is not None and c.rate_effect is not None:
            if abs(c.mix_effect) > abs(c.rate_effect) and (c.weight_now or 0) != (c.weight_base or 0):
                how = f"因占比{'上升' if (c.weight_now or 0) > (c.weight_base or 0) else '下降'}贡献"
        return f"{name}{how} {_amount(c.contribution, ind)}"

    drivers = [c for c in b.top(2) if c.contribution is not None and not _zero(c.contribution, ind)]
    mix = ""
    if b.kind == "ratio" and b.decomposable:
        rate_sum, mix_sum = b.rate_effect or 0.0, b.mix_effect or 0.0
        if abs(mix_sum) > abs(rate_sum) and mix_sum * b.change > 0:
            mix = "，主要因结构变化"

    def sentence(n_drivers: int, with_rel: bool, with_when: bool, with_mix: bool) -> str:
        s = f"{when if with_when else ''}{subject}{cmp}{verb} {amount}{rel if with_rel else ''}"
        if n_drivers and drivers:
            s += "，其中" + "、".join(part(c) for c in drivers[:n_drivers])
        return s + (mix if with_mix else "")

    return _fit(
        [
            sentence(2, True, True, True),
            sentence(2, False, True, True),
            sentence(1, True, True, True),
            sentence(1, False, True, True),
            sentence(1, False, False, True),
            sentence(1, False, False, False),
            sentence(0, False, False, True),
            sentence(0, False, False, False),
        ]
    )
