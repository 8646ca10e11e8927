"""在线数据报送 (contract section 14): form submissions, their checks, who has reported, reminders.

A ``type: form`` source collects figures that live in no system: each
reporter (a county, or a department) fills one row per period. This module
holds everything about those rows except how the engine reads them
(:mod:`connectors.form` exposes the current submitted rows as a relation):

- the forms of a catalogue, their reporters and due dates;
- reading a value and checking a row: types, ``required``, ``min``/``max``,
  ``choices`` and the form's ``checks`` (parsed under the same allow-list as
  ``where``, evaluated in an in-memory DuckDB over the typed rows, never
  ``eval``);
- :class:`FormStore`, the SQLite file ``.cockpit/forms.db`` beside the config:
  the current row per form × period × reporter, an append-only history of
  every change (who, when, old values, new values), and period locks with
  their log;
- reading CSV/XLSX files and importing them in one transaction, and the
  Excel template that the importer takes back;
- each reporter's status for a period (submitted / late / missing), the
  reminders due at a moment, and which indicators use each field (一张表).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import math
import sqlite3
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlencode

from . import periods
from .catalogue import spec
from .catalogue.expressions import ExpressionError, check_where, render
from .catalogue.problems import did_you_mean
from .sqlite import immediate

if TYPE_CHECKING:
    import polars as pl

    from .access import Scope
    from .catalogue.load import Catalogue

# Columns every form source's records have besides its fields (contract section 14); `department`
# is added here for forms that departments report (null on the rows of region reporters).
RESERVED_COLUMNS = ("period", "region", "department", "submitted_by", "submitted_at")
TYPE_WORDS = {"integer": "整数", "number": "数字", "text": "文本", "choice": "选项", "date": "日期"}
GRAIN_WORDS = {"day": "日", "week": "周", "month": "月", "quarter": "季度", "year": "年"}
PERIOD_EXAMPLE = {
    "day": "2026-10-05",
    "week": "2026-W41",
    "month": "2026-10",
    "quarter": "2026-Q3",
    "year": "2026",
}
REMIND_BEFORE = dt.timedelta(days=2)  # a reminder this long before the due day, then one when overdue
STORE_NAME = "forms.db"
STATUS_WORDS = {"submitted": "已报", "late": "逾期", "missing": "未报"}

# Header spellings the importer accepts besides the contract's `period` / `region` / `department`.
_HEADER_ALIASES = {
    "period": ("period", "期间", "报告期", "所属期"),
    "region": ("region", "地区", "地区代码", "区划代码"),
    "department": ("department", "部门", "部门代码"),
}


class FormError(ValueError):
    """A form operation that cannot be done: unknown form, locked period, unreadable file…"""


# ----------------------------------------------------------------- forms, reporters, due dates


def form_sources(cat: Catalogue) -> dict[str, spec.FormSource]:
    """The catalogue's form sources by id, in declared order."""
    return {k: s for k, s in cat.config.sources.items() if isinstance(s, spec.FormSource)}


def get_form(cat: Catalogue, form_id: str) -> spec.FormSource:
    """The form source ``form_id``; :class:`FormError` with a did-you-mean when there is none."""
    forms = form_sources(cat)
    if form_id in forms:
        return forms[form_id]
    if form_id in cat.config.sources:
        listed = ", ".join(forms) or "none"
        raise FormError(f"source '{form_id}' is not a form (forms: {listed})")
    raise FormError(f"unknown form '{form_id}'{did_you_mean(form_id, list(forms))}")


def form_name(form: spec.FormSource, form_id: str) -> str:
    return form.name or form_id


@dataclass(frozen=True)
class Reporter:
    """Who fills one row per period: a region (``department`` None) or a department (region = root)."""

    region: str | None
    department: str | None
    name: str

    @property
    def id(self) -> str:
        return self.department or self.region or ""

    @property
    def kind(self) -> str:
        return "department" if self.department else "region"


def reporter_kind(form: spec.FormSource) -> str:
    return "department" if form.reporters == "departments" else "region"


def reporters(cat: Catalogue, form: spec.FormSource) -> list[Reporter]:
    """The form's reporters in tree (or declared) order.

    ``regions``: the root's children; ``departments``: ``org.departments``
    (their rows carry the root's region id, as department rows do in
    contract section 5); a list: those region ids.
    """
    tree = cat.tree
    if form.reporters == "departments":
        return [Reporter(cat.root, d.id, d.name) for d in cat.config.org.departments]
    if tree is None:
        return []
    ids = list(tree.children(tree.root)) if form.reporters == "regions" else list(form.reporters)
    return [Reporter(r, None, tree.name(r)) for r in ids if r in tree]


def due_date(form: spec.FormSource, period: str) -> dt.date:
    """Period P is due on day ``due_day`` of the period after P (capped at that period's last day)."""
    nxt = periods.shift(period, 1)
    return min(periods.start(nxt) + dt.timedelta(days=form.due_day - 1), periods.end(nxt))


def reporting_period(form: spec.FormSource, today: dt.date) -> str:
    """The period reporters work on at ``today``: the last one that has ended."""
    return periods.previous(periods.to_period(today, form.grain))


def recent_periods(form: spec.FormSource, today: dt.date, n: int = 12) -> list[str]:
    """The ``n`` periods up to the reporting period, newest first."""
    last = reporting_period(form, today)
    return [periods.shift(last, -k) for k in range(n)]


# ----------------------------------------------------------------- values and rows


@dataclass(frozen=True)
class RowError:
    """One problem with one row (or the header): printed as the contract's error line."""

    row: int | None
    subject: str  # "region '130302'", "department 'zwfw'", "column 'vists'"
    field: str
    message: str

    def line(self, file: str) -> str:
        where = f"{file}:{self.row}" if self.row is not None else file
        parts = [where, self.subject, self.field, self.message]
        return "ERROR: " + ": ".join(p for p in parts if p)

    @property
    def text(self) -> str:
        """The message for a page: 第 3 行 海港区 解决问题数：…"""
        at = f"第 {self.row} 行 " if self.row is not None else ""
        return f"{at}{self.subject} {self.field}：{self.message}"


@dataclass(frozen=True)
class RawRow:
    """A row as read from a file or an editor, before checking."""

    row: int | None
    period: Any
    reporter: Any
    values: dict[str, Any]  # field id → cell
    submitted_by: Any = None  # seeds only
    submitted_at: Any = None


@dataclass(frozen=True)
class Entry:
    """A checked row, ready to store. ``values`` are JSON-ready (dates as ISO text)."""

    period: str
    region: str | None
    department: str | None
    values: dict[str, Any]
    row: int | None = None
    submitted_by: str | None = None  # seeds only: who and when, as recorded at the time
    submitted_at: dt.datetime | None = None


