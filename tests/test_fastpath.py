"""The feed's warm path: the same answers as the route, from one query, or none at all."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask, request_started
from werkzeug.test import Client

from feedsvc import driver, fastpath, feedcache, status
from feedsvc.accounts import hash_token
from feedsvc.db import get_engine
from feedsvc.web import feed as feed_views

from helpers import VALID_ITEM, Api, recorded_statements, route_only_client

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
    """A client of the Flask app behind the warm path: the route answers everything."""
    return route_only_client(app)


class RouteCalls:
    """Counts the requests that reached Flask."""

    def __init__(self, app: Flask) -> None:
        self.count = 0
        request_started.connect(self._started, app)

    def _started(self, sender: Flask, **extra: Any) -> None:
        self.count += 1


def paths(feed: dict[str, Any]) -> dict[str, str]:
    path = urlsplit(feed["url"]).path
    return {"feed": path, "google": path.removesuffix(".ics") + "/google.ics"}


def headers_of(response: Any) -> dict[str, str | None]:
    found = {name: response.headers.get(name) for name in COMPARED_HEADERS}
    # Flask-Login reads the session after every view, so Flask adds "Cookie" to Vary; the
    # feed does not depend on cookies, and the warm path leaves it out.
    found["Vary"] = ", ".join(part for part in (found["Vary"] or "").split(", ")
                              if part != "Cookie") or None
    return found


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
    # The feed does not serve ranges, so a Range header gets the whole calendar.
    "range": ({"Range": "bytes=0-99"}, 200),
}
# What the warm path must answer itself; the others it leaves to the route.
ANSWERED = {"plain", "gzip", "gzip refused", "etag matches", "gzip etag matches",
            "one of several etags", "star", "modified since later"}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("which", ["feed", "google"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_warm_path_answers_exactly_as_the_route(
        app: Flask, api: Api, feed: dict[str, Any], route_only: Client, variant: str,
        which: str, method: str) -> None:
    path = paths(feed)[which]
    etag = api.client.get(path).headers["ETag"]
    gzip_etag = api.client.get(path, headers={"Accept-Encoding": "gzip"}).headers["ETag"]
    sent, expected = VARIANTS[variant]
    headers = {name: value.format(etag=etag, gzip_etag=gzip_etag) for name, value in sent.items()}
    calls = RouteCalls(app)
    fast = api.client.open(path, method=method, headers=headers)
    assert calls.count == (0 if variant in ANSWERED else 1)
    slow = route_only.open(path, method=method, headers=headers)
    assert (fast.status_code, slow.status_code) == (expected, expected)
    differ = {name: (value, headers_of(slow)[name]) for name, value in headers_of(fast).items()
              if value != headers_of(slow)[name]}
    assert not differ
    assert fast.data == slow.data


def test_a_warm_hit_is_one_query_and_never_reaches_flask(
        app: Flask, api: Api, feed: dict[str, Any]) -> None:
    path = paths(feed)["feed"]
    etag = api.client.get(path).headers["ETag"]  # built by the route
    seen: list[str] = []
    calls = RouteCalls(app)
    driver.statement_listeners.append(seen.append)
    try:
        warm = api.client.get(path)
        not_modified = api.client.get(path, headers={"If-None-Match": etag})
    finally:
        driver.statement_listeners.remove(seen.append)
    assert (warm.status_code, not_modified.status_code) == (200, 304)
    assert len(seen) == 2 and calls.count == 0
    assert "feed_cache.body" not in seen[0] and "feed_cache.body" not in seen[1], \
        "the route left the body in the memo: neither request reads it"


def test_a_worker_that_never_served_the_feed_reads_the_body_in_the_same_query(
        app: Flask, api: Api, feed: dict[str, Any]) -> None:
    path = paths(feed)["feed"]
    built = api.client.get(path)
    feedcache.memo(app).bodies.clear()  # as in another worker
    seen: list[str] = []
    driver.statement_listeners.append(seen.append)
    try:
        first = api.client.get(path)
        second = api.client.get(path)
    finally:
        driver.statement_listeners.remove(seen.append)
    assert first.data == second.data == built.data
    assert len(seen) == 2 and "feed_cache.body" in seen[0] and "feed_cache.body" not in seen[1]


def test_the_memo_keeps_where_the_events_sit_when_the_same_body_comes_again() -> None:
    memo = feedcache.BodyMemo(limit=100)
    memo.put(("a", "ics", False), "1", b"x" * 40, (("d", 0, 40),))
    memo.put(("a", "ics", False), "1", b"x" * 40)  # served again, by the warm path
    assert memo.get(("a", "ics", False)) == ("1", b"x" * 40, (("d", 0, 40),))
    memo.put(("a", "ics", False), "2", b"y" * 40)  # another body: its parts are unknown
    assert memo.get(("a", "ics", False)) == ("2", b"y" * 40, ())


def cold_statements(app: Flask, api: Api, path: str, item: int,
                    headers: dict[str, str] | None = None) -> tuple[Any, list[str]]:
    """The statements of the feed request right after an edit, warm path and route together."""
    assert api.patch(f"/api/v1/items/{item}", json={"notes": "Changed."}).status_code == 200
    seen: list[str] = []
    with recorded_statements(app, seen.append):
        response = api.client.get(path, headers=headers)
    assert response.status_code == 200
    return response, seen


def cache_reads(seen: list[str]) -> list[str]:
    return [sql for sql in seen if "FROM feed_cache" in sql or "JOIN feed_cache" in sql]


def test_a_cold_request_builds_on_its_one_probe(
        app: Flask, api: Api, feed: dict[str, Any], route_only: Client) -> None:
    path = paths(feed)["feed"]
    item = api.get("/api/v1/items").json["items"][0]["id"]
    api.client.get(path)
    response, seen = cold_statements(app, api, path, item)
    probes = [sql for sql in seen if "feed_cache.etag" in sql]
    assert len(probes) == 1, "one probe: the warm path's"
    assert "feed_cache.body" not in probes[0], \
        "this worker served the previous entry: the probe reads no body"
    assert cache_reads(seen) == probes, \
        "this worker built the previous entry: its events come from the memo"
    assert response.data == route_only.get(path).data


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_worker_that_did_not_build_the_previous_entry_takes_its_events_from_the_probe(
        app: Flask, api: Api, feed: dict[str, Any], route_only: Client, encoding: str) -> None:
    path = paths(feed)["feed"]
    items = api.get("/api/v1/items").json["items"]
    api.client.get(path)
    feedcache.memo(app).bodies.clear()  # as in another worker
    headers = {"Accept-Encoding": encoding}
    response, seen = cold_statements(app, api, path, items[0]["id"], headers)
    reads = cache_reads(seen)
    assert len(reads) == 1 and "feed_cache.parts" in reads[0] and "feed_cache.etag" in reads[0], \
        "the probe read the stale body with its parts, and nothing read it again"
    # The other items' events were copied, not serialised again.
    items_read = [sql for sql in seen if "FROM items" in sql and "items.notes" in sql]
    assert len(items_read) == 1 and " IN " in items_read[0], items_read
    feedcache.memo(app).bodies.clear()
    expected = route_only.get(path, headers=headers)
    assert response.data == expected.data and response.headers["ETag"] == expected.headers["ETag"]


# Each write through the API, and the status it answers.
WRITES: dict[str, tuple[int, Callable[[Api, int], Any]]] = {
    "edit": (200, lambda api, item: api.patch(f"/api/v1/items/{item}",
                                              json={"notes": "Changed."})),
    "renew": (201, lambda api, item: api.post(f"/api/v1/items/{item}/renewals", json={})),
    "undo": (200, lambda api, item: api.delete(f"/api/v1/items/{item}/renewals/latest")),
    "delete": (204, lambda api, item: api.delete(f"/api/v1/items/{item}")),
}


def test_the_memo_never_serves_a_body_after_a_write(app: Flask, api: Api,
                                                     feed: dict[str, Any]) -> None:
    path = paths(feed)["feed"]
    item = api.get("/api/v1/items").json["items"][0]["id"]
    bodies = [api.client.get(path).data]
    for name, (expected, write) in WRITES.items():
        assert write(api, item).status_code == expected, name
        warm = api.client.get(path)  # the memo holds the previous body
        assert warm.data not in bodies, name
        assert api.client.get(path).data == warm.data
        bodies.append(warm.data)


@pytest.mark.parametrize("write", list(WRITES)[:3])
def test_every_renewal_path_changes_the_probed_state(app: Flask, api: Api, feed: dict[str, Any],
                                                     write: str) -> None:
    # The key leaves renewals out because each renewal write also updates its item.
    token = urlsplit(feed["url"]).path.split("/")[-1].removesuffix(".ics")
    item = api.get("/api/v1/items").json["items"][0]["id"]
    if write == "undo":
        assert WRITES["renew"][1](api, item).status_code == 201

    def state() -> tuple[Any, ...]:
        with get_engine(app).connect() as connection:
            probe = feedcache.DatabaseStore().probe(connection, token, "ics", None)
        assert probe is not None
        return probe.state

    before = state()
    expected, send = WRITES[write]
    assert send(api, item).status_code == expected
    assert state() != before


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The variants built, by the warm path or the route."""
    built: list[str] = []
    original = feed_views.build

    def build(*args: Any, **kwargs: Any) -> feedcache.Entry:
        built.append(args[6])
        return original(*args, **kwargs)

    monkeypatch.setattr(feed_views, "build", build)
    return built


