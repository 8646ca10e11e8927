"""Contribution analysis: who drove a parent's change (metrics.models.contribution).

Every expected number below is computed by hand in the comments.
"""

from __future__ import annotations

import math
import random
import textwrap
from pathlib import Path

import polars as pl
import pytest

from metrics.catalogue import spec
from metrics.engine import ROW_SCHEMA, Engine
from metrics.models.contribution import (
    RESIDUAL_ID,
    RESIDUAL_NAME,
    Breakdown,
    contributions,
    kind_of,
)
from metrics.periods import previous, year_ago
from metrics.regions import RegionTree

TREE = RegionTree.from_spec(
    {
        "id": "100",
        "name": "滨海市",
        "children": [
            {"id": "101", "name": "东湖县", "children": [{"id": "101001", "name": "东湖镇"}]},
            {"id": "102", "name": "海港区"},
            {"id": "103", "name": "西山区"},
        ],
    }
)
NOW, PREV, AGO = "2026-08", "2026-07", "2025-08"


def ind(**kw) -> spec.Indicator:
    base = {"id": "cases", "name": "办件量", "unit": "件", "measure": {"type": "count"}}
    base.update(kw)
    return spec.Indicator.model_validate(base)


RATE = {
    "type": "ratio",
    "numerator": {"agg": "count", "where": "on_time = 1"},
    "denominator": {"agg": "count"},
    "scale": 100,
}


def rows(indicator: str, data: list[tuple], parts: bool = False) -> pl.DataFrame:
    """data: (period, region, department, value) or, with parts, (period, region, department, num, den)."""
    recs = []
    for t in data:
        if parts:
            p, r, d, num, den = t
            value = num / den * 100 if den else None
        else:
            p, r, d, value = t
            num = den = None
        recs.append(
            {
                "indicator": indicator,
                "period": p,
                "region": r,
                "department": d,
                "value": None if value is None else float(value),
                "num": None if num is None else float(num),
                "den": None if den is None else float(den),
            }
        )
    return pl.DataFrame(recs, schema={k: ROW_SCHEMA[k] for k in recs[0]})


def by_id(b: Breakdown) -> dict:
    return {i.id: i for i in b.items}


def assert_adds_up(b: Breakdown) -> None:
    assert b.decomposable
    assert math.fsum(i.contribution for i in b.items) == pytest.approx(b.change, abs=1e-9)
    if b.kind == "ratio":
        for i in b.items:
            assert i.rate_effect + i.mix_effect == pytest.approx(i.contribution, abs=1e-12)
        assert b.rate_effect + b.mix_effect == pytest.approx(b.change, abs=1e-9)


# ----------------------------------------------------------------- counts

# 环比: parent 900 → 1000 (+100); 东湖县 300 → 360 (+60), 海港区 400 → 380 (−20),
# 西山区 150 → 200 (+50); Σ children 850 → 940, so the parent's own records and unknown
# codes go 50 → 60 (+10). 60 − 20 + 50 + 10 = 100.
COUNTS = rows(
    "cases",
    [
        (PREV, "100", None, 900),
        (NOW, "100", None, 1000),
        (PREV, "101", None, 300),
        (NOW, "101", None, 360),
        (PREV, "102", None, 400),
        (NOW, "102", None, 380),
        (PREV, "103", None, 150),
        (NOW, "103", None, 200),
        # a grandchild: part of 东湖县 already, never a child of the city
        (PREV, "101001", None, 100),
        (NOW, "101001", None, 130),
        # another indicator's rows are ignored
        ("2026-08", "100", None, 5),
    ],
).with_columns(
    pl.when(pl.col("value") == 5).then(pl.lit("other")).otherwise(pl.col("indicator")).alias("indicator")
)


