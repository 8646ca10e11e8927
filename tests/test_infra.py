"""The test infrastructure itself: the servers start, answer, and record what they received."""

from __future__ import annotations

import json
import smtplib
import subprocess
import sys
import urllib.error
import urllib.request
from email.message import EmailMessage

import pytest
from servers import REPO_ROOT, cockpit_command


def _get(url: str, data: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.headers, r.read()


# ---------------------------------------------------------------- PostgreSQL


def test_postgres_query_via_sqlalchemy_is_logged(postgres_url):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    assert postgres_url.url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    assert postgres_url.url.endswith("/cockpit")
    assert str(postgres_url) == postgres_url.url
    assert postgres_url.log_path.exists()

    mark = postgres_url.mark()
    engine = sqlalchemy.create_engine(postgres_url.url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("CREATE TABLE infra_probe (id int, name text)"))
            conn.execute(
                sqlalchemy.text("INSERT INTO infra_probe VALUES (:id, :name)"), [{"id": 1, "name": "海港区"}]
            )
            value = conn.execute(sqlalchemy.text("SELECT 41 + 1 AS answer_probe")).scalar_one()
            names = conn.execute(sqlalchemy.text("SELECT name FROM infra_probe WHERE id = :id"), {"id": 1})
            assert [r[0] for r in names] == ["海港区"]
            db = conn.execute(sqlalchemy.text("SELECT current_database()")).scalar_one()
    finally:
        engine.dispose()
    assert value == 42
    assert db == "cockpit"

    statements = postgres_url.statements_since(mark)
    assert any("41 + 1 AS answer_probe" in s for s in statements), statements
    assert any(s.startswith("CREATE TABLE infra_probe") for s in statements), statements
    # queries with parameters go through the extended protocol; they are logged too
    assert any("FROM infra_probe WHERE id = $1" in s for s in statements), statements
    assert postgres_url.statements() == statements  # default: since the last mark()
    assert "answer_probe" in postgres_url.log_path.read_text(encoding="utf-8")

    # a new mark hides what came before
    later = postgres_url.mark()
    assert postgres_url.statements_since(later) == []


def test_postgres_create_database_and_psql(postgres_url):
    url = postgres_url.create_database()
    assert url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    name = url.rsplit("/", 1)[1]
    assert postgres_url.psql("SELECT 1", database=name).strip() == "1"
    mark = postgres_url.mark()
    postgres_url.psql("SELECT 'psql_probe'")
    assert postgres_url.wait_for_statement("psql_probe", mark) == "SELECT 'psql_probe'"


# ---------------------------------------------------------------- HTTP


def test_http_server_serves_documents_errors_and_records(http_json_server):
    srv = http_json_server
    doc = {"data": {"items": [{"region": "130302", "value": 1.5, "name": "海港区"}]}}
    url = srv.add("/infra/items", doc)
    srv.add_error("/infra/broken", 500)
    srv.add("/infra/items?page=2", {"data": {"items": []}})
    mark = srv.mark()

    status, headers, body = _get(url)
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body.decode("utf-8")) == doc

    status, _, body = _get(srv.url("/infra/items?page=2"))
    assert json.loads(body) == {"data": {"items": []}}

    with pytest.raises(urllib.error.HTTPError) as e:
        _get(srv.url("/infra/broken"))
    assert e.value.code == 500

    with pytest.raises(urllib.error.HTTPError) as e:
        _get(srv.url("/infra/never-registered"))
    assert e.value.code == 404

    # a POST (webhook) is recorded with its body
    payload = json.dumps({"msgtype": "text", "text": {"content": "红色预警"}}, ensure_ascii=False).encode()
    srv.add("/infra/hook", {"errcode": 0})
    status, _, body = _get(
        srv.url("/infra/hook?timestamp=1&sign=x"), data=payload, headers={"Content-Type": "application/json"}
    )
    assert json.loads(body) == {"errcode": 0}

    got = srv.requests_since(mark)
    assert [(r.method, r.path) for r in got] == [
        ("GET", "/infra/items"),
        ("GET", "/infra/items"),
        ("GET", "/infra/broken"),
        ("GET", "/infra/never-registered"),
        ("POST", "/infra/hook"),
    ]
    hook = srv.requests_to("/infra/hook")[-1]
    assert hook.json()["text"]["content"] == "红色预警"
    assert hook.query == {"timestamp": ["1"], "sign": ["x"]}
    assert got[1].query == {"page": ["2"]}


def test_http_server_can_close_the_connection(http_json_server):
    http_json_server.add_close("/infra/hangup")
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        _get(http_json_server.url("/infra/hangup"))


# ---------------------------------------------------------------- SMTP


def test_smtp_sink_keeps_messages(smtp_server):
    mark = smtp_server.mark()
    msg = EmailMessage()
    msg["From"] = "cockpit@example.gov.cn"
    msg["To"] = "mayor@example.gov.cn"
    msg["Subject"] = "【特别预警】全程网办率"
    msg.set_content("全程网办率 80.1%，低于黄线。\n.leading dot line\n")
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as s:
        s.login("robot", "pw")
        s.send_message(msg)
    got = smtp_server.wait_for_messages(1, mark)
    assert len(got) == 1
    mail = got[0]
    assert mail.mail_from == "cockpit@example.gov.cn"
    assert mail.rcpt_tos == ["mayor@example.gov.cn"]
    assert mail.subject == "【特别预警】全程网办率"
    assert "低于黄线" in mail.text()
    assert ".leading dot line" in mail.text()
    assert mail.auth == ("robot", "pw")


def test_smtp_sink_can_refuse(smtp_server):
    smtp_server.reject_all = True
    try:
        with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=10) as s:
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                s.sendmail("a@example.gov.cn", ["b@example.gov.cn"], "Subject: x\r\n\r\nbody")
    finally:
        smtp_server.reset()


# ---------------------------------------------------------------- the rest


def test_repo_root(repo_root):
    assert (repo_root / "pyproject.toml").exists()
    assert repo_root == REPO_ROOT


def test_cli_runner_runs_a_process(cli, tmp_path):
    cmd = cockpit_command()
    assert cmd[0].endswith("/.venv/bin/cockpit") or cmd[:2] == [sys.executable, "-m"]
    proc = cli("--help", cwd=tmp_path, env={"COCKPIT_INFRA_PROBE": "1"}, timeout=60)
    assert isinstance(proc, subprocess.CompletedProcess)
    assert isinstance(proc.stdout, str) and isinstance(proc.stderr, str)
    if proc.returncode != 0 and ("No module named" in proc.stderr or "cannot import" in proc.stderr):
        pytest.skip("the cockpit command line is not written yet")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_streamlit_server_starts(streamlit_server, tmp_path):
    (tmp_path / "probe_app.py").write_text('import streamlit as st\nst.write("探针 ok")\n', encoding="utf-8")
    srv = streamlit_server("probe_app.py", cwd=tmp_path)
    status, _, body = _get(srv.url + "/_stcore/health")
    assert status == 200 and body.strip() == b"ok"


@pytest.mark.browser
def test_browser_renders_chinese(page, http_json_server):
    http_json_server.add(
        "/infra/page.html",
        "<html><body><h1 id=t>示范市领导驾驶舱</h1></body></html>",
        content_type="text/html; charset=utf-8",
    )
    page.goto(http_json_server.url("/infra/page.html"))
    assert page.inner_text("#t") == "示范市领导驾驶舱"
    png = page.screenshot()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
