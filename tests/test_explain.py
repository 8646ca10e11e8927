"""Plain-Chinese one-sentence explanations (metrics.models.explain): golden strings."""

from __future__ import annotations

import polars as pl
import pytest

from metrics.catalogue import spec
from metrics.engine import ROW_SCHEMA
from metrics.models.anomaly import Finding
from metrics.models.contribution import contributions
from metrics.models.explain import MAX_CHARS, compare_word, explain_change, explain_finding
from metrics.regions import RegionTree

TREE = RegionTree.from_spec(
    {
        "id": "100",
        "name": "滨海市",
        "children": [
            {"id": "101", "name": "东湖县"},
            {"id": "102", "name": "海港区"},
            {"id": "103", "name": "西山区"},
        ],
    }
)
CITY = {"100": "全市"}
NOW, PREV, AGO = "2026-08", "2026-07", "2025-08"


def ind(**kw) -> spec.Indicator:
    base = {"id": "calls", "name": "12345热线受理量", "unit": "件", "measure": {"type": "count"}}
    base.update(kw)
    return spec.Indicator.model_validate(base)


CALLS = ind()
RATE = {
    "type": "ratio",
    "numerator": {"agg": "count", "where": "ok = 1"},
    "denominator": {"agg": "count"},
    "scale": 100,
}
ON_TIME = ind(id="on_time", name="按时办结率", unit="%", measure=RATE)
ONLINE = ind(id="online", name="全程网办率", unit="%", measure=RATE)
DAYS = ind(id="days", name="平均办理时长", unit="天", measure={"type": "mean", "column": "days"})
YTD = ind(id="ytd", name="累计办件量", accumulate="ytd")
REVENUE = ind(
    id="revenue",
    name="一般公共预算收入",
    unit="亿元",
    measure={"type": "sum", "column": "v"},
    accumulate="source",
)


def finding(
    period: str, kind: str, observed: float, expected: float, lower: float = 0, upper: float = 0
) -> Finding:
    return Finding(0, period, kind, observed, expected, lower, upper, 6.0)


FINDINGS = [
    # spike, a count: 5,120 against 3,413.3 expected is +50 %
    (
        finding(NOW, "spike", 5120, 5120 / 1.5, 2900, 3920),
        CALLS,
        "海港区",
        None,
        "2026年8月海港区12345热线受理量 5,120件，比预期高 50%（正常范围 2,900–3,920件）",
    ),
    # dip, a count: 3,000 against 4,000 is −25 %; a negative lower end reads 0
    (
        finding(NOW, "dip", 3000, 4000, -200, 8200),
        CALLS,
        "东湖县",
        None,
        "2026年8月东湖县12345热线受理量 3,000件，比预期低 25%（正常范围 0–8,200件）",
    ),
    # dip, a rate: a difference in 个百分点, never a relative %
    (
        finding(NOW, "dip", 79.5, 87.8, 85.1, 92.3),
        ON_TIME,
        "东湖县",
        None,
        "2026年8月东湖县按时办结率 79.5%，比预期低 8.3个百分点（正常范围 85.1%–92.3%）",
    ),
    # spike, a rate: the upper end of a share of records stops at 100 %
    (
        finding(NOW, "spike", 99.2, 93.0, 90.1, 101.5),
        ON_TIME,
        "海港区",
        None,
        "2026年8月海港区按时办结率 99.2%，比预期高 6.2个百分点（正常范围 90.1%–100%）",
    ),
    # spike, more than twice the expected value; a department as the subject
    (
        finding(NOW, "spike", 12000, 4000, 3000, 5000),
        CALLS,
        "滨海市",
        "市公安局",
        "2026年8月市公安局12345热线受理量 12,000件，约为预期的 3 倍（正常范围 3,000–5,000件）",
    ),
    # spike, a mean in days, below 10 %: one decimal
    (
        finding(NOW, "spike", 2.65, 2.5, 2.1, 2.6),
        DAYS,
        "西山区",
        None,
        "2026年8月西山区平均办理时长 2.65天，比预期高 6%（正常范围 2.1–2.6天）",
    ),
    (
        finding(NOW, "spike", 2.8, 2.5, 2.1, 2.6),
        DAYS,
        "西山区",
        None,
        "2026年8月西山区平均办理时长 2.8天，比预期高 12%（正常范围 2.1–2.6天）",
    ),
    # cumulative indicators: 1-N月
    (
        finding(NOW, "spike", 156000, 120000, 100000, 140000),
        YTD,
        "全市",
        None,
        "2026年1-8月全市累计办件量 15.6万件，比预期高 30%（正常范围 10万–14万件）",
    ),
    (
        finding("2026-02", "dip", 38.5, 45.2, 41.0, 49.4),
        REVENUE,
        "全市",
        None,
        "2026年1-2月全市一般公共预算收入 38.5亿元，比预期低 15%（正常范围 41–49.4亿元）",
    ),
    # level shifts: from the level before to the value at the onset
    (
        finding("2026-03", "level_shift", 79.0, 88.1, 80, 96),
        ONLINE,
        "东湖县",
        None,
        "自2026年3月起东湖县全程网办率出现持续性下降，由约 88.1% 降至 79%",
    ),
    (
        finding("2026-03", "level_shift", 5100, 3400, 3000, 3800),
        CALLS,
        "海港区",
        None,
        "自2026年3月起海港区12345热线受理量出现持续性上升，由约 3,400件 升至 5,100件",
    ),
    # trend changes: without slopes, weaker or stronger than the earlier trend
    (
        finding("2026-03", "trend_change", 4100, 5000),
        CALLS,
        "海港区",
        None,
        "自2026年3月起海港区12345热线受理量走势明显转弱，当期 4,100件，比原趋势低 18%",
    ),
    (
        finding("2026-03", "trend_change", 91.0, 88.5),
        ON_TIME,
        "全市",
        None,
        "自2026年3月起全市按时办结率走势明显转强，当期 91%，比原趋势高 2.5个百分点",
    ),
]


