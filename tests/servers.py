"""Real servers for the test suite, started on free loopback ports and stopped afterwards.

Used by tests/conftest.py (the fixtures); tests may also import the helpers directly
(``from servers import run_cli, JsonHTTPServer``): ``tests/`` is on ``sys.path`` under pytest's
default import mode because it has no ``__init__.py``.

- ``PostgresServer``   a throwaway PostgreSQL cluster (initdb + pg_ctl), statement log readable
- ``JsonHTTPServer``   threaded HTTP server serving registered JSON documents, recording requests
                       (also the webhook receiver: POST bodies are recorded)
- ``SMTPSink``         SMTP server (aiosmtpd) that keeps every message it receives
- ``StreamlitServer``  ``streamlit run APP`` on a free port, waits until it is healthy
- ``run_cli``          runs ``.venv/bin/cockpit`` with a timeout, capturing text output
"""

from __future__ import annotations

import email
import email.policy
import glob
import http.server
import json
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s") from None
            time.sleep(0.1)


# --------------------------------------------------------------------------------------------
# command line


def cockpit_command() -> list[str]:
    """``<repo>/.venv/bin/cockpit`` if installed, else ``python -m cockpit.cli``."""
    exe = REPO_ROOT / ".venv" / "bin" / "cockpit"
    if exe.exists() and os.access(exe, os.X_OK):
        return [str(exe)]
    return [sys.executable, "-m", "cockpit.cli"]


