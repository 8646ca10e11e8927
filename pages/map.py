"""一张图: a choropleth of one indicator over the children of a region, drilling down by click.

The view lives in the URL: ``?indicator=…&period=…&region=…`` (the region whose children are
drawn) and ``&show=value|status``. Polygons come from ``org.geojson``; the frame from
:mod:`metrics.geo`, already limited to the user's scope (a region outside it is not drawn at all).
A click on a region with children opens its children; 返回上级 goes back up. Without a GeoJSON
file the page says so and shows the ranking table instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from cockpit.ui import (
    link,
    open_pending,
    page_start,
    pick_indicator,
    pick_period,
    pick_region,
    set_query,
    view,
)
from metrics import geo, periods, rankings
from metrics.access import Scope
from metrics.catalogue.load import Catalogue

FONT = "Noto Sans CJK SC"
GOTO = "_map_goto"  # a region to open on the next run (a click, the drill-down box, 返回上级)
SHOW_LABEL = {"status": "状态", "value": "数值"}
MAP_HEIGHT = 460
PICK = "pick"  # the chart's selection parameter


# ----------------------------------------------------------------- cached data


@st.cache_data(ttl=600, show_spinner="正在读取地图边界…")
def _polygons(path: str, mtime: float) -> dict[str, dict[str, Any]]:
    """The GeoJSON's polygons by region id; cached per file and modification time."""
    return geo.load(Path(path))


@st.cache_data(ttl=600, show_spinner=False)
def _frame(
    _cat: Catalogue,
    _scope: Scope,
    _rows: pl.DataFrame,
    config: str,
    user: str | None,
    indicator: str,
    period: str,
    parent: str,
) -> pl.DataFrame:
    return geo.map_frame(_cat, _rows, _scope, indicator, period, parent)


# ----------------------------------------------------------------- helpers


def _request(region: str | None) -> None:
    """A callback: open ``region`` on the next run (callbacks run before the script)."""
    if region:
        st.session_state[GOTO] = region


def _drill_box_changed(key: str) -> None:
    _request(st.session_state.get(key))


def _goto(region: str, forget: str | None = None) -> None:
    """Open ``region`` now; ``forget`` is the chart whose selection asked (it would fire again)."""
    if forget is not None and forget in st.session_state:
        del st.session_state[forget]
    st.session_state[GOTO] = region
    st.rerun()


def _pick_show(current: str | None, default: str, where: Any) -> str:
    """值 or 状态, bound to ``?show=``; the URL wins when it changed since the last run."""
    options = list(SHOW_LABEL)
    key, seen = "pick_show", "_url_show"
    if st.session_state.get(seen, "\0") != current or st.session_state.get(key) not in options:
        st.session_state[key] = current if current in options else default
    chosen = where.radio("着色", options, format_func=SHOW_LABEL.get, horizontal=True, key=key)
    set_query(show=chosen)
    st.session_state[seen] = chosen
    return chosen


