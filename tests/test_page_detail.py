"""指标详情 (pages/detail.py) under AppTest on the sample city, and the frames of metrics/detail.py.

The AppTest part runs the router (``app.py``), switches to the detail page and sets the query
parameters a 特别呈报 push links with. Streamlit's caches are process-wide: they are cleared once
before the module (the first detail view pays for the anomaly findings, ~10 s) and once after, and
kept in between so that every later view costs well under a second. The tiny-config test clears
them itself and comes last.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import streamlit as st
from servers import REPO_ROOT
from streamlit.testing.v1 import AppTest

from metrics import detail as D
from metrics import views
from metrics.access import OPEN, Scope
from metrics.format import fmt_change, fmt_value

APP = str(REPO_ROOT / "app.py")
SAMPLE_CONFIG = REPO_ROOT / "indicators.yaml"
ROOT, HAIGANG, DONGHU, SHANHAIGUAN = "130300", "130302", "130306", "130303"


def _clear_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


def exceptions(at: AppTest) -> list[str]:
    return [f"{e.message}\n{''.join(e.stack_trace)}" for e in at.exception]


@pytest.fixture(scope="module", autouse=True)
def _sample_env() -> Iterator[None]:
    if not (REPO_ROOT / "data" / ".sample-stamp").exists():
        pytest.skip("no sample city in data/ (run `make sample`)")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COCKPIT_CONFIG", str(SAMPLE_CONFIG))
        mp.chdir(REPO_ROOT)
        _clear_caches()
        yield
    _clear_caches()


@pytest.fixture(scope="module")
def sample() -> tuple[Any, pl.DataFrame]:
    cat = views.load(SAMPLE_CONFIG)
    return cat, views.compute_all(cat).rows


def open_detail(**params: str) -> AppTest:
    """A fresh session on /detail?params (the router runs first, as in a browser)."""
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("pages/detail.py")
    at.query_params.update(params)
    at.run()
    assert not at.exception, exceptions(at)
    return at


def picked(at: AppTest) -> dict[str, Any]:
    return {k: at.selectbox(key=f"pick_{k}").value for k in ("indicator", "region", "period")}


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def row(rows: pl.DataFrame, ind: str, region: str, period: str) -> dict[str, Any]:
    r = rows.filter(
        (pl.col("indicator") == ind)
        & (pl.col("region") == region)
        & (pl.col("period") == period)
        & pl.col("department").is_null()
    )
    assert r.height == 1
    return r.row(0, named=True)


# ----------------------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def haigang() -> AppTest:
    return open_detail(indicator="online_rate", region=HAIGANG, period="2026-10")


@pytest.fixture(scope="module")
def city() -> AppTest:
    return open_detail(indicator="online_rate", region=ROOT, period="2026-10")


def test_deep_link_opens_exactly_that_view(haigang: AppTest, sample: tuple[Any, pl.DataFrame]) -> None:
    _, rows = sample
    r = row(rows, "online_rate", HAIGANG, "2026-10")
    assert picked(haigang) == {"indicator": "online_rate", "region": HAIGANG, "period": "2026-10"}
    assert haigang.query_params == {"indicator": "online_rate", "region": HAIGANG, "period": "2026-10"}
    assert [t.value for t in haigang.title] == ["全程网办率 · 海港区"]
    assert not haigang.warning, [w.value for w in haigang.warning]
    m = metrics(haigang)
    assert m["全程网办率（2026年10月）"] == fmt_value(r["value"], "%")
    assert m["目标"] == fmt_value(r["target"], "%")
    assert m["同比"] == fmt_change(r["yoy"], "%") and "个百分点" in m["同比"]
    assert m["环比"] == fmt_change(r["mom"], "%")
    assert m["排名"] == f"第 {r['rank']} / 8 名"
    assert m["状态"].endswith(views.STATUS_LABEL[r["status"]]) and "●" in m["状态"]


def test_unknown_region_warns_and_falls_back() -> None:
    at = open_detail(indicator="online_rate", region="999999", period="2026-10")
    warnings = [w.value for w in at.warning]
    assert any("999999" in w and "权限范围" in w for w in warnings), warnings
    assert picked(at)["region"] == ROOT  # the scope's top
    assert at.query_params["region"] == ROOT  # the URL holds what the page shows
    assert picked(at)["indicator"] == "online_rate"


def test_trend_chart_has_target_forecast_and_anomalies() -> None:
    at = open_detail(indicator="online_rate", region=DONGHU, period="2026-10")
    charts = at.get("vega_lite_chart")
    assert charts, "no chart"
    spec = json.loads(charts[0].proto.spec)
    assert spec["config"]["font"] == "Noto Sans CJK SC"
    assert spec["config"]["axis"]["labelFont"] == "Noto Sans CJK SC"
    marks = [layer["mark"] for layer in spec["layer"]]
    assert any(m["type"] == "rule" and m.get("strokeDash") for m in marks), marks  # the target
    assert any(m["type"] == "area" for m in marks), marks  # the forecast band
    assert any(m["type"] == "point" and m.get("shape") == "triangle-up" for m in marks), marks
    texts = [i.value for i in at.info] + [m.value for m in at.markdown]
    assert any(t.startswith("按当前趋势") and "概率" in t for t in texts), texts
    # the planted slide in 东湖县 from March 2026, explained in one sentence
    assert any("东湖县全程网办率" in t and "持续性下降" in t for t in texts), texts


def test_breakdown_lists_the_children(city: AppTest, sample: tuple[Any, pl.DataFrame]) -> None:
    cat, _ = sample
    table = city.dataframe[0].value
    names = {n.rstrip(" ▸") for n in table["地区"]}
    assert names == {cat.tree.name(c) for c in cat.tree.children(ROOT)}
    assert "海港区 ▸" in set(table["地区"])  # has towns: can be drilled into
    assert list(table.columns) == ["地区", "数值", "状态", "同比", "环比", "排名"]
    # departments: the root, in the open demo's scope, of an indicator with department rows
    assert "部门" in city.dataframe[1].value.columns
    assert len(city.dataframe[1].value) >= 10


def test_selecting_a_child_drills_down_and_the_button_goes_back() -> None:
    at = open_detail(indicator="online_rate", region=ROOT, period="2026-10")
    table = at.dataframe[0].value
    i = [n.rstrip(" ▸") for n in table["地区"]].index("海港区")
    at.session_state[f"drill_{ROOT}"] = {"selection": {"rows": [i], "columns": []}}
    at.run()
    assert not at.exception, exceptions(at)
    assert at.query_params["region"] == HAIGANG
    assert picked(at)["region"] == HAIGANG
    assert {n.rstrip(" ▸") for n in at.dataframe[0].value["地区"]} == {"东山街道", "西港镇", "白塔岭街道"}
    up = [b for b in at.button if b.label.startswith("返回上级")]
    assert [b.label for b in up] == ["返回上级：示范市"]
    up[0].click().run()
    assert not at.exception, exceptions(at)
    assert at.query_params["region"] == ROOT and picked(at)["region"] == ROOT
    assert at.query_params["period"] == "2026-10"


def test_contribution_sentence_names_the_driver(city: AppTest) -> None:
    infos = [i.value for i in city.info]
    yoy = [s for s in infos if "全程网办率同比下降" in s]
    assert yoy and any("其中东湖县贡献" in s for s in yoy), infos
    assert any(s.startswith("2026年10月示范市全程网办率环比") for s in infos), infos
    captions = [c.value for c in city.caption]
    assert any("率效应合计" in c and "结构效应合计" in c for c in captions), captions
    contrib = [d.value for d in city.dataframe if "贡献" in d.value.columns]
    assert contrib and {"率效应", "结构效应"} <= set(contrib[0].columns)


def test_definition_names_source_and_owner(city: AppTest) -> None:
    text = "\n".join(m.value for m in city.markdown)
    assert "**数据来源**：`service_records`（Parquet 文件，`data/service_records.parquet`）" in text
    assert "**责任部门**：市政务服务管理办公室" in text
    assert "channel = '网办'" in text  # the numerator's filter
    assert "**数据状态**：:green[:material/check_circle:] 正常" in text


def test_cumulative_indicator_has_no_mom_and_reads_1_to_n() -> None:
    at = open_detail(indicator="industry_growth", region=ROOT, period="2026-10")
    m = metrics(at)
    assert "规上工业增加值增速（2026年1-10月）" in m
    assert m["环比"] == "不适用"
    assert "（" in m["状态"]  # five-light: 绿（正常）
    assert "环比" not in at.dataframe[0].value.columns
    assert picked(at)["period"] == "2026-10"
    assert at.selectbox(key="pick_period").format_func("2026-10") == "2026年1-10月"


# ----------------------------------------------------------------------------- metrics/detail.py


def test_headline_matches_the_row(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    h = D.headline(cat, rows, OPEN, "online_rate", DONGHU, "2026-10")
    r = row(rows, "online_rate", DONGHU, "2026-10")
    assert h is not None and (h.value, h.status, h.rank) == (r["value"], r["status"], r["rank"])
    assert h.peers == 8 and h.rank_text == f"第 {r['rank']} / 8 名"
    assert h.gap == pytest.approx(r["value"] - r["target"]) and h.gap_text.endswith("个百分点")
    assert h.yoy_base == "2025-10" and h.mom_base == "2026-09"
    city = D.headline(cat, rows, OPEN, "online_rate", ROOT, "2026-10")
    assert city is not None and city.rank is None and city.rank_text == "—"
    cum = D.headline(cat, rows, OPEN, "fai_growth", ROOT, "2026-10")
    assert cum is not None and cum.mom is None and cum.mom_base is None and cum.period_label == "2026年1-10月"
    assert D.headline(cat, rows, OPEN, "online_rate", ROOT, "2031-01") is None


def test_scope_limits_every_frame(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    district = Scope(None, frozenset(cat.tree.subtree(HAIGANG)), None, False)
    assert D.headline(cat, rows, district, "online_rate", ROOT, "2026-10") is None
    assert D.child_breakdown(cat, rows, district, "online_rate", ROOT, "2026-10").height == 0
    assert D.changes(cat, rows, district, "online_rate", ROOT, "2026-10") == []
    assert D.department_breakdown(cat, rows, district, "online_rate", ROOT, "2026-10").height == 0
    assert D.parent_in_scope(cat, district, HAIGANG) is None  # no way up out of the scope
    assert D.breadcrumb(cat, district, "130302001") == [(HAIGANG, "海港区"), ("130302001", "东山街道")]
    h = D.headline(cat, rows, district, "online_rate", HAIGANG, "2026-10")
    assert h is not None and h.peers == 8  # "第 2 / 8 名": a count, never a sibling's name
    assert set(D.child_breakdown(cat, rows, district, "online_rate", HAIGANG, "2026-10")["name"]) == {
        "东山街道",
        "西港镇",
        "白塔岭街道",
    }


def test_breakdowns(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    kids = D.child_breakdown(cat, rows, OPEN, "online_rate", ROOT, "2026-10")
    assert set(kids["id"]) == set(cat.tree.children(ROOT))
    ranks = kids["rank"].to_list()
    assert ranks == sorted(ranks)
    assert set(kids.filter(pl.col("drill"))["id"]) == {HAIGANG, SHANHAIGUAN}
    depts = D.department_breakdown(cat, rows, OPEN, "online_rate", ROOT, "2026-10")
    names = D.department_names(cat)
    assert depts.height > 10 and set(depts["name"]) <= set(names.values())
    assert D.department_breakdown(cat, rows, OPEN, "online_rate", HAIGANG, "2026-10").height == 0
    assert D.department_breakdown(cat, rows, OPEN, "gdp_growth", ROOT, "2026-Q3").height == 0  # no dept rows
    towns = D.child_breakdown(cat, rows, OPEN, "online_rate", "130302001", "2026-10")
    assert towns.height == 0


def test_changes_split_exactly(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    found = D.changes(cat, rows, OPEN, "online_rate", ROOT, "2026-10")
    assert [c.compare for c in found] == ["环比", "同比"]
    yoy = found[1]
    assert yoy.decomposable and yoy.kind == "ratio" and yoy.rate_effect_text and yoy.mix_effect_text
    items = yoy.items
    assert items["contribution"].sum() == pytest.approx(
        row(rows, "online_rate", ROOT, "2026-10")["yoy"], abs=1e-9
    )
    both = (items["rate_effect"] + items["mix_effect"] - items["contribution"]).abs().max()
    assert both == pytest.approx(0.0, abs=1e-9)
    assert items["name"][0] == "东湖县"  # the largest push downwards comes first
    assert "其中东湖县贡献" in yoy.sentence
    top = D.top_contributors(items, 3)
    assert top.height == 3 and top["name"][0] == "东湖县"
    by_dept = D.changes(cat, rows, OPEN, "online_rate", ROOT, "2026-10", by="departments")
    assert [c.compare for c in by_dept] == ["环比", "同比"] and by_dept[0].items.height > 10
    # cumulative: 同比 only; published figures (rollup none) do not split, and say so in Chinese
    growth = D.changes(cat, rows, OPEN, "industry_growth", ROOT, "2026-10")
    assert [c.compare for c in growth] == ["同比"]
    assert not growth[0].decomposable and growth[0].reason and "不由下级汇总" in growth[0].reason
    # an additive count: contributions in 件
    calls = D.changes(cat, rows, OPEN, "service_volume", ROOT, "2026-10")
    assert calls and calls[0].kind == "additive" and calls[0].change_text.endswith("件")


def test_trend_outlook_and_band(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    tr = D.trend(cat, rows, OPEN, "online_rate", ROOT, "2026-10")
    assert tr.height == 36 and tr["period"][-1] == "2026-10" and tr["selected"].to_list()[-1]
    assert tr["selected"].sum() == 1 and tr["label"][-1] == "2026年10月"
    o = D.outlook(cat, rows, OPEN, "online_rate", ROOT, "2026-10")
    assert o is not None and o.period == "2026-12" and o.target == 90 and o.probability is not None
    assert o.explanation.startswith("按当前趋势，全程网办率年底预计为") and "概率" in o.explanation
    band = D.outlook_band(o, tr)
    assert band["label"].to_list() == ["2026年10月", "2026年12月"]
    assert band["lower"][0] == band["upper"][0] == tr["value"][-1]
    assert band["lower"][1] <= band["mean"][1] <= band["upper"][1]
    # as seen from an earlier period: history up to it only
    early = D.outlook(cat, rows, OPEN, "online_rate", ROOT, "2025-06")
    assert early is not None and early.period == "2025-12" and early.horizon == 6
    # a published cumulative level (GDP 1-3季度, 亿元) gets no outlook rather than a wrong one
    assert D.outlook(cat, rows, OPEN, "gdp", ROOT, "2026-Q3") is None
    assert D.outlook_band(None, tr).height == 0


def test_anomaly_markers_filter_and_explain(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, _ = sample
    base = {"kind": "spike", "observed": 5120.0, "expected": 3413.3, "lower": 2900.0, "upper": 3920.0}
    findings = [
        {"indicator": "hotline_calls", "region": HAIGANG, "department": None, "period": "2026-08-03", **base},
        {
            "indicator": "hotline_calls",
            "region": HAIGANG,
            "department": "gaj",
            "period": "2026-08-04",
            **base,
        },
        {"indicator": "hotline_calls", "region": DONGHU, "department": None, "period": "2026-08-05", **base},
        {"indicator": "online_rate", "region": HAIGANG, "department": None, "period": "2026-08", **base},
        {"indicator": "hotline_calls", "region": HAIGANG, "department": None, "period": "2025-01-01", **base},
    ]
    marks = D.anomaly_markers(cat, findings, "hotline_calls", HAIGANG, ["2026-08-03", "2026-08-04"])
    assert marks["period"].to_list() == ["2026-08-03"]
    assert marks["kind_label"][0] == "突增"
    assert (
        marks["explanation"][0]
        == "2026年8月3日海港区12345受理量 5,120件，比预期高 50%（正常范围 2,900–3,920件）"
    )
    assert D.anomaly_markers(cat, findings, "hotline_calls", HAIGANG).height == 2  # no window: all


def test_definition_in_words(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    defs = dict(D.definition(cat, "online_rate", rows, {}))
    assert defs["计算口径"].startswith("分子 ÷ 分母 × 100")
    assert "`channel = '网办'`" in defs["计算口径"] and "全部记录" in defs["计算口径"]
    assert defs["责任部门"] == "市政务服务管理办公室" and defs["方向"] == "越高越好"
    assert defs["目标"] == "默认 90%；青山县 88%；临河县 88%"
    assert defs["红黄绿"] == "绿 ≥ 88%；黄 ≥ 85%；红 < 85%"
    assert defs["数据状态"] == "正常，最新数据期 2026年10月"
    stale = dict(D.definition(cat, "hotline_calls", rows, {"hotline": "stale: latest period 2026-11-20 …"}))
    assert stale["数据状态"].startswith("数据滞后") and "hotline" in stale["数据状态"]
    assert "预期滞后不超过 3d" in stale["数据来源"]
    formula = dict(D.definition(cat, "enterprise_share", rows, {}))
    assert (
        formula["计算口径"].startswith("公式 `a / b * 100`") and "startups_enterprise" in formula["计算口径"]
    )
    assert "`startups`" in formula["数据来源"] and "经公式输入" in formula["数据来源"]
    bands = dict(D.definition(cat, "industry_growth", rows, {}))
    assert bands["景气信号灯"].startswith("蓝（过冷）< 3%") and "数据源即为累计值" in bands["累计方式"]
    lower = dict(D.definition(cat, "startup_avg_days", rows, {}))
    assert lower["红黄绿"] == "绿 ≤ 1工作日；黄 ≤ 1.5工作日；红 > 1.5工作日"


# ----------------------------------------------------------------------------- a failed source (last: own caches)

TINY = textwrap.dedent(
    """\
    version: 1
    org:
      regions: {id: "100", name: 测试市, children: [{id: "101", name: 甲区}, {id: "102", name: 乙区}]}
      departments: [{id: ban, name: 测试办}]
    sources:
      recs: {type: csv, path: data/recs.csv}
      stats: {type: csv, path: data/stats.csv}
    indicators:
      - {id: cases, name: 办件量, domain: 政务服务, unit: 件, owner: ban, source: recs,
         time: {column: day, grain: month}, region: region, measure: {type: count}}
      - {id: growth, name: 增速, domain: 经济运行, unit: "%", source: stats,
         time: {column: period, grain: month}, region: region, measure: {type: sum, column: growth},
         rollup: none, accumulate: source, target: 5, thresholds: {green: 5, yellow: 4}}
    """
)


def test_failed_source_still_renders_with_a_notice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "stats.csv").write_text("period,region,growth\n2026-03,100,4.5\n", encoding="utf-8")
    cfg = tmp_path / "indicators.yaml"
    cfg.write_text(TINY, encoding="utf-8")  # data/recs.csv is missing
    monkeypatch.setenv("COCKPIT_CONFIG", str(cfg))
    _clear_caches()
    try:
        at = open_detail(indicator="cases", region="101")
        assert any("recs" in w.value for w in at.warning), [w.value for w in at.warning]
        assert [t.value for t in at.title] == ["办件量 · 甲区"]
        assert any("暂无「办件量」的数据" in i.value for i in at.info)
        text = "\n".join(m.value for m in at.markdown)
        assert (
            "**数据状态**：:orange[:material/warning:] 未取得数据" in text and "**责任部门**：测试办" in text
        )
    finally:
        _clear_caches()