def test_a_new_day_is_built_again_not_served_from_yesterdays_entry(
        monkeypatch: pytest.MonkeyPatch, app: Flask, api: Api, feed: dict[str, Any],
        route_only: Client, builds: list[str]) -> None:
    path = paths(feed)["feed"]
    now = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    monkeypatch.setattr(status, "utc_now", lambda: now)
    api.client.get(path)
    calls = RouteCalls(app)
    api.client.get(path)
    assert builds == ["ics"]
    # The recent-renewals window moves with the date: the key changes, the feed is rebuilt.
    monkeypatch.setattr(status, "utc_now", lambda: now + dt.timedelta(days=1))
    fast = api.client.get(path)
    assert builds == ["ics", "ics"] and calls.count == 0
    assert fast.data == route_only.get(path).data and len(builds) == 2


@pytest.mark.parametrize("which", ["feed", "google"])
@pytest.mark.parametrize("variant", ["plain", "gzip", "etag stale", "modified since earlier"])
def test_a_feed_changed_by_an_edit_is_built_without_entering_flask(
        app: Flask, api: Api, feed: dict[str, Any], route_only: Client, builds: list[str],
        variant: str, which: str) -> None:
    path = paths(feed)[which]
    api.client.get(path)
    item = api.get("/api/v1/items").json["items"][0]["id"]
    assert api.patch(f"/api/v1/items/{item}", json={"notes": "Changed."}).status_code == 200
    calls = RouteCalls(app)
    headers, expected = VARIANTS[variant]
    fast = api.client.get(path, headers=headers)
    assert calls.count == 0 and len(builds) == 2
    slow = route_only.get(path, headers=headers)
    assert (fast.status_code, fast.data, headers_of(fast)) == \
        (expected, slow.data, headers_of(slow))
    assert slow.status_code == expected
    assert len(builds) == 2, "the route found the warm path's build current"


