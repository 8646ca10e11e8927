"""一屏总览: how are we doing, where is it red, what is unusual, who must act."""

from __future__ import annotations

import altair as alt
import polars as pl
import streamlit as st

from cockpit.ui import cached_outlooks, page_start, pick_region, view
from metrics import views
from metrics.format import fmt_change, fmt_value

cat, scope, data = page_start()
rows = data.rows
v = view(cat, scope, rows)

head, picker = st.columns([3, 1], vertical_alignment="bottom")
head.title(f"{cat.config.site.title} · 一屏总览")
region = pick_region(cat, scope, v.region, where=picker)
if region is not None and cat.tree is not None:
    head.caption(f"范围：{cat.tree.name(region)}" + (f"　截至：{v.period}" if v.period else ""))
stale = data.stale_indicators(cat)

# ---------------------------------------------------------------- how many are red
counts = views.status_counts(cat, rows, scope, region=region)
alerts = views.latest_alerts(cat, scope)
firing = [a for a in alerts if a.state == "firing"]
c1, c2, c3, c4 = st.container(key="counters").columns(4)
c1.metric("红灯指标", counts.get("red", 0), border=True)
c2.metric("黄灯指标", counts.get("yellow", 0), border=True)
c3.metric("绿灯指标", counts.get("green", 0), border=True)
c4.metric("预警中", len(firing), border=True, help="特别呈报中尚未恢复的预警")
cold = [f"{views.STATUS_LABEL[s]}灯 {counts[s]} 项" for s in ("lightblue", "blue") if counts.get(s)]
if cold:  # five-light (景气) indicators: 过冷/偏冷 are neither red, yellow nor green
    st.caption(f"景气信号灯另有：{'、'.join(cold)}（浅蓝：偏冷，蓝：过冷）；红、黄灯含景气指标的过热、偏热。")

left, right = st.columns([7, 3], gap="large")

# ---------------------------------------------------------------- KPI cards, by domain
with left:
    cards = views.cards(cat, rows, scope, region=region, period=v.period, domain=v.domain)
    by_domain: dict[str, list[views.Card]] = {}
    for card in cards:
        by_domain.setdefault(card.domain, []).append(card)
    if not cards:
        st.info("当前范围内没有可显示的指标。")
    for domain, items in by_domain.items():
        st.subheader(domain)
        cols = st.columns(len(items))
        for col, card in zip(cols, items, strict=True):
            with col:
                status = views.STATUS_LABEL.get(card.status or "", "")
                inverse = card.direction == "lower_better"
                note = "（数据滞后）" if card.indicator in stale else ""
                st.metric(
                    f"{card.name}（{card.period_label}）",
                    fmt_value(card.value, card.unit),
                    delta=fmt_change(card.yoy, card.unit) if card.yoy is not None else None,
                    delta_description="同比",
                    delta_arrow="off" if card.yoy is not None and round(card.yoy, 2) == 0 else "auto",
                    delta_color="inverse" if inverse else "normal",
                    help=(
                        f"状态：{status or '—'}灯；目标：{fmt_value(card.target, card.unit)}；"
                        f"环比：{fmt_change(card.mom, card.unit)}{note}"
                    ),
                    border=True,
                )
                hist = [x for x in card.history if x is not None]
                if len(hist) > 1:
                    spark = (
                        alt.Chart(pl.DataFrame({"i": list(range(len(hist))), "v": hist}).to_pandas())
                        .mark_line(color=views.STATUS_COLOR.get(card.status or "", "#607d8b"))
                        .encode(
                            x=alt.X("i:Q", axis=None),
                            y=alt.Y("v:Q", axis=None, scale=alt.Scale(zero=False)),
                        )
                        .properties(height=36)
                    )
                    st.altair_chart(spark, width="stretch")
                dot = {"red": "🔴", "yellow": "🟡", "green": "🟢", "lightblue": "🔵", "blue": "🔵"}.get(
                    card.status or "", "⚪"
                )
                st.page_link(
                    "pages/detail.py",
                    label=f"{dot} 详情",
                    query_params={"indicator": card.indicator, "region": region or "", "period": card.period},
                )

# ---------------------------------------------------------------- alerts and the year-end outlook
with right:
    st.subheader("最新特别呈报")
    if not alerts:
        st.caption("暂无特别呈报。")
    for a in alerts:
        state = "🚨 预警中" if a.state == "firing" else "✅ 已恢复"
        st.markdown(
            f"**{a.region_name} · {a.indicator_name}**  \n{state} · {a.period or ''} · {fmt_value(a.value, a.unit)}"
        )
        go, see = st.columns(2)
        go.page_link("pages/inbox.py", label="处置", icon="🛠️", query_params={"alert": a.id})
        see.page_link(
            "pages/detail.py",
            label="详情",
            icon="📈",
            query_params={"indicator": a.indicator, "region": a.region or "", "period": a.period or ""},
        )
    st.subheader("年底目标展望")
    outlooks = cached_outlooks(region)
    if not outlooks:
        st.caption("历史数据不足，暂无展望。")
    for ind_id, name, prob, sentence in outlooks:
        if prob is None:
            continue
        icon = "🟢" if prob >= 0.7 else "🟡" if prob >= 0.3 else "🔴"
        st.page_link(
            "pages/detail.py",
            label=f"{icon} {name}：达标概率约 {prob:.0%}",
            help=sentence,
            query_params={"indicator": ind_id, "region": region or ""},
        )

# ---------------------------------------------------------------- what moved most
st.subheader("变化最大（同比）")
top = views.movers(cat, rows, scope)
if top.height:
    st.dataframe(
        top.select(
            "指标",
            "地区",
            pl.col("period").alias("期间"),
            pl.struct("value", "unit")
            .map_elements(lambda s: fmt_value(s["value"], s["unit"]), return_dtype=pl.String)
            .alias("值"),
            pl.struct("yoy", "unit")
            .map_elements(lambda s: fmt_change(s["yoy"], s["unit"]), return_dtype=pl.String)
            .alias("同比"),
        ).to_pandas(),
        hide_index=True,
        width="stretch",
    )
