"""Sign-in (contract section 9, issue 6): who is looking, decided before any page runs.

Without an ``access`` block nothing here applies: the cockpit is the open
demo. With one, nobody sees anything before signing in, in one of two ways
chosen by ``access.sign_in`` (no ``sign_in``: local accounts with the
defaults):

- **OpenID Connect** (``sign_in.oidc``), for production behind a 统一身份认证
  platform: Streamlit's ``st.login`` / ``st.user`` / ``st.logout``, with the
  client and its secret in ``.streamlit/secrets.toml`` (``[auth]``), never in
  ``indicators.yaml``. The identity's claim (``email`` by default) names a
  user of the access block; an identity that names nobody is refused.
- **Local accounts** (``sign_in.local``), for an on-premise install without
  an identity provider: argon2id hashes in a SQLite users file beside the
  config (:class:`AccountStore`), managed with ``cockpit users``; an account
  is locked for ``lock_minutes`` after ``max_failures`` failures in a row.

The router (``app.py``) calls :func:`require_sign_in` just before
``navigation.run()``; ``cockpit.ui.current_scope`` asks :func:`signed_in_user`.
The scope itself is decided in one place only, ``metrics.access.scope_for``.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import hashlib
import importlib
import math
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import streamlit as st
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from metrics.access import Scope
from metrics.catalogue import spec
from metrics.catalogue.load import Catalogue
from metrics.sqlite import immediate

MIN_PASSWORD_LENGTH = 8
# The scope of a visitor who has not signed in yet: no region, so no row of any indicator.
NOBODY = Scope(None, frozenset(), None, False)

UTC = dt.UTC


# ----------------------------------------------------------------- audit (metrics.audit, when it exists)


def _audit(cat: Catalogue, kind: str, user: str | None, **details: Any) -> None:
    """Record a sign-in event in the audit log; nothing while ``metrics.audit`` does not exist yet.

    Kinds: ``sign_in``, ``sign_in_failed``, ``sign_out``, ``account_locked``.
    A password is never among the details.
    """
    try:
        audit = importlib.import_module("metrics.audit")
    except ModuleNotFoundError as e:
        if e.name == "metrics.audit":
            return
        raise
    record = getattr(audit, "record", None)
    if record is not None:
        record(cat, kind, user, **details)


# ----------------------------------------------------------------- the local account store


class AccountError(ValueError):
    """A request the account store refuses (unknown account, bad password, unusable file)."""


def password_problem(password: str) -> str | None:
    """Why ``password`` is refused, or None. The policy: at least 8 characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password too short: at least {MIN_PASSWORD_LENGTH} characters"
    return None


@dataclass(frozen=True)
class Account:
    user_id: str
    has_password: bool
    disabled: bool
    failed_attempts: int
    locked_until: dt.datetime | None
    password_changed_at: dt.datetime | None

    def locked(self, now: dt.datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > _utc(now)


Outcome = Literal["ok", "wrong", "locked", "disabled"]


@dataclass(frozen=True)
class Attempt:
    """What one sign-in attempt got. ``wrong`` covers unknown accounts too: ids cannot be probed."""

    outcome: Outcome
    user_id: str
    locked_until: dt.datetime | None = None
    just_locked: bool = False  # this failure locked the account

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def message(self, now: dt.datetime | None = None) -> str | None:
        """The sentence the sign-in form shows (None on success)."""
        if self.outcome == "ok":
            return None
        if self.outcome == "locked":
            return f"账号已锁定，请 {minutes_left(self.locked_until, now)} 分钟后再试"
        if self.outcome == "disabled":
            return "账号已停用"
        return "账号或密码错误"


def minutes_left(until: dt.datetime | None, now: dt.datetime | None = None) -> int:
    if until is None:
        return 0
    return max(1, math.ceil((until - _utc(now)).total_seconds() / 60))


SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    user_id             TEXT PRIMARY KEY,
    password_hash       TEXT,                       -- argon2id (PHC string); NULL: no password set
    disabled            INTEGER NOT NULL DEFAULT 0,
    failed_attempts     INTEGER NOT NULL DEFAULT 0, -- consecutive failures since the last success or lock
    locked_until        TEXT,                       -- ISO 8601, UTC
    password_changed_at TEXT,                       -- ISO 8601, UTC
    created_at          TEXT NOT NULL
);
"""
SCHEMA_VERSION = 1


def _utc(t: dt.datetime | None) -> dt.datetime:
    """``t`` as an aware UTC time (a naive time is local time); now when None."""
    if t is None:
        return dt.datetime.now(UTC)
    return t.astimezone(UTC)


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else _utc(t).isoformat(timespec="microseconds")


def _parse(text: str | None) -> dt.datetime | None:
    return None if not text else dt.datetime.fromisoformat(text).astimezone(UTC)


@functools.lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    """A hash of nothing anyone knows, verified for accounts that do not exist (same cost, same time)."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    return hasher.hash(secrets.token_urlsafe(24))