def test_counts_children_and_residual_add_up_exactly() -> None:
    b = contributions(ind(), COUNTS, TREE, "100", NOW, previous(NOW))
    assert b.kind == "additive" and b.decomposable
    assert b.change == 100
    assert [i.id for i in b.items] == ["101", "102", "103", RESIDUAL_ID]
    got = by_id(b)
    assert got["101"].contribution == 60 and got["101"].value_now == 360 and got["101"].value_base == 300
    assert got["102"].contribution == -20
    assert got["103"].contribution == 50
    res = got[RESIDUAL_ID]
    assert res.name == RESIDUAL_NAME and res.is_residual
    assert (res.value_base, res.value_now, res.contribution) == (50, 60, 10)
    assert b.residual == 10
    assert sum(i.contribution for i in b.items) == b.change  # exactly, for integers
    assert got["101"].share_of_change == pytest.approx(0.6)
    assert got["102"].rate_effect is None and got["102"].mix_effect is None
    assert [i.id for i in b.top(2)] == ["101", "103"]  # the direction of the change only
    assert [i.id for i in b.top(5)] == ["101", "103", RESIDUAL_ID]
    assert [i.id for i in b.top(5, residual=False)] == ["101", "103"]
    assert b.parent_name == "滨海市"


def test_counts_no_residual_when_children_cover_the_parent() -> None:
    data = rows(
        "cases",
        [
            (PREV, "100", None, 10),
            (NOW, "100", None, 7),
            (PREV, "101", None, 6),
            (NOW, "101", None, 2),
            (PREV, "102", None, 4),
            (NOW, "102", None, 5),
            # 西山区 has no rows: no records, 0 in both periods
        ],
    )
    b = contributions(ind(), data, TREE, "100", NOW, PREV)
    assert [i.id for i in b.items] == ["101", "102", "103"]
    assert b.residual == 0.0
    assert by_id(b)["103"].contribution == 0 and by_id(b)["103"].value_now == 0
    assert b.change == -3
    assert [i.id for i in b.top(2)] == ["101"]  # the only one that pulled down: −4
    assert_adds_up(b)


def test_counts_year_on_year_and_year_to_date() -> None:
    # 同比 of a cumulative count: 1-8月 2025 = 5,000, 2026 = 5,600 (+600);
    # 东湖县 2,000 → 2,500 (+500), 海港区 2,500 → 2,400 (−100), 西山区 400 → 600 (+200);
    # residual 100 → 100 (0), shown because records are coded there.
    ytd = ind(id="ytd_cases", name="累计办件量", accumulate="ytd")
    data = rows(
        "ytd_cases",
        [
            (AGO, "100", None, 5000),
            (NOW, "100", None, 5600),
            (AGO, "101", None, 2000),
            (NOW, "101", None, 2500),
            (AGO, "102", None, 2500),
            (NOW, "102", None, 2400),
            (AGO, "103", None, 400),
            (NOW, "103", None, 600),
        ],
    )
    base = year_ago(NOW)
    assert base == AGO
    b = contributions(ytd, data, TREE, "100", NOW, base)
    assert b.base == AGO and b.change == 600
    assert {i.id: i.contribution for i in b.items} == {"101": 500, "102": -100, "103": 200, RESIDUAL_ID: 0}
    assert b.residual == 0
    assert_adds_up(b)


def test_counts_below_the_city() -> None:
    # 东湖县's only child is 东湖镇: 100 → 130 (+30); the county 300 → 360, so +30 is its own
    b = contributions(ind(), COUNTS, TREE, "101", NOW, PREV)
    assert {i.id: i.contribution for i in b.items} == {"101001": 30, RESIDUAL_ID: 30}
    assert b.parent_name == "东湖县"


def test_sum_measure_is_additive() -> None:
    s = ind(id="amount", name="金额", unit="万元", measure={"type": "sum", "column": "amount"})
    data = rows(
        "amount",
        [
            (PREV, "100", None, 10.5),
            (NOW, "100", None, 12.0),
            (PREV, "102", None, 3.25),
            (NOW, "102", None, 5.0),
        ],
    )
    b = contributions(s, data, TREE, "100", NOW, PREV)
    assert by_id(b)["102"].contribution == pytest.approx(1.75)
    assert b.residual == pytest.approx(-0.25)
    assert_adds_up(b)


# ----------------------------------------------------------------- departments


