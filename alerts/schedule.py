"""``cockpit schedule``: a long-running scheduler (APScheduler) for alert runs and bulletins.

What it runs comes from the config's ``schedule:`` block and the bulletins'
``at``::

    schedule:
      timezone: Asia/Shanghai
      alerts: {every: 5m, on_refresh: true}
      quiet_hours: {start: "22:00", end: "07:30"}
    bulletins:
      - {id: hotline_daily, name: 12345重要数据快报, rhythm: daily, at: "08:00", notify: [duty_robot]}

Jobs, each one alert run (:func:`alerts.run.run`, which also sends the
bulletins that are due):

* every ``alerts.every`` (default 5 minutes);
* with ``on_refresh``, as soon as a file source changed (its size or
  modification time, checked every 30 seconds);
* at each bulletin's ``at`` (daily; on its weekday for weekly ones; on its
  day of the month for the others), so that it goes out on the minute.

A job never overlaps itself, and a missed firing (the machine slept) runs
once, not as a backlog. The config is read again at every run, so an edit to
``indicators.yaml`` takes effect without a restart; a config that no longer
validates is reported and the run skipped, and the next one tries again.
Exactly once still comes from the state file: a run started by the scheduler
and one started by hand at the same time wait for each other's lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

from metrics.catalogue import spec
from metrics.catalogue.load import Catalogue, load_catalogue
from metrics.catalogue.problems import ConfigError

log = logging.getLogger("cockpit.schedule")

REFRESH_CHECK = dt.timedelta(seconds=30)


def watermark(cat: Catalogue) -> tuple:
    """What changes when a file source is refreshed: each file's size and modification time
    (for a folder or a glob, every file under it: a new file in ``month=2026-11/`` counts)."""
    from connectors.embedded import file_fingerprint

    out: list[tuple] = []
    for sid, src in sorted(cat.config.sources.items()):
        path = getattr(src, "path", None)
        if not path or "://" in str(path):
            continue
        p = cat.resolve(path)
        try:
            if p.is_dir() or any(ch in str(p) for ch in "*?["):
                out.append((sid, file_fingerprint(p), None))
                continue
            st = p.stat()
            out.append((sid, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((sid, None, None))
    return tuple(out)


class Runner:
    """Loads the config afresh and does one alert run; the scheduler's jobs call it."""

    def __init__(
        self,
        config: Path,
        state_path: Path | None,
        echo: Callable[[str], None],
        zone: zoneinfo.ZoneInfo,
        run: Callable[..., Any] | None = None,
    ) -> None:
        self.config = config
        self.state_path = state_path
        self.echo = echo
        self.zone = zone
        self._run = run
        self._mark: tuple | None = None

    def now(self) -> dt.datetime:
        return dt.datetime.now(self.zone).replace(tzinfo=None, microsecond=0)

    def load(self) -> Catalogue | None:
        try:
            return load_catalogue(self.config)
        except ConfigError as e:
            for p in e.problems:
                self.echo(str(p))
            self.echo("ERROR: schedule: the config does not validate; this run is skipped")
            return None

    def alerts(self, why: str = "schedule") -> None:
        from .run import run

        cat = self.load()
        if cat is None:
            return
        self._mark = watermark(cat)
        try:
            report = (self._run or run)(cat, now=self.now(), state_path=self.state_path)
        except Exception as e:  # a job must never kill the scheduler
            self.echo(f"ERROR: alert run ({why}): {type(e).__name__}: {e}")
            return
        for w in report.warnings:
            self.echo(f"WARNING: {w}")
        for e in report.errors:
            self.echo(e)
        sent = sum(d.outcome == "sent" for d in report.deliveries)
        failed = len(report.failed)
        self.echo(
            f"{self.now().isoformat()} alert run ({why}): {len(report.events)} events, {sent} pushed, "
            f"{failed} failed, {report.held} held; {report.firing} firing"
        )

    def refresh(self) -> None:
        cat = self.load()
        if cat is None:
            return
        mark = watermark(cat)
        if self._mark is not None and mark != self._mark:
            self.alerts("data refreshed")
        self._mark = mark


def build(
    cat: Catalogue,
    runner: Runner,
    *,
    scheduler_cls: Any = None,
) -> Any:
    """An APScheduler scheduler with the jobs of ``cat``'s schedule (not started)."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    sched_spec = cat.config.schedule or spec.Schedule()
    zone = zoneinfo.ZoneInfo(sched_spec.timezone)
    cls = scheduler_cls or BlockingScheduler
    sched = cls(timezone=zone, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300})
    every = spec.parse_duration(sched_spec.alerts.every)
    sched.add_job(
        runner.alerts,
        IntervalTrigger(seconds=max(1, int(every.total_seconds())), timezone=zone),
        id="alerts",
        name=f"alert rules every {sched_spec.alerts.every}",
        next_run_time=dt.datetime.now(zone),
    )
    if sched_spec.alerts.on_refresh:
        sched.add_job(
            runner.refresh,
            IntervalTrigger(seconds=int(REFRESH_CHECK.total_seconds()), timezone=zone),
            id="refresh",
            name="alert rules when a file source changes",
        )
    for b in cat.config.bulletins:
        if not b.at or not b.notify:
            continue
        hour, minute = (int(x) for x in b.at.split(":"))
        if b.rhythm == "daily":
            trig = CronTrigger(hour=hour, minute=minute, timezone=zone)
        elif b.rhythm == "weekly":
            trig = CronTrigger(day_of_week=(b.day or 1) - 1, hour=hour, minute=minute, timezone=zone)
        else:
            trig = CronTrigger(day=b.day or 1, hour=hour, minute=minute, timezone=zone)
        sched.add_job(
            runner.alerts,
            trig,
            args=[f"bulletin {b.id}"],
            id=f"bulletin:{b.id}",
            name=f"{b.name} ({b.rhythm} at {b.at})",
        )
    return sched


def describe(sched: Any) -> list[str]:
    """One line per job: its name and next run time (for the start-up banner)."""
    out = []
    for job in sched.get_jobs():
        nxt = getattr(job, "next_run_time", None)
        out.append(f"  {job.id}: {job.name}" + (f" (next {nxt:%Y-%m-%d %H:%M:%S})" if nxt else ""))
    return out


def pid_note() -> str:
    return f"pid {os.getpid()}"
