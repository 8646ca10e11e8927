"""特别呈报 (contract section 7): rules, instance states, exactly-once pushes, the inbox.

Real servers only: the SMTP sink and the HTTP receiver of conftest.py. A small city with two
districts and one value per district and month, written as CSV, so that each test decides what
the latest month says.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from servers import REPO_ROOT, run_cli

from alerts import inbox, policy
from alerts.inbox import InboxError
from alerts.rules import adverse
from alerts.run import run
from alerts.state import Instance
from metrics.access import scope_for
from metrics.catalogue.load import load_catalogue

SECRET = "SECtest-not-a-real-secret"
NOW = dt.datetime(2026, 11, 5, 8, 0)


def months(n: int, last: str = "2026-10") -> list[str]:
    y, m = map(int, last.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def write_data(folder: Path, series: dict[str, list[float | None]], last: str = "2026-10") -> None:
    """One record per district and month, the newest month ``last``."""
    lines = ["month,region,v"]
    for region, values in series.items():
        for p, v in zip(months(len(values), last), values, strict=True):
            if v is not None:
                lines.append(f"{p}-01,{region},{v}")
    (folder / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_config(
    folder: Path,
    smtp,
    http,
    *,
    rules: str = "[{when: \"status = 'red'\", level: special, notify: [mail, robot, zhang_robot]}]",
    direction: str = "higher_better",
    thresholds: str = "{green: 90, yellow: 85}",
    extra: str = "",
) -> Path:
    http.add("/ding", {"errcode": 0, "errmsg": "ok"})
    http.add("/zhang", {"ok": True})
    cfg = folder / "indicators.yaml"
    cfg.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            site: {{title: 测试驾驶舱, base_url: "http://cockpit.test"}}
            org:
              regions: {{id: "100", name: 测试市, children: [{{id: "101", name: 东区}}, {{id: "102", name: 西区}}]}}
              departments: [{{id: zw, name: 市政务办}}]
            sources:
              s: {{type: csv, path: data.csv}}
            channels:
              mail: {{type: email, host: 127.0.0.1, port: {smtp.port}, sender: cockpit@test.cn, to: [mayor@test.cn]}}
              robot: {{type: webhook, url: "{http.url("/ding")}?access_token=${{DING_TOKEN}}", format: dingtalk, secret: "${{DING_SECRET}}"}}
              zhang_robot: {{type: webhook, url: "{http.url("/zhang")}", format: json, user: zhang}}
            access:
              users:
                - {{id: zhang, name: 张区长, role: leader, regions: ["101"]}}
                - {{id: wang, name: 王秘书长, role: leader, regions: ["100"]}}
            indicators:
              - id: rate
                name: 按时办结率
                domain: 政务服务效能
                unit: "%"
                owner: zw
                source: s
                time: {{column: month, grain: month}}
                region: region
                measure: {{type: mean, column: v}}
                direction: {direction}
                target: 90
                thresholds: {thresholds}
                alerts: {rules}
            """
        )
        + extra,
        encoding="utf-8",
    )
    return cfg


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("DING_SECRET", SECRET)
    monkeypatch.setenv("DING_TOKEN", "tok123")
    monkeypatch.setenv("COCKPIT_NO_CACHE", "1")


@pytest.fixture
def servers(smtp_server, http_json_server):
    smtp_server.reset()
    http_json_server.reset()
    return smtp_server, http_json_server


def load(cfg: Path):
    return load_catalogue(cfg)


def no_sleep(_: float) -> None:
    pass


def robot_messages(http) -> list[dict]:
    return [r.json() for r in http.requests_to("/ding")]


# ----------------------------------------------------------------- the pure parts


def test_step_moves_pending_firing_resolved_and_back() -> None:
    inst = Instance("i", "rate", "r", "101", "special")
    hit = policy.Observation("2026-09", True, 1, {"value": 80.0})
    inst, ev = policy.step(inst, hit, 2, NOW)
    assert (inst.state, ev) == ("pending", [])
    inst, ev = policy.step(inst, policy.Observation("2026-10", True, 2, {"value": 79.0}), 2, NOW)
    assert (inst.state, ev, inst.episode, inst.value) == ("firing", ["fire"], 1, 79.0)
    inst, ev = policy.step(inst, policy.Observation("2026-11", True, 3, {"value": 78.0}), 2, NOW)
    assert (inst.state, ev) == ("firing", [])  # still red: nothing new to say
    same, ev = policy.step(inst, policy.Observation("2026-12", None), 2, NOW)
    assert same is inst and ev == []  # no data (a failed source) never resolves
    inst, ev = policy.step(inst, policy.Observation("2026-12", False, 0, {"value": 93.0}), 2, NOW)
    assert (inst.state, ev) == ("resolved", ["resolve"])
    inst, ev = policy.step(inst, policy.Observation("2027-01", True, 2, {"value": 70.0}), 2, NOW)
    assert (inst.state, ev, inst.episode, inst.handling) == ("firing", ["fire"], 2, "new")


