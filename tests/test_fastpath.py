"""The feed's fast path (``feedsvc.feed.serve.FastPath``), in front of Flask: a live feed gets
the answer the route gives (both call ``serve.answer``), from one statement when its calendar
is built and after building it when not; whatever the fast path cannot answer (no live feed,
another path or method, an error) goes on to the route.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, has_request_context, request_started
from sqlalchemy import delete
from sqlalchemy.exc import OperationalError
from werkzeug.test import Client

from feedsvc import create_app, limits, status
from feedsvc.accounts import hash_token
from feedsvc.actions import RENEW, make_token
from feedsvc.db import get_engine, get_feed_engine, new_session
from feedsvc.feed import serve, source, store
from feedsvc.models import FeedCacheEntry, Item

from helpers import (
    VALID_ITEM,
    Api,
    Browser,
    Page,
    app_config,
    make_user,
    recorded_statements,
    route_only_client,
    signed_in,
)

COMPARED_HEADERS = ("Content-Type", "Content-Length", "Content-Encoding", "ETag",
                    "Last-Modified", "Cache-Control", "Vary", "X-Robots-Tag", "Referrer-Policy",
                    "Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
                    "Cross-Origin-Opener-Policy", "Strict-Transport-Security")


@pytest.fixture
def feed(api: Api) -> dict[str, Any]:
    for n in range(3):
        assert api.post("/api/v1/items", json={**VALID_ITEM, "title": f"Number {n}"}
                        ).status_code == 201
    response = api.post("/api/v1/feeds", json={"name": "Polled"})
    assert response.status_code == 201
    return response.json


@pytest.fixture
def route_only(app: Flask) -> Client:
    """A client of the Flask app behind the fast path: the route answers everything."""
    return route_only_client(app)


class RouteCalls:
    """Counts the requests that reached Flask from now on."""

    def __init__(self, app: Flask) -> None:
        self.count = 0
        request_started.connect(self._started, app)

    def _started(self, sender: Flask, **extra: Any) -> None:
        self.count += 1


def paths(feed: dict[str, Any]) -> dict[str, str]:
    path = urlsplit(feed["url"]).path
    return {"feed": path, "google": path.removesuffix(".ics") + "/google.ics"}


def token_of(feed: dict[str, Any]) -> str:
    return paths(feed)["feed"].split("/")[-1].removesuffix(".ics")


def first_item(api: Api) -> int:
    return int(api.get("/api/v1/items").json["items"][0]["id"])


def edit(api: Api, item: int) -> None:
    assert api.patch(f"/api/v1/items/{item}", json={"notes": "Changed."}).status_code == 200


def headers_of(response: Any) -> dict[str, str | None]:
    """The headers that matter (not Date, which both paths set to the second)."""
    found = {name: response.headers.get(name) for name in COMPARED_HEADERS}
    # Flask-Login reads the session after every view, so Flask adds "Cookie" to Vary; the
    # feed does not depend on cookies, and the fast path leaves it out.
    found["Vary"] = ", ".join(part for part in (found["Vary"] or "").split(", ")
                              if part != "Cookie") or None
    return found


def answer_of(response: Any) -> tuple[int, dict[str, str | None], bytes]:
    return response.status_code, headers_of(response), response.data


def without_last_modified(response: Any) -> tuple[int, dict[str, str | None], bytes]:
    status, headers, body = answer_of(response)
    return status, {name: value for name, value in headers.items() if name != "Last-Modified"}, body


def calendar_text(response: Any) -> bytes:
    """The calendar a 200 carries, decompressed and unfolded."""
    body = response.data
    if response.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    assert body.startswith(b"BEGIN:VCALENDAR"), body[:100]
    return body.replace(b"\r\n ", b"")


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements sent meanwhile, on both of the app's engines."""
    seen: list[str] = []
    with recorded_statements(app, seen.append):
        yield seen


def kept(seen: list[str]) -> int:
    """How many built calendars the statements ``seen`` kept."""
    return sum(1 for sql in seen if sql.lstrip().upper().startswith("INSERT INTO FEED_CACHE"))


