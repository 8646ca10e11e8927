"""A deterministic generator of labelled monthly series for the anomaly benchmark.

    bench = generate(n_series=200, seed=DEFAULT_SEED)
    for s in bench.series: s.values, s.periods, s.events
    bench.truth()  # [(series id, index, kind), ...]

Each series is 96 months (2019-01 .. 2026-12 by default) built from:

* **level** spanning orders of magnitude: counts from a town's ~8 cases a month, other series
  log-uniform from 20 to 50,000;
* **trend**: growth of -4 % .. +12 % a year, constant over the series (so no series has a real trend
  change);
* **seasonality** (period 12), additive or multiplicative, 0 (15 % of series) or 3 .. 30 % of the
  level: two harmonics, sometimes a Spring Festival trough (Jan/Feb) and a December push;
* **noise**: iid normal, AR(1) with phi 0.3 .. 0.7 (scaled to the same marginal std), or Poisson
  for count series; 1 .. 6 % of the level;
* **realities of Chinese statistics** on some series: January missing every year (1-2月 reported
  together), a gap of 2 .. 5 months, or a late start (nothing in the first 30 months). Missing
  values are ``nan``, the series stays regular.

About 28 % of series are kept clean. The others get one or two planted events:

* ``spike`` / ``dip``: one point moved by 4 .. 8 noise widths;
* ``level_shift``: every point from the onset to the end moved by 4 .. 8 noise widths (up or down;
  proportional in multiplicative series).

The **noise width** is the standard deviation of the noise component at that point (for AR(1)
noise, its marginal std; for counts, the square root of the expected count). Events are never in
the first 24 observed months, never within 6 months of each other, only on observed points; a
spike/dip has an observed point after it and a level shift at least 6 months after its onset (with
4 of them observed), so that each is identifiable in principle. A dip or downward shift that would
take away more than 60 % of the expected value becomes a spike or an upward shift (small counts can
only go up by 4 widths).

Series ``i`` depends only on ``(seed, i)``: the first 200 series of ``generate(1000)`` are those
of ``generate(200)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

DEFAULT_SEED = 20261129
DEFAULT_SERIES = 200
DEFAULT_POINTS = 96
START = "2019-01"
SEASON = 12

CLEAN_SHARE = 0.28
MIN_HISTORY = 24  # no event in a series' first 24 observed months
MIN_GAP = 6  # events are more than 6 months apart
SIZE_WIDTHS = (4.0, 8.0)
EVENT_KINDS = ("spike", "dip", "level_shift")


@dataclass(frozen=True)
class Event:
    series: int
    index: int
    kind: str  # spike | dip | level_shift
    size: float  # in noise widths (positive; the direction is in ``delta``)
    width: float  # the noise width at ``index``
    delta: float  # what was added at ``index`` (and after, for a level shift)


@dataclass(frozen=True)
class Series:
    id: int
    values: np.ndarray  # float, nan where a month has no value
    periods: tuple[str, ...]
    model: str  # additive | multiplicative | counts
    noise: str  # iid | ar1 | poisson
    quirk: str  # "" | jan_combined | gap | late_start
    level: float
    seasonal_amp: float  # fraction of the level
    events: tuple[Event, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.events

    @property
    def name(self) -> str:
        return f"s{self.id:04d}"

    @property
    def years(self) -> float:
        """Series-years: months from the first to the last observed value, / 12."""
        ok = np.flatnonzero(~np.isnan(self.values))
        return 0.0 if ok.size == 0 else (ok[-1] - ok[0] + 1) / 12.0

    @property
    def tags(self) -> tuple[str, ...]:
        """Groups for the by-kind-of-series table."""
        t = [self.model, "AR(1) noise" if self.noise == "ar1" else self.noise + " noise"]
        if self.quirk:
            t.append(self.quirk)
        t.append("no seasonality" if self.seasonal_amp == 0 else "seasonal")
        return tuple(t)


@dataclass(frozen=True)
class Benchmark:
    seed: int
    series: tuple[Series, ...] = field(default_factory=tuple)

    @cached_property
    def events(self) -> tuple[Event, ...]:
        return tuple(e for s in self.series for e in s.events)

    def truth(self) -> list[tuple[int, int, str]]:
        """Ground truth: ``(series id, index, kind)`` of every planted event."""
        return [(e.series, e.index, e.kind) for e in self.events]

    def summary(self) -> str:
        n = len(self.series)
        clean = sum(s.clean for s in self.series)
        kinds = {k: sum(e.kind == k for e in self.events) for k in EVENT_KINDS}
        quirks = {q: sum(s.quirk == q for s in self.series) for q in ("jan_combined", "gap", "late_start")}
        models = {m: sum(s.model == m for s in self.series) for m in ("additive", "multiplicative", "counts")}
        ar = sum(s.noise == "ar1" for s in self.series)
        points = len(self.series[0].values) if self.series else 0
        return (
            f"{n} series of {points} months (seed {self.seed}); {clean} clean; "
            f"{len(self.events)} events: {kinds['spike']} spikes, {kinds['dip']} dips, "
            f"{kinds['level_shift']} level shifts; {models['additive']} additive, "
            f"{models['multiplicative']} multiplicative, {models['counts']} count (Poisson) series; "
            f"{ar} with AR(1) noise; {quirks['jan_combined']} with January missing (1-2月), "
            f"{quirks['gap']} with a gap, {quirks['late_start']} starting late"
        )


def monthly_periods(n: int, start: str = START) -> tuple[str, ...]:
    y, m = (int(p) for p in start.split("-"))
    out = []
    for i in range(n):
        k = (m - 1) + i
        out.append(f"{y + k // 12:04d}-{k % 12 + 1:02d}")
    return tuple(out)


def _seasonal_profile(rng: np.random.Generator, amp: float) -> np.ndarray:
    """12 factors (month 1..12), mean 0, largest |value| = amp."""
    if amp == 0:
        return np.zeros(12)
    m = np.arange(12)
    s = rng.uniform(0.5, 1.0) * np.cos(2 * np.pi * (m - rng.uniform(0, 12)) / 12)
    s += rng.uniform(0.0, 0.6) * np.cos(4 * np.pi * (m - rng.uniform(0, 6)) / 12)
    if rng.random() < 0.35:  # Spring Festival trough
        s[1] -= rng.uniform(0.5, 1.2)
        s[0] -= rng.uniform(0.0, 0.5)
    if rng.random() < 0.25:  # the year-end push
        s[11] += rng.uniform(0.4, 1.0)
    s -= s.mean()
    return amp * s / np.abs(s).max()


def _noise(rng: np.random.Generator, n: int, kind: str, phi: float) -> np.ndarray:
    z = rng.standard_normal(n)
    if kind != "ar1":
        return z
    e = np.empty(n)
    e[0] = z[0]
    c = np.sqrt(1 - phi * phi)  # unit marginal variance
    for t in range(1, n):
        e[t] = phi * e[t - 1] + c * z[t]
    return e


def make_series(seed: int, i: int, n: int = DEFAULT_POINTS, start: str = START) -> Series:
    """Series ``i`` of the benchmark with this seed (depends only on ``seed`` and ``i``)."""
    rng = np.random.default_rng([seed, i])
    periods = monthly_periods(n, start)
    month = np.array([int(p[5:7]) - 1 for p in periods])
    t = np.arange(n)

    u = rng.random()
    model = "counts" if u < 0.2 else ("multiplicative" if u < 0.6 else "additive")
    if model == "counts":
        level = float(np.exp(rng.uniform(np.log(8), np.log(150))))
        noise_kind = "poisson"
    else:
        level = float(np.exp(rng.uniform(np.log(20), np.log(50_000))))
        noise_kind = "ar1" if rng.random() < 0.5 else "iid"
    phi = float(rng.uniform(0.3, 0.7)) if noise_kind == "ar1" else 0.0
    growth = rng.uniform(-0.04, 0.12)  # a year
    amp = 0.0 if rng.random() < 0.15 else float(rng.uniform(0.03, 0.30))
    season = _seasonal_profile(rng, amp)[month]
    cv = rng.uniform(0.01, 0.06)
    e = _noise(rng, n, noise_kind, phi)

    if model == "multiplicative":
        base = level * (1 + growth) ** (t / 12)
        expected = base * (1 + season)
    else:
        base = level * (1 + growth * t / 12)
        expected = base + level * season
    expected = np.maximum(expected, 0.05 * level)

    # Missing months: the realities of Chinese statistics.
    u = rng.random()
    observed = np.ones(n, dtype=bool)
    quirk = ""
    if u < 0.08:
        quirk = "jan_combined"
        observed[month == 0] = False
    elif u < 0.16:
        quirk = "gap"
        g0 = int(rng.integers(MIN_HISTORY, max(MIN_HISTORY + 1, n - 12)))
        observed[g0 : g0 + int(rng.integers(2, 6))] = False
    elif u < 0.22 and n > 60:
        quirk = "late_start"
        observed[:30] = False

    # Planted events: decided before the values so that clean and dirty series share one draw order.
    clean = rng.random() < CLEAN_SHARE
    n_events = 0 if clean else (1 if rng.random() < 0.6 else 2)
    first = int(np.flatnonzero(observed)[0]) if observed.any() else n
    plan: list[tuple[int, str, float, int]] = []  # (index, kind, size, sign)
    tries = 0
    while len(plan) < n_events and tries < 200:
        tries += 1
        kind = EVENT_KINDS[int(rng.choice(3, p=[0.35, 0.30, 0.35]))]
        size = float(rng.uniform(*SIZE_WIDTHS))
        sign = 1 if kind == "spike" else (-1 if kind == "dip" else int(rng.choice([-1, 1])))
        lo = first + MIN_HISTORY
        hi = n - 2 if kind != "level_shift" else n - 7  # inclusive
        if hi < lo:
            continue
        idx = int(rng.integers(lo, hi + 1))
        if not observed[idx] or any(abs(idx - j) <= MIN_GAP for j, *_ in plan):
            continue
        if kind == "level_shift":
            if observed[idx : idx + 6].sum() < 4:
                continue
        elif not observed[idx + 1]:
            continue
        plan.append((idx, kind, size, sign))
    plan.sort()

    # Level shifts first (they change the expected value and, for counts, the noise width).
    shifted = expected.copy()
    events: list[Event] = []
    pending: list[tuple[int, str, float, int]] = []
    for idx, kind, size, sign in plan:
        if kind != "level_shift":
            pending.append((idx, kind, size, sign))
            continue
        width = _width(model, shifted[idx], cv, level)
        if sign < 0 and size * width > 0.6 * shifted[idx]:
            sign = 1
        delta = sign * size * width
        if model == "multiplicative":
            shifted[idx:] *= 1 + delta / shifted[idx]
        else:
            shifted[idx:] += delta
        events.append(Event(i, idx, "level_shift", size, width, delta))

    if model == "counts":
        values = rng.poisson(np.maximum(shifted, 0)).astype(float)
        widths = np.sqrt(np.maximum(shifted, 1e-9))
    elif model == "multiplicative":
        widths = cv * shifted
        values = shifted + widths * e
    else:
        widths = np.full(n, cv * level)
        values = shifted + widths * e

    for idx, kind, size, sign in pending:
        width = float(widths[idx])
        if sign < 0 and size * width > 0.6 * shifted[idx]:
            kind, sign = "spike", 1
        delta = sign * size * width
        if model == "counts":
            delta = float(np.round(delta))
        values[idx] += delta
        events.append(Event(i, idx, kind, size, width, delta))

    if model == "counts":
        values = np.maximum(np.round(values), 0)
    else:
        values = np.round(values, 1 if level < 1000 else 0)
    values[~observed] = np.nan
    events.sort(key=lambda ev: ev.index)
    return Series(
        id=i,
        values=values,
        periods=periods,
        model=model,
        noise=noise_kind,
        quirk=quirk,
        level=level,
        seasonal_amp=amp,
        events=tuple(events),
    )


def _width(model: str, expected: float, cv: float, level: float) -> float:
    if model == "counts":
        return float(np.sqrt(max(expected, 1e-9)))
    if model == "multiplicative":
        return float(cv * expected)
    return float(cv * level)


def generate(
    n_series: int = DEFAULT_SERIES, seed: int = DEFAULT_SEED, n_points: int = DEFAULT_POINTS
) -> Benchmark:
    """The labelled benchmark: ``n_series`` series of ``n_points`` months."""
    return Benchmark(seed=seed, series=tuple(make_series(seed, i, n_points) for i in range(n_series)))
