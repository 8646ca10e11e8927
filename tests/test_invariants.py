"""Hypothesis invariants of the engine over random records on a small tree."""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.catalogue.load import load_catalogue
from metrics.engine import Engine

TREE = {"9": None, "91": "9", "92": "9", "911": "91", "912": "91", "921": "92"}
CONFIG = """\
version: 1
org:
  regions:
    id: "9"
    name: 市
    children:
      - {id: "91", name: 一区, children: [{id: "911", name: 一镇}, {id: "912", name: 二镇}]}
      - {id: "92", name: 二区, children: [{id: "921", name: 三镇}]}
sources:
  recs: {type: parquet, path: recs.parquet}
indicators:
  - {id: n, name: 件数, source: recs, time: {column: t, grain: GRAIN}, region: region, department: dept, measure: {type: count}}
  - {id: total, name: 合计, source: recs, time: {column: t, grain: GRAIN}, region: region, measure: {type: sum, column: x}}
  - id: rate
    name: 比例
    unit: "%"
    source: recs
    time: {column: t, grain: GRAIN}
    region: region
    measure: {type: ratio, numerator: {agg: count, where: "flag = TRUE AND x > 2"}, denominator: {agg: count}, scale: 100}
  - {id: ytd_n, name: 累计件数, source: recs, time: {column: t, grain: GRAIN}, region: region, measure: {type: count}, accumulate: ytd}
  - {id: biggest, name: 最大, source: recs, time: {column: t, grain: GRAIN}, region: region, measure: {type: max, column: x}}
"""

record = st.fixed_dictionaries(
    {
        "t": st.dates(dt.date(2024, 11, 1), dt.date(2026, 2, 28)),
        "region": st.sampled_from(["9", "91", "92", "911", "912", "921", "77"]),
        "dept": st.sampled_from(["a", "b", None]),
        "x": st.integers(0, 5),
        "flag": st.booleans(),
    }
)


def run(records: list[dict], grain: str) -> pl.DataFrame:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d)
        pl.DataFrame(
            records,
            schema={"t": pl.Date, "region": pl.String, "dept": pl.String, "x": pl.Int64, "flag": pl.Boolean},
        ).write_parquet(p / "recs.parquet")
        (p / "c.yaml").write_text(CONFIG.replace("GRAIN", grain), encoding="utf-8")
        res = Engine(load_catalogue(p / "c.yaml"), use_store=False).compute()
        assert not res.errors, res.errors
        return res.rows


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.lists(record, min_size=1, max_size=60), st.sampled_from(["day", "week", "month", "quarter", "year"])
)
def test_parent_is_its_own_records_plus_its_children(records: list[dict], grain: str) -> None:
    rows = run(records, grain)
    n = {
        (r["period"], r["region"]): r["value"]
        for r in rows.filter((pl.col("indicator") == "n") & pl.col("department").is_null()).iter_rows(
            named=True
        )
    }
    own: dict[tuple[str, str], int] = {}
    from metrics.periods import to_period

    for rec in records:
        node = rec["region"] if rec["region"] in TREE else "9"  # unknown ids count at the root only
        key = (to_period(rec["t"], grain), node)
        own[key] = own.get(key, 0) + 1
    periods_ = {p for p, _ in n}
    for p, region in itertools.product(periods_, TREE):
        kids = [c for c, parent in TREE.items() if parent == region]
        expected = own.get((p, region), 0) + sum(n.get((p, k), 0) for k in kids)
        assert n.get((p, region), 0) == expected
    # the root's count is every record of the period, and department rows add up to it
    dept = rows.filter((pl.col("indicator") == "n") & pl.col("department").is_not_null())
    for p in periods_:
        total = sum(1 for rec in records if to_period(rec["t"], grain) == p)
        assert n[(p, "9")] == total
        assert dept.filter(pl.col("period") == p)["value"].sum() == sum(
            1 for rec in records if to_period(rec["t"], grain) == p and rec["dept"] is not None
        )


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(record, min_size=1, max_size=60), st.sampled_from(["week", "month", "quarter"]))
def test_ratio_in_range_and_ytd_monotone(records: list[dict], grain: str) -> None:
    rows = run(records, grain)
    rate = rows.filter(pl.col("indicator") == "rate")["value"].drop_nulls()
    assert ((rate >= 0) & (rate <= 100)).all()
    # year-to-date counts never fall within a year, and equal the running sum of the period counts
    ytd = rows.filter(pl.col("indicator") == "ytd_n").sort("period")
    for _region, grp in ytd.group_by(["region"]):
        by_year: dict[str, float] = {}
        for period, value in grp.select("period", "value").iter_rows():
            y = period[:4]
            assert value >= by_year.get(y, 0)
            by_year[y] = value
    # a max is at least every child's max
    big = {
        (r["period"], r["region"]): r["value"]
        for r in rows.filter(pl.col("indicator") == "biggest").iter_rows(named=True)
    }
    for (p, region), v in big.items():
        for c, parent in TREE.items():
            if parent == region and (p, c) in big:
                assert v >= big[(p, c)]