class AccountStore:
    """Local accounts in SQLite (``sign_in.local.users_file``, default ``.cockpit/users.db`` beside the config).

    One row per user id of the access block: an argon2id hash, a disabled
    flag, the count of consecutive failures, the end of a lock and when the
    password was last changed. Connections are opened per call, so one store
    may be shared by Streamlit's threads; failures are counted inside a write
    transaction, so two attempts at once cannot both slip under the limit.
    Times are passed in (``now``) for tests and default to the clock.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_failures: int = 5,
        lock_minutes: int = 15,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.path = Path(path)
        self.max_failures = max_failures
        self.lock_minutes = lock_minutes
        self.hasher = hasher or PasswordHasher()  # argon2id, RFC 9106 low-memory profile

    @classmethod
    def for_catalogue(cls, cat: Catalogue) -> AccountStore:
        local = local_settings(cat)
        return cls(
            cat.resolve(local.users_file), max_failures=local.max_failures, lock_minutes=local.lock_minutes
        )

    # -- connections

    def _connect(self) -> sqlite3.Connection:
        fresh = not self.path.exists()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise AccountError(f"{self.path}: cannot open the users file: {e}") from None
        if fresh:
            try:
                os.chmod(self.path, 0o600)  # hashes are for this service's eyes only
            except OSError:
                pass
        try:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA busy_timeout=30000")
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise AccountError(f"{self.path}: users file schema {version} is newer than this cockpit's")
            con.executescript(SCHEMA)
            if version < SCHEMA_VERSION:
                con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as e:
            con.close()
            raise AccountError(f"{self.path}: not a usable users file: {e}") from None
        except BaseException:
            con.close()
            raise
        return con

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection | None]:
        if not self.path.exists():
            yield None
            return
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        con = self._connect()
        try:
            with immediate(con):
                yield con
        finally:
            con.close()

    # -- reading

    @staticmethod
    def _account(row: sqlite3.Row) -> Account:
        return Account(
            user_id=row["user_id"],
            has_password=row["password_hash"] is not None,
            disabled=bool(row["disabled"]),
            failed_attempts=int(row["failed_attempts"]),
            locked_until=_parse(row["locked_until"]),
            password_changed_at=_parse(row["password_changed_at"]),
        )

    def get(self, user_id: str) -> Account | None:
        with self._read() as con:
            if con is None:
                return None
            row = con.execute("SELECT * FROM accounts WHERE user_id = ?", (user_id,)).fetchone()
        return None if row is None else self._account(row)

    def accounts(self) -> dict[str, Account]:
        with self._read() as con:
            if con is None:
                return {}
            rows = con.execute("SELECT * FROM accounts ORDER BY user_id").fetchall()
        return {r["user_id"]: self._account(r) for r in rows}

    def stored_hash(self, user_id: str) -> str | None:
        """The PHC string kept for ``user_id`` (for tests and audits of the file; never shown)."""
        with self._read() as con:
            if con is None:
                return None
            row = con.execute("SELECT password_hash FROM accounts WHERE user_id = ?", (user_id,)).fetchone()
        return None if row is None else row[0]

    # -- changing

    def set_password(self, user_id: str, password: str, now: dt.datetime | None = None) -> None:
        """Set (or replace) the password; a new password also clears failures and any lock."""
        problem = password_problem(password)
        if problem:
            raise AccountError(problem)
        digest = self.hasher.hash(password)
        stamp = _iso(_utc(now))
        with self._write() as con:
            con.execute(
                "INSERT INTO accounts (user_id, password_hash, password_changed_at, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash, "
                "password_changed_at = excluded.password_changed_at, failed_attempts = 0, locked_until = NULL",
                (user_id, digest, stamp, stamp),
            )

    def set_disabled(self, user_id: str, disabled: bool, now: dt.datetime | None = None) -> None:
        """Disable or enable an account; enabling also clears failures and any lock."""
        stamp = _iso(_utc(now))
        with self._write() as con:
            con.execute(
                "INSERT INTO accounts (user_id, disabled, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET disabled = excluded.disabled",
                (user_id, int(disabled), stamp),
            )
            if not disabled:
                con.execute(
                    "UPDATE accounts SET failed_attempts = 0, locked_until = NULL WHERE user_id = ?",
                    (user_id,),
                )

    # -- signing in

    def _check(self, digest: str, password: str) -> bool:
        try:
            return self.hasher.verify(digest, password)
        except (VerificationError, InvalidHashError):
            return False

    def verify_nobody(self, password: str) -> None:
        """Spend the time a real check takes, for an account that does not exist."""
        p = self.hasher
        self._check(_dummy_hash(p.time_cost, p.memory_cost, p.parallelism), password)

    def verify(self, user_id: str, password: str, now: dt.datetime | None = None) -> Attempt:
        """Check a password, counting failures and locking; one argon2 verification whatever the case.

        Order: a lock holds even against the right password; then a disabled
        account is said to be disabled only to whoever knows its password;
        then the password. ``max_failures`` wrong passwords in a row lock the
        account for ``lock_minutes``, and the count starts again afterwards; a
        success resets it.
        """
        now = _utc(now)
        with self._read() as con:
            row = (
                None
                if con is None
                else con.execute(
                    "SELECT password_hash FROM accounts WHERE user_id = ?", (user_id,)
                ).fetchone()
            )
        digest = None if row is None else row[0]
        if digest is None:
            self.verify_nobody(password)
            return Attempt("wrong", user_id)
        right = self._check(digest, password)  # outside the write lock: argon2 takes a while
        with self._write() as con:
            acc = self._account(
                con.execute("SELECT * FROM accounts WHERE user_id = ?", (user_id,)).fetchone()
            )
            if acc.locked(now):
                return Attempt("locked", user_id, acc.locked_until)
            if acc.disabled:
                return Attempt("disabled" if right else "wrong", user_id)
            if right:
                con.execute(
                    "UPDATE accounts SET failed_attempts = 0, locked_until = NULL WHERE user_id = ?",
                    (user_id,),
                )
                if self.hasher.check_needs_rehash(digest):  # parameters raised since: store the stronger hash
                    con.execute(
                        "UPDATE accounts SET password_hash = ? WHERE user_id = ?",
                        (self.hasher.hash(password), user_id),
                    )
                return Attempt("ok", user_id)
            failed = acc.failed_attempts + 1
            if failed >= self.max_failures:
                until = now + dt.timedelta(minutes=self.lock_minutes)
                con.execute(
                    "UPDATE accounts SET failed_attempts = 0, locked_until = ? WHERE user_id = ?",
                    (_iso(until), user_id),
                )
                return Attempt("locked", user_id, until, just_locked=True)
            con.execute("UPDATE accounts SET failed_attempts = ? WHERE user_id = ?", (failed, user_id))
            return Attempt("wrong", user_id)


# ----------------------------------------------------------------- the access block


def users_by_id(cat: Catalogue) -> dict[str, spec.User]:
    access = cat.config.access
    return {u.id: u for u in (access.users if access else [])}


def sign_in_methods(cat: Catalogue) -> tuple[spec.OidcSignIn | None, spec.LocalSignIn | None]:
    """(oidc, local) as configured; no ``sign_in`` (or an empty one) means local accounts with the defaults."""
    access = cat.config.access
    if access is None:
        return None, None
    s = access.sign_in
    if s is None or (s.oidc is None and s.local is None):
        return None, spec.LocalSignIn()
    return s.oidc, s.local


def local_settings(cat: Catalogue) -> spec.LocalSignIn:
    """The local accounts' settings, defaults included (also when sign-in is OIDC only)."""
    access = cat.config.access
    local = access.sign_in.local if access and access.sign_in else None
    return local or spec.LocalSignIn()