def test_a_build_waits_for_another_writer_and_stores_its_entry(
        app: Flask, api: Api, feed: dict[str, Any], builds: list[str]) -> None:
    # The warm path builds outside any transaction: its one write waits for the lock like
    # any other writer's (on PostgreSQL a row lock on the entry) instead of failing.
    path = paths(feed)["feed"]
    api.client.get(path)
    item = api.get("/api/v1/items").json["items"][0]["id"]
    assert api.patch(f"/api/v1/items/{item}", json={"notes": "Changed."}).status_code == 200
    engine = get_engine(app)
    holder = engine.raw_connection()
    cursor = holder.cursor()
    if engine.dialect.name == "sqlite":
        cursor.execute("BEGIN IMMEDIATE")
    else:
        cursor.execute("SELECT 1 FROM feed_cache FOR UPDATE")
    release = threading.Timer(0.5, holder.commit)
    release.start()
    try:
        started = time.monotonic()
        built = api.client.get(path)
        waited = time.monotonic() - started
    finally:
        release.join()
        holder.close()
    assert built.status_code == 200 and builds == ["ics", "ics"]
    assert waited >= 0.4, "the write waited for the other writer"
    assert api.client.get(path).data == built.data and builds == ["ics", "ics"], \
        "the entry was stored"


