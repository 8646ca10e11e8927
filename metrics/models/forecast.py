"""Year-end outlook and target attainment for one regular series (issue 3, forecasts).

The interface the engine, the pages and ``make eval`` share::

    forecast_year_end(values, periods, *, grain, accumulate="none",
                      direction="higher_better", target=None, level=0.9,
                      season=None, name="", unit="") -> Outlook | None

``values`` is a regular series as :func:`metrics.models.runner.regular` gives
it: one value per period from the first to the last, ``nan`` at gaps (and at
January under 1-2月). The last finite value is the latest row; the outlook is
for the last period of that row's year at the series' grain (``2026-12``,
``2026-Q4``, ``2026-W53``, ``2026-12-31``, ``2026``), ``horizon`` steps on.

How it forecasts (chosen by measurement, ``python -m eval.forecast``; the
numbers are in ``docs/models.md``):

1. **Model.** The *robust* model (``method='auto'``): a robust season
   (per-phase medians, kept only when it stands out from the noise), a
   Theil-Sen drift over the latest five years (at least 60 values), and a Kalman filter
   over a wandering level plus AR(1) noise that clips outlying innovations;
   the noise, its memory and the level's wandering come from the series'
   variogram. No optimiser: a daily series with a 300-day horizon takes
   milliseconds. Its error covariance over the horizon is closed form, so sums
   over several periods (``ytd``) get their correlated errors right. On
   held-out data it beat statsmodels' ETS (``ETSModel``, additive damped
   trend, additive season with two full seasons; ``method='ets'``, kept for
   comparison) on accuracy (MASE) and on interval coverage, on the generated
   benchmark and on US real GDP; on co2 ETS's coverage is similar.
2. **Scale.** A positive series with two years of history is forecast on the
   log scale when that scored better on its own past (the robust model run
   from six past origins, Gaussian log score of the actual values): then the
   interval widens with the level and never reaches zero.
3. **Calibration.** The forecast standard deviation is multiplied by a factor
   (:data:`CALIBRATION`) learned on generated benchmark series with seeds
   other than the one coverage is reported on.
4. **The outlook.** The predictive distribution is normal on the model scale.
   ``accumulate='ytd'`` series are cumulative and reset each January: the model
   runs on the increments (the first period of a year, or February when
   January is missing, is its own increment), and the year-end value is the
   latest cumulative value plus the sum of the remaining increments; the sum's
   distribution uses the increments' full covariance (no independence
   assumed): exact (normal) on the plain scale, simulated (4,000 draws, fixed
   seed) on the log scale. ``accumulate='source'`` series are published
   year-to-date figures: cumulative growth rates (in %, or moving both ways
   within a year) are forecast as they are, without a season; cumulative
   amounts (never falling within a year, e.g. GDP 1-3季度 in 亿元) like
   ``ytd``. Shares
   in % that have stayed in [0, 100] are clipped to it; series that were never
   negative are clipped at 0.

``probability`` is P(value ≥ target) for ``higher_better`` and P(value ≤
target) for ``lower_better``, from the same distribution as the interval.

Examples
--------
>>> import numpy as np
>>> ps = [f"{2024 + i // 12}-{i % 12 + 1:02d}" for i in range(30)]   # 2024-01 .. 2026-06
>>> x = 80 + 0.2 * np.arange(30)
>>> o = forecast_year_end(x, ps, grain="month", target=90, unit="%", name="全程网办率")
>>> o.period, o.horizon, round(o.mean, 1)
('2026-12', 6, 87.0)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import periods as P

SEASON = {"day": 7, "week": 52, "month": 12, "quarter": 4, "year": None}
MIN_POINTS = 8  # fewer observed values than this: no outlook
ETS_MIN_POINTS = 12  # method="ets" falls back to the robust model below this
METHODS = ("ets", "robust")
# Multiplies each model's forecast standard deviation: the factor that puts 90 % of actuals inside
# the 90 % interval (h = 1..12) on the clean generated series with CALIBRATION_SEEDS, measured by
# ``python -m eval.forecast --calibrate``; coverage is reported on another seed. 1.0: the models'
# own intervals.
CALIBRATION = {"ets": 1.47, "robust": 1.06}
CALIBRATION_SEEDS = (7, 8, 9, 10)
_DRAWS = 4000
# the drift is read from the latest five years of values, and at least 60 of them
DRIFT_YEARS = 5
DRIFT_MIN = 60
PER_YEAR = {"day": 365, "week": 52, "month": 12, "quarter": 4, "year": 1}
_MAD = 1.4826


@dataclass(frozen=True)
class Outlook:
    period: str  # the year's last period at the series' grain
    mean: float  # the central forecast (the median on the log scale)
    lower: float  # the ``level`` prediction interval
    upper: float
    probability: float | None  # of reaching the target by direction; None without a target
    horizon: int  # periods from the latest row to ``period`` (0: already there)
    method: str  # ets | robust | observed | constant
    explanation: str = ""  # one Chinese sentence (needs ``name``; see :func:`explain`)
    level: float = 0.9
    target: float | None = None
    direction: str = "higher_better"
    accumulate: str = "none"


@dataclass(frozen=True)
class Path:
    """The predictive distribution of the next ``h`` values on the model scale (normal)."""

    mean: np.ndarray  # (h,)
    cov: np.ndarray  # (h, h)
    log: bool  # model scale is log(value)
    method: str


# ----------------------------------------------------------------- the public functions


def forecast_year_end(
    values: Sequence[float] | np.ndarray,
    periods: Sequence[str],
    *,
    grain: str,
    accumulate: str = "none",
    direction: str = "higher_better",
    target: float | None = None,
    level: float = 0.9,
    season: int | None = None,
    name: str = "",
    unit: str = "",
    method: str = "auto",
    calibrate: bool = True,
) -> Outlook | None:
    """The year-end outlook of one series, or None when it has too little history.

    ``season`` defaults to the grain's (12 months, 4 quarters, 52 weeks, 7 days);
    pass ``season=0`` for none. ``method``: ``auto`` (the measured choice, the
    robust model) or ``ets`` (for comparison in ``make eval``; monthly and
    quarterly series of 12 values or more, else the robust model). With
    ``name`` the outlook carries its sentence (:func:`explain`); ``unit``
    formats it and, for ``%``, bounds the interval to [0, 100].
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = _forecast_year_end(
            values, periods, grain, accumulate, direction, target, level, season, unit, method, calibrate
        )
    if out is not None and name:
        out = _replace(out, explanation=explain(out, name, unit))
    return out


