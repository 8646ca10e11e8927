"""``cockpit alerts run``: evaluate the rules on the latest data, move the instances, push what is new.

One run, in order:

1. compute the rows of the indicators that have rules (and run the detector
   for those whose rules name ``anomaly``);
2. under an exclusive lock on the state file, in ONE transaction: move every
   rule × region instance (:func:`alerts.policy.step`) and record a notice
   for each event to push (fire, resolve, a due reminder, a due bulletin);
3. deliver every notice × channel not yet sent, one at a time, each marked
   ``sending`` before the push and ``sent`` as soon as the channel accepts
   it. A retryable failure is retried inside the run with backoff; what
   still fails stays ``failed`` and is retried by the next run.

Exactly once follows from the notice keys (one per instance episode and
event) and the delivery log: a run that finds nothing new pushes nothing. A
run killed between a push and its ``sent`` record sends that one push again
next time: the worst case, and the only one.

``--dry-run`` does steps 1 and 2 in a transaction that is rolled back, and
lists what would be pushed; nothing is written and nothing sent.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from metrics.access import scope_for
from metrics.catalogue import spec
from metrics.catalogue.load import Catalogue
from metrics.catalogue.rules import grain_of

from . import policy, state
from .message import alert_message, as_channel_message, region_name
from .rules import Rule, evaluate, instance_id, rules_of, uses_anomaly

Sender = Callable[..., str]


@dataclass
class Delivery:
    key: str
    channel: str
    outcome: str  # sent | failed | dropped | would_send
    detail: str = ""
    title: str = ""


@dataclass
class RunReport:
    now: dt.datetime
    dry_run: bool = False
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (event, instance id, title)
    deliveries: list[Delivery] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    firing: int = 0
    pending: int = 0
    held: int = 0  # deliveries waiting for the end of the quiet hours

    @property
    def failed(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.outcome in ("failed", "dropped")]

    @property
    def exit_code(self) -> int:
        return 1 if (self.failed or self.errors) else 0


def default_state_path(cat: Catalogue) -> Path:
    return cat.state_dir / "state.db"


def run(
    cat: Catalogue,
    *,
    now: dt.datetime | None = None,
    state_path: Path | None = None,
    dry_run: bool = False,
    send: Sender | None = None,
    sleep: Callable[[float], None] = time.sleep,
    tries: int = 3,
    lock_wait: float = 600.0,
) -> RunReport:
    """One alert run (see the module docstring). ``send`` defaults to :func:`alerts.channels.send`."""
    now = now or dt.datetime.now().replace(microsecond=0)
    report = RunReport(now, dry_run)
    path = state_path or default_state_path(cat)
    rules = rules_of(cat)
    rows, findings, stale, failed = _observe(cat, rules, now, report)
    observations = evaluate(cat, rules, rows, findings, stale, failed)
    with state.run_lock(path, wait=lock_wait):
        con = state.connect(path)
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                _advance(cat, con, rules, observations, rows, now, report)
                if not dry_run:
                    con.execute("COMMIT")
                built = _build_bulletins(cat, con, path, now, report)
                if not dry_run:
                    con.execute("BEGIN IMMEDIATE")
                for r in _form_reminders(cat, now, report):
                    if state.add_notice(con, r.key, "remind", None, now, r.message, None, list(r.channels)):
                        report.events.append(("form_reminder", r.key, r.message["title"]))
                for key, channels, message, attachment in built:
                    if state.add_notice(con, key, "bulletin", None, now, message, None, channels, attachment):
                        report.events.append(("bulletin_push", key, message["title"]))
                    state.set_meta(con, _checked_key(key), state.iso(now))
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise
            if dry_run:
                for notice, ch, _ in state.open_deliveries(con):
                    report.deliveries.append(
                        Delivery(notice.key, ch, "would_send", "", notice.message["title"])
                    )
                con.execute("ROLLBACK")
                return report
            con.execute("COMMIT")
            _deliver(cat, con, now, report, send, sleep, tries)
        finally:
            con.close()
    return report


# ----------------------------------------------------------------- 1. observe


def _observe(
    cat: Catalogue, rules: Sequence[Rule], now: dt.datetime, report: RunReport
) -> tuple[pl.DataFrame, list[dict[str, Any]], set[str], set[str]]:
    from metrics.engine import ROW_SCHEMA, Engine

    ids = sorted({r.indicator.id for r in rules})
    if not ids:
        return pl.DataFrame(schema=ROW_SCHEMA), [], set(), set()
    res = Engine(cat, now=now).compute(ids)
    report.warnings += res.warnings
    report.errors += res.errors
    for ind_id, why in res.failed.items():
        if not any(why in e for e in res.errors):
            report.errors.append(f"ERROR: indicator '{ind_id}': {why}")
    findings: list[dict[str, Any]] = []
    wanted = uses_anomaly(rules)
    if wanted:
        from metrics.models.runner import findings as detect_all

        inds = [cat.indicators[i] for i in sorted(wanted) if i not in res.failed]
        grains = {i.id: grain_of(cat.indicators, i.id) or "month" for i in inds}
        subset = res.rows.filter(pl.col("indicator").is_in([i.id for i in inds]))
        findings = detect_all(inds, subset, grains)
    return res.rows, findings, set(res.stale), set(res.failed)


# ----------------------------------------------------------------- 2. advance the state


def _advance(
    cat: Catalogue,
    con: sqlite3.Connection,
    rules: Sequence[Rule],
    observations: Sequence[tuple[Rule, str | None, policy.Observation]],
    rows: pl.DataFrame,
    now: dt.datetime,
    report: RunReport,
) -> None:
    known = state.load_instances(con)
    live: set[str] = set()
    for rule, region, obs in observations:
        iid = instance_id(rule.indicator.id, rule.key, region)
        live.add(iid)
        inst = known.get(iid) or state.Instance(
            iid, rule.indicator.id, rule.key, region, rule.spec.level, updated_at=state.iso(now)
        )
        inst.level = rule.spec.level
        new, events = policy.step(inst, obs, rule.need, now)
        if new is not inst:
            state.save_instance(con, new)
        for ev in events:
            _notify(cat, con, rule, new, ev, rows, now, report)
        due = policy.reminder_due(new, _repeat(rule), now)
        if due is not None:
            _notify(cat, con, rule, new, "remind", rows, now, report, reminder=due)
    # instances whose rule was removed or edited stop here (never left firing in the inbox)
    current = {f"{r.indicator.id}|{r.key}" for r in rules}
    for iid, inst in known.items():
        if iid not in live and inst.state in ("firing", "pending") and iid.rsplit("|", 1)[0] not in current:
            inst.state, inst.updated_at = "retired", state.iso(now)
            state.save_instance(con, inst)
    n = con.execute("SELECT state, COUNT(*) FROM instances GROUP BY state").fetchall()
    counts = dict((r[0], r[1]) for r in n)
    report.firing, report.pending = counts.get("firing", 0), counts.get("pending", 0)


def _repeat(rule: Rule) -> dt.timedelta | None:
    return spec.parse_duration(rule.spec.repeat) if rule.spec.repeat is not None else None


def _notify(
    cat: Catalogue,
    con: sqlite3.Connection,
    rule: Rule,
    inst: state.Instance,
    event: str,
    rows: pl.DataFrame,
    now: dt.datetime,
    report: RunReport,
    reminder: int | None = None,
) -> None:
    key = f"{event}:{inst.id}:{inst.episode}" + (f":{reminder}" if reminder else "")
    if rule.spec.level != "special":
        if event == "fire":
            report.events.append(
                ("bulletin", inst.id, f"{rule.indicator.name} · {region_name(cat, inst.region)}")
            )
        return
    channels = channels_for(cat, rule.spec.notify, rule.indicator, inst.region)
    if state.has_notice(con, key):
        return
    shown, small = small_group_masked(inst)
    message = alert_message(cat, rule.indicator, inst.region, shown, event, rule.label, reminder, small)
    chart = None
    if small is None and any(isinstance(cat.config.channels[c], spec.EmailChannel) for c in channels):
        chart = _chart(cat, rule.indicator, inst, rows, report)
    state.add_notice(con, key, event, inst.id, now, message, chart, channels)
    report.events.append((event, inst.id, message["title"]))


def small_group_masked(inst: state.Instance) -> tuple[state.Instance, str | None]:
    """The instance as a push may show it: a 敏感 indicator's group under ``access.min_group_size``
    reads ``<5`` (its value, target gap, 同比 and 环比 left out, and no chart), and a change against
    a hidden base is left out, as on the pages (:func:`alerts.rules.small_groups`).

    Robots post to groups and mail is forwarded, so pushes are masked for everyone, a channel
    bound to a user with the ``unmask`` grant too; the cockpit's pages show that user the rest.
    """
    detail = inst.details
    if detail.get("small"):
        return replace(inst, value=None, yoy=None, mom=None, target=None), str(detail["small"])
    masked = detail.get("masked") or []
    if masked:
        return replace(inst, **{k: None for k in masked if k in ("yoy", "mom")}), None
    return inst, None


def channels_for(cat: Catalogue, names: Sequence[str], ind: spec.Indicator, region: str | None) -> list[str]:
    """The named channels that may receive this indicator × region: a channel bound to a ``user``
    receives only what that user may see (contract section 9)."""
    out = []
    for name in names:
        ch = cat.config.channels.get(name)
        if ch is None:
            continue
        if ch.user:
            scope = scope_for(cat, ch.user)
            if not (scope.sees_indicator(ind) and scope.sees_region(region)):
                continue
        out.append(name)
    return out


def _chart(
    cat: Catalogue, ind: spec.Indicator, inst: state.Instance, rows: pl.DataFrame, report: RunReport
) -> bytes | None:
    """The indicator's last 13 periods in this region as a PNG, for email; None if it cannot be drawn.
    A period whose group is too small to show (metrics.masking) is a gap."""
    from metrics import periods
    from metrics.access import OPEN
    from metrics.masking import suppress_small

    mine = rows.filter(
        (pl.col("indicator") == ind.id) & (pl.col("region") == inst.region) & pl.col("department").is_null()
    )
    if mine.is_empty():
        return None
    mine = suppress_small(mine, cat, OPEN)
    pts = sorted(
        zip(mine["period"].to_list(), mine["value"].to_list(), strict=True),
        key=lambda p: periods.ordinal(p[0]),
    )
    try:
        from .chart import indicator_chart_png

        return indicator_chart_png(
            pts[-13:], title=ind.name, unit=ind.unit or "", target=inst.target, highlight=inst.period
        )
    except Exception as e:  # a chart is a nicety: the push goes without it
        report.warnings.append(f"alert chart for {ind.id}: {type(e).__name__}: {e}")
        return None


# ----------------------------------------------------------------- 2b. bulletins on their rhythm

BULLETIN_RECHECK = dt.timedelta(hours=1)  # a declared bulletin is rebuilt at most this often


def _checked_key(notice_key: str) -> str:
    """``bulletin:<id>:<period>[@user]`` → the meta key of that bulletin's last build."""
    rest = notice_key.partition(":")[2]
    bid, _, tail = rest.partition(":")
    return f"bulletin_checked:{bid}@{tail.partition('@')[2]}"