def test_departments() -> None:
    # the city 200 → 260 (+60); 公安局 120 → 150 (+30), 人社局 70 → 100 (+30),
    # 教育局 0 → 5 (a new department, +5); records without a department 10 → 5 (−5)
    data = rows(
        "cases",
        [
            (PREV, "100", None, 200),
            (NOW, "100", None, 260),
            (PREV, "100", "police", 120),
            (NOW, "100", "police", 150),
            (PREV, "100", "hr", 70),
            (NOW, "100", "hr", 100),
            (NOW, "100", "edu", 5),
            # region rows are not departments
            (NOW, "101", None, 99),
        ],
    )
    names = {"hr": "市人社局", "police": "市公安局", "edu": "市教育局"}
    b = contributions(ind(), data, TREE, "100", NOW, PREV, by="departments", names=names)
    assert b.by == "departments"
    assert [i.id for i in b.items] == ["hr", "police", "edu", RESIDUAL_ID]  # in the names' order
    got = by_id(b)
    assert got["police"].name == "市公安局" and got["police"].contribution == 30
    assert got["edu"].value_base == 0 and got["edu"].contribution == 5
    assert got[RESIDUAL_ID].contribution == -5 and got[RESIDUAL_ID].name == "未注明部门"
    assert_adds_up(b)
    assert {i.id for i in b.top(2)} == {"hr", "police"}
    with pytest.raises(ValueError, match="root"):
        contributions(ind(), data, TREE, "101", NOW, PREV, by="departments")


def test_department_rate() -> None:
    # two departments, shares flat at 1/2, rates 80 → 90 and 60 → 60: ΔR = 5 = 0.5·10 (pure rate)
    data = rows(
        "rate",
        [
            (PREV, "100", None, 140, 200),
            (NOW, "100", None, 150, 200),
            (PREV, "100", "a", 80, 100),
            (NOW, "100", "a", 90, 100),
            (PREV, "100", "b", 60, 100),
            (NOW, "100", "b", 60, 100),
        ],
        parts=True,
    )
    b = contributions(ind(id="rate", unit="%", measure=RATE), data, TREE, "100", NOW, PREV, by="departments")
    got = by_id(b)
    assert b.change == pytest.approx(5.0)
    assert got["a"].rate_effect == pytest.approx(5.0) and got["a"].mix_effect == pytest.approx(0.0)
    assert got["b"].contribution == pytest.approx(0.0)
    assert RESIDUAL_ID not in got
    assert_adds_up(b)


# ----------------------------------------------------------------- ratios: shift-share

RATE_IND = ind(id="on_time", name="按时办结率", unit="%", measure=RATE)


def test_ratio_pure_mix_effect() -> None:
    # 东湖县 at 90 % and 海港区 at 60 % in both months; 东湖县's share grows 50/100 → 80/100.
    # R0 = 75/100 = 75 %, R1 = (72 + 12)/100 = 84 %; ΔR = 9 points; R̄ = 79.5.
    # rate effects 0; mix: 东湖县 (90 − 79.5)·(+0.3) = 3.15, 海港区 (60 − 79.5)·(−0.3) = 5.85.
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
        parts=True,
    )
    b = contributions(RATE_IND, data, TREE, "100", NOW, PREV)
    assert b.kind == "ratio"
    assert b.change == pytest.approx(9.0)
    got = by_id(b)
    dh, hg = got["101"], got["102"]
    assert dh.value_now == pytest.approx(90) and dh.value_base == pytest.approx(90)
    assert dh.change == pytest.approx(0.0)
    assert (dh.weight_base, dh.weight_now) == (pytest.approx(0.5), pytest.approx(0.8))
    assert dh.rate_effect == pytest.approx(0.0) and hg.rate_effect == pytest.approx(0.0)
    assert dh.mix_effect == pytest.approx(3.15) and hg.mix_effect == pytest.approx(5.85)
    assert b.mix_effect == pytest.approx(9.0) and b.rate_effect == pytest.approx(0.0)
    # 西山区 has no records: weight 0 in both months, contributes nothing
    assert got["103"].value_now is None and got["103"].contribution == 0
    assert RESIDUAL_ID not in got
    assert_adds_up(b)