def explain(outlook: Outlook, name: str, unit: str = "") -> str:
    """One sentence for a leader, e.g. ``按当前趋势，全程网办率年底预计为 88.6%（90% 区间 86.9%–90.2%），
    达到 90% 目标的概率约 12%``."""
    from ..format import fmt_value

    spread = abs(outlook.upper - outlook.lower)

    def v(x: float) -> str:
        return fmt_value(_display(x, unit, spread), unit)

    what = "年底累计" if outlook.accumulate == "ytd" else "年底"
    pct = f"{round(outlook.level * 100)}%"
    tgt = None if outlook.target is None else v(outlook.target)
    if outlook.horizon == 0:
        text = f"{name}{what}为 {v(outlook.mean)}（{P.label(outlook.period)}）"
        if tgt is not None:
            reached = bool(outlook.probability)
            verb = "达到" if outlook.direction == "higher_better" else "控制在"
            tail = "目标" if outlook.direction == "higher_better" else "目标以内"
            text += f"，{'已' if reached else '未'}{verb} {tgt} {tail}"
        return text
    text = (
        f"按当前趋势，{name}{what}预计为 {v(outlook.mean)}"
        f"（{pct} 区间 {v(outlook.lower)}–{v(outlook.upper)}）"
    )
    if tgt is not None and outlook.probability is not None:
        verb = "达到" if outlook.direction == "higher_better" else "不超过"
        text += f"，{verb} {tgt} 目标的概率{_pct(outlook.probability)}"
    return text


def drift_window(grain: str) -> int:
    """Periods the robust model reads its drift from: five years, and at least 60."""
    return max(DRIFT_MIN, DRIFT_YEARS * PER_YEAR.get(grain, 12))


def year_end(period: str, grain: str | None = None) -> str:
    """The last period of ``period``'s year at its grain (ISO week-year for weeks)."""
    g = grain or P.grain_of(period)
    y = P.year_of(period)
    if g == "month":
        return f"{y}-12"
    if g == "quarter":
        return f"{y}-Q4"
    if g == "week":
        return f"{y}-W{P.weeks_in_year(y):02d}"
    if g == "day":
        return f"{y}-12-31"
    return str(y)


