"""The audit log (审计日志): who saw, exported, unmasked, handled or pushed what, and when.

Append-only, in SQLite at ``.cockpit/audit.db`` beside the config (or where
``COCKPIT_AUDIT_DB`` says). Every entry carries:

- ``seq``: 1, 2, 3, … with no gap;
- ``at`` (UTC, ISO 8601 with ``Z``) and ``at_local`` (the schedule's time
  zone, Asia/Shanghai by default, with its offset);
- ``user``: the signed-in user's id, ``demo`` in the open demo, ``system``
  for what the cockpit does on its own (pushes);
- ``kind`` (:data:`KINDS`) and ``details`` (a JSON object: page, indicator,
  region, period, rows, …; never the personal data itself);
- ``prev``: the hash of the entry before (64 zeros for the first);
- ``hash``: SHA-256 of ``prev`` and the entry's own content.

Triggers refuse every ``UPDATE`` and ``DELETE``; the app has no code path
that edits an entry. Someone who edits the file by other means (drops the
triggers, rewrites a row, inserts a row by hand, deletes one) breaks the
chain, and :func:`verify` says where. The chain cannot tell that the newest
entries were cut off, nor stop someone who recomputes every hash after his
edit: write the head hash (:func:`status`) down elsewhere now and then, and
compare.

::

    record(cat, "export", "zhang", what="ranking", rows=8, format="csv") -> Entry
    search(cat, user=None, kind=None, since=None, until=None, text=None, limit=500) -> list[Entry]
    verify(cat) -> list[str]            # [] when the chain holds
    status(cat) -> ChainStatus
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import os
import sqlite3
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sqlite import immediate

KINDS = (
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "account_locked",
    "view",
    "export",
    "unmask",
    "inbox",
    "push",
    "forms",
    "bulletin",
)
KIND_LABEL = {
    "sign_in": "登录",
    "sign_in_failed": "登录失败",
    "sign_out": "退出",
    "account_locked": "账户锁定",
    "view": "查看页面",
    "export": "导出",
    "unmask": "查看完整信息",
    "inbox": "呈报处置",
    "push": "推送",
    "forms": "填报管理",
    "bulletin": "下载通报",
}
DB_NAME = "audit.db"
ENV_PATH = "COCKPIT_AUDIT_DB"
DEMO_USER = "demo"
SYSTEM_USER = "system"
GENESIS = "0" * 64
DEFAULT_TZ = "Asia/Shanghai"
_MAX_TEXT = 500

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq      INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    at_local TEXT NOT NULL,
    user     TEXT NOT NULL,
    kind     TEXT NOT NULL,
    details  TEXT NOT NULL,
    prev     TEXT NOT NULL,
    hash     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE INDEX IF NOT EXISTS audit_user ON audit (user);
CREATE INDEX IF NOT EXISTS audit_kind ON audit (kind);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be deleted'); END;
"""
TRIGGERS = ("audit_no_update", "audit_no_delete")


class AuditError(RuntimeError):
    """The log cannot be written or read (a full disk, a broken file, an unknown kind)."""


@dataclass(frozen=True)
class Entry:
    seq: int
    at: str
    at_local: str
    user: str
    kind: str
    details: dict[str, Any]
    prev: str
    hash: str

    @property
    def kind_label(self) -> str:
        return KIND_LABEL.get(self.kind, self.kind)

    def summary(self) -> str:
        """The details in one line: ``indicator=hotline_calls region=130302 period=2026-10``."""
        return " ".join(f"{k}={_short(v)}" for k, v in self.details.items() if v not in (None, "", [], {}))


@dataclass(frozen=True)
class ChainStatus:
    entries: int
    head: str  # the newest entry's hash (GENESIS for an empty log)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _short(v: Any) -> str:
    if isinstance(v, list | tuple):
        return ",".join(str(x) for x in v)
    return str(v)


# ----------------------------------------------------------------- where the log lives


def log_path(where: Any) -> Path:
    """The log of a catalogue (``cat.state_dir / audit.db``), or of a state folder given as a path.

    ``COCKPIT_AUDIT_DB`` wins: a deployment may keep the log on another volume.
    """
    env = os.environ.get(ENV_PATH)
    if env:
        return Path(env)
    state_dir = getattr(where, "state_dir", None)
    if state_dir is not None:
        return Path(state_dir) / DB_NAME
    return Path(where) / DB_NAME