def _chart(
    feats: list[dict[str, Any]], show: str, unit: str, five_light: bool, selectable: bool
) -> alt.LayerChart:
    data = alt.Data(values=feats)
    if show == "status":
        labels, colours = geo.status_legend(five_light, [f["status_text"] for f in feats])
        color: Any = alt.Color(
            "status_text:N",
            scale=alt.Scale(domain=labels, range=colours),
            legend=alt.Legend(title="状态", orient="bottom", direction="horizontal", columns=4),
        )
    else:
        # a region without a value stays drawn, in grey: `invalid=None` on the mark ("show") and
        # the scale's output for invalid values below (a condition on the colour is not enough)
        color = alt.Color(
            "value:Q",
            scale=alt.Scale(scheme=alt.SchemeParams(name="blues", extent=[0.3, 1.0]), zero=False),
            legend=alt.Legend(
                title=f"数值（{unit}）" if unit else "数值",
                orient="bottom",
                direction="horizontal",
                gradientLength=220,
            ),
        )
    tooltip = [
        alt.Tooltip("name:N", title="地区"),
        alt.Tooltip("value_text:N", title="数值"),
        alt.Tooltip("target_text:N", title="目标"),
        alt.Tooltip("yoy_text:N", title="同比"),
        alt.Tooltip("rank_text:N", title="排名"),
        alt.Tooltip("status_text:N", title="状态"),
    ]
    shapes = (
        alt.Chart(data)
        .mark_geoshape(
            stroke="#ffffff", strokeWidth=1.5, invalid=None, cursor="pointer" if selectable else "default"
        )
        .encode(color=color, tooltip=tooltip)
    )
    if selectable:
        pick = alt.selection_point(name=PICK, fields=["id"], on="click", clear=False)
        shapes = shapes.add_params(pick).encode(
            strokeWidth=alt.condition(pick, alt.value(3), alt.value(1.5)),
        )
    names = (
        alt.Chart(data)
        .mark_text(
            fontSize=13, fontWeight=600, color="#1f2329", stroke="#ffffff", strokeWidth=3, strokeOpacity=0.7
        )
        .encode(longitude="lon:Q", latitude="lat:Q", text="name:N", tooltip=tooltip)
    )
    names_fill = (
        alt.Chart(data)
        .mark_text(fontSize=13, fontWeight=600, color="#1f2329")
        .encode(longitude="lon:Q", latitude="lat:Q", text="name:N", tooltip=tooltip)
    )
    return (
        alt.layer(shapes, names, names_fill)
        .project(type="mercator")
        .properties(height=MAP_HEIGHT)
        .configure(font=FONT)
        .configure_legend(labelFont=FONT, titleFont=FONT, labelFontSize=12, titleFontSize=12)
        .configure_view(stroke=None)
        .configure_scale(invalid={"color": {"value": geo.NO_DATA_COLOR}})
    )


def _table(frame: pl.DataFrame) -> pl.DataFrame:
    """The drawn regions as a table, best rank first (also what a phone reads most easily)."""
    return frame.sort(pl.col("rank").is_null(), "rank").select(
        pl.col("rank_text").alias("排名"),
        pl.col("name").alias("地区"),
        pl.col("value_text").alias("数值"),
        pl.col("status_text").alias("状态"),
        pl.col("target_text").alias("目标"),
        pl.col("yoy_text").alias("同比"),
    )


def _ranking_fallback(
    cat: Catalogue, scope: Scope, rows: pl.DataFrame, ind_id: str, period: str, parent: str
) -> None:
    """No polygons: the ranking of the same children, as on the 排名 page."""
    ind = cat.indicators[ind_id]
    frame = rankings.ranking(cat, rows, scope, ind_id, period, parent)
    if frame.height == 0:
        st.info("该期间没有可显示的数据。")
        return
    st.subheader(rankings.export_title(cat, ind_id, period, parent))
    st.dataframe(rankings.screen_table(frame, ind).to_pandas(), hide_index=True, width="stretch")


# ----------------------------------------------------------------- the page

cat, scope, data = page_start()
rows = data.rows

open_pending(GOTO, "region", "pick_region")

v = view(cat, scope, rows)
head = st.container()
c1, c2, c3, c4 = st.columns([3, 3, 2, 2], vertical_alignment="bottom")
ind_id = pick_indicator(cat, scope, v.indicator, where=c1)
if ind_id is None:
    head.title("一张图")
    st.info("您的权限范围内没有可显示的指标。")
    st.stop()
ind = cat.indicators[ind_id]
unit = ind.unit or ""
cumulative = ind.accumulate != "none"
rated = ind.thresholds is not None or ind.bands is not None
region = pick_region(cat, scope, v.region, where=c2, label="地区（显示其下级）")
if region is None or cat.tree is None:
    head.title("一张图")
    st.info("没有可显示的地区。")
    st.stop()
options = geo.map_periods(cat, rows, scope, ind_id, region)
period = pick_period(options, v.period, where=c3, cumulative=cumulative)
show = _pick_show(st.query_params.get("show"), "status" if rated else "value", c4)