def test_a_build_that_fails_on_the_warm_path_is_left_to_the_route(
        monkeypatch: pytest.MonkeyPatch, app: Flask, api: Api, feed: dict[str, Any],
        route_only: Client, caplog: pytest.LogCaptureFixture) -> None:
    path = paths(feed)["feed"]
    api.client.get(path)
    item = api.get("/api/v1/items").json["items"][0]["id"]
    assert api.patch(f"/api/v1/items/{item}", json={"notes": "Changed."}).status_code == 200

    def broken(*args: Any) -> None:
        raise RuntimeError("the build broke")

    monkeypatch.setattr(fastpath.FeedFastPath, "_build", broken)
    calls = RouteCalls(app)
    with caplog.at_level(logging.WARNING, logger="feedsvc.fastpath"):
        response = api.client.get(path)
    assert response.status_code == 200 and calls.count == 1
    assert "the route answers instead" in caplog.text
    assert response.data == route_only.get(path).data


@pytest.mark.parametrize("path", [
    "/feeds/short.ics", "/feeds/" + "a" * 65 + ".ics", "/feeds/" + "a" * 42 + "!.ics",
    "/feeds/" + "a" * 43 + ".ICS", "/feeds/" + "a" * 43 + "/google.ics/x",
    "/feeds/" + "a" * 43 + "/apple.ics", "/feeds/" + "a" * 43, "/feeds/../" + "a" * 43 + ".ics",
])
def test_other_paths_go_to_flask(app: Flask, path: str) -> None:
    calls = RouteCalls(app)
    assert app.test_client().get(path).status_code == 404
    assert calls.count == 1


def test_unknown_rotated_and_deleted_tokens_are_answered_by_the_route(
        app: Flask, api: Api, feed: dict[str, Any]) -> None:
    path = paths(feed)["feed"]
    api.client.get(path)
    calls = RouteCalls(app)
    assert api.client.get("/feeds/" + "A" * 43 + ".ics").status_code == 404
    assert api.post(f"/api/v1/feeds/{feed['id']}/rotate").status_code == 200
    assert api.client.get(path).status_code == 410
    assert calls.count == 3


def test_a_failing_warm_path_falls_back_to_the_route(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, app: Flask,
        api: Api, feed: dict[str, Any]) -> None:
    path = paths(feed)["feed"]
    expected = api.client.get(path).data

    def broken(app: Flask) -> Any:
        raise RuntimeError("no connection")

    monkeypatch.setattr(fastpath, "get_probe_engine", broken)
    calls = RouteCalls(app)
    with caplog.at_level(logging.WARNING, logger="feedsvc.fastpath"):
        answer = api.client.get(path)
    assert answer.status_code == 200 and answer.data == expected and calls.count == 1
    assert "feed fast path failed" in caplog.text
    assert hash_token(path.split("/")[-1].removesuffix(".ics")) not in caplog.text


# -- the memo ------------------------------------------------------------------------------

def test_the_memo_drops_the_least_recently_used_bodies_beyond_its_limit() -> None:
    memo = feedcache.BodyMemo(limit=100)
    memo.put(("a", "ics", False), "1", b"x" * 40)
    memo.put(("b", "ics", False), "2", b"y" * 40)
    assert memo.get(("a", "ics", False)) == ("1", b"x" * 40, ())  # "a" is now the most recent
    memo.put(("c", "ics", False), "3", b"z" * 40)
    assert memo.get(("b", "ics", False)) is None
    assert memo.get(("a", "ics", False)) is not None and memo.size == 80
    memo.put(("a", "ics", False), "4", b"w" * 10)  # replaced, not added
    assert memo.get(("a", "ics", False)) == ("4", b"w" * 10, ()) and memo.size == 50
    memo.put(("d", "ics", False), "5", b"v" * 101)  # larger than the whole memo
    assert memo.get(("d", "ics", False)) is None and memo.size == 50
