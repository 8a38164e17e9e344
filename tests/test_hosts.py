"""The request's Host: trusted hosts only, never in a link once a base URL is set, never a 500."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from feedsvc import create_app
from feedsvc.baseurl import trusted_hosts
from feedsvc.db import get_engine

from helpers import VALID_ITEM, app_config, make_user, signed_in

AppMaker = Callable[..., Flask]
PERSONAL_PAGES = ("/calendars", "/settings/export")
BAD_HOSTS = ("a b", "evil.example", "evil.example:8000", "localhost.evil.example",
             "127.0.0.1@evil.example", "[::1", "localhost:99999")


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[AppMaker]:
    made: list[Flask] = []

    def make(**settings: Any) -> Flask:
        app = create_app(app_config(tmp_path / f"instance{len(made)}", database_url,
                                    **settings))
        made.append(app)
        return app

    yield make
    for app in made:
        get_engine(app).dispose()


def account(app: Flask, host: str = "localhost") -> dict[str, Any]:
    """An account with one item and one calendar."""
    user = make_user(app)
    headers = {"Authorization": f"Bearer {user['token']}", "Host": host}
    client = app.test_client()
    for path, body in (("/api/v1/items", VALID_ITEM), ("/api/v1/feeds", {"name": "All"})):
        created = client.post(path, json=body, headers=headers)
        assert created.status_code == 201, created.json
    return user


def get_signed_in(app: Flask, user: dict[str, Any], path: str, host: str) -> Any:
    """GET ``path`` as ``user``'s browser would, naming ``host``."""
    client = signed_in(app.test_client(), user).client
    cookie = client.get_cookie("session")
    assert cookie is not None
    return app.test_client(use_cookies=False).get(path, headers={"Host": host,
                                                "Cookie": f"session={cookie.value}"})


def feed_url(app: Flask, user: dict[str, Any], host: str) -> Any:
    return app.test_client().get(
        "/api/v1/feeds", headers={"Authorization": f"Bearer {user['token']}", "Host": host})


@pytest.mark.parametrize(("settings", "expected"), [
    ({}, ["localhost", "127.0.0.1", "[::1]"]),
    ({"FEEDSVC_BASE_URL": "https://feeds.example.org"}, None),
    ({"FEEDSVC_TRUSTED_HOSTS": "feeds.example.org, .example.net"},
     ["feeds.example.org", ".example.net"]),
    ({"FEEDSVC_BASE_URL": "https://a.example", "FEEDSVC_TRUSTED_HOSTS": "a.example"},
     ["a.example"]),
])
def test_which_hosts_are_trusted(settings: dict[str, str], expected: list[str] | None
                                 ) -> None:
    assert trusted_hosts(settings) == expected


@pytest.mark.parametrize("host", BAD_HOSTS)
def test_without_a_base_url_an_untrusted_host_is_400_everywhere(make_app: AppMaker,
                                                                host: str) -> None:
    app = make_app(FEEDSVC_BASE_URL=None)
    user = account(app)
    feed = feed_url(app, user, "localhost").json["feeds"][0]
    path = feed["url"].removeprefix("http://localhost")
    for target in (*PERSONAL_PAGES, "/login", path):
        response = get_signed_in(app, user, target, host)
        assert response.status_code == 400, (target, response.status_code)
        assert "does not answer to the host" in response.get_data(as_text=True)
    api = feed_url(app, user, host)
    assert api.status_code == 400
    assert api.json["error"]["message"] == (
        "This service does not answer to the host the request names.")


def test_without_a_base_url_a_trusted_host_makes_the_links(make_app: AppMaker) -> None:
    app = make_app(FEEDSVC_BASE_URL=None)
    user = account(app)
    feed = feed_url(app, user, "127.0.0.1:8000").json["feeds"][0]
    assert feed["url"].startswith("http://127.0.0.1:8000/feeds/")
    assert feed["webcal_url"].startswith("webcal://127.0.0.1:8000/feeds/")


def test_configured_trusted_hosts_are_answered(make_app: AppMaker) -> None:
    app = make_app(FEEDSVC_BASE_URL=None, FEEDSVC_TRUSTED_HOSTS="feeds.lan,.home.arpa")
    user = account(app, "feeds.lan")
    assert feed_url(app, user, "feeds.lan:8000").status_code == 200
    assert feed_url(app, user, "nas.home.arpa").json["feeds"][0]["url"].startswith(
        "http://nas.home.arpa/feeds/")
    assert feed_url(app, user, "localhost").status_code == 400


@pytest.mark.parametrize("host", [*BAD_HOSTS, "feeds.example.org"])
def test_with_a_base_url_links_ignore_the_host(make_app: AppMaker, host: str) -> None:
    app = make_app(FEEDSVC_BASE_URL="https://feeds.example.org")
    user = account(app)
    api = feed_url(app, user, host)
    assert api.status_code == 200
    feed = api.json["feeds"][0]
    assert feed["url"].startswith("https://feeds.example.org/feeds/")
    calendars = get_signed_in(app, user, "/calendars", host)
    assert calendars.status_code == 200
    assert "evil" not in calendars.get_data(as_text=True)
    assert "https://feeds.example.org/feeds/" in calendars.get_data(as_text=True)
    export = get_signed_in(app, user, "/settings/export", host)
    assert export.status_code == 200
    assert "evil" not in json.dumps(export.json)
    body = app.test_client().get(feed["url"].removeprefix("https://feeds.example.org"),
                                 headers={"Host": host})
    assert body.status_code == 200
    assert b"evil" not in body.data
    assert b"https://feeds.example.org/items/" in body.data.replace(b"\r\n ", b"")