def _timezone(where: Any) -> zoneinfo.ZoneInfo:
    config = getattr(where, "config", None)
    schedule = getattr(config, "schedule", None) if config is not None else None
    name = schedule.timezone if schedule is not None else DEFAULT_TZ
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(DEFAULT_TZ)


@contextlib.contextmanager
def _connect(path: Path, create: bool = True) -> Iterator[sqlite3.Connection]:
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=30, isolation_level=None)
    except (OSError, sqlite3.Error) as e:
        raise AuditError(f"{path}: cannot open the audit log: {e}") from None
    try:
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA busy_timeout=30000")
        if create:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)
        yield con
    except sqlite3.Error as e:
        raise AuditError(f"{path}: audit log: {e}") from None
    finally:
        con.close()


# ----------------------------------------------------------------- the chain


def _clean(v: Any, depth: int = 0) -> Any:
    """JSON-safe details: scalars, short texts, lists and mappings of them."""
    if v is None or isinstance(v, bool | int):
        return v
    if isinstance(v, float):
        return v if v == v and v not in (float("inf"), float("-inf")) else None
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, list | tuple | set | frozenset) and depth < 3:
        items = sorted(v, key=str) if isinstance(v, set | frozenset) else list(v)
        return [_clean(x, depth + 1) for x in items[:100]]
    if isinstance(v, dict) and depth < 3:
        return {str(k): _clean(x, depth + 1) for k, x in list(v.items())[:50]}
    s = str(v)
    return s if len(s) <= _MAX_TEXT else s[: _MAX_TEXT - 1] + "…"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def entry_hash(prev: str, seq: int, at: str, at_local: str, user: str, kind: str, details: str) -> str:
    """SHA-256 of the previous entry's hash and this entry's content (``details`` as stored)."""
    content = _canonical([seq, at, at_local, user, kind, details])
    return hashlib.sha256(f"{prev}\n{content}".encode()).hexdigest()


def _entry(r: sqlite3.Row) -> Entry:
    try:
        details = json.loads(r["details"])
    except (TypeError, ValueError):
        details = {"_raw": str(r["details"])}
    if not isinstance(details, dict):
        details = {"_raw": details}
    return Entry(r["seq"], r["at"], r["at_local"], r["user"], r["kind"], details, r["prev"], r["hash"])


# ----------------------------------------------------------------- writing


def record(
    where: Any,
    kind: str,
    user: str | None,
    *,
    now: dt.datetime | None = None,
    **details: Any,
) -> Entry:
    """Append one entry to the log of ``where`` (a catalogue, or a state folder).

    ``user`` None is the open demo (``demo``). ``now`` is for tests; the log
    keeps the real clock otherwise. Raises :class:`AuditError` when the log
    cannot be written, so that a caller may refuse what it was about to show.
    """
    if kind not in KINDS:
        raise AuditError(f"unknown audit kind '{kind}' (one of {', '.join(KINDS)})")
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    at = when.isoformat(timespec="microseconds").replace("+00:00", "Z")
    at_local = when.astimezone(_timezone(where)).isoformat(timespec="seconds")
    who = str(user) if user else DEMO_USER
    text = _canonical(_clean({k: v for k, v in details.items()}))
    path = log_path(where)
    with _connect(path) as con, immediate(con):
        last = con.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq = (last["seq"] + 1) if last else 1
        prev = last["hash"] if last else GENESIS
        h = entry_hash(prev, seq, at, at_local, who, kind, text)
        con.execute(
            "INSERT INTO audit (seq, at, at_local, user, kind, details, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, at, at_local, who, kind, text, prev, h),
        )
    return Entry(seq, at, at_local, who, kind, json.loads(text), prev, h)


def try_record(where: Any, kind: str, user: str | None, **details: Any) -> str | None:
    """:func:`record`, for what has already happened (a push sent, a period locked): a failure is returned, not raised."""
    try:
        record(where, kind, user, **details)
    except AuditError as e:
        return str(e)
    return None


# ----------------------------------------------------------------- reading


