"""The production shape, end to end: Chromium over https, through nginx configured with
deploy/nginx/feedsvc.conf, to the service under gunicorn with its production settings.

Sign-up, log-in, an item added through the form, the calendars page (and the feed it shows,
fetched over https as a calendar app would), log-out: every form must pass its CSRF check,
the session cookie must be Secure, every page must carry HSTS, and plain http must redirect
to https. nginx and gunicorn run as processes of their own, on free ports of 127.0.0.1, on a
fresh SQLite instance folder; their logs are printed when the test fails.
"""

from __future__ import annotations

import datetime as dt
import gzip
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from e2e.helpers import ACTION_TIMEOUT_MS, NAVIGATION_TIMEOUT_MS, PASSWORD, unavailable
from helpers.servers import (
    BIN,
    Response,
    child_environment,
    fetch,
    free_ports,
    gunicorn_command,
    nginx_command,
    nginx_missing,
    render_nginx,
    running,
)

pytestmark = pytest.mark.e2e

EMAIL = "proxied@example.com"
TITLE = "MTS Russia"
MIGRATE_SECONDS = 120


@dataclass
class ProxiedService:
    """feedsvc under gunicorn behind nginx: its https and http origins, and the logs."""

    url: str
    http_url: str
    certificate: Path
    logs: dict[str, Path] = field(default_factory=dict)

    def tls(self) -> ssl.SSLContext:
        """A TLS context that trusts the test's self-signed certificate, and only it."""
        return ssl.create_default_context(cafile=str(self.certificate))

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> Response:
        """GET ``url`` over https as a calendar app would (no cookies, no redirects)."""
        return fetch(url, headers=headers, tls=self.tls())

    @contextmanager
    def logs_on_failure(self) -> Iterator[None]:
        """Print gunicorn's and nginx's logs when the block fails (not when it skips)."""
        try:
            yield
        except pytest.skip.Exception:
            raise
        except BaseException:
            for name, path in self.logs.items():
                text = path.read_text(errors="replace") if path.is_file() else "(no file)"
                print(f"----- {name}: {path}\n{text}")
            raise


@pytest.fixture
def proxied_service(tmp_path: Path) -> Iterator[ProxiedService]:
    """gunicorn (``wsgi:app``) and, in front of it, nginx with deploy/'s site."""
    reason = nginx_missing()
    if reason:
        unavailable(reason)
    https_port, http_port, app_port = free_ports(3)
    prefix = tmp_path / "nginx"
    service = ProxiedService(
        url=f"https://127.0.0.1:{https_port}", http_url=f"http://127.0.0.1:{http_port}",
        certificate=prefix / "certificate.pem",
        logs={"gunicorn": tmp_path / "gunicorn.log", "nginx": prefix / "nginx.log",
              "nginx error log": prefix / "error.log", "nginx access log": prefix / "access.log"})
    # A fresh instance folder and SQLite file, whatever this shell's settings say.
    env = child_environment(
        FEEDSVC_INSTANCE_PATH=str(tmp_path / "instance"), FEEDSVC_BASE_URL=service.url,
        FEEDSVC_FORWARDED_ALLOW_IPS="127.0.0.1", FEEDSVC_BIND=f"127.0.0.1:{app_port}")
    with service.logs_on_failure():
        upgrade = subprocess.run([str(BIN / "feedsvc"), "db", "upgrade"], env=env,
                                 capture_output=True, text=True, timeout=MIGRATE_SECONDS,
                                 check=False)
        assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
        conf = render_nginx(prefix, https_port=https_port, http_port=http_port,
                            upstream=f"127.0.0.1:{app_port}")
        with running(gunicorn_command("wsgi:app"), service.logs["gunicorn"], env,
                     f"http://127.0.0.1:{app_port}/healthz"), \
                running(nginx_command(conf), service.logs["nginx"], env,
                        f"{service.url}/healthz", tls=service.tls()):
            yield service


