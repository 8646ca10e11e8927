"""Alert state in SQLite: instances, the notices they raise, every delivery, and the inbox's actions.

One file (``--state``, default ``.cockpit/state.db`` beside the config)
holds it all, so that one transaction moves an instance and records what it
must send. The tables:

``instances``
    One row per alert rule × region node: the data state (``pending``,
    ``firing``, ``resolved``, ``inactive``), the row that decided it, the
    current firing ``episode``, and the inbox's handling (``new``,
    ``acknowledged``, ``assigned``, ``feedback``, ``closed``).
``notices``
    What must reach the channels, each under a unique key:
    ``fire:<instance>:<episode>``, ``resolve:…``, ``remind:…:<n>``,
    ``bulletin:<id>:<period>``. The message is rendered once, when the
    notice is made, so a retry sends the same words.
``deliveries``
    One row per notice × channel: ``sending`` (written and committed just
    before the push), ``sent``, ``failed`` (retried on the next run) or
    ``dropped`` (given up). A run killed between the push and the ``sent``
    record leaves ``sending``, which the next run sends again: at worst one
    repeated push, the one in flight (contract section 7).
``actions``
    The inbox's history: who acknowledged, assigned, wrote feedback or
    closed, when, with what.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metrics.sqlite import immediate

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS instances (
    id          TEXT PRIMARY KEY,
    indicator   TEXT NOT NULL,
    rule        TEXT NOT NULL,
    region      TEXT,
    level       TEXT NOT NULL,
    state       TEXT NOT NULL,
    episode     INTEGER NOT NULL DEFAULT 0,
    period      TEXT,
    since       TEXT,
    value       REAL,
    target      REAL,
    status      TEXT,
    yoy         REAL,
    mom         REAL,
    rank        INTEGER,
    detail      TEXT,
    fired_at    TEXT,
    resolved_at TEXT,
    updated_at  TEXT NOT NULL,
    handling    TEXT NOT NULL DEFAULT 'new',
    assignee    TEXT,
    deadline    TEXT
);
CREATE INDEX IF NOT EXISTS instances_state ON instances (state, level);
CREATE TABLE IF NOT EXISTS notices (
    id         INTEGER PRIMARY KEY,
    key        TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    instance   TEXT,
    created_at TEXT NOT NULL,
    message    TEXT NOT NULL,
    chart      BLOB,
    channels   TEXT NOT NULL,
    attachment BLOB,
    attachment_name TEXT
);
CREATE TABLE IF NOT EXISTS deliveries (
    notice    INTEGER NOT NULL REFERENCES notices (id),
    channel   TEXT NOT NULL,
    status    TEXT NOT NULL,
    attempts  INTEGER NOT NULL DEFAULT 0,
    first_try TEXT,
    last_try  TEXT,
    sent_at   TEXT,
    receipt   TEXT,
    error     TEXT,
    PRIMARY KEY (notice, channel)
);
CREATE TABLE IF NOT EXISTS actions (
    id         INTEGER PRIMARY KEY,
    instance   TEXT NOT NULL,
    episode    INTEGER NOT NULL,
    at         TEXT NOT NULL,
    user       TEXT,
    action     TEXT NOT NULL,
    department TEXT,
    deadline   TEXT,
    text       TEXT
);
CREATE INDEX IF NOT EXISTS actions_instance ON actions (instance, id);
"""

INSTANCE_FIELDS = (
    "id",
    "indicator",
    "rule",
    "region",
    "level",
    "state",
    "episode",
    "period",
    "since",
    "value",
    "target",
    "status",
    "yoy",
    "mom",
    "rank",
    "detail",
    "fired_at",
    "resolved_at",
    "updated_at",
    "handling",
    "assignee",
    "deadline",
)


class StateError(Exception):
    """The state file cannot be used (not SQLite, a newer schema, locked for too long)."""


