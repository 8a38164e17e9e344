"""The feed cache: warm hits cost one query and no serialising, and no write is ever missed.

Kept calendars live in the ``feed_cache`` table only (``feedsvc.feed.store``); Redis, when
configured, holds the throttles' counters and nothing a feed answer needs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import re
import socket
import threading
from collections.abc import Callable, Iterator
from select import select as wait_readable
from typing import Any
from urllib.parse import urlsplit

import icalendar
import pytest
import redis
from flask import Flask
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from feedsvc import create_app, feeds
from feedsvc.accounts import hash_token
from feedsvc.db import feed_connections, get_engine, get_feed_engine, new_session
from feedsvc.errors import Gone, NotFound
from feedsvc.feed import build, ics, key, source, store
from feedsvc.limits import LIMITER_KEY, rate_limits_on
from feedsvc.models import Feed, FeedCacheEntry
from feedsvc.status import today_in

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
from helpers.servers import free_ports

REDIS_URL = "redis://127.0.0.1:6379/15"


def path_of(url: str) -> str:
    return urlsplit(url).path


def google_path(feed: dict[str, Any]) -> str:
    return path_of(feed["url"]).removesuffix(".ics") + "/google.ics"


def token_of(feed: dict[str, Any]) -> str:
    return path_of(feed["url"]).split("/")[-1].removesuffix(".ics")


def add_item(api: Api, **changes: Any) -> dict[str, Any]:
    response = api.post("/api/v1/items", json={**VALID_ITEM, **changes})
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def feed(api: Api) -> dict[str, Any]:
    response = api.post("/api/v1/feeds", json={"name": "Cached"})
    assert response.status_code == 201
    return response.json


def statements_during(app: Flask, action: Callable[[], Any]) -> tuple[Any, list[str]]:
    """``action``'s result and the SQL statements it sent (transaction control left out)."""
    seen: list[str] = []
    with recorded_statements(app, seen.append):
        result = action()
    return result, seen


def cache_writes(statements: list[str]) -> list[str]:
    return [sql for sql in statements if sql.lstrip().upper().startswith("INSERT INTO FEED_CACHE")]


def reference_body(app: Flask, feed: dict[str, Any], google: bool = False) -> bytes:
    """The feed built from the database right now: every item serialised, nothing reused."""
    with get_engine(app).connect() as connection:
        found = source.read_source(connection, hash_token(token_of(feed)))
        assert found is not None
        view = source.feed_view(
            connection, found.settings, app.config["FEEDSVC_BASE_URL"],
            today_in(found.settings.timezone), [item_id for item_id, _ in found.items],
            secret_key=app.config["SECRET_KEY"])
    if google:
        view = dataclasses.replace(view, reminder_events=True)
    return ics.build_calendar(view)


def cached_rows(app: Flask) -> int:
    with new_session(app) as session:
        return session.scalar(select(func.count()).select_from(FeedCacheEntry)) or 0


# -- warm hits ---------------------------------------------------------------------------

