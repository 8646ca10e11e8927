"""领域页: one page module for every domain of the catalogue.

``app.py`` registers this script once per domain, each under its own
``url_path`` (``cockpit.ui.domain_slug``), and keeps ``{url_path: domain}`` in
``st.session_state["_domain_pages"]``. The page finds which entry ran it from
the page Streamlit is running, so a domain added to ``indicators.yaml``
gets its page without code. ``?domain=`` is the fallback when the page runs
outside that navigation entry.
"""

from __future__ import annotations

import altair as alt
import polars as pl
import streamlit as st

from cockpit.ui import domain_slug, domains, link, page_start, pick_region, region_label, set_query, view
from metrics import domain as frames
from metrics import periods, views
from metrics.format import fmt_change, fmt_value

FONT = "Noto Sans CJK SC"
CARDS_PER_ROW = 4
CHARTS_PER_ROW = 3
NO_STATUS = "#90a4ae"
DOT = {"red": "🔴", "yellow": "🟡", "green": "🟢", "lightblue": "🔵", "blue": "🔵"}
FLAG_LABEL = {"red": "🔴 红", "yellow": "🟡 黄", "blue": "🔵 蓝（过冷）", "lightblue": "🔵 浅蓝（偏冷）"}


def current_url_path() -> str | None:
    """The ``url_path`` of the navigation entry being run (Streamlit keeps it per page hash)."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        if ctx is not None:
            info = ctx.pages_manager.get_pages().get(ctx.page_script_hash) or {}
            path = info.get("url_pathname")
            if path:
                return str(path)
    except Exception:  # an internal API: fall back to the address bar
        pass
    url = st.context.url
    return url.rstrip("/").rsplit("/", 1)[-1] if url else None


cat, scope, data = page_start()
rows = data.rows
v = view(cat, scope, rows)
pages: dict[str, str] = st.session_state.get("_domain_pages", {})
domain = pages.get(current_url_path() or "") or v.domain

if domain is None or domain not in domains(cat, scope):
    st.title("领域")
    st.info("没有找到这个领域页。请从左侧导航进入，或在地址中写明 `?domain=领域名称`。")
    for d in domains(cat, scope):
        st.markdown(f"- [{d}]({link(domain_slug(d))})")
    st.stop()

head, pick_r, pick_p = st.columns([2, 1, 1], vertical_alignment="bottom")
head.title(domain)
region = pick_region(cat, scope, v.region, where=pick_r)
options = frames.period_options(cat, rows, scope, domain, region)
chosen_period = v.period if v.period in options else None
period = pick_p.selectbox(
    "期间",
    [None, *options],
    index=([None, *options]).index(chosen_period),
    format_func=lambda p: "最新" if p is None else periods.label(p),
    key="pick_period",
    help="“最新”：每个指标各自的最新一期；选定期间：每个指标在该期间结束前的最新一期",
)
set_query(period=period)

inds = frames.indicators_of(cat, scope, domain)
stale = data.stale_indicators(cat)
cards = frames.cards(cat, rows, scope, domain, region, period)
if not cards:
    st.info(f"{region_label(cat, region).strip()}在所选期间没有{domain}的指标数据。")

# ---------------------------------------------------------------- KPI cards
for start in range(0, len(cards), CARDS_PER_ROW):
    cols = st.columns(CARDS_PER_ROW)
    for col, card in zip(cols, cards[start : start + CARDS_PER_ROW], strict=False):
        with col:
            status = views.STATUS_LABEL.get(card.status or "", "")
            note = "（数据滞后）" if card.indicator in stale else ""
            st.metric(
                f"{card.name}（{card.period_label}）",
                fmt_value(card.value, card.unit),
                delta=fmt_change(card.yoy, card.unit) if card.yoy is not None else None,
                delta_description="同比",
                delta_arrow="off" if card.yoy is not None and round(card.yoy, 2) == 0 else "auto",
                delta_color="inverse" if card.direction == "lower_better" else "normal",
                help=(
                    f"状态：{status or '—'}灯；目标：{fmt_value(card.target, card.unit)}；"
                    f"环比：{fmt_change(card.mom, card.unit)}{note}"
                ),
                border=True,
            )
            st.markdown(
                f"{DOT.get(card.status or '', '⚪')} "
                f"[详情]({link('detail', indicator=card.indicator, region=region, period=card.period)})"
            )

# ---------------------------------------------------------------- small multiples
st.subheader("走势")
series = frames.trends(cat, rows, scope, domain, region, period)


@st.cache_data(ttl=600, max_entries=2000, show_spinner=False)
def trend_spec(
    name: str, unit: str, points: tuple[tuple[str, str, float | None, float | None, str], ...]
) -> dict:
    """One small multiple as a Vega-Lite spec, built (and checked) by Altair once per series.

    Building and validating a layered Altair chart costs tens of milliseconds; a domain page
    has a dozen, so the specs are cached by their points and a rerun only sends them.
    """
    df = pl.DataFrame(
        points,
        schema={
            "period": pl.String,
            "label": pl.String,
            "value": pl.Float64,
            "target": pl.Float64,
            "status": pl.String,
        },
        orient="row",
    ).with_columns(
        pl.col("status").replace_strict({**views.STATUS_LABEL, "none": "—"}, default="—").alias("状态"),
        pl.col("value").map_elements(lambda x: fmt_value(x, unit), return_dtype=pl.String).alias("值"),
    )
    colour = alt.Scale(domain=[*views.STATUS_COLOR, "none"], range=[*views.STATUS_COLOR.values(), NO_STATUS])
    x = alt.X(
        "period:O",
        sort=df["period"].to_list(),
        title=None,
        axis=alt.Axis(labelAngle=0, labelOverlap=True, labelFontSize=10),
    )
    y = alt.Y("value:Q", title=unit or None, scale=alt.Scale(zero=False, nice=True))
    base = alt.Chart(alt.Data(values=df.to_dicts())).encode(x=x, y=y)
    tooltip = [alt.Tooltip("label:N", title="期间"), alt.Tooltip("值:N"), alt.Tooltip("状态:N")]
    layers = [
        base.mark_line(color="#607d8b", strokeWidth=1.5),
        base.mark_circle(size=36, opacity=1).encode(
            color=alt.Color("status:N", scale=colour, legend=None), tooltip=tooltip
        ),
    ]
    if df["target"].drop_nulls().len():
        layers.append(base.mark_line(color="#86909c", strokeDash=[4, 3], strokeWidth=1).encode(y="target:Q"))
    chart = (
        alt.layer(*layers)
        .properties(height=170, title=alt.TitleParams(name, fontSize=13, anchor="start"))
        .configure(font=FONT)
        .configure_view(stroke=None)
    )
    return chart.to_dict()


shown = [i for i in inds if i.id in series]
if not shown:
    st.caption("暂无走势数据。")
for start in range(0, len(shown), CHARTS_PER_ROW):
    cols = st.columns(CHARTS_PER_ROW)
    for col, ind in zip(cols, shown[start : start + CHARTS_PER_ROW], strict=False):
        points = tuple(series[ind.id].select("period", "label", "value", "target", "status").iter_rows())
        col.vega_lite_chart(trend_spec(ind.name, ind.unit or "", points), width="stretch")

# ---------------------------------------------------------------- red and yellow
st.subheader("红黄灯地区")
flags = frames.flagged(cat, rows, scope, domain, region, period)
if flags.height == 0:
    st.caption("所选地区及下辖地区在本领域指标上没有红灯、黄灯（景气指标：蓝灯、浅蓝灯）。")
else:
    table = flags.select(
        pl.col("status").replace_strict(FLAG_LABEL, default="").alias("状态"),
        pl.col("name").alias("指标"),
        pl.col("region_name").alias("地区"),
        pl.col("period_label").alias("期间"),
        pl.struct("value", "unit")
        .map_elements(lambda s: fmt_value(s["value"], s["unit"]), return_dtype=pl.String)
        .alias("数值"),
        pl.struct("target", "unit")
        .map_elements(lambda s: fmt_value(s["target"], s["unit"]), return_dtype=pl.String)
        .alias("目标"),
        pl.struct("yoy", "unit")
        .map_elements(lambda s: fmt_change(s["yoy"], s["unit"]), return_dtype=pl.String)
        .alias("同比"),
        pl.struct("indicator", "region", "period")
        .map_elements(
            lambda s: link("detail", indicator=s["indicator"], region=s["region"], period=s["period"]),
            return_dtype=pl.String,
        )
        .alias("详情"),
    )
    st.dataframe(
        table.to_pandas(),
        hide_index=True,
        width="stretch",
        column_config={"详情": st.column_config.LinkColumn("详情", display_text="查看")},
    )

# ---------------------------------------------------------------- every indicator's detail page
st.subheader("指标详情")
st.markdown(
    "\n".join(
        f"- [{i.name}]({link('detail', indicator=i.id, region=region, period=period)})"
        + (f"（{i.unit}）" if i.unit else "")
        for i in inds
    )
)