@dataclass
class Instance:
    id: str
    indicator: str
    rule: str
    region: str | None
    level: str
    state: str = "inactive"
    episode: int = 0
    period: str | None = None
    since: str | None = None
    value: float | None = None
    target: float | None = None
    status: str | None = None
    yoy: float | None = None
    mom: float | None = None
    rank: int | None = None
    detail: str | None = None  # JSON: the anomaly finding, the rule's text, …
    fired_at: str | None = None
    resolved_at: str | None = None
    updated_at: str = ""
    handling: str = "new"
    assignee: str | None = None
    deadline: str | None = None

    @property
    def details(self) -> dict[str, Any]:
        return json.loads(self.detail) if self.detail else {}


def iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds")


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating) the state file; autocommit off, WAL so the pages read while a run writes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = sqlite3.connect(path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA busy_timeout=30000")
        con.executescript(SCHEMA)
        row = con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise StateError(f"{path}: state schema {row[0]} is newer than this cockpit's ({SCHEMA_VERSION})")
        _migrate(con, int(row[0]) if row is not None else SCHEMA_VERSION)
    except sqlite3.DatabaseError as e:
        raise StateError(f"{path}: not a usable state file: {e}") from None
    return con


def _migrate(con: sqlite3.Connection, version: int) -> None:
    """Bring an older state file up to :data:`SCHEMA_VERSION` (each step idempotent)."""
    cols = {r[1] for r in con.execute("PRAGMA table_info(notices)")}
    if "attachment" not in cols:  # version 2: bulletins attached to their mail
        con.execute("ALTER TABLE notices ADD COLUMN attachment BLOB")
        con.execute("ALTER TABLE notices ADD COLUMN attachment_name TEXT")
    if version != SCHEMA_VERSION:
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
    elif con.execute("SELECT 1 FROM meta WHERE key = 'schema'").fetchone() is None:
        con.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))


transaction = immediate  # BEGIN IMMEDIATE … COMMIT / ROLLBACK (metrics.sqlite)