def test_a_warm_hit_serves_the_same_bytes_without_building(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    path = path_of(feed["url"])
    first, cold = statements_during(app, lambda: api.client.get(path))
    assert first.status_code == 200 and len(cache_writes(cold)) == 1, cold
    again, warm = statements_during(app, lambda: api.client.get(path))
    assert again.status_code == 200
    # One read (the probe), nothing built, nothing written.
    assert len(warm) == 1 and not cache_writes(warm), warm
    assert again.data == first.data
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Last-Modified"] == first.headers["Last-Modified"]


@pytest.mark.parametrize("through", ["fast path", "route"])
def test_a_warm_hit_and_a_304_each_cost_one_query(app: Flask, api: Api, item: dict[str, Any],
                                                  feed: dict[str, Any], through: str) -> None:
    client = api.client if through == "fast path" else route_only_client(app)
    path = path_of(feed["url"])
    first = client.get(path)
    assert first.status_code == 200
    warm, seen = statements_during(app, lambda: client.get(path))
    assert warm.status_code == 200 and warm.data == first.data and len(seen) == 1, seen
    etag = first.headers["ETag"]
    not_modified, seen = statements_during(
        app, lambda: client.get(path, headers={"If-None-Match": etag}))
    assert not_modified.status_code == 304 and len(seen) == 1, seen
    since, seen = statements_during(app, lambda: client.get(
        path, headers={"If-Modified-Since": first.headers["Last-Modified"]}))
    assert since.status_code == 304 and len(seen) == 1, seen


def test_a_stale_validator_gets_the_body(api: Api, item: dict[str, Any],
                                         feed: dict[str, Any]) -> None:
    path = path_of(feed["url"])
    first = api.client.get(path)
    response = api.client.get(path, headers={"If-None-Match": '"not-the-etag"'})
    assert response.status_code == 200
    assert response.data == first.data


# -- gzip --------------------------------------------------------------------------------

def test_gzip_is_served_when_accepted_and_decompresses_to_the_same_bytes(
        api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    path = path_of(feed["url"])
    plain = api.client.get(path)
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    packed = api.client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.status_code == 200
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert packed.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert len(packed.data) < len(plain.data)
    assert gzip.decompress(packed.data) == plain.data
    # Two encodings, two representations: each has its own strong ETag, and each revalidates.
    assert packed.headers["ETag"] != plain.headers["ETag"]
    again = api.client.get(path, headers={"Accept-Encoding": "gzip",
                                          "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304
    refused = api.client.get(path, headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    assert refused.data == plain.data


# -- never stale -------------------------------------------------------------------------

# Each write through the API, and the status it answers.
WRITES: dict[str, tuple[int, Callable[[Api, dict[str, Any], dict[str, Any]], Any]]] = {
    "create an item": (201, lambda api, item, feed: api.post(
        "/api/v1/items", json={**VALID_ITEM, "title": "Second number"})),
    "edit an item": (200, lambda api, item, feed: api.patch(
        f"/api/v1/items/{item['id']}", json={"notes": "Pay with Alipay."})),
    "delete an item": (204, lambda api, item, feed: api.delete(f"/api/v1/items/{item['id']}")),
    "archive an item": (200, lambda api, item, feed: api.patch(
        f"/api/v1/items/{item['id']}", json={"archived": True})),
    "renew an item": (201, lambda api, item, feed: api.post(
        f"/api/v1/items/{item['id']}/renewals", json={"method": "card"})),
    "change the language": (200, lambda api, item, feed: api.patch(
        "/api/v1/me", json={"locale": "zh-Hans"})),
    "change the time zone": (200, lambda api, item, feed: api.patch(
        "/api/v1/me", json={"timezone": "Asia/Shanghai"})),
    "change the default alarms": (200, lambda api, item, feed: api.patch(
        "/api/v1/me", json={"default_alarms": [{"days_before": 7, "at": "10:00"}]})),
    "rename the feed": (200, lambda api, item, feed: api.patch(
        f"/api/v1/feeds/{feed['id']}", json={"name": "Renamed"})),
    "show numbers in the feed": (200, lambda api, item, feed: api.patch(
        f"/api/v1/feeds/{feed['id']}", json={"show_numbers": True})),
    "filter the feed": (200, lambda api, item, feed: api.patch(
        f"/api/v1/feeds/{feed['id']}", json={"categories": ["domain"]})),
}


def assert_fresh(app: Flask, api: Api, feed: dict[str, Any], path: str, before: Any,
                 google: bool = False) -> None:
    """The feed answers what the database holds now, never ``before``, whatever is asked."""
    after = api.client.get(path)
    assert after.status_code == 200
    assert after.data != before.data
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.data == reference_body(app, feed, google)
    stale = api.client.get(path, headers={"If-None-Match": before.headers["ETag"]})
    assert stale.status_code == 200 and stale.data == after.data
    assert route_only_client(app).get(path).data == after.data


@pytest.mark.parametrize("write", WRITES, ids=list(WRITES))
@pytest.mark.parametrize("google", [False, True], ids=["feed", "google"])
def test_every_write_gives_a_fresh_feed(app: Flask, api: Api, feed: dict[str, Any],
                                        write: str, google: bool) -> None:
    item = add_item(api, alarms=None)
    add_item(api, title="Unchanged neighbour", category="domain")
    path = google_path(feed) if google else path_of(feed["url"])
    before = api.client.get(path)
    cached, seen = statements_during(app, lambda: api.client.get(path))
    assert cached.data == before.data and len(seen) == 1  # kept now
    status, send = WRITES[write]
    answer = send(api, item, feed)
    assert answer.status_code == status, answer.json
    assert_fresh(app, api, feed, path, before, google)


@dataclasses.dataclass
class Account:
    """One account's ways in: the API, a signed-in browser, a stranger's browser, its feed."""

    app: Flask
    api: Api
    browser: Browser
    visitor: Browser
    item: dict[str, Any]
    feed: dict[str, Any]

    def renew_link(self) -> str:
        """The path of the item's "I renewed it" link, as the feed carries it."""
        calendar = icalendar.Calendar.from_ical(self.api.client.get(path_of(self.feed["url"])).data)
        [description] = [str(event["DESCRIPTION"]) for event in calendar.walk("VEVENT")
                         if str(event["UID"]).startswith(f"due-{self.item['id']}-")]
        link = re.search(r"I renewed it: (\S+)", description)
        assert link is not None, description
        return path_of(link[1])


def _api_renew(account: Account) -> Callable[[], int]:
    return lambda: account.api.post(f"/api/v1/items/{account.item['id']}/renewals",
                                    json={}).status_code


def _api_undo(account: Account) -> Callable[[], int]:
    assert _api_renew(account)() == 201
    return lambda: account.api.delete(
        f"/api/v1/items/{account.item['id']}/renewals/latest").status_code


def _web_renew(account: Account) -> Callable[[], int]:
    # The list's one-tap "Renewed" button.
    return lambda: account.browser.submit(
        "/", action=f"/items/{account.item['id']}/renew").status


def _web_undo(account: Account) -> Callable[[], int]:
    assert _web_renew(account)() == 302
    return lambda: account.browser.submit(f"/items/{account.item['id']}/renewals/undo").status


def _link_renew(account: Account) -> Callable[[], int]:
    path = account.renew_link()
    return lambda: account.visitor.submit(path, action=path).status


def _link_undo(account: Account) -> Callable[[], int]:
    path = account.renew_link()
    result = account.visitor.submit(path, action=path)
    assert result.status == 200, result.text
    undo = result.values(path + "/undo")
    return lambda: Page(account.visitor.client.post(path + "/undo", data=undo)).status


# Every way a renewal is recorded or undone: setting up (an undo needs a renewal to undo)
# gives the write, and the status it answers.
RENEWAL_PATHS: dict[str, tuple[int, Callable[[Account], Callable[[], int]]]] = {
    "API renew": (201, _api_renew),
    "API undo": (200, _api_undo),
    "web renew": (302, _web_renew),
    "web undo": (302, _web_undo),
    "action link renew": (200, _link_renew),
    "action link undo": (200, _link_undo),
}


@pytest.mark.parametrize("way", RENEWAL_PATHS, ids=list(RENEWAL_PATHS))
def test_every_renewal_path_gives_a_fresh_feed(app: Flask, api: Api, user: dict[str, Any],
                                               feed: dict[str, Any], way: str) -> None:
    item = add_item(api, title="Renewed often")
    add_item(api, title="Unchanged neighbour", category="domain")
    account = Account(app, api, signed_in(app.test_client(), user), Browser(app.test_client()),
                      item, feed)
    status, prepare = RENEWAL_PATHS[way]
    write = prepare(account)
    path = path_of(feed["url"])
    before = api.client.get(path)
    cached, seen = statements_during(app, lambda: api.client.get(path))
    assert cached.data == before.data and len(seen) == 1  # kept now
    assert write() == status
    assert_fresh(app, api, feed, path, before)


def test_undoing_a_renewal_restores_the_feed_without_serving_the_renewed_one(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    path = path_of(feed["url"])
    original = api.client.get(path).data
    assert api.post(f"/api/v1/items/{item['id']}/renewals", json={}).status_code == 201
    renewed = api.client.get(path).data
    assert api.delete(f"/api/v1/items/{item['id']}/renewals/latest").status_code == 200
    undone = api.client.get(path).data
    assert undone != renewed
    assert undone == reference_body(app, feed)
    # The renewal's event is gone again; the item's row changed twice since the original.
    assert b"Renewed MTS Russia" in renewed and b"Renewed MTS Russia" not in undone
    assert undone != original


def test_a_rotated_or_deleted_feed_is_gone_even_when_cached(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    old = path_of(feed["url"])
    cached = api.client.get(old)
    assert cached.status_code == 200 and cached_rows(app) == 1
    rotated = api.post(f"/api/v1/feeds/{feed['id']}/rotate").json
    for client in (api.client, route_only_client(app)):
        assert client.get(old).status_code == 410
        assert client.get(old, headers={"If-None-Match": cached.headers["ETag"]}
                          ).status_code == 410
    fresh = api.client.get(path_of(rotated["url"]))
    # The action links are keyed with the feed's secret: the new address carries new ones.
    assert fresh.status_code == 200 and fresh.data != cached.data
    assert fresh.data == reference_body(app, rotated)
    assert api.delete(f"/api/v1/feeds/{feed['id']}").status_code == 204
    for client in (api.client, route_only_client(app)):
        assert client.get(path_of(rotated["url"])).status_code == 410


def test_another_accounts_writes_leave_the_cache_warm(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    path = path_of(feed["url"])
    first = api.client.get(path)
    other = Api(app.test_client(), make_user(app, "other@example.com")["token"])
    theirs = add_item(other, title="Not yours")
    assert other.patch(f"/api/v1/items/{theirs['id']}", json={"notes": "x"}).status_code == 200
    assert other.post(f"/api/v1/items/{theirs['id']}/renewals", json={}).status_code == 201
    assert other.patch("/api/v1/me", json={"locale": "zh-Hans"}).status_code == 200
    their_feed = other.post("/api/v1/feeds", json={"name": "Theirs"}).json
    assert other.client.get(path_of(their_feed["url"])).status_code == 200
    again, seen = statements_during(app, lambda: api.client.get(path))
    assert len(seen) == 1, seen
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]


def test_an_edit_rebuilds_only_the_changed_items_events(
        monkeypatch: pytest.MonkeyPatch, app: Flask, api: Api, feed: dict[str, Any]) -> None:
    created = [add_item(api, title=f"Number {n}") for n in range(5)]
    path = path_of(feed["url"])
    serialised: list[int] = []
    original = ics.item_events

    def counting(event_item: Any, view: Any) -> Any:
        serialised.append(event_item.id)
        return original(event_item, view)

    monkeypatch.setattr(ics, "item_events", counting)
    api.client.get(path)
    assert sorted(serialised) == [item["id"] for item in created]  # cold: every item
    serialised.clear()
    api.patch(f"/api/v1/items/{created[2]['id']}", json={"notes": "Changed."})
    body = api.client.get(path).data
    assert serialised == [created[2]["id"]]
    assert b"Changed." in body
    assert body == reference_body(app, feed)


def _probe_and_inputs(app: Flask, connection: Any, token_hash: str
                      ) -> tuple[store.Probe, key.Inputs]:
    probe = store.probe(connection, token_hash, "ics", body=True)
    assert probe is not None
    return probe, key.Inputs("ics", app.config["FEEDSVC_BASE_URL"], today_in(probe.timezone),
                             app.config["SECRET_KEY"], probe.settings, probe.items)


def test_a_build_that_saw_an_item_newer_than_the_probe_is_not_kept(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    token_hash = hash_token(token_of(feed))
    with get_feed_engine(app).connect() as connection:
        probe, inputs = _probe_and_inputs(app, connection, token_hash)
        # Committed between the probe and the build's reads.
        newer = add_item(api, title="Added meanwhile")
        entry = build.build(connection, probe, inputs, token_hash, probe.cached)
    assert entry is not None and b"Added meanwhile" in entry.body
    assert cached_rows(app) == 0
    # Deleted again, the items' aggregate is what the probe read: a kept entry would match
    # the key and show an item that no longer exists.
    assert api.delete(f"/api/v1/items/{newer['id']}").status_code == 204
    served = api.client.get(path_of(feed["url"]))
    assert served.status_code == 200 and b"Added meanwhile" not in served.data
    assert served.data == reference_body(app, feed)


def test_a_build_that_saw_nothing_newer_is_kept_and_served(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    token_hash = hash_token(token_of(feed))
    with get_feed_engine(app).connect() as connection:
        probe, inputs = _probe_and_inputs(app, connection, token_hash)
        assert probe.cached is None
        entry = build.build(connection, probe, inputs, token_hash, probe.cached)
        assert entry is not None and entry.key == inputs.key()
        # An edit since the probe changes every later key: keeping the entry is harmless.
        assert api.patch(f"/api/v1/items/{item['id']}", json={"notes": "Edited."}
                         ).status_code == 200
        again = build.build(connection, probe, inputs, token_hash, probe.cached)
        assert again is not None and b"Edited." in again.body
    assert cached_rows(app) == 1
    served, seen = statements_during(app, lambda: api.client.get(path_of(feed["url"])))
    assert served.data == reference_body(app, feed) and b"Edited." in served.data
    assert len(cache_writes(seen)) == 1, "built again: the kept entry's key is not current"


def test_a_build_of_a_feed_deleted_since_the_probe_gives_nothing(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    token_hash = hash_token(token_of(feed))
    with get_feed_engine(app).connect() as connection:
        probe, inputs = _probe_and_inputs(app, connection, token_hash)
        assert api.delete(f"/api/v1/feeds/{feed['id']}").status_code == 204
        assert build.build(connection, probe, inputs, token_hash, probe.cached) is None
    assert cached_rows(app) == 0


# -- bounded -----------------------------------------------------------------------------

def test_the_cache_keeps_one_entry_per_feed_and_variant(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    for n in range(5):
        api.patch(f"/api/v1/items/{item['id']}", json={"notes": f"Edit {n}"})
        assert api.client.get(path_of(feed["url"])).status_code == 200
        assert api.client.get(google_path(feed)).status_code == 200
    assert cached_rows(app) == 2
    # Each variant finds its own entry: polled in turn, both stay warm.
    for path in (path_of(feed["url"]), google_path(feed)) * 2:
        seen: list[str] = []
        with recorded_statements(app, seen.append):
            response = api.client.get(path)
        assert response.status_code == 200 and len(seen) == 1, (path, seen)
    assert api.delete(f"/api/v1/feeds/{feed['id']}").status_code == 204
    assert cached_rows(app) == 0


@pytest.mark.parametrize("through", ["fast path", "route"])
def test_on_postgresql_only_cache_writes_skip_waiting_for_the_disk(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any], through: str) -> None:
    if get_engine(app).dialect.name != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    client = api.client if through == "fast path" else route_only_client(app)
    # Each write, the engine it went through, and synchronous_commit in its session then.
    writes: list[tuple[str, Engine, str]] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            setting = conn.connection.dbapi_connection.execute("SHOW synchronous_commit")
            writes.append((statement.split("(", 1)[0].split(" SET ", 1)[0], conn.engine,
                           setting.fetchone()[0]))

    engines = (get_engine(app), get_feed_engine(app))
    for engine in engines:
        event.listen(engine, "before_cursor_execute", note)
    try:
        assert api.patch(f"/api/v1/items/{item['id']}", json={"notes": "New"}).status_code == 200
        edit, writes[:] = list(writes), []
        assert client.get(path_of(feed["url"])).status_code == 200
        build_writes = list(writes)
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", note)
    assert edit and all(engine is get_engine(app) and setting == "on"
                        for _, engine, setting in edit), edit
    assert [(sql.strip(), engine, setting) for sql, engine, setting in build_writes] == [
        ("INSERT INTO feed_cache", get_feed_engine(app), "off")], build_writes
    assert cached_rows(app) == 1
    with get_feed_engine(app).connect() as connection:
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
    with get_engine(app).connect() as connection:  # every other write waits for the disk
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


# -- Redis down --------------------------------------------------------------------------

def serves_a_live_feed(app: Flask, email: str = "polled@example.com") -> dict[str, Any]:
    """A new account's feed, answered 200 with its calendar by the fast path and the route."""
    assert rate_limits_on(app) and app.extensions[LIMITER_KEY].enabled
    api = Api(app.test_client(), make_user(app, email)["token"])
    add_item(api, title="Still served")
    feed = api.post("/api/v1/feeds", json={"name": "Polled"}).json
    for client in (app.test_client(), route_only_client(app)):
        for path in (path_of(feed["url"]), google_path(feed)):
            response = client.get(path)
            assert response.status_code == 200, response.data
            assert response.mimetype == "text/calendar"
            assert response.data == reference_body(app, feed, path.endswith("/google.ics"))
            assert b"Still served" in response.data
    return feed


def route_still_throttles(app: Flask, feed: dict[str, Any]) -> None:
    """A retired address, which only the route answers, is still refused after its budget."""
    api = Api(app.test_client(), make_user(app, "retired@example.com")["token"])
    retired = api.post("/api/v1/feeds", json={"name": "Retired"}).json
    assert api.post(f"/api/v1/feeds/{retired['id']}/rotate").status_code == 200
    statuses = [app.test_client().get(path_of(retired["url"])).status_code for _ in range(121)]
    assert statuses[:120] == [410] * 120 and statuses[120] == 429


def test_a_redis_that_never_answers_leaves_feeds_served(
        database_url: str, tmp_path: Any) -> None:
    [port] = free_ports(1)  # nothing listens there
    app = create_app(app_config(tmp_path / "instance", database_url,
                                FEEDSVC_REDIS_URL=f"redis://127.0.0.1:{port}/0"))
    try:
        feed = serves_a_live_feed(app)
        route_still_throttles(app, feed)
    finally:
        get_engine(app).dispose()


class Forwarder:
    """A TCP port of 127.0.0.1 that relays to ``target`` until ``cut`` closes it and every
    connection through it: the service behind it becomes unreachable."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)  # so that the accepting thread sees ``cut`` soon
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            upstream = socket.create_connection(self.target, timeout=5)
            with self.lock:
                self.sockets += [client, upstream]
            for source_, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source_, sink), daemon=True).start()

    def _pipe(self, source_: socket.socket, sink: socket.socket) -> None:
        try:
            while not self.closed.is_set():
                ready, _, _ = wait_readable([source_], [], [], 0.1)
                if ready:
                    data = source_.recv(65536)
                    if not data:
                        break
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source_, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.closed.set()
        self.thread.join(timeout=5)
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


@pytest.fixture
def reachable_redis() -> Iterator[Forwarder]:
    """Redis database 15, reached through a ``Forwarder``."""
    url = urlsplit(REDIS_URL)
    direct = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        direct.ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not answering at {REDIS_URL}")
    finally:
        direct.close()
    forwarder = Forwarder((url.hostname or "127.0.0.1", url.port or 6379))
    yield forwarder
    forwarder.cut()


def test_a_redis_that_goes_away_leaves_feeds_served(
        database_url: str, tmp_path: Any, reachable_redis: Forwarder) -> None:
    app = create_app(app_config(
        tmp_path / "instance", database_url,
        FEEDSVC_REDIS_URL=f"redis://127.0.0.1:{reachable_redis.port}/15"))
    direct = redis.Redis.from_url(REDIS_URL)
    tokens: list[str] = []
    try:
        before = serves_a_live_feed(app, "before@example.com")
        tokens.append(token_of(before))
        # The route's throttle counted that feed's requests in Redis.
        assert list(direct.scan_iter(f"*{tokens[0]}*"))
        reachable_redis.cut()
        with pytest.raises(redis.ConnectionError):
            redis.Redis(port=reachable_redis.port, socket_connect_timeout=1).ping()
        for client in (app.test_client(), route_only_client(app)):
            assert client.get(path_of(before["url"])).status_code == 200
        tokens.append(token_of(serves_a_live_feed(app, "after@example.com")))
    finally:
        for token in tokens:  # the throttle's counters of this test's feeds
            for name in direct.scan_iter(f"*{token}*"):
                direct.delete(name)
        direct.close()
        get_engine(app).dispose()


# -- what a build is made of -------------------------------------------------------------

def test_reused_events_give_the_same_bytes_as_a_full_build(
        app: Flask, api: Api, feed: dict[str, Any]) -> None:
    created = [add_item(api, title=f"Number {n}", grace_days=n or None) for n in range(3)]
    assert api.post(f"/api/v1/items/{created[1]['id']}/renewals", json={}).status_code == 201
    with get_engine(app).connect() as connection:
        found = source.read_source(connection, hash_token(token_of(feed)))
        assert found is not None
        view = source.feed_view(connection, found.settings, app.config["FEEDSVC_BASE_URL"],
                                today_in(found.settings.timezone),
                                [item_id for item_id, _ in found.items],
                                secret_key=app.config["SECRET_KEY"])
    view = dataclasses.replace(view, reminder_events=True)
    assert len(view.items) == 3
    whole = ics.build_calendar(view)
    order = [(item.id, f"events-of-{item.id}") for item in view.items]
    first, parts = ics.assemble(view, order, {})
    assert first == whole
    assert [part_key for part_key, _, _ in parts] == [event_key for _, event_key in order]
    known = {part_key: whole[offset:offset + length] for part_key, offset, length in parts}
    assert all(chunk.startswith(b"BEGIN:VEVENT") for chunk in known.values())
    # Every item's events copied: the view needs none of the items.
    again, again_parts = ics.assemble(dataclasses.replace(view, items=()), order, known)
    assert again == whole and again_parts == parts
    # One item serialised anew, the others copied.
    middle = order[1][1]
    mixed, _ = ics.assemble(dataclasses.replace(view, items=(view.items[1],)), order,
                            {k: v for k, v in known.items() if k != middle})
    assert mixed == whole
    assert api.client.get(google_path(feed)).data == whole


FEED_FIELDS = {"feed_id": "id", "name": "name", "categories": "categories",
               "reminder_events": "reminder_events", "show_numbers": "show_numbers",
               "action_links": "action_links", "secret": "secret", "feed_version": "version",
               "feed_updated_at": "updated_at"}
OWNER_FIELDS = {"user_id": "id", "locale": "locale", "timezone": "timezone",
                "default_alarms": "default_alarms", "user_version": "version",
                "user_updated_at": "updated_at"}


def test_a_builds_source_is_the_feed_its_owner_and_the_items_shown_in_order(
        app: Flask, api: Api) -> None:
    assert api.patch("/api/v1/me", json={"default_alarms": [{"days_before": 3, "at": "08:00"}]}
                     ).status_code == 200
    feed = api.post("/api/v1/feeds", json={"name": "SIMs and domains",
                                           "categories": ["sim", "domain"],
                                           "show_numbers": True}).json
    shown = [add_item(api, title="Late", due_date="2027-05-01"),
             add_item(api, title="Domain", category="domain", due_date="2027-01-01"),
             add_item(api, title="Tie A", due_date="2027-02-01"),
             add_item(api, title="Tie B", due_date="2027-02-01")]
    add_item(api, title="Not in the feed", category="subscription", due_date="2026-12-01")
    archived = add_item(api, title="Archived", due_date="2026-12-02")
    assert api.patch(f"/api/v1/items/{archived['id']}", json={"archived": True}).status_code == 200
    other = Api(app.test_client(), make_user(app, "other@example.com")["token"])
    add_item(other, title="Not yours", due_date="2026-12-03")
    changed = api.patch(f"/api/v1/items/{shown[2]['id']}", json={"notes": "Latest."}).json

    with get_engine(app).connect() as connection:
        found = source.read_source(connection, hash_token(token_of(feed)))
        probed = store.probe(connection, hash_token(token_of(feed)), "ics", body=False)
    assert found is not None and probed is not None
    assert set(FEED_FIELDS) | set(OWNER_FIELDS) | {"state"} == {
        field.name for field in dataclasses.fields(source.Settings)}
    # The settings as the cache key reads them: the same text from the probe and the source.
    assert found.settings.state == probed.settings
    with new_session(app) as session:
        orm = session.get_one(Feed, feed["id"])
        for name, attribute in FEED_FIELDS.items():
            assert getattr(found.settings, name) == getattr(orm, attribute), name
        for name, attribute in OWNER_FIELDS.items():
            assert getattr(found.settings, name) == getattr(orm.user, attribute), name
    assert found.settings.default_alarms == [{"days_before": 3, "at": "08:00"}]
    by_date = [shown[1], shown[2], shown[3], shown[0]]
    assert [item_id for item_id, _ in found.items] == [i["id"] for i in by_date]
    assert [version for _, version in found.items] == [1, 2, 1, 1]
    assert found.changed == dt.datetime.fromisoformat(changed["updated_at"])


@pytest.mark.parametrize("change, error, status", [
    ("rotate", Gone, 410), ("delete", Gone, 410), ("unknown", NotFound, 404)])
def test_a_builds_source_tells_a_retired_token_from_an_unknown_one(
        app: Flask, api: Api, feed: dict[str, Any], change: str, error: type[Exception],
        status: int) -> None:
    token = token_of(feed)
    if change == "rotate":
        assert api.post(f"/api/v1/feeds/{feed['id']}/rotate").status_code == 200
    elif change == "delete":
        assert api.delete(f"/api/v1/feeds/{feed['id']}").status_code == 204
    else:
        token = "A" * len(token)
    with get_engine(app).connect() as connection:
        assert source.read_source(connection, hash_token(token)) is None
        assert type(feeds.not_live(connection, hash_token(token))) is error
    for client in (api.client, route_only_client(app)):
        assert client.get(f"/feeds/{token}.ics").status_code == status


def test_a_builds_source_has_an_empty_outline_for_a_feed_without_items(
        app: Flask, feed: dict[str, Any]) -> None:
    with get_engine(app).connect() as connection:
        found = source.read_source(connection, hash_token(token_of(feed)))
    assert found is not None
    assert found.settings.feed_id == feed["id"] and found.settings.categories is None
    assert found.items == () and found.changed is None


# -- kept connections ----------------------------------------------------------------------

def kept_connection(app: Flask) -> Any:
    """The connection the feed engine keeps for this thread."""
    return feed_connections(app).local.connection


def test_a_kept_connection_that_breaks_is_replaced(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    path = path_of(feed["url"])
    first = api.client.get(path)
    broken = kept_connection(app)
    dbapi = broken.connection.dbapi_connection
    if get_engine(app).dialect.name == "postgresql":  # the server ends the session
        with get_engine(app).connect() as admin:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({dbapi.info.backend_pid})")
    else:
        dbapi.close()
    again = api.client.get(path)
    assert again.status_code == 200 and again.data == first.data
    assert broken.closed and kept_connection(app) is not broken
    assert api.client.get(path).data == first.data


def test_disposing_closes_every_threads_kept_connection(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    path = path_of(feed["url"])
    kept: list[Any] = []

    def fetch() -> None:
        assert app.test_client().get(path).status_code == 200
        kept.append(kept_connection(app))

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(connection) for connection in kept}) == 3
    get_engine(app).dispose()
    assert all(connection.closed for connection in kept)
    assert api.client.get(path).status_code == 200