def _blank(raw: Any) -> bool:
    return (
        raw is None
        or (isinstance(raw, str) and not raw.strip())
        or (isinstance(raw, float) and math.isnan(raw))
    )


def _num(x: float) -> str:
    return f"{x:g}" if abs(x) < 1e15 else str(x)


def parse_value(f: spec.FormField, raw: Any) -> tuple[Any, str | None]:
    """A cell read as the field's type: (value, None) or (None, a Chinese message)."""
    if _blank(raw):
        return None, ("必填" if f.required else None)
    if f.type in ("integer", "number"):
        if isinstance(raw, bool):
            return None, f"应为{TYPE_WORDS[f.type]}，不是 '{raw}'"
        x: float | int
        if isinstance(raw, int | float):
            x = raw
        else:
            s = str(raw).strip().replace(",", "").replace("，", "")
            try:
                x = int(s) if f.type == "integer" and s.lstrip("+-").isdigit() else float(s)
            except ValueError:
                return None, f"应为{TYPE_WORDS[f.type]}，不是 '{str(raw).strip()}'"
        if isinstance(x, float) and not math.isfinite(x):
            return None, f"应为{TYPE_WORDS[f.type]}，不是 '{raw}'"
        if f.type == "integer":
            if float(x) != int(x):
                return None, f"应为整数，不是 '{raw}'"
            x = int(x)
        else:
            x = float(x)
        if f.min is not None and x < f.min:
            return None, f"不能小于 {_num(f.min)}（填写了 {_num(x)}）"
        if f.max is not None and x > f.max:
            return None, f"不能大于 {_num(f.max)}（填写了 {_num(x)}）"
        return x, None
    if f.type == "date":
        if isinstance(raw, dt.datetime):
            return raw.date().isoformat(), None
        if isinstance(raw, dt.date):
            return raw.isoformat(), None
        s = str(raw).strip().replace("/", "-").replace(".", "-")
        try:
            return dt.date.fromisoformat(s[:10] if len(s) > 10 and s[10] in " T" else s).isoformat(), None
        except ValueError:
            return None, f"应为日期（如 2026-10-05），不是 '{str(raw).strip()}'"
    if isinstance(raw, float) and raw.is_integer():
        s = str(int(raw))  # Excel hands a code typed as 12 back as 12.0
    else:
        s = str(raw).strip()
    if f.type == "choice":
        options = f.choices or []
        if s not in options:
            return None, f"应为以下之一：{'、'.join(options)}（填写了 '{s}'）"
    return s, None


def parse_period(form: spec.FormSource, raw: Any) -> tuple[str | None, str | None]:
    """A period cell at the form's grain: (period, None) or (None, message)."""
    grain = form.grain
    want = f"应为{GRAIN_WORDS[grain]}，如 {PERIOD_EXAMPLE[grain]}"
    if _blank(raw):
        return None, "必填"
    if isinstance(raw, dt.datetime):
        raw = raw.date()
    if isinstance(raw, dt.date):
        # Excel turns a typed 2026-10 into 2026-10-01: read a period's first day as the period
        p = periods.to_period(raw, grain)
        if grain == "day" or periods.start(p) == raw:
            return p, None
        return None, f"{want}，不是 '{raw.isoformat()}'"
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if grain == "year" and float(raw).is_integer():
            return str(int(raw)), None
        return None, f"{want}，不是 '{raw}'"
    s = str(raw).strip()
    try:
        g = periods.grain_of(s)
        p = periods.to_period(s, grain) if g == grain else None
    except ValueError:
        p = None
    if p is None:
        return None, f"{want}，不是 '{s}'"
    return p, None


def _code(raw: Any) -> str:
    """A region or department id as text: Excel's 130302.0 is '130302'."""
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw).strip()


def covers(scope: Scope | None, rep: Reporter) -> bool:
    """Whether a user's scope may fill (and be reminded about) this reporter's rows."""
    if scope is None:
        return True
    if rep.department:
        return scope.departments
    return scope.sees_region(rep.region)


def check_names(form: spec.FormSource) -> list[str]:
    return [f.id for f in form.fields]


def _check_failures(
    form: spec.FormSource, rows: Sequence[tuple[int, dict[str, Any]]]
) -> list[tuple[int, int]]:
    """(row index, check index) for every check a row fails.

    The rules are parsed under the ``where`` allow-list and rendered from the
    checked tree; they run in a private in-memory DuckDB over the typed rows.
    A rule that comes out NULL (an empty optional field) passes, as a SQL
    CHECK constraint does.
    """
    if not form.checks or not rows:
        return []
    import duckdb

    names = check_names(form)
    sql_types = {
        "integer": "BIGINT",
        "number": "DOUBLE",
        "text": "VARCHAR",
        "choice": "VARCHAR",
        "date": "DATE",
    }
    exprs: list[tuple[int, str]] = []
    for k, c in enumerate(form.checks):
        try:
            tree = check_where(c.rule, names).tree
        except ExpressionError:
            continue  # refused when the catalogue was loaded; never evaluated
        exprs.append((k, render(tree, "duckdb", {n: n for n in names})))
    if not exprs:
        return []

    def q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    con = duckdb.connect(":memory:")
    try:
        cols = ", ".join(f"{q(f.id)} {sql_types[f.type]}" for f in form.fields)
        con.execute(f"CREATE TABLE t (__i INTEGER, {cols})")
        marks = ", ".join("?" for _ in range(len(names) + 1))
        con.executemany(f"INSERT INTO t VALUES ({marks})", [[i, *(v.get(n) for n in names)] for i, v in rows])
        out: list[tuple[int, int]] = []
        for k, text in exprs:
            try:
                found = con.execute(f"SELECT __i FROM t WHERE ({text}) IS FALSE ORDER BY __i").fetchall()
            except duckdb.Error:
                # a value the rule cannot compare (text against a number): judge row by row
                found = []
                for i, _ in rows:
                    try:
                        r = con.execute(f"SELECT ({text}) IS FALSE FROM t WHERE __i = ?", [i]).fetchone()
                    except duckdb.Error:
                        r = (True,)
                    if r and r[0]:
                        found.append((i,))
            out.extend((i, k) for (i,) in found)
        return sorted(out)
    finally:
        con.close()


def _first_name(rule: str, names: Sequence[str]) -> str:
    try:
        used = check_where(rule, names).names
    except ExpressionError:
        return "checks"
    lowered = {n.lower(): n for n in names}
    return lowered.get(used[0].lower(), used[0]) if used else "checks"


