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

1. **Scale.** A positive series whose seasonal and noise swings grow with its
   level is modelled on the log scale (the interval stays positive and widens
   with the level); everything else on its own scale.
2. **Model.** Monthly and quarterly series with at least 12 points get
   statsmodels' ETS (``ETSModel``: additive error, additive damped trend,
   additive season once two full seasons are observed; gaps filled by
   interpolating the seasonally adjusted series first). The forecast errors'
   full covariance comes from the fitted smoothing parameters (the analytic
   formulas of Hyndman et al., 2008, class 1), so sums over several periods
   (``ytd``) get their correlated errors right. Short series, weekly and daily
   series, and any series where ETS fails get the **robust** model: a robust
   season (per-phase medians), a Theil-Sen drift, a local level tracked by a
   Kalman filter that clips outlying innovations, and noise and level-change
   variances estimated from the series' variogram; its error covariance is
   closed form. It needs no optimiser, so a daily series and a 300-day horizon
   take a few milliseconds.
3. **Calibration.** Each model's error spread is multiplied by a factor
   (:data:`CALIBRATION`) learned on the generated benchmark (a seed other than
   the one coverage is reported on), because fitted models ignore their own
   parameter uncertainty and read as over-confident.
4. **The outlook.** The predictive distribution is normal on the model scale.
   ``accumulate='ytd'`` series are cumulative and reset each January: the model
   runs on the increments (the first period of a year, or February when
   January is missing, is its own increment), and the year-end value is the
   latest cumulative value plus the sum of the remaining increments; the sum's
   distribution is exact (normal) on the plain scale and simulated (4,000
   draws, fixed seed) on the log scale. ``accumulate='source'`` series
   (published cumulative growth rates) are forecast as they are, without a
   season. Rates in % that have stayed in [0, 100] are clipped to it; series
   that were never negative are clipped at 0.

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
ETS_MIN_POINTS = 12  # below this the robust model, whatever ``method`` asks
METHODS = ("ets", "robust")
# Multiplies each model's forecast standard deviation; learned by ``python -m eval.forecast
# --calibrate`` on the benchmark with seed CALIBRATION_SEED (not the seed coverage is reported
# on). 1.0 would be the models' own intervals.
CALIBRATION = {"ets": 1.25, "robust": 1.15}
CALIBRATION_SEED = 7
_DRAWS = 4000
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
    pass ``season=0`` for none. ``method`` forces ``ets`` or ``robust`` (for
    ``make eval``); ``auto`` is the measured choice. With ``name`` the outlook
    carries its sentence (:func:`explain`).
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
) -> Path | None:
    """The next ``h`` values' predictive distribution (model scale), or None (too short).

    ``values`` ends at the latest observation; ``phases`` (length ``len(values) + h``)
    is each period's place in the season (month 0..11, ISO week 0..51, weekday),
    by default the position modulo ``season``. ``method``: ``auto`` (ETS for a
    season of at most 12 and 12 points or more, else robust), ``ets`` or ``robust``.
    """
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _predict(values, h, season, phases, method, log, calibrate)


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
    path = _predict(y, h, m, phases, method, None, calibrate)
    if path is None:
        return None

    alpha = (1 - level) / 2
    if accumulate == "ytd":
        mean, lower, upper, prob = _sum_outlook(path, base, alpha, tgt, direction, lo_b, hi_b)
    else:
        mu, sd = float(path.mean[-1]), float(np.sqrt(max(path.cov[-1, -1], 0.0)))
        mean, lower, upper, prob = _normal_outlook(mu, sd, path.log, alpha, tgt, direction, lo_b, hi_b)
    return Outlook(end, mean, lower, upper, prob, h, path.method, **common)


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
        first_of_year = t == 0 or P.year_of(ps[t - 1]) != y
        if first_of_year:
            out[t] = cum[t]
        elif np.isfinite(cum[t - 1]):
            out[t] = cum[t] - cum[t - 1]
        elif (
            ps[t][5:] == "02"
            and len(ps[t]) == 7
            and t >= 1
            and P.year_of(ps[t - 1]) == y
            and (t == 1 or P.year_of(ps[t - 2]) != y)
        ):
            out[t] = cum[t]  # 1-2月: January missing, February holds both
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
    from scipy.stats import norm

    z = float(norm.ppf(1 - alpha))
    lo, hi = mu - z * sd, mu + z * sd
    if log:
        mu, lo, hi = math.exp(mu), math.exp(lo), math.exp(hi)
    mean, lower, upper = (float(np.clip(v, lo_b, hi_b)) for v in (mu, lo, hi))
    if target is None:
        return mean, lower, upper, None
    if log:
        if target <= 0:
            above = 1.0
        else:
            above = _sf(math.log(target), np.log(mu) if mu > 0 else -np.inf, sd)
    else:
        above = _sf(target, mu, sd)
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
    use_log = _use_log(x, m, ph) if log is None else (log and bool(np.all(obs > 0)))
    z = np.log(x) if use_log else x
    choice = method
    if method == "auto":
        choice = "ets" if (m is None or m <= 12) and np.isfinite(z).sum() >= ETS_MIN_POINTS else "robust"
    path = None
    if choice == "ets" and np.isfinite(z).sum() >= ETS_MIN_POINTS:
        try:
            path = _ets(z, hh, m, ph)
        except Exception:  # an optimiser that fails is no reason to have no outlook
            path = None
    if path is None:
        path = _robust(z, hh, m, ph)
    k = CALIBRATION.get(path.method, 1.0) if calibrate else 1.0
    mean, cov = path.mean, path.cov * k * k
    if skip:
        mean, cov = mean[skip:], cov[skip:, skip:]
    return Path(mean, cov, use_log, path.method)


