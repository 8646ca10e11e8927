"""特别呈报: the alert inbox, closing the loop 感知 → 预警 → 处置 → 反馈.

The list holds the alerts that fired (``alerts.inbox.items``) within the
user's scope, newest first; the selected one shows its facts, the actions
its handling allows (签收, 交办, 反馈, 办结, 重新打开) and its history. The
alert engine (``cockpit alerts run``) fills the state file; this page only
reads it and records the inbox's actions.

``?indicator=&region=`` (the overview's 处置 links) filter the list;
``?alert=<id>`` selects one item.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3

import polars as pl
import streamlit as st

from alerts import inbox
from alerts.inbox import ACTION_LABEL, ALLOWED, HANDLING_LABEL, STATE_LABEL, InboxError
from alerts.run import default_state_path
from alerts.state import StateError
from cockpit.ui import link, page_start, pills_bound, set_query, view
from metrics import periods
from metrics.format import fmt_value
from metrics.models.explain import explain_finding

LIGHT = {
    "red": "🔴 红灯",
    "yellow": "🟡 黄灯",
    "green": "🟢 绿灯",
    "lightblue": "🔵 浅蓝灯",
    "blue": "🔵 蓝灯",
}
LEVEL = {"special": "特别呈报", "bulletin": "通报事项"}
ACTIONS = ("acknowledge", "assign", "feedback", "close", "reopen")
OPEN_HANDLING = ("new", "acknowledged", "assigned")  # a deadline still binds these
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!$~:(){}])")


def md_text(s: str) -> str:
    """User-written text as literal Markdown: no links, images, LaTeX or colour directives."""
    return _MD_SPECIAL.sub(r"\\\1", s).replace("\n", "  \n")


def when(ts: str | None) -> str:
    """``2026-11-05T08:00:00`` → ``2026-11-05 08:00``."""
    return ts[:16].replace("T", " ") if ts else "—"


def period_text(item: inbox.Item) -> str:
    if not item.period:
        return "—"
    ind = cat.indicators.get(item.indicator)
    try:
        return periods.label(item.period, cumulative=ind is not None and ind.accumulate != "none")
    except (ValueError, KeyError):
        return item.period


def overdue(item: inbox.Item, today: dt.date) -> bool:
    if not item.deadline or item.handling not in OPEN_HANDLING:
        return False
    try:
        return dt.date.fromisoformat(item.deadline) < today
    except ValueError:
        return False


def department(did: str | None) -> str:
    return cat.department_name(did) if did else "—"


def chinese(e: InboxError) -> str:
    """The inbox's reasons (written for the command line) in words for the page."""
    msg = str(e)
    if msg.startswith("no alert"):
        return "这条预警不存在或不在您的权限范围内。"
    if msg.startswith("unknown department"):
        return "请选择承办单位。"
    if msg.startswith("deadline"):
        return "办理期限不是有效日期。"
    if msg.startswith("feedback needs"):
        return "请填写办理情况后再提交反馈。"
    if "has not fired" in msg:
        return "这条预警尚未触发，无需处置。"
    m = re.match(r"cannot (\w+) alert .*\((.+)\)$", msg)
    if m:
        return f"这条预警当前为“{m.group(2)}”，不能{ACTION_LABEL.get(m.group(1), m.group(1))}。请刷新后再试。"
    return f"操作未完成：{msg}"


cat, scope, data = page_start("特别呈报")
v = view(cat, scope, data.rows)
path = default_state_path(cat)
user = scope.user.id if scope.user is not None else "demo"
today = dt.date.today()

flash = st.session_state.pop("_inbox_flash", None)
if flash:
    st.success(flash, icon="✅")

if not path.exists():
    st.info(
        "暂无特别呈报。\n\n"
        "预警由预警引擎生成：在 `indicators.yaml` 的指标下写明 `alerts:` 规则，"
        "再定时运行 `cockpit alerts run`（例如每 5 分钟一次）。"
        "触发的预警会推送到所配置的渠道，并出现在这里，供签收、交办、反馈和办结。",
        icon="📭",
    )
    st.stop()

try:
    found = inbox.items(cat, path, scope)
except (StateError, sqlite3.Error) as e:
    st.error(f"无法读取预警记录，请联系管理员检查状态文件：{e}")
    st.stop()

if not found:
    st.info("目前没有触发的预警。预警引擎（`cockpit alerts run`）发现新的预警后，会出现在这里。", icon="📭")
    st.stop()

