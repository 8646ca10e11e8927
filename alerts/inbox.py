"""The 特别呈报 inbox: list alerts within a user's scope, and close the loop 感知 → 预警 → 处置 → 反馈.

What the pages and ``cockpit alerts`` call; the run (:mod:`alerts.run`)
moves the data states, the inbox moves the handling:

``acknowledge``  签收: someone has seen it (reminders stop);
``assign``       交办: to a department, with a deadline;
``feedback``     反馈: what was done, in words;
``close``        办结: handled (the data may still be red; a new episode opens a new item).

Every action is kept in the history with who and when. An item outside the
user's scope (region or domain) is invisible and cannot be acted on: to that
user it does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metrics.access import OPEN, Scope
from metrics.catalogue.load import Catalogue
from metrics.catalogue.problems import did_you_mean

from . import state
from .message import detail_link, region_name

HANDLING_LABEL = {
    "new": "待签收",
    "acknowledged": "已签收",
    "assigned": "已交办",
    "feedback": "已反馈",
    "closed": "已办结",
}
STATE_LABEL = {
    "pending": "观察中",
    "firing": "预警中",
    "resolved": "已恢复",
    "inactive": "正常",
    "retired": "规则已停用",
}
ACTION_LABEL = {
    "acknowledge": "签收",
    "assign": "交办",
    "feedback": "反馈",
    "close": "办结",
    "reopen": "重新打开",
}


class InboxError(ValueError):
    """An action that cannot be done (unknown item, out of scope, wrong step); the message says why."""


@dataclass(frozen=True)
class Item:
    id: str
    indicator: str
    indicator_name: str
    region: str | None
    region_name: str
    level: str
    state: str
    handling: str
    episode: int
    period: str | None
    value: float | None
    target: float | None
    status: str | None
    unit: str
    fired_at: str | None
    resolved_at: str | None
    assignee: str | None
    deadline: str | None
    rule: str
    link: str
    detail: dict[str, Any]
    small: str | None = None  # "<5": the group is too small to show its value (metrics.masking)

    def value_text(self) -> str:
        from metrics.format import fmt_value

        return self.small or fmt_value(self.value, self.unit)


def _visible(cat: Catalogue, scope: Scope, inst: state.Instance) -> bool:
    ind = cat.indicators.get(inst.indicator)
    return ind is not None and scope.sees_indicator(ind) and scope.sees_region(inst.region)


def _item(cat: Catalogue, inst: state.Instance, scope: Scope = OPEN) -> Item:
    """The inbox's view of an instance; a group too small to show reads ``<5`` for ``scope``
    (unless it has the ``unmask`` grant), as on the pages."""
    from metrics.masking import suppression_applies

    ind = cat.indicators[inst.indicator]
    hide = suppression_applies(cat, scope, ind)
    small = inst.details.get("small") if hide else None
    masked = set(inst.details.get("masked") or []) if hide else set()
    return Item(
        inst.id,
        inst.indicator,
        ind.name,
        inst.region,
        region_name(cat, inst.region),
        inst.level,
        inst.state,
        inst.handling,
        inst.episode,
        inst.period,
        None if small else inst.value,
        None if small else inst.target,
        None if small else inst.status,
        ind.unit or "",
        inst.fired_at,
        inst.resolved_at,
        inst.assignee,
        inst.deadline,
        inst.rule,
        detail_link(cat, inst.indicator, inst.region, inst.period),
        {k: v for k, v in inst.details.items() if not (small and k == "finding") and k not in masked},
        small,
    )


def items(
    cat: Catalogue,
    state_path: Path,
    scope: Scope = OPEN,
    *,
    states: tuple[str, ...] = ("firing", "resolved"),
    level: str | None = None,
) -> list[Item]:
    """Alerts the user may see, newest first; by default those that fired (firing or resolved)."""
    if not state_path.exists():
        return []
    con = state.connect(state_path)
    try:
        insts = state.load_instances(con).values()
    finally:
        con.close()
    out = [
        _item(cat, i, scope)
        for i in insts
        if i.episode > 0
        and i.state in states
        and (level is None or i.level == level)
        and _visible(cat, scope, i)
    ]
    out.sort(key=lambda i: (i.fired_at or "", i.id), reverse=True)
    return out


def history(cat: Catalogue, state_path: Path, item_id: str, scope: Scope = OPEN) -> list[dict[str, Any]]:
    """The item's actions and deliveries, oldest first, each with ``at`` and ``what``."""
    con = state.connect(state_path)
    try:
        inst = _get(cat, con, item_id, scope)
        out = [
            {
                "at": a["at"],
                "what": ACTION_LABEL.get(a["action"], a["action"]),
                "user": a["user"],
                "episode": a["episode"],
                "department": a["department"],
                "deadline": a["deadline"],
                "text": a["text"],
            }
            for a in state.actions(con, inst.id)
        ]
        for d in state.deliveries(con, inst.id):
            out.append(
                {
                    "at": d["sent_at"] or d["last_try"],
                    "what": f"推送 {d['channel']}：{ {'sent': '已送达', 'failed': '失败', 'sending': '发送中', 'dropped': '已放弃'}.get(d['status'], d['status']) }",
                    "user": None,
                    "episode": int(d["key"].split(":")[-1]) if d["kind"] != "remind" else None,
                    "department": None,
                    "deadline": None,
                    "text": d["error"] or d["title"],
                }
            )
    finally:
        con.close()
    return sorted(out, key=lambda r: r["at"] or "")


