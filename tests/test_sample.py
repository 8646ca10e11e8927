"""The shipped catalogue over the embedded sample city (``make sample``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers import run_cli

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "indicators.yaml"


@pytest.fixture(scope="module")
def rows() -> dict[tuple, dict]:
    if not (ROOT / "data" / ".sample-stamp").exists():
        pytest.skip("the sample city is not generated (make sample)")
    p = run_cli("compute", "--config", str(CONFIG), "--format", "json", env={"COCKPIT_NO_CACHE": "1"})
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    # The sample city is clean: no data-quality warnings (stale warnings depend on today's date).
    assert [line for line in p.stderr.splitlines() if line and "stale" not in line] == []
    return {(r["indicator"], r["period"], r["region"], r["department"]): r for r in json.loads(p.stdout)}


def test_catalogue_shape() -> None:
    from metrics.catalogue.load import load_catalogue
    from metrics.catalogue.spec import FormulaMeasure

    cat = load_catalogue(CONFIG)
    inds = cat.config.indicators
    assert len(inds) >= 30
    assert {i.domain for i in inds} >= {"经济运行", "政务服务效能", "营商环境", "民情反映", "好差评"}
    for i in inds:
        assert i.name and i.unit and i.owner and i.description, i.id
    kinds = {i.measure.type for i in inds}
    assert kinds >= {"count", "sum", "mean", "min", "max", "median", "count_distinct", "ratio", "formula"}
    assert any(i.accumulate == "ytd" for i in inds) and any(i.accumulate == "source" for i in inds)
    assert any(i.rollup == "none" for i in inds)
    assert any(i.bands for i in inds)
    assert {i.time.grain for i in inds if not isinstance(i.measure, FormulaMeasure) and i.time} >= {
        "day",
        "week",
        "month",
        "quarter",
    }
    assert cat.config.access is None  # the shipped catalogue is the open demo (contract section 13)


def test_validate_reaches_every_source() -> None:
    if not (ROOT / "data" / ".sample-stamp").exists():
        pytest.skip("the sample city is not generated")
    p = run_cli("validate", "--config", str(CONFIG))
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("OK")


def test_published_magnitudes(rows: dict[tuple, dict]) -> None:
    def latest(ind: str) -> float:
        """The mean of the last 30 complete periods' values (a daily series is noisy)."""
        mine = sorted(
            (k for k in rows if k[0] == ind and k[2] == "130300" and k[3] is None), key=lambda k: k[1]
        )
        recent = (
            [rows[k]["value"] for k in mine[-31:-1]] if len(mine[0][1]) == 10 else [rows[mine[-2]]["value"]]
        )
        return sum(recent) / len(recent)

    assert 83 <= latest("online_rate") <= 93
    assert 92 <= latest("hotline_answer_rate") <= 98
    assert 80 <= latest("hotline_satisfaction") <= 90


def test_one_two_month_release(rows: dict[tuple, dict]) -> None:
    cumulative = {k for k in rows if k[0] == "fai_growth"}
    assert cumulative
    assert not any(k[1].endswith("-01") for k in cumulative)  # 1-2月 is stored as February
    feb = rows[("fai_growth", "2026-02", "130300", None)]
    assert feb["mom"] is None and feb["yoy"] is not None


def test_planted_events(rows: dict[tuple, dict]) -> None:
    donghu = rows[("online_rate", "2026-10", "130306", None)]
    assert donghu["status"] == "red" and donghu["yoy"] < -5
    storm = [
        rows[k]["value"]
        for k in rows
        if k[0] == "hotline_calls" and k[1].startswith("2026-07-2") and k[2] == "130300"
    ]
    normal = [
        rows[k]["value"]
        for k in rows
        if k[0] == "hotline_calls" and k[1].startswith("2026-06-1") and k[2] == "130300"
    ]
    assert max(storm) > 1.5 * max(normal)
    assert rows[("fai_growth", "2025-05", "130300", None)]["value"] < 0
