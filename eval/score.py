"""Scoring findings against planted events (as in shared/reference/DETECTORS.md).

Per series:

* a ``spike`` or ``dip`` is matched by a finding at its exact index (±0);
* a ``level_shift`` by a finding at its onset or up to two periods after (onset .. onset+2);
* each event is credited once: the earliest finding in its window (on a tie, one naming the right
  kind). A second finding on the same event is a false alarm, and so is every finding matched to
  no event;
* whatever kind a finding names, it matches; ``kinds right`` is the share of matched events whose
  credited finding names the planted kind (a level shift reported as a spike is found, kind wrong).

Over all series: precision = matched events / (matched events + false findings), recall = matched
events / events, F1 their harmonic mean. **False alarms per clean series-year**: all findings on the
series with no planted event, divided by those series' years (months from the first to the last
observed value, / 12).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

SHIFT_LAG = 2  # a level shift is credited at its onset or up to this many periods after
POINT_LAG = 0  # a spike/dip only at its exact index


def _ek(e: Any) -> tuple[int, str]:
    """(index, kind) of an event: an ``eval.series.Event`` or a ``(index, kind)`` pair."""
    if hasattr(e, "index") and hasattr(e, "kind"):
        return int(e.index), str(e.kind)
    index, kind = e
    return int(index), str(kind)


def window(index: int, kind: str) -> range:
    return range(index, index + (SHIFT_LAG if kind == "level_shift" else POINT_LAG) + 1)


@dataclass
class SeriesMatch:
    matched: list[tuple[Any, Any]]  # (event, the finding credited)
    missed: list[Any]  # events with no finding
    false: list[Any]  # findings credited to no event (duplicates included)


def match(events: Sequence[Any], findings: Sequence[Any]) -> SeriesMatch:
    """Match one series' findings to its events (see the module docstring)."""
    used: set[int] = set()
    matched, missed = [], []
    order = sorted(range(len(findings)), key=lambda j: int(findings[j].index))
    for ev in sorted(events, key=lambda e: _ek(e)[0]):
        idx, kind = _ek(ev)
        win = window(idx, kind)
        cands = [j for j in order if j not in used and int(findings[j].index) in win]
        if not cands:
            missed.append(ev)
            continue
        first = int(findings[cands[0]].index)
        tied = [j for j in cands if int(findings[j].index) == first]
        j = next((j for j in tied if str(findings[j].kind) == kind), tied[0])
        used.add(j)
        matched.append((ev, findings[j]))
    false = [findings[j] for j in order if j not in used]
    return SeriesMatch(matched, missed, false)


@dataclass(frozen=True)
class Case:
    """One series to score: its planted events, a detector's findings, its length in years."""

    events: Sequence[Any]
    findings: Sequence[Any]
    years: float
    tags: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.events


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


@dataclass
class Score:
    series: int = 0
    events: int = 0
    findings: int = 0
    matched: int = 0
    false: int = 0
    kinds_right: int = 0
    clean_series: int = 0
    clean_years: float = 0.0
    clean_findings: int = 0
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind: [matched, events]
    named: dict[str, Counter] = field(default_factory=dict)  # planted kind: Counter(kind named)

    @property
    def precision(self) -> float | None:
        return _ratio(self.matched, self.matched + self.false)

    @property
    def recall(self) -> float | None:
        return _ratio(self.matched, self.events)

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None if self.events == 0 and self.findings == 0 else 0.0
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    @property
    def kind_accuracy(self) -> float | None:
        return _ratio(self.kinds_right, self.matched)

    @property
    def false_alarms_per_clean_year(self) -> float | None:
        return _ratio(self.clean_findings, self.clean_years)

    def recall_of(self, kind: str) -> float | None:
        m, n = self.by_kind.get(kind, (0, 0))
        return _ratio(m, n)


def score(cases: Iterable[Case]) -> Score:
    """Precision, recall, F1, kinds right and false alarms per clean series-year over ``cases``."""
    s = Score()
    for case in cases:
        s.series += 1
        s.events += len(case.events)
        s.findings += len(case.findings)
        m = match(case.events, case.findings)
        s.matched += len(m.matched)
        s.false += len(m.false)
        for ev, f in m.matched:
            kind = _ek(ev)[1]
            s.kinds_right += str(f.kind) == kind
            s.named.setdefault(kind, Counter())[str(f.kind)] += 1
        for ev in case.events:
            kind = _ek(ev)[1]
            s.by_kind.setdefault(kind, [0, 0])[1] += 1
        for ev, _ in m.matched:
            s.by_kind[_ek(ev)[1]][0] += 1
        if case.clean:
            s.clean_series += 1
            s.clean_years += case.years
            s.clean_findings += len(case.findings)
    return s