def sign_in_local(cat: Catalogue, user_id: str, password: str, now: dt.datetime | None = None) -> Attempt:
    """One attempt with a local account of the access block, audited. Never logs the password."""
    user_id = user_id.strip()
    store = AccountStore.for_catalogue(cat)
    if user_id not in users_by_id(cat):
        store.verify_nobody(password)  # an unknown id costs the same time as a known one
        attempt = Attempt("wrong", user_id)
    else:
        attempt = store.verify(user_id, password, now)
    if attempt.ok:
        _audit(cat, "sign_in", user_id, method="local")
    else:
        _audit(cat, "sign_in_failed", user_id, method="local", reason=attempt.outcome)
        if attempt.just_locked:
            _audit(
                cat,
                "account_locked",
                user_id,
                method="local",
                until=_iso(attempt.locked_until),
                failures=store.max_failures,
            )
    return attempt


def user_for_identity(cat: Catalogue, identity: Mapping[str, Any]) -> spec.User | None:
    """The user of the access block an OIDC identity names (``sign_in.oidc.claim`` matched to ``match``).

    E-mail addresses compare without regard to case; an e-mail claim the
    provider marks unverified (``email_verified: false``) names nobody.
    """
    oidc, _ = sign_in_methods(cat)
    if oidc is None:
        return None
    value = identity.get(oidc.claim)
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if oidc.claim == "email" and identity.get("email_verified") is False:
        return None
    for user in users_by_id(cat).values():
        if oidc.match == "id" and user.id == value:
            return user
        if oidc.match == "email" and user.email and user.email.strip().casefold() == value.casefold():
            return user
    return None


