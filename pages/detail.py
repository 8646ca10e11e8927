"""指标详情: one indicator, one region, one period, the page a 特别呈报 push links to.

``/detail?indicator=online_rate&region=130302&period=2026-10`` opens exactly that view;
the pickers write back to the URL. The frames come from :mod:`metrics.detail`; this
script only draws them, single-column friendly (a leader often reads it on a phone).
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl
import streamlit as st

from cockpit.ui import (
    audit_action,
    catalogue,
    data,
    findings,
    open_pending,
    page_start,
    pick_indicator,
    pick_period,
    pick_region,
    view,
)
from metrics import detail as D
from metrics import masking, periods, records
from metrics.access import Scope
from metrics.catalogue import spec
from metrics.catalogue.load import Catalogue
from metrics.format import fmt_value

FONT = "Noto Sans CJK SC"
LINE, BAND, TARGET, ANOMALY = "#1f5fbf", "#1f5fbf", "#86909c", "#d4380d"
GOOD, BAD = "#2e7d32", "#c62828"
GOTO = "_detail_goto"  # a region to open on the next run (drill-down, 返回上级)
# st.metric values take Markdown colours (red, orange, yellow, blue, green, violet, gray)
DOT = {"red": "red", "yellow": "orange", "green": "green", "lightblue": "blue", "blue": "blue"}
AXIS_FORMAT = {
    "day": "%-m月%-d日",
    "week": "%-m月%-d日",
    "month": "%Y年%-m月",
    "quarter": "%Y年Q%q",
    "year": "%Y年",
}


# ----------------------------------------------------------------- cached frames


def _scope_key(scope: Scope) -> str:
    return scope.user.id if scope.user is not None else ""


@st.cache_data(ttl=600, show_spinner="正在预测年底走势…")
def _outlook(ind_id: str, region: str | None, period: str, scope_key: str, _scope: Scope) -> Any:
    return D.outlook(catalogue(), data().rows, _scope, ind_id, region, period)


@st.cache_data(ttl=600, show_spinner="正在分析变化来源…")
def _changes(
    ind_id: str, region: str | None, period: str, by: str, scope_key: str, _scope: Scope
) -> list[D.Change]:
    return D.changes(catalogue(), data().rows, _scope, ind_id, region, period, by)  # type: ignore[arg-type]


# ----------------------------------------------------------------- drawing helpers


def _request(region: str) -> None:
    """A button's callback: open ``region`` on this run (callbacks run before the script)."""
    st.session_state[GOTO] = region


def _goto(region: str, forget: str | None = None) -> None:
    """Open another region of the same indicator and period on a rerun.

    ``forget`` is the key of the table whose selection asked for it: a selection
    left in the session would fire again when the user comes back up.
    """
    if forget is not None and forget in st.session_state:
        del st.session_state[forget]
    st.session_state[GOTO] = region
    st.rerun()


def _configure(chart: Any) -> Any:
    return (
        chart.configure(font=FONT)
        .configure_axis(labelFont=FONT, titleFont=FONT, labelColor="#4e5969", titleColor="#4e5969")
        .configure_legend(labelFont=FONT, titleFont=FONT, orient="top")
        .configure_title(font=FONT, anchor="start")
        .configure_view(stroke=None)
    )


def _delta(change: float | None, text: str, direction: str) -> dict[str, Any]:
    """st.metric's delta arguments: the arrow follows the sign, the colour the direction."""
    if change is None:
        return {}
    return {
        "delta": text,
        "delta_arrow": "off" if round(change, 2) == 0 else "auto",
        "delta_color": "inverse" if direction == "lower_better" else "normal",
    }


