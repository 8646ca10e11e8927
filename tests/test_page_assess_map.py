"""指标考核 (pages/assess.py) and 一张图 (pages/map.py) under AppTest; metrics/geo.py; sample/geo.py;
five-light band edges through ``cockpit compute``.

The AppTest part runs on the sample city like tests/test_app.py. While ``app.py`` does not list
the two pages yet, a small router written to a temporary folder registers them (by absolute
path); once it does, ``app.py`` itself is used. Streamlit's caches are process-wide: the sample
tests share them, the tiny-config tests clear them before and after and come last.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import polars as pl
import pytest
import streamlit as st
from servers import REPO_ROOT, run_cli
from streamlit.testing.v1 import AppTest

from metrics import assess, geo, rankings, views
from metrics.access import OPEN, Scope, scope_for
from metrics.catalogue import spec
from sample import geo as sample_geo
from sample.city import CITY

APP = REPO_ROOT / "app.py"
SAMPLE_CONFIG = REPO_ROOT / "indicators.yaml"
ROOT, HAIGANG, SHANHAIGUAN, BEIDAIHE, DONGHU = "130300", "130302", "130303", "130304", "130306"
PERIOD = "2026-10"
TOOLTIP_FIELDS = {"name", "value_text", "yoy_text", "rank_text", "status_text"}


def _clear_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


def exceptions(at: AppTest) -> list[str]:
    return [f"{e.message}\n{''.join(e.stack_trace)}" for e in at.exception]


# ----------------------------------------------------------------------------- running the pages


def _registered() -> bool:
    text = APP.read_text(encoding="utf-8")
    return "pages/assess.py" in text and "pages/map.py" in text


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``app.py`` once it registers both pages, else a router that does (absolute page paths)."""
    if _registered():
        return APP
    folder = tmp_path_factory.mktemp("router")
    app = folder / "app.py"
    app.write_text(
        textwrap.dedent(
            f"""\
            import streamlit as st

            from cockpit.ui import catalogue, site_title

            st.set_page_config(page_title=site_title(), layout="wide")
            catalogue()
            st.navigation(
                [
                    st.Page({str(REPO_ROOT / "pages" / "assess.py")!r}, title="指标考核", url_path="assess", default=True),
                    st.Page({str(REPO_ROOT / "pages" / "map.py")!r}, title="一张图", url_path="map"),
                ]
            ).run()
            """
        ),
        encoding="utf-8",
    )
    return app


def open_page(router: Path, page: str, **params: str) -> AppTest:
    """A fresh session on /PAGE?params: the router runs first, as in a browser."""
    at = AppTest.from_file(str(router), default_timeout=180)
    at.run()
    target = REPO_ROOT / "pages" / f"{page}.py"
    at.switch_page(str(Path("pages") / f"{page}.py") if router == APP else _relative(target, router.parent))
    at.query_params.update(params)
    at.run()
    assert not at.exception, exceptions(at)
    return at


def _relative(target: Path, start: Path) -> str:
    return os.path.relpath(target, start)


def map_spec(at: AppTest) -> dict[str, Any] | None:
    """The Vega-Lite spec of the page's geoshape chart, if it drew one."""
    for el in at.get("vega_lite_chart"):
        s = json.loads(el.proto.spec)
        if any(layer.get("mark", {}).get("type") == "geoshape" for layer in s.get("layer", [])):
            return s
    return None


def drawn_ids(at: AppTest) -> list[str]:
    s = map_spec(at)
    assert s is not None, "no map drawn"
    return [f["id"] for f in s["data"]["values"]]


# ----------------------------------------------------------------------------- the sample city


@pytest.fixture(scope="module")
def sample_env() -> Iterator[None]:
    if not (REPO_ROOT / "data" / ".sample-stamp").exists():
        pytest.skip("no sample city in data/ (run `make sample`)")
    if not (REPO_ROOT / "data" / sample_geo.GEOJSON_NAME).exists():
        pytest.skip("no data/regions.geojson (run `make sample`)")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COCKPIT_CONFIG", str(SAMPLE_CONFIG))
        mp.chdir(REPO_ROOT)
        _clear_caches()
        yield
    _clear_caches()


