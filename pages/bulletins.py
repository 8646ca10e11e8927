"""数据通报: preview and download any declared bulletin, or the whole-catalogue one.

The pickers (bulletin, period, region) are bound to the URL: ``?bulletin=``
plus the standard ``period`` and ``region``. The bulletin is built by
``alerts.bulletin`` (contract section 8) within the user's scope, with the
``level: bulletin`` alert items that are firing, and cached per bulletin,
period, region and user: building one takes seconds.

The preview is the bulletin's own HTML page in an ``st.iframe`` (sized to
its content), so its CSS stays inside it; the Markdown (what goes into a
group chat) is one click away, with a copy button.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import polars as pl
import streamlit as st

from alerts.bulletin import RHYTHM_GRAIN, BulletinAlert, BulletinError, build_bulletin, period_label, render
from alerts.inbox import bulletin_items
from alerts.run import default_state_path
from alerts.state import StateError
from cockpit.ui import audit_action, catalogue, page_start, region_label, regions_in_scope, set_query, view
from metrics import periods
from metrics.access import OPEN, scope_for

HOW_MANY = {"day": 62, "week": 26, "month": 24, "quarter": 12, "year": 6}  # periods offered in the picker
DEFAULT = "__default__"
RHYTHM_WORD = {"daily": "日报", "weekly": "周报", "monthly": "月报", "quarterly": "季报", "yearly": "年报"}


@st.cache_data(ttl=600, max_entries=32, show_spinner="正在生成数据通报…")
def build(
    bulletin_id: str | None,
    period: str | None,
    region: str | None,
    user_id: str | None,
    alerts: tuple[tuple[str, str, str, str], ...],
) -> dict[str, Any]:
    """The bulletin as Markdown and HTML; cached per (bulletin, period, region, user, alert items)."""
    cat = catalogue()
    scope = scope_for(cat, user_id) if user_id else OPEN
    b = build_bulletin(
        cat,
        bulletin_id=bulletin_id,
        period=period,
        region=region,
        scope=scope,
        alerts=[BulletinAlert(*a) for a in alerts],
    )
    return {
        "title": b.title,
        "period": b.period,
        "period_label": b.period_label,
        "region": b.region,
        "md": render(b, "md"),
        "html": render(b, "html"),
        "errors": list(b.errors),
    }


def period_choices(grain: str, ids: list[str], rows: pl.DataFrame) -> list[str]:
    """The bulletin's periods with data, newest first: from the latest data's period back."""
    mine = rows.filter(pl.col("indicator").is_in(ids)) if ids else rows.clear()
    found = mine["period"].unique().to_list() if mine.height else []
    if not found:
        return []
    last = periods.to_period(max(periods.end(p) for p in found), grain)
    first = periods.to_period(min(periods.start(p) for p in found), grain)
    out = []
    p = last
    while len(out) < HOW_MANY[grain] and periods.ordinal(p) >= periods.ordinal(first):
        out.append(p)
        p = periods.previous(p)
    return out


def alert_items() -> tuple[tuple[str, str, str, str], ...]:
    """The firing ``level: bulletin`` alerts in scope (the same items ``cockpit bulletin`` uses)."""
    try:
        found = bulletin_items(cat, default_state_path(cat), scope)
    except (StateError, sqlite3.Error):
        return ()
    return tuple((a.indicator, a.region, a.period, a.text) for a in found)


def other_bulletin() -> None:
    """A different bulletin starts from its own default period and region."""
    set_query(period=None, region=None)


def readable(b: Any) -> bool:
    """A declared bulletin the user can open: a region of theirs within its region, a domain of theirs among its.

    Any other is not offered, and typed as ``?bulletin=`` it reads as unknown: its name (西区月报)
    would name a region, or a domain, outside the scope.
    """
    tree = cat.tree
    region_ok = (
        tree is None
        or b.region is None
        or b.region not in tree
        or any(scope.sees_region(r) for r in tree.subtree(b.region))
    )
    return region_ok and (scope.domains is None or b.domains is None or bool(scope.domains & set(b.domains)))


cat, scope, data = page_start("数据通报")
v = view(cat, scope, data.rows)
declared = {b.id: b for b in cat.config.bulletins if readable(b)}
user_id = scope.user.id if scope.user is not None else None

# ---------------------------------------------------------------- pickers
pick_b, pick_p, pick_r = st.columns([2, 1, 1], vertical_alignment="bottom")
options = [DEFAULT, *declared]
asked = st.query_params.get("bulletin")
if asked is not None and asked not in declared:
    st.warning(f"通报 {asked} 不存在，已显示全量数据通报。", icon="🔗")
b_choice = pick_b.selectbox(
    "通报",
    options,
    index=options.index(asked) if asked in declared else 0,
    format_func=lambda b: (
        f"{cat.config.site.title}数据通报（全部指标，月报）"
        if b == DEFAULT
        else f"{declared[b].name}（{RHYTHM_WORD[declared[b].rhythm]}）"
    ),
    key="pick_bulletin",
    on_change=other_bulletin,
)
bulletin_id = None if b_choice == DEFAULT else b_choice
set_query(bulletin=bulletin_id)
spec_b = declared.get(bulletin_id) if bulletin_id else None

grain = RHYTHM_GRAIN[spec_b.rhythm] if spec_b else "month"
wanted_domains = set(spec_b.domains) if spec_b and spec_b.domains else None
ids = [
    i.id
    for i in cat.config.indicators
    if scope.sees_indicator(i) and (wanted_domains is None or (i.domain or "其他") in wanted_domains)
]
p_options: list[str | None] = [None, *period_choices(grain, ids, scope.filter_rows(data.rows))]
period = pick_p.selectbox(
    "期间",
    p_options,
    index=p_options.index(v.period) if v.period in p_options else 0,
    format_func=lambda p: "最新一期" if p is None else period_label(p),
    key=f"pick_period_{grain}",
)
set_query(period=period)

# the bulletin's region and what lies under it, within the scope
in_scope = regions_in_scope(cat, scope)
if spec_b is not None and spec_b.region is not None and cat.tree is not None and spec_b.region in cat.tree:
    inside = set(cat.tree.subtree(spec_b.region))
    r_options = [r for r in in_scope if r in inside]
else:
    r_options = in_scope
region: str | None = None
if r_options:
    region = pick_r.selectbox(
        "地区",
        r_options,
        index=r_options.index(v.region) if v.region in r_options else 0,
        format_func=lambda r: region_label(cat, r),
        key=f"pick_region_{bulletin_id or 'all'}",
    )
    set_query(region=region)
elif cat.tree is not None:
    st.warning("这份通报的地区不在您的权限范围内。")
    st.stop()

# ---------------------------------------------------------------- the bulletin
try:
    built = build(bulletin_id, period, region, user_id, alert_items())
except BulletinError as e:
    st.warning(f"无法生成这份通报：{e.message}")
    st.stop()

if built["period"] is None:
    st.info("所选范围内还没有数据，无法生成通报。")
    st.stop()
if built["errors"]:
    st.warning("部分指标的数据源读取失败，通报中已注明未能计算的指标。", icon="⚠️")

stem = f"{built['title']}-{built['period']}"
where = region_label(cat, built["region"]).strip() if built["region"] else "全部"
st.caption(f"{built['title']} · {built['period_label']} · {where}")
downloaded = {
    "bulletin": bulletin_id or "all",
    "title": built["title"],
    "period": built["period"],
    "region": built["region"],
}
d1, d2, _ = st.columns([1, 1, 2])
d1.download_button(
    "下载 Markdown",
    built["md"],
    file_name=f"{stem}.md",
    mime="text/markdown",
    icon="📝",
    on_click=lambda: audit_action(cat, scope, "bulletin", **downloaded, format="md"),
    width="stretch",
)
d2.download_button(
    "下载网页版（HTML）",
    built["html"],
    file_name=f"{stem}.html",
    mime="text/html",
    icon="🌐",
    on_click=lambda: audit_action(cat, scope, "bulletin", **downloaded, format="html"),
    width="stretch",
)
with st.expander("Markdown 原文（可复制到钉钉、企业微信、飞书）"):
    st.code(built["md"], language="markdown", wrap_lines=True)
# The HTML is one self-contained page (inline CSS, no script) rendered from our own template with
# autoescape on; in an iframe its CSS cannot leak into the cockpit, and the height follows it.
# Its links open in a new tab: the frame may not navigate the cockpit itself (no allow-top-navigation).
st.iframe(
    built["html"].replace("<head>", '<head><base target="_blank">', 1), height="content", alt=built["title"]
)