def test_reminders_only_while_firing_and_untouched() -> None:
    inst = Instance(
        "i", "rate", "r", "101", "special", state="firing", episode=1, fired_at="2026-11-01T08:00:00"
    )
    day = dt.timedelta(days=1)
    assert policy.reminder_due(inst, day, dt.datetime(2026, 11, 1, 20, 0)) is None
    assert policy.reminder_due(inst, day, dt.datetime(2026, 11, 2, 9, 0)) == 1
    assert policy.reminder_due(inst, day, dt.datetime(2026, 11, 9, 9, 0)) == 8  # the latest, not a backlog
    inst.handling = "acknowledged"
    assert policy.reminder_due(inst, day, dt.datetime(2026, 11, 9, 9, 0)) is None
    assert policy.reminder_due(inst, None, dt.datetime(2026, 11, 9, 9, 0)) is None


def test_delivery_action_is_a_function_of_the_log_and_the_time() -> None:
    assert policy.delivery_action(None, NOW) == "send"
    row = {"status": "failed", "first_try": "2026-11-05T07:00:00"}
    assert policy.delivery_action(row, NOW) == "send"
    assert policy.delivery_action({**row, "status": "sending"}, NOW) == "send"  # a killed run's push
    assert policy.delivery_action({**row, "status": "sent"}, NOW) == "skip"
    assert policy.delivery_action(row, NOW + dt.timedelta(days=4)) == "drop"
    assert [policy.backoff(i) for i in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 8]


def test_an_improvement_is_never_an_anomaly_alert() -> None:
    up = {"observed": 120.0, "expected": 100.0}
    down = {"observed": 80.0, "expected": 100.0}

    class Ind:
        direction = "higher_better"

    assert adverse(down, Ind) and not adverse(up, Ind)
    Ind.direction = "lower_better"
    assert adverse(up, Ind) and not adverse(down, Ind)


# ----------------------------------------------------------------- a run, end to end


