"""The client's address and scheme come from trusted proxies only (FEEDSVC_FORWARDED_ALLOW_IPS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder

from feedsvc import create_app
from feedsvc.db import get_engine
from feedsvc.proxy import TrustedProxies, parse_networks

from helpers import PASSWORD, app_config

PROXY = "127.0.0.1"
STRANGER = "203.0.113.7"


@pytest.fixture
def http_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app whose public URL does not say https, so only the request can."""
    app = create_app(app_config(tmp_path / "instance", database_url,
                                FEEDSVC_BASE_URL="http://127.0.0.1:8000",
                                WTF_CSRF_ENABLED=False))
    yield app
    get_engine(app).dispose()


def wrong_logins(app: Flask, email: str, count: int, peer: str,
                 forwarded_for: str | None = None) -> list[int]:
    client = app.test_client()
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return [client.post("/login", data={"email": email, "password": "wrong"}, headers=headers,
                        environ_base={"REMOTE_ADDR": peer}).status_code
            for _ in range(count)]


def log_in(app: Flask, email: str, peer: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return app.test_client().post("/login", data={"email": email, "password": PASSWORD},
                                  headers=headers,
                                  environ_base={"REMOTE_ADDR": peer}).status_code


def test_behind_the_trusted_proxy_each_client_has_its_own_throttle(
        app: Flask, user: dict[str, Any]) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    statuses = wrong_logins(app, user["email"], 15, PROXY, "198.51.100.1")
    assert statuses[:10] == [422] * 10 and statuses[10:] == [429] * 5
    # Another client through the same proxy logs in to the same account.
    assert log_in(app, user["email"], PROXY, "198.51.100.2") == 302
    # The throttled client stays throttled.
    assert log_in(app, user["email"], PROXY, "198.51.100.1") == 429


def test_a_forwarded_address_from_anyone_else_is_ignored(app: Flask, user: dict[str, Any]
                                                         ) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    # Naming a new address on every try does not escape the throttle: the peer is counted.
    statuses = [wrong_logins(app, user["email"], 1, STRANGER, f"198.51.100.{n}")[0]
                for n in range(12)]
    assert statuses[:10] == [422] * 10 and statuses[10:] == [429, 429]
    assert log_in(app, user["email"], STRANGER, "198.51.100.99") == 429
    assert log_in(app, user["email"], "203.0.113.8") == 302


@pytest.mark.parametrize(("peer", "forwarded", "seen"), [
    (PROXY, "198.51.100.4", "198.51.100.4"),
    (PROXY, "10.9.9.9, 198.51.100.4", "198.51.100.4"),  # only the proxy's own entry counts
    (STRANGER, "198.51.100.4", STRANGER),
    (PROXY, None, PROXY),
])
def test_the_client_address_is_what_the_access_log_reads(
        app: Flask, peer: str, forwarded: str | None, seen: str) -> None:
    """gunicorn's access log reads REMOTE_ADDR from the environ the app was given."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    environ = EnvironBuilder(path="/healthz", headers=headers,
                             environ_base={"REMOTE_ADDR": peer}).get_environ()
    assert b"".join(app.wsgi_app(environ, lambda *args: None))
    assert environ["REMOTE_ADDR"] == seen


def test_https_from_the_trusted_proxy_makes_cookies_secure_and_sends_hsts(
        http_app: Flask, user: dict[str, Any]) -> None:
    client = http_app.test_client()
    response = client.post("/login", data={"email": user["email"], "password": PASSWORD},
                           headers={"X-Forwarded-Proto": "https"},
                           environ_base={"REMOTE_ADDR": PROXY})
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "; Secure" in cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_https_claimed_by_anyone_else_is_plain_http(http_app: Flask, user: dict[str, Any]
                                                     ) -> None:
    client = http_app.test_client()
    response = client.post("/login", data={"email": user["email"], "password": PASSWORD},
                           headers={"X-Forwarded-Proto": "https"},
                           environ_base={"REMOTE_ADDR": STRANGER})
    assert response.status_code == 302
    assert "; Secure" not in response.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in response.headers


def test_the_csrf_check_over_https_accepts_a_same_origin_form(
        database_url: str, tmp_path: Path, user: dict[str, Any]) -> None:
    """Flask-WTF's https check wants a same-origin Referer; the pages let browsers send it."""
    app = create_app(app_config(tmp_path / "csrf", database_url,
                                FEEDSVC_BASE_URL="https://feeds.example.org"))
    try:
        client = app.test_client()
        proxied = {"environ_base": {"REMOTE_ADDR": PROXY}}
        https = {"X-Forwarded-Proto": "https", "Host": "feeds.example.org"}
        page = client.get("/login", headers=https, **proxied)
        assert page.headers["Referrer-Policy"] == "same-origin"
        token = page.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
        form = {"csrf_token": token, "email": "nobody@example.com", "password": "x"}
        refused = client.post("/login", data=form, headers=https, **proxied)
        assert refused.status_code == 400  # no Referer: what no-referrer pages led to
        accepted = client.post("/login", data=form, **proxied, headers={
            **https, "Referer": "https://feeds.example.org/login"})
        assert accepted.status_code == 422  # past the CSRF check: a wrong password
    finally:
        get_engine(app).dispose()


@pytest.mark.parametrize(("setting", "peer", "trusted"), [
    ("127.0.0.1", "127.0.0.1", True),
    ("127.0.0.1", "127.0.0.2", False),
    ("127.0.0.1", "::ffff:127.0.0.1", True),
    ("127.0.0.1", "::1", False),
    ("127.0.0.1, ::1", "::1", True),
    ("10.0.0.0/8", "10.20.30.40", True),
    ("10.0.0.0/8", "11.0.0.1", False),
    ("fd00::/8", "fd12::1", True),
    ("*", "198.51.100.1", True),
    ("", "127.0.0.1", False),
    ("127.0.0.1", "", True),  # a Unix socket: only a local process can connect
    ("127.0.0.1", "not-an-address", False),
])
def test_which_peers_are_trusted(setting: str, peer: str, trusted: bool) -> None:
    assert TrustedProxies(lambda environ, start: [], setting).trusts(peer) is trusted


@pytest.mark.parametrize("setting", ["127.0.0.1, nonsense", "10.0.0.0/33", "localhost"])
def test_a_malformed_proxy_list_stops_the_start(setting: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="FEEDSVC_FORWARDED_ALLOW_IPS"):
        parse_networks(setting)
    with pytest.raises(ValueError, match="FEEDSVC_FORWARDED_ALLOW_IPS"):
        create_app(app_config(tmp_path, "sqlite:///" + str(tmp_path / "x.sqlite3"),
                              FEEDSVC_FORWARDED_ALLOW_IPS=setting))
