"""Anomaly detection on one regular series (contract section 6).

The interface the engine, the pages and ``make eval`` share::

    detect(values, periods, season=12) -> list[Finding]

``values`` is a regular series: one value per period from the first to the
last, ``nan`` where a period has no value (a gap, or January under 1-2月).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

KINDS = ("spike", "dip", "level_shift", "trend_change")


@dataclass(frozen=True)
class Finding:
    index: int  # position in the series
    period: str
    kind: str  # one of KINDS
    observed: float
    expected: float
    lower: float
    upper: float
    score: float  # how many robust noise widths from expected (signed for spikes/dips: abs)


def detect(
    values: Sequence[float] | np.ndarray,
    periods: Sequence[str],
    *,
    season: int | None = 12,
    sensitivity: float = 1.0,
    min_history: int | None = None,
) -> list[Finding]:
    """Findings on one series; a placeholder until the detector lands (returns none)."""
    return []