def _trend_chart(tr: pl.DataFrame, marks: pl.DataFrame, band: pl.DataFrame, unit: str, grain: str) -> Any:
    fmt = AXIS_FORMAT.get(grain, "%Y-%m")
    x = alt.X(
        "date:T",
        title=None,
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(format=fmt, labelAngle=0, labelOverlap=True, tickCount=6),  # a utc scale: utc labels
    )
    y_title = f"单位：{unit}" if unit else None
    tips = [
        alt.Tooltip("label:N", title="期间"),
        alt.Tooltip("value_text:N", title="数值"),
        alt.Tooltip("status_text:N", title="状态"),
    ]
    base = alt.Chart(tr.to_pandas()).encode(
        x=x, y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False, nice=True))
    )
    layers: list[Any] = []
    if band.height:
        fb = alt.Chart(band.to_pandas()).encode(x=x)
        band_tips = [
            alt.Tooltip("label:N", title="期间"),
            alt.Tooltip("mean:Q", title="预测", format=",.2f"),
            alt.Tooltip("lower:Q", title="90% 区间下限", format=",.2f"),
            alt.Tooltip("upper:Q", title="90% 区间上限", format=",.2f"),
        ]
        layers.append(
            fb.mark_area(color=BAND, opacity=0.18).encode(y="lower:Q", y2="upper:Q", tooltip=band_tips)
        )
        layers.append(fb.mark_line(color=BAND, strokeDash=[2, 3], strokeWidth=1.5).encode(y="mean:Q"))
    layers.append(base.mark_line(color=LINE, strokeWidth=2, invalid="break-paths-filter-domains"))
    layers.append(
        base.mark_point(color=LINE, filled=True, size=18)
        .encode(tooltip=tips)
        .transform_filter("isValid(datum.value)")
    )
    targets = tr["target"].drop_nulls().unique()
    if targets.len() == 1:
        rule = pl.DataFrame({"target": [targets[0]], "label": [f"目标 {fmt_value(targets[0], unit)}"]})
        layers.append(
            alt.Chart(rule.to_pandas())
            .mark_rule(color=TARGET, strokeDash=[6, 4], strokeWidth=1.5)
            .encode(y="target:Q", tooltip=alt.Tooltip("label:N", title="目标"))
        )
    elif targets.len() > 1:
        layers.append(
            base.mark_line(color=TARGET, strokeDash=[6, 4], strokeWidth=1.5, interpolate="step-after").encode(
                y="target:Q"
            )
        )
    sel = tr.filter(pl.col("selected") & pl.col("value").is_not_null())
    if sel.height:
        layers.append(
            alt.Chart(sel.to_pandas())
            .mark_point(filled=True, size=170, opacity=1, stroke="#ffffff", strokeWidth=1.5)
            .encode(x=x, y="value:Q", color=alt.Color("color:N", scale=None), tooltip=tips)
        )
    if marks.height:
        layers.append(
            alt.Chart(marks.to_pandas())
            .mark_point(shape="triangle-up", filled=True, size=120, color=ANOMALY, opacity=0.9)
            .encode(
                x=x,
                y="observed:Q",
                tooltip=[
                    alt.Tooltip("label:N", title="期间"),
                    alt.Tooltip("kind_label:N", title="异常"),
                    alt.Tooltip("explanation:N", title="说明"),
                ],
            )
        )
    return _configure(alt.layer(*layers).properties(height=320))


def _rows_height(n: int) -> int:
    """Vega's "fit" autosize counts the axes in the height: 26 px a row plus room for them."""
    return 70 + 26 * n