def _timestamp(raw: Any) -> dt.datetime | None:
    if _blank(raw):
        return None
    if isinstance(raw, dt.datetime):
        return raw.replace(tzinfo=None, microsecond=0)
    try:
        return dt.datetime.fromisoformat(str(raw).strip()).replace(tzinfo=None, microsecond=0)
    except ValueError:
        return None


def check_rows(
    form: spec.FormSource,
    rows: Sequence[RawRow],
    *,
    form_id: str = "",
    known: Sequence[Reporter] | None = None,
    scope: Scope | None = None,
    allowed: Collection[str] | None = None,
    store: FormStore | None = None,
    status: str = "submitted",
) -> tuple[list[Entry], list[RowError]]:
    """Check every row: the entries of the rows without a problem, and every problem found.

    ``known`` are the form's reporters (None: any id, for seeds); ``scope``
    limits the reporters a user may fill, ``allowed`` to these reporter ids
    (a reporter's upload on the page); ``store`` adds the checks that need
    stored state (a locked period; a draft over a submitted row).
    """
    kind = reporter_kind(form)
    by_id = {r.id: r for r in known} if known is not None else None
    user = scope.user.id if scope is not None and scope.user is not None else None
    locked = store.locked_periods(form_id) if store is not None else set()
    errors: list[RowError] = []
    good: list[tuple[int, str, Reporter, dict[str, Any]]] = []
    seen: dict[tuple[str, str], int | None] = {}
    for i, raw in enumerate(rows):
        rid = _code(raw.reporter)
        subject = f"{kind} '{rid}'"
        mine: list[RowError] = []
        rep: Reporter | None = None
        if not rid:
            mine.append(RowError(raw.row, subject, kind, "必填"))
        elif by_id is not None and rid not in by_id:
            word = "部门" if kind == "department" else "地区"
            mine.append(
                RowError(
                    raw.row,
                    subject,
                    kind,
                    f"{word} '{rid}' 不是本表的填报单位{did_you_mean(rid, list(by_id))}",
                )
            )
        else:
            rep = by_id[rid] if by_id is not None else _bare_reporter(kind, rid)
            if not covers(scope, rep) or (allowed is not None and rep.id not in allowed):
                why = f"不在用户 {user} 的填报范围内" if user else "不在您的填报范围内"
                mine.append(RowError(raw.row, subject, kind, why))
        period, msg = parse_period(form, raw.period)
        if msg:
            mine.append(RowError(raw.row, subject, "period", msg))
        values: dict[str, Any] = {}
        for f in form.fields:
            v, msg = parse_value(f, raw.values.get(f.id))
            if msg:
                mine.append(RowError(raw.row, subject, f.id, msg))
            values[f.id] = v
        if period is not None and rid:
            key = (period, rid)
            if key in seen:
                where = f"第 {seen[key]} 行" if seen[key] is not None else "前面的行"
                mine.append(
                    RowError(raw.row, subject, "period", f"与{where}重复（同一期间、同一填报单位只填一行）")
                )
            else:
                seen[key] = raw.row
            if period in locked:
                mine.append(
                    RowError(
                        raw.row,
                        subject,
                        "period",
                        f"{periods.label(period)}已锁定，不能再修改（请市级管理员重新开放）",
                    )
                )
            elif store is not None and status == "draft" and rep is not None:
                old = store.get(form_id, period, rep)
                if old is not None and old.status == "submitted":
                    mine.append(
                        RowError(raw.row, subject, "period", "已提交，不能再存为草稿；修改后请直接提交")
                    )
        errors.extend(mine)
        if not mine and rep is not None and period is not None:
            good.append((i, period, rep, values))
    names = check_names(form)
    failed: set[int] = set()
    for i, k in _check_failures(form, [(i, values) for i, _, _, values in good]):
        raw = rows[i]
        c = form.checks[k]
        errors.append(
            RowError(raw.row, f"{kind} '{_code(raw.reporter)}'", _first_name(c.rule, names), c.message)
        )
        failed.add(i)
    entries = [
        Entry(
            period,
            rep.region,
            rep.department,
            values,
            rows[i].row,
            _code(rows[i].submitted_by) or None,
            _timestamp(rows[i].submitted_at),
        )
        for i, period, rep, values in good
        if i not in failed
    ]
    order = {id(e): n for n, e in enumerate(errors)}
    errors.sort(key=lambda e: (e.row if e.row is not None else 0, order[id(e)]))
    return entries, errors


def _bare_reporter(kind: str, rid: str) -> Reporter:
    return Reporter(None, rid, rid) if kind == "department" else Reporter(rid, None, rid)