# ----------------------------------------------------------------- Streamlit: the session

SESSION_USER = "cockpit_user"  # the signed-in user's id (local accounts)
_SIGNED_AT = "_cockpit_signed_in_at"
_FORM_ACCOUNT = "_sign_in_account"
_FORM_PASSWORD = "_sign_in_password"
_FORM_ERROR = "_sign_in_error"
_OIDC_SEEN = "_sign_in_oidc_seen"  # this session's OIDC identity was audited and has landed
_REFUSED = "_sign_in_refused"


def _identity() -> dict[str, Any] | None:
    """The OIDC identity of this browser (Streamlit's signed cookie), or None."""
    try:
        info = dict(st.user.to_dict())
    except Exception:  # noqa: BLE001 - no runtime, no auth configured: nobody
        return None
    return info if info.get("is_logged_in") is True else None


def signed_in_user(cat: Catalogue) -> spec.User | None:
    """The user of the access block this session is signed in as, or None.

    A local session ends as soon as its account is disabled, loses its
    password, has its password changed or its user leaves the access block.
    """
    oidc, local = sign_in_methods(cat)
    users = users_by_id(cat)
    uid = st.session_state.get(SESSION_USER)
    if uid is not None and local is not None:
        acc = AccountStore.for_catalogue(cat).get(uid) if uid in users else None
        signed_at = _parse(st.session_state.get(_SIGNED_AT))
        changed = acc.password_changed_at if acc else None
        if (
            acc is not None
            and acc.has_password
            and not acc.disabled
            and not (changed and signed_at and changed > signed_at)
        ):
            return users[uid]
        for k in (SESSION_USER, _SIGNED_AT):
            st.session_state.pop(k, None)
    if oidc is not None:
        identity = _identity()
        if identity is not None:
            return user_for_identity(cat, identity)
    return None