def _bar_chart(frame: pl.DataFrame, unit: str, additive: bool) -> Any:
    """One value per row, best first, coloured by status.

    Counts and sums are bars from zero; rates, means and published figures are dots on an axis
    that need not start at zero (a bar from 0 makes 79% and 90% look alike), with the target
    as a dashed rule where it is the same for every row.
    """
    shown = frame.filter(pl.col("value").is_not_null())
    order = shown["name"].to_list()
    base = alt.Chart(shown.to_pandas()).encode(
        x=alt.X(
            "value:Q", title=f"单位：{unit}" if unit else None, scale=alt.Scale(zero=additive, nice=True)
        ),
        y=alt.Y("name:N", sort=order, title=None, axis=alt.Axis(labelLimit=180)),
        color=alt.Color("color:N", scale=None),
        tooltip=[
            alt.Tooltip("name:N", title="名称"),
            alt.Tooltip("value_text:N", title="数值"),
            alt.Tooltip("status_text:N", title="状态"),
            alt.Tooltip("yoy_text:N", title="同比"),
            alt.Tooltip("rank_text:N", title="排名"),
        ],
    )
    if additive:
        layers = [base.mark_bar()]
    else:
        layers = [base.mark_circle(size=140, opacity=1)]
        targets = shown["target"].drop_nulls().unique()
        if targets.len() == 1 and shown["target"].null_count() == 0:
            rule = pl.DataFrame({"target": [targets[0]]}).to_pandas()
            layers.append(alt.Chart(rule).mark_rule(color=TARGET, strokeDash=[6, 4]).encode(x="target:Q"))
    return _configure(alt.layer(*layers).properties(height=_rows_height(len(order))))


def _contribution_chart(change: D.Change, items: pl.DataFrame, direction: str, unit: str) -> Any:
    order = items["name"].to_list()
    title = "贡献（个百分点）" if unit == "%" else (f"贡献（{unit}）" if unit else "贡献")
    y = alt.Y("name:N", sort=order, title=None)
    if change.kind == "ratio":
        long = items.select("name", "rate_effect", "mix_effect").unpivot(
            index="name", variable_name="effect", value_name="amount"
        )
        long = long.with_columns(
            pl.col("effect").replace_strict({"rate_effect": "率效应", "mix_effect": "结构效应"}),
            pl.col("amount").round(3),
        )
        chart = (
            alt.Chart(long.to_pandas())
            .mark_bar()
            .encode(
                x=alt.X("sum(amount):Q", title=title),
                y=y,
                color=alt.Color(
                    "effect:N",
                    legend=None,  # said in the caption above the table: a legend squeezes the bars
                    scale=alt.Scale(domain=["率效应", "结构效应"], range=["#1f5fbf", "#8fb3e8"]),
                ),
                tooltip=[
                    alt.Tooltip("name:N", title="名称"),
                    alt.Tooltip("effect:N", title="效应"),
                    alt.Tooltip("amount:Q", title="贡献", format=",.2f"),
                ],
            )
        )
    else:
        good = 1 if direction == "higher_better" else -1
        frame = items.with_columns(
            pl.when(pl.col("contribution") * good >= 0).then(pl.lit(GOOD)).otherwise(pl.lit(BAD)).alias("c")
        )
        chart = (
            alt.Chart(frame.to_pandas())
            .mark_bar()
            .encode(
                x=alt.X("contribution:Q", title=title),
                y=y,
                color=alt.Color("c:N", scale=None),
                tooltip=[
                    alt.Tooltip("name:N", title="名称"),
                    alt.Tooltip("contribution_text:N", title="贡献"),
                    alt.Tooltip("change_text:N", title="自身变化"),
                ],
            )
        )
    return _configure(chart.properties(height=_rows_height(len(order))))


def _breakdown_table(frame: pl.DataFrame, who: str, cumulative: bool) -> pl.DataFrame:
    cols = [
        pl.when(pl.col("drill")).then(pl.col("name") + " ▸").otherwise(pl.col("name")).alias(who),
        pl.col("value_text").alias("数值"),
        pl.col("status_text").alias("状态"),
        pl.col("yoy_text").alias("同比"),
    ]
    if not cumulative:
        cols.append(pl.col("mom_text").alias("环比"))
    cols.append(pl.col("rank_text").alias("排名"))
    return frame.select(cols)


def _contribution_table(change: D.Change) -> pl.DataFrame:
    items = D.top_contributors(change.items)
    cols = [
        pl.col("name").alias("名称"),
        pl.col("now_text").alias("本期"),
        pl.col("base_text").alias(change.compare + "基期"),
        pl.col("change_text").alias("自身变化"),
    ]
    if change.decomposable:
        cols.append(pl.col("contribution_text").alias("贡献"))
        if change.kind == "ratio":
            cols += [pl.col("rate_text").alias("率效应"), pl.col("mix_text").alias("结构效应")]
        cols.append(pl.col("share_text").alias("占变化"))
    return items.select(cols)