# ----------------------------------------------------------------- the store

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    form               TEXT NOT NULL,
    period             TEXT NOT NULL,
    region             TEXT NOT NULL,   -- '' for none
    department         TEXT NOT NULL,   -- '' for none
    fields             TEXT NOT NULL,   -- JSON {field id: value}
    status             TEXT NOT NULL CHECK (status IN ('draft', 'submitted')),
    submitted_by       TEXT,
    submitted_at       TEXT,            -- the latest submission
    first_submitted_at TEXT,            -- decides on time or late
    updated_by         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    PRIMARY KEY (form, period, region, department)
);
CREATE TABLE IF NOT EXISTS history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    form        TEXT NOT NULL,
    period      TEXT NOT NULL,
    region      TEXT NOT NULL,
    department  TEXT NOT NULL,
    at          TEXT NOT NULL,
    user        TEXT NOT NULL,
    action      TEXT NOT NULL,          -- draft | submit | import | seed
    old_status  TEXT,
    new_status  TEXT NOT NULL,
    old_fields  TEXT,
    new_fields  TEXT NOT NULL,
    origin      TEXT                    -- the imported file, the page, …
);
CREATE INDEX IF NOT EXISTS history_row ON history (form, period, region, department, id);
CREATE TRIGGER IF NOT EXISTS history_no_update BEFORE UPDATE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS history_no_delete BEFORE DELETE ON history
BEGIN SELECT RAISE(ABORT, 'history is append-only'); END;
CREATE TABLE IF NOT EXISTS locks (
    form   TEXT NOT NULL,
    period TEXT NOT NULL,
    locked INTEGER NOT NULL,
    at     TEXT NOT NULL,
    user   TEXT NOT NULL,
    reason TEXT,
    PRIMARY KEY (form, period)
);
CREATE TABLE IF NOT EXISTS lock_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    form   TEXT NOT NULL,
    period TEXT NOT NULL,
    action TEXT NOT NULL,               -- lock | reopen
    at     TEXT NOT NULL,
    user   TEXT NOT NULL,
    reason TEXT
);
"""


def iso(t: dt.datetime) -> str:
    return t.replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class Submission:
    """The current row of one form × period × reporter."""

    form: str
    period: str
    region: str | None
    department: str | None
    values: dict[str, Any]
    status: str  # draft | submitted
    submitted_by: str | None
    submitted_at: str | None
    first_submitted_at: str | None
    updated_by: str
    updated_at: str

    @property
    def reporter(self) -> str:
        return self.department or self.region or ""


@dataclass(frozen=True)
class Change:
    """One entry of the history: who changed which row when, from what to what."""

    id: int
    form: str
    period: str
    region: str | None
    department: str | None
    at: str
    user: str
    action: str
    old_status: str | None
    new_status: str
    old_values: dict[str, Any] | None
    new_values: dict[str, Any]
    origin: str | None

    def changed(self) -> list[tuple[str, Any, Any]]:
        """(field, old, new) for each field whose value changed (every field on a first entry)."""
        old = self.old_values or {}
        keys = list(dict.fromkeys([*self.new_values, *old]))
        return [(k, old.get(k), self.new_values.get(k)) for k in keys if old.get(k) != self.new_values.get(k)]


@dataclass(frozen=True)
class LockEvent:
    form: str
    period: str
    action: str  # lock | reopen
    at: str
    user: str
    reason: str | None


@dataclass(frozen=True)
class SaveReport:
    stored: int
    replaced: int


def _opt(s: str) -> str | None:
    return s or None


class FormStore:
    """Form submissions in SQLite (``.cockpit/forms.db`` beside the config).

    Every write is one transaction: a whole import, a page's save, a lock.
    Connections are opened per call (cheap for SQLite), so a store object
    may be shared by Streamlit's threads. WAL lets pages read while a CLI
    import writes.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_catalogue(cls, cat: Catalogue) -> FormStore:
        return cls(cat.state_dir / STORE_NAME)

    # -- connections
    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA busy_timeout=30000")
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)
            row = con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                con.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                # a store made afresh (the file deleted) never repeats an old store's fingerprints
                con.execute("INSERT OR IGNORE INTO meta VALUES ('store_id', ?)", (uuid.uuid4().hex[:12],))
            elif int(row[0]) > SCHEMA_VERSION:
                con.close()
                raise FormError(f"{self.path}: form store schema {row[0]} is newer than this cockpit's")
        except sqlite3.DatabaseError as e:
            raise FormError(f"{self.path}: not a usable form store: {e}") from None
        return con

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection | None]:
        """A consistent read; None when the store does not exist yet (nothing is created)."""
        if not self.path.exists():
            yield None
            return
        con = self._connect()
        try:
            con.execute("BEGIN")
            yield con
            con.execute("COMMIT")
        finally:
            con.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        con = self._connect()
        try:
            with immediate(con):
                yield con
        finally:
            con.close()

    # -- reads
    @staticmethod
    def _submission(r: sqlite3.Row) -> Submission:
        return Submission(
            r["form"],
            r["period"],
            _opt(r["region"]),
            _opt(r["department"]),
            json.loads(r["fields"]),
            r["status"],
            r["submitted_by"],
            r["submitted_at"],
            r["first_submitted_at"],
            r["updated_by"],
            r["updated_at"],
        )

    def submissions(
        self, form: str, period: str | None = None, status: str | None = None
    ) -> list[Submission]:
        sql, args = "SELECT * FROM submissions WHERE form = ?", [form]
        if period is not None:
            sql, args = sql + " AND period = ?", [*args, period]
        if status is not None:
            sql, args = sql + " AND status = ?", [*args, status]
        with self._read() as con:
            if con is None:
                return []
            rows = con.execute(sql + " ORDER BY period, region, department", args).fetchall()
        return [self._submission(r) for r in rows]

    def get(self, form: str, period: str, reporter: Reporter) -> Submission | None:
        with self._read() as con:
            if con is None:
                return None
            r = con.execute(
                "SELECT * FROM submissions WHERE form = ? AND period = ? AND region = ? AND department = ?",
                (form, period, reporter.region or "", reporter.department or ""),
            ).fetchone()
        return self._submission(r) if r else None

    def history(self, form: str, period: str | None = None, reporter: Reporter | None = None) -> list[Change]:
        """Every change, oldest first (optionally of one period and one reporter)."""
        sql, args = "SELECT * FROM history WHERE form = ?", [form]
        if period is not None:
            sql, args = sql + " AND period = ?", [*args, period]
        if reporter is not None:
            sql += " AND region = ? AND department = ?"
            args += [reporter.region or "", reporter.department or ""]
        with self._read() as con:
            if con is None:
                return []
            rows = con.execute(sql + " ORDER BY id", args).fetchall()
        return [
            Change(
                r["id"],
                r["form"],
                r["period"],
                _opt(r["region"]),
                _opt(r["department"]),
                r["at"],
                r["user"],
                r["action"],
                r["old_status"],
                r["new_status"],
                json.loads(r["old_fields"]) if r["old_fields"] else None,
                json.loads(r["new_fields"]),
                r["origin"],
            )
            for r in rows
        ]

    def fingerprint(self, form: str) -> str:
        """Changes with every write to the form's rows (the history's ids only grow)."""
        with self._read() as con:
            if con is None:
                return "empty"
            return self._token(con, form)

    @staticmethod
    def _token(con: sqlite3.Connection, form: str) -> str:
        n, last = con.execute(
            "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM history WHERE form = ?", (form,)
        ).fetchone()
        sid = con.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()
        return f"{sid[0] if sid else 'x'}.{last}.{n}"

    def records(self, form_id: str, form: spec.FormSource) -> tuple[pl.DataFrame, str]:
        """The submitted rows as the source's records (contract section 14), and the fingerprint.

        Read in one transaction, so the fingerprint belongs to exactly these rows.
        """
        import polars as pl

        with self._read() as con:
            if con is None:
                rows, token = [], "empty"
            else:
                rows = con.execute(
                    "SELECT * FROM submissions WHERE form = ? AND status = 'submitted' "
                    "ORDER BY period, region, department",
                    (form_id,),
                ).fetchall()
                token = self._token(con, form_id)
        dtype = {
            "integer": pl.Int64,
            "number": pl.Float64,
            "text": pl.String,
            "choice": pl.String,
            "date": pl.Date,
        }
        schema: dict[str, Any] = {"period": pl.String, "region": pl.String, "department": pl.String}
        schema.update({f.id: dtype[f.type] for f in form.fields})
        schema.update({"submitted_by": pl.String, "submitted_at": pl.Datetime("us")})
        data: dict[str, list[Any]] = {k: [] for k in schema}
        for r in rows:
            values = json.loads(r["fields"])
            data["period"].append(r["period"])
            data["region"].append(_opt(r["region"]))
            data["department"].append(_opt(r["department"]))
            for f in form.fields:
                v = values.get(f.id)
                if f.type == "date" and v is not None:
                    v = dt.date.fromisoformat(v)
                data[f.id].append(v)
            data["submitted_by"].append(r["submitted_by"])
            data["submitted_at"].append(
                dt.datetime.fromisoformat(r["submitted_at"]) if r["submitted_at"] else None
            )
        return pl.DataFrame(data, schema=schema), token

    def locked_periods(self, form: str) -> set[str]:
        with self._read() as con:
            if con is None:
                return set()
            return {
                r[0] for r in con.execute("SELECT period FROM locks WHERE form = ? AND locked = 1", (form,))
            }

    def is_locked(self, form: str, period: str) -> bool:
        return period in self.locked_periods(form)

    def lock_log(self, form: str, period: str | None = None) -> list[LockEvent]:
        sql, args = "SELECT * FROM lock_log WHERE form = ?", [form]
        if period is not None:
            sql, args = sql + " AND period = ?", [*args, period]
        with self._read() as con:
            if con is None:
                return []
            rows = con.execute(sql + " ORDER BY id", args).fetchall()
        return [LockEvent(r["form"], r["period"], r["action"], r["at"], r["user"], r["reason"]) for r in rows]

    # -- writes
    def save(
        self,
        form: str,
        entries: Sequence[Entry],
        *,
        user: str,
        now: dt.datetime,
        status: str = "submitted",
        action: str | None = None,
        origin: str | None = None,
    ) -> SaveReport:
        """Store checked entries in ONE transaction; a row already there is replaced (history keeps it).

        Raises :class:`FormError` (and stores nothing) when a period was
        locked, or a submitted row would become a draft, since the rows were
        checked.
        """
        if status not in ("draft", "submitted"):
            raise ValueError(f"status must be draft or submitted, not {status!r}")
        action = action or ("submit" if status == "submitted" else "draft")
        with self._write() as con:
            replaced = self._save_in(con, form, entries, user, now, status, action, origin)
        return SaveReport(len(entries), replaced)

    @staticmethod
    def _save_in(
        con: sqlite3.Connection,
        form: str,
        entries: Sequence[Entry],
        user: str,
        now: dt.datetime,
        status: str,
        action: str,
        origin: str | None,
    ) -> int:
        replaced = 0
        locked = {
            r[0] for r in con.execute("SELECT period FROM locks WHERE form = ? AND locked = 1", (form,))
        }
        for e in entries:
            if e.period in locked:
                raise FormError(f"{periods.label(e.period)}已锁定，不能再修改")
            key = (form, e.period, e.region or "", e.department or "")
            old = con.execute(
                "SELECT * FROM submissions WHERE form = ? AND period = ? AND region = ? AND department = ?",
                key,
            ).fetchone()
            if old is not None and old["status"] == "submitted" and status == "draft":
                raise FormError(
                    f"{e.department or e.region} {periods.label(e.period)} 已提交，不能再存为草稿"
                )
            at = e.submitted_at or now
            by = e.submitted_by or user
            new_fields = json.dumps(e.values, ensure_ascii=False)
            if status == "submitted":
                first = (
                    old["first_submitted_at"] if old is not None and old["first_submitted_at"] else iso(at)
                )
                sub_by, sub_at = by, iso(at)
            else:
                first = sub_by = sub_at = None
            con.execute(
                "INSERT OR REPLACE INTO submissions (form, period, region, department, fields, status, "
                "submitted_by, submitted_at, first_submitted_at, updated_by, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*key, new_fields, status, sub_by, sub_at, first, by, iso(at)),
            )
            con.execute(
                "INSERT INTO history (form, period, region, department, at, user, action, old_status, "
                "new_status, old_fields, new_fields, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *key,
                    iso(at),
                    by,
                    action,
                    old["status"] if old is not None else None,
                    status,
                    old["fields"] if old is not None else None,
                    new_fields,
                    origin,
                ),
            )
            replaced += old is not None
        return replaced

    def lock(self, form: str, period: str, *, user: str, now: dt.datetime, reason: str | None = None) -> None:
        """Lock a period: no more changes to its rows until it is reopened."""
        with self._write() as con:
            r = con.execute(
                "SELECT locked FROM locks WHERE form = ? AND period = ?", (form, period)
            ).fetchone()
            if r is not None and r[0]:
                raise FormError(f"{periods.label(period)}已经锁定")
            self._lock_row(con, form, period, 1, "lock", user, now, reason)
        self.audit(user, action="lock", form=form, period=period, reason=reason)

    def reopen(self, form: str, period: str, *, user: str, now: dt.datetime, reason: str) -> None:
        """Reopen a locked period; the reason is required and recorded."""
        if not (reason or "").strip():
            raise FormError("重新开放须填写原因")
        with self._write() as con:
            r = con.execute(
                "SELECT locked FROM locks WHERE form = ? AND period = ?", (form, period)
            ).fetchone()
            if r is None or not r[0]:
                raise FormError(f"{periods.label(period)}未锁定，无需重新开放")
            self._lock_row(con, form, period, 0, "reopen", user, now, reason.strip())
        self.audit(user, action="reopen", form=form, period=period, reason=reason.strip())

    def audit(self, user: str | None, **details: Any) -> None:
        """A ``forms`` entry in the audit log beside this store (issue 6); a failure never undoes the change."""
        from . import audit

        audit.try_record(self.path.parent, "forms", user, **details)

    @staticmethod
    def _lock_row(
        con: sqlite3.Connection,
        form: str,
        period: str,
        locked: int,
        action: str,
        user: str,
        now: dt.datetime,
        reason: str | None,
    ) -> None:
        con.execute(
            "INSERT OR REPLACE INTO locks (form, period, locked, at, user, reason) VALUES (?, ?, ?, ?, ?, ?)",
            (form, period, locked, iso(now), user, reason),
        )
        con.execute(
            "INSERT INTO lock_log (form, period, action, at, user, reason) VALUES (?, ?, ?, ?, ?, ?)",
            (form, period, action, iso(now), user, reason),
        )

    def seed_once(self, form_id: str, form: spec.FormSource, seed: Path, label: str | None = None) -> int:
        """Import ``seed`` (past submissions, with their ``submitted_by`` / ``submitted_at``) once.

        Only into a store that has never held a row of this form; afterwards
        (or when the form already has history) this is a no-op, so a seed
        never overwrites what reporters entered. Returns the rows stored.
        """
        if not seed.exists():
            return 0
        mark = f"seeded:{form_id}"
        if self.path.exists():
            with self._read() as con:
                assert con is not None
                if (
                    con.execute("SELECT 1 FROM meta WHERE key = ?", (mark,)).fetchone()
                    or con.execute("SELECT 1 FROM history WHERE form = ? LIMIT 1", (form_id,)).fetchone()
                ):
                    return 0
        raws, errors = read_table(seed, form, extra=("submitted_by", "submitted_at"))
        entries, more = check_rows(form, raws, form_id=form_id)
        errors += more
        if errors:
            shown = label or str(seed)
            raise FormError("; ".join(e.line(shown).removeprefix("ERROR: ") for e in errors[:3]))
        with self._write() as con:
            if (
                con.execute("SELECT 1 FROM meta WHERE key = ?", (mark,)).fetchone()
                or con.execute("SELECT 1 FROM history WHERE form = ? LIMIT 1", (form_id,)).fetchone()
            ):
                return 0  # another process seeded it meanwhile
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (mark, iso(dt.datetime.now())))
            # in time order, so first_submitted_at and the history read as they happened
            by_time = sorted(entries, key=lambda e: (e.submitted_at or dt.datetime.min, e.period))
            self._save_in(con, form_id, by_time, "seed", dt.datetime.now(), "submitted", "seed", seed.name)
        return len(entries)