def run_cli(
    *args: Any,
    cwd: str | os.PathLike | None = None,
    env: Mapping[str, str | None] | None = None,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``cockpit ARGS…`` and return the finished process (text ``stdout``/``stderr``, UTF-8).

    ``env`` is applied on top of the current environment; a value of ``None`` removes that variable.
    Never raises on a non-zero exit; raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds.
    """
    full_env = dict(os.environ)
    full_env["PYTHONIOENCODING"] = "utf-8"
    full_env.setdefault("NO_COLOR", "1")
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = str(v)
    return subprocess.run(
        [*cockpit_command(), *(str(a) for a in args)],
        cwd=str(cwd) if cwd is not None else None,
        env=full_env,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
    )


# --------------------------------------------------------------------------------------------
# PostgreSQL


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (the fixture skips on this)."""


def find_pg_bindir() -> Path:
    """The directory holding initdb/pg_ctl: $PG_BINDIR, else the newest /usr/lib/postgresql/*/bin,
    else wherever ``initdb`` is on PATH."""
    candidates: list[Path] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(Path(os.environ["PG_BINDIR"]))

    def version_key(p: str) -> tuple:
        v = Path(p).parent.parent.name
        return tuple(int(x) if x.isdigit() else 0 for x in v.split("."))

    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version_key, reverse=True):
        candidates.append(Path(initdb).parent)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for d in candidates:
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl) found under /usr/lib/postgresql/*/bin or on PATH; "
        "run `make system` (installs the Debian package `postgresql`) or set PG_BINDIR"
    )


# One log entry begins with the log_line_prefix we set ("@@PG <time> [pid] "); lines that
# belong to the same entry follow it (PostgreSQL indents continuation lines with a tab).
_PG_PREFIX = "@@PG "
_STATEMENT_RE = re.compile(
    r"^(?:LOG|STATEMENT):\s+(?:statement|execute [^:]*|bind [^:]*|parse [^:]*):\s?(?P<sql>.*)\Z", re.S
)


@dataclass
class PgLogEntry:
    pid: str
    message: str  # "LOG:  statement: SELECT 1", "ERROR:  …", "DETAIL:  parameters: $1 = '…'"


class PostgresServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1:<free port>, every statement logged.

    ``url``       ``postgresql+psycopg://postgres@127.0.0.1:N/cockpit`` (SQLAlchemy URL, trust auth)
    ``dsn``       the same for psycopg/libpq: ``postgresql://postgres@127.0.0.1:N/cockpit``
    ``log_path``  the server log (``log_statement=all``)
    ``mark()`` / ``statements(since)`` / ``statements_since(mark)`` / ``log_since(mark)``
    ``create_database(name)`` → SQLAlchemy URL of a new empty database
    """

    user = "postgres"
    host = LOOPBACK

    def __init__(self, database: str = "cockpit") -> None:
        self.database = database
        self.bindir = find_pg_bindir()
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self.datadir: Path | None = None
        self.log_path: Path | None = None
        self._started = False
        self._mark = 0
        self._db_counter = 0
        self._run_as: list[str] = []

    # -- lifecycle
    def _as_owner(self, cmd: list[str]) -> list[str]:
        return [*self._run_as, *cmd]

    def _run(self, cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            self._as_owner(cmd),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            cwd=str(self.tmpdir),
        )
        if proc.returncode != 0:
            log = ""
            if self.log_path and self.log_path.exists():
                log = "\n--- server log ---\n" + self.log_path.read_text(errors="replace")[-4000:]
            raise RuntimeError(
                f"{shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}{log}"
            )
        return proc

    def start(self) -> PostgresServer:
        # /tmp rather than $TMPDIR or pytest's tmp_path: the postgres user must be able to reach it.
        self.tmpdir = Path(tempfile.mkdtemp(prefix="cockpit-pg-", dir="/tmp"))
        self.datadir = self.tmpdir / "data"
        self.log_path = self.tmpdir / "server.log"
        if os.geteuid() == 0:
            # initdb refuses to run as root: the cluster belongs to the postgres user.
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root but there is no `postgres` user to own the cluster "
                    "(install the Debian package `postgresql`, or run the tests as a normal user)"
                ) from None
            runuser = shutil.which("runuser")
            if not runuser:
                raise PostgresUnavailable("running as root and no `runuser` to start PostgreSQL as postgres")
            self._run_as = [runuser, "-u", "postgres", "--"]
            self.log_path.touch()
            for p in (self.tmpdir, self.log_path):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        else:
            self.log_path.touch()
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                self.user,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        last_error: Exception | None = None
        for _ in range(3):  # a port picked as free can be taken before the server binds it
            self.port = free_port()
            opts = [
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                f"-c listen_addresses={self.host}",
                f"-c port={self.port}",
                f"-c unix_socket_directories={self.tmpdir}",
                "-c log_statement=all",
                "-c log_line_prefix=" + shlex.quote(_PG_PREFIX + "%m [%p] "),
                "-c log_min_messages=warning",
                "-c max_connections=100",
            ]
            try:
                self._run(
                    [
                        str(self.bindir / "pg_ctl"),
                        "-D",
                        str(self.datadir),
                        "-l",
                        str(self.log_path),
                        "-o",
                        " ".join(opts),
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ],
                    timeout=90,
                )
                self._started = True
                break
            except RuntimeError as e:
                last_error = e
        else:
            raise RuntimeError(f"PostgreSQL did not start: {last_error}")
        self._wait_ready()
        self._run(
            [
                str(self.bindir / "createdb"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                self.database,
            ]
        )
        self._mark = self._log_size()
        return self

    def _wait_ready(self, timeout: float = 30) -> None:
        pg_isready = self.bindir / "pg_isready"
        deadline = time.monotonic() + timeout
        while True:
            if pg_isready.exists():
                ok = (
                    subprocess.run(
                        [str(pg_isready), "-h", self.host, "-p", str(self.port), "-U", self.user, "-q"],
                        stdin=subprocess.DEVNULL,
                    ).returncode
                    == 0
                )
            else:
                try:
                    wait_for_port(self.host, self.port, timeout=1)
                    ok = True
                except TimeoutError:
                    ok = False
            if ok:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL on port {self.port} not ready after {timeout}s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self._started and self.datadir is not None:
            self._started = False
            try:
                subprocess.run(
                    self._as_owner(
                        [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"]
                    ),
                    capture_output=True,
                    timeout=60,
                    stdin=subprocess.DEVNULL,
                    cwd=str(self.tmpdir),
                )
            except subprocess.TimeoutExpired:
                subprocess.run(
                    self._as_owner(
                        [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"]
                    ),
                    capture_output=True,
                    timeout=30,
                    stdin=subprocess.DEVNULL,
                )
        if self.tmpdir is not None and os.environ.get("COCKPIT_KEEP_PG") != "1":
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses
    def url_for(self, database: str, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{self.user}@{self.host}:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"<PostgresServer {self.url if self.port else '(not started)'} log={self.log_path}>"

    @property
    def dsn(self) -> str:
        return self.url_for(self.database, driver="postgresql")

    def create_database(self, name: str | None = None) -> str:
        """Create a new empty database (``cockpit_1``, ``cockpit_2``… by default); return its SQLAlchemy URL."""
        if name is None:
            self._db_counter += 1
            name = f"{self.database}_{self._db_counter}"
        self._run(
            [str(self.bindir / "createdb"), "-h", self.host, "-p", str(self.port), "-U", self.user, name]
        )
        return self.url_for(name)

    def psql(self, sql: str, database: str | None = None) -> str:
        """Run SQL with psql (no Python driver involved); returns its unaligned output."""
        proc = self._run(
            [
                str(self.bindir / "psql") if (self.bindir / "psql").exists() else "psql",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database or self.database,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ]
        )
        return proc.stdout

    # -- the statement log
    def _log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path and self.log_path.exists() else 0

    def mark(self) -> int:
        """Remember the current end of the log; ``statements()`` then reports only what follows."""
        self._mark = self._log_size()
        return self._mark

    def log_since(self, mark: int | None = None) -> str:
        """Raw server log text written after ``mark`` (default: the last ``mark()``)."""
        start = self._mark if mark is None else mark
        with open(self.log_path, "rb") as f:
            f.seek(start)
            return f.read().decode("utf-8", errors="replace")

    def entries_since(self, mark: int | None = None) -> list[PgLogEntry]:
        entries: list[PgLogEntry] = []
        for line in self.log_since(mark).splitlines():
            if line.startswith(_PG_PREFIX):
                m = re.match(re.escape(_PG_PREFIX) + r"\S+ \S+ \S+ \[(\d+)\] (.*)\Z", line)
                if m:
                    entries.append(PgLogEntry(pid=m.group(1), message=m.group(2)))
                    continue
                entries.append(PgLogEntry(pid="", message=line[len(_PG_PREFIX) :]))
            elif entries:
                entries[-1].message += "\n" + (line[1:] if line.startswith("\t") else line)
        return entries

    def statements_since(self, mark: int | None = None) -> list[str]:
        """SQL statements that reached the server after ``mark`` (default: the last ``mark()``), in order.

        Covers the simple protocol (``statement: …``) and the extended one psycopg uses for queries
        with parameters (``execute <unnamed>: …``; parameters are in ``entries_since`` as DETAIL).
        """
        out = []
        for e in self.entries_since(mark):
            m = _STATEMENT_RE.match(e.message)
            if m and e.message.startswith("LOG:"):
                out.append(m.group("sql").strip())
        return out

    def statements(self, since: int | None = None) -> list[str]:
        return self.statements_since(since)

    def wait_for_statement(self, fragment: str, mark: int | None = None, timeout: float = 5.0) -> str:
        """Wait until a statement containing ``fragment`` (case-insensitive) is logged; return it."""
        deadline = time.monotonic() + timeout
        while True:
            for s in self.statements_since(mark):
                if fragment.lower() in s.lower():
                    return s
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no statement containing {fragment!r} in the PostgreSQL log; got: {self.statements_since(mark)}"
                )
            time.sleep(0.05)


# --------------------------------------------------------------------------------------------
# HTTP


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    raw_path: str  # as sent, with the query string
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class Route:
    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    close: bool = False  # close the connection without any response
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    handler: Callable[[RecordedRequest], Any] | None = None  # returns body, or (status, body[, headers])
    methods: tuple[str, ...] | None = None  # None: any method


class JsonHTTPServer:
    """A threaded HTTP server on 127.0.0.1 serving documents registered by the test.

    ``add(path, body, status=200, …)`` — ``body`` dict/list → JSON (UTF-8), str → text, bytes → as is;
    ``path`` may include a query string to match only that query. Unregistered paths answer 404.
    ``add_error(path, status=500)``, ``add_close(path)`` (connection closed, no response),
    ``add_handler(path, fn)`` (fn(RecordedRequest) → body | (status, body) | (status, body, headers)).
    Every request is recorded in ``requests`` (also POST bodies: it is the webhook receiver too);
    ``mark()`` / ``requests_since(mark)``, ``requests_to(path)``, ``reset()``. ``url(path)`` → full URL.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- registration
    def add(
        self,
        path: str,
        body: Any = None,
        status: int = 200,
        *,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        close: bool = False,
        delay: float = 0.0,
        methods: Iterable[str] | None = None,
    ) -> str:
        """Register a response for ``path``; returns ``url(path)``."""
        with self._lock:
            self.routes[path] = Route(
                body=body,
                status=status,
                headers=dict(headers or {}),
                content_type=content_type,
                close=close,
                delay=delay,
                methods=tuple(m.upper() for m in methods) if methods else None,
            )
        return self.url(path)

    def add_error(self, path: str, status: int = 500, body: Any = None) -> str:
        return self.add(path, body if body is not None else {"error": f"status {status}"}, status=status)

    def add_close(self, path: str) -> str:
        return self.add(path, close=True)

    def add_handler(self, path: str, handler: Callable[[RecordedRequest], Any]) -> str:
        with self._lock:
            self.routes[path] = Route(handler=handler)
        return self.url(path)

    def remove(self, path: str) -> None:
        with self._lock:
            self.routes.pop(path, None)

    def reset(self) -> None:
        """Forget every route and every recorded request."""
        with self._lock:
            self.routes.clear()
            self.requests.clear()

    # -- what was received
    def mark(self) -> int:
        with self._lock:
            return len(self.requests)

    def requests_since(self, mark: int = 0) -> list[RecordedRequest]:
        with self._lock:
            return list(self.requests[mark:])

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path or r.raw_path == path]

    # -- addresses
    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        if not path.startswith("/"):
            path = "/" + path
        return self.base_url + path

    # -- lifecycle
    def start(self) -> JsonHTTPServer:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parsed = urllib.parse.urlsplit(self.path)
                req = RecordedRequest(
                    method=self.command,
                    path=parsed.path,
                    query=urllib.parse.parse_qs(parsed.query, keep_blank_values=True),
                    raw_path=self.path,
                    headers={k: v for k, v in self.headers.items()},
                    body=body,
                )
                with server._lock:
                    server.requests.append(req)
                    route = server.routes.get(self.path) or server.routes.get(parsed.path)
                if route is not None and route.methods and self.command not in route.methods:
                    self._send(405, {"error": "method not allowed"}, {}, None)
                    return
                if route is None:
                    self._send(404, {"error": f"no document registered at {parsed.path}"}, {}, None)
                    return
                if route.delay:
                    time.sleep(route.delay)
                if route.close:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                status, payload, headers = route.status, route.body, route.headers
                if route.handler is not None:
                    result = route.handler(req)
                    if isinstance(result, tuple):
                        status, payload = result[0], result[1]
                        headers = result[2] if len(result) > 2 else {}
                    else:
                        status, payload, headers = 200, result, {}
                self._send(status, payload, headers, route.content_type)

            def _send(
                self, status: int, payload: Any, headers: Mapping[str, str], content_type: str | None
            ) -> None:
                if isinstance(payload, bytes):
                    data, ctype = payload, "application/octet-stream"
                elif isinstance(payload, str):
                    data, ctype = payload.encode("utf-8"), "text/plain; charset=utf-8"
                elif payload is None:
                    data, ctype = b"", "application/json"
                else:
                    data = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
                    ctype = "application/json; charset=utf-8"
                self.send_response(status)
                self.send_header("Content-Type", content_type or ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # a client that hung up (a killed run, a timeout test) is not the server's problem
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self._httpd = Server((LOOPBACK, 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="json-http-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> JsonHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# SMTP


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # the message as received (dot-unstuffed), CRLF line ends
    auth: tuple[str, str] | None  # (username, password) if the client authenticated
    helo: str

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def text(self) -> str:
        """The decoded text/plain (else text/html) body."""
        msg = self.message
        part = msg.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""

    def html(self) -> str | None:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else None


class LoopbackController(Controller):
    """aiosmtpd's threaded ``Controller`` on 127.0.0.1 and a port the OS picks (``.port`` once started).

    aiosmtpd 1.4 binds ``port=0`` fine but then connects to port 0 to wake the server up
    (aio-libs/aiosmtpd#388): read the bound port first. Other keyword arguments go to
    ``Controller`` and on to ``aiosmtpd.smtp.SMTP`` (``tls_context``, ``ssl_context``, ``authenticator``…).
    """

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        kwargs.setdefault("server_hostname", "cockpit-test-smtp")  # else socket.getfqdn(): DNS, slow
        super().__init__(handler, hostname=LOOPBACK, port=0, **kwargs)

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _SinkHandler:
    """The aiosmtpd handler hooks and authenticator of an ``SMTPSink`` (run in the controller's
    thread). Not the sink itself: aiosmtpd looks at every attribute of its handler, properties too.
    """

    def __init__(self, sink: SMTPSink) -> None:
        self.sink = sink

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode("utf-8", "replace")
        pw = auth_data.password.decode("utf-8", "replace")
        if self.sink.credentials is not None and (user, pw) != tuple(self.sink.credentials):
            return AuthResult(success=False, handled=False)  # 535 5.7.8
        return AuthResult(success=True, auth_data=(user, pw))

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if self.sink.require_auth and not session.authenticated:
            return "530 5.7.0 authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.sink.reject_all or address in self.sink.reject_rcpt:
            return f"550 5.1.1 <{address}>: recipient rejected"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        mail = ReceivedMail(
            mail_from="" if envelope.mail_from == "<>" else envelope.mail_from or "",  # null sender
            rcpt_tos=list(envelope.rcpt_tos),
            # the bytes as received, dot-unstuffed, CRLF kept (``content`` is the same object
            # unless decode_data=True, which would make it str)
            data=envelope.original_content or b"",
            auth=session.auth_data if session.authenticated else None,
            helo=session.host_name or "",
        )
        with self.sink._lock:
            self.sink.messages.append(mail)
        return "250 2.0.0 ok: queued"


class SMTPSink:
    """An SMTP server on 127.0.0.1 (aiosmtpd, no TLS) that accepts and keeps every message.

    ``host``/``port``; ``messages`` (list of ``ReceivedMail``); ``mark()``/``messages_since(mark)``;
    ``wait_for_messages(count, mark)``; ``reset()``. AUTH PLAIN and LOGIN are offered over plain TCP
    and accepted with any credentials, which are recorded; set ``require_auth = True`` to refuse
    MAIL before AUTH (530), ``credentials = (user, pw)`` to accept only those (else 535), and
    ``reject_rcpt = {"addr", …}`` / ``reject_all = True`` to make deliveries fail (550). The
    switches are read on every command, so they apply to the next connection and the current one.
    """

    host = LOOPBACK

    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.require_auth = False
        self.credentials: tuple[str, str] | None = None
        self.reject_rcpt: set[str] = set()
        self.reject_all = False
        self._lock = threading.Lock()
        self._controller: LoopbackController | None = None

    @property
    def port(self) -> int:
        assert self._controller is not None, "server not started"
        return self._controller.port

    def mark(self) -> int:
        with self._lock:
            return len(self.messages)

    def messages_since(self, mark: int = 0) -> list[ReceivedMail]:
        with self._lock:
            return list(self.messages[mark:])

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
        self.require_auth = False
        self.credentials = None
        self.reject_rcpt = set()
        self.reject_all = False

    def wait_for_messages(self, count: int, mark: int = 0, timeout: float = 5.0) -> list[ReceivedMail]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages_since(mark)
            if len(got) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    # -- lifecycle

    def start(self) -> SMTPSink:
        assert self._controller is None, "already started"
        handler = _SinkHandler(self)
        controller = LoopbackController(
            handler,
            authenticator=handler.authenticate,
            auth_require_tls=False,  # AUTH PLAIN/LOGIN over plain TCP: this is a test server
            data_size_limit=50 * 1024 * 1024,
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SMTPSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# Streamlit and the browser


def find_chromium() -> str | None:
    """Debian's Chromium (Playwright's own browser download is not available here)."""
    for candidate in (
        os.environ.get("CHROMIUM_PATH"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
    ):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


# Chromium refuses to run as root without --no-sandbox; /dev/shm is small in containers.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]


class StreamlitServer:
    """``streamlit run APP --server.port N --server.headless true`` in ``cwd``; ``url``; output in ``log_path``."""

    def __init__(
        self,
        app: str | os.PathLike = "app.py",
        cwd: str | os.PathLike | None = None,
        env: Mapping[str, str | None] | None = None,
        args: Iterable[str] = (),
        startup_timeout: float = 60,
    ) -> None:
        self.app = str(app)
        self.cwd = Path(cwd) if cwd is not None else REPO_ROOT
        self.env = dict(env or {})
        self.args = list(args)
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self._logfile = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def start(self) -> StreamlitServer:
        streamlit = REPO_ROOT / ".venv" / "bin" / "streamlit"
        cmd = [str(streamlit)] if streamlit.exists() else [sys.executable, "-m", "streamlit"]
        self.port = free_port()
        env = dict(os.environ)
        env.update(
            {
                "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
                "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",
                "PYTHONIOENCODING": "utf-8",
            }
        )
        for k, v in self.env.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        fd, name = tempfile.mkstemp(prefix="cockpit-streamlit-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)
        self._logfile = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [
                *cmd,
                "run",
                self.app,
                "--server.port",
                str(self.port),
                "--server.address",
                LOOPBACK,
                "--server.headless",
                "true",
                *self.args,
            ],
            cwd=str(self.cwd),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        health = f"{self.url}/_stcore/health"
        while True:
            if self.proc.poll() is not None:
                out = self.output()
                self.stop()
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}:\n{out[-4000:]}")
            try:
                with urllib.request.urlopen(health, timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                out = self.output()
                self.stop()
                raise TimeoutError(f"streamlit not healthy after {self.startup_timeout}s:\n{out[-4000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._logfile is not None:
            self._logfile.close()
            self._logfile = None

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# OpenID Connect


OIDC_DIR = REPO_ROOT / "tests" / "oidc"


class OidcProviderUnavailable(RuntimeError):
    """No Node.js / npm here, or ``npm ci`` in tests/oidc failed (the fixture skips on this)."""


def ensure_oidc_provider_installed(timeout: float = 300) -> Path:
    """``npm ci`` in tests/oidc when its node_modules is missing or older than package-lock.json.

    Returns the ``node`` executable. The lock file is committed, node_modules is not: a fresh
    machine installs exactly the locked oidc-provider from the npm registry on first use.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise OidcProviderUnavailable(
            "no Node.js/npm on PATH: the OIDC sign-in tests need them to run npm's oidc-provider "
            "(on Debian: apt-get install nodejs npm)"
        )
    stamp = OIDC_DIR / "node_modules" / ".package-lock.json"  # written by npm ci
    lock = OIDC_DIR / "package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        proc = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=str(OIDC_DIR),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0:
            raise OidcProviderUnavailable(
                f"npm ci in {OIDC_DIR} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
            )
    return Path(node)


class OidcProvider:
    """A real OpenID Provider (npm ``oidc-provider``, tests/oidc/provider.mjs) on 127.0.0.1.

    ``clients``: ``[{"client_id", "client_secret", "redirect_uris": [...]}]``; ``accounts``:
    ``{account_id: {"email": ..., "name": ...}}`` (their claims). Sign-in is the library's
    development interaction: a form taking the account id and any password, then a consent
    button. ``issuer``, ``metadata_url``; ``output()`` is what the provider printed.
    ``port`` may be chosen beforehand (``free_port()``) when it must go into a config first.
    """

    def __init__(
        self,
        clients: list[dict[str, Any]],
        accounts: Mapping[str, Mapping[str, Any]],
        port: int | None = None,
        startup_timeout: float = 30,
    ) -> None:
        self.clients = clients
        self.accounts = dict(accounts)
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.tmpdir: Path | None = None

    @property
    def issuer(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def output(self) -> str:
        log = self.tmpdir / "provider.log" if self.tmpdir else None
        return log.read_text(errors="replace") if log and log.exists() else ""

    def start(self) -> OidcProvider:
        node = ensure_oidc_provider_installed()
        self.tmpdir = Path(tempfile.mkdtemp(prefix="cockpit-oidc-"))
        config = self.tmpdir / "config.json"
        config.write_text(
            json.dumps({"port": self.port, "clients": self.clients, "accounts": self.accounts}),
            encoding="utf-8",
        )
        log = open(self.tmpdir / "provider.log", "wb")
        try:
            self.proc = subprocess.Popen(
                [str(node), str(OIDC_DIR / "provider.mjs"), str(config)],
                cwd=str(OIDC_DIR),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                out = self.output()
                self.stop()
                raise RuntimeError(f"oidc-provider exited with {self.proc.returncode}:\n{out[-4000:]}")
            try:
                with urllib.request.urlopen(self.metadata_url, timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                out = self.output()
                self.stop()
                raise TimeoutError(
                    f"oidc-provider not answering after {self.startup_timeout}s:\n{out[-4000:]}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