def _build_bulletins(
    cat: Catalogue, con: sqlite3.Connection, path: Path, now: dt.datetime, report: RunReport
) -> list[tuple[str, list[str], dict[str, Any], tuple[str, bytes] | None]]:
    """The declared bulletins due: (key, channels, message, attachment) for each period not pushed yet.

    A bulletin goes out once per period of its rhythm, as soon as that period
    has data (``alerts.bulletin``'s default period). Channels bound to a user
    get the bulletin as that user may see it (contract section 9), under
    their own key. Email gets the whole bulletin as self-contained HTML,
    attached. Building takes seconds, so each bulletin is rebuilt at most
    once per :data:`BULLETIN_RECHECK`.
    """
    from .bulletin import BulletinError, build_bulletin
    from .inbox import bulletin_items

    out: list[tuple[str, list[str], dict[str, Any], tuple[str, bytes] | None]] = []
    for b in cat.config.bulletins:
        groups: dict[str | None, list[str]] = {}
        for name in b.notify:
            ch = cat.config.channels.get(name)
            if ch is not None:
                groups.setdefault(ch.user, []).append(name)
        if not policy.bulletin_due(now, b.rhythm, b.at, b.day):
            continue
        for user, channels in groups.items():
            last = state.get_meta(con, f"bulletin_checked:{b.id}@{user or ''}")
            if last and now - dt.datetime.fromisoformat(last) < BULLETIN_RECHECK:
                continue
            scope = scope_for(cat, user)
            try:
                doc = build_bulletin(
                    cat, bulletin_id=b.id, scope=scope, alerts=bulletin_items(cat, path, scope), now=now
                )
            except BulletinError as e:
                report.errors.append(f"ERROR: bulletin '{b.id}': {e}")
                continue
            report.errors += [e for e in doc.errors if e not in report.errors]
            if doc.period is None:
                continue
            key = f"bulletin:{b.id}:{doc.period}" + (f"@{user}" if user else "")
            if state.has_notice(con, key):
                state.set_meta(con, _checked_key(key), state.iso(now))
                continue
            attachment = None
            if any(isinstance(cat.config.channels[c], spec.EmailChannel) for c in channels):
                from .bulletin import render

                name = f"{b.id}-{doc.period}.html"
                attachment = (name, render(doc, "html").encode("utf-8"))
            out.append((key, channels, bulletin_message(cat, doc), attachment))
    return out