def _get(cat: Catalogue, con: Any, item_id: str, scope: Scope) -> state.Instance:
    inst = state.get_instance(con, item_id)
    if inst is None or not _visible(cat, scope, inst):
        raise InboxError(f"no alert '{item_id}'")
    return inst


ALLOWED = {
    "acknowledge": ("new",),
    "assign": ("new", "acknowledged", "assigned", "feedback"),
    "feedback": ("acknowledged", "assigned", "feedback"),
    "close": ("new", "acknowledged", "assigned", "feedback"),
    "reopen": ("closed",),
}


def act(
    cat: Catalogue,
    state_path: Path,
    item_id: str,
    action: str,
    *,
    user: str | None,
    now: dt.datetime,
    scope: Scope = OPEN,
    department: str | None = None,
    deadline: str | None = None,
    text: str | None = None,
) -> Item:
    """Do one inbox action; returns the item after it. Raises :class:`InboxError` with a reason.

    Done or refused, the attempt is written to the audit log (``inbox``: the
    action, the item, the outcome; a feedback's text stays in the inbox).
    """
    try:
        item = _act(cat, state_path, item_id, action, user, now, scope, department, deadline, text)
    except InboxError as e:
        _audit(cat, scope, user, action, item_id, f"refused: {e}")
        raise
    _audit(cat, scope, user, action, item_id, "done", department=department, deadline=deadline)
    return item


def _audit(
    cat: Catalogue, scope: Scope, user: str | None, action: str, item_id: str, outcome: str, **more: Any
) -> None:
    from metrics import audit

    who = user or (scope.user.id if scope.user is not None else None)
    audit.try_record(cat, "inbox", who, action=action, item=item_id, outcome=outcome, **more)


def _act(
    cat: Catalogue,
    state_path: Path,
    item_id: str,
    action: str,
    user: str | None,
    now: dt.datetime,
    scope: Scope,
    department: str | None,
    deadline: str | None,
    text: str | None,
) -> Item:
    if action not in ALLOWED:
        raise InboxError(f"unknown action '{action}'{did_you_mean(action, list(ALLOWED))}")
    if action == "assign":
        depts = [d.id for d in cat.config.org.departments]
        if not department or department not in depts:
            raise InboxError(f"unknown department '{department}'{did_you_mean(department or '', depts)}")
        if deadline:
            try:
                dt.date.fromisoformat(deadline)
            except ValueError:
                raise InboxError(f"deadline '{deadline}' is not a date (YYYY-MM-DD)") from None
    if action == "feedback" and not (text or "").strip():
        raise InboxError("feedback needs a text")
    con = state.connect(state_path)
    try:
        with state.transaction(con):
            inst = _get(cat, con, item_id, scope)
            if inst.episode == 0:
                raise InboxError(f"alert '{item_id}' has not fired")
            if inst.handling not in ALLOWED[action]:
                raise InboxError(
                    f"cannot {action} alert '{item_id}': it is {inst.handling} ({HANDLING_LABEL[inst.handling]})"
                )
            if action == "acknowledge":
                inst.handling = "acknowledged"
            elif action == "assign":
                inst.handling, inst.assignee, inst.deadline = "assigned", department, deadline
            elif action == "feedback":
                inst.handling = "feedback"
            elif action == "close":
                inst.handling = "closed"
            elif action == "reopen":
                inst.handling = "acknowledged"
            inst.updated_at = state.iso(now)
            state.save_instance(con, inst)
            state.add_action(
                con, inst, now, user, action, department=department, deadline=deadline, text=text
            )
        return _item(cat, inst, scope)
    finally:
        con.close()


def bulletin_items(cat: Catalogue, state_path: Path, scope: Scope = OPEN) -> list[Any]:
    """The ``level: bulletin`` alerts firing now, as :class:`alerts.bulletin.BulletinAlert` items."""
    from metrics import periods

    from .bulletin import BulletinAlert

    out = []
    for i in items(cat, state_path, scope, states=("firing",), level="bulletin"):
        if i.period is None:
            continue
        when = periods.label(i.period, cumulative=cat.indicators[i.indicator].accumulate != "none")
        rule = i.detail.get("when", "")
        text = f"{i.region_name}{i.indicator_name}{when}为 {i.value_text()}（{rule}）"
        out.append(BulletinAlert(i.indicator, i.region or "", i.period, text))
    return out