@pytest.fixture(scope="module")
def sample(sample_env: None) -> tuple[Any, pl.DataFrame]:
    cat = views.load(SAMPLE_CONFIG)
    return cat, views.compute_all(cat).rows


@pytest.fixture(scope="module")
def board_page(sample_env: None, router: Path) -> AppTest:
    return open_page(router, "assess", assessment="szzf_2026", period=PERIOD)


# ----------------------------------------------------------------------------- 指标考核


def test_assess_page_scoreboard_follows_the_ranks(
    board_page: AppTest, sample: tuple[Any, pl.DataFrame]
) -> None:
    cat, rows = sample
    at = board_page
    assert not at.error, [e.value for e in at.error]
    assert at.query_params["assessment"] == "szzf_2026" and at.query_params["period"] == PERIOD
    scores = sorted(assess.score(cat, rows, "szzf_2026", PERIOD), key=lambda s: (s.rank, s.subject))
    board = at.dataframe[0].value
    names = {s.subject: cat.tree.name(s.subject) for s in scores}
    assert list(board["名次"]) == [s.rank for s in scores]
    assert list(board["地区"]) == [names[s.subject] for s in scores]
    assert list(board["得分"]) == pytest.approx([s.score for s in scores])
    # each item's points, its weight in the header
    a = cat.config.assessments[0]
    heads = [assess.item_header(cat, i) for i in a.items]
    assert heads[0] == "全程网办率（25分）" and set(heads) <= set(board.columns)
    for k, h in enumerate(heads):
        assert list(board[h]) == pytest.approx([s.items[k].points for s in scores])
    assert list(board["较上期"]) == [rankings.move_label(s.rank, s.previous_rank) for s in scores]
    assert all(v == "—" or v[0] in "↑↓新" for v in board["较上期"])
    # two downloads
    assert [b.proto.label for b in at.get("download_button")] == ["导出 CSV", "导出 Excel"]


def test_assess_subject_shows_lost_points_and_catch_up(
    sample_env: None, router: Path, sample: tuple[Any, pl.DataFrame]
) -> None:
    cat, rows = sample
    at = open_page(router, "assess", assessment="szzf_2026", period=PERIOD, subject=DONGHU)
    s = next(x for x in assess.score(cat, rows, "szzf_2026", PERIOD) if x.subject == DONGHU)
    assert at.selectbox(key="pick_subject").value == DONGHU
    assert "东湖县 · 2026年10月" in [h.value for h in at.subheader]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["得分"] == f"{s.score:.2f}" and metrics["名次"] == f"第 {s.rank} 名"
    # the catch-up sentence, as metrics.assess wrote it
    assert s.catch_up is not None and s.catch_up.text.startswith(f"追上第{s.rank - 1}名需再得")
    assert s.catch_up.text in [i.value for i in at.info]
    # where it lost points: the items, the biggest loss first
    assert any(m.value.startswith("**失分**：") and assess.lost_text(cat, s) in m.value for m in at.markdown)
    items = at.dataframe[1].value
    lost = list(items["失分"])
    assert lost == sorted(lost, reverse=True)
    biggest = max(s.items, key=lambda i: i.lost)
    assert items["考核项"][0] == cat.indicators[biggest.indicator].name
    assert lost[0] == pytest.approx(biggest.lost)


def test_assess_own_target_is_marked_and_picker_moves_the_url(sample_env: None, router: Path) -> None:
    at = open_page(router, "assess", assessment="szzf_2026", period=PERIOD)
    at.selectbox(key="pick_subject").select("130321").run()  # 青山县: its own online-rate target of 88
    assert not at.exception, exceptions(at)
    assert at.query_params["subject"] == "130321"
    items = at.dataframe[1].value
    row = items[items["考核项"] == "全程网办率"].iloc[0]
    assert row["目标"] == "88%（分解目标）"


def test_assess_departments(sample_env: None, router: Path) -> None:
    at = open_page(router, "assess", assessment="bmxn_2026", period=PERIOD, subject="cgj")
    board = at.dataframe[0].value
    assert len(board) == 17 and "部门" in board.columns
    # 城管局 and the 12345 centre handle no cases: 0 points, tied last
    assert list(board["名次"])[-2:] == [16, 16]
    assert any("追上第15名" in i.value for i in at.info)