def require_sign_in(cat: Catalogue, page: Any, sections: Mapping[str, list[Any]]) -> None:
    """The router's gate, called just before ``navigation.run()``.

    Open demo (no ``access`` block): nothing. Signed in: the user and a
    sign-out button in the sidebar, then the page. Otherwise the sign-in
    screen, and ``st.stop()``: no page runs. The page and query parameters
    asked for stay in the URL, so after a local sign-in the same page opens;
    an OIDC round trip lands on the root, and the page asked for is restored
    from :func:`_remember_destination`.
    """
    if cat.config.access is None:
        return
    oidc, local = sign_in_methods(cat)
    user = signed_in_user(cat)
    if user is not None:
        method = "local" if st.session_state.get(SESSION_USER) == user.id else "oidc"
        if method == "oidc" and not st.session_state.get(_OIDC_SEEN):
            st.session_state[_OIDC_SEEN] = True
            _audit(cat, "sign_in", user.id, method="oidc")
            _land(page, sections)
        _sidebar(cat, user, method)
        return
    identity = _identity() if oidc is not None else None
    if identity is not None:
        _refuse(cat, identity, oidc)
    _sign_in_screen(cat, oidc, local, page)
    st.stop()


def _sidebar(cat: Catalogue, user: spec.User, method: str) -> None:
    with st.sidebar:
        st.caption(f"当前用户：{user.name}（{user.id}）")
        if method == "local":
            st.button("退出登录", key="_sign_out", on_click=_sign_out_local, args=(cat, user.id))
        elif st.button("退出登录", key="_sign_out"):
            _audit(cat, "sign_out", user.id, method="oidc")
            st.logout()
            st.stop()


def _sign_out_local(cat: Catalogue, user_id: str) -> None:
    _audit(cat, "sign_out", user_id, method="local")
    for key in list(st.session_state.keys()):  # nothing of the last user's session is kept
        del st.session_state[key]


def _refuse(cat: Catalogue, identity: Mapping[str, Any], oidc: spec.OidcSignIn | None) -> None:
    """An OIDC identity that names no user of the access block: one sentence and a sign-out button."""
    claim = oidc.claim if oidc else "email"
    if not st.session_state.get(_REFUSED):
        st.session_state[_REFUSED] = True
        # the log names who tried by the claim itself: there is no user id to give
        _audit(cat, "sign_in_failed", str(identity.get(claim)), method="oidc", reason="no_user", claim=claim)
    st.error("您的账号未开通驾驶舱权限")
    if st.button("退出登录", key="_sign_out_refused"):
        st.logout()
    st.stop()


def _oidc_problem(oidc: spec.OidcSignIn) -> str | None:
    """Why ``st.login`` cannot work here (secrets missing or incomplete), or None."""
    try:
        from streamlit.auth_util import is_authlib_installed, validate_auth_credentials
        from streamlit.errors import StreamlitAuthError
    except ImportError:  # another Streamlit: let st.login say it
        return None
    if not is_authlib_installed():
        return "未安装 Authlib（pip install Authlib）"
    try:
        validate_auth_credentials(oidc.provider or "default")
    except StreamlitAuthError as e:
        return " ".join(str(e).split())
    return None


def _sign_in_screen(
    cat: Catalogue, oidc: spec.OidcSignIn | None, local: spec.LocalSignIn | None, page: Any
) -> None:
    st.title(f"{cat.config.site.title} · 登录")
    st.caption("驾驶舱仅向已授权的用户开放，请先登录。")
    if oidc is not None:
        problem = _oidc_problem(oidc)
        if problem:
            st.error(f"统一身份认证尚未配置，请联系管理员（.streamlit/secrets.toml 的 [auth]）：{problem}")
        elif st.button("使用统一身份认证登录", type="primary", key="_sign_in_oidc"):
            _remember_destination(page)
            st.login(oidc.provider)
            st.stop()
    if local is not None:
        if oidc is not None:
            st.caption("或使用本地账号：")
        with st.form("sign_in"):
            st.text_input("账号", key=_FORM_ACCOUNT, autocomplete="username")
            st.text_input("密码", type="password", key=_FORM_PASSWORD, autocomplete="current-password")
            st.form_submit_button("登录", type="primary", on_click=_submit_local, args=(cat,))
        error = st.session_state.pop(_FORM_ERROR, None)
        if error:
            st.error(error)