def test_fires_once_to_every_channel_with_the_facts_and_the_link(tmp_path, env, servers) -> None:
    smtp, http = servers
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cat = load(write_config(tmp_path, smtp, http))
    report = run(cat, now=NOW, sleep=no_sleep)
    assert report.exit_code == 0, report.deliveries
    assert [(e, i) for e, i, _ in report.events] == [("fire", f"rate|{_key(cat)}|102")]
    mails = smtp.wait_for_messages(1)
    assert len(mails) == 1
    subject = mails[0].subject
    for word in ("按时办结率", "西区", "2026年10月", "80%", "90%"):
        assert word in subject or word in mails[0].text(), word
    link = "http://cockpit.test/detail?indicator=rate&region=102&period=2026-10"
    assert link in mails[0].text() or link in (mails[0].html() or "")
    robots = http.requests_to("/ding")
    assert len(robots) == 1
    body = json.dumps(robots[0].json(), ensure_ascii=False)
    assert "西区" in body and "按时办结率" in body and "80%" in body
    assert "detail?indicator=rate" in body
    # DingTalk's signature, recomputed from what the receiver got
    q = robots[0].query
    assert q["access_token"] == ["tok123"]
    ts = q["timestamp"][0]
    want = base64.b64encode(
        hmac.new(SECRET.encode(), f"{ts}\n{SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    assert urllib.parse.unquote(q["sign"][0]) == want or q["sign"][0] == want
    # the district leader's robot is bound to 东区: it hears nothing of 西区
    assert http.requests_to("/zhang") == []


def _key(cat) -> str:
    from alerts.rules import rule_key

    return rule_key(cat.config.indicators[0].alerts[0])


def test_a_second_run_pushes_nothing(tmp_path, env, servers) -> None:
    smtp, http = servers
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cat = load(write_config(tmp_path, smtp, http))
    run(cat, now=NOW, sleep=no_sleep)
    m, s = http.mark(), smtp.mark()
    again = run(cat, now=NOW + dt.timedelta(hours=1), sleep=no_sleep)
    assert again.events == [] and again.deliveries == []
    assert http.requests_since(m) == [] and smtp.messages_since(s) == []


def test_a_failed_push_is_retried_next_run_and_then_delivered_once(tmp_path, env, servers) -> None:
    smtp, http = servers
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cat = load(write_config(tmp_path, smtp, http))
    http.add_error("/ding", 500)
    waits: list[float] = []
    first = run(cat, now=NOW, sleep=waits.append, tries=3)
    assert first.exit_code == 1
    assert [d.outcome for d in first.deliveries if d.channel == "robot"] == ["failed"]
    assert [d.outcome for d in first.deliveries if d.channel == "mail"] == ["sent"]
    assert len(http.requests_to("/ding")) == 3 and waits == [1, 2]  # backoff inside the run
    http.add("/ding", {"errcode": 0, "errmsg": "ok"})
    m, s = http.mark(), smtp.mark()
    second = run(cat, now=NOW + dt.timedelta(minutes=10), sleep=no_sleep)
    assert second.exit_code == 0
    assert [(d.channel, d.outcome) for d in second.deliveries] == [("robot", "sent")]
    assert len([r for r in http.requests_since(m) if r.path == "/ding"]) == 1
    assert smtp.messages_since(s) == []  # the mail had gone: not again
    assert run(cat, now=NOW + dt.timedelta(minutes=20), sleep=no_sleep).deliveries == []


def test_when_the_condition_clears_one_resolved_notice_goes_out(tmp_path, env, servers) -> None:
    smtp, http = servers
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cat = load(write_config(tmp_path, smtp, http))
    run(cat, now=NOW, sleep=no_sleep)
    write_data(tmp_path, {"101": [96, 95, 96], "102": [91, 80, 93]}, last="2026-11")
    m, s = http.mark(), smtp.mark()
    report = run(cat, now=NOW + dt.timedelta(days=30), sleep=no_sleep)
    assert [e for e, _, _ in report.events] == ["resolve"]
    assert len(smtp.messages_since(s)) == 1 and "恢复" in smtp.messages_since(s)[0].subject
    assert len([r for r in http.requests_since(m) if r.path == "/ding"]) == 1
    assert run(cat, now=NOW + dt.timedelta(days=31), sleep=no_sleep).deliveries == []


def test_for_n_periods_waits_and_pending_shows(tmp_path, env, servers) -> None:
    smtp, http = servers
    rules = '[{when: "value < 85", for: 2, level: special, notify: [mail]}]'
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cat = load(write_config(tmp_path, smtp, http, rules=rules))
    first = run(cat, now=NOW, sleep=no_sleep)
    assert first.events == [] and first.pending == 1
    write_data(tmp_path, {"101": [96, 95, 96], "102": [91, 80, 82]}, last="2026-11")
    second = run(cat, now=NOW + dt.timedelta(days=30), sleep=no_sleep)
    assert [e for e, _, _ in second.events] == ["fire"] and second.firing == 1


def test_bulletin_level_is_kept_not_pushed(tmp_path, env, servers) -> None:
    smtp, http = servers
    rules = "[{when: \"status = 'red'\", level: bulletin}]"
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cfg = write_config(tmp_path, smtp, http, rules=rules)
    report = run(load(cfg), now=NOW, sleep=no_sleep)
    assert report.deliveries == [] and smtp.messages == [] and http.requests == []
    assert [e for e, _, _ in report.events] == ["bulletin"]
    items = inbox.items(load(cfg), tmp_path / ".cockpit" / "state.db", level="bulletin")
    assert [(i.region, i.state) for i in items] == [("102", "firing")]


def test_lower_better_and_scope_of_a_rule(tmp_path, env, servers) -> None:
    smtp, http = servers
    rules = "[{when: \"status = 'red'\", level: special, notify: [mail], scope: ['101']}]"
    write_data(tmp_path, {"101": [3, 3, 9], "102": [3, 3, 9]})
    cfg = write_config(
        tmp_path, smtp, http, rules=rules, direction="lower_better", thresholds="{green: 4, yellow: 6}"
    )
    report = run(load(cfg), now=NOW, sleep=no_sleep)
    assert [i.rsplit("|", 1)[1] for e, i, _ in report.events] == ["101"]


def test_a_failing_source_leaves_firing_alerts_alone(tmp_path, env, servers) -> None:
    smtp, http = servers
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cat = load(write_config(tmp_path, smtp, http))
    run(cat, now=NOW, sleep=no_sleep)
    (tmp_path / "data.csv").unlink()
    m = http.mark()
    report = run(cat, now=NOW + dt.timedelta(days=1), sleep=no_sleep)
    assert report.exit_code == 1 and report.errors
    assert report.events == [] and http.requests_since(m) == []
    assert report.firing == 1


def test_anomaly_in_when_uses_the_detector_and_ignores_improvements(tmp_path, env, servers) -> None:
    smtp, http = servers
    rng = np.random.default_rng(1)
    base = list(np.round(90 + rng.normal(0, 0.4, 36), 2))
    east = base[:-1] + [base[-1] - 6]  # a dip: worse
    west = base[:-1] + [base[-1] + 6]  # a spike: better, never an alert
    write_data(tmp_path, {"101": east, "102": west})
    rules = '[{when: "anomaly", level: special, notify: [mail]}]'
    cat = load(write_config(tmp_path, smtp, http, rules=rules, thresholds="{green: 50, yellow: 40}"))
    report = run(cat, now=NOW, sleep=no_sleep)
    assert [i.rsplit("|", 1)[1] for e, i, _ in report.events] == ["101"]
    text = smtp.wait_for_messages(1)[0].text()
    assert "比预期低" in text  # the detector's sentence is in the push


def test_reminders_repeat_until_acknowledged(tmp_path, env, servers) -> None:
    smtp, http = servers
    rules = "[{when: \"status = 'red'\", level: special, notify: [mail], repeat: 1d}]"
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cfg = write_config(tmp_path, smtp, http, rules=rules)
    cat = load(cfg)
    run(cat, now=NOW, sleep=no_sleep)
    assert run(cat, now=NOW + dt.timedelta(hours=5), sleep=no_sleep).events == []
    later = run(cat, now=NOW + dt.timedelta(days=1, hours=1), sleep=no_sleep)
    assert [e for e, _, _ in later.events] == ["remind"]
    assert "提醒" in smtp.messages[-1].subject
    assert run(cat, now=NOW + dt.timedelta(days=1, hours=2), sleep=no_sleep).events == []
    item = inbox.items(cat, tmp_path / ".cockpit" / "state.db")[0]
    inbox.act(cat, tmp_path / ".cockpit" / "state.db", item.id, "acknowledge", user="wang", now=NOW)
    assert run(cat, now=NOW + dt.timedelta(days=3), sleep=no_sleep).events == []


def test_dry_run_writes_and_sends_nothing(tmp_path, env, servers) -> None:
    smtp, http = servers
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cat = load(write_config(tmp_path, smtp, http))
    report = run(cat, now=NOW, dry_run=True, sleep=no_sleep)
    assert sorted(d.channel for d in report.deliveries) == ["mail", "robot"]
    assert {d.outcome for d in report.deliveries} == {"would_send"}
    assert smtp.messages == [] and http.requests == []
    real = run(cat, now=NOW, sleep=no_sleep)
    assert [e for e, _, _ in real.events] == ["fire"]  # the dry run left no trace


# ----------------------------------------------------------------- the inbox


def test_inbox_closes_the_loop_within_scope(tmp_path, env, servers) -> None:
    smtp, http = servers
    write_data(tmp_path, {"101": [95, 96, 80], "102": [92, 91, 80]})
    cat = load(write_config(tmp_path, smtp, http))
    run(cat, now=NOW, sleep=no_sleep)
    db = tmp_path / ".cockpit" / "state.db"
    zhang = scope_for(cat, "zhang")
    mine = inbox.items(cat, db, zhang)
    assert [i.region for i in mine] == ["101"]  # 西区's alert does not exist for 张区长
    west = next(i for i in inbox.items(cat, db) if i.region == "102")
    with pytest.raises(InboxError, match="no alert"):
        inbox.act(cat, db, west.id, "acknowledge", user="zhang", now=NOW, scope=zhang)
    item = mine[0]
    t = NOW + dt.timedelta(hours=1)
    inbox.act(cat, db, item.id, "acknowledge", user="zhang", now=t, scope=zhang)
    with pytest.raises(InboxError, match="unknown department 'zwx'"):
        inbox.act(cat, db, item.id, "assign", user="zhang", now=t, scope=zhang, department="zwx")
    inbox.act(
        cat, db, item.id, "assign", user="zhang", now=t, scope=zhang, department="zw", deadline="2026-11-12"
    )
    with pytest.raises(InboxError, match="needs a text"):
        inbox.act(cat, db, item.id, "feedback", user="zhang", now=t, scope=zhang, text=" ")
    inbox.act(cat, db, item.id, "feedback", user="zhang", now=t, scope=zhang, text="已约谈窗口负责人")
    done = inbox.act(cat, db, item.id, "close", user="zhang", now=t, scope=zhang)
    assert (done.handling, done.assignee, done.deadline) == ("closed", "zw", "2026-11-12")
    steps = [h["what"] for h in inbox.history(cat, db, item.id, zhang)]
    assert steps[-4:] == ["签收", "交办", "反馈", "办结"] and any(s.startswith("推送") for s in steps)
    with pytest.raises(InboxError, match="cannot acknowledge"):
        inbox.act(cat, db, item.id, "acknowledge", user="zhang", now=t, scope=zhang)


# ----------------------------------------------------------------- the command line, crashes, concurrency


def test_cli_run_is_exactly_once(tmp_path, servers) -> None:
    smtp, http = servers
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cfg = write_config(tmp_path, smtp, http)
    env = {"DING_SECRET": SECRET, "DING_TOKEN": "tok123", "COCKPIT_NO_CACHE": "1"}
    state = tmp_path / "st.db"
    p = run_cli("alerts", "run", "--config", cfg, "--now", "2026-11-05T08:00", "--state", state, env=env)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert len(smtp.messages) == 1 and len(http.requests_to("/ding")) == 1
    p2 = run_cli("alerts", "run", "--config", cfg, "--now", "2026-11-05T09:00", "--state", state, env=env)
    assert p2.returncode == 0 and "0 pushed" in p2.stdout
    assert len(smtp.messages) == 1 and len(http.requests_to("/ding")) == 1
    listed = run_cli("alerts", "list", "--config", cfg, "--state", state, "--format", "json", env=env)
    assert [i["region"] for i in json.loads(listed.stdout)] == ["102"]
    bad = run_cli("alerts", "run", "--config", cfg, "--now", "yesterday", env=env)
    assert bad.returncode == 2 and "--now" in bad.stderr


KILLER = """
import os, signal, sys, datetime as dt
from pathlib import Path
from alerts import run as r
from alerts.channels import send as real_send
from metrics.catalogue.load import load_catalogue
def send(name, channel, message, **kw):
    receipt = real_send(name, channel, message, **kw)
    if name == "robot":
        os.kill(os.getpid(), signal.SIGKILL)  # killed after the push, before it is recorded
    return receipt
r.run(load_catalogue(sys.argv[1]), now=dt.datetime(2026, 11, 5, 8), state_path=Path(sys.argv[2]), send=send)
"""


def test_a_run_killed_after_a_push_repeats_that_push_only(tmp_path, servers) -> None:
    smtp, http = servers
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cfg = write_config(tmp_path, smtp, http)
    env = {**os.environ, "DING_SECRET": SECRET, "DING_TOKEN": "tok123", "COCKPIT_NO_CACHE": "1"}
    state = tmp_path / "st.db"
    p = subprocess.run(
        [sys.executable, "-c", KILLER, str(cfg), str(state)], cwd=REPO_ROOT, env=env, timeout=120
    )
    assert p.returncode == -9
    sent_before = (len(smtp.messages), len(http.requests_to("/ding")))
    rows = (
        sqlite3.connect(state).execute("SELECT channel, status FROM deliveries ORDER BY channel").fetchall()
    )
    assert ("robot", "sending") in rows  # in flight when killed: not lost
    p2 = run_cli("alerts", "run", "--config", cfg, "--now", "2026-11-05T09:00", "--state", state, env=env)
    assert p2.returncode == 0, p2.stderr
    robot_total = len(http.requests_to("/ding"))
    mail_total = len(smtp.messages)
    # the robot's push was in flight: it goes again (2 in all); everything else exactly once
    assert robot_total == sent_before[1] + 1 == 2
    assert mail_total == 1


def test_two_runs_at_once_push_once(tmp_path, servers) -> None:
    smtp, http = servers
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cfg = write_config(tmp_path, smtp, http)
    http.add("/ding", {"errcode": 0, "errmsg": "ok"}, delay=1.0)  # a slow robot: the runs overlap
    env = {"DING_SECRET": SECRET, "DING_TOKEN": "tok123", "COCKPIT_NO_CACHE": "1"}
    state = tmp_path / "st.db"
    results: list = []

    def go() -> None:
        results.append(
            run_cli("alerts", "run", "--config", cfg, "--now", "2026-11-05T08:00", "--state", state, env=env)
        )

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    for t in threads:
        t.join(120)
    assert [p.returncode for p in results] == [0, 0], [p.stderr for p in results]
    assert len(http.requests_to("/ding")) == 1 and len(smtp.messages) == 1


BULLETINS = """\
bulletins:
  - {id: city_monthly, name: 测试市数字政府运行月报, rhythm: monthly, notify: [mail, zhang_robot]}
"""


def test_bulletins_go_out_once_per_period_scoped_per_user(tmp_path, env, servers) -> None:
    smtp, http = servers
    rules = "[{when: \"status = 'red'\", level: bulletin}]"
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cat = load(write_config(tmp_path, smtp, http, rules=rules, extra=BULLETINS))
    first = run(cat, now=NOW, sleep=no_sleep)
    assert first.exit_code == 0, (first.errors, first.deliveries)
    assert sorted(d.channel for d in first.deliveries) == ["mail", "zhang_robot"]
    mail = smtp.wait_for_messages(1)[0]
    assert "【数据通报】" in mail.subject and "2026年10月" in mail.subject
    assert "http://cockpit.test/bulletins?bulletin=city_monthly&period=2026-10" in mail.text()
    assert "需关注的预警事项：1 项" in mail.text()  # the bulletin-level alert of this very run
    attached = [p for p in mail.message.iter_attachments() if p.get_filename() == "city_monthly-2026-10.html"]
    assert len(attached) == 1 and "<html" in attached[0].get_content()  # the whole bulletin, for email
    zhang = http.requests_to("/zhang")[0].json()
    assert "西区" not in json.dumps(zhang, ensure_ascii=False)  # 张区长 sees 东区 only
    # the same period again, an hour and more later: nothing new
    assert run(cat, now=NOW + dt.timedelta(hours=2), sleep=no_sleep).deliveries == []
    # a new month with data: the next bulletin
    write_data(tmp_path, {"101": [96, 95, 96], "102": [91, 80, 93]}, last="2026-11")
    later = run(cat, now=NOW + dt.timedelta(days=30), sleep=no_sleep)
    assert sorted(d.channel for d in later.deliveries) == ["mail", "zhang_robot"]
    assert "2026年11月" in smtp.messages[-1].subject


# ----------------------------------------------------------------- schedules and quiet hours


def test_quiet_hours_and_bulletin_slots_are_pure_functions_of_the_time() -> None:
    t = dt.datetime
    assert policy.in_quiet_hours(t(2026, 11, 5, 23, 0), "22:00", "07:30")
    assert policy.in_quiet_hours(t(2026, 11, 5, 7, 29), "22:00", "07:30")
    assert not policy.in_quiet_hours(t(2026, 11, 5, 7, 30), "22:00", "07:30")
    assert policy.in_quiet_hours(t(2026, 11, 5, 13, 0), "12:00", "14:00")
    assert not policy.in_quiet_hours(t(2026, 11, 5, 13, 0), None, None)
    # 2026-11-05 is a Thursday
    assert not policy.bulletin_due(t(2026, 11, 5, 7, 59), "daily", "08:00")
    assert policy.bulletin_due(t(2026, 11, 5, 8, 0), "daily", "08:00")
    assert policy.bulletin_due(t(2026, 11, 5, 8, 0), "weekly", "09:00", 1)  # Monday's slot has passed
    assert not policy.bulletin_due(t(2026, 11, 5, 8, 0), "weekly", "09:00", 5)  # Friday's has not
    assert not policy.bulletin_due(t(2026, 11, 5, 8, 0), "monthly", "09:00", 10)
    assert policy.bulletin_due(t(2026, 11, 10, 9, 0), "monthly", "09:00", 10)
    assert policy.bulletin_due(t(2026, 11, 5, 3, 0), "monthly", None)


def test_quiet_hours_hold_resolved_notices_but_never_a_special_alert(tmp_path, env, servers) -> None:
    smtp, http = servers
    quiet = 'schedule: {quiet_hours: {start: "22:00", end: "07:30"}}\n'
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cat = load(write_config(tmp_path, smtp, http, extra=quiet))
    night = dt.datetime(2026, 11, 5, 23, 30)
    fired = run(cat, now=night, sleep=no_sleep)
    assert [d.outcome for d in fired.deliveries] == ["sent", "sent"]  # a 特别呈报 goes at once
    write_data(tmp_path, {"101": [96, 95, 96], "102": [91, 80, 93]}, last="2026-11")
    m = smtp.mark()
    cleared = run(cat, now=night + dt.timedelta(hours=1), sleep=no_sleep)
    assert [e for e, _, _ in cleared.events] == ["resolve"] and cleared.deliveries == [] and cleared.held == 2
    morning = run(cat, now=dt.datetime(2026, 11, 6, 7, 45), sleep=no_sleep)
    assert sorted(d.channel for d in morning.deliveries) == ["mail", "robot"]
    assert "恢复" in smtp.messages_since(m)[0].subject


def test_a_bulletin_with_a_time_waits_for_it(tmp_path, env, servers) -> None:
    smtp, http = servers
    extra = (
        'bulletins:\n  - {id: m, name: 测试市月报, rhythm: monthly, at: "09:00", day: 6, notify: [mail]}\n'
    )
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 93, 94]})
    cat = load(write_config(tmp_path, smtp, http, extra=extra))
    assert run(cat, now=dt.datetime(2026, 11, 6, 8, 59), sleep=no_sleep).deliveries == []
    at_nine = run(cat, now=dt.datetime(2026, 11, 6, 9, 0), sleep=no_sleep)
    assert [d.key for d in at_nine.deliveries] == ["bulletin:m:2026-10"]


