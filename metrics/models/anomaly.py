"""Anomaly detection on one regular series (contract section 6).

The interface the engine, the pages and ``make eval`` share::

    detect(values, periods, season=12) -> list[Finding]

``values`` is a regular series: one value per period from the first to the
last, ``nan`` where a period has no value (a gap, or January under 1-2月).

How it decides, in order (each step robust to what the later ones look for):

1. **Season.** With two full seasons of history, a per-phase median profile
   of the series less a robust trend, kept only when it stands out from the
   noise; a spike is one value of the several each phase's median sees. (A
   robust STL measured worse on short series; see docs/models.md.) A series
   that reads better as shares of its level runs on the log scale.
2. **Level shifts**, found before any point test so that a lasting step is
   reported ONCE at its onset and never as a run of spikes: at each period the
   trimmed mean of the next ``w`` seasonally adjusted values is compared with
   that of the ``w`` before, the series' robust slope taken out, at three
   window lengths. The step is scored against the spread the noise predicts
   (autocorrelation included). Up to two shifts are found, each an abrupt
   step: a faster rise for a year (a ramp) is no level shift.
3. **Spikes and dips**: residuals from a rolling-median level (the shifts
   taken out) scored in robust noise widths (Qn). Where the noise's width
   changed for good (a variance break, tested like Inclán-Tiao), each part
   has its own width. The alert threshold is far above the band a chart
   shows: a 90 % band flags 10 % of all points by construction.
4. **Short episodes**: 2 to 4 periods in a row on one side of the level (a
   recession's quarters), scored as the run's mean at the level-shift
   threshold, reported once at the deepest point as a spike or dip.
5. **Trend changes**: the Theil-Sen slope of the year after a period against
   the year before it, only where the change is large and both years fit
   their lines well. Rare by design.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = 100 + rng.normal(0, 1, 60)
>>> x[40] += 8
>>> [(f.period, f.kind) for f in detect(x, [str(i) for i in range(60)], season=None)]
[('40', 'spike')]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

KINDS = ("spike", "dip", "level_shift", "trend_change")
_MAD = 1.4826


@dataclass(frozen=True)
class Finding:
    index: int  # position in the series
    period: str
    kind: str  # one of KINDS
    observed: float
    expected: float
    lower: float
    upper: float
    score: float  # how unusual: robust noise widths (always positive)


@dataclass(frozen=True)
class Settings:
    """Thresholds in robust noise widths; ``sensitivity`` > 1 flags more."""

    spike: float = 4.0
    shift: float = 5.0
    trend: float = 9.0
    window: int = 6

    def scaled(self, sensitivity: float) -> Settings:
        s = max(float(sensitivity), 1e-3)
        return Settings(self.spike / s, self.shift / s, self.trend / s, self.window)


DEFAULT = Settings()


def detect(
    values: Sequence[float] | np.ndarray,
    periods: Sequence[str],
    *,
    season: int | None = 12,
    sensitivity: float = 1.0,
    min_history: int | None = None,
    floor: Sequence[float] | np.ndarray | None = None,
) -> list[Finding]:
    """Findings on one series, oldest first. See the module docstring.

    ``floor`` (optional, per period) is the least noise width a point can have:
    for a rate over few records, its binomial width, so a town's 2 of 3 calls
    answered is no dip.
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _detect(values, periods, season, sensitivity, min_history, floor)


