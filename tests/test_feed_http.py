"""The feed URL as calendar apps meet it: headers, validators, changes, errors, golden bytes.

Golden files: tests/data/demo-feed*.ics are the demo account's feeds built through the real
app and database with a frozen clock, compared byte for byte. When a change to the feed is
intended, rewrite them with

    FEEDSVC_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_feed_http.py -k golden

and review the diff like code. They must come out the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

import feedsvc.feed.serve
import feedsvc.feed.source
from feedsvc import accounts, feeds, status
from feedsvc.db import new_session
from feedsvc.demo import DEMO_EMAIL, create_demo
from feedsvc.feed import ics
from feedsvc.models import User

from helpers import SECRET_KEY, VALID_ITEM, Api, make_user

DATA = Path(__file__).parent / "data"
UPDATE_GOLDEN = os.environ.get("FEEDSVC_UPDATE_GOLDEN") == "1"
CALENDAR_TYPE = "text/calendar; charset=utf-8"


class Clock:
    """A settable stand-in for ``status.utc_now``, the clock that stamps every change."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, seconds: int = 5) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    # Whole seconds, so each tick is a change that Last-Modified can show.
    fake = Clock(status.utc_now().replace(microsecond=0) + dt.timedelta(hours=1))
    monkeypatch.setattr(status, "utc_now", fake)
    return fake


def path_of(url: str) -> str:
    return urlsplit(url).path


def new_feed(api: Api, **settings: Any) -> dict[str, Any]:
    response = api.post("/api/v1/feeds", json={"name": "Test feed", **settings})
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def feed(api: Api) -> dict[str, Any]:
    return new_feed(api)


def events(body: bytes) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}


def add_item(api: Api, **changes: Any) -> dict[str, Any]:
    response = api.post("/api/v1/items", json={**VALID_ITEM, **changes})
    assert response.status_code == 201, response.json
    return response.json


# -- a new account ----------------------------------------------------------------------

def test_a_new_account_has_a_default_feed(client: FlaskClient, runner: Any) -> None:
    created = runner.invoke(args=["user", "create", "new@example.com", "--password-stdin"],
                            input="correct horse battery\n")
    assert created.exit_code == 0, created.output
    token = runner.invoke(args=["token", "create", "new@example.com"]).output.strip()
    listed = Api(client, token).get("/api/v1/feeds")
    assert listed.status_code == 200
    (default,) = listed.json["feeds"]
    assert default["name"] == "All renewals"
    assert default["categories"] is None
    response = client.get(path_of(default["url"]))
    assert response.status_code == 200
    assert response.data.startswith(b"BEGIN:VCALENDAR\r\n")
    assert events(response.data) == {}


def test_ensure_default_feed_creates_one_feed_once(app: Flask, user: dict[str, Any]) -> None:
    with app.app_context(), new_session(app) as session:
        account = session.get(User, user["id"])
        first = feeds.ensure_default_feed(session, account, SECRET_KEY)
        again = feeds.ensure_default_feed(session, account, SECRET_KEY)
        assert first.id == again.id
        assert [f.id for f in feeds.list_feeds(session, account)] == [first.id]


# -- headers and validators -------------------------------------------------------------