def test_schedule_runs_again_and_again_and_pushes_once(tmp_path, servers) -> None:
    smtp, http = servers
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cfg = write_config(tmp_path, smtp, http, extra="schedule: {alerts: {every: 1s}}\n")
    env = {"DING_SECRET": SECRET, "DING_TOKEN": "tok123", "COCKPIT_NO_CACHE": "1"}
    p = run_cli(
        "schedule", "--config", cfg, "--state", tmp_path / "st.db", "--for", "6", env=env, timeout=120
    )
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    assert p.stderr.count("alert run (schedule)") >= 2, p.stderr
    assert len(smtp.messages) == 1 and len(http.requests_to("/ding")) == 1


def test_schedule_runs_when_a_file_source_changes(tmp_path, env, servers) -> None:
    import zoneinfo

    from alerts.schedule import Runner

    smtp, http = servers
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 91, 80]})
    cfg = write_config(tmp_path, smtp, http)
    calls: list[str] = []

    class Report:
        warnings: list = []
        errors: list = []
        deliveries: list = []
        events: list = []
        failed: list = []
        held = firing = 0

    def fake_run(cat, **kw):
        calls.append(kw["now"].isoformat())
        return Report()

    runner = Runner(
        cfg, tmp_path / "st.db", lambda line: None, zoneinfo.ZoneInfo("Asia/Shanghai"), run=fake_run
    )
    runner.alerts()
    runner.refresh()
    assert len(calls) == 1  # nothing changed
    time.sleep(0.01)
    write_data(tmp_path, {"101": [95, 96, 95, 90], "102": [92, 91, 80, 85]}, last="2026-11")
    runner.refresh()
    assert len(calls) == 2  # the file changed: a run
    (tmp_path / "indicators.yaml").write_text("version: 2\n", encoding="utf-8")
    runner.alerts()  # a broken config skips the run and keeps the scheduler alive
    assert len(calls) == 2


