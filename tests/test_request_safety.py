"""Odd requests get a clear 4xx, never a 500: redirect targets, ids, bodies without a length;
and personal answers are never stored by caches."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from feedsvc import create_app
from feedsvc.db import get_engine

from helpers import VALID_ITEM, Api, app_config, make_user, signed_in

BAD_TARGETS = [
    "/x\r\nX-Evil: 1", "/x\nSet-Cookie: a=b", "/x\r", "/\x00", "/x\x7f", "/x\u2028y",
    "//evil.example", "/\\evil.example", "https://evil.example/", "javascript:alert(1)",
    "evil.example",
]


@pytest.mark.parametrize("target", BAD_TARGETS)
def test_a_bad_next_after_log_in_goes_home(app: Flask, user: dict[str, Any], target: str
                                           ) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    response = app.test_client().post("/login", query_string={"next": target}, data={
        "email": user["email"], "password": user["password"]})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", BAD_TARGETS)
def test_a_bad_next_after_the_language_switch_goes_home(app: Flask, target: str) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    response = app.test_client().post("/lang/zh-Hans", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/items?category=sim", "/calendars", "/items/3#x",
                                    "/items/%C3%A9"])
def test_a_good_next_is_followed(app: Flask, target: str) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    response = app.test_client().post("/lang/en", query_string={"next": target})
    assert response.headers["Location"] == target


def id_routes(app: Flask) -> list[tuple[str, str]]:
    """Every (method, rule) whose path holds an id."""
    return sorted((method, rule.rule) for rule in app.url_map.iter_rules()
                  if "<int:" in rule.rule
                  for method in rule.methods or () if method not in ("HEAD", "OPTIONS"))


@pytest.mark.parametrize("number", [2**63, 2**64, 10**40, 10**18, 0])
def test_an_id_out_of_range_is_404_on_every_route(database_url: str, tmp_path: Path,
                                                  number: int) -> None:
    app = create_app(app_config(tmp_path, database_url, WTF_CSRF_ENABLED=False))
    try:
        user = make_user(app)
        api = Api(app.test_client(), user["token"])
        browser = signed_in(app.test_client(), user)
        routes = id_routes(app)
        assert len(routes) >= 20
        for method, rule in routes:
            path = re.sub(r"<int:\w+>", str(number), rule)
            client = api if rule.startswith("/api/") else browser.client
            if client is api:
                response = api.client.open(path, method=method, headers=api.headers, json={})
            else:
                response = browser.client.open(path, method=method, data={})
            assert response.status_code == 404, (method, path, response.status_code)
    finally:
        get_engine(app).dispose()


def test_the_largest_id_is_still_just_unknown(api: Api) -> None:
    assert api.get(f"/api/v1/items/{10**18 - 1}").status_code == 404


def chunked(client: Any, path: str, body: bytes, **kwargs: Any) -> Any:
    """POST ``body`` as a server passes on a chunked request: no length, a terminated input."""
    return client.post(path, input_stream=io.BytesIO(body), headers={
        "Transfer-Encoding": "chunked", **kwargs.pop("headers", {})},
        environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""}, **kwargs)


def test_a_chunked_body_over_the_limit_is_413(app: Flask, api: Api) -> None:
    limit = app.config["MAX_CONTENT_LENGTH"]
    big = b'{"title": "' + b"x" * limit + b'"}'
    response = chunked(api.client, "/api/v1/items", big, content_type="application/json",
                       headers=api.headers)
    assert response.status_code == 413
    assert response.json["error"]["status"] == 413
    form = chunked(app.test_client(), "/login", b"email=" + b"a" * limit,
                   content_type="application/x-www-form-urlencoded")
    assert form.status_code == 413
    assert api.get("/api/v1/items").json["items"] == []


def test_a_chunked_body_within_the_limit_is_read_whole(api: Api) -> None:
    # Past Werkzeug's 64 KiB read size, and ending with what makes it a valid document.
    body = ('{"title": "MTS Russia", "due_date": "2027-03-31",' + " " * 200_000
            + '"notes": "' + "n" * 5000 + '"}').encode()
    response = chunked(api.client, "/api/v1/items", body, content_type="application/json",
                       headers=api.headers)
    assert response.status_code == 201, response.json
    assert response.json["notes"] == "n" * 5000


@pytest.mark.parametrize("path", ["/", "/calendars", "/settings", "/settings/tokens",
                                  "/items/new", "/login", "/signup", "/no/such/page"])
def test_pages_are_never_stored(client: Any, user: dict[str, Any], path: str) -> None:
    response = signed_in(client, user).client.get(path)
    assert response.headers["Cache-Control"] == "no-store", path


def test_api_answers_are_never_stored(api: Api, item: dict[str, Any]) -> None:
    for path in ("/api/v1/items", f"/api/v1/items/{item['id']}", "/api/v1/me",
                 "/api/v1/feeds", "/api/v1/items/999999"):
        assert api.get(path).headers["Cache-Control"] == "no-store", path


def test_feeds_and_static_files_keep_their_own_caching(api: Api, item: dict[str, Any],
                                                       client: Any) -> None:
    feed = api.post("/api/v1/feeds", json={"name": "All"}).json
    path = feed["url"].removeprefix("https://feeds.example.org")
    for _ in range(2):  # built by the route, then answered by the fast path
        response = client.get(path)
        assert response.headers["Cache-Control"] == "private, max-age=0, must-revalidate"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    static = client.get("/static/style.css")
    assert "no-store" not in static.headers["Cache-Control"]


@pytest.fixture
def http_app(database_url: str, tmp_path: Path) -> Any:
    app = create_app(app_config(tmp_path, database_url, FEEDSVC_BASE_URL=None))
    yield app
    get_engine(app).dispose()


def test_hsts_follows_the_request_scheme(http_app: Flask) -> None:
    client = http_app.test_client()
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    api = Api(client, make_user(http_app)["token"])
    assert api.post("/api/v1/items", json=VALID_ITEM).status_code == 201
    url = api.post("/api/v1/feeds", json={"name": "All"}).json["url"]
    path = url.removeprefix("http://localhost")
    # Built by the route, then from the cache by the fast path: both say it.
    for _ in range(2):
        assert "Strict-Transport-Security" not in client.get(path).headers
        feed = client.get(path, base_url="https://localhost")
        assert feed.status_code == 200
        assert feed.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_pages_let_same_origin_posts_carry_a_referer(client: Any) -> None:
    assert client.get("/login").headers["Referrer-Policy"] == "same-origin"

