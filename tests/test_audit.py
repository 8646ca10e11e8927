"""The audit log (issue 6): an entry for each kind of action, a chain that shows tampering, search.

Each test writes to a log of its own (``COCKPIT_AUDIT_DB``). Actions are done the way a user or
the scheduler does them: page views and exports through AppTest sessions of the real app, unmasked
records through metrics.records, inbox actions through alerts.inbox.act, pushes through
alerts.run.run (with a sender that only says "sent"), form locks through the form store.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sqlite3
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from servers import REPO_ROOT
from streamlit.testing.v1 import AppTest

import cockpit.ui
from alerts import inbox
from alerts.inbox import InboxError
from alerts.run import run
from metrics import audit, records
from metrics.access import Scope, scope_for
from metrics.catalogue import spec
from metrics.catalogue.load import load_catalogue
from metrics.forms import FormStore

APP = str(REPO_ROOT / "app.py")
AUDIT_PAGE = str(REPO_ROOT / "pages" / "audit.py")
SAMPLE_CONFIG = REPO_ROOT / "indicators.yaml"
NOW = dt.datetime(2026, 11, 5, 8, 0)


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "log" / "audit.db"
    monkeypatch.setenv(audit.ENV_PATH, str(path))
    return path


@pytest.fixture(scope="module")
def sample_env() -> Iterator[Any]:
    if not (REPO_ROOT / "data" / ".sample-stamp").exists():
        pytest.skip("no sample city in data/ (run `make sample`)")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COCKPIT_CONFIG", str(SAMPLE_CONFIG))
        mp.chdir(REPO_ROOT)
        st.cache_data.clear()
        st.cache_resource.clear()
        yield load_catalogue(SAMPLE_CONFIG)
    st.cache_data.clear()
    st.cache_resource.clear()


def kinds(where: Any) -> list[str]:
    return [e.kind for e in reversed(audit.search(where))]


# ----------------------------------------------------------------------------- the log itself


def test_every_kind_is_recorded_with_who_and_when(tmp_path: Path, log: Path) -> None:
    for i, kind in enumerate(audit.KINDS):
        e = audit.record(tmp_path, kind, "zhang" if i % 2 else None, n=i)
        assert e.seq == i + 1 and e.kind == kind
    entries = audit.search(tmp_path)
    assert [e.kind for e in reversed(entries)] == list(audit.KINDS)
    assert {e.user for e in entries} == {"zhang", "demo"}
    first = entries[-1]
    assert first.at.endswith("Z") and first.at_local.endswith("+08:00")
    at = dt.datetime.fromisoformat(first.at.replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - at).total_seconds()) < 60
    assert dt.datetime.fromisoformat(first.at_local) == at.replace(microsecond=0)
    with pytest.raises(audit.AuditError, match="unknown audit kind"):
        audit.record(tmp_path, "delete_everything", "zhang")
    assert audit.verify(tmp_path) == []
    st_ = audit.status(tmp_path)
    assert st_.entries == len(audit.KINDS) and st_.head == entries[0].hash and st_.ok


def test_the_database_refuses_updates_and_deletes(tmp_path: Path, log: Path) -> None:
    for n in range(3):
        audit.record(tmp_path, "view", "zhang", page="detail", n=n)
    con = sqlite3.connect(log)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE audit SET user = 'nobody' WHERE seq = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit WHERE seq = 3")
    con.close()
    assert [e.user for e in audit.search(tmp_path)] == ["zhang"] * 3
    assert audit.verify(tmp_path) == []


def test_a_forged_row_breaks_the_chain(tmp_path: Path, log: Path) -> None:
    for n in range(3):
        audit.record(tmp_path, "export", "li", what="ranking", rows=n)
    con = sqlite3.connect(log, isolation_level=None)
    last = con.execute("SELECT hash FROM audit WHERE seq = 3").fetchone()[0]
    # a row inserted by hand, following the chain but with a made-up hash
    con.execute(
        "INSERT INTO audit VALUES (4, '2026-11-29T00:00:00.000000Z', '2026-11-29T08:00:00+08:00', 'li', "
        "'export', '{\"rows\":0}', ?, ?)",
        (last, "f" * 64),
    )
    con.close()
    assert audit.verify(tmp_path) == ["entry 4: content does not match its hash (changed or forged)"]


def test_an_edit_around_the_triggers_is_found(tmp_path: Path, log: Path) -> None:
    for n in range(5):
        audit.record(tmp_path, "unmask", "qin", source="hotline", rows=n)
    con = sqlite3.connect(log, isolation_level=None)
    con.execute("DROP TRIGGER audit_no_update")
    con.execute("DROP TRIGGER audit_no_delete")
    con.execute("UPDATE audit SET user = 'someone_else' WHERE seq = 2")
    con.execute("DELETE FROM audit WHERE seq = 4")
    con.close()
    problems = audit.verify(tmp_path)
    assert "trigger audit_no_update is missing: entries could be changed or deleted" in problems
    assert "entry 2: content does not match its hash (changed or forged)" in problems
    assert "entry 4 missing (deleted?)" in problems
    assert "entry 5: does not follow the entry before it (prev hash differs)" in problems


def test_writers_at_once_keep_one_chain(tmp_path: Path, log: Path) -> None:
    """Streamlit sessions, the scheduler and the command line write at the same time."""

    def write(who: str) -> None:
        for n in range(25):
            audit.record(tmp_path, "view", who, n=n)

    threads = [threading.Thread(target=write, args=(f"user{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    chain = audit.status(tmp_path)
    assert chain.entries == 100 and chain.ok, chain.problems
    assert sorted(e.seq for e in audit.search(tmp_path, limit=1000)) == list(range(1, 101))


def test_search_filters(tmp_path: Path, log: Path) -> None:
    t0 = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
    audit.record(tmp_path, "view", "zhang", now=t0, page="detail", indicator="online_rate", region="130302")
    audit.record(tmp_path, "export", "zhang", now=t0 + dt.timedelta(days=1), what="ranking", rows=8)
    audit.record(tmp_path, "view", "wang", now=t0 + dt.timedelta(days=2), page="overview")
    audit.record(
        tmp_path, "sign_in_failed", "wang", now=t0 + dt.timedelta(days=2, hours=1), reason="password"
    )

    def found(**kw: Any) -> list[int]:
        return [e.seq for e in audit.search(tmp_path, **kw)]

    assert found() == [4, 3, 2, 1]  # newest first
    assert found(user="zhang") == [2, 1]
    assert found(kind="view") == [3, 1]
    assert found(kind=["export", "sign_in_failed"]) == [4, 2]
    assert found(since="2026-11-28") == [4, 3, 2]
    assert found(until="2026-11-28") == [2, 1]  # a date keeps its whole (local) day
    assert found(since=dt.date(2026, 11, 28), until=dt.date(2026, 11, 28)) == [2]
    assert found(text="ONLINE_rate") == [1]
    assert found(text="130302") == [1]
    assert found(text="wang") == [4, 3]
    assert found(text="100%_") == []
    assert found(limit=1) == [4]
    with pytest.raises(audit.AuditError, match="not a date"):
        audit.search(tmp_path, since="last tuesday")
    data = audit.to_csv_bytes(audit.search(tmp_path))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == audit.CSV_HEADER and len(rows) == 5 and rows[1][3] == "wang"


# ----------------------------------------------------------------------------- actions in the app


def test_a_page_view_is_one_entry_per_view_not_per_rerun(sample_env: Any, log: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/detail.py")
    at.query_params.update(indicator="online_rate", region="130302", period="2026-10")
    at.run()
    at.run()  # a rerun of the same view
    at.selectbox(key="pick_region").set_value("130303").run()  # another region: another view
    assert not at.exception, [e.message for e in at.exception]
    views = [e.details for e in reversed(audit.search(SAMPLE_CONFIG.parent, kind="view"))]
    assert [(v["page"], v.get("region")) for v in views] == [
        ("overview", None),
        ("detail", "130302"),
        ("detail", "130303"),
    ]
    assert views[1] == {
        "page": "detail",
        "title": "指标详情",
        "indicator": "online_rate",
        "region": "130302",
        "period": "2026-10",
    }
    assert {e.user for e in audit.search(SAMPLE_CONFIG.parent)} == {"demo"}


def test_an_export_is_recorded(sample_env: Any, log: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/rankings.py")
    at.query_params.update(indicator="online_rate", period="2026-10")
    at.run()
    at.download_button(key="export_csv").click().run()
    at.download_button(key="export_xlsx").click().run()
    assert not at.exception, [e.message for e in at.exception]
    exports = [e.details for e in reversed(audit.search(SAMPLE_CONFIG.parent, kind="export"))]
    assert [(x["what"], x["format"]) for x in exports] == [("ranking", "csv"), ("ranking", "xlsx")]
    assert exports[0]["indicator"] == "online_rate" and exports[0]["period"] == "2026-10"
    assert exports[0]["rows"] == 8 and exports[0]["region"] == "130300"


def test_a_records_export_and_an_unmasked_view_are_recorded(sample_env: Any, log: Path) -> None:
    cat = sample_env
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/detail.py")
    at.query_params.update(indicator="hotline_calls", region="130306", period="2026-11-28")
    at.run()
    at.download_button(key="records_export").click().run()
    assert not at.exception, [e.message for e in at.exception]
    (e,) = audit.search(cat, kind="export")
    assert e.details["what"] == "records" and e.details["masked"] is True and e.details["rows"] > 0
    officer = Scope(
        spec.User(id="qin", name="秦", regions=["130306"], grants=["unmask"]),
        frozenset(["130306"]),
        None,
        False,
    )
    view = records.records(cat, "hotline_calls", "130306", "2026-11-28", officer, limit=3, unmask=True)
    assert view.unmasked
    (u,) = audit.search(cat, kind="unmask")
    assert (u.user, u.details["outcome"], u.details["rows"], u.details["source"]) == (
        "qin",
        "shown",
        3,
        "hotline",
    )


def test_the_audit_page_shows_searches_and_exports_the_log(sample_env: Any, log: Path) -> None:
    cat = sample_env
    audit.record(cat, "export", "li", what="ranking", rows=8)
    audit.record(cat, "sign_in", "zhang", method="local")
    at = AppTest.from_file(AUDIT_PAGE, default_timeout=300)
    at.query_params["kind"] = "sign_in"  # a link with a filter
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert [i.value for i in at.info][0].startswith("演示模式")  # open demo: shown, with the notice
    assert at.success[0].value.startswith("审计链完整")
    assert at.selectbox(key="audit_kind").value == "sign_in"
    assert at.dataframe[0].value["用户"].to_list() == ["zhang"]
    at.selectbox(key="audit_kind").set_value("").run()
    at.text_input(key="audit_q").set_value("ranking").run()
    assert at.query_params.get("q") == "ranking" and "kind" not in at.query_params
    assert at.dataframe[0].value["用户"].to_list() == ["li"]
    at.download_button(key="audit_export").click().run()
    (x,) = audit.search(cat, kind="export", text="audit_log")
    assert x.details["rows"] == 1 and x.details["filters"] == {"q": "ranking"}
    # the page has no way to change an entry; the chain still holds
    assert audit.verify(cat) == []


@pytest.mark.parametrize(
    "grants, allowed", [([], False), (["unmask"], False), (["audit"], True), (["admin"], True)]
)
def test_the_audit_page_needs_the_grant(
    sample_env: Any, log: Path, monkeypatch: pytest.MonkeyPatch, grants: list[str], allowed: bool
) -> None:
    cat = sample_env
    audit.record(cat, "sign_in", "zhang")
    user = spec.User(id="zhao", name="赵", regions=["130300"], grants=grants)
    scope = Scope(user, frozenset(cat.tree.subtree("130300")), None, True)
    monkeypatch.setattr(cockpit.ui, "current_scope", lambda _cat: scope)
    at = AppTest.from_file(AUDIT_PAGE, default_timeout=300)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    if allowed:
        assert not at.error and at.dataframe[0].value.shape[0] >= 1
        assert not at.info  # no demo notice for a signed-in auditor
    else:
        assert [e.value for e in at.error] == ["无权查看审计日志。需要 audit 或 admin 权限，请联系管理员。"]
        assert not at.dataframe and not at.download_button
    # the refused look is itself in the log, as a page view by that user
    assert audit.search(cat, kind="view", user="zhao")[0].details["page"] in ("audit", "")


# ----------------------------------------------------------------------------- actions elsewhere


def small_city(folder: Path) -> Path:
    months = [f"2026-{m:02d}" for m in range(8, 11)]
    lines = ["month,region,v"]
    for region, values in {"101": [95, 96, 80], "102": [92, 91, 80]}.items():
        lines += [f"{p}-01,{region},{v}" for p, v in zip(months, values, strict=True)]
    (folder / "data.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = folder / "indicators.yaml"
    cfg.write_text(
        textwrap.dedent(
            """\
            version: 1
            site: {title: 测试驾驶舱, base_url: "http://cockpit.test"}
            org:
              regions: {id: "100", name: 测试市, children: [{id: "101", name: 东区}, {id: "102", name: 西区}]}
              departments: [{id: zw, name: 市政务办}]
            sources:
              s: {type: csv, path: data.csv}
            channels:
              robot: {type: webhook, url: "http://127.0.0.1:9/hook", format: json}
              zhang_robot: {type: webhook, url: "http://127.0.0.1:9/zhang", format: json, user: zhang}
            access:
              users:
                - {id: zhang, name: 张区长, role: leader, regions: ["101"]}
            indicators:
              - id: rate
                name: 按时办结率
                domain: 政务服务效能
                unit: "%"
                owner: zw
                source: s
                time: {column: month, grain: month}
                region: region
                measure: {type: mean, column: v}
                target: 90
                thresholds: {green: 90, yellow: 85}
                alerts: [{when: "status = 'red'", level: special, notify: [robot, zhang_robot]}]
            """
        ),
        encoding="utf-8",
    )
    return cfg


def test_pushes_and_inbox_actions_are_recorded(
    tmp_path: Path, log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COCKPIT_NO_CACHE", "1")
    cat = load_catalogue(small_city(tmp_path))
    sent: list[str] = []

    def fake_send(name: str, channel: Any, message: Any) -> str:
        sent.append(name)
        return f"ok {name}"

    report = run(cat, now=NOW, send=fake_send, sleep=lambda _: None)
    assert report.exit_code == 0 and sent.count("zhang_robot") == 1 and sent.count("robot") == 3
    pushes = [e for e in reversed(audit.search(cat, kind="push"))]
    assert {e.user for e in pushes} == {"system"}
    assert [(e.details["channel"], e.details["notice"], e.details["outcome"]) for e in pushes] == [
        (d.channel, d.key, d.outcome) for d in report.deliveries
    ]
    assert {e.details["recipient"] for e in pushes if e.details["channel"] == "zhang_robot"} == {"zhang"}
    assert all(e.details["notice"] and e.details["title"] for e in pushes)
    assert run(cat, now=NOW, send=fake_send, sleep=lambda _: None).deliveries == []
    assert len(audit.search(cat, kind="push")) == 4  # nothing pushed, nothing logged

    db = tmp_path / ".cockpit" / "state.db"
    zhang = scope_for(cat, "zhang")
    (mine,) = inbox.items(cat, db, zhang)
    west = next(i for i in inbox.items(cat, db) if i.region == "102")
    with pytest.raises(InboxError):
        inbox.act(cat, db, west.id, "acknowledge", user="zhang", now=NOW, scope=zhang)
    inbox.act(cat, db, mine.id, "acknowledge", user="zhang", now=NOW, scope=zhang)
    inbox.act(
        cat, db, mine.id, "feedback", user="zhang", now=NOW, scope=zhang, text="已约谈张某某，电话13800001111"
    )
    acts = [e for e in reversed(audit.search(cat, kind="inbox"))]
    assert [(e.user, e.details["action"], e.details["item"], e.details["outcome"]) for e in acts] == [
        ("zhang", "acknowledge", west.id, f"refused: no alert '{west.id}'"),
        ("zhang", "acknowledge", mine.id, "done"),
        ("zhang", "feedback", mine.id, "done"),
    ]
    assert "13800001111" not in str([e.details for e in acts])  # the feedback's words stay in the inbox
    assert audit.verify(cat) == []


def test_form_locks_and_imports_are_recorded(tmp_path: Path, log: Path) -> None:
    store = FormStore(tmp_path / "forms.db")
    store.lock("county_monthly", "2026-10", user="wang", now=NOW, reason="已核对")
    store.reopen("county_monthly", "2026-10", user="wang", now=NOW, reason="东湖县更正")
    got = [
        (e.user, e.details["action"], e.details["period"])
        for e in reversed(audit.search(tmp_path, kind="forms"))
    ]
    assert got == [("wang", "lock", "2026-10"), ("wang", "reopen", "2026-10")]
    assert audit.search(tmp_path, kind="forms")[0].details["reason"] == "东湖县更正"


def test_an_unwritable_log_never_stops_a_push(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv(audit.ENV_PATH, str(blocker / "audit.db"))
    monkeypatch.setenv("COCKPIT_NO_CACHE", "1")
    cat = load_catalogue(small_city(tmp_path))
    report = run(cat, now=NOW, send=lambda *a: "ok", sleep=lambda _: None)
    assert [d.outcome for d in report.deliveries] == ["sent"] * 4
    assert any(w.startswith("audit log:") for w in report.warnings)
    assert audit.try_record(cat, "view", None) is not None


def test_search_of_a_missing_log_is_empty(tmp_path: Path, log: Path) -> None:
    assert audit.search(tmp_path) == [] and audit.verify(tmp_path) == [] and audit.users(tmp_path) == []
    assert not log.exists()  # reading never creates the log