def test_a_state_file_of_schema_1_is_migrated(tmp_path) -> None:
    from alerts import state

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema', '1');"
        "CREATE TABLE notices (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,"
        " instance TEXT, created_at TEXT NOT NULL, message TEXT NOT NULL, chart BLOB, channels TEXT NOT NULL);"
        "INSERT INTO notices (key, kind, created_at, message, channels)"
        " VALUES ('fire:x:1', 'fire', '2026-11-01T08:00:00', '{\"title\": \"t\"}', '[\"mail\"]');"
    )
    old.commit()
    old.close()
    con = state.connect(path)
    assert state.get_meta(con, "schema") == str(state.SCHEMA_VERSION)
    [(notice, channel, delivery)] = state.open_deliveries(con)
    assert (notice.key, channel, delivery, notice.attachment) == ("fire:x:1", "mail", None, None)
    con.close()
    with pytest.raises(state.StateError, match="newer"):
        c = sqlite3.connect(path)
        c.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
        c.commit()
        c.close()
        state.connect(path)


FORM = """\
  f:
    type: form
    name: 区县月度填报
    grain: month
    reporters: ["101", "102"]
    due_day: 5
    fields:
      - {id: visits, name: 走访企业数, type: integer, min: 0, required: true}
"""


def test_form_reminders_go_to_the_reporters_channel_once(tmp_path, env, servers) -> None:
    smtp, http = servers
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 93, 94]})
    cfg = write_config(tmp_path, smtp, http)
    text = cfg.read_text(encoding="utf-8").replace(
        "  s: {type: csv, path: data.csv}\n", "  s: {type: csv, path: data.csv}\n" + FORM
    )
    cfg.write_text(text, encoding="utf-8")
    cat = load(cfg)
    overdue = dt.datetime(2026, 11, 6, 9, 0)  # 2026-10 was due on 11-05
    first = run(cat, now=overdue, sleep=no_sleep)
    reminders = [k for e, k, _ in first.events if e == "form_reminder"]
    assert reminders and all(k.startswith("form:f:2026-10:") for k in reminders)
    pushed = http.requests_to("/zhang")
    assert len(pushed) == 1  # 张区长's robot hears of 东区 only; 西区 has no channel of its own
    assert "东区" in json.dumps(pushed[0].json(), ensure_ascii=False)
    assert run(cat, now=overdue + dt.timedelta(hours=1), sleep=no_sleep).events == []
    assert len(http.requests_to("/zhang")) == 1


