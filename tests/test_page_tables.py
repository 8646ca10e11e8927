"""排名, 指标目录 and 数据健康: the pages under AppTest, and the frames behind them (metrics.rankings,
metrics.lineage, metrics.health).

The sample-city tests share one computation of the rows (Streamlit's caches are process-wide and
not keyed by ``COCKPIT_CONFIG``: they are cleared when this module starts and ends, and around each
test on a config of its own). Downloads are caught as the page hands their bytes to Streamlit's media
storage, so the test reads exactly what a user would download.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
import streamlit as st
from cities import build_city, records
from servers import REPO_ROOT
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from metrics import health, lineage, rankings
from metrics.access import OPEN, scope_for
from metrics.catalogue.load import load_catalogue
from metrics.engine import Engine

APP = str(REPO_ROOT / "app.py")
SAMPLE_CONFIG = REPO_ROOT / "indicators.yaml"
BOM = b"\xef\xbb\xbf"


def _clear_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


def open_page(page: str, params: dict[str, str] | None = None) -> AppTest:
    """Run the router, then switch to ``page`` with ``params`` in the URL."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(page)
    for k in list(at.query_params):
        del at.query_params[k]
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    return at


def exceptions(at: AppTest) -> list[str]:
    return [f"{e.message}\n{''.join(e.stack_trace)}" for e in at.exception]


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """file name → bytes of every file a page offered for download during the test."""
    got: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self: Any, path_or_data: Any, mimetype: str, kind: Any, filename: str | None = None) -> str:
        if filename is not None and isinstance(path_or_data, bytes):
            got[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return got


# ----------------------------------------------------------------------------- the sample city


@pytest.fixture(scope="module")
def sample() -> Iterator[tuple[Any, pl.DataFrame]]:
    """The sample catalogue and its rows computed by the engine; the app runs on the same config."""
    if not (REPO_ROOT / "data" / ".sample-stamp").exists():
        pytest.skip("no sample city in data/ (run `make sample`)")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COCKPIT_CONFIG", str(SAMPLE_CONFIG))
        mp.chdir(REPO_ROOT)
        _clear_caches()
        cat = load_catalogue(SAMPLE_CONFIG)
        yield cat, Engine(cat).compute().rows
    _clear_caches()


def engine_ranking(
    rows: pl.DataFrame, indicator: str, period: str, regions: list[str]
) -> dict[str, int | None]:
    """region → the engine's rank, straight from the rows."""
    part = rows.filter(
        (pl.col("indicator") == indicator)
        & (pl.col("period") == period)
        & pl.col("region").is_in(regions)
        & pl.col("department").is_null()
    )
    return dict(part.select("region", "rank").iter_rows())


def test_rankings_table_follows_the_engine(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    at = open_page("pages/rankings.py", {"indicator": "online_rate", "period": "2026-10"})
    assert not at.exception, exceptions(at)
    assert [t.value for t in at.title] == ["排名"]
    table = at.dataframe[0].value
    kids = list(cat.tree.children(cat.root))
    now = engine_ranking(rows, "online_rate", "2026-10", kids)
    before = engine_ranking(rows, "online_rate", "2026-09", kids)
    names = {r: cat.tree.name(r) for r in kids}
    want = sorted(now, key=lambda r: (now[r] is None, now[r] or 0, kids.index(r)))
    assert table["地区"].tolist() == [names[r] for r in want]
    assert table["排名"].tolist() == [str(now[r]) for r in want]
    # the change in rank since 2026-09, each against the engine's rows
    for r, shown in zip(want, table["排名变化"].tolist(), strict=True):
        assert shown == rankings.move_label(now[r], before.get(r)), (names[r], shown)
    assert set(table["排名变化"]) - {"—"}, "the sample has at least one move in 2026-10"
    assert all(v.endswith("%") for v in table["值"]), table["值"].tolist()
    assert all(c.endswith("个百分点") or c == "—" for c in table["同比"]), table["同比"].tolist()
    assert "环比" in table.columns
    assert table["详情"].iloc[0].startswith("/detail?indicator=online_rate&region=")
    # the view is in the URL, and the chart is drawn
    assert at.query_params["indicator"] == "online_rate" and at.query_params["period"] == "2026-10"
    assert "by" not in at.query_params
    charts = at.get("vega_lite_chart")
    assert len(charts) == 1 and "Noto Sans CJK SC" in charts[0].proto.spec


def test_rankings_exports_hold_the_rows_on_screen(
    sample: tuple[Any, pl.DataFrame], downloads: dict[str, bytes]
) -> None:
    at = open_page("pages/rankings.py", {"indicator": "online_rate", "period": "2026-10"})
    assert not at.exception, exceptions(at)
    screen = at.dataframe[0].value
    csv_name = next(n for n in downloads if n.endswith(".csv"))
    xlsx_name = next(n for n in downloads if n.endswith(".xlsx"))

    data = downloads[csv_name]
    assert data.startswith(BOM)
    lines = list(csv.reader(io.StringIO(data[len(BOM) :].decode("utf-8"))))
    title = lines[0][0]
    assert "全程网办率" in title and "2026年10月" in title and "示范市" in title, title
    header_at = next(i for i, line in enumerate(lines) if line and line[0] == "排名")
    header = lines[header_at]
    assert header[:3] == ["排名", "代码", "地区"] and "排名变化" in header and "同比（个百分点）" in header, (
        header
    )
    body = lines[header_at + 1 :]
    assert [r[2] for r in body] == screen["地区"].tolist()
    assert [r[0] for r in body] == screen["排名"].tolist()
    assert [r[header.index("排名变化")] for r in body] == screen["排名变化"].tolist()

    wb = openpyxl.load_workbook(io.BytesIO(downloads[xlsx_name]), read_only=True)
    sheet = [list(r) for r in wb.active.iter_rows(values_only=True)]
    assert sheet[0][0] == title
    xh = next(i for i, r in enumerate(sheet) if r[0] == "排名")
    assert [str(c) for c in sheet[xh] if c is not None] == header
    xbody = sheet[xh + 1 :]
    assert [r[2] for r in xbody] == screen["地区"].tolist()
    assert all(isinstance(r[3], float) for r in xbody)  # values stay numbers in Excel
    assert [str(r[0]) for r in xbody] == screen["排名"].tolist()


def test_rankings_of_departments_and_of_a_district(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    at = open_page("pages/rankings.py", {"indicator": "online_rate", "period": "2026-10", "by": "department"})
    assert not at.exception, exceptions(at)
    table = at.dataframe[0].value
    depts = rows.filter(
        (pl.col("indicator") == "online_rate")
        & (pl.col("period") == "2026-10")
        & pl.col("department").is_not_null()
    )
    assert "部门" in table.columns and len(table) == depts.height
    assert set(table["部门"]) == {cat.department_name(d) for d in depts["department"]}
    first = depts.filter(pl.col("rank") == 1)["department"].to_list()
    assert table["部门"].iloc[0] in {cat.department_name(d) for d in first}
    assert at.query_params["by"] == "department"
    assert at.radio[0].value == "department"

    at = open_page("pages/rankings.py", {"indicator": "online_rate", "period": "2026-10", "region": "130302"})
    assert not at.exception, exceptions(at)
    towns = {cat.tree.name(r) for r in cat.tree.children("130302")}
    assert set(at.dataframe[0].value["地区"]) == towns


def test_rankings_of_a_cumulative_indicator_have_no_mom(sample: tuple[Any, pl.DataFrame]) -> None:
    at = open_page("pages/rankings.py", {"indicator": "industry_growth", "by": "department"})
    assert not at.exception, exceptions(at)
    # no department rows: said, and ranked by region; the newest period by default
    assert any("没有部门数据" in i.value for i in at.info)
    table = at.dataframe[0].value
    assert "环比" not in table.columns and "同比" in table.columns
    assert at.query_params["period"] == "2026-10"
    assert any("1-10月" in s.value for s in at.subheader)


def test_catalogue_search_narrows_the_list(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, _ = sample
    at = open_page("pages/catalogue.py")
    assert not at.exception, exceptions(at)
    everything = at.dataframe[0].value
    assert len(everything) == len(cat.config.indicators)
    assert len(at.expander) == len(cat.config.indicators)
    dots = at.get("graphviz_chart")
    assert len(dots) == len(cat.config.indicators) and all("digraph" in d.proto.spec for d in dots)
    assert all(link.startswith("/detail?indicator=") for link in everything["详情"])

    at.text_input(key="catalogue_q").input("网办").run()
    assert not at.exception, exceptions(at)
    found = at.dataframe[0].value
    assert 0 < len(found) < len(everything)
    ids = set(found["代码"])
    for ind in cat.config.indicators:
        text = " ".join(
            [ind.name, ind.id, ind.domain or "", ind.description or "", cat.department_name(ind.owner)]
        )
        assert (ind.id in ids) == ("网办" in text), ind.id
    assert at.query_params["q"] == "网办"

    at = open_page("pages/catalogue.py", {"domain": "经济运行"})
    assert not at.exception, exceptions(at)
    assert set(at.dataframe[0].value["领域"]) == {"经济运行"}


def test_health_lists_every_source_of_the_sample(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, _ = sample
    at = open_page("pages/health.py")
    assert not at.exception, exceptions(at)
    table = at.dataframe[0].value
    assert table["数据源"].tolist() == list(cat.config.sources)
    assert not at.error
    counts = {m.label: m.value for m in at.metric}
    assert counts["数据源"] == str(len(cat.config.sources)) and counts["失败"] == "0"
    # 1.2 million service records (README), read from the engine's partial counts
    assert table.set_index("数据源").loc["service_records", "记录数"] == "120万"


# ----------------------------------------------------------------------------- a small city in tmp_path

PARQUET_INDICATOR = {
    "id": "cases_pq",
    "name": "办件量（Parquet）",
    "domain": "政务服务",
    "unit": "件",
    "source": "parquet",
    "time": {"column": "accepted_at", "grain": "month"},
    "region": "region_code",
    "measure": {"type": "count"},
}


@pytest.fixture
def city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A small city: every indicator reads data/city.csv, one reads data/city.parquet."""
    text = build_city(tmp_path, "csv", extra_indicators=[PARQUET_INDICATOR])
    cfg = tmp_path / "indicators.yaml"
    cfg.write_text(text, encoding="utf-8")
    monkeypatch.setenv("COCKPIT_CONFIG", str(cfg))
    monkeypatch.chdir(REPO_ROOT)
    _clear_caches()
    yield cfg
    _clear_caches()


def test_health_flags_a_deleted_csv(city: Path) -> None:
    (city.parent / "data" / "city.csv").unlink()
    at = open_page("pages/health.py")
    assert not at.exception, exceptions(at)
    table = at.dataframe[0].value.set_index("数据源")
    cat = load_catalogue(city)
    assert list(table.index) == list(cat.config.sources)
    assert "失败" in table.loc["csv", "新鲜度"]
    assert "正常" in table.loc["parquet", "新鲜度"]
    csv_inds = [i.id for i in cat.config.indicators if i.source == "csv" or i.measure.type == "formula"]
    assert table.loc["csv", "滞后指标数"] == len(csv_inds)
    banner = " ".join(e.value for e in at.error)
    assert "csv" in banner and "cases" in banner, banner
    # the source's indicators, each flagged
    feeds = [df.value for df in at.dataframe[1:] if "代码" in df.value.columns]
    flagged = {r["代码"]: r["状态"] for f in feeds for _, r in f.iterrows()}
    assert all(flagged[i].startswith("⚠️") for i in csv_inds), flagged
    assert not flagged["cases_pq"].startswith("⚠️")
    # the other pages still draw
    for page in ("pages/rankings.py", "pages/catalogue.py"):
        at = open_page(page)
        assert not at.exception, (page, exceptions(at))


# ----------------------------------------------------------------------------- metrics.rankings


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """The small city computed once by the engine, with a district leader in ``access``."""
    folder = tmp_path_factory.mktemp("small_city")
    text = build_city(folder, "csv", extra_indicators=[PARQUET_INDICATOR])
    text += "access:\n  users:\n    - {id: zhang, name: 张区长, regions: ['990100']}\n"
    cfg = folder / "indicators.yaml"
    cfg.write_text(text, encoding="utf-8")
    cat = load_catalogue(cfg)
    return cat, Engine(cat, use_store=False).compute()


def test_move_labels() -> None:
    assert [rankings.move_label(r, p) for r, p in [(1, 3), (4, 3), (2, 2), (2, None), (None, 1)]] == [
        "↑2",
        "↓1",
        "—",
        "新",
        "",
    ]


def test_ranking_frame(small: tuple[Any, Any]) -> None:
    cat, res = small
    frame = rankings.ranking(cat, res.rows, OPEN, "online_rate", "2026-03")
    assert frame["id"].to_list() and set(frame["id"]) <= set(cat.tree.children(cat.root))
    ranks = [r for r in frame["rank"].to_list() if r is not None]
    assert ranks == sorted(ranks) and ranks[0] == 1
    assert frame["prev_period"].unique().to_list() == ["2026-02"]
    for r in frame.iter_rows(named=True):
        assert r["move_label"] == rankings.move_label(r["rank"], r["prev_rank"])
    # lower_better: the smallest mean is first
    low = rankings.ranking(cat, res.rows, OPEN, "days_mean", "2026-03").drop_nulls("rank")
    assert low["value"].to_list() == sorted(low["value"].to_list())
    # departments, and a district's towns
    depts = rankings.ranking(cat, res.rows, OPEN, "cases", "2026-03", by="department")
    assert set(depts["id"]) == {"d1", "d2", "d3"}
    assert dict(zip(depts["id"], depts["name"], strict=True)) == {"d1": "一局", "d2": "二局", "d3": "三局"}
    assert depts["value"].to_list() == sorted(depts["value"].to_list(), reverse=True)  # higher_better
    towns = rankings.ranking(cat, res.rows, OPEN, "cases", "2026-03", parent="990100")
    assert set(towns["id"]) <= {"990101", "990102"}
    assert rankings.ranking_periods(cat, res.rows, OPEN, "cases")[0] == "2026-03"


def test_ties_share_the_smaller_rank() -> None:
    rows = pl.DataFrame(
        {
            "indicator": ["x"] * 4,
            "period": ["2026-03"] * 4,
            "region": ["b", "c", "d", "e"],
            "department": [None] * 4,
            "value": [5.0, 7.0, 7.0, None],
            "target": [None] * 4,
            "status": [None] * 4,
            "yoy": [None] * 4,
            "mom": [None] * 4,
            "rank": [3, 1, 1, None],
        },
        schema_overrides={"department": pl.String, "target": pl.Float64, "status": pl.String},
    )
    from metrics.catalogue import spec
    from metrics.regions import RegionTree

    tree = RegionTree.from_spec(
        {"id": "a", "name": "甲", "children": [{"id": k, "name": k.upper()} for k in "bcde"]}
    )
    ind = spec.Indicator.model_validate(
        {
            "id": "x",
            "name": "X",
            "source": "s",
            "time": {"column": "t", "grain": "month"},
            "measure": {"type": "count"},
        }
    )

    class Cat:
        indicators = {"x": ind}
        root = "a"

        def __init__(self) -> None:
            self.tree = tree
            self.config = spec.Config.model_validate({"version": 1})

        def department_name(self, d: str | None) -> str:
            return d or ""

    frame = rankings.ranking(Cat(), rows, OPEN, "x", "2026-03")  # type: ignore[arg-type]
    assert frame["id"].to_list() == ["c", "d", "b", "e"]  # ties in tree order, no rank last
    assert frame["rank"].to_list() == [1, 1, 3, None]
    assert frame["move_label"].to_list() == ["新", "新", "新", ""]


def test_ranking_stays_within_the_scope(small: tuple[Any, Any]) -> None:
    cat, res = small
    zhang = scope_for(cat, "zhang")
    # the city's districts name regions outside 甲区: nothing, as if there were no data
    assert rankings.ranking(cat, res.rows, zhang, "cases", "2026-03", parent=cat.root).height == 0
    assert rankings.ranking(cat, res.rows, zhang, "cases", "2026-03", by="department").height == 0
    assert not rankings.can_rank_departments(cat, res.rows, zhang, "cases")
    own = rankings.ranking(cat, res.rows, zhang, "cases", "2026-03")  # default parent: 甲区
    assert set(own["id"]) <= set(cat.tree.children("990100")) and own.height
    table = rankings.export_table(own, cat.indicators["cases"])
    data = rankings.to_csv_bytes(table, rankings.export_title(cat, "cases", "2026-03", "990100"))
    assert b"990200" not in data and b"990300" not in data


def test_csv_and_excel_bytes(small: tuple[Any, Any]) -> None:
    cat, res = small
    ind = cat.indicators["online_rate"]
    frame = rankings.ranking(cat, res.rows, OPEN, "online_rate", "2026-03")
    table = rankings.export_table(frame, ind)
    title = rankings.export_title(cat, "online_rate", "2026-03", cat.root)
    assert title == "全程网办率 · 2026年3月 · 测试市 下辖地区排名"
    data = rankings.to_csv_bytes(table, title, ["说明"])
    assert data.startswith(BOM)
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert lines[0] == [title] and lines[1] == ["说明"] and lines[2] == table.columns
    assert len(lines) == 3 + table.height
    assert "环比（个百分点）" in table.columns and "值（%）" in table.columns
    wb = openpyxl.load_workbook(io.BytesIO(rankings.to_excel_bytes(table, title, ["说明"])))
    values = [list(r) for r in wb.active.iter_rows(values_only=True)]
    assert values[0][0] == title and values[2] == table.columns
    assert [r[1] for r in values[3:]] == table["代码"].to_list()
    cum = rankings.export_table(
        rankings.ranking(cat, res.rows, OPEN, "cases_ytd", "2026-03"), cat.indicators["cases_ytd"]
    )
    assert not any(c.startswith("环比") for c in cum.columns)


# ----------------------------------------------------------------------------- metrics.lineage


def test_mask_url() -> None:
    assert lineage.mask_url("postgresql+psycopg://u:pw@db:5432/x") == "postgresql+psycopg://u:***@db:5432/x"
    assert (
        lineage.mask_url("http://h/api?access_token=abc&page=2&key=k")
        == "http://h/api?access_token=***&page=2&key=***"
    )
    assert lineage.mask_url("http://h/api?page=2") == "http://h/api?page=2"
    assert "s3cret" not in lineage.mask_text("cannot reach http://a:s3cret@h/x?token=s3cret: refused")


def test_source_location_never_shows_a_secret(tmp_path: Path) -> None:
    from metrics.catalogue import spec

    sql = spec.SqlSource.model_validate({"type": "sql", "url": "postgresql://u:s3cret@db/x", "table": "t"})
    http = spec.HttpJsonSource.model_validate(
        {"type": "http_json", "url": "http://h/items?token=s3cret", "headers": {"Authorization": "s3cret"}}
    )
    assert "s3cret" not in lineage.source_location(sql) and "（表 t）" in lineage.source_location(sql)
    assert "s3cret" not in lineage.source_location(http)


def test_lineage_of_a_formula(small: tuple[Any, Any]) -> None:
    cat, _ = small
    lin = lineage.lineage(cat, cat.indicators["cases_per_applicant"])
    steps = lin.steps()
    assert len(steps) == 3  # cases, applicants, then the formula over both
    assert steps[-1].endswith("人均办件量（cases_per_applicant）") and "公式 c / a" in steps[-1]
    assert all(s.startswith("数据源 csv") for s in steps[:2])
    assert any("筛选（条件：channel = '网办'）" in s for s in steps)
    assert any("去重计数（applicant）" in s for s in steps)
    dot = lineage.to_dot(lin)
    assert dot.startswith("digraph") and '"src_csv" -> "cols_cases"' in dot
    assert lin.topological()[-1] == "ind_cases_per_applicant"
    ratio = lineage.measure_text(cat.indicators["online_rate"])
    assert ratio == "比率：分子 = 记录数（条件：channel = '网办'）；分母 = 记录数；× 100"


def test_catalogue_frame_and_search(small: tuple[Any, Any]) -> None:
    cat, res = small
    frame = lineage.catalogue_frame(cat, res, OPEN)
    assert frame["id"].to_list() == [i.id for i in cat.config.indicators]
    row = frame.filter(pl.col("id") == "online_rate").row(0, named=True)
    assert row["target"] == "默认 60；甲区 65" and row["bands"].startswith("绿 ≥ 60")
    assert (
        row["latest"] == "2026-03"
        and row["freshness"] == "正常"
        and row["link"] == "/detail?indicator=online_rate"
    )
    assert row["source_type"] == "CSV 文件" and row["location"] == "data/city.csv" and row["grain"] == "月"
    assert lineage.search(frame, "网办")["id"].to_list() == ["online_rate", "online_rate_ytd"]
    assert lineage.search(frame, "CASES_PQ")["id"].to_list() == ["cases_pq"]
    assert lineage.search(frame, "办件 周")["id"].to_list() == [
        "cases_week",
        "cases_week_ytd",
        "cases_by_date_week",
    ]
    assert set(lineage.search(frame, None, "政务服务")["id"]) == {"cases_pq"}


# ----------------------------------------------------------------------------- metrics.health


def test_source_health_counts_and_warnings(small: tuple[Any, Any]) -> None:
    cat, res = small
    frame = health.source_health(cat, res).to_dicts()
    by = {r["source"]: r for r in frame}
    assert list(by) == list(cat.config.sources)
    assert by["csv"]["records"] == len(records()) and by["parquet"]["records"] == len(records())
    assert by["csv"]["latest"] == "2026-03-31"  # cases_day reads it daily
    assert by["csv"]["freshness"] == health.FRESH and by["parquet"]["latest"] == "2026-03"
    assert by["duckdb"]["indicators"] == 0 and by["duckdb"]["freshness"] == health.EMPTY
    msgs = health.source_messages(cat, res)
    kinds = set(msgs.filter(pl.col("source") == "csv")["kind"])
    assert "未知地区代码" in kinds  # region 990999 is not in the tree
    # a district leader sees only the district's records, and no note about the root's counts
    zhang = scope_for(cat, "zhang")
    mine = {r["source"]: r for r in health.source_health(cat, res, zhang).to_dicts()}
    n_district = sum(1 for r in records() if str(r["region_code"]).startswith("9901"))
    assert mine["csv"]["records"] == n_district
    assert "未知地区代码" not in set(health.source_messages(cat, res, zhang)["kind"])


def test_source_health_of_a_failed_and_a_stale_source(tmp_path: Path) -> None:
    text = build_city(tmp_path, "csv", extra_indicators=[PARQUET_INDICATOR])
    text = text.replace("path: data/city.parquet", "path: data/city.parquet\n    expected_lag: 10d")
    cfg = tmp_path / "indicators.yaml"
    cfg.write_text(text, encoding="utf-8")
    assert "expected_lag: 10d" in cfg.read_text(encoding="utf-8")
    (tmp_path / "data" / "city.csv").unlink()
    cat = load_catalogue(cfg)
    res = Engine(cat, now=dt.datetime(2026, 5, 10), use_store=False).compute()
    now = dt.datetime(2026, 5, 10)
    for result in (res, _as_cached(res)):  # the engine's Result, and what the pages cache (no failed/latest)
        by = {r["source"]: r for r in health.source_health(cat, result, now=now).to_dicts()}
        assert by["csv"]["freshness"] == health.FAILED and by["csv"]["errors"] >= 1
        assert by["csv"]["stale_indicators"] == by["csv"]["indicators"] > 0
        pq = by["parquet"]
        assert pq["freshness"] == health.LATE and pq["age_days"] == 40  # 2026-03-31 → 2026-05-10
        assert pq["freshness_text"].startswith("滞后 30 天"), pq["freshness_text"]
        fresh = health.indicator_freshness(cat, result)
        states = dict(fresh.select("indicator", "freshness").iter_rows())
        assert states["cases"] == health.FAILED and states["cases_per_applicant"] == health.FAILED
        assert states["cases_pq"] == health.LATE


def _as_cached(res: Any) -> Any:
    class Cached:
        rows = res.rows
        warnings = res.warnings
        errors = res.errors
        stale = res.stale

    return Cached()