class Visits:
    """Every page the browser loads, checked as it comes: each must carry HSTS and none may
    be an error; ``check`` also fails on a page saying the form expired."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("response", self._record)

    def _record(self, response: Any) -> None:
        if response.request.resource_type != "document":
            return
        where = f"{response.request.method} {urlsplit(response.url).path}"
        if response.status >= 400:
            self.problems.append(f"{where} answered {response.status}")
        if "strict-transport-security" not in response.headers:
            self.problems.append(f"{where} ({response.status}) has no Strict-Transport-Security")

    def check(self, step: str) -> None:
        """Fail if the step met a CSRF refusal, an error page or a page without HSTS."""
        text = self.page.locator("body").inner_text()
        assert "form expired" not in text.lower() and "csrf" not in text.lower(), (
            f"{step}: {self.page.url} says: {' '.join(text.split())[:300]}")
        assert not self.problems, f"{step}: " + "; ".join(self.problems)

    def path(self) -> str:
        return urlsplit(self.page.url).path

    def submit(self, button: str, step: str) -> None:
        """Click the form's ``button``, wait for the page it leads to, and check it."""
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=button, exact=True).click()
        self.check(step)


def test_sign_up_to_log_out_over_https_behind_nginx(browser: Any,
                                                    proxied_service: ProxiedService) -> None:
    service = proxied_service
    with service.logs_on_failure():
        # Plain http only redirects to https.
        redirect = fetch(f"{service.http_url}/login")
        assert redirect.status == 301, redirect.status
        assert redirect.headers["Location"] == "https://127.0.0.1/login", redirect.headers

        context = browser.new_context(base_url=service.url, ignore_https_errors=True,
                                      locale="en-GB", timezone_id="Europe/London")
        try:
            context.set_default_timeout(ACTION_TIMEOUT_MS)
            context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
            drive_the_pages(context, service)
        finally:
            context.close()


def drive_the_pages(context: Any, service: ProxiedService) -> None:
    page = context.new_page()
    visits = Visits(page)

    page.goto("/signup")
    visits.check("sign-up page")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    visits.submit("Create account", "sign-up")

    # Sign-up answers every address alike, new or taken: it leads to the log-in form.
    assert visits.path() == "/login", page.url
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    visits.submit("Log in", "log-in")
    assert visits.path() == "/", page.url
    cookies = context.cookies()
    assert any(cookie["name"] == "session" for cookie in cookies), cookies
    assert all(cookie["secure"] for cookie in cookies), cookies

    page.goto("/items/new")
    visits.check("item form")
    page.get_by_label("Title", exact=True).fill(TITLE)
    page.get_by_label("Due date", exact=True).fill((dt.date.today() + dt.timedelta(days=40)).isoformat())
    visits.submit("Save", "adding an item")
    assert visits.path() == "/", page.url
    assert page.locator(".item-title", has_text=TITLE).count() == 1

    page.goto("/calendars")
    visits.check("calendars")
    feed_url = page.locator("textarea.feed-url").first.input_value().strip()
    assert feed_url.startswith(f"{service.url}/"), feed_url
    check_feed(service, feed_url)

    visits.submit("Log out", "log-out")
    assert visits.path() == "/login", page.url
    page.goto("/")
    assert visits.path() == "/login", f"still signed in after logging out: {page.url}"
    visits.check("after log-out")


def check_feed(service: ProxiedService, feed_url: str) -> None:
    """The feed answers over https, gzipped when asked (nginx passes Accept-Encoding on)."""
    plain = service.fetch(feed_url)
    assert plain.status == 200, (plain.status, plain.body[:300])
    assert plain.headers.get_content_type() == "text/calendar", plain.headers
    assert plain.headers["Content-Encoding"] is None, plain.headers
    assert plain.body.startswith(b"BEGIN:VCALENDAR"), plain.body[:100]
    assert TITLE.encode() in plain.body

    zipped = service.fetch(feed_url, headers={"Accept-Encoding": "gzip"})
    assert zipped.status == 200, zipped.status
    assert zipped.headers["Content-Encoding"] == "gzip", zipped.headers
    assert gzip.decompress(zipped.body) == plain.body