def predict(
    values: Sequence[float] | np.ndarray,
    h: int,
    *,
    season: int | None = None,
    phases: Sequence[int] | np.ndarray | None = None,
    method: str = "auto",
    log: bool | None = None,
    calibrate: bool = True,
    drift_window: int = 60,
) -> Path | None:
    """The next ``h`` values' predictive distribution (model scale), or None (too short).

    ``values`` ends at the latest observation; ``phases`` (length ``len(values) + h``)
    is each period's place in the season (month 0..11, ISO week 0..51, weekday),
    by default the position modulo ``season``. ``method``: ``auto`` or ``robust``
    (the same), or ``ets`` (12 values or more, a season of at most 12; else robust).
    ``log``: None decides by measurement (see the module docstring).
    ``drift_window``: the periods the robust model reads its drift from (see
    :func:`drift_window`; 60 for months).
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _predict(values, h, season, phases, method, log, calibrate, drift_window)


# ----------------------------------------------------------------- year-end logic


def _forecast_year_end(
    values: Sequence[float] | np.ndarray,
    periods: Sequence[str],
    grain: str,
    accumulate: str,
    direction: str,
    target: float | None,
    level: float,
    season: int | None,
    unit: str,
    method: str,
    calibrate: bool,
) -> Outlook | None:
    x = np.asarray(values, dtype=float)
    if len(x) != len(periods):
        raise ValueError("values and periods differ in length")
    if direction not in ("higher_better", "lower_better"):
        raise ValueError(f"direction must be higher_better or lower_better, not {direction!r}")
    if accumulate not in ("none", "ytd", "source"):
        raise ValueError(f"accumulate must be none, ytd or source, not {accumulate!r}")
    ok = np.isfinite(x)
    if ok.sum() < MIN_POINTS:
        return None
    first, last = int(np.argmax(ok)), len(x) - 1 - int(np.argmax(ok[::-1]))
    x, ps = x[first : last + 1], list(periods[first : last + 1])
    if accumulate == "source" and unit != "%" and _rises_within_years(x, ps):
        accumulate = "ytd"  # a published cumulative amount (GDP 1-3季度, 亿元), not a cumulative rate
    end = year_end(ps[-1], grain)
    h = P.ordinal(end) - P.ordinal(ps[-1])
    tgt = None if target is None or not math.isfinite(float(target)) else float(target)
    common = dict(level=level, target=tgt, direction=direction, accumulate=accumulate)
    lo_b, hi_b = _bounds(x[np.isfinite(x)], unit, accumulate)
    if h <= 0:
        v = float(x[-1])
        return Outlook(end, v, v, v, _reached(v, tgt, direction), 0, "observed", **common)
    m = season if season is not None else SEASON.get(grain)
    if accumulate == "source":
        m = season or None  # cumulative growth rates: smooth within the year, no season
    m = m if m and m > 1 else None
    future = [P.shift(ps[-1], j) for j in range(1, h + 1)]
    phases = _phases(ps + future, grain, m) if m else None

    if accumulate == "ytd":
        inc = _increments(x, ps)
        if np.isfinite(inc).sum() < MIN_POINTS:
            return None
        y = inc
        base = float(x[-1])
        if np.nanmin(inc) >= 0:
            lo_b = max(lo_b, base)  # increments never negative: the total cannot fall back
    else:
        y = x
        base = 0.0
    obs = y[np.isfinite(y)]
    if np.ptp(obs) <= 1e-12 * max(1.0, float(np.max(np.abs(obs)))):
        # a constant series stays constant
        c = float(obs[0])
        v = base + c * h if accumulate == "ytd" else c
        v = float(np.clip(v, lo_b, hi_b))
        return Outlook(end, v, v, v, _reached(v, tgt, direction), h, "constant", **common)
    # _predict forecasts from the last finite value on: a ytd series whose latest increment is
    # unknown (after a gap) gets that period forecast too, and only the later ones are kept
    window = drift_window(grain)
    path = _predict(y, h, m, phases, method, None, calibrate, window)
    if path is None:
        return None

    alpha = (1 - level) / 2
    if accumulate == "ytd":
        mean, lower, upper, prob = _sum_outlook(path, base, alpha, tgt, direction, lo_b, hi_b)
    else:
        mu, sd = float(path.mean[-1]), float(np.sqrt(max(path.cov[-1, -1], 0.0)))
        mean, lower, upper, prob = _normal_outlook(mu, sd, path.log, alpha, tgt, direction, lo_b, hi_b)
    return Outlook(end, mean, lower, upper, prob, h, path.method, **common)


def _rises_within_years(x: np.ndarray, ps: list[str]) -> bool:
    """True when every year's values never fall: a cumulative amount, not a rate that moves both ways."""
    ok = np.isfinite(x)
    if np.any(x[ok] < 0):
        return False
    prev: tuple[int, float] | None = None
    for t in np.flatnonzero(ok):
        y = P.year_of(ps[t])
        if prev is not None and prev[0] == y and x[t] < prev[1] - 1e-9 * max(1.0, abs(prev[1])):
            return False
        prev = (y, float(x[t]))
    return True


