"""Baseline detectors, with the interface of :func:`metrics.models.anomaly.detect`.

* :func:`robust_z` — robust rolling z-score: median and MAD (×1.4826) of the previous 12 observed
  points; a point with |z| > 3.5 is a spike (z > 0) or a dip. Needs nothing but numpy.
* :func:`pyod_mad` — PyOD's ``MAD(threshold=3.5)`` on first differences (anomstack's change
  detection): a flagged difference marks its later point, a spike if the difference is positive,
  else a dip. Only when ``pyod`` is importable.
* :func:`ets_z` — statsmodels ``ETSModel`` (additive error, trend and seasonality) fitted on the
  whole series, initial states by statsmodels' heuristic (estimating them too costs ~0.4 s a
  series here, 100 times more, and scored a little worse on the benchmark); a point whose one-step residual is more than 3 residual standard deviations away
  is a spike or a dip. Missing months are interpolated for the fit and never flagged.

None of them names a level shift: as DETECTORS.md says, point detectors report a shift as a run of
spikes or dips.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from metrics.models.anomaly import Finding

ROBUST_Z_WINDOW = 12
ROBUST_Z_THRESHOLD = 3.5
MAD_THRESHOLD = 3.5
ETS_THRESHOLD = 3.0
MAD_SCALE = 1.4826


def _finding(
    values: np.ndarray,
    periods: Sequence[str],
    i: int,
    expected: float,
    width: float,
    z: float,
    threshold: float,
) -> Finding:
    return Finding(
        index=int(i),
        period=str(periods[i]),
        kind="spike" if z > 0 else "dip",
        observed=float(values[i]),
        expected=float(expected),
        lower=float(expected - threshold * width),
        upper=float(expected + threshold * width),
        score=float(abs(z)),
    )


def robust_z(
    values: Sequence[float] | np.ndarray,
    periods: Sequence[str],
    *,
    season: int | None = 12,
    sensitivity: float = 1.0,
    min_history: int | None = None,
    window: int = ROBUST_Z_WINDOW,
    threshold: float = ROBUST_Z_THRESHOLD,
) -> list[Finding]:
    """Median/MAD of the previous ``window`` observed points; |z| > ``threshold`` is an anomaly."""
    y = np.asarray(values, dtype=float)
    ok = np.flatnonzero(~np.isnan(y))
    out: list[Finding] = []
    if ok.size <= window:
        return out
    obs = y[ok]
    from numpy.lib.stride_tricks import sliding_window_view

    win = sliding_window_view(obs[:-1], window)  # win[k] = the window before obs[k + window]
    med = np.median(win, axis=1)
    mad = MAD_SCALE * np.median(np.abs(win - med[:, None]), axis=1)
    x = obs[window:]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(mad > 0, (x - med) / mad, 0.0)
    for k in np.flatnonzero(np.abs(z) > threshold):
        i = ok[k + window]
        out.append(_finding(y, periods, i, med[k], mad[k], z[k], threshold))
    return out


def _pyod_mad_class():
    try:
        from pyod.models.mad import MAD
    except Exception:  # not installed, or broken
        return None
    return MAD


def pyod_version() -> str | None:
    try:
        import pyod
    except Exception:
        return None
    return getattr(pyod, "__version__", "?")


def pyod_mad(
    values: Sequence[float] | np.ndarray,
    periods: Sequence[str],
    *,
    season: int | None = 12,
    sensitivity: float = 1.0,
    min_history: int | None = None,
    threshold: float = MAD_THRESHOLD,
) -> list[Finding]:
    """PyOD ``MAD`` on the first differences of the observed points (fitted on the whole series)."""
    MAD = _pyod_mad_class()
    if MAD is None:
        raise RuntimeError("pyod is not installed")
    y = np.asarray(values, dtype=float)
    ok = np.flatnonzero(~np.isnan(y))
    if ok.size < 4:
        return []
    d = np.diff(y[ok])
    if np.all(d == d[0]):
        return []
    model = MAD(threshold=threshold).fit(d.reshape(-1, 1))
    med = float(np.median(d))
    width = MAD_SCALE * float(np.median(np.abs(d - med)))
    out = []
    for k in np.flatnonzero(model.labels_ == 1):
        i = ok[k + 1]
        prev = y[ok[k]]
        z = (d[k] - med) / width if width > 0 else float(np.sign(d[k] - med)) * np.inf
        out.append(_finding(y, periods, i, prev + med, width, z, threshold))
    return out


def ets_z(
    values: Sequence[float] | np.ndarray,
    periods: Sequence[str],
    *,
    season: int | None = 12,
    sensitivity: float = 1.0,
    min_history: int | None = None,
    threshold: float = ETS_THRESHOLD,
) -> list[Finding]:
    """statsmodels ETS(A,A,A,season) fitted on all points; |residual| > 3 residual std's."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = np.asarray(values, dtype=float)
    ok = np.flatnonzero(~np.isnan(y))
    if ok.size < 8:
        return []
    lo, hi = ok[0], ok[-1] + 1
    seg = y[lo:hi].copy()
    miss = np.isnan(seg)
    if miss.any():
        idx = np.arange(seg.size)
        seg[miss] = np.interp(idx[miss], idx[~miss], seg[~miss])
    seasonal = "add" if season and season > 1 and seg.size >= 2 * season + 2 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = None
        for init in ("heuristic", "estimated"):  # heuristic: ~100x faster, needs 2 full seasons
            try:
                res = ETSModel(
                    seg,
                    error="add",
                    trend="add",
                    seasonal=seasonal,
                    seasonal_periods=season if seasonal else None,
                    initialization_method=init,
                ).fit(disp=False)
                break
            except Exception:
                continue
        if res is None:
            return []
    fitted = np.asarray(res.fittedvalues, dtype=float)
    resid = seg - fitted
    sd = float(np.std(resid[~miss]))
    if not np.isfinite(sd) or sd == 0:
        return []
    z = resid / sd
    out = []
    for k in np.flatnonzero((np.abs(z) > threshold) & ~miss):
        out.append(_finding(y, periods, lo + k, fitted[k], sd, z[k], threshold))
    return out


Detector = Callable[..., list]


def available() -> list[tuple[str, str, Detector]]:
    """(key, label, function) of the baselines that can run here, in table order."""
    out: list[tuple[str, str, Detector]] = [
        ("robust_z", "robust z-score: median/MAD of the previous 12 points, |z| > 3.5 (baseline)", robust_z)
    ]
    if _pyod_mad_class() is not None:
        out.append(("pyod_mad", f"PyOD {pyod_version()} MAD 3.5 on first differences", pyod_mad))
    out.append(("ets", "statsmodels ETS(A,A,A,12), heuristic initial states, only |z| > 3", ets_z))
    return out
