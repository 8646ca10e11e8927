"""数据健康: per source, how fresh its data is, how many records, what went wrong, and what it feeds.

A failed source is shown with its indicators flagged; the page never stops on
it. Frames come from :mod:`metrics.health`; locations and messages have their
secrets masked.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from cockpit.ui import link, page_start
from metrics import health
from metrics.access import Scope
from metrics.catalogue.load import Catalogue
from metrics.format import fmt_number

ICON = {health.FRESH: "🟢", health.LATE: "🟠", health.FAILED: "🔴", health.EMPTY: "⚪"}


@st.cache_data(ttl=600, show_spinner="正在检查数据源…")
def _frames(
    _cat: Catalogue, _scope: Scope, _data: object, config: str, user: str | None, today: str
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, pl.DataFrame]]:
    notes = health.notes_of(_cat, _data)
    sources = health.source_health(_cat, notes, _scope, now=dt.datetime.now())
    messages = health.source_messages(_cat, notes, _scope)
    feeds = {sid: health.source_indicators(_cat, notes, sid, _scope) for sid in sources["source"].to_list()}
    return sources, messages, feeds


def _count(n: int | None) -> str:
    return "—" if n is None else fmt_number(float(n), 0)


def _refresh_lines(info: dict | None) -> list[str]:
    """A partitioned source: what the last compute read, and how old the stored rest is."""
    if not info:
        return []
    read = info["read"]
    shown = (
        "无变化，全部取自存储"
        if not read
        else "、".join(read[:6]) + (f" 等 {len(read)} 个" if len(read) > 6 else "")
    )
    as_of = (info.get("read_at") or "—").replace("T", " ")
    return [
        f"- **增量刷新**：按 `{info['partition']}` 分区，共 {info['partitions']} 个，最新分区 {info['newest'] or '—'}；"
        f"上次计算读取：{shown}；中位数等重算 {info['periods_recomputed']}/{info['periods']} 期",
        f"- **存储读取时间**：最早一块读于 {as_of}（此后未变的分区不再读取）",
    ]


cat, scope, data = page_start("数据健康")
sources, messages, feeds = _frames(
    cat, scope, data, str(cat.path), scope.user.id if scope.user else None, dt.date.today().isoformat()
)

if sources.height == 0:
    st.info("您的权限范围内没有数据源。")
    st.stop()

by_state = dict(sources.group_by("freshness").len().iter_rows())
# a row that wraps: four across on a wide screen, two by two on a phone
with st.container(horizontal=True):
    for label, n in (
        ("数据源", sources.height),
        ("正常", by_state.get(health.FRESH, 0)),
        ("滞后", by_state.get(health.LATE, 0)),
        ("失败", by_state.get(health.FAILED, 0)),
    ):
        st.metric(label, n, border=True, width=150)

failed = sources.filter(pl.col("freshness") == health.FAILED)
if failed.height:
    lines = [
        f"- **{r['source']}**（{r['location']}）：相关指标暂无最新数据 —— {r['stale_ids'] or r['indicator_ids'] or '无'}"
        for r in failed.iter_rows(named=True)
    ]
    st.error("以下数据源读取失败，其指标按滞后处理：\n\n" + "\n".join(lines), icon="🚨")
late = sources.filter(pl.col("freshness") == health.LATE)
if late.height:
    lines = [f"- **{r['source']}**：{r['freshness_text']}" for r in late.iter_rows(named=True)]
    st.warning("以下数据源数据滞后：\n\n" + "\n".join(lines), icon="⏰")

# what matters first on a phone: the source, its state, how recent, how big; where it lives last
table = sources.select(
    pl.col("source").alias("数据源"),
    pl.struct("freshness", "freshness_text")
    .map_elements(lambda s: f"{ICON.get(s['freshness'], '')} {s['freshness_text']}", return_dtype=pl.String)
    .alias("新鲜度"),
    pl.col("latest_label").alias("最新数据期"),
    pl.col("records").map_elements(_count, return_dtype=pl.String).fill_null("—").alias("记录数"),
    pl.col("records_latest")
    .map_elements(_count, return_dtype=pl.String)
    .fill_null("—")
    .alias("最新期记录数"),
    pl.col("warnings").alias("警告"),
    pl.col("errors").alias("错误"),
    pl.col("indicators").alias("指标数"),
    pl.col("stale_indicators").alias("滞后指标数"),
    pl.col("expected_lag").fill_null("—").alias("时限"),
    pl.col("type").alias("类型"),
    pl.col("location").alias("位置"),
)
st.dataframe(table.to_pandas(), hide_index=True, width="stretch")
st.caption(
    "记录数：计算所用的源记录条数（筛选条件之前，含无法识别地区代码的记录）；时限：数据源声明的 expected_lag，"
    "超过即为滞后。"
)

st.subheader("各数据源明细")
for r in sources.iter_rows(named=True):
    sid = r["source"]
    with st.expander(f"{ICON.get(r['freshness'], '')} {sid} · {r['type']} · {r['freshness']}"):
        st.markdown(
            "\n".join(
                [
                    f"- **位置**：`{r['location']}`",
                    f"- **最新数据期**：{r['latest_label']}（截至 {r['data_end'] or '—'}）",
                    f"- **新鲜度**：{r['freshness_text']}；**时限**：{r['expected_lag'] or '未设置（不判滞后）'}",
                    f"- **记录数**：{_count(r['records'])}；**最新期**：{_count(r['records_latest'])}",
                    *_refresh_lines(data.refresh.get(sid)),
                ]
            )
        )
        inds = feeds.get(sid)
        if inds is not None and inds.height:
            st.markdown("**供数指标**")
            st.dataframe(
                inds.select(
                    pl.col("name").alias("指标"),
                    pl.col("indicator").alias("代码"),
                    pl.col("domain").alias("领域"),
                    pl.col("latest_label").alias("最新期"),
                    pl.when(pl.col("stale"))
                    .then(pl.lit("⚠️ ") + pl.col("freshness"))
                    .otherwise(pl.col("freshness"))
                    .alias("状态"),
                    pl.col("indicator")
                    .map_elements(lambda i: link("detail", indicator=i), return_dtype=pl.String)
                    .alias("详情"),
                ).to_pandas(),
                hide_index=True,
                width="stretch",
                column_config={"详情": st.column_config.LinkColumn("详情", display_text="查看")},
            )
        else:
            st.caption("没有指标使用这个数据源。")
        mine = messages.filter(pl.col("source") == sid)
        if mine.height:
            st.markdown("**错误与数据质量提示**")
            st.dataframe(
                mine.select(
                    pl.col("level").alias("级别"),
                    pl.col("kind").alias("类别"),
                    pl.col("message").alias("内容"),
                ).to_pandas(),
                hide_index=True,
                width="stretch",
            )

other = messages.filter(pl.col("source").is_null())
if other.height:
    st.subheader("其他提示")
    for m in other["message"].to_list():
        st.caption(m)
