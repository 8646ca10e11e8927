"""指标考核: an assessment's scoreboard for a period, each subject's items, lost points and catch-up.

The view lives in the URL: ``?assessment=…&period=…`` and ``&subject=…`` (the subject whose items
are shown). Scores come from :mod:`metrics.assess` (contract section 11), ranked over all subjects
and then limited to the user's scope: a county leader sees the county's own row and rank, never the
others'. The exports hold exactly the rows on screen.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import polars as pl
import streamlit as st

from cockpit.ui import open_pending, page_start, pick_period, select_bound, view
from metrics import assess, periods, rankings
from metrics.access import Scope
from metrics.catalogue import spec
from metrics.catalogue.load import Catalogue

FONT = "Noto Sans CJK SC"
GOTO = "_assess_goto"  # a subject chosen in the scoreboard, opened on the next run
GOT, LOST = "#1f5fbf", "#e0e0e0"


@st.cache_data(ttl=600, show_spinner="正在计算考核得分…")
def _scores(
    _cat: Catalogue, _scope: Scope, _rows: pl.DataFrame, config: str, user: str | None, assessment: str
) -> list[assess.SubjectScore]:
    """Every period's scores of one assessment within the scope (ranks among all subjects)."""
    return assess.score(_cat, _rows, assessment, scope=_scope)


def _visible(cat: Catalogue, scope: Scope) -> list[spec.Assessment]:
    """Assessments the user may see: every item's indicator in their domains, and any subject."""
    return [
        a
        for a in cat.config.assessments
        if assess.visible_to(cat, a, scope) and (a.subjects != "departments" or scope.departments)
    ]


def _styled(board: pd.DataFrame) -> Any:
    """Rank moves in green (up) or red (down), as on the 排名 page."""

    def paint(col: pd.Series) -> list[str]:
        if col.name != "较上期":
            return [""] * len(col)
        return [
            "color: #2e7d32" if str(v).startswith("↑") else "color: #c62828" if str(v).startswith("↓") else ""
            for v in col
        ]

    return board.style.apply(paint, axis=0)


def _items_chart(items: pl.DataFrame) -> alt.Chart:
    """Per item, the points got and lost, as one bar the length of its weight."""
    df = pl.concat(
        [
            items.select(
                "考核项", pl.col("得分").alias("分"), pl.lit("得分").alias("类别"), pl.lit(0).alias("k")
            ),
            items.select(
                "考核项", pl.col("失分").alias("分"), pl.lit("失分").alias("类别"), pl.lit(1).alias("k")
            ),
        ]
    ).to_pandas()
    order = items["考核项"].to_list()
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            y=alt.Y("考核项:N", sort=order, title=None, axis=alt.Axis(labelLimit=180)),
            x=alt.X("sum(分):Q", title="分", stack="zero"),
            color=alt.Color(
                "类别:N",
                scale=alt.Scale(domain=["得分", "失分"], range=[GOT, LOST]),
                legend=alt.Legend(title=None, orient="top"),
            ),
            order=alt.Order("k:Q", sort="ascending"),  # points from zero, then the loss
            tooltip=[
                alt.Tooltip("考核项:N"),
                alt.Tooltip("类别:N"),
                alt.Tooltip("分:Q", format=".1f"),
            ],
        )
        .properties(height=max(200, 44 * items.height + 100))  # the size includes legend and axis
        .configure(font=FONT)
        .configure_axis(labelFont=FONT, titleFont=FONT, labelFontSize=12)
        .configure_legend(labelFont=FONT, titleFont=FONT)
        .configure_view(stroke=None)
    )


# ----------------------------------------------------------------- the page

cat, scope, data = page_start("指标考核")
rows = data.rows
v = view(cat, scope, rows)

open_pending(GOTO, "subject", "pick_subject")

shown = _visible(cat, scope)
if not shown:
    st.info("没有可查看的考核方案（未配置 assessments，或其考核项不在您的权限范围内）。")
    st.stop()
by_id = {a.id: a for a in shown}
asked = st.query_params.get("assessment")
if asked is not None and asked not in by_id:
    st.warning(f"考核方案 {asked} 不存在或不在您的权限范围内，已显示默认方案。", icon="🔗")

c1, c2, c3 = st.columns([3, 2, 3], vertical_alignment="bottom")
aid = select_bound(
    "考核方案",
    list(by_id),
    asked if asked in by_id else shown[0].id,
    "assessment",
    lambda i: by_id[i].name,
    c1,
    "assessment",
)
a = by_id[aid]
switched = (
    st.session_state.get("_assess_aid", aid) != aid
)  # a subject left from another one is dropped quietly
st.session_state["_assess_aid"] = aid
key = (str(cat.path), scope.user.id if scope.user else None)
scores = _scores(cat, scope, rows, *key, aid)
options = assess.scored_periods(scores)
period = pick_period(options, v.period or assess.default_period(scores), where=c2)
if period is None:
    st.info(f"「{a.name}」还没有可计分的数据。")
    st.stop()
