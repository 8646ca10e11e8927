"""``make eval``'s harness: the scorer on hand-made cases, the generator, the baselines, the real-data
checks, and the issue's real-data goals for the cockpit detector."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # eval/ is not an installed package: run from the repository
    sys.path.insert(0, str(REPO))

from eval import baselines, real  # noqa: E402
from eval import run as eval_run  # noqa: E402
from eval.score import Case, match, score  # noqa: E402
from eval.series import MIN_GAP, MIN_HISTORY, generate, monthly_periods  # noqa: E402
from metrics.models.anomaly import KINDS, Finding  # noqa: E402


def F(index: int, kind: str = "spike", period: str | None = None) -> Finding:
    return Finding(index, period or str(index), kind, 0.0, 0.0, 0.0, 0.0, 5.0)


# ---------------------------------------------------------------- the scorer


def test_an_event_is_credited_once_and_a_duplicate_is_a_false_alarm():
    m = match([(30, "spike")], [F(30), F(30)])
    assert len(m.matched) == 1 and len(m.false) == 1 and not m.missed
    s = score([Case([(30, "spike")], [F(30), F(30)], 8.0)])
    assert (s.matched, s.false, s.events) == (1, 1, 1)
    assert s.precision == 0.5 and s.recall == 1.0


def test_a_level_shift_is_credited_at_onset_plus_two_but_not_plus_three():
    ev = [(40, "level_shift")]
    for k in (40, 41, 42):
        m = match(ev, [F(k, "level_shift")])
        assert len(m.matched) == 1 and not m.false, k
    for k in (39, 43):
        m = match(ev, [F(k, "level_shift")])
        assert not m.matched and len(m.false) == 1 and len(m.missed) == 1, k


def test_a_spike_counts_only_at_its_exact_index():
    for k in (49, 51):
        m = match([(50, "dip")], [F(k, "dip")])
        assert not m.matched and len(m.false) == 1
    assert len(match([(50, "dip")], [F(50, "dip")]).matched) == 1


def test_a_shift_reported_as_a_run_of_spikes_is_found_once_named_wrong():
    s = score([Case([(40, "level_shift")], [F(40, "spike"), F(41, "spike"), F(42, "spike")], 8.0)])
    assert (s.matched, s.false, s.kinds_right) == (1, 2, 0)
    assert s.kind_accuracy == 0.0 and s.named["level_shift"]["spike"] == 1


def test_the_earliest_finding_is_credited_and_ties_prefer_the_right_kind():
    m = match([(40, "level_shift")], [F(41, "level_shift"), F(40, "spike")])
    assert m.matched[0][1].kind == "spike" and m.false[0].index == 41
    m = match([(40, "level_shift")], [F(40, "spike"), F(40, "level_shift")])
    assert m.matched[0][1].kind == "level_shift" and m.false[0].kind == "spike"


def test_precision_recall_f1_and_kinds_arithmetic():
    cases = [
        Case([(30, "spike"), (50, "level_shift")], [F(30, "spike"), F(52, "level_shift")], 8.0),
        Case([(60, "dip"), (70, "spike")], [F(60, "spike"), F(10, "dip")], 8.0),
    ]
    s = score(cases)
    assert (s.events, s.findings, s.matched, s.false) == (4, 4, 3, 1)
    assert s.precision == pytest.approx(0.75) and s.recall == pytest.approx(0.75)
    assert s.f1 == pytest.approx(0.75)
    assert s.kind_accuracy == pytest.approx(2 / 3)
    assert s.by_kind == {"spike": [1, 2], "level_shift": [1, 1], "dip": [1, 1]}
    assert s.clean_series == 0 and s.false_alarms_per_clean_year is None


def test_false_alarms_per_clean_series_year():
    cases = [
        Case([], [F(10), F(20), F(30)], 8.0),  # clean, 3 findings over 8 years
        Case([], [], 4.0),  # clean, none over 4 years
        Case([(30, "spike")], [F(30), F(60)], 8.0),  # not clean: not in the rate
    ]
    s = score(cases)
    assert s.clean_series == 2 and s.clean_years == 12.0 and s.clean_findings == 3
    assert s.false_alarms_per_clean_year == pytest.approx(0.25)
    assert s.false == 4  # the clean series' 3 and the dirty series' stray one


def test_no_findings_scores_zero_not_a_crash():
    s = score([Case([(30, "spike")], [], 8.0), Case([], [], 8.0)])
    assert s.precision is None and s.recall == 0.0 and s.f1 == 0.0 and s.kind_accuracy is None
    assert s.false_alarms_per_clean_year == 0.0


def test_series_years_span_the_observed_months():
    series = generate(300, 5).series
    full = next(s for s in series if s.quirk in ("", "gap"))
    assert full.years == 8.0
    jan = next(s for s in series if s.quirk == "jan_combined")
    assert jan.years == pytest.approx(95 / 12)  # 2019-02 .. 2026-12
    late = next(s for s in series if s.quirk == "late_start")
    assert late.years == pytest.approx(66 / 12)


# ---------------------------------------------------------------- the generator


def test_the_generator_is_deterministic_and_series_depend_only_on_seed_and_index():
    a, b = generate(40, 11), generate(40, 11)
    assert a.truth() == b.truth()
    for x, y in zip(a.series, b.series, strict=True):
        np.testing.assert_array_equal(x.values, y.values)
    c = generate(15, 11)
    for x, y in zip(c.series, a.series[:15], strict=True):
        np.testing.assert_array_equal(x.values, y.values)
    d = generate(40, 12)
    assert any(
        not np.array_equal(x.values, y.values, equal_nan=True)
        for x, y in zip(a.series, d.series, strict=True)
    )


def test_the_benchmark_has_what_the_issue_asks_for():
    bench = generate(300, 3)
    series = bench.series
    assert monthly_periods(3, "2019-11") == ("2019-11", "2019-12", "2020-01")
    assert series[0].periods[0] == "2019-01" and series[0].periods[-1] == "2026-12"
    assert 0.18 <= np.mean([s.clean for s in series]) <= 0.38
    kinds = {e.kind for e in bench.events}
    assert kinds == {"spike", "dip", "level_shift"}
    assert {s.model for s in series} == {"additive", "multiplicative", "counts"}
    assert {s.noise for s in series} == {"iid", "ar1", "poisson"}
    assert {s.quirk for s in series} == {"", "jan_combined", "gap", "late_start"}
    levels = [s.level for s in series]
    assert min(levels) < 30 and max(levels) > 10_000
    for s in series:
        assert len(s.events) <= 2
        observed = np.flatnonzero(~np.isnan(s.values))
        assert np.all(s.values[observed] >= 0)
        if s.quirk == "jan_combined":
            assert all(np.isnan(v) for v, p in zip(s.values, s.periods, strict=True) if p.endswith("-01"))
        if s.quirk == "late_start":
            assert np.all(np.isnan(s.values[:30]))
        for e in s.events:
            assert e.index >= observed[0] + MIN_HISTORY and not np.isnan(s.values[e.index])
            assert 4.0 <= e.size <= 8.0 and e.width > 0
            assert (e.delta > 0) == (e.kind == "spike") or e.kind == "level_shift"
        idx = [e.index for e in s.events]
        assert all(b - a > MIN_GAP for a, b in zip(idx, idx[1:], strict=False))


# ---------------------------------------------------------------- baselines and the runner


def _flat_with_spike() -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(0)
    y = 100 + rng.normal(0, 1, 60)
    y[40] += 12
    return y, list(monthly_periods(60))


def test_the_robust_z_baseline_runs_and_finds_an_obvious_spike():
    y, periods = _flat_with_spike()
    found = baselines.robust_z(y, periods, season=12)
    assert any(f.index == 40 and f.kind == "spike" for f in found)
    for s in generate(10, 1).series:
        for f in baselines.robust_z(s.values, s.periods, season=12):
            assert f.kind in KINDS and f.period == s.periods[f.index] and f.score > 3.5


def test_the_pyod_baseline_when_installed():
    if not any(k == "pyod_mad" for k, _, _ in baselines.available()):
        pytest.skip("pyod is not installed")
    y, periods = _flat_with_spike()
    found = baselines.pyod_mad(y, periods)
    assert any(f.index == 40 and f.kind == "spike" for f in found)


def test_a_detector_that_raises_or_returns_junk_is_reported_not_fatal():
    bench = generate(4, 2)

    def broken(values, periods, **kw):
        raise ValueError("boom")

    def junk(values, periods, **kw):
        return [F(0, "wobble", "nope"), F(len(values) + 5, "spike", "x")]

    r = eval_run.run_detector(eval_run.Detector("broken", "broken", broken), bench)
    assert r.errors == 4 and "boom" in r.first_error and r.score.findings == 0
    r = eval_run.run_detector(eval_run.Detector("junk", "junk", junk), bench)
    assert r.malformed == 8 and r.score.findings == 8
    assert "broken" not in eval_run.benchmark_table([r])
    c = real.run_check("nile", broken)
    assert not c.passed and "ValueError" in c.error


def test_eval_run_writes_the_doc(tmp_path, monkeypatch, capsys):
    doc = tmp_path / "models.md"
    monkeypatch.setattr(eval_run, "DOC", doc)
    monkeypatch.setattr(eval_run, "REPO", tmp_path)
    assert eval_run.main(["--series", "6", "--no-speed", "--skip", "ets", "--write-doc"]) == 0
    text = doc.read_text(encoding="utf-8")
    out = capsys.readouterr().out
    for needle in ("| detector | F1 | precision | recall | kinds right |", "robust z-score", "nile", "co2"):
        assert needle in text and needle in out
    assert "python -m eval.run --write-doc --series 6 --skip ets --no-speed" in text


# ---------------------------------------------------------------- real data


def test_the_real_datasets_load_as_regular_series():
    n = real.nile()
    assert len(n.values) == 100 and n.periods[0] == "1871" and n.periods[27] == "1898" and n.season is None
    c = real.co2()
    assert c.periods[0] == "1958-03" and c.periods[-1] == "2001-12" and len(c.values) == 526
    assert np.isnan(c.values).sum() == 5 and c.season == 12
    m = real.macrodata()
    assert m.periods[0] == "1959-Q2" and "2008-Q4" in m.periods and m.season == 4
    assert m.values[m.periods.index("2008-Q4")] < -1


def test_the_real_data_checks_on_hand_made_findings():
    def at(p, kind):
        return Finding(0, p, kind, 0, 0, 0, 0, 5)

    assert real.check_nile([at("1898", "level_shift"), at("1913", "dip"), at("1877", "dip")])[0]
    assert not real.check_nile([at("1898", "level_shift")] + [at("1913", "dip")] * 3)[0]
    assert not real.check_nile([at("1898", "dip")])[0]
    assert not real.check_nile([at("1901", "level_shift")])[0]
    assert real.check_co2([at("1990-01", "spike")] * 4, 526)[0]
    assert not real.check_co2([at("1990-01", "spike")] * 5, 526)[0]
    assert real.check_macrodata([at("2009-Q1", "dip")])[0]
    assert real.check_macrodata([at("2008-Q3", "level_shift")])[0]
    assert not real.check_macrodata([at("2009-Q3", "dip"), at("2008-Q4", "spike")])[0]


def _cockpit_check(name: str) -> real.Check:
    from metrics.models.anomaly import detect

    return real.run_check(name, detect)


def test_cockpit_detector_finds_the_nile_shift_at_1898():
    c = _cockpit_check("nile")
    assert c.passed, c.detail


def test_cockpit_detector_is_quiet_on_co2_seasonality():
    c = _cockpit_check("co2")
    assert c.passed, c.detail


def test_cockpit_detector_finds_the_2008_recession_in_gdp_growth():
    c = _cockpit_check("macrodata")
    assert c.passed, c.detail
