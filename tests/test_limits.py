"""Throttles: log-in, sign-up and feed requests, in memory or shared through Redis."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from feedsvc import create_app
from feedsvc.db import get_engine
from feedsvc.limits import rate_limits_on

from helpers import PASSWORD, Api, app_config, make_user, signed_in


def attempts(app: Flask, email: str, count: int, address: str = "10.0.0.1") -> list[int]:
    client = app.test_client()
    return [client.post("/login", data={"email": email, "password": "wrong"},
                        environ_base={"REMOTE_ADDR": address}).status_code
            for _ in range(count)]


def test_log_in_is_throttled_per_address_and_email(app: Flask, user: dict[str, Any]) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    statuses = attempts(app, user["email"], 12)
    assert statuses[:10] == [422] * 10
    assert statuses[10:] == [429, 429]
    response = app.test_client().post("/login", data={"email": user["email"], "password": "x"},
                                      environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert "Too many log-in attempts" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    # Another address, or another e-mail from the same address, is not held back.
    assert attempts(app, user["email"], 1, "10.0.0.2") == [422]
    assert attempts(app, "someone@example.com", 1) == [422]


def test_the_right_password_is_refused_too_once_throttled(app: Flask, user: dict[str, Any]
                                                          ) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    attempts(app, user["email"], 10)
    response = app.test_client().post("/login", data={"email": user["email"],
                                                      "password": PASSWORD},
                                      environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert response.status_code == 429


def test_sign_up_is_throttled_per_address(app: Flask) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    statuses = [client.post("/signup", data={"email": "bad"}).status_code for _ in range(11)]
    assert statuses[:10] == [422] * 10 and statuses[10] == 429


def test_feed_requests_the_route_answers_are_throttled_per_feed_url(app: Flask,
                                                                    api: Api) -> None:
    feed = api.post("/api/v1/feeds", json={"name": "Polled"}).json
    other = api.post("/api/v1/feeds", json={"name": "Other"}).json
    client = app.test_client()
    path = urlsplit(feed["url"]).path
    # A calendar still polling an address that was replaced: each answer is a 410 by the route.
    assert api.post(f"/api/v1/feeds/{feed['id']}/rotate").status_code == 200
    statuses = [client.get(path).status_code for _ in range(121)]
    assert statuses[:120] == [410] * 120 and statuses[120] == 429
    assert client.get(path.replace(".ics", "/google.ics")).status_code == 429, "one budget"
    assert client.get(urlsplit(other["url"]).path).status_code == 200


def test_warm_feed_requests_are_served_before_the_throttle(app: Flask, api: Api) -> None:
    # Answering from the cache costs less than refusing would, so it is never refused.
    feed = api.post("/api/v1/feeds", json={"name": "Polled"}).json
    client = app.test_client()
    path = urlsplit(feed["url"]).path
    statuses = [client.get(path).status_code for _ in range(150)]
    assert statuses == [200] * 150


def test_rate_limits_off_disables_every_throttle(tmp_path: Path, database_url: str,
                                                 user_email: str = "x@example.com") -> None:
    app = create_app(app_config(tmp_path / "i", database_url, FEEDSVC_RATE_LIMITS="off",
                                 WTF_CSRF_ENABLED=False))
    assert not rate_limits_on(app)
    assert set(attempts(app, user_email, 30)) == {422}
    get_engine(app).dispose()


def test_an_api_429_would_be_json(app: Flask) -> None:
    with app.test_request_context("/api/v1/items"):
        from feedsvc.errors import error_response

        response = error_response(429, "Too many requests.")
    assert response.json == {"error": {"status": 429, "message": "Too many requests."}}


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                               stdout=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_two_workers_share_the_log_in_budget_through_redis(
    tmp_path: Path, database_url: str, redis_url: str, user: dict[str, Any]
) -> None:
    apps = [create_app(app_config(tmp_path / f"w{n}", database_url,
                                  FEEDSVC_REDIS_URL=redis_url, WTF_CSRF_ENABLED=False))
            for n in (1, 2)]
    statuses = attempts(apps[0], user["email"], 6) + attempts(apps[1], user["email"], 6)
    assert statuses[:10] == [422] * 10 and statuses[10:] == [429, 429]
    for app in apps:
        get_engine(app).dispose()


def test_mails_to_addresses_an_account_names_are_throttled(app: Flask,
                                                           user: dict[str, Any]) -> None:
    """New addresses, resent confirmations and tests, on the pages and the API together."""
    from feedsvc.limits import MAILING_LIMIT

    allowed = int(MAILING_LIMIT.split()[0])
    api = Api(app.test_client(), user["token"])
    statuses = [api.post("/api/v1/channels", json={"kind": "email",
                                                    "address": f"a{n}@example.com"}).status_code
                for n in range(allowed)]
    # The account's own address and 19 more are as many as it may hold: the 20th is 409.
    assert statuses == [201] * (allowed - 1) + [409]
    refused = api.post("/api/v1/channels", json={"kind": "email", "address": "x@example.com"})
    assert refused.status_code == 429
    assert refused.json["error"]["message"] == "Too many mails asked for. Wait an hour and try again."
    app.config["WTF_CSRF_ENABLED"] = False
    page = signed_in(app.test_client(), user).client.post(
        "/reminders", data={"address": "y@example.com"})
    assert page.status_code == 429
    other = make_user(app, "other@example.com")
    assert Api(app.test_client(), other["token"]).post(
        "/api/v1/channels", json={"kind": "email", "address": "z@example.com"}).status_code == 201
