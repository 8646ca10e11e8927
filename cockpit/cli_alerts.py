"""``cockpit alerts …``: run the rules and push (contract section 7), and work the inbox from a shell."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from .cli import EXIT_INVALID, EXIT_OK, Abort, _align, _as_option, _config_option, _err, _guard, _load, _scope


def _now(text: str | None) -> dt.datetime:
    if not text:
        return dt.datetime.now().replace(microsecond=0)
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Abort(
            EXIT_INVALID, [f"ERROR: --now: '{text}' is not an ISO date-time (e.g. 2026-11-05T08:00)"]
        ) from None
    return t.replace(tzinfo=None) if t.tzinfo is None else t.astimezone().replace(tzinfo=None)


def _state_path(cat: Any, state: str | None) -> Path:
    from alerts.run import default_state_path

    return Path(state) if state else default_state_path(cat)


@click.group()
def alerts() -> None:
    """特别呈报: evaluate alert rules and push; list and handle alerts."""


@alerts.command("run")
@_config_option
@click.option("--now", "now_text", metavar="ISO-DATETIME", help="The time of this run (default: now).")
@click.option("--dry-run", is_flag=True, help="Show what would be pushed; write and send nothing.")
@click.option("--state", type=click.Path(dir_okay=False), help="State file (default .cockpit/state.db).")
@_guard
def run_cmd(config: str, now_text: str | None, dry_run: bool, state: str | None) -> int:
    """Evaluate the rules on the latest period and push what is new, exactly once."""
    from alerts.run import run
    from alerts.state import StateError

    cat = _load(config)
    now = _now(now_text)
    try:
        report = run(cat, now=now, state_path=_state_path(cat, state), dry_run=dry_run)
    except StateError as e:
        raise Abort(EXIT_INVALID, [f"ERROR: --state: {e}"]) from None
    for w in report.warnings:
        _err(f"WARNING: {w}")
    for e in report.errors:
        _err(e)
    words = {
        "fire": "预警",
        "resolve": "恢复",
        "remind": "提醒",
        "bulletin": "列入通报",
        "bulletin_push": "通报",
    }
    for ev, iid, title in report.events:
        click.echo(f"{words.get(ev, ev)}\t{iid}\t{title}")
    for d in report.deliveries:
        if d.outcome in ("sent", "would_send"):
            click.echo(f"{'已推送' if d.outcome == 'sent' else '将推送'}\t{d.channel}\t{d.key}\t{d.title}")
        else:
            _err(f"ERROR: channel '{d.channel}': {d.key}: push {d.outcome}: {d.detail}")
    sent = sum(d.outcome == "sent" for d in report.deliveries)
    click.echo(
        f"{'dry run: ' if dry_run else ''}{len(report.events)} events, {sent} pushed, "
        f"{len(report.failed)} failed"
        + (f", {report.held} held for the quiet hours" if report.held else "")
        + f"; {report.firing} firing, {report.pending} pending"
    )
    return report.exit_code


@alerts.command("list")
@_config_option
@click.option("--state", type=click.Path(dir_okay=False), help="State file (default .cockpit/state.db).")
@click.option("--all", "show_all", is_flag=True, help="Also pending and inactive instances.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_as_option
@_guard
def list_cmd(config: str, state: str | None, show_all: bool, fmt: str, as_user: str | None) -> int:
    """The inbox: alerts that fired, newest first, within the user's scope."""
    from dataclasses import asdict

    from alerts.inbox import HANDLING_LABEL, STATE_LABEL, items

    cat = _load(config)
    scope = _scope(cat, as_user)
    states = ("firing", "resolved", "pending", "inactive", "retired") if show_all else ("firing", "resolved")
    found = items(cat, _state_path(cat, state), scope, states=states)
    if fmt == "json":
        click.echo(json.dumps([asdict(i) for i in found], ensure_ascii=False))
        return EXIT_OK
    table = [["编号", "指标", "地区", "期间", "数值", "状态", "处置", "预警时间"]]
    for i in found:
        table.append(
            [
                i.id,
                i.indicator_name,
                i.region_name,
                i.period or "",
                i.value_text(),
                STATE_LABEL.get(i.state, i.state),
                HANDLING_LABEL.get(i.handling, i.handling),
                i.fired_at or "",
            ]
        )
    click.echo(_align(table))
    return EXIT_OK


def _act(action: str):
    @_config_option
    @click.argument("item_id")
    @click.option("--state", type=click.Path(dir_okay=False), help="State file (default .cockpit/state.db).")
    @click.option("--user", "user", metavar="USER_ID", help="Who does it (kept in the history).")
    @click.option("--now", "now_text", metavar="ISO-DATETIME", help="When (default: now).")
    @_guard
    def cmd(
        config: str, item_id: str, state: str | None, user: str | None, now_text: str | None, **kw: Any
    ) -> int:
        from alerts.inbox import InboxError, act

        cat = _load(config)
        scope = _scope(cat, user) if cat.config.access else _scope(cat, None)
        try:
            item = act(
                cat,
                _state_path(cat, state),
                item_id,
                action,
                user=user,
                now=_now(now_text),
                scope=scope,
                **kw,
            )
        except InboxError as e:
            raise Abort(EXIT_INVALID, [f"ERROR: {item_id}: {e}"]) from None
        click.echo(f"{item.id}\t{item.handling}")
        return EXIT_OK

    return cmd


def _register() -> None:
    ack = _act("acknowledge")
    alerts.command("ack", help="签收: acknowledge an alert (reminders stop).")(ack)
    assign = click.option("--deadline", metavar="YYYY-MM-DD")(
        click.option("--department", required=True, metavar="DEPT_ID")(_act("assign"))
    )
    alerts.command("assign", help="交办: assign an alert to a department with a deadline.")(assign)
    feedback = click.option("--text", required=True)(_act("feedback"))
    alerts.command("feedback", help="反馈: write what was done.")(feedback)
    alerts.command("close", help="办结: close an alert.")(_act("close"))
    alerts.command("reopen", help="Reopen a closed alert.")(_act("reopen"))


_register()


@click.command("schedule")
@_config_option
@click.option("--state", type=click.Path(dir_okay=False), help="State file (default .cockpit/state.db).")
@click.option(
    "--for", "for_seconds", type=click.FloatRange(min=0), metavar="SECONDS", help="Stop after this long."
)
@_guard
def schedule(config: str, state: str | None, for_seconds: float | None) -> int:
    """Run alert rules and bulletins on the config's schedule until stopped (Ctrl-C, SIGTERM)."""
    import signal
    import threading
    import zoneinfo

    from apscheduler.schedulers.background import BackgroundScheduler

    from alerts.schedule import Runner, build, describe, pid_note
    from metrics.catalogue import spec

    cat = _load(config)
    zone = zoneinfo.ZoneInfo((cat.config.schedule or spec.Schedule()).timezone)
    runner = Runner(Path(config), _state_path(cat, state), lambda line: click.echo(line, err=True), zone)
    sched = build(cat, runner, scheduler_cls=BackgroundScheduler)
    done = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        click.echo(f"stopping on signal {signum}", err=True)
        done.set()

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"cockpit schedule ({pid_note()}), time zone {zone.key}; jobs:", err=True)
    for line in describe(sched):
        click.echo(line, err=True)
    sched.start()
    try:
        done.wait(for_seconds)
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
    finally:
        sched.shutdown(wait=True)  # a run in progress finishes: never half a push
    return EXIT_OK
