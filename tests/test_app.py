"""The Streamlit app under ``streamlit.testing.v1.AppTest`` (contract section 13).

No browser here: AppTest runs ``app.py`` (the router) in-process and exposes the elements it drew.
Streamlit's caches (``st.cache_resource`` for the catalogue, ``st.cache_data`` for the rows) are
process-wide and not keyed by ``COCKPIT_CONFIG``, so every test clears them before and after.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
import yaml
from servers import REPO_ROOT
from streamlit.testing.v1 import AppTest

APP = str(REPO_ROOT / "app.py")  # AppTest resolves relative paths against the calling file, not the cwd
SAMPLE_CONFIG = REPO_ROOT / "indicators.yaml"
STATUS_COUNTERS = {"红灯指标", "黄灯指标", "绿灯指标", "预警中"}  # counters, not indicator cards
CJK = re.compile(r"[\u4e00-\u9fff]")


def _clear_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


def run_app(config: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("COCKPIT_CONFIG", str(config))
    monkeypatch.chdir(REPO_ROOT)
    _clear_caches()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    return at


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    _clear_caches()
    yield
    _clear_caches()


def card_name(label: str) -> str:
    """``全程网办率（2026年10月）`` → ``全程网办率``: the label is the indicator's name, then its period."""
    m = re.fullmatch(r"(.+)（[^（）]*）", label)
    return m.group(1) if m else label


def exceptions(at: AppTest) -> list[str]:
    return [f"{e.message}\n{''.join(e.stack_trace)}" for e in at.exception]


# ----------------------------------------------------------------------------- the sample city


@pytest.fixture(scope="module")
def sample_app() -> Iterator[AppTest]:
    """The app on the shipped ``indicators.yaml`` and ``data/``, run once for the module's tests."""
    if not (REPO_ROOT / "data" / ".sample-stamp").exists():
        pytest.skip("no sample city in data/ (run `make sample`)")
    with pytest.MonkeyPatch.context() as mp:
        at = run_app(SAMPLE_CONFIG, mp)
        yield at
    _clear_caches()


@pytest.fixture(scope="module")
def sample_names() -> set[str]:
    cfg = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    return {ind["name"] for ind in cfg["indicators"]}


def test_sample_runs_without_exception(sample_app: AppTest) -> None:
    assert not sample_app.exception, exceptions(sample_app)
    assert not sample_app.error, [e.value for e in sample_app.error]


def test_overview_is_the_default_page(sample_app: AppTest) -> None:
    titles = [t.value for t in sample_app.title]
    assert len(titles) == 1, titles
    assert "一屏总览" in titles[0]
    assert titles[0].startswith("示范市领导驾驶舱"), titles  # site.title from indicators.yaml


def test_at_least_six_kpi_metrics(sample_app: AppTest) -> None:
    labels = [m.label for m in sample_app.metric]
    assert len(labels) >= 6, labels
    cards = [lab for lab in labels if lab not in STATUS_COUNTERS]
    assert len(cards) >= 6, labels


def test_metric_labels_are_chinese_indicator_names(sample_app: AppTest, sample_names: set[str]) -> None:
    labels = [m.label for m in sample_app.metric]
    assert all(CJK.search(lab) for lab in labels), labels
    cards = [lab for lab in labels if lab not in STATUS_COUNTERS]
    unknown = [lab for lab in cards if card_name(lab) not in sample_names]
    assert not unknown, f"metric labels that are not indicator names from indicators.yaml: {unknown}"
    # every card carries a value
    assert all(m.value not in (None, "") for m in sample_app.metric), [
        (m.label, m.value) for m in sample_app.metric
    ]


def test_status_counters_shown(sample_app: AppTest) -> None:
    labels = {m.label: m.value for m in sample_app.metric}
    assert STATUS_COUNTERS <= set(labels), labels
    assert all(re.fullmatch(r"\d+", labels[k]) for k in STATUS_COUNTERS), labels