def test_ratio_pure_rate_effect() -> None:
    # shares flat at 1/2; 东湖县 90 → 80 %, 海港区 60 → 64 %: R 75 → 72 (ΔR = −3);
    # rate effects 0.5·(−10) = −5 and 0.5·4 = +2; mix 0
    data = rows(
        "on_time",
        [
            (PREV, "100", None, 75, 100),
            (NOW, "100", None, 72, 100),
            (PREV, "101", None, 45, 50),
            (NOW, "101", None, 40, 50),
            (PREV, "102", None, 30, 50),
            (NOW, "102", None, 32, 50),
        ],
        parts=True,
    )
    b = contributions(RATE_IND, data, TREE, "100", NOW, PREV)
    got = by_id(b)
    assert b.change == pytest.approx(-3.0)
    assert got["101"].change == pytest.approx(-10.0)
    assert got["101"].rate_effect == pytest.approx(-5.0) and got["101"].mix_effect == pytest.approx(0.0)
    assert got["102"].rate_effect == pytest.approx(2.0) and got["102"].mix_effect == pytest.approx(0.0)
    assert got["101"].share_of_change == pytest.approx(5 / 3)
    assert [i.id for i in b.top(2)] == ["101"]
    assert_adds_up(b)


def test_ratio_with_the_parents_own_records_and_a_new_child() -> None:
    # 同比. Base 2025-08: 东湖县 40/50, 海港区 30/40, parent 80/100 → own records 10/10.
    # Now 2026-08: 东湖县 36/40, 海港区 27/30, 西山区 8/10 (new), parent 81/100 → own 10/20.
    # R0 = 80, R1 = 81, ΔR = 1, R̄ = 80.5.
    # 东湖县: w .5 → .4, r 80 → 90: rate .45·10 = 4.5, mix (85 − 80.5)·(−.1) = −.45
    # 海港区: w .4 → .3, r 75 → 90: rate .35·15 = 5.25, mix (82.5 − 80.5)·(−.1) = −.2
    # 西山区: w 0 → .1, r — → 80: rate 0, mix (80 − 80.5)·.1 = −.05
    # 本级:   w .1 → .2, r 100 → 50: rate .15·(−50) = −7.5, mix (75 − 80.5)·.1 = −.55
    # Σ = 4.05 + 5.05 − .05 − 8.05 = 1.0
    data = rows(
        "on_time",
        [
            (AGO, "100", None, 80, 100),
            (NOW, "100", None, 81, 100),
            (AGO, "101", None, 40, 50),
            (NOW, "101", None, 36, 40),
            (AGO, "102", None, 30, 40),
            (NOW, "102", None, 27, 30),
            (NOW, "103", None, 8, 10),
        ],
        parts=True,
    )
    b = contributions(RATE_IND, data, TREE, "100", NOW, year_ago(NOW))
    got = by_id(b)
    assert b.change == pytest.approx(1.0)
    expect = {
        "101": (4.5, -0.45),
        "102": (5.25, -0.2),
        "103": (0.0, -0.05),
        RESIDUAL_ID: (-7.5, -0.55),
    }
    for cid, (rate, mix) in expect.items():
        assert got[cid].rate_effect == pytest.approx(rate), cid
        assert got[cid].mix_effect == pytest.approx(mix), cid
    assert got["103"].value_base is None and got["103"].change is None
    assert got[RESIDUAL_ID].value_base == pytest.approx(100) and got[RESIDUAL_ID].value_now == pytest.approx(
        50
    )
    assert b.residual == pytest.approx(-8.05)
    assert_adds_up(b)


def test_mean_is_split_like_a_ratio() -> None:
    # 平均办理时长 (sum of days / records): 东湖县 2.0 → 3.0 days on 10 records each month,
    # 海港区 4.0 → 4.0 on 10 → 30 records. Parent 60/20 = 3.0 → 150/40 = 3.75 (+0.75).
    # R̄ = 3.375; 东湖县 w .5 → .25: rate .375·1 = .375, mix (2.5 − 3.375)(−.25) = .21875;
    # 海港区 w .5 → .75: rate 0, mix (4 − 3.375)(.25) = .15625. Σ = .75
    mean = ind(id="days", name="平均办理时长", unit="天", measure={"type": "mean", "column": "days"})
    recs = [
        (PREV, "100", 60, 20),
        (NOW, "100", 150, 40),
        (PREV, "101", 20, 10),
        (NOW, "101", 30, 10),
        (PREV, "102", 40, 10),
        (NOW, "102", 120, 30),
    ]
    data = rows("days", [(p, r, None, n, d) for p, r, n, d in recs], parts=True).with_columns(
        (pl.col("num") / pl.col("den")).alias("value")
    )
    b = contributions(mean, data, TREE, "100", NOW, PREV)
    got = by_id(b)
    assert b.kind == "ratio" and b.change == pytest.approx(0.75)
    assert got["101"].rate_effect == pytest.approx(0.375)
    assert got["101"].mix_effect == pytest.approx(0.21875)
    assert got["102"].mix_effect == pytest.approx(0.15625)
    assert_adds_up(b)


