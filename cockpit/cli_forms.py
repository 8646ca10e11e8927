"""``cockpit forms …``: online data submission (contract section 14).

``import`` checks every row of a CSV or XLSX file first and stores all of
them in one transaction, or none; ``status`` says who has reported for a
period; ``template`` writes the Excel template the importer takes back.
``lock`` / ``reopen`` close and reopen a period, ``history`` lists every
change. Exit 2 for an unknown form, a bad argument or a bad file.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from .cli import EXIT_INVALID, EXIT_OK, Abort, _align, _config_option, _emit, _err, _guard, _load, _scope


def _form(cat: Any, form_id: str) -> Any:
    from metrics.forms import FormError, get_form

    try:
        return get_form(cat, form_id)
    except FormError as e:
        raise Abort(EXIT_INVALID, [f"ERROR: --form: {e}"]) from None


def _period(form: Any, period: str) -> str:
    from metrics import periods
    from metrics.forms import GRAIN_WORDS, PERIOD_EXAMPLE

    from .cli import _check_period

    p = _check_period(period)
    assert p is not None
    if periods.grain_of(p) != form.grain:
        raise Abort(
            EXIT_INVALID,
            [
                f"ERROR: --period: this form is reported by {form.grain} "
                f"({GRAIN_WORDS[form.grain]}): write e.g. {PERIOD_EXAMPLE[form.grain]}, not '{period}'"
            ],
        )
    return p


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


def _store(cat: Any) -> Any:
    from metrics.forms import FormStore

    return FormStore.for_catalogue(cat)


def _form_option(f: Any) -> Any:
    return click.option("--form", "form_id", required=True, metavar="ID", help="The form source's id.")(f)


def _user_option(f: Any) -> Any:
    return click.option(
        "--as", "as_user", metavar="USER_ID", help="Act as this user: only the reporters in their scope."
    )(f)


@click.group("forms")
def forms() -> None:
    """在线数据报送: import, status and templates of form sources."""


@forms.command("import")
@_config_option
@_form_option
@click.argument("file", type=click.Path(dir_okay=False))
@_user_option
@click.option("--now", "now_text", metavar="ISO-DATETIME", help="The time of the submission (default: now).")
@_guard
def import_cmd(config: str, form_id: str, file: str, as_user: str | None, now_text: str | None) -> int:
    """Import CSV or XLSX rows: columns period, region, then field ids or names. All rows or none."""
    from metrics.forms import FormError, import_file

    cat = _load(config)
    _form(cat, form_id)
    scope = _scope(cat, as_user) if as_user else None
    now = _now(now_text)
    if not Path(file).is_file():
        raise Abort(EXIT_INVALID, [f"ERROR: {file}: file not found"])
    try:
        result = import_file(
            cat, _store(cat), form_id, Path(file), user=as_user or "cli", now=now, scope=scope, name=file
        )
    except FormError as e:
        raise Abort(EXIT_INVALID, [f"ERROR: {e}"]) from None
    if not result.ok:
        # one line per problem and nothing else: nothing was imported (the exit status says so)
        raise Abort(EXIT_INVALID, [e.line(file) for e in result.errors])
    if result.stored == 0:
        _err(f"WARNING: {file}: no rows to import")
    click.echo(
        f"OK: {file}: {result.stored} rows imported into form '{form_id}'"
        + (f" ({result.replaced} replaced; the old values stay in the history)" if result.replaced else "")
    )
    return EXIT_OK


@forms.command("status")
@_config_option
@_form_option
@click.option("--period", required=True, metavar="P", help="The period (2026-10 for a monthly form).")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@_guard
def status_cmd(config: str, form_id: str, period: str, fmt: str) -> int:
    """Who has reported for a period: submitted (on time), late, or missing."""
    from metrics import periods
    from metrics.forms import STATUS_WORDS, FormError, due_date, form_name, status_of

    cat = _load(config)
    form = _form(cat, form_id)
    p = _period(form, period)
    try:
        found = status_of(cat, _store(cat), form_id, p)
    except FormError as e:
        raise Abort(EXIT_INVALID, [f"ERROR: {e}"]) from None
    if fmt == "json":
        text = json.dumps([s.as_json() for s in found], ensure_ascii=False).replace("}, {", "},\n {")
        _emit(text + "\n", None)
        return EXIT_OK
    due = due_date(form, p)
    head = f"{form_name(form, form_id)} · {periods.label(p)} · 截止 {due.isoformat()}"
    counts = {k: sum(s.status == k for s in found) for k in STATUS_WORDS}
    summary = "，".join(f"{STATUS_WORDS[k]} {n}" for k, n in counts.items())
    rows = [["单位", "名称", "状态", "提交时间"]]
    for s in found:
        word = STATUS_WORDS[s.status] + ("（有草稿）" if s.draft else "")
        rows.append([s.reporter.id, s.reporter.name, word, s.submitted_at or ""])
    _emit(f"{head}\n{summary}\n\n" + _align(rows), None)
    return EXIT_OK


@forms.command("template")
@_config_option
@_form_option
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="The .xlsx file to write.")
@_guard
def template_cmd(config: str, form_id: str, output: str) -> int:
    """Write an Excel template with the fields' names, types and rules (the importer takes it back)."""
    from metrics.forms import write_template

    cat = _load(config)
    _form(cat, form_id)
    if not output.lower().endswith(".xlsx"):
        raise Abort(EXIT_INVALID, [f"ERROR: --output: '{output}': the template is an .xlsx file"])
    try:
        write_template(cat, form_id, Path(output))
    except OSError as e:
        raise Abort(EXIT_INVALID, [f"ERROR: --output: cannot write {output}: {e.strerror or e}"]) from None
    click.echo(f"OK: {output}: template of form '{form_id}'")
    return EXIT_OK