@pytest.mark.parametrize("f,indicator,region,dept,expected", FINDINGS)
def test_explain_finding_golden(
    f: Finding, indicator: spec.Indicator, region: str, dept: str | None, expected: str
) -> None:
    got = explain_finding(f, indicator, region, dept)
    assert got == expected
    assert len(got) < MAX_CHARS


def test_finding_rows_as_mappings() -> None:
    row = {
        "period": NOW,
        "kind": "spike",
        "observed": 5120,
        "expected": 5120 / 1.5,
        "lower": 2900,
        "upper": 3920,
    }
    assert explain_finding(row, CALLS, "海港区") == FINDINGS[0][-1]


@pytest.mark.parametrize(
    "slopes,phrase",
    [
        ((50.0, 10.0), "增长明显放缓"),
        ((50.0, -10.0), "由增长转为下降"),
        ((50.0, 90.0), "增长明显加快"),
        ((-50.0, 10.0), "由下降转为增长"),
        ((-50.0, -10.0), "下降明显放缓"),
        ((-10.0, -50.0), "下降明显加快"),
        ((0.0, -5.0), "转为下降"),
    ],
)
def test_trend_change_with_slopes(slopes: tuple[float, float], phrase: str) -> None:
    got = explain_finding(finding("2026-03", "trend_change", 4100, 5000), CALLS, "海港区", slopes=slopes)
    assert got == f"自2026年3月起海港区12345热线受理量{phrase}，当期 4,100件，比原趋势低 18%"
    # a rate rises and falls (上升), a count grows (增长)
    rate = explain_finding(finding("2026-03", "trend_change", 85.0, 88.0), ON_TIME, "全市", slopes=slopes)
    assert phrase.replace("增长", "上升") in rate and "3个百分点" in rate


def test_long_names_drop_the_range_first() -> None:
    long = ind(name="12345政务服务便民热线工单受理总量（含网络渠道）")
    got = explain_finding(finding(NOW, "spike", 5120, 5120 / 1.5, 2900, 3920), long, "滨海市海港区")
    assert got == "2026年8月滨海市海港区12345政务服务便民热线工单受理总量（含网络渠道） 5,120件，比预期高 50%"


