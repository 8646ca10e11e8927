"""``cockpit users add|passwd|disable|enable|list``: local accounts for an install without an identity provider.

Users themselves (name, role, regions, domains) are declared in the
``access`` block of ``indicators.yaml``; these commands only keep their
passwords, as argon2id hashes in the users file (``sign_in.local.users_file``,
default ``.cockpit/users.db`` beside the config). A password is read from a
hidden prompt with confirmation, or as one line from standard input with
``--password-stdin``; it is never an argument (it would stay in the shell's
history and in ``ps``). Exit 2 for an unknown user, a refused password or a
config without an ``access`` block.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import click

from .cli import EXIT_INVALID, EXIT_OK, Abort, _align, _config_option, _emit, _err, _guard, _load

POLICY = "at least 8 characters"


def _user(cat: Any, user_id: str, *, stored_ok: bool = False) -> Any:
    """The user ``user_id`` of the access block; exit 2 when there is no such user."""
    from metrics.catalogue.problems import did_you_mean

    from .auth import AccountStore, users_by_id

    if cat.config.access is None:
        raise Abort(
            EXIT_INVALID,
            [
                f"ERROR: {cat.display}: no access block: declare users under access.users first "
                "(without one the cockpit is the open demo and nobody signs in)"
            ],
        )
    users = users_by_id(cat)
    if user_id in users:
        return users[user_id]
    if stored_ok and AccountStore.for_catalogue(cat).get(user_id) is not None:
        return None  # an account left behind by a user removed from the access block
    raise Abort(
        EXIT_INVALID,
        [
            f"ERROR: {cat.display}: unknown user '{user_id}'{did_you_mean(user_id, list(users))}: "
            "declare the user under access.users first"
        ],
    )


def _read_password(user_id: str, from_stdin: bool) -> str:
    from .auth import password_problem

    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise Abort(EXIT_INVALID, ["ERROR: --password-stdin: no password on standard input"])
    else:
        try:
            password = click.prompt(
                f"New password for '{user_id}' ({POLICY})",
                hide_input=True,
                confirmation_prompt="Repeat the password",
                err=True,
            )
        except click.exceptions.Abort:
            raise Abort(
                EXIT_INVALID, ["ERROR: no password given (type it at the prompt, or use --password-stdin)"]
            ) from None
    problem = password_problem(password)
    if problem:
        raise Abort(EXIT_INVALID, [f"ERROR: {problem}; nothing was changed"])
    return password


def _warn_if_unused(cat: Any) -> None:
    from .auth import sign_in_methods

    _, local = sign_in_methods(cat)
    if local is None:
        _err(
            f"WARNING: {cat.display}: access.sign_in has no 'local' block: "
            "local passwords are kept but nobody signs in with them until it has one"
        )


def _store(cat: Any) -> Any:
    from .auth import AccountStore

    return AccountStore.for_catalogue(cat)


def _set_password(cat: Any, user_id: str, password: str) -> None:
    from .auth import AccountError

    try:
        _store(cat).set_password(user_id, password)
    except AccountError as e:
        raise Abort(EXIT_INVALID, [f"ERROR: {e}"]) from None


def _password_stdin(f: Any) -> Any:
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password as one line from standard input instead of a prompt.",
    )(f)


@click.group("users")
def users() -> None:
    """Local accounts (password hashes live outside indicators.yaml)."""


@users.command("add")
@_config_option
@click.argument("user_id")
@_password_stdin
@_guard
def add(config: str, user_id: str, password_stdin: bool) -> int:
    """Give USER_ID (a user of the access block) a password (at least 8 characters)."""
    cat = _load(config)
    user = _user(cat, user_id)
    acc = _store(cat).get(user_id)
    if acc is not None and acc.has_password:
        raise Abort(
            EXIT_INVALID,
            [
                f"ERROR: user '{user_id}' already has a password; change it with `cockpit users passwd {user_id}`"
            ],
        )
    password = _read_password(user_id, password_stdin)
    _set_password(cat, user_id, password)
    _warn_if_unused(cat)
    click.echo(f"OK: user '{user_id}' ({user.name}) can sign in with a local password")
    return EXIT_OK


@users.command("passwd")
@_config_option
@click.argument("user_id")
@_password_stdin
@_guard
def passwd(config: str, user_id: str, password_stdin: bool) -> int:
    """Change USER_ID's password (at least 8 characters); also lifts a lock. Open sessions end."""
    cat = _load(config)
    _user(cat, user_id)
    acc = _store(cat).get(user_id)
    if acc is None or not acc.has_password:
        raise Abort(
            EXIT_INVALID,
            [f"ERROR: user '{user_id}' has no password yet; set one with `cockpit users add {user_id}`"],
        )
    password = _read_password(user_id, password_stdin)
    _set_password(cat, user_id, password)
    _warn_if_unused(cat)
    click.echo(f"OK: password of user '{user_id}' changed")
    return EXIT_OK


@users.command("disable")
@_config_option
@click.argument("user_id")
@_guard
def disable(config: str, user_id: str) -> int:
    """Stop USER_ID from signing in with a local password; open sessions end. The hash is kept."""
    cat = _load(config)
    _user(cat, user_id, stored_ok=True)
    _store(cat).set_disabled(user_id, True)
    click.echo(f"OK: user '{user_id}' disabled")
    return EXIT_OK


@users.command("enable")
@_config_option
@click.argument("user_id")
@_guard
def enable(config: str, user_id: str) -> int:
    """Let USER_ID sign in again; also lifts a lock and clears the failure count."""
    cat = _load(config)
    _user(cat, user_id)
    _store(cat).set_disabled(user_id, False)
    click.echo(f"OK: user '{user_id}' enabled")
    return EXIT_OK


@users.command("list")
@_config_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_guard
def list_cmd(config: str, fmt: str) -> int:
    """Every user of the access block with the state of their local account."""
    cat = _load(config)
    if cat.config.access is None:
        _user(cat, "")  # the same message as the other commands
    from .auth import users_by_id

    now = dt.datetime.now(dt.UTC)
    accounts = _store(cat).accounts()
    users = users_by_id(cat)
    records = []
    for user in users.values():
        acc = accounts.get(user.id)
        locked = acc.locked_until if acc is not None and acc.locked(now) else None
        records.append(
            {
                "id": user.id,
                "name": user.name,
                "role": user.role,
                "regions": list(user.regions),
                "has_password": bool(acc and acc.has_password),
                "disabled": bool(acc and acc.disabled),
                "locked_until": locked.astimezone().isoformat(timespec="seconds") if locked else None,
            }
        )
    for orphan in sorted(set(accounts) - set(users)):
        _err(
            f"WARNING: account '{orphan}' in the users file is not a user of the access block: it cannot sign in"
        )
    if fmt == "json":
        _emit(json.dumps(records, ensure_ascii=False, indent=2) + "\n", None)
        return EXIT_OK

    def region_names(ids: list[str]) -> str:
        tree = cat.tree
        return "、".join(tree.name(r) if tree is not None and r in tree else r for r in ids) or "—"

    table = [["账号", "姓名", "角色", "地区", "已设密码", "已停用", "锁定至"]]
    for r in records:
        table.append(
            [
                r["id"],
                r["name"],
                r["role"],
                region_names(r["regions"]),
                "是" if r["has_password"] else "否",
                "是" if r["disabled"] else "否",
                r["locked_until"][:16].replace("T", " ") if r["locked_until"] else "—",
            ]
        )
    _emit(_align(table), None)
    return EXIT_OK