def test_demo_mode_notice(sample_app: AppTest) -> None:
    # the shipped indicators.yaml has no access block: the sample city opens as the demo
    cfg = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    assert "access" not in cfg
    notices = [i.value for i in sample_app.sidebar.info]
    assert any("演示模式" in n for n in notices), notices


def test_delta_arrow_and_colour_follow_the_change(sample_app: AppTest) -> None:
    from streamlit.proto.Metric_pb2 import Metric

    cfg = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    lower_better = {ind["name"] for ind in cfg["indicators"] if ind.get("direction") == "lower_better"}
    wrong = []
    for m in sample_app.metric:
        found = re.search(r"[+-]?\d+(?:\.\d+)?", m.delta or "")
        if not found:
            continue
        change = float(found.group())
        got = (m.proto.direction, m.proto.color)
        if change == 0:  # no change: no arrow (any colour)
            want = (Metric.MetricDirection.NONE, got[1])
        else:
            up = change > 0
            good = up != (card_name(m.label) in lower_better)
            want = (
                Metric.MetricDirection.UP if up else Metric.MetricDirection.DOWN,
                Metric.MetricColor.GREEN if good else Metric.MetricColor.RED,
            )
        if got != want:
            wrong.append(
                f"{m.label} {m.delta!r}: arrow/colour {Metric.MetricDirection.Name(got[0])}/"
                f"{Metric.MetricColor.Name(got[1])}, want {Metric.MetricDirection.Name(want[0])}/"
                f"{Metric.MetricColor.Name(want[1])}"
            )
    assert not wrong, "\n".join(wrong)


def test_no_source_warning_on_the_sample(sample_app: AppTest) -> None:
    assert not sample_app.warning, [w.value for w in sample_app.warning]


# ----------------------------------------------------------------------------- a tiny config in tmp_path

TINY = """\
version: 1
site:
  title: 测试市驾驶舱
org:
  regions:
    id: "100"
    name: 测试市
    children:
      - {id: "101", name: 甲区}
      - {id: "102", name: 乙区}
sources:
  recs: {type: csv, path: data/recs.csv}
  stats: {type: csv, path: data/stats.csv}
indicators:
  - id: cases
    name: 办件量
    domain: 政务服务
    unit: 件
    source: recs
    time: {column: day, grain: month}
    region: region
    measure: {type: count}
  - id: online_rate
    name: 网办率
    domain: 政务服务
    unit: "%"
    source: recs
    time: {column: day, grain: month}
    region: region
    measure: {type: ratio, numerator: {agg: count, where: "channel = 'net'"}, denominator: {agg: count}, scale: 100}
    target: 60
    thresholds: {green: 60, yellow: 40}
  - id: avg_days
    name: 平均时长
    domain: 政务服务
    unit: 天
    source: recs
    time: {column: day, grain: month}
    region: region
    measure: {type: mean, column: days}
    direction: lower_better
    thresholds: {green: 2, yellow: 3}
  - id: growth
    name: 增速
    domain: 经济运行
    unit: "%"
    source: stats
    time: {column: period, grain: month}
    region: region
    measure: {type: mean, column: growth}
    rollup: none
    accumulate: source
    target: 5
    thresholds: {green: 5, yellow: 4}
"""

RECS = """\
day,region,channel,days
2025-02-10,101,net,1
2025-03-10,101,net,1
2025-03-11,102,hall,3
2026-02-01,101,net,2
2026-02-02,101,hall,4
2026-03-01,101,net,1
2026-03-02,102,hall,3
"""