def test_unknown_kind() -> None:
    with pytest.raises(ValueError):
        explain_finding(finding(NOW, "wobble", 1, 2), CALLS, "全市")


# ----------------------------------------------------------------- contributions


def rows(indicator: str, data: list[tuple]) -> pl.DataFrame:
    """(period, region, department, value) or (period, region, department, num, den) with scale 100."""
    recs = []
    for t in data:
        if len(t) == 5:
            p, r, d, num, den = t
            value = num / den * 100
        else:
            (p, r, d, value), num, den = t, None, None
        recs.append(
            {
                "indicator": indicator,
                "period": p,
                "region": r,
                "department": d,
                "value": float(value),
                "num": num,
                "den": den,
            }
        )
    schema = {k: ROW_SCHEMA[k] for k in recs[0]}
    return pl.DataFrame(recs, schema=schema)


COUNTS = rows(
    "calls",
    [
        (PREV, "100", None, 900),
        (NOW, "100", None, 1000),
        (PREV, "101", None, 300),
        (NOW, "101", None, 360),
        (PREV, "102", None, 400),
        (NOW, "102", None, 380),
        (PREV, "103", None, 150),
        (NOW, "103", None, 200),
        (AGO, "100", None, 1250),
        (AGO, "101", None, 420),
        (AGO, "102", None, 500),
        (AGO, "103", None, 230),
    ],
)


def test_change_counts_month_on_month() -> None:
    b = contributions(CALLS, COUNTS, TREE, "100", NOW, PREV)
    got = explain_change(b, CALLS, CITY)
    assert got == "2026年8月全市12345热线受理量环比增加 100件（+11.1%），其中东湖县增加 60件、西山区增加 50件"
    assert len(got) < MAX_CHARS
    # the breakdown's own sentence uses the tree's names
    assert b.explanation == got.replace("全市", "滨海市")


def test_change_counts_year_on_year() -> None:
    # 1,250 → 1,000 (−250, −20 %): 海港区 −120, 东湖县 −60, 西山区 −30, 本级及其他 −40
    b = contributions(CALLS, COUNTS, TREE, "100", NOW, AGO)
    got = explain_change(b, CALLS, CITY)
    assert got == "2026年8月全市12345热线受理量同比减少 250件（-20%），其中海港区减少 120件、东湖县减少 60件"
    assert len(got) < MAX_CHARS


def test_change_rate_effect() -> None:
    data = rows(
        "on_time",
        [
            (PREV, "100", None, 75, 100),
            (NOW, "100", None, 72.9, 100),
            (PREV, "101", None, 45, 50),
            (NOW, "101", None, 43.6, 50),
            (PREV, "102", None, 30, 50),
            (NOW, "102", None, 29.3, 50),
        ],
    )
    # −2.1 points: 东湖县 0.5·(−2.8) = −1.4, 海港区 0.5·(−1.4) = −0.7; shares flat
    b = contributions(ON_TIME, data, TREE, "100", NOW, PREV)
    got = explain_change(b, ON_TIME, CITY)
    assert (
        got
        == "2026年8月全市按时办结率环比下降 2.1个百分点，其中东湖县贡献 1.4个百分点、海港区贡献 0.7个百分点"
    )
    assert len(got) < MAX_CHARS


def test_change_mix_effect_dominates() -> None:
    # rates flat (东湖县 90 %, 海港区 60 %); 东湖县's share 50 % → 80 %: +9 points, all mix
    data = rows(
        "on_time",
        [
            (PREV, "100", None, 75, 100),
            (NOW, "100", None, 84, 100),
            (PREV, "101", None, 45, 50),
            (NOW, "101", None, 72, 80),
            (PREV, "102", None, 30, 50),
            (NOW, "102", None, 12, 20),
        ],
    )
    b = contributions(ON_TIME, data, TREE, "100", NOW, PREV)
    got = explain_change(b, ON_TIME, CITY)
    assert (
        got
        == "2026年8月全市按时办结率环比上升 9个百分点，其中海港区因占比下降贡献 5.85个百分点，主要因结构变化"
    )
    assert len(got) < MAX_CHARS