# ---------------------------------------------------------------- filters
# bound to ?state= and ?handling=, so that a filtered list is a link too
f_state, f_handling = st.columns([1, 2])
states = pills_bound("状态", ["firing", "resolved"], "state", lambda s: STATE_LABEL[s], f_state, "state")
handlings = pills_bound(
    "办理", list(HANDLING_LABEL), "handling", lambda h: HANDLING_LABEL[h], f_handling, "handling"
)
shown = [
    i
    for i in found
    if (not states or i.state in states)
    and (not handlings or i.handling in handlings)
    and (v.indicator is None or i.indicator == v.indicator)
    and (v.region is None or i.region == v.region)
]
if v.indicator or v.region:
    what = "、".join(
        x
        for x in (
            cat.indicators[v.indicator].name if v.indicator else None,
            cat.tree.name(v.region) if v.region and cat.tree is not None else None,
        )
        if x
    )
    note, clear = st.columns([3, 1], vertical_alignment="center")
    note.caption(f"已按 {what} 筛选。")
    clear.button(
        "显示全部",
        key="clear_filter",
        on_click=set_query,
        kwargs={"indicator": None, "region": None, "alert": None},
    )

# ---------------------------------------------------------------- the list
st.caption(f"共 {len(shown)} 条（全部 {len(found)} 条），按预警时间从新到旧。")
if shown:
    table = pl.DataFrame(
        {
            "地区": [i.region_name for i in shown],
            "指标": [i.indicator_name for i in shown],
            "办理": [HANDLING_LABEL.get(i.handling, i.handling) for i in shown],
            "状态": [
                f"{STATE_LABEL.get(i.state, i.state)} · {LIGHT.get(i.status or '', '—')}" for i in shown
            ],
            "数值": [i.value_text() for i in shown],
            "期间": [period_text(i) for i in shown],
            "预警时间": [when(i.fired_at) for i in shown],
            "承办单位": [department(i.assignee) for i in shown],
            "期限": [(f"⚠️ {i.deadline} 已逾期" if overdue(i, today) else i.deadline or "—") for i in shown],
            "级别": [LEVEL.get(i.level, i.level) for i in shown],
            "详情": [link("detail", indicator=i.indicator, region=i.region, period=i.period) for i in shown],
            "编号": [i.id for i in shown],
        }
    )
    st.dataframe(
        table.to_pandas(),
        hide_index=True,
        width="stretch",
        column_config={"详情": st.column_config.LinkColumn("详情", display_text="查看")},
    )
else:
    st.caption("没有符合筛选条件的预警。")

# ---------------------------------------------------------------- the selected item
by_id = {i.id: i for i in found}
wanted = st.query_params.get("alert")
if wanted is not None and wanted not in by_id:
    st.warning(f"预警 {wanted} 不存在或不在您的权限范围内。", icon="🔗")
    wanted = None
ids = [i.id for i in shown]
if wanted is not None and wanted not in ids:
    ids.insert(0, wanted)
if not ids:
    st.stop()


def item_label(iid: str) -> str:
    i = by_id[iid]
    return f"{i.region_name} · {i.indicator_name} · {period_text(i)} · {HANDLING_LABEL.get(i.handling, i.handling)}"


st.divider()
chosen = st.selectbox(
    "处置事项", ids, index=ids.index(wanted) if wanted in ids else 0, format_func=item_label, key="pick_alert"
)
set_query(alert=chosen)
item = by_id[chosen]
ind = cat.indicators[item.indicator]

facts_col, act_col = st.columns([1, 1], gap="large")
with facts_col:
    st.subheader(f"{item.region_name} · {item.indicator_name}")
    facts = [
        f"- **期间**：{period_text(item)}",
        f"- **数值**：{item.value_text()}"
        + (f"（目标 {fmt_value(item.target, item.unit)}）" if item.target is not None else ""),
        f"- **状态**：{STATE_LABEL.get(item.state, item.state)} · {LIGHT.get(item.status or '', '—')}",
        f"- **预警时间**：{when(item.fired_at)}"
        + (f"；恢复时间：{when(item.resolved_at)}" if item.state == "resolved" else ""),
        f"- **级别**：{LEVEL.get(item.level, item.level)}",
        f"- **办理**：{HANDLING_LABEL.get(item.handling, item.handling)}",
    ]
    if item.assignee:
        due = f"，期限 {item.deadline}" if item.deadline else ""
        flag = "（⚠️ 已逾期）" if overdue(item, today) else ""
        facts.append(f"- **承办单位**：{department(item.assignee)}{due}{flag}")
    if ind.owner:
        facts.append(f"- **责任单位**：{department(ind.owner)}")
    if item.detail.get("when"):
        facts.append(f"- **触发条件**：`{item.detail['when']}`")
    st.markdown("\n".join(facts))
    finding = item.detail.get("finding")
    if finding:
        try:
            sentence = explain_finding({**finding, "period": item.period}, ind, item.region_name)
        except (KeyError, TypeError, ValueError):
            sentence = None
        if sentence:
            st.warning(f"异常：{sentence}", icon="📉")
    if item.detail.get("stale"):
        st.warning("数据源未按时更新（已超过约定的更新周期）。", icon="⏱️")
    st.markdown(
        f"[查看指标详情 →]({link('detail', indicator=item.indicator, region=item.region, period=item.period)})"
    )