def _staff(cat: Any, as_user: str | None) -> str:
    """Locking is for city staff: a user whose scope holds the root."""
    if as_user is None:
        return "cli"
    scope = _scope(cat, as_user)
    if not scope.departments:
        raise Abort(EXIT_INVALID, [f"ERROR: --as: user '{as_user}' may not lock or reopen periods"])
    return as_user


@forms.command("lock")
@_config_option
@_form_option
@click.option("--period", required=True, metavar="P")
@click.option("--reason", default=None, help="Why (optional; recorded).")
@_user_option
@_guard
def lock_cmd(config: str, form_id: str, period: str, reason: str | None, as_user: str | None) -> int:
    """Lock a period: its rows can no longer change until it is reopened."""
    return _lock_or_reopen(config, form_id, period, reason, as_user, "lock")


@forms.command("reopen")
@_config_option
@_form_option
@click.option("--period", required=True, metavar="P")
@click.option("--reason", required=True, help="Why the period is reopened (recorded).")
@_user_option
@_guard
def reopen_cmd(config: str, form_id: str, period: str, reason: str, as_user: str | None) -> int:
    """Reopen a locked period, with a reason."""
    return _lock_or_reopen(config, form_id, period, reason, as_user, "reopen")


def _lock_or_reopen(
    config: str, form_id: str, period: str, reason: str | None, as_user: str | None, action: str
) -> int:
    """``forms lock`` and ``forms reopen``: the staff's check, then the store's ``lock``/``reopen``."""
    from metrics.forms import FormError

    cat = _load(config)
    p = _period(_form(cat, form_id), period)
    user = _staff(cat, as_user)
    try:
        getattr(_store(cat), action)(form_id, p, user=user, now=_now(None), reason=reason)
    except FormError as e:
        raise Abort(EXIT_INVALID, [f"ERROR: {e}"]) from None
    click.echo(f"OK: form '{form_id}' {p} {'locked' if action == 'lock' else 'reopened'}")
    return EXIT_OK


@forms.command("history")
@_config_option
@_form_option
@click.option("--period", metavar="P", help="Only this period.")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
@_guard
def history_cmd(config: str, form_id: str, period: str | None, fmt: str) -> int:
    """Every change to the form's rows, oldest first: who, when, old value, new value."""
    cat = _load(config)
    form = _form(cat, form_id)
    p = _period(form, period) if period else None
    changes = _store(cat).history(form_id, p)
    if fmt == "json":
        items = [
            {
                "period": c.period,
                "region": c.region,
                "department": c.department,
                "at": c.at,
                "user": c.user,
                "action": c.action,
                "status": c.new_status,
                "changes": [{"field": f, "old": o, "new": n} for f, o, n in c.changed()],
            }
            for c in changes
        ]
        _emit(json.dumps(items, ensure_ascii=False).replace("}]}, {", "}]},\n {") + "\n", None)
        return EXIT_OK
    rows = [["期间", "单位", "时间", "用户", "操作", "变更"]]
    for c in changes:
        diff = "；".join(
            f"{f}: {'' if o is None else o} → {'' if n is None else n}" for f, o, n in c.changed()
        )
        rows.append([c.period, c.department or c.region or "", c.at, c.user, c.action, diff])
    _emit(_align(rows), None)
    return EXIT_OK
