"""Run the detector over every indicator × region (and department) series of computed rows."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import polars as pl

from .. import periods
from ..catalogue import spec
from .anomaly import DEFAULT, Finding, detect

DEFAULT_SPIKE = DEFAULT.spike

SEASON = {"day": 7, "week": 52, "month": 12, "quarter": 4, "year": None}
FINDING_FIELDS = [
    "indicator",
    "region",
    "department",
    "period",
    "kind",
    "observed",
    "expected",
    "lower",
    "upper",
    "score",
]


def regular(series: pl.DataFrame, column: str = "value") -> tuple[list[str], np.ndarray]:
    """Periods from the first to the last, with nan where a period has no value (gaps, 1-2月)."""
    ps = series["period"].to_list()
    vals = dict(zip(ps, series[column].to_list(), strict=True))
    first, last = min(ps, key=periods.ordinal), max(ps, key=periods.ordinal)
    span = periods.ordinal(last) - periods.ordinal(first)
    out = (
        [periods.shift(first, i) for i in range(span + 1)]
        if span < 20000
        else sorted(ps, key=periods.ordinal)
    )
    x = np.array([vals.get(p) if vals.get(p) is not None else np.nan for p in out], dtype=float)
    return out, x


def binomial_floor(ind: spec.Indicator, values: np.ndarray, records: np.ndarray) -> np.ndarray | None:
    """For a rate, the binomial noise width of each point given its number of records."""
    m = ind.measure
    if not isinstance(m, spec.RatioMeasure) or m.numerator.agg != "count" or m.denominator.agg != "count":
        return None
    scale = abs(m.scale) or 1.0
    p = np.clip(values / scale, 0.02, 0.98)
    n = np.where(records > 0, records, np.nan)
    return scale * np.sqrt(p * (1 - p) / n)


def _one(job: tuple) -> list[dict]:
    ind, region, dept, ps, x, season, sensitivity, min_history, floor = job
    found: list[Finding] = detect(
        x, ps, season=season, sensitivity=sensitivity, min_history=min_history, floor=floor
    )
    return [
        {
            "indicator": ind,
            "region": region,
            "department": dept,
            "period": f.period,
            "kind": f.kind,
            "observed": f.observed,
            "expected": f.expected,
            "lower": f.lower,
            "upper": f.upper,
            "score": f.score,
        }
        for f in found
        if all(math.isfinite(v) for v in (f.observed, f.expected, f.lower, f.upper))
    ]


def jobs(indicators: Iterable[spec.Indicator], rows: pl.DataFrame, grains: dict[str, str]) -> list[tuple]:
    out = []
    by_id = {i.id: i for i in indicators}
    for (ind_id, region, dept), series in rows.group_by(
        ["indicator", "region", "department"], maintain_order=True
    ):
        ind = by_id.get(str(ind_id))
        if ind is None or not ind.anomaly_settings.enabled:
            continue
        series = series.filter(pl.col("value").is_not_null())
        if series.height < 8:
            continue
        ps, x = regular(series)
        floor = None
        if "records" in series.columns:
            _, n = regular(series, "records")
            floor = binomial_floor(ind, x, n)
        grain = grains.get(ind.id, "month")
        settings = ind.anomaly_settings
        sens = settings.sensitivity
        if settings.threshold is not None:  # an explicit threshold in noise widths
            sens = DEFAULT_SPIKE / settings.threshold
        hist = settings.min_history
        out.append((ind.id, region, dept, ps, x, SEASON.get(grain), sens, hist, floor))
    return out


def findings(
    indicators: Iterable[spec.Indicator],
    rows: pl.DataFrame,
    grains: dict[str, str],
    workers: int | None = None,
) -> list[dict]:
    """Every finding, sorted by indicator, region, department, period."""
    work = jobs(indicators, rows, grains)
    workers = workers or min(os.cpu_count() or 1, 4)
    if workers > 1 and len(work) > 50:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(_one, work, chunksize=max(1, len(work) // (workers * 8))))
    else:
        parts = [_one(j) for j in work]
    out = [f for part in parts for f in part]
    out.sort(
        key=lambda f: (f["indicator"], f["region"] or "", f["department"] or "", periods.ordinal(f["period"]))
    )
    return out