def built_afresh(app: Flask, route_only: Client, path: str,
                 headers: dict[str, str] | None = None) -> Any:
    """The route's answer from a build that reuses nothing: every kept entry is dropped first."""
    with get_engine(app).begin() as connection:
        connection.execute(delete(FeedCacheEntry))
    return route_only.get(path, headers=headers)


def probed_state(app: Flask, feed: dict[str, Any]) -> tuple[Any, ...]:
    """What the probe reads of the feed's state: its and its owner's settings, its items."""
    with get_feed_engine(app).connect() as connection:
        probe = store.probe(connection, hash_token(token_of(feed)), "ics", body=False)
    assert probe is not None
    return probe.settings, probe.items


# -- the same answers as the route ---------------------------------------------------------

# Request headers, and the status both paths answer them with.
VARIANTS: dict[str, tuple[dict[str, str], int]] = {
    "plain": ({}, 200),
    "gzip": ({"Accept-Encoding": "gzip, deflate, br"}, 200),
    "gzip refused": ({"Accept-Encoding": "gzip;q=0, identity"}, 200),
    "etag matches": ({"If-None-Match": "{etag}"}, 304),
    "gzip etag matches": ({"Accept-Encoding": "gzip", "If-None-Match": "{gzip_etag}"}, 304),
    # The gzipped representation has an ETag of its own.
    "plain etag for gzip": ({"Accept-Encoding": "gzip", "If-None-Match": "{etag}"}, 200),
    "one of several etags": ({"If-None-Match": '"nope", {etag}'}, 304),
    "star": ({"If-None-Match": "*"}, 304),
    "etag stale": ({"If-None-Match": '"0123456789abcdef0123456789abcdef"'}, 200),
    "modified since later": ({"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}, 304),
    "modified since earlier": ({"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}, 200),
    "modified since garbage": ({"If-Modified-Since": "yesterday"}, 200),
    "if-match": ({"If-Match": "{etag}"}, 200),
    "if-match stale": ({"If-Match": '"0123456789abcdef0123456789abcdef"'}, 412),
    # The feed does not serve ranges, so a Range header gets the whole calendar.
    "range": ({"Range": "bytes=0-99"}, 200),
}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("which", ["feed", "google"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_fast_path_answers_exactly_as_the_route(
        app: Flask, api: Api, feed: dict[str, Any], route_only: Client, variant: str,
        which: str, method: str) -> None:
    path = paths(feed)[which]
    etag = api.client.get(path).headers["ETag"]
    gzip_etag = api.client.get(path, headers={"Accept-Encoding": "gzip"}).headers["ETag"]
    sent, expected = VARIANTS[variant]
    headers = {name: value.format(etag=etag, gzip_etag=gzip_etag) for name, value in sent.items()}
    calls = RouteCalls(app)
    fast = api.client.open(path, method=method, headers=headers)
    assert calls.count == 0, "a live feed's request never reaches Flask"
    slow = route_only.open(path, method=method, headers=headers)
    assert calls.count == 1
    assert (fast.status_code, slow.status_code) == (expected, expected)
    differ = {name: (value, headers_of(slow)[name]) for name, value in headers_of(fast).items()
              if value != headers_of(slow)[name]}
    assert not differ
    assert fast.data == slow.data


@pytest.fixture
def http_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """An app with no public URL configured: feeds link to the origin the request names."""
    application = create_app(app_config(tmp_path / "http", database_url, FEEDSVC_BASE_URL=None))
    yield application
    get_engine(application).dispose()


@pytest.mark.parametrize(("peer", "scheme"), [("127.0.0.1", "https"), ("203.0.113.7", "http")])
def test_https_is_what_a_trusted_proxy_says_on_both_paths(http_app: Flask, peer: str,
                                                          scheme: str) -> None:
    api = Api(http_app.test_client(), make_user(http_app)["token"])
    assert api.post("/api/v1/items", json=VALID_ITEM).status_code == 201
    path = paths(api.post("/api/v1/feeds", json={}).json)["feed"]
    calls = RouteCalls(http_app)
    # Only the configured proxy (127.0.0.1) may say the client spoke https.
    fast = api.client.get(path, headers={"X-Forwarded-Proto": "https"},
                          environ_base={"REMOTE_ADDR": peer})
    assert calls.count == 0 and fast.status_code == 200
    slow = route_only_client(http_app).get(path, base_url=f"{scheme}://localhost")
    assert answer_of(fast) == answer_of(slow)
    assert f"{scheme}://localhost/items/".encode() in calendar_text(fast)
    assert ("Strict-Transport-Security" in fast.headers) == (scheme == "https")


@pytest.mark.parametrize("base_url", [None, "https://feeds.example.org"])
def test_a_host_the_app_does_not_answer_to_is_left_to_the_route(
        database_url: str, tmp_path: Path, base_url: str | None) -> None:
    app = create_app(app_config(tmp_path / "hosts", database_url, FEEDSVC_BASE_URL=base_url,
                                FEEDSVC_TRUSTED_HOSTS="feeds.example.org"))
    try:
        trusted = {"base_url": "https://feeds.example.org"}
        api = Api(app.test_client(), make_user(app)["token"])
        path = paths(api.post("/api/v1/feeds", json={}, **trusted).json)["feed"]
        assert api.client.get(path, **trusted).status_code == 200
        calls = RouteCalls(app)
        refused = api.client.get(path, base_url="https://evil.example")
        assert refused.status_code == 400 and calls.count == 1
        assert b"BEGIN:VCALENDAR" not in refused.data
    finally:
        get_engine(app).dispose()


# -- warm and cold ---------------------------------------------------------------------------

def test_a_warm_hit_is_one_statement_and_never_enters_flask(
        app: Flask, api: Api, feed: dict[str, Any], route_only: Client) -> None:
    path = paths(feed)["feed"]
    built = route_only.get(path)  # built and kept by the route, found by the fast path
    gzip_etag = route_only.get(path, headers={"Accept-Encoding": "gzip"}).headers["ETag"]
    asked: dict[str, tuple[dict[str, str], int]] = {
        "plain": ({}, 200),
        "gzip": ({"Accept-Encoding": "gzip"}, 200),
        "not modified": ({"If-None-Match": built.headers["ETag"]}, 304),
        "gzip not modified": ({"Accept-Encoding": "gzip", "If-None-Match": gzip_etag}, 304),
    }
    calls = RouteCalls(app)
    for name, (headers, expected) in asked.items():
        for method in ("GET", "HEAD"):
            with statements(app) as seen:
                warm = api.client.open(path, method=method, headers=headers)
            assert warm.status_code == expected, (name, method)
            assert len(seen) == 1, (name, method, seen)
            if (expected, method) == (200, "GET"):
                assert calendar_text(warm) == calendar_text(built), name
    assert calls.count == 0


@pytest.mark.parametrize("which", ["feed", "google"])
@pytest.mark.parametrize("variant", ["plain", "gzip", "etag stale", "modified since earlier"])
def test_a_cold_request_is_built_without_entering_flask_and_kept(
        app: Flask, api: Api, feed: dict[str, Any], route_only: Client, variant: str,
        which: str) -> None:
    path = paths(feed)[which]
    assert b"Changed." not in calendar_text(api.client.get(path))
    edit(api, first_item(api))
    headers, expected = VARIANTS[variant]
    calls = RouteCalls(app)
    with statements(app) as seen:
        cold = api.client.get(path, headers=headers)
    assert calls.count == 0 and cold.status_code == expected
    assert b"Changed." in calendar_text(cold)
    assert kept(seen) == 1, "the fast path kept what it built"
    with statements(app) as seen:
        warm = api.client.get(path, headers=headers)
    assert len(seen) == 1 and calls.count == 0, "the next request found it built"
    assert answer_of(warm) == answer_of(cold)
    with statements(app) as seen:
        slow = route_only.get(path, headers=headers)
    assert answer_of(slow) == answer_of(cold) and kept(seen) == 0, \
        "the route found the fast path's build current"
    # Last-Modified aside: a change within the second of the build before moves it on by one.
    assert without_last_modified(built_afresh(app, route_only, path, headers)) == \
        without_last_modified(cold)


def items_read(sql: str) -> int:
    """How many item ids a statement's ``items.id IN (...)`` binds."""
    match = re.search(r"items\.id IN \(((?:[^()]|\([^()]*\))*)\)", sql)
    assert match is not None, sql
    return match[1].count(",") + 1


# What the worker has when a feed changed, and how often the cold request reads the kept
# entry: the copy it served, or the probe's bytes, give the events to reuse; a conditional
# request without a copy probes without the bytes, and the build reads them.
WORKERS = {"a copy": (False, False, 1), "no copy": (True, False, 1),
           "no copy, conditional": (True, True, 2)}


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
@pytest.mark.parametrize("worker", WORKERS)
def test_a_cold_request_serialises_only_the_changed_item_and_copies_the_others(
        app: Flask, api: Api, feed: dict[str, Any], route_only: Client, encoding: str,
        worker: str) -> None:
    forget, conditional, reads = WORKERS[worker]
    path = paths(feed)["feed"]
    etag = api.client.get(path, headers={"Accept-Encoding": encoding}).headers["ETag"]
    edit(api, first_item(api))
    if forget:
        app.extensions[serve.COPIES_KEY].clear()
    headers = {"Accept-Encoding": encoding, **({"If-None-Match": etag} if conditional else {})}
    with statements(app) as seen:
        cold = api.client.get(path, headers=headers)
    assert cold.status_code == 200
    cache_reads = [sql for sql in seen if re.search(r"\b(FROM|JOIN) feed_cache\b", sql)]
    assert len(cache_reads) == reads, cache_reads
    full_reads = [sql for sql in seen if "items.notes" in sql]
    assert len(full_reads) == 1 and items_read(full_reads[0]) == 1, full_reads
    afresh = built_afresh(app, route_only, path, {"Accept-Encoding": encoding})
    assert (cold.data, cold.headers["ETag"]) == (afresh.data, afresh.headers["ETag"])


# Each write through the API, and the status it answers.
WRITES: dict[str, tuple[int, Callable[[Api, int], Any]]] = {
    "edit": (200, lambda api, item: api.patch(f"/api/v1/items/{item}",
                                              json={"notes": "Changed."})),
    "renew": (201, lambda api, item: api.post(f"/api/v1/items/{item}/renewals", json={})),
    "undo": (200, lambda api, item: api.delete(f"/api/v1/items/{item}/renewals/latest")),
    "delete": (204, lambda api, item: api.delete(f"/api/v1/items/{item}")),
}


def test_every_write_is_served_by_the_next_request(
        app: Flask, api: Api, feed: dict[str, Any], route_only: Client) -> None:
    path = paths(feed)["feed"]
    item = first_item(api)
    bodies = [api.client.get(path).data]
    calls = RouteCalls(app)
    for name, (expected, write) in WRITES.items():
        assert write(api, item).status_code == expected, name
        fresh = api.client.get(path)
        assert fresh.status_code == 200 and fresh.data not in bodies, name
        assert api.client.get(path).data == fresh.data, name
        bodies.append(fresh.data)
        assert built_afresh(app, route_only, path).data == fresh.data, name
    assert calls.count == len(WRITES) * 2, "only the writes and the fresh builds reached Flask"


# -- every renewal path changes what the probe reads -------------------------------------------

def _renew_link(app: Flask, item: int) -> str:
    """The path of the item's "I renewed it" link."""
    with new_session(app) as session:
        due = session.get_one(Item, item).due_date
    return "/act/" + make_token(app.config["SECRET_KEY"], RENEW, item, due, None, None)


def _api_renew(app: Flask, api: Api, browser: Browser, item: int) -> Callable[[], int]:
    return lambda: api.post(f"/api/v1/items/{item}/renewals", json={}).status_code


def _api_undo(app: Flask, api: Api, browser: Browser, item: int) -> Callable[[], int]:
    assert _api_renew(app, api, browser, item)() == 201
    return lambda: api.delete(f"/api/v1/items/{item}/renewals/latest").status_code


def _page_renew(app: Flask, api: Api, browser: Browser, item: int) -> Callable[[], int]:
    return lambda: browser.submit(f"/items/{item}/renew").status


def _page_undo(app: Flask, api: Api, browser: Browser, item: int) -> Callable[[], int]:
    assert _page_renew(app, api, browser, item)() == 302
    return lambda: browser.submit(f"/items/{item}/renewals/undo").status


def _link_renew(app: Flask, api: Api, browser: Browser, item: int) -> Callable[[], int]:
    path = _renew_link(app, item)
    visitor = Browser(app.test_client())
    return lambda: visitor.submit(path, action=path).status


def _link_undo(app: Flask, api: Api, browser: Browser, item: int) -> Callable[[], int]:
    path = _renew_link(app, item)
    visitor = Browser(app.test_client())
    result = visitor.submit(path, action=path)
    assert result.status == 200, result.text
    undo = result.values(path + "/undo")
    return lambda: Page(visitor.client.post(path + "/undo", data=undo)).status


# Every way a renewal is recorded or undone: its setting up (an undo needs a renewal) gives
# the write, which answers the status given.
RENEWAL_PATHS: dict[str, tuple[int, Callable[[Flask, Api, Browser, int], Callable[[], int]]]] = {
    "api renew": (201, _api_renew),
    "api undo": (200, _api_undo),
    "page renew": (302, _page_renew),
    "page undo": (302, _page_undo),
    "link renew": (200, _link_renew),
    "link undo": (200, _link_undo),
}


@pytest.mark.parametrize("way", list(RENEWAL_PATHS))
def test_every_renewal_path_changes_the_probed_state(
        app: Flask, api: Api, user: dict[str, Any], feed: dict[str, Any], route_only: Client,
        way: str) -> None:
    # The key leaves renewals out because each renewal write also updates its item.
    path = paths(feed)["feed"]
    expected, prepare = RENEWAL_PATHS[way]
    write = prepare(app, api, signed_in(app.test_client(), user), first_item(api))
    before = api.client.get(path)
    state = probed_state(app, feed)
    assert write() == expected
    assert probed_state(app, feed) != state
    fresh = api.client.get(path)
    assert fresh.status_code == 200 and fresh.data != before.data
    assert built_afresh(app, route_only, path).data == fresh.data


# -- builds ----------------------------------------------------------------------------------

def test_a_new_day_is_built_again_not_served_from_yesterdays_entry(
        monkeypatch: pytest.MonkeyPatch, app: Flask, api: Api, feed: dict[str, Any],
        route_only: Client) -> None:
    now = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    monkeypatch.setattr(status, "utc_now", lambda: now)
    # Renewals after the day twelve months back are shown (the latest always): today this
    # one is, from tomorrow on it is not.
    item = first_item(api)
    edge = api.post(f"/api/v1/items/{item}/renewals", json={"renewed_on": "2025-11-24"})
    assert api.post(f"/api/v1/items/{item}/renewals", json={"renewed_on": "2026-11-01"}
                    ).status_code == edge.status_code == 201
    uid = f"UID:renewal-{edge.json['renewal']['id']}@".encode()
    path = paths(feed)["feed"]
    today = api.client.get(path)
    assert uid in calendar_text(today)
    with statements(app) as seen:
        assert api.client.get(path).data == today.data
    assert len(seen) == 1

    monkeypatch.setattr(status, "utc_now", lambda: now + dt.timedelta(days=1))
    calls = RouteCalls(app)
    with statements(app) as seen:
        tomorrow = api.client.get(path)
    assert calls.count == 0 and kept(seen) == 1, "built again on the fast path, and kept"
    assert uid not in calendar_text(tomorrow)
    with statements(app) as seen:
        assert api.client.get(path).data == tomorrow.data
    assert len(seen) == 1
    assert built_afresh(app, route_only, path).data == tomorrow.data


def test_a_build_that_waits_for_another_writer_still_stores_its_entry(
        app: Flask, api: Api, feed: dict[str, Any]) -> None:
    # The fast path builds outside any transaction: its one write waits for the lock like
    # any other writer's (on PostgreSQL a row lock on the entry) instead of failing.
    path = paths(feed)["feed"]
    api.client.get(path)
    edit(api, first_item(api))
    engine = get_engine(app)
    holder = engine.raw_connection()
    cursor = holder.cursor()
    if engine.dialect.name == "sqlite":
        cursor.execute("BEGIN IMMEDIATE")
    else:
        cursor.execute("SELECT 1 FROM feed_cache FOR UPDATE")
    release = threading.Timer(0.5, holder.commit)
    calls = RouteCalls(app)
    release.start()
    try:
        started = time.monotonic()
        with statements(app) as seen:
            built = api.client.get(path)
        waited = time.monotonic() - started
    finally:
        release.join()
        holder.close()
    assert built.status_code == 200 and b"Changed." in calendar_text(built)
    assert waited >= 0.4, "the write waited for the other writer"
    assert kept(seen) == 1 and calls.count == 0
    with statements(app) as seen:
        assert api.client.get(path).data == built.data
    assert len(seen) == 1, "the entry was stored"


@pytest.mark.parametrize("lasting", [False, True], ids=["transient", "lasting"])
def test_a_build_that_fails_on_the_fast_path_is_left_to_the_route(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, app: Flask,
        api: Api, feed: dict[str, Any], route_only: Client, lasting: bool) -> None:
    path = paths(feed)["feed"]
    api.client.get(path)
    edit(api, first_item(api))
    attempts: list[bool] = []
    read_source = source.read_source

    def broken(*args: Any, **kwargs: Any) -> Any:
        attempts.append(has_request_context())
        if lasting or len(attempts) == 1:
            raise RuntimeError("the build broke")
        return read_source(*args, **kwargs)

    monkeypatch.setattr(source, "read_source", broken)
    calls = RouteCalls(app)
    with caplog.at_level(logging.WARNING, logger="feedsvc"):
        response = api.client.get(path)
    assert attempts == [False, True], "the fast path built first, then the route"
    assert calls.count == 1
    assert "feed fast path failed; the route answers instead" in caplog.text
    if lasting:
        assert response.status_code == 503
        assert b"BEGIN:VCALENDAR" not in response.data and "ETag" not in response.headers
        return
    assert response.status_code == 200 and b"Changed." in calendar_text(response)
    with statements(app) as seen:
        assert api.client.get(path).data == response.data
    assert len(seen) == 1 and calls.count == 1, "the route kept its build"
    assert built_afresh(app, route_only, path).data == response.data


# -- what the fast path leaves to the route ------------------------------------------------------

@pytest.fixture
def answered_in_flask(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each ``serve.answer`` call came from inside Flask (the route) or not."""
    seen: list[bool] = []
    answer = serve.answer

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(has_request_context())
        return answer(*args, **kwargs)

    monkeypatch.setattr(serve, "answer", spy)
    return seen


@pytest.mark.parametrize("path", [
    "/feeds/short.ics", "/feeds/" + "a" * 65 + ".ics", "/feeds/" + "a" * 42 + "!.ics",
    "/feeds/" + "a" * 44 + ".ics", "/feeds/" + "a" * 43 + ".ICS",
    "/feeds/" + "a" * 43 + "/google.ics/x", "/feeds/" + "a" * 43 + "/apple.ics",
    "/feeds/" + "a" * 43, "/feeds/../" + "a" * 43 + ".ics",
])
def test_other_paths_go_to_flask(app: Flask, answered_in_flask: list[bool], path: str) -> None:
    calls = RouteCalls(app)
    assert app.test_client().get(path).status_code == 404
    assert calls.count == 1
    assert False not in answered_in_flask, "the fast path tried to answer it"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("which", ["feed", "google"])
def test_other_methods_go_to_flask(app: Flask, api: Api, feed: dict[str, Any],
                                   answered_in_flask: list[bool], method: str,
                                   which: str) -> None:
    path = paths(feed)[which]
    assert api.client.get(path).status_code == 200
    calls = RouteCalls(app)
    response = api.client.open(path, method=method)
    assert response.status_code == (200 if method == "OPTIONS" else 405)
    assert b"BEGIN:VCALENDAR" not in response.data
    assert calls.count == 1 and answered_in_flask == [False]


def test_unknown_rotated_and_deleted_tokens_are_answered_by_the_route_and_throttled(
        app: Flask, api: Api, feed: dict[str, Any]) -> None:
    spare = api.post("/api/v1/feeds", json={"name": "Spare"}).json
    rotated, deleted = paths(feed)["feed"], paths(spare)["feed"]
    assert api.client.get(rotated).status_code == api.client.get(deleted).status_code == 200
    assert api.post(f"/api/v1/feeds/{feed['id']}/rotate").status_code == 200
    assert api.delete(f"/api/v1/feeds/{spare['id']}").status_code == 204
    limit = int(limits.FEED_LIMIT.split()[0])
    calls = RouteCalls(app)
    for path, expected in [("/feeds/" + "A" * 43 + ".ics", 404), (rotated, 410), (deleted, 410)]:
        answers = [api.client.get(path).status_code for _ in range(limit + 1)]
        assert answers == [expected] * limit + [429], path
    # The throttle counts per token, both variants together.
    assert api.client.get(deleted.removesuffix(".ics") + "/google.ics").status_code == 429
    assert calls.count == 3 * (limit + 1) + 1


def test_a_failing_fast_path_falls_back_to_the_route(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, app: Flask,
        api: Api, feed: dict[str, Any]) -> None:
    path = paths(feed)["feed"]
    expected = api.client.get(path)
    probe = store.probe
    failures: list[bool] = []

    def lost_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(has_request_context())
            raise OperationalError("SELECT", {}, Exception("server closed the connection"))
        return probe(*args, **kwargs)

    monkeypatch.setattr(store, "probe", lost_once)
    calls = RouteCalls(app)
    with caplog.at_level(logging.WARNING, logger="feedsvc"):
        answer = api.client.get(path)
    assert failures == [False] and calls.count == 1
    assert answer_of(answer) == answer_of(expected)
    assert "feed fast path failed" in caplog.text
    token = token_of(feed)
    assert token not in caplog.text and hash_token(token) not in caplog.text


def test_a_worker_serves_its_copy_without_reading_the_bytes_again(
        app: Flask, api: Api, feed: dict[str, Any]) -> None:
    path = paths(feed)["feed"]
    first = api.client.get(path)
    with statements(app) as seen:
        again = api.client.get(path)
    assert again.data == first.data and len(seen) == 1
    assert "body_gzip" not in seen[0], "the copy's ETag is current: the bytes are not read"
    edit(api, first_item(api))
    changed = api.client.get(path)
    assert changed.data != first.data, "a copy is never served once its ETag is stale"


def test_copies_keep_the_most_recently_served_urls() -> None:
    copies = store.Copies(2)
    entries = [store.Entry(f"key{n}", f"etag{n}", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), b"x")
               for n in range(3)]
    copies.put(("a", "ics"), entries[0])
    copies.put(("b", "ics"), entries[1])
    copies.put(("a", "ics"), entries[0])  # served again: now the most recent
    copies.put(("c", "ics"), entries[2])
    assert copies.get(("b", "ics")) is None
    assert copies.get(("a", "ics")) is entries[0] and copies.get(("c", "ics")) is entries[2]