tree = cat.tree
name = tree.name(region)
head.title(f"一张图 · {name}")
kids = tree.children(region)
parent = tree.get(region).parent
up = parent if parent is not None and scope.sees_region(parent) else None
crumbs = " › ".join(tree.name(r) for r in reversed(tree.ancestors_or_self(region)) if scope.sees_region(r))
head.caption(
    " · ".join(
        [
            crumbs or name,
            ind.name,
            periods.label(period, cumulative=cumulative) if period else "暂无数据",
            "下辖地区" if kids else "无下级地区，显示本级",
        ]
    )
)
if up is not None:
    # a callback, not `if st.button(...)`: it runs before the script, so the click survives any rerun
    head.button(
        f"返回上级：{tree.name(up)}",
        icon=":material/arrow_upward:",
        key="map_up",
        on_click=_request,
        args=(up,),
    )
if ind_id in data.stale_indicators(cat):
    st.warning("该指标的数据源异常或数据滞后，地图上的数值可能不是最新。", icon="⚠️")
if period is None:
    st.info(f"{name}{'的下级地区' if kids else ''}还没有「{ind.name}」的数据。")
    st.stop()
if show == "status" and not rated:
    st.caption(f"「{ind.name}」未设阈值，不判定状态；可切换为按数值着色。")

# ---------------------------------------------------------------- the polygons, or the ranking instead
path = geo.geojson_path(cat)
polygons: dict[str, dict[str, Any]] | None = None
if path is None:
    st.info("本配置没有地图边界文件（org.geojson），无法绘制地图，以下显示排名表。", icon="🗺️")
else:
    try:
        polygons = _polygons(str(path), path.stat().st_mtime if path.exists() else 0.0)
    except geo.GeoError as e:
        st.warning(f"{e}。以下显示排名表。", icon="🗺️")
if polygons is None:
    if kids:
        _ranking_fallback(cat, scope, rows, ind_id, period, region)
    else:
        st.info(f"{name}没有下级地区。")
    st.stop()

key = (str(cat.path), scope.user.id if scope.user else None)
frame = _frame(cat, scope, rows, *key, ind_id, period, region)
feats, no_shape = geo.features(frame, polygons)
if no_shape:
    names = "、".join(tree.name(r) for r in no_shape)
    st.caption(f"地图边界文件中没有这些地区的边界，未画出：{names}（见下表）。")
chart_key = f"map_{region}"
if feats:
    drillable = frame.filter(pl.col("children") > 0)["id"].to_list()
    event = st.altair_chart(
        _chart(feats, show, unit, ind.bands is not None, selectable=bool(kids)),
        width="stretch",
        key=chart_key,
        on_select="rerun" if kids else "ignore",
        selection_mode=[PICK] if kids else None,
    )
    picked = (event.selection.get(PICK) or []) if kids and event is not None else []
    clicked = picked[0].get("id") if picked and isinstance(picked[0], dict) else None
    if clicked in drillable:
        _goto(clicked, forget=chart_key)
    hint = "点击有下级的地区可下钻；" if drillable else ""
    legend = (
        "五色景气灯：红（过热）、黄（偏热）、绿（正常）、浅蓝（偏冷）、蓝（过冷）。"
        if ind.bands is not None
        else ""
    )
    st.caption(f"{hint}悬停查看数值、同比、排名和状态。示意边界，非真实行政区划。{legend}")
    if clicked is not None and clicked not in drillable and clicked in frame["id"].to_list():
        st.markdown(
            f"**{tree.name(clicked)}** 没有下级地区。"
            f"[查看「{ind.name}」详情]({link('detail', indicator=ind_id, region=clicked, period=period)})"
        )

# ---------------------------------------------------------------- drill down without the mouse, and the table
drill_options = frame.filter(pl.col("children") > 0)["id"].to_list()
if drill_options:
    box_key = f"drill_{region}"
    st.selectbox(
        "下钻到",
        [None, *drill_options],
        format_func=lambda r: "选择下级地区…" if r is None else tree.name(r),
        key=box_key,
        on_change=_drill_box_changed,
        args=(box_key,),
    )
st.dataframe(_table(frame).to_pandas(), hide_index=True, width="stretch")
