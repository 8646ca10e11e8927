"""What an alert instance does next, and whether a delivery goes out: pure functions of state and time.

Nothing here reads the clock, the network or the state file. ``now`` is
passed in; the state comes in as values and goes out as values. The run
(:mod:`alerts.run`) stores what these return.

Instance states (data-driven)::

    inactive ──hit──▶ pending ──hit for N periods──▶ firing ──clear──▶ resolved
        ▲                │ clear                         │ (one resolved notice)
        └────────────────┘                               └──hit again──▶ firing (a new episode)

Handling (people-driven, by the inbox) lives beside it: ``new`` →
``acknowledged`` → ``assigned`` → ``feedback`` → ``closed``; a new episode
starts again at ``new``. Reminders (``repeat``) go out only while an episode
is firing and nobody has touched it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from .state import Instance, iso

GIVE_UP_AFTER = dt.timedelta(days=3)  # a delivery still failing this long after its first try is dropped


@dataclass(frozen=True)
class Observation:
    """What the latest data says about one instance.

    ``hit`` is None when the instance's region has no row in the latest
    period (or its source failed): the state is then left as it is, never
    resolved for want of data.
    """

    period: str | None
    hit: bool | None
    run: int = 0  # consecutive periods, ending at ``period``, in which the condition held
    row: dict[str, Any] = dataclasses.field(default_factory=dict)
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)


ROW_FIELDS = ("value", "target", "status", "yoy", "mom", "rank")


def step(inst: Instance, obs: Observation, need: int, now: dt.datetime) -> tuple[Instance, list[str]]:
    """The instance after ``obs``, and its events: ``fire`` and/or ``resolve`` (at most one)."""
    if obs.hit is None or obs.period is None:
        return inst, []
    new = dataclasses.replace(inst, period=obs.period, updated_at=iso(now))
    if obs.hit:
        for f in ROW_FIELDS:
            setattr(new, f, obs.row.get(f))
        new.detail = json.dumps(obs.detail, ensure_ascii=False, default=str) if obs.detail else None
        if inst.state == "firing":
            return new, []
        if obs.run >= need:
            new.state = "firing"
            new.episode = inst.episode + 1
            new.since = obs.period
            new.fired_at = iso(now)
            new.resolved_at = None
            new.handling, new.assignee, new.deadline = "new", None, None
            return new, ["fire"]
        new.state = "pending"
        return new, []
    if inst.state == "firing":
        new.state = "resolved"
        new.resolved_at = iso(now)
        for f in ROW_FIELDS:
            setattr(new, f, obs.row.get(f, getattr(inst, f)))
        # the resolved value is shown: whether its group is too small to show is the new row's
        kept = {k: v for k, v in (inst.details or {}).items() if k not in ("small", "masked")}
        kept.update({k: obs.detail[k] for k in ("small", "masked") if k in obs.detail})
        new.detail = json.dumps(kept, ensure_ascii=False, default=str) if kept else None
        return new, ["resolve"]
    if inst.state == "pending":
        new.state = "inactive"
    return new, []


def reminder_due(inst: Instance, repeat: dt.timedelta | None, now: dt.datetime) -> int | None:
    """The number of the reminder due now (1, 2, …), or None.

    Only while firing and untouched (handling ``new``); only the latest due
    one, so a run after a long pause sends one reminder, not a backlog.
    """
    if repeat is None or repeat.total_seconds() <= 0 or inst.state != "firing" or inst.handling != "new":
        return None
    if not inst.fired_at:
        return None
    n = int((now - dt.datetime.fromisoformat(inst.fired_at)) / repeat)
    return n if n >= 1 else None


def delivery_action(delivery: dict[str, Any] | None, now: dt.datetime) -> str:
    """``send``, ``drop`` (given up) or ``skip`` (already sent or dropped) for one notice × channel.

    A delivery never tried, failed, or left ``sending`` by a killed run is
    sent (again). One still failing :data:`GIVE_UP_AFTER` after its first try
    is dropped and reported.
    """
    if delivery is None:
        return "send"
    if delivery["status"] in ("sent", "dropped"):
        return "skip"
    first = delivery.get("first_try")
    if first and now - dt.datetime.fromisoformat(first) > GIVE_UP_AFTER:
        return "drop"
    return "send"


def backoff(attempt: int, base: float = 1.0, cap: float = 8.0) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, …) inside one run: 1, 2, 4, 8, 8 …"""
    return min(cap, base * 2 ** (attempt - 1))


# ----------------------------------------------------------------- when: bulletins and quiet hours


def _hm(text: str) -> dt.time:
    h, m = text.split(":")
    return dt.time(int(h), int(m))


def in_quiet_hours(now: dt.datetime, start: str | None, end: str | None) -> bool:
    """True inside ``start``–``end`` (local times; a span over midnight such as 22:00–07:00 works)."""
    if not start or not end:
        return False
    a, b, t = _hm(start), _hm(end), now.time()
    return a <= t < b if a <= b else (t >= a or t < b)


HELD_IN_QUIET_HOURS = ("resolve", "remind", "bulletin")  # a 特别呈报 (fire) always goes at once


def bulletin_due(now: dt.datetime, rhythm: str, at: str | None, day: int | None = None) -> bool:
    """May a bulletin of this rhythm go out now? Only from its slot of the current cycle on.

    Without ``at``: always (it goes as soon as its period has data). Daily:
    from ``at`` each day. Weekly: from ``day`` (1 = Monday, default 1) at
    ``at``. Monthly and longer: from the month's ``day`` (default 1) at
    ``at``. The period pushed is still the latest with data, once.
    """
    if at is None:
        return True
    t = _hm(at)
    if rhythm == "daily":
        slot = dt.datetime.combine(now.date(), t)
    elif rhythm == "weekly":
        monday = now.date() - dt.timedelta(days=now.isoweekday() - 1)
        slot = dt.datetime.combine(monday + dt.timedelta(days=min(max(day or 1, 1), 7) - 1), t)
    else:
        slot = dt.datetime.combine(now.date().replace(day=min(max(day or 1, 1), 28)), t)
    return now >= slot