def _use_log(x: np.ndarray, m: int | None, ph: np.ndarray) -> bool:
    """True when a positive series' swings are shares of its level (they read narrower in logs)."""
    obs = x[np.isfinite(x)]
    if len(obs) < 24 or np.any(obs <= 0):
        return False
    if obs.max() / obs.min() < 1.3:
        return False  # a narrow range: logs change nothing worth their cost

    def rel_width(y: np.ndarray) -> float:
        f = _fill(y, m, ph[: len(y)])
        s = _profile(f, m, ph[: len(y)])[ph[: len(y)]] if m else 0.0
        a = f - s
        r = np.diff(a)
        return float(np.median(np.abs(r - np.median(r))))

    raw = rel_width(x) / float(np.median(obs))
    logged = rel_width(np.log(x))
    return logged < 0.85 * raw


def _fill(x: np.ndarray, m: int | None, ph: np.ndarray) -> np.ndarray:
    """Gaps filled: the seasonally adjusted series interpolated, the season added back."""
    ok = np.isfinite(x)
    if ok.all():
        return x.copy()
    idx = np.arange(len(x))
    lin = np.interp(idx, idx[ok], x[ok])
    if not m:
        return lin
    prof = _profile(lin, m, ph, raw=x)
    s = prof[ph[: len(x)]]
    adj = np.interp(idx, idx[ok], (x - s)[ok])
    return adj + s


def _profile(x: np.ndarray, m: int | None, ph: np.ndarray, raw: np.ndarray | None = None) -> np.ndarray:
    """Per-phase seasonal effects (mean 0), or zeros when there is no real season.

    The per-phase median of the series less a centred moving average (observed
    values only when ``raw`` marks gaps); kept only when it stands out from the
    noise, as in the anomaly detector.
    """
    if not m:
        return np.zeros(1)
    n = len(x)
    if n < 2 * m:
        return np.zeros(m)
    ph = ph[:n]
    w = m + 1 if m % 2 == 0 else m
    kernel = np.ones(w)
    if m % 2 == 0:
        kernel[0] = kernel[-1] = 0.5
    weights = np.convolve(np.ones(n), kernel, mode="same")
    trend = np.convolve(x, kernel, mode="same") / weights
    d = x - trend
    keep = np.isfinite(raw) if raw is not None else np.ones(n, dtype=bool)
    # the half-window at each end is a one-sided average: leave it out
    half = w // 2
    inner = np.zeros(n, dtype=bool)
    inner[half : n - half] = True
    if (inner & keep).sum() >= 2 * m:
        keep = keep & inner
    prof = np.zeros(m)
    for k in range(m):
        sel = keep & (ph == k)
        prof[k] = np.median(d[sel]) if sel.any() else 0.0
    prof -= prof.mean()
    resid = d[keep] - prof[ph[keep]]
    noise = _MAD * float(np.median(np.abs(resid - np.median(resid)))) if len(resid) else 0.0
    cycles = max(keep.sum() / m, 1.0)
    if not float(np.var(prof)) > 3 * (np.pi / 2) * noise**2 / cycles:
        return np.zeros(m)
    return prof


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


