"""审计日志: search who saw, exported, unmasked, handled or pushed what; check that the log is intact.

Only for users with the ``audit`` or ``admin`` grant; in the open demo (no
``access`` block) anyone, with the demo notice. The filters are bound to the
URL (``?user=&kind=&since=&until=&q=``), so a search is a link. The page
reads the log and exports it (the export is itself logged); nothing here
can change an entry: :mod:`metrics.audit` has no such function, and the
database refuses it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from cockpit.ui import audit_action, page_start, set_query
from metrics import audit
from metrics.masking import has_grant

LIMIT = 500
ALL = ""

cat, scope, _data = page_start("审计日志")

open_demo = cat.config.access is None and scope.user is None
if not (open_demo or has_grant(scope, "audit") or has_grant(scope, "admin")):
    st.error("无权查看审计日志。需要 audit 或 admin 权限，请联系管理员。", icon=":material/block:")
    st.stop()
if open_demo:
    st.info(
        "演示模式：未配置访问控制，审计日志对所有人可见。配置 access 后，仅有 audit 或 admin 权限的用户可以查看。"
    )


def _from_url(key: str, param: str, read: Any = str) -> None:
    """Put the URL's value of ``param`` into the widget ``key`` whenever the URL changed (a link followed)."""
    seen = f"_url_audit_{param}"
    url_value = st.query_params.get(param, ALL)
    if st.session_state.get(seen) != url_value or key not in st.session_state:
        st.session_state[key] = read(url_value)
        st.session_state[seen] = url_value


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


# ---------------------------------------------------------------- filters, bound to the URL
try:
    known_users = audit.users(cat)
except audit.AuditError as e:
    st.error(f"审计日志无法读取：{e}")
    st.stop()

for key, param, read in (
    ("audit_user", "user", str),
    ("audit_kind", "kind", lambda k: k if k in audit.KINDS else ALL),
    ("audit_since", "since", _date),
    ("audit_until", "until", _date),
    ("audit_q", "q", str),
):
    _from_url(key, param, read)
f1, f2, f3, f4, f5 = st.columns([2, 2, 2, 2, 3], vertical_alignment="bottom")
users = list(dict.fromkeys([ALL, *known_users, st.session_state["audit_user"]]))
user = f1.selectbox("用户", users, format_func=lambda u: u or "全部用户", key="audit_user")
kind = f2.selectbox(
    "类型", [ALL, *audit.KINDS], format_func=lambda k: audit.KIND_LABEL.get(k, "全部类型"), key="audit_kind"
)
since = f3.date_input("起始日期", format="YYYY-MM-DD", key="audit_since")
until = f4.date_input("截止日期（含）", format="YYYY-MM-DD", key="audit_until")
text = f5.text_input("搜索", key="audit_q", placeholder="指标、地区、页面、条目…").strip()
since_s = since.isoformat() if isinstance(since, dt.date) else ALL
until_s = until.isoformat() if isinstance(until, dt.date) else ALL
chosen = {"user": user, "kind": kind, "since": since_s, "until": until_s, "q": text}
for name, value in chosen.items():
    st.session_state[f"_url_audit_{name}"] = value or ALL
set_query(**{k: v or None for k, v in chosen.items()})

# ---------------------------------------------------------------- the entries
try:
    entries = audit.search(
        cat,
        user=user or None,
        kind=kind or None,
        since=since_s or None,
        until=until_s or None,
        text=text or None,
        limit=LIMIT,
    )
    chain = audit.status(cat)
except audit.AuditError as e:
    st.error(f"审计日志无法读取：{e}")
    st.stop()

if chain.ok:
    st.success(
        f"审计链完整：共 {chain.entries} 条，逐条哈希校验通过。最新哈希 `{chain.head[:16]}…`"
        "（可抄录留存，日后比对可发现末尾记录被截去）。",
        icon=":material/verified_user:",
    )
else:
    st.error(
        "审计链校验未通过，日志可能被改动：\n\n" + "\n".join(f"- {p}" for p in chain.problems[:20]),
        icon=":material/gpp_bad:",
    )

said = f"找到 {len(entries)} 条" + (f"（最多显示 {LIMIT} 条，请缩小范围）" if len(entries) >= LIMIT else "")
st.caption(said + "，最新的在前。时间为当地时间。")
frame = pd.DataFrame(
    [
        {
            "序号": e.seq,
            "时间": e.at_local.replace("T", " ")[:19],
            "用户": e.user,
            "类型": e.kind_label,
            "详情": e.summary(),
            "哈希": e.hash[:12],
        }
        for e in entries
    ],
    columns=["序号", "时间", "用户", "类型", "详情", "哈希"],
)
st.dataframe(frame, hide_index=True, width="stretch", key="audit_table")

filters = {k: v for k, v in chosen.items() if v}
st.download_button(
    "导出 CSV",
    audit.to_csv_bytes(entries),
    file_name=f"审计日志_{dt.date.today().isoformat()}.csv",
    mime="text/csv",
    icon="📄",
    key="audit_export",
    on_click=lambda: audit_action(
        cat, scope, "export", what="audit_log", rows=len(entries), format="csv", filters=filters
    ),
)
st.caption(
    "审计日志只能追加，不能在本系统中修改或删除；数据库触发器拒绝任何改动，哈希链可发现系统之外的篡改。"
)
