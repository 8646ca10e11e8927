"""Real data no one here made: statsmodels' bundled datasets, and what a detector must find there.

* **nile** — the Nile's annual flow at Aswan, 1871–1970 (``season=None``): the level shift at 1898
  (the Aswan dam) must be found, named ``level_shift``, in 1897–1900, with at most 2 other findings.
* **co2** — Mauna Loa CO2, weekly 1958–2001 made monthly means (``season=12``; the 5 months with no
  weekly value stay ``nan``, the series stays regular): strong seasonality and trend, nothing
  anomalous: at most 1 finding per 10 years.
* **macrodata** — US quarterly real GDP, growth quarter on quarter in % (``season=4``): the 2008–09
  recession must be found, a ``dip`` or ``level_shift`` in 2008-Q3 .. 2009-Q2.

Periods are strings: ``'1898'``, ``'1990-05'``, ``'2008-Q4'``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np


@dataclass(frozen=True)
class RealSeries:
    name: str
    title: str
    values: np.ndarray
    periods: tuple[str, ...]
    season: int | None
    goal: str


@dataclass(frozen=True)
class Check:
    name: str
    goal: str
    passed: bool
    findings: tuple[Any, ...]
    detail: str
    error: str = ""


@cache
def nile() -> RealSeries:
    from statsmodels.datasets import nile as ds

    d = ds.load_pandas().data
    return RealSeries(
        "nile",
        "Nile annual flow at Aswan, 1871–1970 (10⁸ m³)",
        d["volume"].to_numpy(dtype=float),
        tuple(str(int(y)) for y in d["year"]),
        None,
        "a level_shift in 1897–1900 (onset 1898), at most 2 other findings",
    )


@cache
def co2() -> RealSeries:
    from statsmodels.datasets import co2 as ds

    s = ds.load_pandas().data["co2"].resample("MS").mean()
    ok = np.flatnonzero(s.notna().to_numpy())
    s = s.iloc[ok[0] : ok[-1] + 1]
    return RealSeries(
        "co2",
        "Mauna Loa CO2, monthly mean of weekly values, 1958-03 – 2001-12 (ppm)",
        s.to_numpy(dtype=float),
        tuple(f"{t.year:04d}-{t.month:02d}" for t in s.index),
        12,
        "at most 1 finding per 10 years",
    )


@cache
def macrodata() -> RealSeries:
    from statsmodels.datasets import macrodata as ds

    d = ds.load_pandas().data
    gdp = d["realgdp"].to_numpy(dtype=float)
    growth = 100.0 * (gdp[1:] / gdp[:-1] - 1.0)
    periods = tuple(f"{int(y)}-Q{int(q)}" for y, q in zip(d["year"][1:], d["quarter"][1:], strict=True))
    return RealSeries(
        "macrodata",
        "US real GDP growth, quarter on quarter, 1959-Q2 – 2009-Q3 (%)",
        growth,
        periods,
        4,
        "a dip or level_shift in 2008-Q3 .. 2009-Q2 (the recession)",
    )


DATASETS: dict[str, Callable[[], RealSeries]] = {"nile": nile, "co2": co2, "macrodata": macrodata}


def _fmt(f: Any) -> str:
    return f"{f.period} {f.kind}"


def check_nile(findings: Sequence[Any]) -> tuple[bool, str]:
    window = {"1897", "1898", "1899", "1900"}
    hit = next((f for f in findings if f.kind == "level_shift" and str(f.period) in window), None)
    others = len(findings) - (hit is not None)
    if hit is None:
        return False, f"no level_shift in 1897–1900; {len(findings)} findings"
    return others <= 2, f"level_shift at {hit.period}; {others} other findings (≤ 2 allowed)"


def check_co2(findings: Sequence[Any], n_months: int) -> tuple[bool, str]:
    allowed = int(n_months / 12 / 10)
    return len(
        findings
    ) <= allowed, f"{len(findings)} findings in {n_months / 12:.1f} years (≤ {allowed} allowed)"


def check_macrodata(findings: Sequence[Any]) -> tuple[bool, str]:
    window = {"2008-Q3", "2008-Q4", "2009-Q1", "2009-Q2"}
    hits = [f for f in findings if f.kind in ("dip", "level_shift") and str(f.period) in window]
    others = len(findings) - len(hits)
    if not hits:
        return False, f"no dip or level_shift in 2008-Q3 .. 2009-Q2; {len(findings)} findings"
    return True, f"{', '.join(_fmt(f) for f in hits)}; {others} other findings"


def run_check(name: str, detector: Callable[..., Sequence[Any]]) -> Check:
    """Run ``detector`` on one dataset and judge it; a detector's exception fails the check."""
    s = DATASETS[name]()
    try:
        findings = tuple(detector(s.values.copy(), list(s.periods), season=s.season))
    except Exception as e:  # the harness reports a broken detector, it does not stop
        return Check(name, s.goal, False, (), f"raised {type(e).__name__}", f"{type(e).__name__}: {e}")
    if name == "nile":
        ok, detail = check_nile(findings)
    elif name == "co2":
        ok, detail = check_co2(findings, len(s.values))
    else:
        ok, detail = check_macrodata(findings)
    return Check(name, s.goal, ok, findings, detail)


def run_checks(detector: Callable[..., Sequence[Any]]) -> list[Check]:
    return [run_check(name, detector) for name in DATASETS]