def bulletin_message(cat: Catalogue, doc: Any, flags: int = 10) -> dict[str, Any]:
    """A bulletin's push: its summary, the first red and yellow lights, and the link to all of it."""
    from urllib.parse import urlencode

    from metrics.format import fmt_value

    base = cat.config.site.base_url.rstrip("/")
    q = {"bulletin": doc.id, "period": doc.period, "region": doc.region}
    link = f"{base}/bulletins?{urlencode({k: v for k, v in q.items() if v})}"
    title = f"【数据通报】{doc.title}（{doc.period_label}）"
    lines = [f"### {title}", "", doc.summary]
    if doc.flags:
        shown = min(flags, len(doc.flags))
        lines += ["", f"**红黄灯**（共 {len(doc.flags)} 项，列前 {shown} 项）：", ""]
        for f in doc.flags[:flags]:
            # five-light indicators flag 蓝/浅蓝 too
            dot = {"red": "🔴", "yellow": "🟡", "blue": "🔵", "lightblue": "🔵"}.get(f.status, "⚪")
            lines.append(f"- {dot} {f.subject_name} {f.name} {fmt_value(f.value, f.unit)}")
    if doc.alerts:
        lines += ["", f"**需关注的预警事项**：{len(doc.alerts)} 项"]
    lines += ["", f"[查看完整通报]({link})"]
    return {"title": title, "markdown": "\n".join(lines), "link": link, "level": "bulletin"}