# ----------------------------------------------------------------- files: read, import, template


def _header_key(form: spec.FormSource, cell: str, extra: Sequence[str]) -> str | None:
    """The column a header cell names: period / region / department / a field id / an extra; else None."""
    text = cell.strip()
    low = text.lower()
    for key, words in _HEADER_ALIASES.items():
        if low in words or text in words:
            return key
    for f in form.fields:
        if low == f.id.lower() or text == f.name.strip():
            return f.id
    for x in extra:
        if low == x:
            return x
    return None


def read_table(
    path: Path | str | BinaryIO, form: spec.FormSource, *, name: str | None = None, extra: Sequence[str] = ()
) -> tuple[list[RawRow], list[RowError]]:
    """Rows of a CSV or XLSX file (first sheet), numbered as the file's rows (the header is row 1).

    Columns: ``period``, ``region`` (or ``department`` for a departments
    form), then field ids or field names, in any order. Rows with every cell
    empty are skipped. Header problems (an unknown or doubled column, a
    missing ``period`` or a missing required field) come back as errors on
    row 1. Raises :class:`FormError` when the file cannot be read at all.
    """
    fname = name or (str(path) if isinstance(path, str | Path) else "upload")
    suffix = Path(fname).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        table = _xlsx_rows(path, fname)
    elif suffix in (".csv", ".txt"):
        table = _csv_rows(path, fname)
    else:
        raise FormError(f"{fname}: 应为 .csv 或 .xlsx 文件")
    table = [(n, cells) for n, cells in table if any(not _blank(c) for c in cells)]
    if not table:
        raise FormError(f"{fname}: 文件是空的（没有表头）")
    head_no, header = table[0]
    kind = reporter_kind(form)
    errors: list[RowError] = []
    columns: dict[int, str] = {}
    used: dict[str, str] = {}
    field_ids = [f.id for f in form.fields]
    for j, cell in enumerate(header):
        if _blank(cell):
            if any(j < len(cells) and not _blank(cells[j]) for _, cells in table[1:]):
                errors.append(RowError(head_no, f"column {j + 1}", "", "列标题为空"))
            continue
        text = str(cell).strip()
        key = _header_key(form, text, extra)
        if key is None or key == ("region" if kind == "department" else "department"):
            options = ["period", kind, *field_ids, *(f.name for f in form.fields)]
            errors.append(
                RowError(head_no, f"column '{text}'", "", f"不是本表的列{did_you_mean(text, options)}")
            )
            continue
        if key in used:
            errors.append(RowError(head_no, f"column '{text}'", "", f"与列 '{used[key]}' 重复"))
            continue
        used[key] = text
        columns[j] = key
    for need in ("period", kind):
        if need not in used:
            errors.append(RowError(head_no, f"column '{need}'", "", f"缺少 {need} 列"))
    for f in form.fields:
        if f.required and f.id not in used:
            errors.append(RowError(head_no, f"column '{f.id}'", "", f"缺少必填项「{f.name}」的列"))
    rows: list[RawRow] = []
    for n, cells in table[1:]:
        got = {columns[j]: cells[j] for j in columns if j < len(cells)}
        rows.append(
            RawRow(
                n,
                got.get("period"),
                got.get(kind),
                {k: v for k, v in got.items() if k in field_ids},
                got.get("submitted_by"),
                got.get("submitted_at"),
            )
        )
    return rows, errors