def test_shift_share_adds_up_on_random_cities() -> None:
    rng = random.Random(7)
    for _ in range(200):
        data = []
        for p in (PREV, NOW):
            tn = td = 0
            for r in ("101", "102", "103"):
                den = rng.choice([0, 0, rng.randint(1, 500)]) if rng.random() < 0.2 else rng.randint(1, 500)
                num = rng.randint(0, den)
                tn, td = tn + num, td + den
                if den:
                    data.append((p, r, None, num, den))
            own = rng.randint(0, 30)
            tn, td = tn + rng.randint(0, own), td + own
            data.append((p, "100", None, tn, td) if td else (p, "100", None, 0, 1))
        b = contributions(RATE_IND, rows("on_time", data, parts=True), TREE, "100", NOW, PREV)
        assert_adds_up(b)


# ----------------------------------------------------------------- not decomposable


@pytest.mark.parametrize(
    "measure,extra",
    [
        ({"type": "median", "column": "days"}, {}),
        ({"type": "min", "column": "days"}, {}),
        ({"type": "max", "column": "days"}, {}),
        ({"type": "count_distinct", "column": "caller"}, {}),
        ({"type": "formula", "expr": "a / b", "inputs": {"a": "x", "b": "y"}}, {}),
        ({"type": "count"}, {"rollup": "none"}),
        (
            {
                "type": "ratio",
                "numerator": {"agg": "count_distinct", "column": "caller"},
                "denominator": {"agg": "count"},
            },
            {},
        ),
        (
            {
                "type": "ratio",
                "numerator": {"agg": "mean", "column": "a"},
                "denominator": {"agg": "sum", "column": "b"},
            },
            {},
        ),
    ],
)
def test_not_decomposable(measure: dict, extra: dict) -> None:
    i = ind(id="x1", measure=measure, **extra)
    assert kind_of(i) == "none"
    data = rows(
        "x1",
        [
            (PREV, "100", None, 3.0),
            (NOW, "100", None, 5.0),
            (PREV, "101", None, 2.0),
            (NOW, "101", None, 6.0),
        ],
    )
    b = contributions(i, data, TREE, "100", NOW, PREV)
    assert not b.decomposable and b.reason
    assert b.change == 2.0
    assert [(c.id, c.change) for c in b.items] == [("101", 4.0)]  # for reference
    assert all(c.contribution is None and c.share_of_change is None for c in b.items)
    assert b.top(3) == []


def test_kinds() -> None:
    assert kind_of(ind()) == "additive"
    assert kind_of(ind(measure={"type": "sum", "column": "a"}, accumulate="ytd")) == "additive"
    assert kind_of(RATE_IND) == "ratio"
    assert kind_of(ind(measure={"type": "mean", "column": "a"})) == "ratio"


def test_no_comparison_without_the_parents_base() -> None:
    data = rows("cases", [(NOW, "100", None, 10), (NOW, "101", None, 4)])
    b = contributions(ind(), data, TREE, "100", NOW, PREV)
    assert b.change is None and not b.decomposable and PREV in (b.reason or "")


def test_ratio_rows_without_parts_are_not_split() -> None:
    data = rows("on_time", [(PREV, "100", None, 70.0), (NOW, "100", None, 80.0)])
    b = contributions(RATE_IND, data, TREE, "100", NOW, PREV)
    assert not b.decomposable and "num" in (b.reason or "")


# ----------------------------------------------------------------- with the engine