def _records_view(
    cat: Catalogue, scope: Scope, ind_id: str, region: str | None, period: str, full: bool
) -> records.RecordsView:
    """The 明细 of this view, kept in the session while the view stays the same.

    A rerun (a click elsewhere on the page) shows the same records without asking the source
    again, and an unmasked view is audited once per time it is switched on, not once per rerun.
    Only the latest view is kept: personal data does not pile up in the session.
    """
    kept = st.session_state.setdefault("_records_view", {})
    k = (ind_id, region, period, full, _scope_key(scope))
    if k not in kept:
        kept.clear()
        kept[k] = records.records(cat, ind_id, region, period, scope, unmask=full)
    return kept[k]


def _audit_export(cat: Catalogue, scope: Scope, view: records.RecordsView) -> None:
    audit_action(cat, scope, "export", **records.export_details(view))


def _records_section(
    cat: Catalogue, scope: Scope, ind: spec.Indicator, region: str | None, period: str
) -> None:
    """明细: the latest records of the view, personal data masked; the grant holder may show them in full."""
    if ind.source is None or ind.time is None or ind.source not in cat.config.sources:
        return
    st.subheader("明细")
    personal = masking.has_personal_data(cat, ind.source)
    full = False
    if personal and masking.has_grant(scope, "unmask"):
        full = st.toggle(
            "显示完整信息",
            key=f"unmask_{ind.id}_{region}_{period}",
            help="显示未脱敏的姓名、电话、证件号等；每次打开都记入审计日志",
        )
    view = _records_view(cat, scope, ind.id, region, period, full)
    if view.note:
        st.info(view.note, icon=":material/lock:")
    if view.rows == 0:
        if not view.note:
            st.caption("该期间没有明细记录。")
        return
    said = f"{D.region_name(cat, region)}{D.period_label(ind, period)}最新 {view.rows} 条记录"
    if view.maybe_more:
        said += f"（最多显示 {view.limit} 条）"
    if view.unmasked:
        said += "；正在显示完整信息，本次查看已记入审计日志"
    elif view.masked:
        said += "；个人信息已脱敏"
    st.caption(said + "。")
    st.dataframe(records.table(cat, view).to_pandas(), hide_index=True, width="stretch", key="records_table")
    st.download_button(
        "导出明细 CSV（已脱敏）" if view.masks else "导出明细 CSV",
        records.to_csv_bytes(cat, view),
        file_name=f"明细_{ind.id}_{region or 'all'}_{period}.csv",
        mime="text/csv",
        icon="📄",
        key="records_export",
        on_click=_audit_export,
        args=(cat, scope, view),
    )


def _hides_change_sources(shown: pl.DataFrame, cat: Catalogue, region: str | None, period: str) -> bool:
    """Whether 变化来源 would show a suppressed group: a child or department small now or in a base period."""
    if "suppressed" not in shown.columns or not shown["suppressed"].any():
        return False
    bases = [p for p in (period, periods.previous(period), periods.year_ago(period)) if p]
    kids = list(cat.tree.children(region)) if cat.tree is not None and region in cat.tree else []
    near = shown.filter(
        pl.col("period").is_in(bases)
        & (pl.col("region").is_in(kids) | (pl.col("department").is_not_null() & (pl.col("region") == region)))
    )
    return bool(near["suppressed"].any())


# ----------------------------------------------------------------- the page

cat, scope, d = page_start()
rows = d.rows

open_pending(GOTO, "region", "pick_region")

v = view(cat, scope, rows)
head = st.container()
c1, c2, c3 = st.columns(3)
ind_id = pick_indicator(cat, scope, v.indicator, where=c1)
if ind_id is None:
    head.title("指标详情")
    st.info("当前范围内没有可查看的指标。")
    st.stop()
