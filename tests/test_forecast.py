"""Year-end outlook (metrics.models.forecast): the arithmetic, the edge cases, the sentence, and
(statistically, seeded) the interval coverage on a small held-out benchmark sample."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # eval/ is not an installed package: run from the repository
    sys.path.insert(0, str(REPO))

from metrics import periods as P  # noqa: E402
from metrics.models.forecast import Outlook, explain, forecast_year_end, predict, year_end  # noqa: E402


def months(first: str, n: int) -> list[str]:
    return [P.shift(first, i) for i in range(n)]


def linear(n: int = 40, first: str = "2023-01", noise: float = 0.3, seed: int = 0):
    ps = months(first, n)
    rng = np.random.default_rng(seed)
    x = 50 + 0.5 * np.arange(n) + rng.normal(0, noise, n)
    return x, ps


def ytd(increments: np.ndarray, ps: list[str]) -> np.ndarray:
    out, run, year = np.empty(len(ps)), 0.0, None
    for t, (v, p) in enumerate(zip(increments, ps, strict=True)):
        if p[:4] != year:
            run, year = 0.0, p[:4]
        run += v
        out[t] = run
    return out


# ---------------------------------------------------------------- the arithmetic


def test_a_steady_linear_series_is_extrapolated_with_the_line_inside_the_interval():
    x, ps = linear()  # 2023-01 .. 2026-04
    o = forecast_year_end(x, ps, grain="month")
    assert isinstance(o, Outlook)
    assert o.period == "2026-12" and o.horizon == 8
    line = 50 + 0.5 * 47
    assert o.mean == pytest.approx(line, abs=1.0)
    assert o.lower < line < o.upper
    assert o.lower < o.mean < o.upper
    assert o.upper - o.lower < 5  # noise 0.3 a month: a narrow interval
    assert o.probability is None and o.method == "robust"


def test_probability_by_direction():
    x, ps = linear()
    far_below = forecast_year_end(x, ps, grain="month", target=40)
    far_above = forecast_year_end(x, ps, grain="month", target=120)
    assert far_below.probability > 0.99 and far_above.probability < 0.01
    lb_below = forecast_year_end(x, ps, grain="month", target=40, direction="lower_better")
    lb_above = forecast_year_end(x, ps, grain="month", target=120, direction="lower_better")
    assert lb_below.probability < 0.01 and lb_above.probability > 0.99
    # at the central forecast: about even, and the two directions add up to one
    mid = forecast_year_end(x, ps, grain="month", target=far_below.mean)
    mid_lb = forecast_year_end(x, ps, grain="month", target=far_below.mean, direction="lower_better")
    assert 0.4 < mid.probability < 0.6
    assert mid.probability + mid_lb.probability == pytest.approx(1.0)


def test_a_wider_level_gives_a_wider_interval():
    x, ps = linear()
    o80 = forecast_year_end(x, ps, grain="month", level=0.8)
    o95 = forecast_year_end(x, ps, grain="month", level=0.95)
    assert o95.lower < o80.lower < o80.upper < o95.upper


def test_ytd_year_end_is_the_cumulative_value_plus_the_remaining_increments():
    rng = np.random.default_rng(3)
    ps = months("2023-01", 42)  # to 2026-06
    inc = 100 + 20 * np.sin(np.arange(42) * 2 * np.pi / 12) + rng.normal(0, 2, 42)
    cum = ytd(inc, ps)
    o = forecast_year_end(cum, ps, grain="month", accumulate="ytd")
    assert o.period == "2026-12" and o.horizon == 6
    # what the year would sum to if July-December repeat last year's months
    expected = cum[-1] + inc[30:36].sum()
    assert o.mean == pytest.approx(expected, rel=0.02)
    assert o.lower < expected < o.upper
    # and far above a plain forecast of the cumulative series itself (it resets each January)
    assert o.mean > cum[-1] + 500


def test_ytd_uncertainty_grows_with_the_months_left():
    rng = np.random.default_rng(4)
    ps = months("2022-01", 60)
    inc = 50 + rng.normal(0, 5, 60)
    cum = ytd(inc, ps)
    early = forecast_year_end(cum[:51], ps[:51], grain="month", accumulate="ytd")  # 2026-03
    late = forecast_year_end(cum[:58], ps[:58], grain="month", accumulate="ytd")  # 2026-10
    assert early.horizon == 9 and late.horizon == 2
    assert early.upper - early.lower > 2 * (late.upper - late.lower)
    assert late.lower >= cum[57]  # increments never negative: the total cannot fall back


def test_ytd_with_january_missing_and_february_holding_both_months():
    rng = np.random.default_rng(5)
    ps = months("2022-01", 53)  # to 2026-05
    inc = 200 + rng.normal(0, 5, 53)
    cum = ytd(inc, ps)
    cum[[p.endswith("-01") for p in ps]] = np.nan  # 1-2月: no January figure
    o = forecast_year_end(cum, ps, grain="month", accumulate="ytd")
    assert o is not None and o.horizon == 7
    assert o.mean == pytest.approx(cum[-1] + 7 * 200, rel=0.03)


def test_source_accumulate_forecasts_the_series_itself():
    # a published cumulative growth rate (1-n月 增速) around 6 %
    rng = np.random.default_rng(6)
    ps = months("2022-02", 50)
    x = 6 + rng.normal(0, 0.3, 50)
    o = forecast_year_end(x, ps, grain="month", accumulate="source", unit="%", target=5)
    assert 5 < o.mean < 7 and o.probability > 0.8


# ---------------------------------------------------------------- edge cases


def test_a_series_already_at_december_has_horizon_zero():
    x, ps = linear(n=36)  # 2023-01 .. 2025-12
    o = forecast_year_end(x, ps, grain="month", target=60, name="办件量", unit="件")
    assert o.period == "2025-12" and o.horizon == 0
    assert o.mean == o.lower == o.upper == x[-1]
    assert o.probability == 1.0 and o.method == "observed"
    assert forecast_year_end(x, ps, grain="month", target=200).probability == 0.0
    assert "已达到" in o.explanation


def test_january_gaps_and_other_gaps_are_fine():
    x, ps = linear(n=52)  # to 2027-04
    x[[p.endswith("-01") for p in ps]] = np.nan
    x[30:33] = np.nan
    o = forecast_year_end(x, ps, grain="month")
    assert o is not None and o.period == "2027-12"
    assert o.mean == pytest.approx(50 + 0.5 * 59, abs=1.5)
    # trailing nan after the latest row: the outlook runs from the latest finite value
    y = np.concatenate([x, [np.nan, np.nan]])
    o2 = forecast_year_end(y, months("2023-01", 54), grain="month")
    assert o2.horizon == o.horizon and o2.mean == pytest.approx(o.mean)


def test_too_short_gives_none():
    x, ps = linear(n=7)
    assert forecast_year_end(x, ps, grain="month") is None
    x, ps = linear(n=20)
    x[:14] = np.nan
    assert forecast_year_end(x, ps, grain="month") is None
    assert forecast_year_end(*linear(n=8), grain="month") is not None


def test_a_constant_series_stays_constant():
    ps = months("2024-01", 20)
    o = forecast_year_end(np.full(20, 100.0), ps, grain="month", target=100, unit="%")
    assert (o.mean, o.lower, o.upper, o.probability, o.method) == (100.0, 100.0, 100.0, 1.0, "constant")


def test_rates_in_percent_stay_within_0_and_100():
    rng = np.random.default_rng(7)
    ps = months("2024-01", 26)  # to 2026-02: ten months ahead
    x = np.clip(98.5 + 0.15 * np.arange(26) + rng.normal(0, 0.8, 26), 0, 100)
    o = forecast_year_end(x, ps, grain="month", unit="%", target=100)
    assert 0 <= o.lower <= o.mean <= o.upper <= 100
    assert 0 < o.probability < 1
    # no target above 100 % can be reached
    assert forecast_year_end(x, ps, grain="month", unit="%", target=101).probability == 0.0


def test_counts_are_never_forecast_below_zero():
    rng = np.random.default_rng(8)
    ps = months("2024-01", 24)
    x = rng.poisson(1.0, 24).astype(float)
    o = forecast_year_end(x, ps, grain="month")
    assert o.lower >= 0


def test_quarterly_grain():
    rng = np.random.default_rng(9)
    ps = [P.shift("2020-Q1", i) for i in range(26)]  # to 2026-Q2
    season = np.array([-5.0, 2.0, 1.0, 2.0])
    x = 100 + 1.0 * np.arange(26) + season[np.arange(26) % 4] + rng.normal(0, 0.5, 26)
    o = forecast_year_end(x, ps, grain="quarter")
    assert o.period == "2026-Q4" and o.horizon == 2
    expected = 100 + 1.0 * 27 + season[3]
    assert o.mean == pytest.approx(expected, abs=1.5)
    assert o.lower < expected < o.upper


def test_daily_grain_is_fast_and_sensible():
    rng = np.random.default_rng(10)
    ps = [P.shift("2024-01-01", i) for i in range(800)]  # to 2026-03-10
    weekday = np.array([P.start(p).weekday() for p in ps])
    x = 7500 + np.where(weekday >= 5, -3000, 0) + rng.normal(0, 150, 800)
    forecast_year_end(x[:100], ps[:100], grain="day")  # imports out of the timing
    t0 = time.perf_counter()
    o = forecast_year_end(x, ps, grain="day", target=7000)
    cum = ytd(x, ps)
    oy = forecast_year_end(cum, ps, grain="day", accumulate="ytd")
    took = time.perf_counter() - t0
    assert o.period == "2026-12-31" and o.horizon == 296
    assert 6000 < o.mean < 9000 and o.lower < o.mean < o.upper  # 31 Dec 2026 is a Thursday
    expected = cum[-1] + sum(
        7500 - 3000 * (P.start(P.shift(ps[-1], j)).weekday() >= 5) for j in range(1, 297)
    )
    assert oy.mean == pytest.approx(expected, rel=0.05)
    assert oy.lower < expected < oy.upper
    assert took < 0.4  # two calls, each well under 0.2 s


def test_weekly_and_yearly_grains():
    rng = np.random.default_rng(11)
    ps = [P.shift("2024-W01", i) for i in range(100)]  # to 2025-W48; 2026 has 53 weeks
    x = 500 + rng.normal(0, 10, 100)
    o = forecast_year_end(x, ps, grain="week")
    assert o.period == "2025-W52" and o.horizon == 4
    assert year_end("2026-W10") == "2026-W53" and year_end("2026-10-05") == "2026-12-31"
    ys = [str(y) for y in range(2010, 2026)]
    oy = forecast_year_end(np.arange(16.0), ys, grain="year")
    assert oy.period == "2025" and oy.horizon == 0 and oy.mean == 15


def test_every_call_is_fast():
    x, ps = linear(n=96, first="2019-01")
    forecast_year_end(x, ps, grain="month")
    for n in (20, 60, 90):
        t0 = time.perf_counter()
        forecast_year_end(x[:n], ps[:n], grain="month", accumulate="none", target=60)
        assert time.perf_counter() - t0 < 0.2


def test_the_same_input_gives_the_same_outlook():
    rng = np.random.default_rng(12)
    ps = months("2022-01", 52)
    inc = np.exp(rng.normal(5, 0.3, 52)) * (1 + 0.02 * np.arange(52))  # log-scale: simulated sums
    cum = ytd(inc, ps)
    a = forecast_year_end(cum, ps, grain="month", accumulate="ytd", target=float(cum[47]))
    b = forecast_year_end(cum, ps, grain="month", accumulate="ytd", target=float(cum[47]))
    assert a == b


def test_ets_is_there_for_comparison():
    x, ps = linear(n=40)
    o = forecast_year_end(x, ps, grain="month", method="ets")
    assert o.method == "ets" and o.lower < o.mean < o.upper
    assert abs(o.mean - (50 + 0.5 * 47)) < 3


def test_bad_arguments():
    x, ps = linear()
    with pytest.raises(ValueError):
        forecast_year_end(x, ps[:-1], grain="month")
    with pytest.raises(ValueError):
        forecast_year_end(x, ps, grain="month", direction="up")
    with pytest.raises(ValueError):
        forecast_year_end(x, ps, grain="month", accumulate="sum")


# ---------------------------------------------------------------- the sentence


def test_the_explanation_names_the_indicator_the_year_end_value_and_the_probability():
    rng = np.random.default_rng(13)
    ps = months("2023-01", 42)  # to 2026-06
    x = 80 + 0.2 * np.arange(42) + rng.normal(0, 0.6, 42)
    probe = forecast_year_end(x, ps, grain="month")
    o = forecast_year_end(x, ps, grain="month", target=round(probe.mean, 1), unit="%", name="全程网办率")
    text = o.explanation
    assert text.startswith("按当前趋势，全程网办率年底预计为 ")
    assert f"{round(o.mean, 1):g}%" in text
    assert "（90% 区间 " in text and "概率约" in text and "目标" in text
    assert text == explain(o, "全程网办率", "%")
    pct = int(text.rsplit("约 ", 1)[1].rstrip("%"))
    assert pct == round(o.probability * 100)


def test_explanation_clamps_extreme_probabilities_and_handles_lower_better_and_ytd():
    x, ps = linear()
    hi = forecast_year_end(x, ps, grain="month", target=40, name="办件量", unit="件")
    assert hi.explanation.endswith("概率超过 95%")
    lo = forecast_year_end(x, ps, grain="month", target=200, name="办件量", unit="件")
    assert lo.explanation.endswith("概率不足 5%")
    lb = forecast_year_end(
        x, ps, grain="month", target=200, direction="lower_better", name="平均办理时长", unit="天"
    )
    assert "不超过 200天 目标" in lb.explanation
    big = forecast_year_end(
        ytd(np.full(40, 12345.0) + np.arange(40), ps),
        ps,
        grain="month",
        accumulate="ytd",
        name="受理量",
        unit="件",
    )
    assert "年底累计预计为" in big.explanation and "万件" in big.explanation
    none = forecast_year_end(x, ps, grain="month", name="办件量", unit="件")
    assert "概率" not in none.explanation and "年底" in none.explanation


# ---------------------------------------------------------------- coverage, on held-out series


def test_interval_coverage_on_a_small_held_out_benchmark_sample():
    """90 % intervals, h = 1..12, on the clean series of a seed used neither for calibration nor for
    the report: the share of actuals inside must be at least 0.8 (and the intervals not absurdly
    wide: at most 0.98)."""
    from eval.series import generate
    from metrics.models.forecast import CALIBRATION_SEEDS

    seed = 424242
    assert seed not in CALIBRATION_SEEDS
    inside, total = 0, 0
    z90 = 1.6448536269514722
    for s in generate(60, seed).series:
        if not s.clean:
            continue
        for o in (30, 54, 78):
            train, test = s.values[:o], s.values[o : o + 12]
            ph = np.array([int(p[5:7]) - 1 for p in s.periods[: o + 12]])
            path = predict(train, 12, season=12, phases=ph)
            if path is None:
                continue
            sd = np.sqrt(np.diag(path.cov))
            for j in range(12):
                if not math.isfinite(test[j]):
                    continue
                a = math.log(test[j]) if path.log else test[j]
                inside += abs(a - path.mean[j]) <= z90 * sd[j]
                total += 1
    assert total > 300
    coverage = inside / total
    assert 0.8 <= coverage <= 0.98, coverage


def test_ytd_increments_a_series_that_starts_mid_year():
    from metrics.models.forecast import _increments

    ps = months("2023-05", 12)  # May 2023 .. April 2024
    cum = np.array([500.0, 600, 700, 800, 900, 1000, 1100, 1200, 100, 200, 300, 400])
    inc = _increments(cum, ps)
    assert np.isnan(inc[0])  # May's cumulative value holds January to May: not one month
    assert list(inc[1:]) == [100.0] * 11
    feb = months("2024-02", 3)
    assert list(_increments(np.array([250.0, 400, 550]), feb)) == [250.0, 150.0, 150.0]  # 1-2月 first
    gap = _increments(np.array([100.0, np.nan, 300, 400]), months("2024-01", 4))
    assert np.isnan(gap[1]) and np.isnan(gap[2]) and gap[3] == 100.0


def test_a_published_cumulative_amount_never_ends_the_year_below_what_is_reached() -> None:
    """GDP published as 1-N季度 totals (accumulate: source, 亿元) is forecast from its increments."""
    ps = [f"{y}-Q{q}" for y in (2023, 2024, 2025, 2026) for q in (1, 2, 3, 4)][:-1]
    quarters = [500.0, 520.0, 540.0, 580.0]
    x = []
    for y in range(4):
        total = 0.0
        for q in range(4):
            total += quarters[q] * (1.05**y)
            x.append(total)
    x = x[:-1]
    o = forecast_year_end(x, ps, grain="quarter", accumulate="source", unit="亿元")
    assert o is not None and o.lower >= x[-1]
    assert abs(o.mean - (x[-1] + 580 * 1.05**3)) < 0.1 * 580