def test_feed_headers(api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    response = api.client.get(path_of(feed["url"]))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CALENDAR_TYPE
    etag = response.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"'), "the ETag must be strong"
    assert response.last_modified is not None
    assert "private" in response.headers["Cache-Control"]
    assert response.headers["X-Robots-Tag"].startswith("noindex")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert f"due-{item['id']}-0@feedsvc" in events(response.data)


def test_if_none_match_gives_304_with_empty_body(api: Api, item: dict[str, Any],
                                                  feed: dict[str, Any]) -> None:
    first = api.client.get(path_of(feed["url"]))
    again = api.client.get(path_of(feed["url"]),
                           headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    other = api.client.get(path_of(feed["url"]), headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    assert other.data == first.data


def test_if_modified_since_gives_304(api: Api, item: dict[str, Any],
                                     feed: dict[str, Any]) -> None:
    first = api.client.get(path_of(feed["url"]))
    again = api.client.get(path_of(feed["url"]),
                           headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert again.status_code == 304
    assert again.data == b""
    earlier = first.last_modified - dt.timedelta(seconds=1)
    older = api.client.get(path_of(feed["url"]), headers={
        "If-Modified-Since": earlier.strftime("%a, %d %b %Y %H:%M:%S GMT")})
    assert older.status_code == 200
    assert older.data == first.data


def test_head_has_the_headers_and_no_body(api: Api, item: dict[str, Any],
                                          feed: dict[str, Any]) -> None:
    get = api.client.get(path_of(feed["url"]))
    head = api.client.head(path_of(feed["url"]))
    assert head.status_code == 200
    assert head.data == b""
    for name in ("Content-Type", "ETag", "Last-Modified", "Cache-Control", "X-Robots-Tag",
                 "Referrer-Policy"):
        assert head.headers[name] == get.headers[name], name
    if "Content-Length" in head.headers:
        assert head.headers["Content-Length"] == str(len(get.data))
    conditional = api.client.head(path_of(feed["url"]),
                                  headers={"If-None-Match": get.headers["ETag"]})
    assert conditional.status_code == 304


def test_an_unchanged_account_gives_identical_bytes(api: Api, item: dict[str, Any],
                                                    feed: dict[str, Any]) -> None:
    add_item(api, title="Second", grace_days=None, alarms=None)
    first = api.client.get(path_of(feed["url"]))
    api.get("/api/v1/items")
    api.get("/api/v1/me")
    second = api.client.get(path_of(feed["url"]))
    assert second.data == first.data
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Last-Modified"] == first.headers["Last-Modified"]


# -- changes ----------------------------------------------------------------------------

def test_an_item_edit_changes_body_validators_and_sequence(clock: Clock, api: Api,
                                                           feed: dict[str, Any]) -> None:
    created = add_item(api)
    uid = f"due-{created['id']}-0@feedsvc"
    before = api.client.get(path_of(feed["url"]))
    clock.tick()
    edited = api.patch(f"/api/v1/items/{created['id']}", json={"notes": "Pay with Alipay."})
    assert edited.status_code == 200
    after = api.client.get(path_of(feed["url"]))

    assert after.data != before.data
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.last_modified > before.last_modified
    old, new = events(before.data)[uid], events(after.data)[uid]
    assert new["SEQUENCE"] > old["SEQUENCE"]
    assert new.decoded("LAST-MODIFIED") > old.decoded("LAST-MODIFIED")
    assert "Pay with Alipay." in str(new["DESCRIPTION"])
    stale = api.client.get(path_of(feed["url"]),
                           headers={"If-None-Match": before.headers["ETag"]})
    assert stale.status_code == 200


@pytest.mark.parametrize("leaves", [
    ("delete", None), ("patch", {"archived": True}), ("patch", {"category": "domain"})])
def test_last_modified_moves_on_when_the_newest_change_leaves_the_feed(
        clock: Clock, api: Api, leaves: tuple[str, dict[str, Any] | None]) -> None:
    feed = new_feed(api, categories=["sim"])
    add_item(api)
    clock.tick()
    newest = add_item(api)
    before = api.client.get(path_of(feed["url"]))
    clock.tick()
    method, body = leaves
    # The feed's newest change goes: what is left changed earlier than what was served.
    url = f"/api/v1/items/{newest['id']}"
    answer = api.delete(url) if method == "delete" else api.patch(url, json=body)
    assert answer.status_code in (200, 204)
    after = api.client.get(path_of(feed["url"]))
    assert after.data != before.data
    assert after.last_modified > before.last_modified
    since = api.client.get(path_of(feed["url"]),
                           headers={"If-Modified-Since": before.headers["Last-Modified"]})
    assert since.status_code == 200, "If-Modified-Since must not hide the change"
    again = api.client.get(path_of(feed["url"]))
    assert again.headers["Last-Modified"] == after.headers["Last-Modified"]


def test_an_unchanging_edit_changes_nothing(clock: Clock, api: Api,
                                            feed: dict[str, Any]) -> None:
    created = add_item(api)
    before = api.client.get(path_of(feed["url"]))
    clock.tick()
    same = api.patch(f"/api/v1/items/{created['id']}", json={"title": created["title"]})
    assert same.status_code == 200
    assert api.client.get(path_of(feed["url"])).data == before.data


def test_a_settings_change_raises_sequence(clock: Clock, api: Api,
                                           feed: dict[str, Any]) -> None:
    created = add_item(api, alarms=None)
    uid = f"due-{created['id']}-0@feedsvc"
    before = events(api.client.get(path_of(feed["url"])).data)[uid]
    assert len([c for c in before.subcomponents if c.name == "VALARM"]) == 3
    clock.tick()
    patched = api.patch("/api/v1/me", json={"default_alarms": [{"days_before": 7,
                                                                 "at": "10:00"}]})
    assert patched.status_code == 200
    after = events(api.client.get(path_of(feed["url"])).data)[uid]
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after.decoded("LAST-MODIFIED") > before.decoded("LAST-MODIFIED")
    (alarm,) = [c for c in after.subcomponents if c.name == "VALARM"]
    assert alarm.decoded("TRIGGER") == dt.timedelta(days=-7, hours=10)


def test_a_language_change_translates_the_feed(clock: Clock, api: Api, item: dict[str, Any],
                                               feed: dict[str, Any]) -> None:
    clock.tick()
    assert api.patch("/api/v1/me", json={"locale": "zh-Hans"}).status_code == 200
    body = api.client.get(path_of(feed["url"])).data
    assert str(events(body)[f"due-{item['id']}-0@feedsvc"]["SUMMARY"]) == "续费：MTS Russia"


def test_archived_items_leave_the_feed(api: Api, item: dict[str, Any],
                                       feed: dict[str, Any]) -> None:
    uid = f"due-{item['id']}-0@feedsvc"
    assert uid in events(api.client.get(path_of(feed["url"])).data)
    assert api.patch(f"/api/v1/items/{item['id']}", json={"archived": True}).status_code == 200
    body = api.client.get(path_of(feed["url"])).data
    assert events(body) == {}
    assert b"MTS Russia" not in body


def test_category_feeds_show_only_their_categories(api: Api) -> None:
    sim = add_item(api, title="SIM card", category="sim")
    domain = add_item(api, title="example.org", category="domain")
    passport = add_item(api, title="Passport", category="document")
    filtered = new_feed(api, categories=["domain", "document"])
    shown = {str(e["SUMMARY"]) for e in events(api.client.get(path_of(filtered["url"])).data)
             .values() if str(e["UID"]).startswith("due-")}
    assert shown == {"Renew example.org", "Renew Passport"}
    everything = new_feed(api)
    uids = events(api.client.get(path_of(everything["url"])).data)
    for created in (sim, domain, passport):
        assert f"due-{created['id']}-0@feedsvc" in uids


def test_show_numbers_shows_the_full_number(api: Api, item: dict[str, Any]) -> None:
    masked = new_feed(api)
    shown = new_feed(api, show_numbers=True)
    uid = f"due-{item['id']}-0@feedsvc"
    masked_text = str(events(api.client.get(path_of(masked["url"])).data)[uid]["DESCRIPTION"])
    shown_text = str(events(api.client.get(path_of(shown["url"])).data)[uid]["DESCRIPTION"])
    assert "+7 916 123 45 67" not in masked_text and "•••• 4567" in masked_text
    assert "+7 916 123 45 67" in shown_text


def test_the_google_variant_has_lead_events(api: Api, item: dict[str, Any],
                                            feed: dict[str, Any]) -> None:
    plain = events(api.client.get(path_of(feed["url"])).data)
    assert not [uid for uid in plain if uid.startswith("lead-")]
    google_path = path_of(feed["url"]).removesuffix(".ics") + "/google.ics"
    response = api.client.get(google_path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CALENDAR_TYPE
    leads = [uid for uid in events(response.data) if uid.startswith("lead-")]
    assert leads == [f"lead-{item['id']}-0-14@feedsvc"]
    assert response.headers["ETag"] != api.client.get(path_of(feed["url"])).headers["ETag"]


# -- missing, rotated, deleted ----------------------------------------------------------

@pytest.mark.parametrize("token", [
    secrets.token_urlsafe(32),  # the right length, unknown
    "short",
    "x" * 200,
    "%E2%80%A2" * 10,
])
def test_unknown_token_is_404(client: FlaskClient, token: str) -> None:
    assert client.get(f"/feeds/{token}.ics").status_code == 404
    assert client.get(f"/feeds/{token}/google.ics").status_code == 404


def test_rotated_token_is_410_and_the_new_url_works(api: Api, item: dict[str, Any],
                                                    feed: dict[str, Any]) -> None:
    rotated = api.post(f"/api/v1/feeds/{feed['id']}/rotate")
    assert rotated.status_code == 200
    assert rotated.json["url"] != feed["url"]
    gone = api.client.get(path_of(feed["url"]))
    assert gone.status_code == 410
    assert b"BEGIN:VCALENDAR" not in gone.data
    google = path_of(feed["url"]).removesuffix(".ics") + "/google.ics"
    assert api.client.get(google).status_code == 410
    fresh = api.client.get(path_of(rotated.json["url"]))
    assert fresh.status_code == 200
    assert f"due-{item['id']}-0@feedsvc" in events(fresh.data)


def test_deleted_feed_is_410(api: Api, feed: dict[str, Any]) -> None:
    assert api.client.get(path_of(feed["url"])).status_code == 200
    assert api.delete(f"/api/v1/feeds/{feed['id']}").status_code == 204
    assert api.client.get(path_of(feed["url"])).status_code == 410
    assert api.client.head(path_of(feed["url"])).status_code == 410


def test_another_users_feed_is_404_through_the_api(api: Api, other_api: Api,
                                                   feed: dict[str, Any]) -> None:
    assert other_api.patch(f"/api/v1/feeds/{feed['id']}", json={"name": "Mine"}) \
        .status_code == 404
    assert other_api.post(f"/api/v1/feeds/{feed['id']}/rotate").status_code == 404
    assert other_api.delete(f"/api/v1/feeds/{feed['id']}").status_code == 404
    assert other_api.get("/api/v1/feeds").json["feeds"] == []
    assert api.client.get(path_of(feed["url"])).status_code == 200


def test_one_users_feed_shows_none_of_another_users_items(app: Flask, api: Api, other_api: Api,
                                                          feed: dict[str, Any]) -> None:
    response = other_api.post("/api/v1/items", json={**VALID_ITEM, "title": "Not yours"})
    assert response.status_code == 201
    assert b"Not yours" not in api.client.get(path_of(feed["url"])).data


def test_the_token_never_appears_in_the_response(api: Api, item: dict[str, Any],
                                                 feed: dict[str, Any]) -> None:
    token = path_of(feed["url"]).rsplit("/", 1)[1].removesuffix(".ics")
    for path in (path_of(feed["url"]), path_of(feed["url"]).removesuffix(".ics") + "/google.ics"):
        response = api.client.get(path)
        assert response.status_code == 200
        assert token.encode() not in response.data
        assert all(token not in value for _, value in response.headers.items())


# -- database trouble -------------------------------------------------------------------

def _operational_error(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))


def _runtime_error(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("something broke half-way")


@pytest.mark.parametrize("failure", [_operational_error, _runtime_error])
@pytest.mark.parametrize("target", ["feed_view", "read_source", "assemble", "item_events"])
def test_trouble_is_503_never_a_calendar(monkeypatch: pytest.MonkeyPatch, api: Api,
                                         item: dict[str, Any], feed: dict[str, Any],
                                         failure: Any, target: str) -> None:
    module = ics if target in ("assemble", "item_events") else feedsvc.feed.source
    monkeypatch.setattr(module, target, failure)
    for method in (api.client.get, api.client.head):
        response = method(path_of(feed["url"]))
        assert response.status_code == 503
        assert not response.headers["Content-Type"].startswith("text/calendar")
        assert b"BEGIN:VCALENDAR" not in response.data
        assert "ETag" not in response.headers


def test_a_lost_database_is_503(monkeypatch: pytest.MonkeyPatch, api: Api,
                                 feed: dict[str, Any]) -> None:
    def broken_session(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("connect", {}, Exception("could not connect to server"))

    # Both the fast path and the route lose the database.
    monkeypatch.setattr(feedsvc.feed.serve, "feed_connections", broken_session)
    response = api.client.get(path_of(feed["url"]))
    assert response.status_code == 503
    assert b"BEGIN:VCALENDAR" not in response.data


# -- golden files -----------------------------------------------------------------------

GOLDEN_TODAY = dt.date(2026, 11, 22)
GOLDEN_NOW = dt.datetime(2026, 11, 22, 1, 2, 3, tzinfo=dt.UTC)
# The "I renewed it" links are keyed with the feed's secret, which is random: the golden
# feed gets this one.
GOLDEN_FEED_SECRET = "0123456789abcdef" * 4


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every clock the demo account and its feed read, stopped at GOLDEN_NOW."""
    monkeypatch.setattr(status, "utc_now", lambda: GOLDEN_NOW)
    monkeypatch.setattr(feedsvc.feed.serve, "today_in", lambda timezone, now=None: GOLDEN_TODAY)
    yield


def demo_feed_path(app: Flask, locale: str) -> str:
    """Create the demo account with the frozen clock; its default feed's path."""
    with app.app_context(), new_session(app) as session:
        assert create_demo(session, SECRET_KEY, GOLDEN_TODAY)
        user = accounts.user_by_email(session, DEMO_EMAIL)
        if locale != "en":
            accounts.update_settings(session, user, locale=locale)
        # The account's own timestamps come from column defaults, which read the real clock.
        session.execute(update(User).where(User.id == user.id)
                        .values(created_at=GOLDEN_NOW, updated_at=GOLDEN_NOW))
        (feed,) = feeds.list_feeds(session, user)
        feed.secret = GOLDEN_FEED_SECRET
        token = feeds.feed_token(SECRET_KEY, feed.secret)
        feed.token_hash = accounts.hash_token(token)
        session.commit()
    return f"/feeds/{token}.ics"


GOLDEN = [
    ("demo-feed.ics", "en", ""),
    ("demo-feed-zh-Hans.ics", "zh-Hans", ""),
    ("demo-feed-google.ics", "en", "/google.ics"),
]


@pytest.mark.parametrize(("name", "locale", "variant"), GOLDEN)
def test_golden_demo_feed(frozen: None, app: Flask, client: FlaskClient, name: str,
                          locale: str, variant: str) -> None:
    path = demo_feed_path(app, locale)
    if variant:
        path = path.removesuffix(".ics") + variant
    response = client.get(path)
    assert response.status_code == 200
    golden = DATA / name
    if UPDATE_GOLDEN:
        DATA.mkdir(exist_ok=True)
        golden.write_bytes(response.data)
    assert golden.exists(), f"{golden} is missing: run with FEEDSVC_UPDATE_GOLDEN=1"
    assert response.data == golden.read_bytes(), (
        f"the feed differs from {golden.name}; if the change is intended, "
        "rewrite it with FEEDSVC_UPDATE_GOLDEN=1 and review the diff")
    assert response.last_modified == GOLDEN_NOW


def test_golden_files_do_not_depend_on_the_secret_key(frozen: None, app: Flask,
                                                      client: FlaskClient) -> None:
    # The feed's bytes name neither its URL token nor the key (its action links carry
    # sealed tokens of their own).
    path = demo_feed_path(app, "en")
    body = client.get(path).data
    assert path.split("/")[-1].removesuffix(".ics").encode() not in body
    assert SECRET_KEY.encode() not in body


def test_a_second_account_does_not_change_the_demo_feed(frozen: None, app: Flask,
                                                        client: FlaskClient) -> None:
    path = demo_feed_path(app, "en")
    before = client.get(path).data
    other = make_user(app, "someone@example.com")
    Api(client, other["token"]).post("/api/v1/items", json=VALID_ITEM)
    assert client.get(path).data == before