def test_assess_default_period_is_complete(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    scores = assess.score(cat, rows, "szzf_2026")
    # the hotline runs a month ahead of the service records: 2026-11 is scored but incomplete
    assert assess.scored_periods(scores)[0] == "2026-11"
    assert assess.missing_items(scores, "2026-11")
    assert assess.default_period(scores) == PERIOD


def test_assess_export_within_the_scope(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    a = next(x for x in cat.config.assessments if x.id == "szzf_2026")
    zhang = spec.User(id="zhang", name="张区长", regions=[HAIGANG])
    cat2 = dataclasses.replace(
        cat, config=cat.config.model_copy(update={"access": spec.Access(users=[zhang])})
    )
    scope = scope_for(cat2, "zhang")
    mine = assess.score(cat2, rows, a, PERIOD, scope)
    everyone = assess.score(cat2, rows, a, PERIOD)
    assert [s.subject for s in mine] == [HAIGANG]
    assert mine[0].rank == next(s.rank for s in everyone if s.subject == HAIGANG)  # ranked among all
    board = assess.scoreboard(cat2, a, mine, PERIOD)
    title = assess.export_title(cat2, a, PERIOD)
    notes = assess.export_notes(a, mine, PERIOD)

    data = rankings.to_csv_bytes(board, title, notes)
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert lines[0] == [title]
    header = lines[1 + len(notes)]
    assert header[:4] == ["名次", "代码", "地区", "得分"] and header[-3:] == ["上期名次", "较上期", "追赶"]
    body = lines[2 + len(notes) :]
    assert [r[2] for r in body] == ["海港区"]
    others = [cat.tree.name(r) for r in cat.tree.children(ROOT) if r != HAIGANG]
    assert not any(n in data.decode("utf-8-sig") for n in others)  # no other county, not even in 追赶

    book = openpyxl.load_workbook(io.BytesIO(rankings.to_excel_bytes(board, title, notes, sheet="考核")))
    ws = book["考核"]
    assert ws["A1"].value == title
    values = [[c.value for c in r] for r in ws.iter_rows()]
    assert values[1 + len(notes)][:4] == ["名次", "代码", "地区", "得分"]
    assert values[2 + len(notes)][2] == "海港区" and values[2 + len(notes)][3] == pytest.approx(mine[0].score)

    # departments are never shown to a county leader (section 9)
    assert assess.score(cat2, rows, "bmxn_2026", PERIOD, scope) == []


# ----------------------------------------------------------------------------- 一张图


@pytest.fixture(scope="module")
def city_map(sample_env: None, router: Path) -> AppTest:
    return open_page(router, "map", indicator="online_rate", period=PERIOD)


def test_map_draws_one_feature_per_child(city_map: AppTest, sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    at = city_map
    assert not at.error, [e.value for e in at.error]
    assert at.query_params["region"] == ROOT and at.query_params["show"] == "status"
    assert drawn_ids(at) == list(cat.tree.children(ROOT))
    s = map_spec(at)
    shapes = next(layer for layer in s["layer"] if layer["mark"]["type"] == "geoshape")
    fields = {t["field"] for t in shapes["encoding"]["tooltip"]}
    assert TOOLTIP_FIELDS <= fields
    # every feature carries those fields, as the table does: value with unit, 同比 in 个百分点
    frame = geo.map_frame(cat, rows, OPEN, "online_rate", PERIOD, ROOT)
    feat = {f["id"]: f for f in s["data"]["values"]}
    for r in frame.iter_rows(named=True):
        assert {k: feat[r["id"]][k] for k in TOOLTIP_FIELDS} == {k: r[k] for k in TOOLTIP_FIELDS}
    assert feat[DONGHU]["value_text"].endswith("%") and feat[DONGHU]["yoy_text"].endswith("个百分点")
    assert feat[DONGHU]["rank_text"] == "第 8 / 8 名" and feat[DONGHU]["status_text"] == "红"
    # a click on a region selects its id, which the page turns into ?region=
    assert s["params"][0]["select"]["fields"] == ["id"]


def test_map_region_draws_its_towns(sample_env: None, router: Path) -> None:
    at = open_page(router, "map", indicator="online_rate", period=PERIOD, region=HAIGANG)
    assert drawn_ids(at) == ["130302001", "130302002", "130302003"]
    assert [b.label for b in at.button] == ["返回上级：示范市"]
    at.button(key="map_up").click().run()
    assert not at.exception, exceptions(at)
    assert at.query_params["region"] == ROOT and len(drawn_ids(at)) == 8


def test_map_drill_down_box(city_map: AppTest) -> None:
    at = city_map
    box = at.selectbox(key=f"drill_{ROOT}")
    assert box.options == ["选择下级地区…", "海港区", "山海关区"]  # only regions with children
    box.select(SHANHAIGUAN).run()
    assert not at.exception, exceptions(at)
    assert at.query_params["region"] == SHANHAIGUAN
    assert drawn_ids(at) == ["130303001", "130303002", "130303003"]


def test_map_five_light_colours(sample_env: None, router: Path) -> None:
    at = open_page(router, "map", indicator="industry_growth", period=PERIOD, show="status")
    s = map_spec(at)
    colour = s["layer"][0]["encoding"]["color"]
    domain, rng = colour["scale"]["domain"], colour["scale"]["range"]
    assert domain[:5] == ["红（过热）", "黄（偏热）", "绿（正常）", "浅蓝（偏冷）", "蓝（过冷）"]
    assert rng[:5] == [views.STATUS_COLOR[k] for k in ("red", "yellow", "green", "lightblue", "blue")]
    # value colouring: a gradient, no-data regions grey through the scale's invalid output
    at.radio(key="pick_show").set_value("value").run()
    assert not at.exception, exceptions(at)
    s = map_spec(at)
    assert s["layer"][0]["encoding"]["color"]["field"] == "value"
    assert s["config"]["scale"]["invalid"]["color"]["value"] == geo.NO_DATA_COLOR
    assert at.query_params["show"] == "value"


def test_map_frame_five_light_status_text(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    cold = rows.filter(
        (pl.col("indicator") == "industry_growth") & pl.col("status").is_in(["lightblue", "blue"])
    ).row(0, named=True)
    parent = cat.tree.get(cold["region"]).parent
    frame = geo.map_frame(cat, rows, OPEN, "industry_growth", cold["period"], parent)
    r = frame.filter(pl.col("id") == cold["region"]).row(0, named=True)
    assert r["status"] == cold["status"]
    assert r["status_text"] == {"lightblue": "浅蓝（偏冷）", "blue": "蓝（过冷）"}[cold["status"]]


def test_map_regions_outside_the_scope_are_not_drawn(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    zhang = spec.User(id="zhang", name="张区长", regions=[HAIGANG])
    cat2 = dataclasses.replace(
        cat, config=cat.config.model_copy(update={"access": spec.Access(users=[zhang])})
    )
    scope = scope_for(cat2, "zhang")
    polygons = geo.shapes(cat2)
    assert polygons is not None
    # the city is above the district leader's scope: nothing, not even grey shapes
    assert geo.drawn_regions(cat2, scope, ROOT) == []
    assert geo.map_frame(cat2, rows, scope, "online_rate", PERIOD, ROOT).height == 0
    assert geo.map_periods(cat2, rows, scope, "online_rate", ROOT) == []
    feats, _ = geo.features(geo.map_frame(cat2, rows, scope, "online_rate", PERIOD, HAIGANG), polygons)
    assert [f["id"] for f in feats] == ["130302001", "130302002", "130302003"]
    # a scope holding the city but not 北戴河区 (made by hand): the shape is left out, not greyed
    partial = Scope(None, frozenset(r for r in cat.tree.ids() if r != BEIDAIHE), None, True)
    frame = geo.map_frame(cat, rows, partial, "online_rate", PERIOD, ROOT)
    feats, missing = geo.features(frame, polygons)
    assert BEIDAIHE not in [f["id"] for f in feats] and BEIDAIHE not in frame["id"].to_list()
    assert len(feats) == 7 and missing == []


def test_map_hides_small_groups_of_sensitive_sources(sample: tuple[Any, pl.DataFrame]) -> None:
    """A town's day with fewer than five 12345 calls reads 样本<5 and is drawn grey (issue 6's rule)."""
    from metrics.masking import suppress_small

    cat, rows = sample
    small = (
        suppress_small(rows.filter(pl.col("department").is_null()), cat, OPEN)
        .filter(pl.col("suppressed"))
        .row(0, named=True)
    )
    parent = cat.tree.get(small["region"]).parent
    frame = geo.map_frame(cat, rows, OPEN, small["indicator"], small["period"], parent)
    r = frame.filter(pl.col("id") == small["region"]).row(0, named=True)
    assert r["value"] is None and r["status"] == "suppressed"
    assert r["value_text"] == r["status_text"] == small["suppressed_text"]
    labels, colours = geo.status_legend(False, frame["status_text"].to_list())
    assert colours[labels.index(small["suppressed_text"])] == geo.NO_DATA_COLOR


def test_map_rank_counts_every_sibling(sample: tuple[Any, pl.DataFrame]) -> None:
    cat, rows = sample
    scope = Scope(None, frozenset(cat.tree.subtree(HAIGANG)), None, False)
    r = geo.map_frame(cat, rows, scope, "online_rate", PERIOD, HAIGANG).row(0, named=True)
    assert r["rank_text"].endswith("/ 3 名")


def test_rewind_for_drawing() -> None:
    ccw = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]
    hole = [[0.2, 0.2], [0.4, 0.2], [0.4, 0.4], [0.2, 0.2]]
    g = geo.rewind({"type": "Polygon", "coordinates": [ccw, hole]})
    assert geo._ring_area(g["coordinates"][0]) < 0 < geo._ring_area(g["coordinates"][1])
    again = geo.rewind(g)
    assert again == g  # already in d3's order: unchanged
    lon, lat = geo.label_point(g)
    assert (lon, lat) != (0, 0) and 0 < lon < 1 and 0 < lat < 1


# ----------------------------------------------------------------------------- sample/geo.py


def _segments_cross(p1: Any, p2: Any, q1: Any, q2: Any) -> bool:
    """Whether two segments cross at a point inside both (touching at an end does not count)."""

    def orient(a: Any, b: Any, c: Any) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0


def _inside(pt: tuple[float, float], ring: list[list[float]]) -> bool:
    x, y = pt
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


@pytest.fixture(scope="module")
def sample_polygons() -> dict[str, list[list[float]]]:
    fc = sample_geo.feature_collection()
    out = {}
    for f in fc["features"]:
        assert f["geometry"]["type"] == "Polygon" and len(f["geometry"]["coordinates"]) == 1
        out[f["properties"]["id"]] = f["geometry"]["coordinates"][0]
    return out


def test_sample_polygons_cover_the_tree(sample_polygons: dict[str, list[list[float]]]) -> None:
    fc = sample_geo.feature_collection()
    assert sorted(sample_polygons) == sorted(r.id for r in CITY.walk())
    for f in fc["features"]:
        p = f["properties"]
        assert p["name"] == next(r.name for r in CITY.walk() if r.id == p["id"])
        assert "并非真实" in p["note"] and "NOT real" in p["note"]
    assert "NOT real borders" in fc["description"]
    text = json.dumps(fc, ensure_ascii=False, separators=(",", ":"))
    assert 2_000 < len(text.encode("utf-8")) < 100_000
    for ring in sample_polygons.values():
        for lon, lat in ring:
            assert 118.5 < lon < 120.7 and 39.3 < lat < 40.5  # around 119.6°E 39.9°N


def test_sample_polygons_are_valid(sample_polygons: dict[str, list[list[float]]]) -> None:
    for rid, ring in sample_polygons.items():
        assert ring[0] == ring[-1] and len(ring) >= 4, rid
        assert sample_geo.area([tuple(p) for p in ring[:-1]]) > 0, rid  # counter-clockwise (RFC 7946)
        segs = list(zip(ring, ring[1:], strict=False))
        for i, (a, b) in enumerate(segs):
            for j in range(i + 2, len(segs)):
                if i == 0 and j == len(segs) - 1:
                    continue  # neighbours through the closing point
                assert not _segments_cross(a, b, *segs[j]), (rid, i, j)


def test_sample_polygons_tile_without_overlap(sample_polygons: dict[str, list[list[float]]]) -> None:
    """On a grid of points: every point of a parent lies in exactly one child, none outside it."""
    for node in CITY.walk():
        if not node.children:
            continue
        parent = sample_polygons[node.id]
        kids = [sample_polygons[c.id] for c in node.children]
        lons = [p[0] for p in parent]
        lats = [p[1] for p in parent]
        n = 60
        hits = 0
        for i in range(n):
            for j in range(n):
                pt = (
                    min(lons) + (i + 0.5) / n * (max(lons) - min(lons)),
                    min(lats) + (j + 0.5) / n * (max(lats) - min(lats)),
                )
                inside = sum(_inside(pt, k) for k in kids)
                if _inside(pt, parent):
                    hits += 1
                    assert inside == 1, (node.id, pt, inside)
                else:
                    assert inside == 0, (node.id, pt)
        assert hits > n * n / 3
    # the children's areas add up to the parent's
    for node in CITY.walk():
        if node.children:
            total = sum(
                abs(sample_geo.area([tuple(p) for p in sample_polygons[c.id]])) for c in node.children
            )
            assert total == pytest.approx(
                abs(sample_geo.area([tuple(p) for p in sample_polygons[node.id]])), rel=1e-4
            )


def test_sample_generator_writes_the_geojson(tmp_path: Path) -> None:
    from sample.generate import generate

    summary = generate(tmp_path, service_rows=1000)
    path = tmp_path / sample_geo.GEOJSON_NAME
    assert summary[sample_geo.GEOJSON_NAME] == len(list(CITY.walk()))
    again = sample_geo.write(tmp_path / "again.geojson")
    assert path.read_bytes() == again.read_bytes()  # deterministic
    loaded = geo.load(path)
    assert set(loaded) == {r.id for r in CITY.walk()}
    # drawn clockwise (d3), though written counter-clockwise (RFC 7946)
    assert all(geo._ring_area(g["coordinates"][0]) < 0 for g in loaded.values())


# ----------------------------------------------------------------------------- a tiny city: no polygons, band edges


TINY_REGIONS = [
    ("900100", "东区"),
    ("900200", "西区"),
    ("900300", "南区"),
    ("900400", "北区"),
    ("900500", "中区"),
    ("900600", "新区"),
    ("900700", "老区"),
]
# bands {blue: 10, lightblue: 20, green: 30, yellow: 40}: every edge exactly, and just below it
EDGE_VALUES = {
    "900100": 9.99,
    "900200": 10.0,
    "900300": 20.0,
    "900400": 29.99,
    "900500": 30.0,
    "900600": 40.0,
    "900700": 39.99,
}
EDGE_STATUS = {
    "900100": "blue",
    "900200": "lightblue",
    "900300": "green",
    "900400": "green",
    "900500": "yellow",
    "900600": "red",
    "900700": "yellow",
}


def _tiny_city(folder: Path, geojson: str | None = None) -> Path:
    with (folder / "values.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["day", "region_code", "v"])
        for rid, v in EDGE_VALUES.items():
            w.writerow(["2026-10-15", rid, v])
            w.writerow(["2026-09-15", rid, v])
    kids = "\n".join(f'      - {{id: "{rid}", name: {name}}}' for rid, name in TINY_REGIONS)
    org_geo = f"  geojson: {geojson}\n" if geojson else ""
    text = f"""\
version: 1
org:
{org_geo}  regions:
    id: "900000"
    name: 小城
    children:
{kids}
sources:
  values: {{type: csv, path: values.csv}}
indicators:
  - id: heat
    name: 景气指数
    domain: 经济运行
    unit: "%"
    source: values
    time: {{column: day, grain: month}}
    region: region_code
    measure: {{type: sum, column: v}}
    bands: {{blue: 10, lightblue: 20, green: 30, yellow: 40}}
"""
    path = folder / "indicators.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_band_status_at_every_edge(tmp_path: Path) -> None:
    config = _tiny_city(tmp_path)
    p = run_cli(
        "compute", "--config", config, "--period", PERIOD, "--format", "json", env={"COCKPIT_NO_CACHE": "1"}
    )
    assert p.returncode == 0, p.stderr
    got = {r["region"]: (r["value"], r["status"]) for r in json.loads(p.stdout) if r["department"] is None}
    for rid, status in EDGE_STATUS.items():
        assert got[rid] == (pytest.approx(EDGE_VALUES[rid]), status), rid


@pytest.fixture
def tiny_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, router: Path) -> Iterator[Any]:
    def start(geojson: str | None = None, **params: str) -> AppTest:
        monkeypatch.setenv("COCKPIT_CONFIG", str(_tiny_city(tmp_path, geojson)))
        monkeypatch.chdir(REPO_ROOT)
        _clear_caches()
        return open_page(router, "map", **params)

    yield start
    _clear_caches()


def test_map_without_geojson_shows_the_ranking(tiny_app: Any) -> None:
    at = tiny_app(indicator="heat", period=PERIOD)
    assert map_spec(at) is None
    assert any("org.geojson" in i.value for i in at.info)
    table = at.dataframe[0].value
    assert len(table) == len(TINY_REGIONS) and "状态" in table.columns
    assert "蓝（过冷）" in set(table["状态"]) and "浅蓝（偏冷）" in set(table["状态"])


def test_map_with_a_missing_geojson_file_says_so(tiny_app: Any) -> None:
    at = tiny_app(geojson="nowhere.geojson", indicator="heat", period=PERIOD)
    assert map_spec(at) is None
    assert any("地图边界文件不存在" in w.value for w in at.warning)
    assert len(at.dataframe[0].value) == len(TINY_REGIONS)


def test_map_of_a_tiny_city_with_polygons(tiny_app: Any, tmp_path: Path) -> None:
    # one square per region, counter-clockwise as RFC 7946 writes them; 老区 has none
    feats = [
        {
            "type": "Feature",
            "properties": {"id": rid},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[k, 0], [k + 1, 0], [k + 1, 1], [k, 1], [k, 0]]],
            },
        }
        for k, (rid, _) in enumerate(TINY_REGIONS[:-1])
    ]
    (tmp_path / "tiny.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8"
    )
    at = tiny_app(geojson="tiny.geojson", indicator="heat", period=PERIOD, show="status")
    assert drawn_ids(at) == [rid for rid, _ in TINY_REGIONS[:-1]]
    assert any("老区" in c.value for c in at.caption)  # said, and listed in the table
    status = {f["id"]: f["status"] for f in map_spec(at)["data"]["values"]}
    assert status == {rid: s for rid, s in EDGE_STATUS.items() if rid != "900700"}
    assert len(at.dataframe[0].value) == len(TINY_REGIONS)


def test_five_light_in_domain_flags_bulletins_and_pushes(tmp_path: Path) -> None:
    """蓝/浅蓝 are listed beside 红/黄 wherever the cockpit lists lights (issue 7)."""
    from types import SimpleNamespace

    from alerts.bulletin import build_bulletin, render
    from alerts.message import alert_message
    from metrics import domain as frames

    cat = views.load(_tiny_city(tmp_path))
    rows = views.compute_all(cat).rows
    # the city (the sum, 180) and 新区 are red; 过冷 and 偏冷 are listed too, 蓝 beside 红
    flags = frames.flagged(cat, rows, OPEN, "经济运行", "900000", PERIOD)
    got = flags["status"].to_list()
    assert sorted(got) == sorted(["red", "red", "blue", "yellow", "yellow", "lightblue"])
    assert set(got[:3]) == {"red", "blue"}

    b = build_bulletin(cat, period=PERIOD)
    assert [f.status for f in b.flags] == ["red", "red", "blue", "yellow", "yellow", "lightblue"]
    md = render(b, "md")
    assert "本期红灯2个、黄灯2个、蓝灯1个、浅蓝灯1个，按红灯、蓝灯、黄灯、浅蓝灯和指标顺序列出。" in md
    assert "蓝（过冷）" in md and "浅蓝（偏冷）" in md
    assert "蓝灯1个（东区）" in md and "浅蓝灯1个（西区）" in md
    assert "红灯共1个、黄灯共2个、蓝灯共1个、浅蓝灯共1个（按指标×地区计）" in b.summary

    inst = SimpleNamespace(
        status="blue", period=PERIOD, value=9.99, target=None, yoy=None, mom=None, details={}, fired_at=None
    )
    msg = alert_message(cat, cat.indicators["heat"], "900100", inst, "fire", "景气过冷")
    assert "蓝灯·过冷" in msg["markdown"]
