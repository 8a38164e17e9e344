"""Feeds' "I renewed it" links: the ``action_links`` setting, the links in the calendar, and a
cache that never serves links keyed on an old secret, another key or another base URL."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import icalendar
import pytest
from flask import Flask
from sqlalchemy import delete, select

from feedsvc import actions, create_app
from feedsvc.db import get_engine, new_session
from feedsvc.models import Feed, FeedCacheEntry, User
from feedsvc.openapi import document

from helpers import (
    SECRET_KEY,
    VALID_ITEM,
    Api,
    app_config,
    route_only_client,
    signed_in,
)

BASE = "https://feeds.example.org"
LINK_LINE = re.compile(r"(?:I renewed it: |我已续费：)(\S+)\Z")


def path_of(url: str) -> str:
    return urlsplit(url).path


@pytest.fixture
def feed(api: Api, item: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/api/v1/feeds", json={"name": "Links"})
    assert response.status_code == 201, response.json
    return response.json


def events(body: bytes) -> list[Any]:
    return list(icalendar.Calendar.from_ical(body).walk("VEVENT"))


def links(body: bytes) -> dict[str, str]:
    """The "I renewed it" link of each event that has one, by UID."""
    found = {}
    for event in events(body):
        last_line = str(event.get("DESCRIPTION", "")).split("\n")[-1]
        match = LINK_LINE.match(last_line)
        if match:
            found[str(event["UID"])] = match.group(1)
    return found


def token_of(link: str, base: str = BASE) -> str:
    assert link.startswith(f"{base}/act/"), link
    return link.removeprefix(f"{base}/act/")


def feed_secret(app: Flask, feed_id: int) -> str:
    with new_session(app) as session:
        return session.get_one(Feed, feed_id).secret


def empty_cache(app: Flask) -> None:
    with new_session(app) as session:
        session.execute(delete(FeedCacheEntry))
        session.commit()


# -- in the calendar ---------------------------------------------------------------------------

def test_each_event_of_the_current_cycle_carries_the_link_by_default(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    assert feed["action_links"] is True
    api.post(f"/api/v1/items/{item['id']}/renewals", json={})  # a past renewal event too
    renewed = api.get(f"/api/v1/items/{item['id']}").json
    google = api.client.get(path_of(feed["url"]).removesuffix(".ics") + "/google.ics").data
    found = links(google)
    uids = sorted(str(event["UID"]) for event in events(google))
    # The due, grace and lead events of the cycle; the past renewal's event has none.
    assert sorted(found) == [uid for uid in uids if not uid.startswith("renewal-")]
    assert {uid.split("-")[0] for uid in found} == {"due", "grace", "lead"}
    [link] = set(found.values())
    action = actions.read_token(SECRET_KEY, token_of(link))
    assert (action.action, action.item_id, action.due_date, action.feed_id) == (
        actions.RENEW, item["id"], dt.date.fromisoformat(renewed["due_date"]), feed["id"])
    assert action.feed_tag == actions.feed_tag(feed_secret(app, feed["id"]), item["id"],
                                               action.due_date, actions.RENEW)


def test_the_link_speaks_the_accounts_language(api: Api, feed: dict[str, Any]) -> None:
    api.patch("/api/v1/me", json={"locale": "zh-Hans"})
    body = api.client.get(path_of(feed["url"])).data.decode()
    assert "我已续费：" in body.replace("\r\n ", "") and "I renewed it" not in body


def test_a_feed_without_action_links_has_none(
        app: Flask, api: Api, item: dict[str, Any]) -> None:
    off = api.post("/api/v1/feeds", json={"action_links": False}).json
    assert off["action_links"] is False
    body = api.client.get(path_of(off["url"])).data
    assert links(body) == {} and b"/act/" not in body.replace(b"\r\n ", b"")
    on = api.patch(f"/api/v1/feeds/{off['id']}", json={"action_links": True}).json
    assert len(links(api.client.get(path_of(on["url"])).data)) == 2  # due and grace


def test_turning_the_links_off_changes_the_cached_feed(api: Api, feed: dict[str, Any]) -> None:
    path = path_of(feed["url"])
    assert links(api.client.get(path).data)
    api.patch(f"/api/v1/feeds/{feed['id']}", json={"action_links": False})
    assert links(api.client.get(path).data) == {}


def test_an_unchanged_account_gives_the_same_bytes_on_every_path(
        app: Flask, api: Api, feed: dict[str, Any]) -> None:
    path = path_of(feed["url"])
    first = api.client.get(path).data
    assert links(first)
    assert api.client.get(path).data == first  # the fast path
    assert route_only_client(app).get(path).data == first  # the route
    empty_cache(app)
    assert route_only_client(app).get(path).data == first  # built again from nothing
    empty_cache(app)
    assert api.client.get(path).data == first  # built again by the fast path
    other = create_app(app.config)
    assert other.test_client().get(path).data == first  # another worker
    get_engine(other).dispose()


def test_the_single_item_download_carries_no_link(
        app: Flask, client: Any, user: dict[str, Any], item: dict[str, Any]) -> None:
    download = signed_in(client, user).client.get(f"/items/{item['id']}.ics")
    assert download.status_code == 200 and links(download.data) == {}


# -- rotation, and everything else the links are keyed on ---------------------------------------

def test_rotating_kills_the_old_links_and_the_new_address_carries_new_ones(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    old_body = api.client.get(path_of(feed["url"])).data  # now in the cache
    [old_link] = set(links(old_body).values())
    assert api.client.get(path_of(old_link)).status_code == 200
    rotated = api.post(f"/api/v1/feeds/{feed['id']}/rotate").json
    assert api.client.get(path_of(feed["url"])).status_code == 410
    assert api.client.get(path_of(old_link)).status_code == 410
    new_body = api.client.get(path_of(rotated["url"])).data  # the fast path, first
    [new_link] = set(links(new_body).values())
    assert new_link != old_link
    assert route_only_client(app).get(path_of(rotated["url"])).data == new_body
    page = api.client.get(path_of(new_link))
    assert page.status_code == 200 and b"I renewed it" in page.data
    # Only the links moved: the rest of the calendar is as it was.
    assert new_body.replace(b"\r\n ", b"").replace(token_of(new_link).encode(), b"") == \
        old_body.replace(b"\r\n ", b"").replace(token_of(old_link).encode(), b"")


def test_the_cache_is_keyed_on_the_base_url(
        app: Flask, api: Api, feed: dict[str, Any], tmp_path: Path) -> None:
    path = path_of(feed["url"])
    assert api.client.get(path).status_code == 200  # cached under the first base URL
    moved = create_app(app_config(tmp_path / "moved", app.config["FEEDSVC_DATABASE_URL"],
                                  FEEDSVC_BASE_URL="https://calendar.example.net"))
    for client in (moved.test_client(), route_only_client(moved)):
        [link] = set(links(client.get(path).data).values())
        assert link.startswith("https://calendar.example.net/act/")
    get_engine(moved).dispose()


def test_the_cache_is_keyed_on_the_secret_key(
        app: Flask, api: Api, feed: dict[str, Any], tmp_path: Path) -> None:
    # With another key the old URL is still found (by its stored hash), but links sealed
    # under the old key would be refused: the cached calendar must not be served.
    path = path_of(feed["url"])
    assert api.client.get(path).status_code == 200
    rekeyed = create_app(app_config(tmp_path / "rekeyed", app.config["FEEDSVC_DATABASE_URL"],
                                    FEEDSVC_SECRET_KEY="another key"))
    for client in (rekeyed.test_client(), route_only_client(rekeyed)):
        [link] = set(links(client.get(path).data).values())
        assert actions.read_token("another key", token_of(link)).feed_id == feed["id"]
        with pytest.raises(actions.BadToken):
            actions.read_token(SECRET_KEY, token_of(link))
    get_engine(rekeyed).dispose()


def test_a_renewal_through_the_feeds_link_moves_the_feed_to_the_next_cycle(
        app: Flask, api: Api, item: dict[str, Any], feed: dict[str, Any]) -> None:
    path = path_of(feed["url"])
    [link] = set(links(api.client.get(path).data).values())
    browser = signed_in(app.test_client(), {"id": 1})
    form = browser.get(path_of(link)).form(path_of(link))
    assert browser.client.post(path_of(link), data=form.fields).status_code == 200
    [next_link] = set(links(api.client.get(path).data).values())
    assert next_link != link
    assert actions.read_token(SECRET_KEY, token_of(next_link)).due_date == dt.date(2027, 6, 30)


# -- the setting: API, calendars page, backups --------------------------------------------------

@pytest.mark.parametrize("value", ["true", 1, None, [], {}])
def test_the_api_refuses_an_action_links_that_is_not_a_boolean(
        api: Api, feed: dict[str, Any], value: Any) -> None:
    for response in (api.post("/api/v1/feeds", json={"action_links": value}),
                     api.patch(f"/api/v1/feeds/{feed['id']}", json={"action_links": value})):
        assert response.status_code == 422
        assert "action_links" in response.json["error"]["fields"]
    assert api.get("/api/v1/feeds").json["feeds"][0]["action_links"] is True


def test_the_api_lists_and_changes_action_links(api: Api, feed: dict[str, Any]) -> None:
    assert api.get("/api/v1/feeds").json["feeds"][0]["action_links"] is True
    changed = api.patch(f"/api/v1/feeds/{feed['id']}", json={"action_links": False}).json
    assert changed["action_links"] is False
    assert api.get("/api/v1/feeds").json["feeds"][0]["action_links"] is False


def test_the_openapi_document_describes_action_links() -> None:
    schemas = document()["components"]["schemas"]
    assert schemas["FeedFields"]["properties"]["action_links"]["type"] == "boolean"
    assert schemas["FeedFields"]["properties"]["action_links"]["default"] is True
    assert schemas["FeedPatch"]["properties"]["action_links"]["type"] == "boolean"
    assert "action_links" in schemas["FeedOut"]["properties"]


def test_the_calendars_page_has_the_setting_ticked_for_a_new_calendar(
        client: Any, user: dict[str, Any], api: Api) -> None:
    browser = signed_in(client, user)
    form = browser.get("/calendars/new")
    assert form.values("/calendars/new")["action_links"] == "on"
    assert "Anyone who can read the calendar can use it." in form.text
    created = browser.submit("/calendars/new", {"name": "No links", "action_links": None},
                             action="/calendars/new")
    assert created.status == 302
    [feed] = api.get("/api/v1/feeds").json["feeds"]
    assert (feed["name"], feed["action_links"]) == ("No links", False)
    edit = browser.get(f"/calendars/{feed['id']}")
    assert "action_links" not in edit.values(f"/calendars/{feed['id']}")
    browser.submit(f"/calendars/{feed['id']}", {"action_links": "on"},
                   action=f"/calendars/{feed['id']}")
    assert api.get("/api/v1/feeds").json["feeds"][0]["action_links"] is True
    assert "with “I renewed it” links" in browser.get("/calendars").text


def test_a_backup_keeps_the_setting_and_an_older_one_gets_the_default(
        app: Flask, api: Api, tmp_path: Path) -> None:
    api.post("/api/v1/items", json=VALID_ITEM)
    api.post("/api/v1/feeds", json={"name": "Off", "action_links": False})
    exported = app.test_cli_runner().invoke(args=["export"])
    assert exported.exit_code == 0, exported.output
    backup = json.loads(exported.stdout)
    [row] = backup["tables"]["feeds"]
    assert row["action_links"] is False
    older = json.loads(exported.stdout)
    del older["tables"]["feeds"][0]["action_links"]
    for document_, expected in ((backup, False), (older, True)):
        with new_session(app) as session:  # the account goes, to come back from the file
            session.delete(session.scalars(select(User)).one())
            session.commit()
        path = tmp_path / "backup.json"
        path.write_text(json.dumps(document_))
        imported = app.test_cli_runner().invoke(args=["import", str(path)])
        assert imported.exit_code == 0, imported.output
        with new_session(app) as session:
            assert session.scalars(select(Feed.action_links)).one() is expected
