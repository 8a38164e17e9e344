"""The feed cache: warm hits cost one query and no serialising, and no write is ever missed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from flask import Flask
from sqlalchemy import func, select

from feedsvc import create_app, errors, feedcache, feeds, ics
from feedsvc.db import get_engine, get_probe_engine, new_session
from feedsvc.models import FeedCacheEntry
from feedsvc.status import today_in

from helpers import VALID_ITEM, Api, app_config, make_user, recorded_statements, route_only_client

REDIS_URL = "redis://127.0.0.1:6379/15"


def path_of(url: str) -> str:
    return urlsplit(url).path


def google_path(feed: dict[str, Any]) -> str:
    return path_of(feed["url"]).removesuffix(".ics") + "/google.ics"


def add_item(api: Api, **changes: Any) -> dict[str, Any]:
    response = api.post("/api/v1/items", json={**VALID_ITEM, **changes})
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def feed(api: Api) -> dict[str, Any]:
    response = api.post("/api/v1/feeds", json={"name": "Cached"})
    assert response.status_code == 201
    return response.json


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[ics.FeedView]:
    """Every feed serialised from now on."""
    built: list[ics.FeedView] = []
    original = ics.assemble_calendar

    def counting(view: ics.FeedView, order: Any, events: ics.EventCache) -> bytes:
        built.append(view)
        return original(view, order, events)

    monkeypatch.setattr(ics, "assemble_calendar", counting)
    return built


class Statements:
    """The SQL statements the app runs, transaction control left out."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def during(self, action: Callable[[], Any]) -> tuple[Any, list[str]]:
        """``action``'s result and its statements, the warm path's driver-level ones too."""
        seen: list[str] = []
        with recorded_statements(self.app, seen.append):
            result = action()
        return result, seen


def reference_body(app: Flask, feed: dict[str, Any], google: bool = False) -> bytes:
    """The feed built from the database right now, without any cache."""
    token = path_of(feed["url"]).split("/")[-1].removesuffix(".ics")
    with app.test_request_context(), new_session(app) as session:
        found = feeds.feed_for_token(session, token)
        view = feeds.feed_view(session, found, found.user, app.config["FEEDSVC_BASE_URL"],
                               today_in(found.user.timezone),
                               reminder_events=True if google else None)
        return ics.build_calendar(view)


def cached_rows(app: Flask) -> int:
    with new_session(app) as session:
        return session.scalar(select(func.count()).select_from(FeedCacheEntry)) or 0


# -- warm hits ---------------------------------------------------------------------------

def test_a_warm_hit_serves_the_same_bytes_without_building(
        api: Api, item: dict[str, Any], feed: dict[str, Any],
        builds: list[ics.FeedView]) -> None:
    first = api.client.get(path_of(feed["url"]))
    assert first.status_code == 200 and len(builds) == 1
    again = api.client.get(path_of(feed["url"]))
    assert again.status_code == 200
    assert len(builds) == 1
    assert again.data == first.data
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Last-Modified"] == first.headers["Last-Modified"]


