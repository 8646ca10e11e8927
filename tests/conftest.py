"""Shared fixtures: real servers on free loopback ports, started once per session and always stopped.

| fixture            | scope    | what                                                                     |
|--------------------|----------|--------------------------------------------------------------------------|
| repo_root          | session  | ``Path`` of the repository root                                          |
| postgres_url       | session  | ``servers.PostgresServer``: ``.url``, ``.dsn``, ``.log_path``, ``.mark()``, |
|                    |          | ``.statements(since)``, ``.statements_since(mark)``, ``.create_database()`` |
|                    |          | (``str(postgres_url)`` is the URL). Skips if no initdb on the machine.    |
| http_json_server   | session  | ``servers.JsonHTTPServer``: ``.add(path, body, status)``, ``.add_error``, |
|                    |          | ``.add_close``, ``.url(path)``, ``.requests``, ``.reset()``               |
| smtp_server        | session  | ``servers.SMTPSink``: ``.host``, ``.port``, ``.messages``, ``.reset()``   |
| cli                | session  | ``run_cli(*args, cwd=None, env=None, timeout=120) -> CompletedProcess``   |
| chromium_path      | session  | path of Debian's Chromium; skips if missing                              |
| browser            | session  | Playwright ``Browser`` (headless Chromium); skips if missing             |
| page               | function | a fresh Playwright ``Page`` (own context, 1400x900, zh-CN), closed after |
| streamlit_server   | session  | factory ``start(app="app.py", cwd=None, env=None) -> StreamlitServer``   |
| oidc_provider      | session  | factory ``start(clients, accounts, port=None) -> OidcProvider`` (npm      |
|                    |          | oidc-provider, tests/oidc/); skips without Node.js/npm                    |

Session-scoped servers are shared: a test that asserts on what a server received should take a
``mark()`` first (or call ``reset()``), and register paths of its own.
Tests using ``postgres_url`` / ``browser`` / ``page`` get the ``postgres`` / ``browser`` marker
automatically, so ``pytest -m "not browser"`` works.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import (
    CHROMIUM_ARGS,
    REPO_ROOT,
    JsonHTTPServer,
    PostgresServer,
    PostgresUnavailable,
    SMTPSink,
    StreamlitServer,
    find_chromium,
    run_cli,
)


def pytest_configure(config: pytest.Config) -> None:
    # Hypothesis: no per-example deadline (a 2-core CI machine running servers is slow and uneven).
    try:
        from hypothesis import settings
    except ImportError:
        pass
    else:
        settings.register_profile("cockpit", deadline=None, print_blob=True)
        settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "cockpit"))

    # A SIGTERM (a CI time limit, `kill`) becomes an interruption, so that the session fixtures'
    # finalizers still stop PostgreSQL and the other servers instead of leaving them behind.
    if threading.current_thread() is threading.main_thread():

        def _interrupt(signum, frame):
            raise KeyboardInterrupt(f"signal {signum}")

        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, _interrupt)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "postgres_url" in names:
            item.add_marker(pytest.mark.postgres)
        if names & {"browser", "page", "chromium_path"}:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster with an empty database ``cockpit``; every statement is logged."""
    try:
        server = PostgresServer()
    except PostgresUnavailable as e:
        pytest.skip(str(e))
    atexit.register(server.stop)  # belt and braces: stop() is idempotent
    try:
        server.start()
    except PostgresUnavailable as e:
        server.stop()
        pytest.skip(str(e))
    except BaseException:
        server.stop()
        raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def http_json_server() -> Iterator[JsonHTTPServer]:
    server = JsonHTTPServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SMTPSink]:
    server = SMTPSink().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def cli():
    """``cli("compute", "--config", path, cwd=tmp_path, env={"X": "1"})`` → ``CompletedProcess``."""
    return run_cli


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("no Chromium at /usr/bin/chromium (run `make system`, or set CHROMIUM_PATH)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path: str):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed in this environment")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    p = context.new_page()
    try:
        yield p
    finally:
        context.close()


@pytest.fixture(scope="session")
def streamlit_server():
    """Factory: ``srv = streamlit_server("app.py", cwd=dir, env={...})``; ``srv.url``. All stopped at the end."""
    started: list[StreamlitServer] = []

    def start(
        app: str = "app.py", cwd=None, env=None, args=(), startup_timeout: float = 60
    ) -> StreamlitServer:
        srv = StreamlitServer(app, cwd=cwd, env=env, args=args, startup_timeout=startup_timeout)
        started.append(srv)
        return srv.start()

    try:
        yield start
    finally:
        for srv in started:
            srv.stop()


@pytest.fixture(scope="session")
def oidc_provider():
    """Factory: ``op = oidc_provider(clients=[…], accounts={…}, port=None)`` → ``servers.OidcProvider``.

    A real OpenID Provider (npm ``oidc-provider``, tests/oidc/) on loopback; ``npm ci`` runs there on
    first use. Skips when Node.js/npm are missing or the install fails. All stopped at the end.
    """
    from servers import OidcProvider, OidcProviderUnavailable, ensure_oidc_provider_installed

    try:
        ensure_oidc_provider_installed()
    except OidcProviderUnavailable as e:
        pytest.skip(str(e))
    started: list[OidcProvider] = []

    def start(clients, accounts, port=None) -> OidcProvider:
        op = OidcProvider(clients, accounts, port=port)
        started.append(op)
        return op.start()

    try:
        yield start
    finally:
        for op in started:
            op.stop()