def _increments(cum: np.ndarray, ps: list[str]) -> np.ndarray:
    """Per-period increments of a cumulative series that resets each year.

    The year's first period is its own increment; so is February when January
    is missing (1-2月 holds two months). After any other gap the increment is
    unknown (nan): it would span several periods.
    """
    out = np.full(len(cum), np.nan)
    for t in range(len(cum)):
        if not np.isfinite(cum[t]):
            continue
        y = P.year_of(ps[t])
        if P.year_of(P.shift(ps[t], -1)) != y:  # the year's first period
            out[t] = cum[t]
        elif t >= 1 and np.isfinite(cum[t - 1]):
            out[t] = cum[t] - cum[t - 1]
        elif len(ps[t]) == 7 and ps[t][5:] == "02":
            out[t] = cum[t]  # 1-2月: January missing (or before the series), February holds both
        # any other gap: unknown
    return out


def _normal_outlook(
    mu: float,
    sd: float,
    log: bool,
    alpha: float,
    target: float | None,
    direction: str,
    lo_b: float,
    hi_b: float,
) -> tuple[float, float, float, float | None]:
    """Central value, interval and probability from N(mu, sd²) on the model scale."""
    from scipy.stats import norm

    z = float(norm.ppf(1 - alpha))
    back = math.exp if log else float
    mean, lower, upper = (float(np.clip(back(v), lo_b, hi_b)) for v in (mu, mu - z * sd, mu + z * sd))
    if target is None:
        return mean, lower, upper, None
    if log and target <= 0:
        above = 1.0
    else:
        above = _sf(math.log(target) if log else target, mu, sd)
    return mean, lower, upper, _by_direction(above, target, direction, lo_b, hi_b)


def _sum_outlook(
    path: Path,
    base: float,
    alpha: float,
    target: float | None,
    direction: str,
    lo_b: float,
    hi_b: float,
) -> tuple[float, float, float, float | None]:
    """Year-end cumulative = latest cumulative + the sum of the remaining increments."""
    if not path.log:
        mu = base + float(path.mean.sum())
        sd = float(np.sqrt(max(float(path.cov.sum()), 0.0)))
        return _normal_outlook(mu, sd, False, alpha, target, direction, lo_b, hi_b)
    # log scale: the sum of log-normals, simulated (fixed seed: the same input, the same answer)
    rng = np.random.default_rng(20261231)
    h = len(path.mean)
    chol = _chol(path.cov)
    draws = path.mean + rng.standard_normal((_DRAWS, h)) @ chol.T
    totals = base + np.exp(draws).sum(axis=1)
    central = base + float(np.exp(path.mean).sum())
    lower, upper = np.quantile(totals, [alpha, 1 - alpha])
    mean, lower, upper = (float(np.clip(v, lo_b, hi_b)) for v in (central, lower, upper))
    if target is None:
        return mean, lower, upper, None
    above = float(np.mean(totals >= target))
    return mean, lower, upper, _by_direction(above, target, direction, lo_b, hi_b)


def _by_direction(above: float, target: float, direction: str, lo_b: float, hi_b: float) -> float:
    """P(value ≥ target) → the probability of reaching it, given the bounds."""
    if target > hi_b:
        above = 0.0
    elif target <= lo_b:
        above = 1.0
    p = above if direction == "higher_better" else 1.0 - above
    if direction == "lower_better" and target >= hi_b:
        p = 1.0
    return float(np.clip(p, 0.0, 1.0))