ind = cat.indicators[ind_id]
unit = D.unit_of(ind)
cumulative = D.cumulative(ind)
additive = D.additive(ind)
region = pick_region(cat, scope, v.region, where=c2)
options = D.region_periods(rows, scope, ind_id, region)
# a link's period that this region lacks is said; a month left in the URL by switching to a
# quarterly indicator is not (the picker has run before in this session)
first_view = "pick_period" not in st.session_state
if (
    v.period
    and options
    and v.period not in options
    and (first_view or periods.grain_of(v.period) == periods.grain_of(options[0]))
):
    st.warning(
        f"{D.region_name(cat, region)}没有{D.period_label(ind, v.period)}的数据，已显示最新一期。",
        icon=":material/link:",
    )
period = pick_period(options, v.period, where=c3, cumulative=cumulative)

name = D.region_name(cat, region)
head.title(f"{ind.name} · {name}")
crumbs = " › ".join(n for _, n in D.breadcrumb(cat, scope, region))
bits = [crumbs or name, D.period_label(ind, period) if period else "暂无数据", ind.domain or "其他"]
head.caption(" · ".join(bits))
if ind_id in d.stale_indicators(cat):
    head.caption(
        ":orange[:material/warning:] 本指标的数据源滞后或读取失败，数值可能不是最新（见页首提示与下方“数据状态”）。"
    )
parent = D.parent_in_scope(cat, scope, region)
if parent is not None:
    # a callback, not `if st.button(...)`: it runs before the script, so the click survives any rerun
    head.button(
        f"返回上级：{D.region_name(cat, parent)}",
        icon=":material/arrow_upward:",
        key="detail_up",
        on_click=_request,
        args=(parent,),
    )

# groups too small to show (敏感 sources, fewer than access.min_group_size records) read "<5"
shown = masking.suppress_small(rows.filter(pl.col("indicator") == ind_id), cat, scope)
h = D.headline(cat, shown, scope, ind_id, region, period) if period else None
if h is None:
    st.info(f"{name}暂无「{ind.name}」的数据。")