def _utc_text(v: str | dt.date | dt.datetime, where: Any, end: bool) -> str:
    """A bound as the log's UTC text. A date is a whole local day; a naive time is local time."""
    tz = _timezone(where)
    if isinstance(v, str):
        s = v.strip()
        try:
            v = (
                dt.date.fromisoformat(s)
                if len(s) == 10
                else dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
            )
        except ValueError:
            raise AuditError(f"'{s}' is not a date or time (write 2026-11-29 or 2026-11-29T08:30)") from None
    if not isinstance(v, dt.datetime):
        v = dt.datetime.combine(v + dt.timedelta(days=1) if end else v, dt.time())
    if v.tzinfo is None:
        v = v.replace(tzinfo=tz)
    return v.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def search(
    where: Any,
    user: str | None = None,
    kind: str | Sequence[str] | None = None,
    since: str | dt.date | dt.datetime | None = None,
    until: str | dt.date | dt.datetime | None = None,
    text: str | None = None,
    limit: int = 500,
) -> list[Entry]:
    """Entries newest first, filtered: a user id, a kind (or several), a time range, a text.

    ``since`` is inclusive and ``until`` exclusive; a date means the whole
    local day (``until=2026-11-29`` keeps the 29th). ``text`` is searched,
    case-insensitively, in the user, the kind and the details.
    """
    path = log_path(where)
    if not path.exists():
        return []
    sql, args = "SELECT * FROM audit WHERE 1 = 1", []
    if user:
        sql += " AND user = ?"
        args.append(user)
    if kind:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
        args.extend(kinds)
    if since:
        sql += " AND at >= ?"
        args.append(_utc_text(since, where, end=False))
    if until:
        sql += " AND at < ?"
        args.append(_utc_text(until, where, end=True))
    if text:
        like = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        sql += " AND lower(user || ' ' || kind || ' ' || details) LIKE ? ESCAPE '\\'"
        args.append(like)
    sql += " ORDER BY seq DESC LIMIT ?"
    args.append(max(0, int(limit)))
    with _connect(path, create=False) as con:
        return [_entry(r) for r in con.execute(sql, args).fetchall()]


def users(where: Any) -> list[str]:
    """Every user id in the log, sorted (the audit page's filter)."""
    path = log_path(where)
    if not path.exists():
        return []
    with _connect(path, create=False) as con:
        return [r[0] for r in con.execute("SELECT DISTINCT user FROM audit ORDER BY user").fetchall()]


def status(where: Any) -> ChainStatus:
    """The chain checked from the first entry to the last: count, head hash, every problem found."""
    path = log_path(where)
    if not path.exists():
        return ChainStatus(0, GENESIS)
    problems: list[str] = []
    with _connect(path, create=False) as con:
        have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()}
        for t in TRIGGERS:
            if t not in have:
                problems.append(f"trigger {t} is missing: entries could be changed or deleted")
        rows = con.execute(
            "SELECT seq, at, at_local, user, kind, details, prev, hash FROM audit ORDER BY seq"
        ).fetchall()
    prev, expected, n = GENESIS, 1, 0
    for r in rows:
        n += 1
        seq = r["seq"]
        if seq != expected:
            problems.append(
                f"entry {expected}" + (f"–{seq - 1}" if seq - 1 > expected else "") + " missing (deleted?)"
                if seq > expected
                else f"entry {seq}: out of sequence"
            )
        if r["prev"] != prev:
            problems.append(f"entry {seq}: does not follow the entry before it (prev hash differs)")
        h = entry_hash(r["prev"], seq, r["at"], r["at_local"], r["user"], r["kind"], r["details"])
        if h != r["hash"]:
            problems.append(f"entry {seq}: content does not match its hash (changed or forged)")
        prev, expected = r["hash"], seq + 1
    return ChainStatus(n, prev, problems)


def verify(where: Any) -> list[str]:
    """Every problem with the chain, each naming an entry; ``[]`` when the log is intact."""
    return status(where).problems


# ----------------------------------------------------------------- export


CSV_HEADER = ["序号", "时间（UTC）", "当地时间", "用户", "类型", "详情", "哈希"]


def to_csv_bytes(entries: Sequence[Entry]) -> bytes:
    """The entries as a CSV for Excel (UTF-8 with BOM): the details as JSON, the hash in full."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_HEADER)
    for e in entries:
        w.writerow([e.seq, e.at, e.at_local, e.user, e.kind_label, _canonical(e.details), e.hash])
    return buf.getvalue().encode("utf-8-sig")
