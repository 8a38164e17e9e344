"""A real feedsvc served over HTTP, driven by headless Chromium through Playwright.

The service runs in a thread on a free port of 127.0.0.1, on its own SQLite database
(whatever ``FEEDSVC_DATABASE_URL`` says: these tests are about the pages, not the database).
Without Playwright, Chromium or axe-core the tests skip and say what is missing, unless
``FEEDSVC_REQUIRE_BROWSER=1``, which turns each skip into a failure (CI sets it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from feedsvc import create_app
from feedsvc.cli import upgrade_database
from feedsvc.db import get_engine

from e2e.helpers import (
    ACTION_TIMEOUT_MS,
    AXE_SCRIPT,
    BROWSER_LOCALES,
    E2E_SECRET_KEY,
    LAUNCH_TIMEOUT_MS,
    NAVIGATION_TIMEOUT_MS,
    ROOT,
    VIEWPORTS,
    QuietHandler,
    chromium_path,
    unavailable,
)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served over HTTP on 127.0.0.1; yields its base URL (no trailing slash)."""
    folder = tmp_path_factory.mktemp("e2e")
    app = create_app({
        "INSTANCE_PATH": str(folder / "instance"),
        "FEEDSVC_DATABASE_URL": "sqlite:///" + str(folder / "feedsvc.sqlite3"),
        "FEEDSVC_SECRET_KEY": E2E_SECRET_KEY,
        # Feed links take the origin of the request, i.e. this server.
        "FEEDSVC_BASE_URL": None,
        "FEEDSVC_REDIS_URL": None,
        # Many sign-ups and log-ins from one address in a minute are the point here.
        "FEEDSVC_RATE_LIMITS": "off",
    })
    upgrade_database(app)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True,
                                         request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        get_engine(app).dispose()


@pytest.fixture(scope="session")
def _playwright_browser() -> Iterator[Any]:
    """One headless Chromium for the session, or the reason it is missing."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        yield "Playwright is not installed (scripts/bootstrap test installs it)"
        return
    executable = chromium_path()
    if not os.access(executable, os.X_OK):
        yield (f"no Chromium at {executable} (on Debian: apt-get install chromium "
               "fonts-noto-cjk; or point FEEDSVC_CHROMIUM at one)")
        return
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                                 timeout=LAUNCH_TIMEOUT_MS)
        except Error as error:
            yield f"Chromium at {executable} did not start: {error.message.splitlines()[0]}"
            return
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser(_playwright_browser: Any) -> Any:
    """The session's Chromium; skips (or fails, when required) without one."""
    if isinstance(_playwright_browser, str):
        unavailable(_playwright_browser)
    return _playwright_browser


@pytest.fixture
def axe_source() -> str:
    """axe-core's script, installed by ``scripts/bootstrap test`` from package-lock.json."""
    if not AXE_SCRIPT.is_file():
        unavailable(f"{AXE_SCRIPT.relative_to(ROOT)} is missing (scripts/bootstrap test "
                    "installs it with npm; on Debian: apt-get install npm)")
    return AXE_SCRIPT.read_text(encoding="utf-8")


@pytest.fixture
def new_context(browser: Any, live_server: str) -> Iterator[Callable[..., Any]]:
    """Open browser contexts (a fresh profile each) for a width and a language."""
    opened: list[Any] = []

    def open_context(width: str, lang: str, **options: Any) -> Any:
        context = browser.new_context(base_url=live_server, **VIEWPORTS[width],
                                      **BROWSER_LOCALES[lang], **options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        context.close()