STATS = """\
period,region,growth
2025-03,100,5.0
2026-02,100,4.0
2026-03,100,4.5
2026-03,101,7.0
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "recs.csv").write_text(RECS, encoding="utf-8")
    (tmp_path / "data" / "stats.csv").write_text(STATS, encoding="utf-8")
    cfg = tmp_path / "indicators.yaml"
    cfg.write_text(TINY, encoding="utf-8")
    return cfg


def test_tiny_config_draws_its_cards(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_app(tiny, monkeypatch)
    assert not at.exception, exceptions(at)
    assert [t.value for t in at.title] == ["测试市驾驶舱 · 一屏总览"]
    names = {card_name(m.label) for m in at.metric} - STATUS_COUNTERS
    assert names == {"办件量", "网办率", "平均时长", "增速"}
    assert not at.warning, [w.value for w in at.warning]


def test_broken_source_warns_and_keeps_the_rest(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tiny.parent / "data" / "recs.csv").unlink()
    at = run_app(tiny, monkeypatch)
    assert not at.exception, exceptions(at)
    assert not at.error, [e.value for e in at.error]
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1, warnings
    assert "recs" in warnings[0], warnings  # names the broken source
    # the page still draws: title, counters, and the card of the indicator whose source is fine
    assert any("一屏总览" in t.value for t in at.title)
    names = {card_name(m.label) for m in at.metric} - STATUS_COUNTERS
    assert names == {"增速"}, names


def test_every_source_broken_still_draws_the_page(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tiny.parent / "data" / "recs.csv").unlink()
    (tiny.parent / "data" / "stats.csv").unlink()
    at = run_app(tiny, monkeypatch)
    assert not at.exception, exceptions(at)
    warnings = "\n".join(w.value for w in at.warning)
    assert "recs" in warnings and "stats" in warnings, warnings
    assert any("一屏总览" in t.value for t in at.title)


def test_broken_and_stale_sources_each_on_their_own_line(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # recs is stale (its last period ended long before "now", expected_lag 1d); stats is missing
    text = tiny.read_text(encoding="utf-8").replace(
        "recs: {type: csv, path: data/recs.csv}", "recs: {type: csv, path: data/recs.csv, expected_lag: 1d}"
    )
    tiny.write_text(text, encoding="utf-8")
    (tiny.parent / "data" / "stats.csv").unlink()
    at = run_app(tiny, monkeypatch)
    assert not at.exception, exceptions(at)
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1, warnings
    bullets = [line for line in warnings[0].splitlines() if line.startswith("- ")]
    assert len(bullets) == 2, warnings[0]
    assert any("stats" in b for b in bullets) and any("recs" in b for b in bullets), bullets


def test_validation_error_lists_every_problem(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = tiny.read_text(encoding="utf-8")
    text = text.replace(
        "thresholds: {green: 60, yellow: 40}", "thresholds: {green: 60, yellow: 40}\n    colour: red"
    )
    text = text.replace("source: stats", "source: nosuch")
    tiny.write_text(text, encoding="utf-8")
    at = run_app(tiny, monkeypatch)
    assert not at.exception, exceptions(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert "指标配置有误" in errors[0]
    assert "colour" in errors[0] and "online_rate" in errors[0], errors[0]
    assert "nosuch" in errors[0] and "growth" in errors[0], errors[0]
    assert str(tiny) in errors[0], errors[0]  # problems carry FILE:LINE
    assert not at.metric  # nothing computed from a config that does not load


def test_unparsable_yaml_is_an_error_not_an_exception(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny.write_text(TINY + "  - id: [unclosed\n", encoding="utf-8")
    at = run_app(tiny, monkeypatch)
    assert not at.exception, exceptions(at)
    assert len(at.error) == 1, [e.value for e in at.error]
    assert not at.metric


def test_missing_config_file_is_an_error_not_an_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = run_app(tmp_path / "nope.yaml", monkeypatch)
    assert not at.exception, exceptions(at)
    assert len(at.error) == 1, [e.value for e in at.error]


def test_tiny_yaml_is_valid_yaml() -> None:
    # guards the fixtures above against typos that would make every tiny test a config-error test
    cfg = yaml.safe_load(textwrap.dedent(TINY))
    assert [i["id"] for i in cfg["indicators"]] == ["cases", "online_rate", "avg_days", "growth"]
