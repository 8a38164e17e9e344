"""/api/v1/feeds as the specification's table says: settings, secret URLs, ownership."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
from flask import Flask
from sqlalchemy import text

from feedsvc import feeds
from feedsvc.accounts import hash_token
from feedsvc.db import new_session
from feedsvc.models import Base, Feed

from helpers import SECRET_KEY, Api

FEEDS = "/api/v1/feeds"
BASE = "https://feeds.example.org"
TOKEN = r"[A-Za-z0-9_-]{43}"
FEED_URL = re.compile(rf"^{re.escape(BASE)}/feeds/({TOKEN})\.ics$")
FEED_KEYS = {"id", "name", "categories", "reminder_events", "show_numbers", "action_links",
             "url", "webcal_url", "google_url", "created_at", "updated_at"}


def create(api: Api, **settings: Any) -> dict[str, Any]:
    response = api.post(FEEDS, json=settings)
    assert response.status_code == 201, response.json
    return response.json


def token_of(feed: dict[str, Any]) -> str:
    match = FEED_URL.match(feed["url"])
    assert match, feed["url"]
    return match.group(1)


def check_urls(feed: dict[str, Any]) -> None:
    token = token_of(feed)
    assert feed["webcal_url"] == f"webcal://feeds.example.org/feeds/{token}.ics"
    google = urlsplit(feed["google_url"])
    assert (google.scheme, google.netloc, google.path) == (
        "https", "calendar.google.com", "/calendar/render")
    (cid,) = parse_qs(google.query)["cid"]
    expected = f"/feeds/{token}.ics" if feed["reminder_events"] else f"/feeds/{token}/google.ics"
    assert cid == f"webcal://feeds.example.org{expected}"


# -- the table ----------------------------------------------------------------------------

def test_a_new_account_without_feeds_lists_none(api: Api) -> None:
    response = api.get(FEEDS)
    assert response.status_code == 200
    assert response.json == {"feeds": []}


def test_create_a_feed_with_defaults(api: Api) -> None:
    response = api.post(FEEDS, json={})
    assert response.status_code == 201
    feed = response.json
    assert set(feed) == FEED_KEYS
    assert feed["name"] == "All renewals"
    assert feed["categories"] is None
    assert feed["reminder_events"] is False
    assert feed["show_numbers"] is False
    assert response.headers["Location"].endswith(f"{FEEDS}/{feed['id']}")
    check_urls(feed)


def test_create_a_feed_with_every_setting(api: Api) -> None:
    feed = create(api, name="SIM cards 保号卡", categories=["sim", "domain"],
                  reminder_events=True, show_numbers=True)
    assert feed["name"] == "SIM cards 保号卡"
    assert sorted(feed["categories"]) == ["domain", "sim"]
    assert feed["reminder_events"] is True
    assert feed["show_numbers"] is True
    check_urls(feed)


def test_list_feeds_oldest_first_with_the_same_urls_every_time(api: Api) -> None:
    first = create(api, name="One")
    second = create(api, name="Two", reminder_events=True)
    listed = api.get(FEEDS).json["feeds"]
    assert [f["id"] for f in listed] == [first["id"], second["id"]]
    assert listed[0]["url"] == first["url"] and listed[1]["url"] == second["url"]
    assert api.get(FEEDS).json["feeds"] == listed
    for feed in listed:
        assert set(feed) == FEED_KEYS
        check_urls(feed)


def test_patch_changes_only_what_it_names(api: Api) -> None:
    feed = create(api, name="One", categories=["sim"])
    response = api.patch(f"{FEEDS}/{feed['id']}", json={"show_numbers": True})
    assert response.status_code == 200
    assert response.json["show_numbers"] is True
    assert response.json["name"] == "One"
    assert response.json["categories"] == ["sim"]
    assert response.json["url"] == feed["url"]
    again = api.patch(f"{FEEDS}/{feed['id']}", json={"categories": None, "name": "All"})
    assert again.json["categories"] is None
    assert again.json["name"] == "All"
    assert api.get(FEEDS).json["feeds"] == [again.json]


def test_turning_reminder_events_on_points_google_at_the_feed_itself(api: Api) -> None:
    feed = create(api)
    assert "google.ics" in parse_qs(urlsplit(feed["google_url"]).query)["cid"][0]
    on = api.patch(f"{FEEDS}/{feed['id']}", json={"reminder_events": True}).json
    check_urls(on)
    assert "google.ics" not in on["google_url"]


def test_the_google_link_serves_lead_events(api: Api, item: dict[str, Any]) -> None:
    for feed in (create(api), create(api, reminder_events=True)):
        cid = parse_qs(urlsplit(feed["google_url"]).query)["cid"][0]
        response = api.client.get(urlsplit(cid).path)
        assert response.status_code == 200
        uids = [str(e["UID"]) for e in icalendar.Calendar.from_ical(response.data)
                .walk("VEVENT")]
        assert f"lead-{item['id']}-0-14@feedsvc" in uids


def test_rotate_gives_a_new_url_and_retires_the_old_one(api: Api) -> None:
    feed = create(api, name="Rotating", categories=["sim"])
    response = api.post(f"{FEEDS}/{feed['id']}/rotate")
    assert response.status_code == 200
    rotated = response.json
    assert rotated["id"] == feed["id"]
    assert (rotated["name"], rotated["categories"]) == ("Rotating", ["sim"])
    assert token_of(rotated) != token_of(feed)
    assert rotated["webcal_url"] != feed["webcal_url"]
    assert rotated["google_url"] != feed["google_url"]
    check_urls(rotated)
    assert api.get(FEEDS).json["feeds"][0]["url"] == rotated["url"]
    assert api.client.get(urlsplit(feed["url"]).path).status_code == 410
    assert api.client.get(urlsplit(rotated["url"]).path).status_code == 200
    twice = api.post(f"{FEEDS}/{feed['id']}/rotate").json
    assert api.client.get(urlsplit(feed["url"]).path).status_code == 410
    assert api.client.get(urlsplit(rotated["url"]).path).status_code == 410
    assert api.client.get(urlsplit(twice["url"]).path).status_code == 200


def test_delete_a_feed(api: Api) -> None:
    keep = create(api, name="Keep")
    gone = create(api, name="Gone")
    response = api.delete(f"{FEEDS}/{gone['id']}")
    assert response.status_code == 204
    assert response.data == b""
    assert [f["id"] for f in api.get(FEEDS).json["feeds"]] == [keep["id"]]
    assert api.delete(f"{FEEDS}/{gone['id']}").status_code == 404
    assert api.patch(f"{FEEDS}/{gone['id']}", json={"name": "x"}).status_code == 404
    assert api.client.get(urlsplit(gone["url"]).path).status_code == 410


# -- bad input ----------------------------------------------------------------------------

BAD_SETTINGS = [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "two\nlines"}, "name"),
    ({"name": "tab\there"}, "name"),
    ({"name": None}, "name"),
    ({"name": 7}, "name"),
    ({"categories": []}, "categories"),
    ({"categories": ["car"]}, "categories"),
    ({"categories": "sim"}, "categories"),
    ({"categories": [None]}, "categories"),
    ({"reminder_events": "yes"}, "reminder_events"),
    ({"reminder_events": 1}, "reminder_events"),
    ({"reminder_events": None}, "reminder_events"),
    ({"show_numbers": "true"}, "show_numbers"),
    ({"colour": "red"}, "colour"),
    ({"url": "https://evil.example/"}, "url"),
    ({"id": 5}, "id"),
]


@pytest.mark.parametrize(("body", "field"), BAD_SETTINGS,
                         ids=[f"{field}={body!r}"[:40] for body, field in BAD_SETTINGS])
def test_bad_settings_are_refused_naming_the_field(api: Api, body: dict[str, Any],
                                                   field: str) -> None:
    response = api.post(FEEDS, json={"name": "Fine", **body})
    assert response.status_code == 422, response.json
    fields = response.json["error"]["fields"]
    assert any(name == field or name.startswith(field + ".") for name in fields), fields
    assert api.get(FEEDS).json["feeds"] == []

    feed = create(api, name="Fine")
    patched = api.patch(f"{FEEDS}/{feed['id']}", json=body)
    assert patched.status_code == 422, patched.json
    fields = patched.json["error"]["fields"]
    assert any(name == field or name.startswith(field + ".") for name in fields), fields
    assert api.get(FEEDS).json["feeds"] == [feed]


@pytest.mark.parametrize("body", [[], "name", 3, None])
def test_a_body_that_is_not_an_object_is_refused(api: Api, body: Any) -> None:
    response = api.client.post(FEEDS, data=json.dumps(body), headers={
        **api.headers, "Content-Type": "application/json"})
    # Well-formed JSON (a 400 is for malformed bodies) that fails validation: 422.
    assert response.status_code == 422, response.json
    assert response.json["error"]["fields"] == {"body": "must be an object"}
    assert api.get(FEEDS).json["feeds"] == []


def test_a_body_that_is_not_json_is_refused(api: Api) -> None:
    response = api.client.post(FEEDS, data="{", headers={**api.headers,
                                                         "Content-Type": "application/json"})
    assert response.status_code == 400
    form = api.client.post(FEEDS, data={"name": "x"}, headers=api.headers)
    assert form.status_code == 415


def test_feeds_need_a_token(client: Any) -> None:
    assert client.get(FEEDS).status_code == 401
    assert client.post(FEEDS, json={}).status_code == 401


# -- ownership ----------------------------------------------------------------------------

@pytest.mark.parametrize("feed_id", ["mine-for-them", 0, 999999, 2**31, 2**63, 10**30])
def test_another_users_or_a_missing_feed_is_404(api: Api, other_api: Api,
                                                feed_id: Any) -> None:
    feed = create(api, name="Mine")
    target = feed["id"] if feed_id == "mine-for-them" else feed_id
    for response in (
        other_api.patch(f"{FEEDS}/{target}", json={"name": "Theirs"}),
        other_api.delete(f"{FEEDS}/{target}"),
        other_api.post(f"{FEEDS}/{target}/rotate"),
    ):
        assert response.status_code == 404, response.json
        assert response.json["error"]["status"] == 404
    assert api.get(FEEDS).json["feeds"] == [feed]
    assert other_api.get(FEEDS).json["feeds"] == []
    assert api.client.get(urlsplit(feed["url"]).path).status_code == 200


# -- secrets ------------------------------------------------------------------------------

def test_tokens_carry_256_bits_and_differ(api: Api) -> None:
    tokens = {token_of(create(api, name=f"Feed {n}")) for n in range(5)}
    assert len(tokens) == 5
    for token in tokens:
        assert re.fullmatch(TOKEN, token)
        # 43 URL-safe base64 characters hold 258 bits; at least 128 must be random.
        assert len(token) * 6 >= 128


def test_the_database_alone_does_not_reveal_a_token(app: Flask, api: Api) -> None:
    feed = create(api, name="Secret")
    token = token_of(feed)
    rotated_token = token_of(api.post(f"{FEEDS}/{feed['id']}/rotate").json)
    with app.app_context(), new_session(app) as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(text(f'SELECT * FROM "{table.name}"')):
                for value in row:
                    assert token not in str(value), table.name
                    assert rotated_token not in str(value), table.name
        stored = session.get(Feed, feed["id"])
        assert stored is not None
        assert stored.token_hash == hash_token(rotated_token)
        assert feeds.feed_token(SECRET_KEY, stored.secret) == rotated_token
        # Without the app's secret key, the stored secret opens nothing.
        assert feeds.feed_token("another-key", stored.secret) != rotated_token
        assert stored.secret not in rotated_token


def test_feed_urls_use_the_configured_base_url(app: Flask, api: Api) -> None:
    app.config["FEEDSVC_BASE_URL"] = "https://cal.example.net/"
    feed = create(api)
    assert feed["url"].startswith("https://cal.example.net/feeds/")
    assert feed["webcal_url"].startswith("webcal://cal.example.net/feeds/")
    assert "//feeds" not in feed["url"].split("://", 1)[1]