def _robust(z: np.ndarray, h: int, m: int | None, ph: np.ndarray) -> Path:
    """Robust season + Theil-Sen drift + a clipped Kalman local level; variances from the variogram.

    The model: ``z_t = s(phase_t) + μ_t + ε_t``, ``μ_t = μ_{t-1} + b + η_t``.
    The h-step error covariance is ``P + σ_η² min(i, j) + σ_ε² [i = j] + var(b) i j``
    (``P`` the level's variance at the end, ``var(b)`` the drift's).
    """
    n = len(z)
    ok = np.isfinite(z)
    t_obs = np.flatnonzero(ok)
    prof = _profile(_fill(z, m, ph), m, ph, raw=z) if m else np.zeros(1)
    s = prof[ph] if m else np.zeros(n + h)
    a = z - s[:n]
    # drift: Theil-Sen over the last (up to) 240 observations, subsampled to at most 120
    tt = t_obs[-240:]
    if len(tt) > 120:
        tt = tt[np.linspace(0, len(tt) - 1, 120).astype(int)]
    i, j = np.triu_indices(len(tt), 1)
    slopes = (a[tt[j]] - a[tt[i]]) / (tt[j] - tt[i])
    b = float(np.median(slopes)) if len(slopes) else 0.0
    d = a - b * np.arange(n)
    # variogram: robust variance of d_{t+k} - d_t = 2σ_ε² + k σ_η²
    kmax = int(min(12, max(2, len(t_obs) // 4)))
    ks, gam = [], []
    for k in range(1, kmax + 1):
        diff = d[k:] - d[:-k]
        diff = diff[np.isfinite(diff)]
        if len(diff) >= 4:
            ks.append(k)
            gam.append((_MAD * float(np.median(np.abs(diff - np.median(diff))))) ** 2)
    s_eps, s_eta = _variogram_fit(np.array(ks, float), np.array(gam, float))
    if s_eps + s_eta <= 0:
        # a series on a coarse grid (a median of equal differences): the raw spread
        r = np.diff(d[ok])
        v = float(np.var(r)) / 2 if len(r) else 0.0
        s_eps = max(v, 1e-12 * max(1.0, float(np.nanmax(np.abs(z)))) ** 2)
    # the level: a Kalman filter (local level with drift b) that clips innovations at 3 sd
    mu = float(np.median(d[t_obs[: min(len(t_obs), 5)]]))
    p = s_eps + 10 * s_eta + float(np.var(d[ok])) if len(t_obs) > 1 else s_eps
    prev = t_obs[0]
    for t in t_obs:
        p += s_eta * (t - prev)
        prev = t
        f = p + s_eps
        v = d[t] - mu
        lim = 3.0 * math.sqrt(f) if f > 0 else 0.0
        v = float(np.clip(v, -lim, lim))
        k_gain = p / f if f > 0 else 0.0
        mu += k_gain * v
        p = p * (1 - k_gain)
    span = max(float(t_obs[-1] - t_obs[0]), 1.0)
    var_b = 1.57 * (s_eta / span + 2 * s_eps / span**2)  # × π/2: a median is less efficient than a mean
    if m and np.any(prof):
        s_eps_season = (np.pi / 2) * s_eps / max(len(t_obs) / m, 1.0)
    else:
        s_eps_season = 0.0
    steps = np.arange(1, h + 1, dtype=float)
    last = int(t_obs[-1])
    mean = mu + b * (last + steps) + s[last + 1 : last + 1 + h]
    cov = (
        p
        + s_eta * np.minimum.outer(steps, steps)
        + (s_eps + s_eps_season) * np.eye(h)
        + var_b * np.outer(steps, steps)
    )
    return Path(mean, cov, False, "robust")


def _variogram_fit(k: np.ndarray, g: np.ndarray) -> tuple[float, float]:
    """σ_ε², σ_η² ≥ 0 with 2σ_ε² + k σ_η² ≈ g (least squares, weighted to the short lags)."""
    if len(k) == 0:
        return 0.0, 0.0
    w = 1.0 / np.sqrt(k)
    A = np.column_stack([2 * np.ones_like(k), k]) * w[:, None]
    from scipy.optimize import nnls

    sol, _ = nnls(A, g * w)
    return float(sol[0]), float(sol[1])


def _chol(c: np.ndarray) -> np.ndarray:
    c = (c + c.T) / 2
    try:
        return np.linalg.cholesky(c + 1e-12 * np.eye(len(c)) * max(1.0, float(np.trace(c)) / len(c)))
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh(c)
        return v * np.sqrt(np.clip(w, 0, None))