def test_a_warm_hit_and_a_304_each_cost_one_query(app: Flask, api: Api, item: dict[str, Any],
                                                  feed: dict[str, Any]) -> None:
    statements = Statements(app)
    path = path_of(feed["url"])
    first = api.client.get(path)
    warm, seen = statements.during(lambda: api.client.get(path))
    assert warm.status_code == 200 and len(seen) == 1, seen
    etag = first.headers["ETag"]
    not_modified, seen = statements.during(
        lambda: api.client.get(path, headers={"If-None-Match": etag}))
    assert not_modified.status_code == 304 and len(seen) == 1, seen
    since, seen = statements.during(lambda: api.client.get(
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


@pytest.mark.parametrize("write", WRITES, ids=list(WRITES))
@pytest.mark.parametrize("google", [False, True], ids=["feed", "google"])
def test_every_write_gives_a_fresh_feed(app: Flask, api: Api, feed: dict[str, Any],
                                        write: str, google: bool) -> None:
    item = add_item(api, alarms=None)
    add_item(api, title="Unchanged neighbour", category="domain")
    path = google_path(feed) if google else path_of(feed["url"])
    before = api.client.get(path)
    assert api.client.get(path).data == before.data  # cached now
    status, send = WRITES[write]
    answer = send(api, item, feed)
    assert answer.status_code == status, answer.json
    after = api.client.get(path)
    assert after.status_code == 200
    assert after.data != before.data
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.data == reference_body(app, feed, google)
    stale = api.client.get(path, headers={"If-None-Match": before.headers["ETag"]})
    assert stale.status_code == 200 and stale.data == after.data


def test_undoing_a_renewal_restores_the_feed_without_serving_the_renewed_one(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    path = path_of(feed["url"])
    assert api.post(f"/api/v1/items/{item['id']}/renewals", json={}).status_code == 201
    renewed = api.client.get(path).data
    assert api.delete(f"/api/v1/items/{item['id']}/renewals/latest").status_code == 200
    undone = api.client.get(path).data
    assert undone != renewed
    assert undone == reference_body(app, feed)


def test_a_rotated_or_deleted_feed_is_gone_even_when_cached(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    old = path_of(feed["url"])
    cached = api.client.get(old)
    rotated = api.post(f"/api/v1/feeds/{feed['id']}/rotate").json
    assert api.client.get(old).status_code == 410
    fresh = api.client.get(path_of(rotated["url"]))
    # The action links are keyed with the feed's secret: the new address carries new ones.
    assert fresh.status_code == 200 and fresh.data != cached.data
    assert fresh.data == reference_body(app, rotated)
    assert api.delete(f"/api/v1/feeds/{feed['id']}").status_code == 204
    assert api.client.get(path_of(rotated["url"])).status_code == 410


def test_another_accounts_writes_leave_the_cache_warm(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any],
        builds: list[ics.FeedView]) -> None:
    path = path_of(feed["url"])
    api.client.get(path)
    other = Api(app.test_client(), make_user(app, "other@example.com")["token"])
    add_item(other, title="Not yours")
    api.client.get(path)
    assert len(builds) == 1


def test_an_edit_rebuilds_only_the_changed_items_events(
        monkeypatch: pytest.MonkeyPatch, app: Flask, api: Api, feed: dict[str, Any]) -> None:
    created = [add_item(api, title=f"Number {n}") for n in range(5)]
    path = path_of(feed["url"])
    api.client.get(path)
    serialised: list[int] = []
    original = ics.item_events
    monkeypatch.setattr(ics, "item_events",
                        lambda item, view: serialised.append(item.id) or original(item, view))
    api.patch(f"/api/v1/items/{created[2]['id']}", json={"notes": "Changed."})
    body = api.client.get(path).data
    assert serialised == [created[2]["id"]]
    assert body == reference_body(app, feed)


def test_a_build_that_saw_a_newer_item_is_not_stored() -> None:
    probe = feedcache.Probe(feed_id=1, timezone="UTC", cached=None,
                            state=(1, "UTC", "1:2026:0:0:1:2026", "2:2:7"))
    assert probe.storable([]) and probe.storable([3, 7])
    assert not probe.storable([3, 8])


# -- bounded -----------------------------------------------------------------------------

def test_the_cache_keeps_one_entry_per_feed_and_variant(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    for n in range(5):
        api.patch(f"/api/v1/items/{item['id']}", json={"notes": f"Edit {n}"})
        assert api.client.get(path_of(feed["url"])).status_code == 200
        assert api.client.get(google_path(feed)).status_code == 200
    assert cached_rows(app) == 2
    assert api.delete(f"/api/v1/feeds/{feed['id']}").status_code == 204
    assert cached_rows(app) == 0


@pytest.mark.parametrize("path", ["warm", "route"])
def test_on_postgresql_only_cache_writes_skip_waiting_for_the_disk(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any], path: str) -> None:
    if get_engine(app).dialect.name != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    client = api.client if path == "warm" else route_only_client(app)
    edit: list[str] = []
    with recorded_statements(app, edit.append, transaction_control=True):
        assert api.patch(f"/api/v1/items/{item['id']}", json={"notes": "New"}).status_code == 200
    build: list[str] = []
    with recorded_statements(app, build.append, transaction_control=True):
        assert client.get(path_of(feed["url"])).status_code == 200
    assert not any("synchronous_commit" in sql for sql in edit), "the edit itself is durable"
    writes = [n for n, sql in enumerate(build) if sql.startswith("INSERT INTO feed_cache")]
    assert len(writes) == 1 and cached_rows(app) == 1
    asked = [n for n, sql in enumerate(build) if "synchronous_commit" in sql]
    if path == "warm":
        # Built on the warm path's autocommit connections, which never wait for the disk.
        assert asked == [] and not any(sql.upper() == "BEGIN" for sql in build), build
        with get_probe_engine(app).connect() as connection:
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
    else:
        assert [build[n] for n in asked] == ["SET LOCAL synchronous_commit TO OFF"]
        assert asked[0] < writes[0]
    with get_engine(app).connect() as connection:  # every other write waits for the disk
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


# -- Redis -------------------------------------------------------------------------------

@pytest.fixture
def redis_app(database_url: str, tmp_path: Any) -> Iterator[Flask]:
    """An app whose feed cache lives in Redis database 15."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not answering at {REDIS_URL}")
    application = create_app(app_config(tmp_path / "instance", database_url,
                                         FEEDSVC_REDIS_URL=REDIS_URL))
    yield application
    store = feedcache.store(application)
    assert isinstance(store, feedcache.RedisStore)
    for name in store.redis.scan_iter(store.prefix + "*"):
        store.redis.delete(name)
    get_engine(application).dispose()


def test_redis_holds_the_cache_when_configured(
        redis_app: Flask, builds: list[ics.FeedView]) -> None:
    api = Api(redis_app.test_client(), make_user(redis_app)["token"])
    item = add_item(api)
    feed = api.post("/api/v1/feeds", json={"name": "Shared"}).json
    path = path_of(feed["url"])
    first = api.client.get(path)
    assert api.client.get(path).data == first.data and len(builds) == 1
    assert cached_rows(redis_app) == 0
    store = feedcache.store(redis_app)
    names = list(store.redis.scan_iter(store.prefix + "*"))  # type: ignore[attr-defined]
    assert len(names) == 1
    kept = store.redis.hgetall(names[0])  # type: ignore[attr-defined]
    assert set(kept) == {b"key", b"etag", b"last_modified", b"gzip", b"parts"}, \
        "only the gzipped copy is kept"
    assert gzip.decompress(kept[b"gzip"]) == first.data
    # A second app (another worker or instance) finds the entry.
    other = create_app(redis_app.config)
    statements = Statements(other)
    shared, seen = statements.during(lambda: other.test_client().get(path))
    assert shared.data == first.data and len(builds) == 1 and len(seen) == 1
    not_modified = api.client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert not_modified.status_code == 304
    packed = api.client.get(path, headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(packed.data) == first.data
    api.patch(f"/api/v1/items/{item['id']}", json={"notes": "Changed."})
    after = api.client.get(path)
    assert after.data != first.data and after.data == reference_body(redis_app, feed)
    get_engine(other).dispose()


def test_reused_events_give_the_same_bytes_as_a_full_build(
        app: Flask, api: Api, feed: dict[str, Any]) -> None:
    for n in range(3):
        add_item(api, title=f"Number {n}", grace_days=n or None)
    token = path_of(feed["url"]).split("/")[-1].removesuffix(".ics")
    with app.test_request_context(), new_session(app) as session:
        found = feeds.feed_for_token(session, token)
        view = feeds.feed_view(session, found, found.user, "https://feeds.example.org",
                               today_in(found.user.timezone), reminder_events=True)
    whole = ics.build_calendar(view)
    first = ics.EventCache()
    assert ics.build_calendar(view, first) == whole
    assert [digest for digest, _, _ in first.parts] == [
        ics.item_digest(item, view) for item in view.items]
    known = {digest: whole[offset:offset + length] for digest, offset, length in first.parts}
    again = ics.EventCache(known)
    assert ics.build_calendar(view, again) == whole
    assert again.parts == first.parts


def test_a_builds_source_is_the_feed_its_owner_and_the_items_shown_in_order(
        app: Flask, api: Api) -> None:
    feed = api.post("/api/v1/feeds", json={"name": "SIMs and domains",
                                           "categories": ["sim", "domain"]}).json
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
    token = path_of(feed["url"]).split("/")[-1].removesuffix(".ics")

    with new_session(app) as session:
        source = feeds.feed_source(session, token)
        orm = feeds.feed_for_token(session, token)
        for field in dataclasses.fields(feeds.FeedSettings):
            assert getattr(source.feed, field.name) == getattr(orm, field.name), field.name
        for field in dataclasses.fields(feeds.Owner):
            assert getattr(source.owner, field.name) == getattr(orm.user, field.name), field.name
    by_date = [shown[1], shown[2], shown[3], shown[0]]
    assert [item_id for item_id, _ in source.outline.items] == [i["id"] for i in by_date]
    assert [version for _, version in source.outline.items] == [1, 2, 1, 1]
    assert source.outline.changed == dt.datetime.fromisoformat(changed["updated_at"])


@pytest.mark.parametrize("change, error", [
    ("rotate", "Gone"), ("delete", "Gone"), ("unknown", "NotFound"), ("short", "NotFound")])
def test_a_builds_source_tells_a_retired_token_from_an_unknown_one(
        app: Flask, api: Api, feed: dict[str, Any], change: str, error: str) -> None:
    token = path_of(feed["url"]).split("/")[-1].removesuffix(".ics")
    if change == "rotate":
        assert api.post(f"/api/v1/feeds/{feed['id']}/rotate").status_code == 200
    elif change == "delete":
        assert api.delete(f"/api/v1/feeds/{feed['id']}").status_code == 204
    elif change == "unknown":
        token = "A" * len(token)
    else:
        token = token[:-1]
    with new_session(app) as session, pytest.raises(getattr(errors, error)):
        feeds.feed_source(session, token)


def test_a_builds_source_has_an_empty_outline_for_a_feed_without_items(
        app: Flask, feed: dict[str, Any]) -> None:
    token = path_of(feed["url"]).split("/")[-1].removesuffix(".ics")
    with new_session(app) as session:
        source = feeds.feed_source(session, token)
    assert source.feed.id == feed["id"] and source.feed.categories is None
    assert source.outline == feeds.Outline(items=(), changed=None)