def do(action: str, item: inbox.Item) -> None:
    """The submit callback of one action form: the inbox action by the signed-in user.

    A callback runs before the page does, with the form's values in session state, so
    the page that follows already shows the new handling. The outcome is said there.
    """
    ss = st.session_state
    kw: dict[str, str | None] = {}
    if action == "assign":
        deadline = ss.get(f"deadline-{item.id}")
        kw["department"] = ss.get(f"dept-{item.id}")
        kw["deadline"] = deadline.isoformat() if isinstance(deadline, dt.date) else None
    text = (ss.get(f"{action}-text-{item.id}") or "").strip()
    kw["text"] = text or None
    try:
        inbox.act(
            cat,
            path,
            item.id,
            action,
            user=user,
            now=dt.datetime.now().replace(microsecond=0),
            scope=scope,
            **kw,
        )
    except InboxError as e:
        ss["_inbox_error"] = chinese(e)
    except (StateError, sqlite3.Error) as e:
        ss["_inbox_error"] = f"预警记录暂时无法写入，请稍后再试：{e}"
    else:
        ss["_inbox_flash"] = f"已{ACTION_LABEL[action]}：{item.region_name} · {item.indicator_name}"


with act_col:
    st.subheader("处置")
    refused = st.session_state.pop("_inbox_error", None)
    if refused:
        st.error(refused)
    allowed = [a for a in ACTIONS if item.handling in ALLOWED[a]]
    tabs = st.tabs([ACTION_LABEL[a] for a in allowed])
    for tab, action in zip(tabs, allowed, strict=True):
        with tab, st.form(f"{action}-{item.id}", border=False, clear_on_submit=True):
            if action == "acknowledge":
                st.caption("签收表示已阅知此预警，提醒将不再推送。")
            elif action == "assign":
                depts = [d.id for d in cat.config.org.departments]
                if not depts:
                    st.caption("配置中没有部门（org.departments），无法交办。")
                default = item.assignee or ind.owner
                st.selectbox(
                    "承办单位",
                    depts,
                    index=depts.index(default) if default in depts else None,
                    format_func=department,
                    placeholder="请选择",
                    key=f"dept-{item.id}",
                )
                st.date_input(
                    "办理期限",
                    value=today + dt.timedelta(days=7),
                    min_value=today,
                    format="YYYY-MM-DD",
                    key=f"deadline-{item.id}",
                )
                st.text_area("交办意见（可选）", max_chars=500, key=f"assign-text-{item.id}")
            elif action == "feedback":
                st.text_area(
                    "办理情况",
                    max_chars=2000,
                    placeholder="已采取的措施和结果",
                    key=f"feedback-text-{item.id}",
                )
            else:
                hint = {"close": "办结说明（可选）", "reopen": "重新打开的原因（可选）"}[action]
                st.text_area(hint, max_chars=500, key=f"{action}-text-{item.id}")
            st.form_submit_button(ACTION_LABEL[action], type="primary", on_click=do, args=(action, item))
    st.caption(f"操作人：{scope.user.name if scope.user is not None else '演示用户'}（{user}）")

# ---------------------------------------------------------------- history
st.subheader("办理记录")
try:
    steps = inbox.history(cat, path, item.id, scope)
except (InboxError, StateError, sqlite3.Error):
    steps = []
lines = []
if item.fired_at:
    lines.append((item.fired_at, f"**触发预警** · {period_text(item)} {item.value_text()}"))
if item.state == "resolved" and item.resolved_at:
    lines.append((item.resolved_at, "**数据恢复正常**"))
for s in steps:
    parts = [f"**{s['what']}**"]
    if s["user"]:
        parts.append(md_text(s["user"]))
    if s["department"]:
        parts.append(f"承办单位：{md_text(department(s['department']))}")
    if s["deadline"]:
        parts.append(f"期限：{s['deadline']}")
    text = " · ".join(parts)
    if s["text"]:
        text += f"：{md_text(s['text'])}"
    lines.append((s["at"] or "", text))
lines.sort(key=lambda x: x[0])
if lines:
    st.markdown("\n".join(f"- `{when(at)}` {text}" for at, text in lines))
else:
    st.caption("暂无办理记录。")
