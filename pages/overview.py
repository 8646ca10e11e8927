"""一屏总览: how are we doing, where is it red, what moved most."""

from __future__ import annotations

import altair as alt
import polars as pl
import streamlit as st

from cockpit.ui import catalogue, current_scope, rows_and_notes, through_router
from metrics import views
from metrics.format import fmt_change, fmt_value

through_router()

cat = catalogue()
scope = current_scope(cat)
rows, warnings, errors, stale = rows_and_notes()
assert isinstance(rows, pl.DataFrame)

st.title(f"{cat.config.site.title} · 一屏总览")
if errors or stale:
    lines = [f"- {e}" for e in errors[:5]] + [f"- 数据源 {s} 数据滞后：{why}" for s, why in stale.items()]
    st.warning("部分数据源异常或数据滞后，相关指标可能不是最新：\n\n" + "\n".join(lines))

# A view is addressed by its query parameters (contract section 13): region, period, domain.
params = st.query_params
region = params.get("region")
if region is not None and (cat.tree is None or region not in cat.tree or not scope.sees_region(region)):
    st.warning(f"地区 {region} 不存在或不在您的权限范围内，已显示默认范围。")
    region = None
if region is not None and cat.tree is not None:
    st.caption(f"地区：{cat.tree.name(region)}")
counts = views.status_counts(cat, rows, scope, region=region)
c1, c2, c3 = st.columns(3)
c1.metric("红灯指标", counts.get("red", 0))
c2.metric("黄灯指标", counts.get("yellow", 0))
c3.metric("绿灯指标", counts.get("green", 0))

cards = views.cards(cat, rows, scope, region=region, period=params.get("period"), domain=params.get("domain"))
by_domain: dict[str, list[views.Card]] = {}
for card in cards:
    by_domain.setdefault(card.domain, []).append(card)

for domain, items in by_domain.items():
    st.subheader(domain)
    cols = st.columns(len(items))
    for col, card in zip(cols, items, strict=True):
        with col:
            status = views.STATUS_LABEL.get(card.status or "", "")
            inverse = card.direction == "lower_better"
            col.metric(
                f"{card.name}（{card.period_label}）",
                fmt_value(card.value, card.unit),
                delta=fmt_change(card.yoy, card.unit) if card.yoy is not None else None,
                delta_description="同比",
                delta_arrow="off" if card.yoy is not None and round(card.yoy, 2) == 0 else "auto",
                delta_color="inverse" if inverse else "normal",
                help=f"状态：{status or '—'}；目标：{fmt_value(card.target, card.unit)}；环比：{fmt_change(card.mom, card.unit)}",
                border=True,
            )
            hist = [v for v in card.history if v is not None]
            if len(hist) > 1:
                spark = (
                    alt.Chart(pl.DataFrame({"i": list(range(len(hist))), "v": hist}).to_pandas())
                    .mark_line(color=views.STATUS_COLOR.get(card.status or "", "#607d8b"))
                    .encode(x=alt.X("i:Q", axis=None), y=alt.Y("v:Q", axis=None, scale=alt.Scale(zero=False)))
                    .properties(height=40)
                )
                st.altair_chart(spark, width="stretch")

st.subheader("变化最大")
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