def _sf(t: float, mu: float, sd: float) -> float:
    if sd <= 0 or not np.isfinite(sd):
        return 1.0 if mu >= t else 0.0
    from scipy.stats import norm

    return float(norm.sf((t - mu) / sd))


def _reached(v: float, target: float | None, direction: str) -> float | None:
    if target is None:
        return None
    return float(v >= target) if direction == "higher_better" else float(v <= target)


def _bounds(obs: np.ndarray, unit: str, accumulate: str) -> tuple[float, float]:
    """Where a value can be: [0, 100] for a share in %, ≥ 0 for a never-negative series."""
    if accumulate == "source" or not len(obs):
        return -np.inf, np.inf
    if (unit or "").strip() == "%" and obs.min() >= 0 and obs.max() <= 100:
        return 0.0, 100.0
    if obs.min() >= 0 and "%" not in (unit or ""):
        return 0.0, np.inf
    return -np.inf, np.inf


def _phases(ps: list[str], grain: str, m: int | None) -> np.ndarray:
    """Each period's place in the season: month, quarter, ISO week (53 counts as 52), weekday."""
    if not m:
        return np.zeros(len(ps), dtype=int)
    if grain == "month" and m == 12:
        return np.array([int(p[5:7]) - 1 for p in ps])
    if grain == "quarter" and m == 4:
        return np.array([int(p[-1]) - 1 for p in ps])
    if grain == "week" and m == 52:
        return np.array([min(int(p.split("W")[1]), 52) - 1 for p in ps])
    if grain == "day" and m == 7:
        return np.array([P.start(p).weekday() for p in ps])
    return np.arange(len(ps)) % m


def _replace(o: Outlook, **kw: object) -> Outlook:
    from dataclasses import replace

    return replace(o, **kw)


def _pct(p: float) -> str:
    if p < 0.05:
        return "不足 5%"
    if p > 0.95:
        return "超过 95%"
    return f"约 {round(p * 100)}%"


def _display(v: float, unit: str, spread: float) -> float:
    """Round for the sentence: rates to 0.1 (0.01 when the interval is narrower than 1 point)."""
    if unit == "%":
        return round(v, 2 if spread < 1 or v > 99 else 1)
    a = abs(v)
    if a >= 1000:
        return float(round(v))
    if a >= 10:
        return round(v, 1)
    return round(v, 2)


# ----------------------------------------------------------------- the models


def _predict(
    values: Sequence[float] | np.ndarray,
    h: int,
    season: int | None,
    phases: Sequence[int] | np.ndarray | None,
    method: str,
    log: bool | None,
    calibrate: bool,
    window: int = 60,
) -> Path | None:
    x = np.asarray(values, dtype=float)
    ok = np.isfinite(x)
    if ok.sum() < MIN_POINTS or h < 1:
        return None
    first, last = int(np.argmax(ok)), len(x) - 1 - int(np.argmax(ok[::-1]))
    m = season if season and season > 1 else None
    skip = len(x) - 1 - last  # periods after the last finite value: forecast, then dropped
    hh = h + skip
    if phases is not None and m:
        ph = np.asarray(phases, dtype=int)
        if len(ph) != len(x) + h:
            raise ValueError("phases must cover the values and the h periods after them")
        ph = ph[first:]
    else:
        ph = np.arange(last + 1 - first + hh) % m if m else np.zeros(last + 1 - first + hh, dtype=int)
    x = x[first : last + 1]
    obs = x[np.isfinite(x)]
    use_log = _use_log(x, m, ph, window) if log is None else (log and bool(np.all(obs > 0)))
    z = np.log(x) if use_log else x
    # auto: the robust model, which beat ETS on held-out data (``python -m eval.forecast``)
    choice = "robust" if method == "auto" else method
    path = None
    if choice == "ets" and np.isfinite(z).sum() >= ETS_MIN_POINTS and (m or 0) <= 12:
        try:
            path = _ets(z, hh, m, ph)
        except Exception:  # an optimiser that fails is no reason to have no outlook
            path = None
    if path is None:
        path = _robust(z, hh, m, ph, window)
    k = CALIBRATION.get(path.method, 1.0) if calibrate else 1.0
    mean, cov = path.mean, path.cov * k * k
    if skip:
        mean, cov = mean[skip:], cov[skip:, skip:]
    return Path(mean, cov, use_log, path.method)