full = sum(float(i.weight) for i in a.items)
who = "部门" if a.subjects == "departments" else "地区"
c3.caption(
    f"考核对象：{'各部门' if a.subjects == 'departments' else '各区县'}　考核项：{len(a.items)} 项　满分：{full:g} 分"
)

board = assess.scoreboard(cat, a, scores, period)
st.subheader(assess.export_title(cat, a, period))
missing = assess.missing_items(scores, period)
if missing:
    names = "、".join(cat.indicators[i].name if i in cat.indicators else i for i in missing)
    st.warning(f"本期以下考核项尚无数据，计 0 分：{names}。可选择更早的期间。", icon="⚠️")
if board.height == 0:
    st.info("您的权限范围内没有本方案的考核对象。")
    st.stop()
if scope.regions is not None:
    st.caption("名次按全部考核对象计算，仅显示您权限范围内的对象。")

# ---------------------------------------------------------------- the scoreboard
heads = [c for c in board.columns if c not in ("名次", "代码", who, "得分", "上期名次", "较上期", "追赶")]
screen = board.select("名次", who, "得分", *heads, "较上期").to_pandas()
event = st.dataframe(
    _styled(screen),
    key=f"board_{aid}_{period}",
    on_select="rerun",
    selection_mode="single-row",
    hide_index=True,
    width="stretch",
    column_config={
        "名次": st.column_config.NumberColumn("名次", format="%d", width="small"),
        "得分": st.column_config.ProgressColumn("得分", min_value=0.0, max_value=full, format="%.2f"),
        **{h: st.column_config.NumberColumn(h, format="%.1f") for h in heads},
        "较上期": st.column_config.TextColumn(
            "较上期", help="与上一期名次比较：↑ 上升，↓ 下降，— 持平，新 上期未排名"
        ),
    },
)
st.caption(
    f"每项得分 = 权重 × (值 − 底线) / (目标 − 底线)，在 0 与权重之间；名次相同者并列。"
    f"较上期与 {periods.label(periods.previous(period))} 比较。点选一行查看该{who}的失分与追赶。"
)
chosen = event.selection.rows if event is not None else []
subjects = board["代码"].to_list()
if chosen and subjects[chosen[0]] != st.query_params.get("subject"):
    st.session_state.pop(f"board_{aid}_{period}", None)
    st.session_state[GOTO] = subjects[chosen[0]]
    st.rerun()

# ---------------------------------------------------------------- downloads
title = assess.export_title(cat, a, period)
notes = assess.export_notes(a, scores, period)
stem = f"考核_{aid}_{period}"
d1, d2 = st.columns(2)
d1.download_button(
    "导出 CSV",
    rankings.to_csv_bytes(board, title, notes),
    file_name=f"{stem}.csv",
    mime="text/csv",
    icon="📄",
    width="stretch",
    key="assess_csv",
)
d2.download_button(
    "导出 Excel",
    rankings.to_excel_bytes(board, title, notes, sheet="考核"),
    file_name=f"{stem}.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    icon="📊",
    width="stretch",
    key="assess_xlsx",
)

# ---------------------------------------------------------------- one subject: where it lost points
by_subject = {s.subject: s for s in scores if s.period == period}
names = dict(zip(board["代码"].to_list(), board[who].to_list(), strict=True))
wanted = st.query_params.get("subject")
if wanted is not None and wanted not in names and not switched:
    st.warning(f"考核对象 {wanted} 不存在或不在您的权限范围内。", icon="🔗")
subject = select_bound(
    f"查看{who}",
    subjects,
    wanted if wanted in names else subjects[0],
    "subject",
    lambda sid: f"第{by_subject[sid].rank}名 · {names[sid]}",
    st,
    "subject",
)
s = by_subject[subject]
st.subheader(f"{names[subject]} · {periods.label(period)}")
m1, m2, m3, m4 = st.container(key="counters").columns(4)  # two to a row on phones (PHONE_CSS)
m1.metric("得分", f"{s.score:.2f}", help=f"满分 {full:g} 分", border=True)
m2.metric("名次", f"第 {s.rank} 名", help=f"共 {len(assess.subjects_of(cat, a))} 个考核对象", border=True)
m3.metric("较上期", assess.rank_change_label(s), border=True)
m4.metric("失分", f"{full - s.score:.2f}", border=True)
st.markdown(f"**失分**：{assess.lost_text(cat, s)}。")
if s.catch_up is not None:
    st.info(s.catch_up.text, icon=":material/trending_up:")
else:
    st.success("本期位列第一。", icon=":material/emoji_events:")
items = assess.item_table(cat, a, s)
st.dataframe(
    items.to_pandas(),
    hide_index=True,
    width="stretch",
    column_config={
        "权重": st.column_config.NumberColumn("权重", format="%g"),
        "得分": st.column_config.NumberColumn("得分", format="%.1f"),
        "失分": st.column_config.NumberColumn("失分", format="%.1f"),
        "得分率": st.column_config.ProgressColumn("得分率", min_value=0.0, max_value=1.0, format="percent"),
    },
)
st.caption("按失分从多到少排列；目标标“分解目标”者为该对象自己的逐项分解目标。")
st.altair_chart(_items_chart(items), width="stretch")