CITY = """\
version: 1
org:
  regions:
    id: "100"
    name: 市
    children:
      - {id: "101", name: 甲区}
      - {id: "102", name: 乙区, children: [{id: "102001", name: 乙镇}]}
      - {id: "103", name: 丙县}
  departments:
    - {id: da, name: 甲局}
    - {id: db, name: 乙局}
sources:
  recs: {type: csv, path: recs.csv}
indicators:
  - {id: cases, name: 办件量, unit: 件, source: recs, time: {column: day, grain: month},
     region: region, department: dept, measure: {type: count}}
  - id: online_rate
    name: 网办率
    unit: "%"
    source: recs
    time: {column: day, grain: month}
    region: region
    department: dept
    measure: {type: ratio, numerator: {agg: count, where: "channel = 'net'"}, denominator: {agg: count}, scale: 100}
  - {id: avg_days, name: 平均时长, unit: 天, source: recs, time: {column: day, grain: month},
     region: region, department: dept, measure: {type: mean, column: days}}
  - {id: med_days, name: 时长中位数, unit: 天, source: recs, time: {column: day, grain: month},
     region: region, measure: {type: median, column: days}}
"""

RECS = """\
day,region,dept,channel,days
2026-02-01,101,da,net,2
2026-02-02,101,db,hall,4
2026-02-03,102,da,net,1
2026-02-04,100,,hall,7
2026-03-01,101,da,net,1
2026-03-02,101,da,net,3
2026-03-03,102001,db,hall,5
2026-03-04,103,db,net,2
2026-03-05,999,da,hall,6
"""


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    from metrics.catalogue.load import load_catalogue

    d: Path = tmp_path_factory.mktemp("contrib")
    (d / "c.yaml").write_text(textwrap.dedent(CITY), encoding="utf-8")
    (d / "recs.csv").write_text(RECS, encoding="utf-8")
    cat = load_catalogue(d / "c.yaml")
    res = Engine(cat, use_store=False).compute()
    assert res.ok, res.errors
    return cat, res.rows


def test_engine_rows_counts(city: tuple) -> None:
    # March vs February: city 4 → 5; 甲区 2 → 2, 乙区 1 → 1 (its town), 丙县 0 → 1;
    # own + unknown: February's record at 100, March's at 999 → 1 → 1
    cat, data = city
    i = cat.indicators["cases"]
    b = contributions(i, data, cat.tree, "100", "2026-03", "2026-02")
    assert b.change == 1
    assert {c.id: c.contribution for c in b.items} == {"101": 0, "102": 0, "103": 1, RESIDUAL_ID: 0}
    assert by_id(b)[RESIDUAL_ID].value_now == 1 and by_id(b)[RESIDUAL_ID].value_base == 1
    assert_adds_up(b)
    names = {d.id: d.name for d in cat.config.org.departments}
    bd = contributions(i, data, cat.tree, "100", "2026-03", "2026-02", by="departments", names=names)
    # 甲局 2 → 3, 乙局 1 → 2; without a department 1 → 0
    assert {c.id: c.contribution for c in bd.items} == {"da": 1, "db": 1, RESIDUAL_ID: -1}
    assert by_id(bd)["da"].name == "甲局"
    assert_adds_up(bd)


def test_engine_rows_ratio_and_mean(city: tuple) -> None:
    cat, data = city
    # 网办率: February 2/4 = 50 %, March 3/5 = 60 %: +10 points
    b = contributions(cat.indicators["online_rate"], data, cat.tree, "100", "2026-03", "2026-02")
    assert b.kind == "ratio" and b.change == pytest.approx(10.0)
    got = by_id(b)
    # 甲区: 1/2 → 2/2 (w .5 → .4); rate effect .45·50 = 22.5, mix (75 − 55)(−.1) = −2
    assert got["101"].rate_effect == pytest.approx(22.5) and got["101"].mix_effect == pytest.approx(-2.0)
    assert_adds_up(b)
    bm = contributions(cat.indicators["avg_days"], data, cat.tree, "100", "2026-03", "2026-02")
    # 14/4 = 3.5 → 17/5 = 3.4
    assert bm.change == pytest.approx(-0.1)
    assert_adds_up(bm)
    bd = contributions(
        cat.indicators["online_rate"], data, cat.tree, "100", "2026-03", "2026-02", by="departments"
    )
    assert_adds_up(bd)
    med = contributions(cat.indicators["med_days"], data, cat.tree, "100", "2026-03", "2026-02")
    assert not med.decomposable