else:
    # ------------------------------------------------------------- headline metrics
    # a wrapping row: six across a big screen, two or three a line on a phone (columns would stack)
    row = st.container(horizontal=True)
    row.metric(
        f"{ind.name}（{h.period_label}）",
        h.value_text,
        delta_description="同比",
        help=f"{name}{h.period_label}的{ind.name}",
        border=True,
        **_delta(h.yoy, h.yoy_text, h.direction),
    )
    row.metric(
        "目标",
        h.target_text,
        delta_description="距目标",
        help="本地区本年度的目标值；下方为当前值与目标之差",
        border=True,
        **_delta(h.gap, h.gap_text or "", h.direction),
    )
    dot = f":{DOT[h.status]}[●] " if h.status in DOT else ""
    row.metric("状态", dot + h.status_word, help=D.thresholds_text(ind), border=True)
    yb = (
        f"上年同期（{D.period_label(ind, h.yoy_base)}）：{fmt_value(h.yoy_base_value, unit)}"
        if h.yoy_base
        else None
    )
    row.metric("同比", h.yoy_text, help=yb, border=True)
    if cumulative:
        row.metric("环比", "不适用", help="累计值只比同比，不比环比", border=True)
    else:
        mb = (
            f"上期（{D.period_label(ind, h.mom_base)}）：{fmt_value(h.mom_base_value, unit)}"
            if h.mom_base
            else None
        )
        row.metric("环比", h.mom_text, help=mb, border=True)
    row.metric(
        "排名",
        h.rank_text,
        help=f"在同级 {h.peers} 个有数据的地区中" if h.rank is not None else "最上级地区不参与排名",
        border=True,
    )

    # ------------------------------------------------------------- the trend
    st.subheader("走势")
    tr = D.trend(cat, shown, scope, ind_id, region, period)
    marks = D.anomaly_markers(cat, findings(ind_id), ind_id, region, tr["period"].to_list())
    outlook = _outlook(ind_id, region, period, _scope_key(scope), scope)
    band = D.outlook_band(outlook, tr)
    st.altair_chart(_trend_chart(tr, marks, band, unit, D.grain(cat, ind_id)), width="stretch")
    legend = "实线为实际值" + ("，虚线为目标" if tr["target"].drop_nulls().len() else "")
    legend += "，大圆点为所选期间（按状态着色）"
    if marks.height:
        legend += "，三角为识别出的异常"
    if band.height:
        legend += "，浅色区域为年底预测的 90% 区间"
    st.caption(legend + "。")
    if outlook is not None and outlook.explanation:
        st.info(outlook.explanation, icon=":material/trending_up:")
    for m in marks.head(3).iter_rows(named=True):
        st.markdown(f":orange[:material/warning:] **{m['kind_label']}**：{m['explanation']}")

    # ------------------------------------------------------------- breakdowns
    kids = D.child_breakdown(cat, shown, scope, ind_id, region, period)
    if kids.height:
        st.subheader("下级地区")
        drill_key = f"drill_{region}"
        event = st.dataframe(
            _breakdown_table(kids, "地区", cumulative).to_pandas(),
            key=drill_key,
            on_select="rerun",
            selection_mode="single-row",
            hide_index=True,
            width="stretch",
        )
        st.caption("点选一行查看该地区；带 ▸ 的地区可继续下钻。")
        chosen = event.selection.rows if event is not None else []
        if chosen:
            _goto(kids["id"][chosen[0]], forget=drill_key)
        st.altair_chart(_bar_chart(kids, unit, additive), width="stretch")

    depts = D.department_breakdown(cat, shown, scope, ind_id, region, period)
    if depts.height:
        st.subheader("部门")
        st.dataframe(
            _breakdown_table(depts, "部门", cumulative).to_pandas(), hide_index=True, width="stretch"
        )
        st.altair_chart(_bar_chart(depts, unit, additive), width="stretch")

    # ------------------------------------------------------------- who drove the change
    small = _hides_change_sources(shown, cat, region, period)
    found = {
        by: [] if small else _changes(ind_id, region, period, by, _scope_key(scope), scope)
        for by in ("regions", "departments")
    }
    compares = list(dict.fromkeys(c.compare for cs in found.values() for c in cs))
    if compares:
        st.subheader("变化来源")
        tabs = st.tabs(compares)
        for tab, compare in zip(tabs, compares, strict=True):
            with tab:
                for by, label in (("regions", "按下级地区"), ("departments", "按部门")):
                    for ch in (c for c in found[by] if c.compare == compare):
                        st.markdown(f"**{label}**（较{ch.base_label}）")
                        st.info(ch.sentence, icon=":material/search:")
                        if ch.reason:
                            st.caption(ch.reason)
                        if ch.rate_effect_text is not None:
                            st.caption(
                                f"率效应合计 {ch.rate_effect_text}（各单位自身水平变化，图中深蓝），"
                                f"结构效应合计 {ch.mix_effect_text}（业务量占比变化，图中浅蓝）。"
                            )
                        st.dataframe(_contribution_table(ch).to_pandas(), hide_index=True, width="stretch")
                        if ch.decomposable:
                            items = D.top_contributors(ch.items)
                            st.altair_chart(
                                _contribution_chart(ch, items, ind.direction, unit), width="stretch"
                            )
    elif small:
        st.caption(f"部分下级地区或部门的记录少于 {masking.min_group_size(cat)} 条，不分解变化来源。")
    elif region is not None:
        st.caption("本地区没有下级地区或部门数据，无法分解变化来源。")

if period:
    _records_section(cat, scope, ind, region, period)

# ----------------------------------------------------------------- the definition
st.subheader("指标口径")
fresh = D.freshness(cat, ind, rows, d.stale, d.errors)[0]
mark = {"数据状态": ":green[:material/check_circle:] " if fresh else ":orange[:material/warning:] "}
st.markdown(
    "\n".join(
        f"- **{k}**：{mark.get(k, '')}{text}"
        for k, text in D.definition(cat, ind_id, rows, d.stale, d.errors)
    )
)