def _use_log(x: np.ndarray, m: int | None, ph: np.ndarray, window: int = 60) -> bool:
    """Logs or not, by measurement on the series itself.

    For a positive series with two years (or 24 values) of history, the robust
    model is run on both scales from up to six past origins; the scale whose
    forecasts 1..6 steps on scored better (the mean Gaussian log score of the
    actual values, on the original scale) wins. Logs suit a series whose
    season and noise swing in proportion to its level.
    """
    ok = np.isfinite(x)
    obs = x[ok]
    if len(obs) < 24 or np.any(obs <= 0) or obs.max() / obs.min() < 1.05:
        return False
    n = len(x)
    hb = 6
    origins = [o for o in range(n - hb, n // 2 - 1, -max(2, (n // 2) // 6))][:6]
    score = {False: [], True: []}
    for o in origins:
        test = x[o : o + hb]
        seen = np.isfinite(test)
        if np.isfinite(x[:o]).sum() < MIN_POINTS or not seen.any():
            continue
        for log in (False, True):
            z = np.log(x[:o]) if log else x[:o]
            path = _robust(z, hb, m, ph[: o + hb], window)
            sd = np.sqrt(np.clip(np.diag(path.cov), 1e-300, None))
            y = np.log(test[seen]) if log else test[seen]
            u = (y - path.mean[seen]) / sd[seen]
            # log density of the actual on the original scale (the Jacobian for logs)
            ls = -np.log(sd[seen]) - 0.5 * np.minimum(u * u, 25.0) - (y if log else 0.0)
            score[log].append(float(np.mean(ls)))
    if not score[False]:
        return False
    return float(np.mean(score[True])) > float(np.mean(score[False]))


def _fill(x: np.ndarray, m: int | None, ph: np.ndarray) -> np.ndarray:
    """Gaps filled: the seasonally adjusted series interpolated, the season added back."""
    ok = np.isfinite(x)
    if ok.all():
        return x.copy()
    idx = np.arange(len(x))
    lin = np.interp(idx, idx[ok], x[ok])
    if not m:
        return lin
    prof, _ = _profile(lin, m, ph, raw=x)
    s = prof[ph[: len(x)]]
    adj = np.interp(idx, idx[ok], (x - s)[ok])
    return adj + s


def _profile(
    x: np.ndarray, m: int | None, ph: np.ndarray, raw: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Per-phase seasonal effects (mean 0) and the observations behind each (about); zeros and 0
    when there is no real season.

    The trend is a centred moving average over a season (a Theil-Sen line when
    the series is shorter than two seasons); each phase's effect is the median
    of what is left, over observed values only (``raw`` marks the gaps). The
    profile is kept only when it stands out from the noise, which is measured
    within phases (corrected for the phase medians fitted to the same values).
    """
    if not m:
        return np.zeros(1), 0.0
    n = len(x)
    ph = ph[:n]
    keep = np.isfinite(raw) if raw is not None else np.ones(n, dtype=bool)
    if keep.sum() < m + 2:
        return np.zeros(m), 0.0
    if n >= 2 * m:
        w = m + 1 if m % 2 == 0 else m
        kernel = np.ones(w)
        if m % 2 == 0:
            kernel[0] = kernel[-1] = 0.5
        weights = np.convolve(np.ones(n), kernel, mode="same")
        trend = np.convolve(x, kernel, mode="same") / weights
        # the half-window at each end is a one-sided average: leave it out when enough is left
        half = w // 2
        inner = np.zeros(n, dtype=bool)
        inner[half : n - half] = True
        if (inner & keep).sum() >= 2 * m:
            keep = keep & inner
    else:
        t = np.flatnonzero(keep)
        slope, icpt = _theil_sen(t.astype(float), x[t])
        trend = icpt + slope * np.arange(n)
    d = x - trend
    counts = np.bincount(ph[keep], minlength=m)[:m]
    prof = np.zeros(m)
    for k in range(m):
        sel = keep & (ph == k)
        prof[k] = np.median(d[sel]) if sel.any() else 0.0
    prof -= prof.mean()
    multi = keep & (counts[ph] >= 2)
    if multi.sum() < 4:
        return np.zeros(m), 0.0
    resid = d[multi] - prof[ph[multi]]
    c = float(np.mean(counts[counts >= 2]))
    noise = _MAD * float(np.median(np.abs(resid - np.median(resid)))) * math.sqrt(c / (c - 1))
    cycles = float(np.mean(counts[counts >= 1]))
    if not float(np.var(prof)) > 3 * (np.pi / 2) * noise**2 / cycles:
        return np.zeros(m), 0.0
    return prof, cycles


def _theil_sen(t: np.ndarray, y: np.ndarray, most: int = 120) -> tuple[float, float]:
    """Slope and intercept (at t = 0) of a robust line; at most ``most`` points (evenly spaced)."""
    if len(t) > most:
        pick = np.linspace(0, len(t) - 1, most).astype(int)
        t, y = t[pick], y[pick]
    if len(t) < 2:
        return 0.0, float(y[0]) if len(y) else 0.0
    i, j = np.triu_indices(len(t), 1)
    slope = float(np.median((y[j] - y[i]) / (t[j] - t[i])))
    return slope, float(np.median(y - slope * t))


def _ets(z: np.ndarray, h: int, m: int | None, ph: np.ndarray) -> Path:
    """ETS(A,Ad,A) or ETS(A,Ad,N) (statsmodels) with the analytic error covariance."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    n = len(z)
    y = _fill(z, m, ph)
    seasonal = bool(m) and n >= 2 * m
    model = ETSModel(
        y,
        error="add",
        trend="add",
        damped_trend=True,
        seasonal="add" if seasonal else None,
        seasonal_periods=m if seasonal else None,
    )
    res = model.fit(disp=False, maxiter=200)
    mean = np.asarray(res.forecast(h), dtype=float)
    s2 = float(res.mse)
    if not (np.all(np.isfinite(mean)) and np.isfinite(s2)):
        raise ValueError("ETS gave no finite forecast")
    a = float(res.smoothing_level)
    b = float(res.smoothing_trend)
    phi = float(res.damping_trend)
    g = float(res.smoothing_seasonal) if seasonal else 0.0
    j = np.arange(1, h)
    phij = phi * (1 - phi**j) / (1 - phi) if phi < 1 else j.astype(float)
    c = np.concatenate([[1.0], a + b * phij + (g * (j % m == 0) if seasonal else 0.0)])
    # e_{T+i} = Σ_{k=0}^{i-1} c_k ε_{T+i-k};  Cov(e_i, e_j) = σ² Σ_k c_k c_{k+j-i}
    cmat = np.zeros((h, h))  # cmat[i, t]: weight of ε_{T+1+t} in e_{T+1+i}
    for i in range(h):
        cmat[i, : i + 1] = c[: i + 1][::-1]
    cov = s2 * cmat @ cmat.T
    return Path(mean, cov, False, "ets")


def _robust(z: np.ndarray, h: int, m: int | None, ph: np.ndarray, window: int = 60) -> Path:
    """Robust season + Theil-Sen drift + a Kalman-filtered level and AR(1) noise; variances from
    the series' variogram.

    The model: ``z_t = s(phase_t) + b t + μ_t + u_t``, ``μ_t = μ_{t-1} + η_t`` (the level
    wanders), ``u_t = φ u_{t-1} + w_t`` (noise with memory; φ = 0 is white noise). The filter
    clips innovations at 3 sd, so an outlier barely moves the level. The error covariance of the
    forecasts is closed form: the filter's uncertainty at the end, the level's wandering, the
    noise, the drift's uncertainty (× i j) and the seasonal effects' (each a median of ``c``
    values, × π/2c).
    """
    n = len(z)
    ok = np.isfinite(z)
    t_obs = np.flatnonzero(ok)
    if m:
        prof, cycles = _profile(_fill(z, m, ph), m, ph, raw=z)
    else:
        prof, cycles = np.zeros(1), 0.0
    s = prof[ph] if m else np.zeros(n + h)
    a = z - s[:n]
    # drift: Theil-Sen over the latest ``window`` periods (at least two seasons)
    tt = t_obs[t_obs > t_obs[-1] - max(window, 2 * (m or 0))]
    b, _ = _theil_sen(tt.astype(float), a[tt])
    d = a - b * np.arange(n)
    # variogram: robust variance of d_{t+k} - d_t = 2σ_u²(1 - φ^k) + k σ_η²
    kmax = int(min(12, max(2, len(t_obs) // 4)))
    ks, gam = [], []
    for k in range(1, kmax + 1):
        diff = d[k:] - d[:-k]
        diff = diff[np.isfinite(diff)]
        if len(diff) >= 4:
            ks.append(k)
            gam.append((_MAD * float(np.median(np.abs(diff - np.median(diff))))) ** 2)
    s_u, phi, s_eta = _variogram_fit(np.array(ks, float), np.array(gam, float))
    if s_u + s_eta <= 0:
        # a series on a coarse grid (a median of equal differences): the raw spread
        r = np.diff(d[ok])
        v = float(np.var(r)) / 2 if len(r) else 0.0
        s_u, phi = max(v, 1e-12 * max(1.0, float(np.nanmax(np.abs(z)))) ** 2), 0.0
    season_var = 0.0
    if cycles > 1:
        # the seasonal effects were fitted to these same values: what is left looks calmer than
        # the noise by about (c - 1) / c; and each effect is itself a median of c noisy values
        s_u *= cycles / (cycles - 1)
        season_var = (np.pi / 2) * s_u / cycles
    s_w = s_u * (1 - phi * phi)
    # the filter: state (μ, u), covariance (p11, p12, p22); plain floats, it runs per value
    m1 = float(np.median(d[t_obs[: min(len(t_obs), 5)]]))
    m2 = 0.0
    p11 = s_eta + (float(np.var(d[t_obs[: min(len(t_obs), 12)]])) if len(t_obs) > 1 else s_u)
    p12, p22 = 0.0, s_u
    prev = int(t_obs[0])
    dd = d.tolist()
    for t in t_obs.tolist():
        for _ in range(t - prev):
            m2 *= phi
            p11 += s_eta
            p12 *= phi
            p22 = phi * phi * p22 + s_w
        prev = t
        f = p11 + 2 * p12 + p22
        if f <= 0:
            continue
        lim = 3.0 * math.sqrt(f)
        v = min(max(dd[t] - m1 - m2, -lim), lim)
        k1, k2 = (p11 + p12) / f, (p12 + p22) / f
        m1 += k1 * v
        m2 += k2 * v
        p11, p12, p22 = p11 - k1 * k1 * f, p12 - k1 * k2 * f, p22 - k2 * k2 * f
    span = max(float(tt[-1] - tt[0]), 1.0)
    # the drift's variance over the span (× π/2: a median is less efficient than a mean)
    var_b = (np.pi / 2) * (s_eta / span + 2 * s_u / span**2)
    i = np.arange(1, h + 1, dtype=float)
    last = int(t_obs[-1])
    fi = phi**i
    mean = m1 + fi * m2 + b * (last + i) + s[last + 1 : last + 1 + h]
    lo = np.minimum.outer(i, i)
    cov = (
        p11
        + p12 * np.add.outer(fi, fi)
        + p22 * np.outer(fi, fi)
        + s_eta * lo
        + s_u * phi ** np.abs(np.subtract.outer(i, i)) * (1 - phi ** (2 * lo))
        + var_b * np.outer(i, i)
    )
    if season_var and m:
        fp = ph[last + 1 : last + 1 + h]
        cov = cov + season_var * np.equal.outer(fp, fp)
    return Path(mean, cov, False, "robust")


def _variogram_fit(k: np.ndarray, g: np.ndarray) -> tuple[float, float, float]:
    """σ_u², φ, σ_η² ≥ 0 with 2σ_u²(1 - φ^k) + k σ_η² ≈ g: least squares weighted to the short
    lags, φ on a grid (0 = white noise)."""
    if len(k) == 0:
        return 0.0, 0.0, 0.0
    from scipy.optimize import nnls

    w = 1.0 / np.sqrt(k)
    best = (np.inf, 0.0, 0.0, 0.0)
    for phi in (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9) if len(k) >= 4 else (0.0,):
        A = np.column_stack([2 * (1 - phi**k), k]) * w[:, None]
        sol, res = nnls(A, g * w)
        if res < best[0] - 1e-12 * (1 + abs(best[0]) if np.isfinite(best[0]) else 1):
            best = (res, float(sol[0]), phi, float(sol[1]))
    return best[1], best[2], best[3]


def _chol(c: np.ndarray) -> np.ndarray:
    c = (c + c.T) / 2
    try:
        return np.linalg.cholesky(c + 1e-12 * np.eye(len(c)) * max(1.0, float(np.trace(c)) / len(c)))
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(c)
        return v * np.sqrt(np.clip(w, 0, None))
