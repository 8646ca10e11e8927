"""指标目录: every indicator the user may see, its definition, source, owner, freshness and lineage.

Searchable (``?q=``: name, id, domain, owner or description) and filterable by
domain (``?domain=``). Each indicator links to its detail page. Frames come
from :mod:`metrics.lineage`.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from cockpit.ui import domains, page_start, set_query, view
from metrics import lineage
from metrics.access import Scope
from metrics.catalogue.load import Catalogue

ALL = "全部领域"
FRESH_ICON = {"正常": "🟢", "滞后": "🟠", "失败": "🔴", "无数据": "⚪"}


@st.cache_data(ttl=600, show_spinner="正在整理指标目录…")
def _frame(_cat: Catalogue, _scope: Scope, _data: object, config: str, user: str | None) -> pl.DataFrame:
    return lineage.catalogue_frame(_cat, _data, _scope)


@st.cache_data(ttl=600, show_spinner=False)
def _dot(_cat: Catalogue, config: str, indicator: str) -> tuple[str, list[str]]:
    lin = lineage.lineage(_cat, _cat.indicators[indicator])
    return lineage.to_dot(lin), lin.steps()


cat, scope, data = page_start("指标目录")
v = view(cat, scope, data.rows)
frame = _frame(cat, scope, data, str(cat.path), scope.user.id if scope.user else None)

left, right = st.columns([3, 2])
q0 = st.query_params.get("q", "")
q = left.text_input(
    "搜索", value=q0, placeholder="名称、代码、领域、责任部门或说明", key="catalogue_q"
).strip()
set_query(q=q or None)
options = [ALL, *domains(cat, scope)]
domain = right.selectbox(
    "领域",
    options,
    index=options.index(v.domain) if v.domain in options else 0,
    key="catalogue_domain",
)
set_query(domain=None if domain == ALL else domain)

found = lineage.search(frame, q, None if domain == ALL else domain)
st.caption(f"共 {frame.height} 个指标，显示 {found.height} 个。点击「详情」打开指标页。")
if found.height == 0:
    st.info("没有符合条件的指标。")
    st.stop()

# on a phone the first columns show: the name, how fresh, and the way to its page
table = found.select(
    pl.col("name").alias("指标"),
    pl.col("latest_label").alias("最新期"),
    pl.struct("freshness")
    .map_elements(lambda s: f"{FRESH_ICON.get(s['freshness'], '')} {s['freshness']}", return_dtype=pl.String)
    .alias("新鲜度"),
    pl.col("link").alias("详情"),
    pl.col("id").alias("代码"),
    pl.col("domain").alias("领域"),
    pl.col("unit").alias("单位"),
    pl.col("owner").alias("责任部门"),
    pl.col("grain").alias("粒度"),
    pl.col("source").alias("数据源"),
)
st.dataframe(
    table.to_pandas(),
    hide_index=True,
    width="stretch",
    column_config={"详情": st.column_config.LinkColumn("详情", display_text="查看")},
)

st.subheader("指标定义与数据血缘")
for r in found.iter_rows(named=True):
    badge = FRESH_ICON.get(r["freshness"], "")
    with st.expander(f"{badge} {r['name']}（{r['id']}）· {r['domain']}"):
        st.markdown(
            "\n".join(
                [
                    f"**说明**：{r['description'] or '—'}",
                    "",
                    f"- **口径**：{r['definition']}",
                    f"- **单位**：{r['unit'] or '—'}；**粒度**：{r['grain'] or '—'}；**累计**：{r['accumulate']}；**地区汇总**：{r['rollup']}",
                    f"- **方向**：{r['direction']}；**目标**：{r['target']}；**红黄绿**：{r['bands']}",
                    f"- **预警规则**：{r['alerts']} 条",
                    f"- **责任部门**：{r['owner'] or '—'}",
                    f"- **数据源**：`{r['source'] or '—'}`（{r['source_type'] or '—'}）：`{r['location'] or '—'}`",
                    f"- **最新数据**：{r['latest_label']}（{r['freshness']}）",
                    f"- [打开指标详情]({r['link']})",
                ]
            )
        )
        dot, steps = _dot(cat, str(cat.path), r["id"])
        st.graphviz_chart(dot, width="stretch", alt=f"{r['name']} 的数据血缘")
        st.markdown("\n".join(f"{k}. {s}" for k, s in enumerate(steps, 1)))