def _detect(
    values: Sequence[float] | np.ndarray,
    periods: Sequence[str],
    season: int | None,
    sensitivity: float,
    min_history: int | None,
    floor: Sequence[float] | np.ndarray | None,
) -> list[Finding]:
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n != len(periods):
        raise ValueError("values and periods differ in length")
    cfg = DEFAULT.scaled(sensitivity)
    valid = np.isfinite(x)
    need = min_history or (max(2 * season, 24) if season and season > 1 else 12)
    if valid.sum() < need:
        return []
    first, last = int(np.argmax(valid)), n - int(np.argmax(valid[::-1]))
    idx = np.arange(first, last)
    seg = x[first:last]
    ok = np.isfinite(seg)
    filled = np.interp(np.arange(len(seg)), np.flatnonzero(ok), seg[ok])

    # Multiplicative season and noise (a share of the level): work on the log scale, report back.
    log = _multiplicative(filled, season)
    if log:
        raw = seg
        filled = np.log(filled)
        seg = np.log(np.where(ok, seg, 1.0))
        if floor is not None:
            f = np.asarray(floor, dtype=float).copy()
            f[first:last] = f[first:last] / np.exp(filled)
            floor = f
    # Never a noise width below the series' resolution: a median moving on a 0.05 grid has a Qn
    # of 0, and one step of the grid is then no anomaly.
    distinct = np.unique(np.round(seg[ok], 9))
    resolution = float(np.min(np.diff(distinct))) if len(distinct) > 1 else 0.0
    seasonal = _seasonal(filled, season)
    adjusted = filled - seasonal
    sigma = max(_noise(adjusted, ok), resolution)
    if not np.isfinite(sigma) or sigma <= 0:
        return []

    shifts = _level_shifts(adjusted, ok, sigma, cfg)
    steps = np.zeros(len(seg))
    for t, size, _ in shifts:
        steps[t:] += size
    level = _rolling_median(adjusted - steps, 2 * cfg.window + 1) + steps
    expected = level + seasonal
    resid = filled - expected
    sigma = max(_noise(resid, ok, floor_from=expected), resolution)
    width = np.full(len(seg), sigma)
    brk = _variance_break(resid, ok, sigma, max(16, 2 * (season or 1)))
    if brk is not None:  # the noise changed for good (the Great Moderation): each part its own width
        for part in (slice(0, brk), slice(brk, len(seg))):
            width[part] = max(_noise(resid[part], ok[part], floor_from=expected[part]), resolution)
    if floor is not None:
        f = np.asarray(floor, dtype=float)[first:last]
        width = np.maximum(width, np.where(np.isfinite(f), f, 0.0))
    out: list[Finding] = []
    shift_at = {t for t, _, _ in shifts}
    for t, size, score in shifts:
        before = expected[t] - size
        out.append(_finding(idx[t], periods, "level_shift", seg[t], before, sigma, cfg.shift, score))
    z = np.where(ok, resid / width, 0.0)
    for t in np.flatnonzero(np.abs(z) >= cfg.spike):
        if any(abs(t - s) <= 1 for s in shift_at):
            continue  # the onset of a shift is reported as the shift
        kind = "spike" if z[t] > 0 else "dip"
        out.append(_finding(idx[t], periods, kind, seg[t], expected[t], width[t], cfg.spike, abs(z[t])))
    taken = {f.index - first for f in out}
    for t, score, lvl in _episodes(adjusted - steps, ok, width, cfg, taken | shift_at):
        kind = "spike" if seg[t] > lvl + seasonal[t] + steps[t] else "dip"
        exp_t = lvl + seasonal[t] + steps[t]
        out.append(_finding(idx[t], periods, kind, seg[t], exp_t, width[t], cfg.spike, score))
    for t, score, exp_value in _trend_changes(adjusted - steps, ok, sigma, cfg, shift_at):
        out.append(
            _finding(
                idx[t], periods, "trend_change", seg[t], exp_value + seasonal[t], sigma, cfg.trend, score
            )
        )
    if log:
        out = [
            Finding(
                f.index,
                f.period,
                f.kind,
                float(raw[f.index - first]),
                float(np.exp(f.expected)),
                float(np.exp(f.lower)),
                float(np.exp(f.upper)),
                f.score,
            )
            for f in out
        ]
    return sorted(out, key=lambda f: f.index)