@contextlib.contextmanager
def run_lock(path: Path, wait: float = 600.0) -> Iterator[None]:
    """One alert run at a time per state file: a second run waits, then finds nothing new to send.

    An advisory ``flock`` on ``<state>.lock``; the system drops it when a run
    dies, so a killed run never blocks the next.
    """
    lock = path.with_name(path.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as fh:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StateError(
                        f"{lock}: another alert run has held the lock for {wait:.0f} s"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ----------------------------------------------------------------- meta


def get_meta(con: sqlite3.Connection, key: str) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(con: sqlite3.Connection, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


# ----------------------------------------------------------------- instances


def load_instances(con: sqlite3.Connection) -> dict[str, Instance]:
    return {r["id"]: Instance(**dict(r)) for r in con.execute("SELECT * FROM instances")}


def get_instance(con: sqlite3.Connection, instance_id: str) -> Instance | None:
    r = con.execute("SELECT * FROM instances WHERE id = ?", (instance_id,)).fetchone()
    return Instance(**dict(r)) if r else None


def save_instance(con: sqlite3.Connection, inst: Instance) -> None:
    cols = ", ".join(INSTANCE_FIELDS)
    marks = ", ".join("?" for _ in INSTANCE_FIELDS)
    con.execute(
        f"INSERT OR REPLACE INTO instances ({cols}) VALUES ({marks})",
        tuple(getattr(inst, f) for f in INSTANCE_FIELDS),
    )


# ----------------------------------------------------------------- notices and deliveries


@dataclass(frozen=True)
class Notice:
    id: int
    key: str
    kind: str
    instance: str | None
    created_at: str
    message: dict[str, Any]
    chart: bytes | None
    channels: tuple[str, ...]
    attachment: tuple[str, bytes, str] | None = None


def add_notice(
    con: sqlite3.Connection,
    key: str,
    kind: str,
    instance: str | None,
    now: dt.datetime,
    message: dict[str, Any],
    chart: bytes | None,
    channels: list[str],
    attachment: tuple[str, bytes] | None = None,
) -> bool:
    """Record a notice once: False when its key is already there (nothing new to send).

    ``attachment`` (file name, bytes) goes to email channels with the message.
    """
    name, data = attachment if attachment else (None, None)
    cur = con.execute(
        "INSERT OR IGNORE INTO notices (key, kind, instance, created_at, message, chart, channels, "
        "attachment, attachment_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            key,
            kind,
            instance,
            iso(now),
            json.dumps(message, ensure_ascii=False),
            chart,
            json.dumps(channels),
            data,
            name,
        ),
    )
    return cur.rowcount == 1


def has_notice(con: sqlite3.Connection, key: str) -> bool:
    return con.execute("SELECT 1 FROM notices WHERE key = ?", (key,)).fetchone() is not None


def _notice(r: sqlite3.Row) -> Notice:
    return Notice(
        r["id"],
        r["key"],
        r["kind"],
        r["instance"],
        r["created_at"],
        json.loads(r["message"]),
        r["chart"],
        tuple(json.loads(r["channels"])),
        (r["attachment_name"], r["attachment"], _mime(r["attachment_name"])) if r["attachment"] else None,
    )


def _mime(name: str | None) -> str:
    import mimetypes

    return (mimetypes.guess_type(name or "")[0] or "application/octet-stream") if name else ""


def open_deliveries(con: sqlite3.Connection) -> list[tuple[Notice, str, dict[str, Any] | None]]:
    """Every notice × channel not yet sent nor dropped, oldest notice first, with its delivery row."""
    out = []
    done = {
        (r["notice"], r["channel"]): dict(r)
        for r in con.execute("SELECT * FROM deliveries")
        if r["status"] in ("sent", "dropped")
    }
    rows = {(r["notice"], r["channel"]): dict(r) for r in con.execute("SELECT * FROM deliveries")}
    for r in con.execute("SELECT * FROM notices ORDER BY id"):
        n = _notice(r)
        for ch in n.channels:
            if (n.id, ch) not in done:
                out.append((n, ch, rows.get((n.id, ch))))
    return out


def mark_sending(con: sqlite3.Connection, notice: int, channel: str, now: dt.datetime) -> None:
    t = iso(now)
    with transaction(con):
        con.execute(
            "INSERT INTO deliveries (notice, channel, status, attempts, first_try, last_try) "
            "VALUES (?, ?, 'sending', 1, ?, ?) "
            "ON CONFLICT (notice, channel) DO UPDATE SET status = 'sending', attempts = attempts + 1, "
            "last_try = excluded.last_try",
            (notice, channel, t, t),
        )


def mark_done(
    con: sqlite3.Connection,
    notice: int,
    channel: str,
    status: str,
    now: dt.datetime,
    receipt: str | None = None,
    error: str | None = None,
) -> None:
    with transaction(con):
        con.execute(
            "UPDATE deliveries SET status = ?, sent_at = ?, receipt = ?, error = ? "
            "WHERE notice = ? AND channel = ?",
            (status, iso(now) if status == "sent" else None, receipt, error, notice, channel),
        )


def deliveries(con: sqlite3.Connection, instance: str | None = None) -> list[dict[str, Any]]:
    """The delivery log (joined with its notice), oldest first."""
    sql = (
        "SELECT d.*, n.key, n.kind, n.instance, n.created_at, json_extract(n.message, '$.title') AS title "
        "FROM deliveries d JOIN notices n ON n.id = d.notice"
    )
    args: tuple = ()
    if instance is not None:
        sql += " WHERE n.instance = ?"
        args = (instance,)
    return [dict(r) for r in con.execute(sql + " ORDER BY n.id, d.channel", args)]


# ----------------------------------------------------------------- the inbox's history


def add_action(
    con: sqlite3.Connection,
    inst: Instance,
    now: dt.datetime,
    user: str | None,
    action: str,
    *,
    department: str | None = None,
    deadline: str | None = None,
    text: str | None = None,
) -> None:
    con.execute(
        "INSERT INTO actions (instance, episode, at, user, action, department, deadline, text) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (inst.id, inst.episode, iso(now), user, action, department, deadline, text),
    )


def actions(con: sqlite3.Connection, instance: str) -> list[dict[str, Any]]:
    return [dict(r) for r in con.execute("SELECT * FROM actions WHERE instance = ? ORDER BY id", (instance,))]