def test_form_reminders_reach_the_real_smtp_and_webhook_receivers_once_per_kind(
    tmp_path, env, servers
) -> None:
    """due_soon two days before the due day, overdue after it: each once, by mail and by webhook."""
    smtp, http = servers
    write_data(tmp_path, {"101": [95, 96, 95], "102": [92, 93, 94]})  # all green: no alert pushes
    cfg = write_config(tmp_path, smtp, http)
    zhang_mail = (
        f"  zhang_mail: {{type: email, host: 127.0.0.1, port: {smtp.port}, sender: cockpit@test.cn,"
        " to: [zhang@test.cn], user: zhang}\n"
    )
    text = cfg.read_text(encoding="utf-8")
    text = text.replace("  s: {type: csv, path: data.csv}\n", "  s: {type: csv, path: data.csv}\n" + FORM)
    text = text.replace("channels:\n", "channels:\n" + zhang_mail)
    cfg.write_text(text, encoding="utf-8")
    cat = load(cfg)
    from metrics.forms import FormStore, RawRow, import_rows

    september = [RawRow(None, "2026-09", r, {"visits": 3}) for r in ("101", "102")]
    stored = import_rows(
        cat, FormStore.for_catalogue(cat), "f", september, user="t", now=dt.datetime(2026, 10, 4)
    )
    assert stored.ok, stored.errors  # September is in: only October's reminders are left

    def pushes(report) -> list[tuple[str, str]]:
        return sorted((d.key, d.channel) for d in report.deliveries if d.outcome == "sent")

    # 2026-10 is due on 2026-11-05: 11-02 is three days before, too early for anything
    assert run(cat, now=dt.datetime(2026, 11, 2, 9, 0), sleep=no_sleep).deliveries == []
    assert smtp.messages == [] and http.requests == []

    # 11-03, two days before: one due_soon reminder for 东区 (101) to zhang's mail and robot
    soon = run(cat, now=dt.datetime(2026, 11, 3, 9, 0), sleep=no_sleep)
    key = "form:f:2026-10:101:due_soon"
    assert pushes(soon) == [(key, "zhang_mail"), (key, "zhang_robot")], soon.deliveries
    assert soon.exit_code == 0
    [mail] = smtp.wait_for_messages(1)
    assert mail.rcpt_tos == ["zhang@test.cn"]
    assert "【填报提醒】区县月度填报 2026年10月 · 东区" in mail.subject
    assert "还有 2 天" in mail.text()
    assert "http://cockpit.test/forms?form=f&period=2026-10&region=101" in mail.text()
    [hook] = http.requests_to("/zhang")
    body = json.dumps(hook.json(), ensure_ascii=False)
    assert "【填报提醒】" in body and "东区" in body and "region=101" in body
    assert "西区" not in body  # 102 is outside zhang's scope
    assert http.requests_to("/ding") == []  # a channel without a user gets no reminders
    assert all("mayor@test.cn" not in m.rcpt_tos for m in smtp.messages)

    # the same day again, and the due day itself: due_soon was sent, nothing more
    m, s = http.mark(), smtp.mark()
    for t in (dt.datetime(2026, 11, 3, 18, 0), dt.datetime(2026, 11, 5, 9, 0)):
        again = run(cat, now=t, sleep=no_sleep)
        assert again.events == [] and again.deliveries == [], t
    assert http.requests_since(m) == [] and smtp.messages_since(s) == []

    # 11-06, the day after: the overdue reminder, a new key, once on each channel
    late = run(cat, now=dt.datetime(2026, 11, 6, 9, 0), sleep=no_sleep)
    key = "form:f:2026-10:101:overdue"
    assert pushes(late) == [(key, "zhang_mail"), (key, "zhang_robot")], late.deliveries
    [mail] = smtp.wait_for_messages(1, mark=s)
    assert "【填报逾期】区县月度填报 2026年10月 · 东区" in mail.subject and "已过 1 天" in mail.text()
    [hook] = http.requests_since(m)
    assert hook.path == "/zhang" and "【填报逾期】" in json.dumps(hook.json(), ensure_ascii=False)

    # a second run, and the next day's: nothing is pushed again
    m, s = http.mark(), smtp.mark()
    for t in (dt.datetime(2026, 11, 6, 10, 0), dt.datetime(2026, 11, 7, 9, 0)):
        again = run(cat, now=t, sleep=no_sleep)
        assert again.events == [] and again.deliveries == [], t
    time.sleep(0.2)
    assert http.requests_since(m) == [] and smtp.messages_since(s) == []
    assert len(smtp.messages) == 2 and len(http.requests_to("/zhang")) == 2