# ----------------------------------------------------------------- 2c. form reminders


def _form_reminders(cat: Catalogue, now: dt.datetime, report: RunReport) -> list[Any]:
    """The 数据填报 reminders due now (:func:`metrics.forms.reminders_due`); their keys make them once."""
    if not any(getattr(s, "type", None) == "form" for s in cat.config.sources.values()):
        return []
    from metrics.forms import FormStore, reminders_due

    try:
        return [r for r in reminders_due(cat, FormStore.for_catalogue(cat), now) if r.channels]
    except Exception as e:  # a broken form store must not stop the alerts
        report.errors.append(f"ERROR: form reminders: {type(e).__name__}: {e}")
        return []


# ----------------------------------------------------------------- 3. deliver


def _deliver(
    cat: Catalogue,
    con: sqlite3.Connection,
    now: dt.datetime,
    report: RunReport,
    send: Sender | None,
    sleep: Callable[[float], None],
    tries: int,
) -> None:
    if send is None:
        from .channels import send as send_default

        send = send_default
    from .channels import DeliveryError

    quiet = cat.config.schedule.quiet_hours if cat.config.schedule else None
    hold = quiet is not None and policy.in_quiet_hours(now, quiet.start, quiet.end)
    for notice, name, delivery in state.open_deliveries(con):
        title = notice.message.get("title", "")
        if hold and notice.kind in policy.HELD_IN_QUIET_HOURS:
            report.held += 1
            continue  # after the quiet hours, the next run sends it
        action = policy.delivery_action(delivery, now)
        channel = cat.config.channels.get(name)
        if action == "drop" or channel is None:
            why = (
                "channel no longer configured"
                if channel is None
                else f"still failing after {policy.GIVE_UP_AFTER}"
            )
            state.mark_done(con, notice.id, name, "dropped", now, error=why)
            _delivered(cat, report, Delivery(notice.key, name, "dropped", why, title))
            continue
        if action != "send":
            continue
        message = as_channel_message(notice.message, notice.chart, notice.attachment)
        for attempt in range(1, tries + 1):
            state.mark_sending(con, notice.id, name, now)
            try:
                receipt = send(name, channel, message)  # signing needs the real clock, not the run's
            except DeliveryError as e:
                if e.retryable and attempt < tries:
                    sleep(policy.backoff(attempt))
                    continue
                state.mark_done(con, notice.id, name, "failed", now, error=e.detail)
                _delivered(cat, report, Delivery(notice.key, name, "failed", e.detail, title))
                break
            except Exception as e:  # a channel's bug must not stop the other pushes
                detail = f"{type(e).__name__}: {e}"
                state.mark_done(con, notice.id, name, "failed", now, error=detail)
                _delivered(cat, report, Delivery(notice.key, name, "failed", detail, title))
                break
            state.mark_done(con, notice.id, name, "sent", now, receipt=receipt)
            _delivered(cat, report, Delivery(notice.key, name, "sent", receipt, title))
            break


def _delivered(cat: Catalogue, report: RunReport, d: Delivery) -> None:
    """Report one delivery's outcome and write it to the audit log (``push``, by ``system``)."""
    from metrics import audit

    report.deliveries.append(d)
    channel = cat.config.channels.get(d.channel)
    failed = audit.try_record(
        cat,
        "push",
        audit.SYSTEM_USER,
        channel=d.channel,
        recipient=getattr(channel, "user", None),
        notice=d.key,
        outcome=d.outcome,
        title=d.title,
        run_at=report.now,
    )
    if failed:
        report.warnings.append(f"audit log: {failed}")