def _multiplicative(x: np.ndarray, season: int | None) -> bool:
    """True when the series reads better as shares of its level (log scale) than as amounts."""
    if np.any(x <= 0) or len(x) < 24:
        return False
    from statsmodels.robust.scale import qn_scale

    def rel_width(y: np.ndarray) -> float:
        s = _seasonal(y, season)
        r = y - s - _rolling_median(y - s, 13)
        return float(qn_scale(r))

    level = float(np.median(x))
    raw = rel_width(x) / level
    logged = rel_width(np.log(x))
    return logged < 0.85 * raw


def _finding(
    i: int,
    periods: Sequence[str],
    kind: str,
    observed: float,
    expected: float,
    sigma: float,
    k: float,
    score: float,
) -> Finding:
    return Finding(
        int(i),
        periods[int(i)],
        kind,
        float(observed),
        float(expected),
        float(expected - k * sigma),
        float(expected + k * sigma),
        float(round(score, 3)),
    )


def _seasonal(x: np.ndarray, season: int | None, method: str = "median") -> np.ndarray:
    """The seasonal component, or zeros when the series shows no real season.

    ``median`` (the default): a per-phase median of the series less a rolling
    median trend. A spike is one value of the several a phase's median sees, so
    it never leaks into the other years' same month; and the profile is kept
    only when it stands out from the noise. ``stl``: statsmodels' robust STL,
    kept for comparison in ``make eval``.
    """
    if not season or season < 2 or len(x) < 2 * season + 1:
        return np.zeros(len(x))
    if method == "stl":
        from statsmodels.tsa.seasonal import STL

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            span = 2 * (len(x) // season) + 1
            fit = STL(x, period=season, robust=True, seasonal=min(max(7, span | 1), 35)).fit()
        return np.asarray(fit.seasonal)
    n = len(x)
    cycles = n // season
    phase = np.arange(n) % season

    def phase_medians(d: np.ndarray) -> np.ndarray:
        prof = np.array([np.median(d[phase == k]) for k in range(season)])
        return prof - prof.mean()

    # pass 1: a centred 2×season moving average as the trend (edges: what the window has)
    kernel = np.ones(season + 1)
    kernel[0] = kernel[-1] = 0.5 if season % 2 == 0 else 1.0
    weights = np.convolve(np.ones(n), kernel, mode="same")
    trend = np.convolve(x, kernel, mode="same") / weights
    profile = phase_medians(x - trend)
    # pass 2: a robust trend of the seasonally adjusted series, then the profile again
    trend = _rolling_median(x - profile[phase], 2 * (season // 2) + 1)
    d = x - trend
    profile = phase_medians(d)
    # significant? each phase median has the noise of about n/season values
    from statsmodels.robust.scale import qn_scale

    noise = float(qn_scale(d - profile[phase])) if n > 2 else 0.0
    expected_var = (np.pi / 2) * noise**2 / max(cycles, 1)
    if not float(np.var(profile)) > 3 * expected_var:
        return np.zeros(n)
    return profile[phase]


def _noise(r: np.ndarray, ok: np.ndarray, floor_from: np.ndarray | None = None) -> float:
    """Robust noise width of ``r``: MAD of first differences, or of ``r`` itself once detrended.

    For small counts (a town's 3 tickets) the width never falls below the
    Poisson width of the expected level, so one extra ticket is no spike.
    """
    v = r[ok]
    if floor_from is None:
        d = np.diff(v)
        width = _MAD * float(np.median(np.abs(d - np.median(d)))) / np.sqrt(2) if len(d) else 0.0
    else:
        # Qn (Rousseeuw & Croux): robust like the MAD, but far less biased low on the peaked
        # residuals a rolling median leaves
        from statsmodels.robust.scale import qn_scale

        width = float(qn_scale(v)) if len(v) > 2 else 0.0
    floor = 0.0
    if floor_from is not None:
        level = float(np.median(np.abs(floor_from[ok])))
        if np.allclose(v, np.round(v)) and level < 200:
            floor = 0.5 * np.sqrt(max(level, 1.0))  # counts: Poisson noise
        floor = max(floor, 1e-6 * max(level, 1.0))
    return max(width, floor, 1e-12)


def _rolling_median(x: np.ndarray, w: int) -> np.ndarray:
    """Centred rolling median that leaves the point itself out (its own outlier never hides it)."""
    if len(x) < w:
        return np.full(len(x), float(np.median(x)))
    half = w // 2
    padded = np.concatenate([np.full(half, np.nan), x, np.full(half, np.nan)])
    windows = sliding_window_view(padded, w)
    windows = np.delete(windows, half, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(windows, axis=1)


def _global_slope(a: np.ndarray, max_lag: int = 12) -> float:
    """A robust slope of the whole series from nearby pairs only (lag ≤ ``max_lag``).

    Theil-Sen over all pairs leans toward a level shift (most pairs straddle
    it); over nearby pairs a step touches few of them, so the median ignores it.
    """
    n = len(a)
    slopes = [(a[lag:] - a[:-lag]) / lag for lag in range(1, min(max_lag, n - 1) + 1)]
    return float(np.median(np.concatenate(slopes))) if slopes else 0.0


def _trimmed_means(x: np.ndarray, w: int, trim: float = 0.1) -> np.ndarray:
    """Trimmed mean of every window x[t:t+w]: efficient like a mean, robust to a single spike."""
    windows = np.sort(sliding_window_view(x, w), axis=1)
    k = max(1, int(np.floor(trim * w)))  # at least the largest and smallest
    return windows[:, k : w - k].mean(axis=1)


def _step_scores(a: np.ndarray, w: int) -> np.ndarray:
    """Per period t: the level of the next ``w`` values minus the level of the ``w`` before, detrended."""
    n = len(a)
    out = np.full(n, np.nan)
    if n < 2 * w:
        return out
    d = a - _global_slope(a) * np.arange(n)
    m = _trimmed_means(d, w)  # m[t] = level of d[t:t+w]
    t = np.arange(w, n - w + 1)
    out[t] = m[t] - m[t - w]
    return out


def _ar1(a: np.ndarray) -> float:
    """Lag-1 autocorrelation of the noise, from first differences (blind to trends and steps).

    For AR(1) noise, corr(Δx_t, Δx_t-1) = -(1 - ρ) / 2. The differences are
    winsorized first, so a spike (two large differences) does not decide it.
    """
    d = np.diff(a)
    if len(d) < 8:
        return 0.0
    from statsmodels.robust.scale import qn_scale

    c = 3 * float(qn_scale(d))
    d = np.clip(d - np.median(d), -c, c)
    r = float(np.corrcoef(d[1:], d[:-1])[0, 1])
    return float(np.clip(1 + 2 * r, 0.0, 0.9)) if np.isfinite(r) else 0.0


def _onset(a: np.ndarray, lo: int, hi: int) -> int:
    """The split of a[lo:hi] that best separates two levels (the classic change-point statistic)."""
    seg = a[lo:hi]
    n = len(seg)
    if n < 4:
        return lo
    c = np.cumsum(seg)
    k = np.arange(1, n)
    left = c[:-1] / k
    right = (c[-1] - c[:-1]) / (n - k)
    stat = np.abs(right - left) * np.sqrt(k * (n - k) / n)
    return lo + int(np.argmax(stat)) + 1


def _level_shifts(
    a: np.ndarray, ok: np.ndarray, sigma: float, cfg: Settings
) -> list[tuple[int, float, float]]:
    """Up to two lasting steps, each at its onset, scored at two window lengths."""
    n = len(a)
    z = np.zeros(n)
    best_w = np.zeros(n, dtype=int)
    # What the noise alone would give the step statistic: the high-passed series' width and its
    # lag-1 autocorrelation (autocorrelated noise wanders, so steps between medians vary more).
    hp = a - _rolling_median(a, 2 * cfg.window + 1)
    from statsmodels.robust.scale import qn_scale

    width = float(qn_scale(hp[ok])) if ok.sum() > 2 else sigma
    rho = _ar1(a)
    inflate = np.sqrt((1 + rho) / (1 - rho))
    for w in (cfg.window, 2 * cfg.window, 4 * cfg.window):
        steps = _step_scores(a, w)
        finite = steps[np.isfinite(steps)]
        if len(finite) < 6:
            continue
        observed = _MAD * float(np.median(np.abs(finite - np.median(finite))))
        expected = 1.06 * width * np.sqrt(2 / w) * inflate
        # the observed spread, unless a long shift inflates it past what the noise explains
        spread = max(min(observed, expected), 0.5 * expected)
        if not spread > 0:
            continue
        zw = np.abs(steps) / spread
        zw[~np.isfinite(zw)] = 0
        better = zw > z
        z[better], best_w[better] = zw[better], w
    z[~ok] = 0
    found: list[tuple[int, float, float]] = []
    detrended = a - _global_slope(a) * np.arange(n)
    for _ in range(2):
        t = int(np.argmax(z))
        score = float(z[t])
        if score < cfg.shift:
            break
        w = int(best_w[t])
        # the step statistic peaks at the onset; pin it on the detrended series, close to the peak
        half = max(2, w // 2)
        onset = _onset(detrended, max(0, t - half), min(n, t + half))
        if abs(onset - t) > half:
            onset = t
        after = detrended[onset : min(n, onset + 2 * w)]
        before = detrended[max(0, onset - 2 * w) : onset]
        size = float(np.median(after) - np.median(before)) if len(before) else 0.0
        z[max(0, t - 2 * w) : t + 2 * w] = 0
        if abs(size) < 2.0 * sigma:
            continue  # not a step a leader would call lasting
        if _gradual(detrended, onset, size, sigma * inflate, max(2, cfg.window // 2)):
            continue  # a ramp (a faster rise for a while), not a step
        found.append((onset, size, score))
    return sorted(found)


def _variance_break(r: np.ndarray, ok: np.ndarray, sigma: float, min_seg: int) -> int | None:
    """Where the noise's width changed for good, if it clearly did; else None.

    The κ₁ test of Sansó, Aragó and Carrion (2004) on the winsorized squared
    residuals (the CUSUM of squares of Inclán and Tiao, made robust to
    non-normal noise), at the 1 % level, and only when the two parts' robust
    widths differ by half or more. One break at most: a series whose noise
    drifts slowly keeps one width.
    """
    pos = np.flatnonzero(ok)
    n = len(pos)
    if n < 2 * min_seg:
        return None
    from statsmodels.robust.scale import qn_scale

    sq = np.clip(r[pos], -3.5 * sigma, 3.5 * sigma) ** 2
    omega = float(np.sqrt(np.mean((sq - sq.mean()) ** 2)))
    if not omega > 0:
        return None
    k = np.arange(1, n + 1)
    stat = np.abs(np.cumsum(sq) - k / n * sq.sum()) / (np.sqrt(n) * omega)
    stat[: min_seg - 1] = 0
    stat[n - min_seg :] = 0
    j = int(np.argmax(stat))
    if stat[j] < 1.628:
        return None
    a, b = float(qn_scale(r[pos[: j + 1]])), float(qn_scale(r[pos[j + 1 :]]))
    if not min(a, b) > 0 or max(a, b) / min(a, b) < 1.5:
        return None
    return int(pos[j + 1])


def _episodes(
    a: np.ndarray, ok: np.ndarray, width: np.ndarray, cfg: Settings, avoid: set[int]
) -> list[tuple[int, float, float]]:
    """Short episodes: 2 to 4 periods in a row away from the level, then back (a recession's quarters).

    Each point alone may stay under the spike threshold while together they
    are far beyond the noise: the mean of the run, against the level of the
    periods around it (the run left out), is scored in the widths the mean of
    so many autocorrelated points has. Every point of the run must lie on the
    same side, at least one width out. Reported once, at the run's most
    extreme point, as a spike or a dip. Returns (position, score, level).
    """
    n = len(a)
    rho = _ar1(a)
    trend = _global_slope(a) * np.arange(n)
    a = a - trend  # the level around a run at the series' edge is one-sided: no slope in it
    found: list[tuple[float, int, int, float]] = []
    around = 2 * cfg.window
    for k in (2, 3, 4):
        if n < k + around:
            break
        factor = 1 + 2 * sum((1 - j / k) * rho**j for j in range(1, k))
        padded = np.concatenate([np.full(around, np.nan), np.where(ok, a, np.nan), np.full(around, np.nan)])
        win = sliding_window_view(padded, 2 * around + k)[: n - k + 1]
        runs = win[:, around : around + k]
        rest = np.concatenate([win[:, :around], win[:, around + k :]], axis=1)
        level = np.nanmedian(rest, axis=1)
        dev = runs - level[:, None]
        w = sliding_window_view(width, k).mean(axis=1)
        mean = np.nanmean(dev, axis=1)
        side = np.sign(mean)
        least = np.nanmin(dev * side[:, None], axis=1)
        z = np.abs(mean) / (w * np.sqrt(factor / k))
        full = np.all(np.isfinite(runs), axis=1)
        good = full & (least >= w) & (z >= cfg.shift)
        for t in np.flatnonzero(good):
            found.append((float(z[t]), int(t), k, float(level[t])))
    out: list[tuple[int, float, float]] = []
    used: set[int] = set(avoid)
    for score, t, k, lvl in sorted(found, reverse=True):
        span = set(range(t - 1, t + k + 1))
        if span & used:
            continue
        used |= span
        peak = t + int(np.argmax(np.abs(a[t : t + k] - lvl)))
        out.append((peak, score, lvl + trend[peak]))
    return out


def _gradual(d: np.ndarray, onset: int, size: float, width: float, k: int) -> bool:
    """True when the change around ``onset`` is a ramp rather than a step.

    A step moves the level at once: the mean of the ``k`` values after the
    onset minus the ``k`` before is about the whole step. A faster rise for a
    while (Mauna Loa's CO2 in the El Niño years 1987-88 and 1997-98) moves it
    a little each period, so the jump across the onset is a small part of the
    change. Gradual only when that is clear beyond the noise of the jump.
    """
    if onset < k or onset + k > len(d):
        return False
    jump = float(np.mean(d[onset : onset + k]) - np.mean(d[onset - k : onset])) * np.sign(size)
    noise = width * np.sqrt(2 / k)
    return jump < 0.5 * abs(size) and abs(size) - jump > 2.5 * noise


def _trend_changes(
    a: np.ndarray, ok: np.ndarray, sigma: float, cfg: Settings, avoid: set[int]
) -> list[tuple[int, float, float]]:
    """The strongest change of slope between the year before and the year after a period, if large."""
    n, w = len(a), 12
    if n < 3 * w:
        return []
    win = sliding_window_view(a, w)  # win[t] = a[t:t+w]
    x = np.arange(w) - (w - 1) / 2
    slopes = win @ x / (x @ x)
    icpt = win.mean(axis=1)
    fits = win - (icpt[:, None] + slopes[:, None] * x)
    rough = _MAD * np.median(np.abs(fits), axis=1)
    t = np.arange(w, n - w + 1)
    before, after = t - w, t
    r = np.maximum(np.maximum(rough[before], rough[after]), sigma)
    change = np.abs(slopes[after] - slopes[before]) * w / r
    for s in avoid:
        change[np.abs(t - s) <= w] = 0
    change[~ok[t]] = 0
    i = int(np.argmax(change)) if len(change) else 0
    if not len(change) or change[i] < cfg.trend:
        return []
    tt = int(t[i])
    expected = icpt[before[i]] + slopes[before[i]] * (w + (w - 1) / 2 - (w - 1))
    return [(tt, float(change[i]), float(expected))]