def _submit_local(cat: Catalogue) -> None:
    """The form's callback: runs before the script, so a success shows the page on this very run."""
    account = str(st.session_state.get(_FORM_ACCOUNT) or "").strip()
    password = str(st.session_state.get(_FORM_PASSWORD) or "")
    st.session_state[_FORM_PASSWORD] = ""  # never kept in the session
    if not account or not password:
        st.session_state[_FORM_ERROR] = "请输入账号和密码"
        return
    now = dt.datetime.now(UTC)
    attempt = sign_in_local(cat, account, password, now)
    if attempt.ok:
        st.session_state[SESSION_USER] = attempt.user_id
        st.session_state[_SIGNED_AT] = _iso(now)
        st.session_state.pop(_FORM_ACCOUNT, None)
    else:
        st.session_state[_FORM_ERROR] = attempt.message(now)


# ----------------------------------------------------------------- the page asked for, across an OIDC round trip
#
# Streamlit's OIDC callback always redirects to the app's root, in a new session. What links the
# two sessions is the browser: Streamlit's XSRF cookie (on whenever [auth] is configured) keeps
# its token across the round trip, so the page and query asked for are kept here under a hash of
# that token for a few minutes, and taken (once) by the first session of that browser that signs in.

XSRF_COOKIE = "_streamlit_xsrf"
_DESTINATION_TTL = 600.0
_destinations: dict[str, tuple[float, str, dict[str, list[str]]]] = {}
_destinations_lock = threading.Lock()


def _xsrf_token(cookie: str | None) -> bytes | None:
    """The token inside Streamlit's (Tornado-style) XSRF cookie: ``2|mask|masked|time``, re-masked per response."""
    if not cookie:
        return None
    value = cookie.strip("\"'")
    try:
        if value.startswith("2|"):
            _, mask_hex, masked_hex, _ts = value.split("|")
            mask, masked = binascii.a2b_hex(mask_hex), binascii.a2b_hex(masked_hex)
            return bytes(b ^ mask[i % 4] for i, b in enumerate(masked))
        return value.encode("utf-8")
    except (ValueError, binascii.Error):
        return None


def _browser_key() -> str | None:
    try:
        token = _xsrf_token(st.context.cookies.get(XSRF_COOKIE))
    except Exception:  # noqa: BLE001 - no context (bare mode, AppTest): no key
        return None
    return hashlib.sha256(b"cockpit-destination:" + token).hexdigest() if token else None


def _remember_destination(page: Any) -> None:
    key = _browser_key()
    if key is None:
        return
    query = {k: st.query_params.get_all(k) for k in st.query_params}
    now = time.monotonic()
    with _destinations_lock:
        for k in [k for k, (t, _, _) in _destinations.items() if now - t > _DESTINATION_TTL]:
            del _destinations[k]
        _destinations[key] = (now, str(getattr(page, "url_path", "")), query)


def _take_destination() -> tuple[str, dict[str, list[str]]] | None:
    key = _browser_key()
    if key is None:
        return None
    with _destinations_lock:
        entry = _destinations.pop(key, None)
    if entry is None or time.monotonic() - entry[0] > _DESTINATION_TTL:
        return None
    return entry[1], entry[2]


def _land(page: Any, sections: Mapping[str, list[Any]]) -> None:
    """After an OIDC sign-in: open the page and query the user asked for before signing in."""
    dest = _take_destination()
    if dest is None:
        return
    path, query = dest
    current = {k: st.query_params.get_all(k) for k in st.query_params}
    if path == getattr(page, "url_path", "") and query == current:
        return
    for pages in sections.values():
        for p in pages:
            if p.url_path == path:
                st.switch_page(p, query_params=query)
