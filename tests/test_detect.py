"""`cockpit detect` (contract section 6) on the sample city and on small series."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from servers import run_cli

from metrics.models.anomaly import KINDS, detect

ROOT = Path(__file__).resolve().parent.parent
FIELDS = [
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


@pytest.fixture(scope="module")
def found() -> list[dict]:
    if not (ROOT / "data" / ".sample-stamp").exists():
        pytest.skip("the sample city is not generated (make sample)")
    p = run_cli(
        "detect",
        "--config",
        str(ROOT / "indicators.yaml"),
        "--format",
        "json",
        "--indicator",
        "online_rate",
        "--indicator",
        "hotline_calls",
        "--indicator",
        "fai_growth",
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and "RuntimeWarning" not in p.stderr
    return json.loads(p.stdout)


def test_shape(found: list[dict]) -> None:
    assert found
    for f in found:
        assert list(f) == FIELDS
        assert f["kind"] in KINDS
        assert f["lower"] <= f["expected"] <= f["upper"]
        assert f["score"] > 0
        if f["department"] is not None:
            assert f["region"] == "130300"
    keys = [(f["indicator"], f["region"], f["department"] or "", f["period"]) for f in found]
    assert keys == sorted(keys)


def test_planted_events_are_found(found: list[dict]) -> None:
    def at(ind: str, region: str, periods: tuple[str, ...], kinds: tuple[str, ...]) -> list[dict]:
        return [
            f
            for f in found
            if f["indicator"] == ind
            and f["region"] == region
            and f["department"] is None
            and f["period"] in periods
            and f["kind"] in kinds
        ]

    # the storm: a hotline surge in a coastal district
    assert at("hotline_calls", "130302", ("2026-07-22", "2026-07-23"), ("spike",))
    # 东湖县's online rate slides from 2026-03: one lasting step, reported at its onset (or two periods after)
    shifts = at("online_rate", "130306", ("2026-03", "2026-04", "2026-05"), ("level_shift",))
    assert len(shifts) == 1 and shifts[0]["observed"] < shifts[0]["expected"]
    assert not at("online_rate", "130306", ("2026-06", "2026-07", "2026-08", "2026-09", "2026-10"), ("dip",))
    # the quarter of weak investment
    assert at("fai_growth", "130300", ("2025-03", "2025-04", "2025-05", "2025-06"), ("level_shift", "dip"))


def test_switched_off(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = 100 + rng.normal(0, 1, 60)
    x[45] += 12
    lines = ["d,v"] + [f"{2021 + i // 12}-{i % 12 + 1:02d},{v:.3f}" for i, v in enumerate(x)]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    base = (
        "version: 1\nsources: {s: {type: csv, path: s.csv}}\nindicators:\n"
        "  - {id: v, name: 值, source: s, time: {column: d, grain: month}, measure: {type: sum, column: v}ANOMALY}\n"
    )
    (tmp_path / "on.yaml").write_text(base.replace("ANOMALY", ""), encoding="utf-8")
    (tmp_path / "off.yaml").write_text(
        base.replace("ANOMALY", ", anomaly: {enabled: false}"), encoding="utf-8"
    )
    (tmp_path / "off2.yaml").write_text(base.replace("ANOMALY", ", anomaly: false"), encoding="utf-8")
    (tmp_path / "strict.yaml").write_text(
        base.replace("ANOMALY", ", anomaly: {threshold: 20}"), encoding="utf-8"
    )

    def run(name: str) -> list[dict]:
        p = run_cli("detect", "--config", str(tmp_path / name), "--format", "json")
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    assert [(f["period"], f["kind"], f["region"]) for f in run("on.yaml")] == [("2024-10", "spike", None)]
    assert run("off.yaml") == [] and run("off2.yaml") == []
    assert run("strict.yaml") == []  # a 12-width spike is under a threshold of 20 widths


def test_gaps_and_one_two_month_release() -> None:
    """January missing every year (1-2月 combined) and a gap of three months: the holes raise no alarm."""
    periods = [f"{2019 + i // 12}-{i % 12 + 1:02d}" for i in range(84)]
    false_alarms, found = 0, 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        x = 5 + 0.02 * np.arange(84) + rng.normal(0, 0.3, 84)
        x[[i for i in range(84) if i % 12 == 0]] = np.nan
        x[40:43] = np.nan
        false_alarms += len(detect(x, periods))
        x[61] += 2.4  # 8 noise widths
        found += any(f.index == 61 and f.kind == "spike" for f in detect(x, periods))
    assert false_alarms / (30 * 7) <= 0.1  # per series-year
    assert found >= 27


def test_short_series_and_small_counts() -> None:
    periods = [str(i) for i in range(10)]
    assert detect(np.arange(10, dtype=float), periods) == []  # too short to judge
    rng = np.random.default_rng(2)
    town = rng.poisson(2, 72).astype(float)  # a town's 2 tickets a month
    assert len(detect(town, [str(i) for i in range(72)])) <= 1


def test_values_on_a_grid() -> None:
    """A median of durations moves in steps of 0.05 or 0.1: one step of the grid is no anomaly."""
    rng = np.random.default_rng(0)
    x = np.round(1.7 + rng.normal(0, 0.04, 70), 1)
    assert detect(x, [str(i) for i in range(70)]) == []
    x[50] = 2.5  # eight steps of the grid
    assert [(f.index, f.kind) for f in detect(x, [str(i) for i in range(70)])] == [(50, "spike")]


def _months(n: int) -> list[str]:
    return [f"{2018 + i // 12}-{i % 12 + 1:02d}" for i in range(n)]


def test_a_short_episode_is_found_once_at_its_deepest_point() -> None:
    """Three months each about 3 widths down (none a dip alone) are one episode: one dip, at the lowest."""
    rng = np.random.default_rng(3)
    x = 100 + rng.normal(0, 1, 96)
    x[60:63] -= [3.2, 3.6, 3.1]
    found = detect(x, _months(96), season=None)
    assert [f.kind for f in found] == ["dip"]
    assert found[0].index in (60, 61, 62) and found[0].observed == min(x[60:63])
    assert found[0].lower < found[0].expected < found[0].upper


def test_the_noise_width_follows_a_lasting_change_of_variance() -> None:
    """Noisy early years, calm later ones (the Great Moderation): a dip the calm part's width shows."""
    rng = np.random.default_rng(5)
    x = np.concatenate([10 + rng.normal(0, 3, 60), 10 + rng.normal(0, 1, 60)])
    x[100] -= 5.5  # under 2 widths of the noisy part, over 5 of the calm one
    found = detect(x, _months(120), season=None)
    assert (_months(120)[100], "dip") in [(f.period, f.kind) for f in found]
    assert not [f for f in found if f.index < 60]  # the noisy part alone raises nothing


def test_a_ramp_is_not_a_level_shift_and_a_step_is() -> None:
    """A faster rise over a year (CO2 in an El Niño year) is no step; the same rise at once is."""
    rng = np.random.default_rng(11)
    base = 0.1 * np.arange(120) + rng.normal(0, 0.3, 120)
    ramp = base + np.clip((np.arange(120) - 60) / 12, 0, 1) * 3.0
    step = base + np.where(np.arange(120) >= 60, 3.0, 0.0)
    assert "level_shift" not in [f.kind for f in detect(ramp, _months(120), season=None)]
    shifts = [f for f in detect(step, _months(120), season=None) if f.kind == "level_shift"]
    assert [f.index for f in shifts] and abs(shifts[0].index - 60) <= 1
