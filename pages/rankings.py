"""排名: the children of a region, or the departments, ranked on one indicator and period.

The view lives in the URL: ``?indicator=…&period=…&region=…`` (the parent whose
children are ranked) and ``&by=department`` for departments. Frames come from
:mod:`metrics.rankings`; the exports hold exactly the rows on screen.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import polars as pl
import streamlit as st

from cockpit.ui import (
    audit_action,
    link,
    page_start,
    pick_indicator,
    pick_period,
    pick_region,
    set_query,
    view,
)
from metrics import periods, rankings
from metrics.access import Scope
from metrics.catalogue.load import Catalogue
from metrics.format import fmt_value
from metrics.masking import min_group_size
from metrics.views import STATUS_COLOR

FONT = "Noto Sans CJK SC"
NO_STATUS = "#90a4ae"
BY_LABEL = {"region": "区县", "department": "部门"}


@st.cache_data(ttl=600, show_spinner=False)
def _ranking(
    _cat: Catalogue,
    _scope: Scope,
    _rows: pl.DataFrame,
    config: str,
    user: str | None,
    indicator: str,
    period: str,
    parent: str | None,
    by: str,
) -> pl.DataFrame:
    return rankings.ranking(_cat, _rows, _scope, indicator, period, parent, by)


@st.cache_data(ttl=600, show_spinner=False)
def _choices(
    _cat: Catalogue,
    _scope: Scope,
    _rows: pl.DataFrame,
    config: str,
    user: str | None,
    indicator: str,
    parent: str | None,
    by: str,
) -> tuple[bool, list[str]]:
    """Whether departments can be ranked, and the periods of this ranking (newest first)."""
    return (
        rankings.can_rank_departments(_cat, _rows, _scope, indicator),
        rankings.ranking_periods(_cat, _rows, _scope, indicator, parent, by),
    )


def _styled(table: pl.DataFrame, statuses: list[str | None]) -> object:
    """The screen table with its status cells in their colour and rank moves in green (up) or red (down)."""
    frame = table.to_pandas()

    def paint(col: pd.Series) -> list[str]:
        if col.name == "状态":
            return [
                f"background-color: {STATUS_COLOR[s]}; color: white; font-weight: 600" if s else ""
                for s in statuses
            ]
        if col.name == "值":
            return [f"color: {STATUS_COLOR[s]}; font-weight: 600" if s else "" for s in statuses]
        if col.name == "排名变化":
            return [
                "color: #2e7d32"
                if str(v).startswith("↑")
                else "color: #c62828"
                if str(v).startswith("↓")
                else ""
                for v in col
            ]
        return [""] * len(col)

    return frame.style.apply(paint, axis=0)


def _chart(frame: pl.DataFrame, unit: str) -> alt.Chart | None:
    shown = frame.filter(pl.col("value").is_not_null())
    if shown.height == 0:
        return None
    df = shown.select(
        "rank",
        "name",
        "value",
        "target",
        pl.col("status").fill_null("none"),
        pl.col("value").map_elements(lambda v: fmt_value(v, unit), return_dtype=pl.String).alias("label"),
        # the value's label right of the bar, its target mark and the zero line
        pl.max_horizontal("value", pl.col("target").fill_null(pl.col("value")), pl.lit(0.0)).alias("label_x"),
    ).to_pandas()
    order = df["name"].tolist()
    colours = {**STATUS_COLOR, "none": NO_STATUS}
    targets = set(shown["target"].drop_nulls().to_list())
    one_target = len(targets) == 1 and shown["target"].null_count() == 0
    x_title = [f"单位：{unit}" if unit else "数值"]
    if one_target:
        x_title.append(f"虚线：目标 {fmt_value(next(iter(targets)), unit)}")
    elif targets:
        x_title.append("竖线：各自目标")
    y = alt.Y("name:N", sort=order, title=None, axis=alt.Axis(labelLimit=160))
    base = alt.Chart(df).encode(y=y)
    bars = base.mark_bar(cornerRadiusEnd=3).encode(
        x=alt.X("value:Q", title="；".join(x_title)),
        color=alt.Color(
            "status:N", scale=alt.Scale(domain=list(colours), range=list(colours.values())), legend=None
        ),
        tooltip=[
            alt.Tooltip("rank:Q", title="排名"),
            alt.Tooltip("name:N", title="名称"),
            alt.Tooltip("label:N", title="值"),
        ],
    )
    text = base.mark_text(align="left", dx=4, fontSize=11, color="#4e5969").encode(
        x="label_x:Q", text="label:N"
    )
    layers: list[alt.Chart] = [bars, text]
    if one_target:
        rule = alt.Chart(pd.DataFrame({"target": [next(iter(targets))]})).encode(x="target:Q")
        layers.append(rule.mark_rule(color="#1f2329", strokeDash=[6, 4], strokeWidth=1.5))
    elif targets:
        # each region its own target: a tick on its bar
        layers.append(
            base.mark_tick(color="#1f2329", thickness=2, size=20).encode(
                x="target:Q", tooltip=[alt.Tooltip("target:Q", title="目标")]
            )
        )
    return (
        alt.layer(*layers)
        .properties(height=max(160, 30 * len(df) + 30))
        .configure(font=FONT)
        .configure_axis(labelFont=FONT, titleFont=FONT, labelFontSize=12)
        .configure_view(stroke=None)
    )


cat, scope, data = page_start("排名")
v = view(cat, scope, data.rows)
key = (str(cat.path), scope.user.id if scope.user else None)

top = st.columns([3, 2, 3, 2])
ind_id = pick_indicator(cat, scope, v.indicator, where=top[0])
if ind_id is None:
    st.info("您的权限范围内没有可排名的指标。")
    st.stop()
ind = cat.indicators[ind_id]

asked = st.query_params.get("by")
dept_ok, _ = _choices(cat, scope, data.rows, *key, ind_id, None, "department")
options = ["region", "department"] if dept_ok else ["region"]
want = "department" if asked == "department" and dept_ok else "region"
if asked == "department" and not dept_ok:
    st.info(f"「{ind.name}」没有部门数据，或您的权限范围不含部门排名，已按区县排名。", icon="ℹ️")
by = top[1].radio(
    "排名对象",
    options,
    index=options.index(want),
    format_func=lambda b: BY_LABEL[b],
    horizontal=True,
    key=f"pick_by_{len(options)}",
)
set_query(by="department" if by == "department" else None)

parent: str | None = None
if by == "region":
    parent = pick_region(cat, scope, v.region, where=top[2], label="上级地区（排名其下级）")
    if parent is not None and cat.tree is not None and not cat.tree.children(parent):
        st.info(f"{cat.tree.name(parent)} 没有下级地区。请选择上级地区以排名其下辖区县、乡镇（街道）。")
        st.stop()
    if parent is None:
        st.info("没有可排名的地区。")
        st.stop()
else:
    top[2].markdown(f"**范围**  \n{cat.tree.name(cat.root) if cat.tree else ''}各部门")

_, options_p = _choices(cat, scope, data.rows, *key, ind_id, parent, by)
cumulative = ind.accumulate != "none"
period = pick_period(options_p, v.period, where=top[3], cumulative=cumulative)
if period is None:
    where = f"{cat.tree.name(parent)}的下级地区" if by == "region" and cat.tree is not None else "各部门"
    hint = "可切换为按部门排名。" if by == "region" and dept_ok else ""
    st.info(f"「{ind.name}」在{where}还没有可排名的数据。{hint}")
    st.stop()

frame = _ranking(cat, scope, data.rows, *key, ind_id, period, parent, by)
title = rankings.export_title(cat, ind_id, period, parent, by)
st.subheader(title)
if ind_id in data.stale_indicators(cat):
    st.warning("该指标的数据源异常或数据滞后，排名可能不是最新。", icon="⚠️")
if frame.height == 0:
    st.info("该期间没有可排名的数据。")
    st.stop()

prev = frame["prev_period"][0]
direction = "越高越好" if ind.direction == "higher_better" else "越低越好"
note = f"第 1 名最好（{direction}），并列取小名次。"
note += (
    f"排名变化与 {periods.label(prev, cumulative=cumulative)} 比较。" if prev else "没有上一期数据可比较。"
)
st.caption(note)

table = rankings.screen_table(frame, ind)
links = [
    link("detail", indicator=ind_id, region=r["region"], period=period)
    for r in frame.select("region").iter_rows(named=True)
]
shown = table.with_columns(pl.Series("详情", links))
st.dataframe(
    _styled(shown, frame["status"].to_list()),
    hide_index=True,
    width="stretch",
    column_config={"详情": st.column_config.LinkColumn("详情", display_text="查看")},
)

chart = _chart(frame, ind.unit or "")
if chart is not None:
    st.altair_chart(chart, width="stretch")

export = rankings.export_table(frame, ind)
notes = [note]
if frame["suppressed"].any():
    k = min_group_size(cat)
    notes.append(f"“<{k}”：记录少于 {k} 条的组不予显示（保护个人信息）。")
    st.caption(notes[-1])
stem = f"排名_{ind_id}_{period}_{parent or 'departments'}"
exported = {
    "what": "ranking",
    "indicator": ind_id,
    "period": period,
    "region": parent,
    "by": by,
    "rows": export.height,
}
c1, c2 = st.columns(2)
c1.download_button(
    "导出 CSV",
    rankings.to_csv_bytes(export, title, notes),
    file_name=f"{stem}.csv",
    mime="text/csv",
    icon="📄",
    width="stretch",
    key="export_csv",
    on_click=lambda: audit_action(cat, scope, "export", **exported, format="csv"),
)
c2.download_button(
    "导出 Excel",
    rankings.to_excel_bytes(export, title, notes),
    file_name=f"{stem}.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    icon="📊",
    width="stretch",
    key="export_xlsx",
    on_click=lambda: audit_action(cat, scope, "export", **exported, format="xlsx"),
)