def _xlsx_rows(src: Path | str | BinaryIO, fname: str) -> list[tuple[int, list[Any]]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(src, read_only=True, data_only=True)
    except FileNotFoundError:
        raise FormError(f"{fname}: file not found") from None
    except Exception as e:  # openpyxl raises zipfile / XML errors of many kinds for a broken file
        raise FormError(f"{fname}: 无法读取 Excel 文件（{type(e).__name__}）") from None
    try:
        ws = wb.worksheets[0]
        return [(n, list(cells)) for n, cells in enumerate(ws.iter_rows(values_only=True), start=1)]
    finally:
        wb.close()


def _csv_rows(src: Path | str | BinaryIO, fname: str) -> list[tuple[int, list[Any]]]:
    try:
        data = Path(src).read_bytes() if isinstance(src, str | Path) else src.read()
    except FileNotFoundError:
        raise FormError(f"{fname}: file not found") from None
    except OSError as e:
        raise FormError(f"{fname}: cannot read: {e.strerror}") from None
    for enc in ("utf-8-sig", "gb18030"):  # Excel on a Chinese Windows saves CSV as GBK
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise FormError(f"{fname}: 无法识别文件编码（应为 UTF-8 或 GBK）")
    first = text.split("\n", 1)[0]
    delim = max((",", "\t", ";"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    return [(n, row) for n, row in enumerate(reader, start=1)]


@dataclass
class ImportResult:
    stored: int = 0
    replaced: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def import_rows(
    cat: Catalogue,
    store: FormStore,
    form_id: str,
    raws: Sequence[RawRow],
    *,
    user: str,
    now: dt.datetime,
    scope: Scope | None = None,
    allowed: Collection[str] | None = None,
    status: str = "submitted",
    origin: str | None = None,
    action: str | None = None,
    header_errors: Sequence[RowError] = (),
) -> ImportResult:
    """Check every row, then store all of them in one transaction, or none when any is bad."""
    form = get_form(cat, form_id)
    entries, errors = check_rows(
        form,
        raws,
        form_id=form_id,
        known=reporters(cat, form),
        scope=scope,
        allowed=allowed,
        store=store,
        status=status,
    )
    errors = [*header_errors, *errors]
    if errors:
        return ImportResult(errors=errors)
    report = store.save(form_id, entries, user=user, now=now, status=status, action=action, origin=origin)
    store.audit(
        user,
        action=action or ("submit" if status == "submitted" else "draft"),
        form=form_id,
        periods=sorted({e.period for e in entries}),
        rows=report.stored,
        replaced=report.replaced,
        origin=origin,
    )
    return ImportResult(report.stored, report.replaced)


def import_file(
    cat: Catalogue,
    store: FormStore,
    form_id: str,
    src: Path | str | BinaryIO,
    *,
    user: str,
    now: dt.datetime,
    scope: Scope | None = None,
    allowed: Collection[str] | None = None,
    name: str | None = None,
) -> ImportResult:
    """``cockpit forms import`` and the page's upload: a CSV or XLSX file, all rows or none."""
    form = get_form(cat, form_id)
    raws, header_errors = read_table(src, form, name=name)
    label = name or (Path(src).name if isinstance(src, str | Path) else "upload")
    return import_rows(
        cat,
        store,
        form_id,
        raws,
        user=user,
        now=now,
        scope=scope,
        allowed=allowed,
        origin=label,
        action="import",
        header_errors=header_errors,
    )


def field_rules(f: spec.FormField) -> str:
    """A field's rules in words: 整数，必填，≥ 0 …"""
    parts = [TYPE_WORDS[f.type], "必填" if f.required else "选填"]
    if f.min is not None:
        parts.append(f"≥ {_num(f.min)}")
    if f.max is not None:
        parts.append(f"≤ {_num(f.max)}")
    if f.choices:
        parts.append("可选：" + "、".join(f.choices))
    if f.unit:
        parts.append(f"单位：{f.unit}")
    return "，".join(parts)


def write_template(cat: Catalogue, form_id: str, out: Path | str | BinaryIO) -> None:
    """An Excel template: the 填报 sheet (the header the importer takes back, checked cells) and 填报说明.

    Row 1 of the first sheet is ``period``, ``region`` (``department``) and
    the fields' names in declared order; data goes from row 2 on. Each header
    cell carries a comment with the field's type and rules, and the cells
    below check types, bounds and choices as they are typed.
    """
    import xlsxwriter

    form = get_form(cat, form_id)
    kind = reporter_kind(form)
    reps = reporters(cat, form)
    wb = xlsxwriter.Workbook(out, {"in_memory": True})
    try:
        head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
        text_fmt = wb.add_format({"num_format": "@"})
        ws = wb.add_worksheet("填报")
        notes = wb.add_worksheet("填报说明")
        last = 1000
        ws.write_string(0, 0, "period", head)
        ws.write_comment(0, 0, f"期间（{GRAIN_WORDS[form.grain]}），如 {PERIOD_EXAMPLE[form.grain]}，必填")
        ws.set_column(0, 0, 12, text_fmt)
        ws.write_string(0, 1, kind, head)
        word = "部门代码" if kind == "department" else "地区代码"
        ws.write_comment(0, 1, f"{word}，必填：" + "，".join(f"{r.id} {r.name}" for r in reps[:40]))
        ws.set_column(1, 1, 14, text_fmt)
        if reps:
            ws.data_validation(1, 1, last, 1, {"validate": "list", "source": [r.id for r in reps][:200]})
        for j, f in enumerate(form.fields, start=2):
            ws.write_string(0, j, f.name, head)
            ws.write_comment(0, j, f"{f.id}：{field_rules(f)}" + (f"\n{f.help}" if f.help else ""))
            ws.set_column(
                j, j, max(12, 2 * len(f.name) + 2), text_fmt if f.type in ("text", "choice") else None
            )
            dv = _validation(f)
            if dv:
                ws.data_validation(1, j, last, j, dv)
        ws.freeze_panes(1, 0)
        rows = [["字段", "名称", "类型", "必填", "最小值", "最大值", "可选值", "单位", "说明"]]
        for f in form.fields:
            rows.append(
                [
                    f.id,
                    f.name,
                    TYPE_WORDS[f.type],
                    "是" if f.required else "否",
                    "" if f.min is None else _num(f.min),
                    "" if f.max is None else _num(f.max),
                    "、".join(f.choices or []),
                    f.unit or "",
                    f.help or "",
                ]
            )
        for i, r in enumerate(rows):
            notes.write_row(i, 0, r, head if i == 0 else None)
        at = len(rows) + 1
        notes.write_string(at, 0, "校验规则", head)
        for k, c in enumerate(form.checks, start=1):
            notes.write_row(at + k, 0, [c.rule, c.message])
        at += len(form.checks) + 2
        notes.write_string(at, 0, "报送要求", head)
        notes.write_string(
            at + 1,
            0,
            f"「{form_name(form, form_id)}」按{GRAIN_WORDS[form.grain]}报送，每期于下一{GRAIN_WORDS[form.grain]}"
            f"的第 {form.due_day} 天前报送；填报单位各填一行，period 写作 {PERIOD_EXAMPLE[form.grain]}。",
        )
        notes.write_string(at + 3, 0, "填报单位", head)
        for k, r in enumerate(reps, start=1):
            notes.write_row(at + 3 + k, 0, [r.id, r.name])
        notes.set_column(0, 1, 18)
        notes.set_column(2, 8, 12)
    finally:
        wb.close()


def _validation(f: spec.FormField) -> dict[str, Any] | None:
    msg = {"error_title": f.name, "error_message": field_rules(f)[:250], "ignore_blank": True}
    if f.type in ("integer", "number"):
        kind = "integer" if f.type == "integer" else "decimal"
        lo = f.min if f.min is not None else -1e15
        hi = f.max if f.max is not None else 1e15
        if f.type == "integer":
            lo, hi = math.ceil(lo), math.floor(hi)
        return {"validate": kind, "criteria": "between", "minimum": lo, "maximum": hi, **msg}
    if f.type == "choice" and f.choices:
        return {"validate": "list", "source": list(f.choices), **msg}
    if f.type == "date":
        return {
            "validate": "date",
            "criteria": "between",
            "minimum": dt.date(1900, 1, 1),
            "maximum": dt.date(2999, 12, 31),
            **msg,
        }
    return None


# ----------------------------------------------------------------- who has reported


@dataclass(frozen=True)
class ReporterStatus:
    reporter: Reporter
    period: str
    due: dt.date
    status: str  # submitted | late | missing
    submitted_at: str | None  # the first submission, which decides on time or late
    draft: bool = False  # a draft is saved but nothing is submitted

    def as_json(self) -> dict[str, Any]:
        """The object of ``cockpit forms status --format json`` (contract section 14)."""
        return {
            "region": self.reporter.region,
            "department": self.reporter.department,
            "status": self.status,
            "submitted_at": self.submitted_at,
        }


def _judge(sub: Submission | None, due: dt.date) -> tuple[str, str | None]:
    if sub is None or sub.status != "submitted" or not sub.first_submitted_at:
        return "missing", None
    at = dt.datetime.fromisoformat(sub.first_submitted_at)
    return ("submitted" if at.date() <= due else "late"), sub.first_submitted_at


def status_of(cat: Catalogue, store: FormStore, form_id: str, period: str) -> list[ReporterStatus]:
    """Each reporter's status for ``period``: ``submitted`` on or before the due day, ``late`` after it,
    ``missing`` when nothing is submitted yet (whether or not the due day has passed)."""
    form = get_form(cat, form_id)
    due = due_date(form, period)
    subs = {s.reporter: s for s in store.submissions(form_id, period)}
    out = []
    for rep in reporters(cat, form):
        sub = subs.get(rep.id)
        status, at = _judge(sub, due)
        out.append(ReporterStatus(rep, period, due, status, at, sub is not None and sub.status == "draft"))
    return out


def board(
    cat: Catalogue, store: FormStore, form_id: str, period_list: Iterable[str]
) -> dict[str, list[ReporterStatus]]:
    """The completion board: each period's statuses (reads the store once)."""
    form = get_form(cat, form_id)
    subs: dict[tuple[str, str], Submission] = {(s.period, s.reporter): s for s in store.submissions(form_id)}
    out: dict[str, list[ReporterStatus]] = {}
    for p in period_list:
        due = due_date(form, p)
        row = []
        for rep in reporters(cat, form):
            sub = subs.get((p, rep.id))
            status, at = _judge(sub, due)
            row.append(ReporterStatus(rep, p, due, status, at, sub is not None and sub.status == "draft"))
        out[p] = row
    return out


# ----------------------------------------------------------------- reminders


@dataclass(frozen=True)
class Reminder:
    """One reminder to push, exactly once (its ``key`` goes into the alert run's notices table).

    ``kind`` is ``due_soon`` (within :data:`REMIND_BEFORE` of the due day, not
    yet submitted) or ``overdue`` (the due day has passed, nothing submitted).
    ``message`` is the alert run's message dict (``title``, ``markdown``,
    ``link``, ``level: reminder``); ``channels`` are the user-bound channels
    whose user's scope covers the reporter.
    """

    key: str  # form:<id>:<period>:<reporter>:<kind>
    kind: str
    form: str
    period: str
    region: str | None
    department: str | None
    due: dt.date
    message: dict[str, Any]
    channels: tuple[str, ...]


def forms_link(cat: Catalogue, form_id: str, period: str | None, reporter: Reporter | None = None) -> str:
    """``{base_url}/forms?form=…&period=…&region=…`` (the 数据填报 page)."""
    base = cat.config.site.base_url.rstrip("/")
    q = {"form": form_id}
    if period:
        q["period"] = period
    if reporter is not None:
        q["department" if reporter.department else "region"] = reporter.id
    return f"{base}/forms?{urlencode(q)}"


def _channels_for(cat: Catalogue, rep: Reporter) -> tuple[str, ...]:
    from .access import UnknownUser, scope_for

    out = []
    for name, ch in cat.config.channels.items():
        if not ch.user:
            continue
        try:
            scope = scope_for(cat, ch.user)
        except UnknownUser:
            continue
        if scope.regions is not None and covers(scope, rep):
            out.append(name)
    return tuple(out)


def _date_words(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def reminders_due(cat: Catalogue, store: FormStore, now: dt.datetime) -> list[Reminder]:
    """The form reminders due at ``now``, for every form and reporter that has not submitted.

    At most two periods are looked at per form: the latest whose due day has
    passed, and the one due next if it has ended. A reporter gets ``due_soon`` from
    :data:`REMIND_BEFORE` before the due day up to the due day itself, and
    ``overdue`` after it; none for a locked period. Pure over the store: the
    same store and ``now`` give the same list, and the keys make each push
    happen once.
    """
    today = now.date()
    out: list[Reminder] = []
    for form_id, form in form_sources(cat).items():
        name = form_name(form, form_id)
        recent = reporting_period(form, today)
        locked = store.locked_periods(form_id)
        # the latest period whose due day has passed (overdue), and the next one due (soon)
        past_due = today > due_date(form, recent)
        for period in (recent,) if past_due else (periods.previous(recent), recent):
            if period in locked:
                continue
            due = due_date(form, period)
            if today > due:
                kind = "overdue"
            elif today >= due - REMIND_BEFORE:
                kind = "due_soon"
            else:
                continue
            for st in status_of(cat, store, form_id, period):
                if st.status != "missing":
                    continue
                rep = st.reporter
                link = forms_link(cat, form_id, period, rep)
                label = periods.label(period)
                if kind == "overdue":
                    days = (today - due).days
                    title = f"【填报逾期】{name} {label} · {rep.name}"
                    body = f"{rep.name}尚未报送「{name}」（{label}），截止日期 {_date_words(due)} 已过 {days} 天，请尽快报送。"
                else:
                    days = (due - today).days
                    when = "今天截止" if days == 0 else f"还有 {days} 天"
                    title = f"【填报提醒】{name} {label} · {rep.name}"
                    body = f"{rep.name}尚未报送「{name}」（{label}），截止日期 {_date_words(due)}，{when}。"
                if st.draft:
                    body += "已保存草稿，尚未提交。"
                markdown = f"### {title}\n\n{body}\n\n[前往填报]({link})"
                out.append(
                    Reminder(
                        f"form:{form_id}:{period}:{rep.id}:{kind}",
                        kind,
                        form_id,
                        period,
                        rep.region,
                        rep.department,
                        due,
                        {"title": title, "markdown": markdown, "link": link, "level": "reminder"},
                        _channels_for(cat, rep),
                    )
                )
    return out


# ----------------------------------------------------------------- 一张表: one form, many indicators


def field_usage(cat: Catalogue) -> dict[str, dict[str, list[str]]]:
    """Per form, per field (declared order): the ids of the indicators that read it.

    A field that two indicators use is still asked once, on one form; this
    says where each answer goes (the catalogue page shows it).
    """
    out: dict[str, dict[str, list[str]]] = {}
    for form_id, form in form_sources(cat).items():
        lowered = {f.id.lower(): f.id for f in form.fields}
        uses: dict[str, list[str]] = {f.id: [] for f in form.fields}
        for ind in cat.config.indicators:
            if ind.source != form_id:
                continue
            names = [col for _, col in ind.source_columns()]
            for _, where in ind.where_clauses():
                with contextlib.suppress(ExpressionError):
                    names.extend(check_where(where).names)
            for n in dict.fromkeys(x.lower() for x in names):
                if n in lowered and ind.id not in uses[lowered[n]]:
                    uses[lowered[n]].append(ind.id)
        out[form_id] = uses
    return out