def test_change_cumulative_year_on_year() -> None:
    data = rows(
        "ytd",
        [
            (AGO, "100", None, 50000),
            (NOW, "100", None, 56000),
            (AGO, "101", None, 20000),
            (NOW, "101", None, 25000),
        ],
    )
    b = contributions(YTD, data, TREE, "100", NOW, AGO)
    got = explain_change(b, YTD, CITY)
    # in full (with "（+12%）") the sentence has 60 characters: the relative change goes first
    assert got == "2026年1-8月全市累计办件量同比增加 6,000件，其中东湖县增加 5,000件、本级及其他增加 1,000件"
    assert len(got) < MAX_CHARS


def test_change_departments() -> None:
    data = rows(
        "calls",
        [
            (PREV, "100", None, 200),
            (NOW, "100", None, 170),
            (PREV, "100", "police", 120),
            (NOW, "100", "police", 95),
            (PREV, "100", "hr", 80),
            (NOW, "100", "hr", 75),
        ],
    )
    names = {"police": "市公安局", "hr": "市人社局"}
    b = contributions(CALLS, data, TREE, "100", NOW, PREV, by="departments", names=names)
    assert explain_change(b, CALLS, CITY) == (
        "2026年8月全市12345热线受理量环比减少 30件（-15%），其中市公安局减少 25件、市人社局减少 5件"
    )


def test_change_not_decomposable_names_no_contributors() -> None:
    med = ind(id="med", name="办理时长中位数", unit="天", measure={"type": "median", "column": "d"})
    data = rows(
        "med",
        [(PREV, "100", None, 3.0), (NOW, "100", None, 2.5), (PREV, "101", None, 4), (NOW, "101", None, 2)],
    )
    b = contributions(med, data, TREE, "100", NOW, PREV)
    assert explain_change(b, med, CITY) == "2026年8月全市办理时长中位数环比下降 0.5天"


def test_change_flat_and_missing() -> None:
    data = rows("calls", [(PREV, "100", None, 10), (NOW, "100", None, 10)])
    b = contributions(CALLS, data, TREE, "100", NOW, PREV)
    assert explain_change(b, CALLS, CITY) == "2026年8月全市12345热线受理量环比持平"
    data = rows("calls", [(NOW, "100", None, 10)])
    b = contributions(CALLS, data, TREE, "100", NOW, PREV)
    assert explain_change(b, CALLS, CITY) == "2026年8月全市12345热线受理量缺少2026年7月数据，无法比较"


def test_change_long_names_drop_parts_to_fit() -> None:
    long = {
        "100": "滨海市",
        "101": "滨海经济技术开发区管委会",
        "102": "滨海高新技术产业开发区管委会",
    }
    data = rows(
        "on_time",
        [
            (PREV, "100", None, 75, 100),
            (NOW, "100", None, 72.9, 100),
            (PREV, "101", None, 45, 50),
            (NOW, "101", None, 43.6, 50),
            (PREV, "102", None, 30, 50),
            (NOW, "102", None, 29.3, 50),
        ],
    )
    lind = ind(id="on_time", name="政务服务事项按时办结率", unit="%", measure=RATE)
    b = contributions(lind, data, TREE, "100", NOW, PREV)
    got = explain_change(b, lind, long)
    assert (
        got
        == "2026年8月滨海市政务服务事项按时办结率环比下降 2.1个百分点，其中滨海经济技术开发区管委会贡献 1.4个百分点"
    )
    assert len(got) < MAX_CHARS


def test_compare_words() -> None:
    assert compare_word(NOW, PREV) == "环比"
    assert compare_word(NOW, AGO) == "同比"
    assert compare_word(NOW, "2026-05") == "较2026年5月"
    # cumulative values take 累计同比, not 环比: a month before reads as the earlier total
    assert compare_word(NOW, PREV, cumulative=True) == "较2026年1-7月"
    assert compare_word("2026-Q3", "2026-Q2") == "环比"
    assert compare_word("2026-W05", "2025-W05") == "同比"
