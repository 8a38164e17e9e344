"""The calendars page: feed URLs, subscribe links, QR codes, and creating, editing, rotating
and deleting feeds."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

import pytest
import segno
from flask import Flask
from flask.testing import FlaskClient

import feedsvc.db
from feedsvc import feeds
from feedsvc.models import User
from feedsvc.texts import DEFAULT_FEED_NAME

from helpers import VALID_ITEM, Api, Browser, Page, signed_in

BASE = "https://feeds.example.org"
FEED_URL = re.compile(
    r'<textarea id="feed-url-\d+" class="feed-url" readonly[^>]*>(https://[^<]+)</textarea>')


@pytest.fixture
def browser(app: Flask, client: FlaskClient, user: dict[str, Any]) -> Browser:
    """The user, signed in, with the default feed that sign-up would have made."""
    with app.app_context(), feedsvc.db.new_session(app) as session:
        feeds.ensure_default_feed(session, session.get_one(User, user["id"]),
                                  app.config["SECRET_KEY"])
        session.commit()
    return signed_in(client, user)


def first(pattern: str | re.Pattern[str], text: str) -> str:
    """The first group of the first match, unescaped; the test fails when there is none."""
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in:\n{text}"
    return html.unescape(found.group(1))


def cards(page: Page) -> dict[str, dict[str, Any]]:
    """Each feed card on the page by feed name: its id, URL, filter, links and HTML."""
    found = {}
    # Each card runs from its <li> to the closing tag at the same indentation.
    for part in page.text.split('<li class="calendar" id="feed-')[1:]:
        card = part.split("\n  </li>", 1)[0]
        found[first(r'<h2 class="calendar-name">(.*?)</h2>', card)] = {
            "id": int(card.split('"', 1)[0]),
            "url": first(FEED_URL, card),
            "filter": first(r'class="calendar-filter">(.*?)</p>', card),
            "links": [html.unescape(href)
                      for href in re.findall(r'<a class="button[^"]*" href="([^"]+)"', card)],
            "html": card,
        }
    return found


def only_card(page: Page) -> dict[str, Any]:
    [card] = cards(page).values()
    return card


def qr_modules(svg: str) -> tuple[int, set[tuple[int, int]]]:
    """The size and the dark modules (column, row) drawn by segno's SVG path."""
    view = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert view and view.group(1) == view.group(2)
    [path] = re.findall(r'<path class="qr-dark"[^>]* d="([^"]+)"', svg)
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:
            for step in range(int(a)):
                dark.add((int(x) + step, int(y)))
            x += float(a)
    return int(view.group(1)), dark


def test_the_page_lists_the_default_feed_with_every_way_to_subscribe(browser: Browser) -> None:
    page = browser.get("/calendars")
    assert page.status == 200
    card = cards(page)[DEFAULT_FEED_NAME]
    url = card["url"]
    assert re.fullmatch(BASE + r"/feeds/[A-Za-z0-9_-]{43}\.ics", url)
    assert card["filter"].startswith("All categories")
    webcal = "webcal://" + url.removeprefix("https://")
    google_feed = "webcal://" + url.removeprefix("https://").removesuffix(".ics") + "/google.ics"
    assert webcal in card["links"]
    assert ("https://calendar.google.com/calendar/render?cid=" + quote(google_feed, safe="")
            in card["links"])
    for words in ("Subscribe in Apple Calendar", "Keep alerts on", "Add to Google Calendar",
                  "Google ignores calendar alarms", "Outlook:", "Subscribe from web",
                  "Thunderbird:", "On the network"):
        assert words in card["html"]
    copy = re.search(r'<button type="button" class="[^"]*copy-button"[^>]*>', card["html"])
    assert copy and f'data-copy-target="feed-url-{card["id"]}"' in copy.group(0)
    assert "<script" not in page.text.split("</head>", 1)[1], "no inline scripts"


def test_the_feed_url_on_the_page_serves_the_calendar(
    browser: Browser, client: FlaskClient
) -> None:
    url = only_card(browser.get("/calendars"))["url"]
    answer = client.get(url.removeprefix(BASE))
    assert answer.status_code == 200
    assert answer.content_type == "text/calendar; charset=utf-8"


def test_the_qr_code_is_inline_svg_of_exactly_the_feed_url(browser: Browser) -> None:
    card = only_card(browser.get("/calendars"))
    figure = re.search(
        r'<div class="qr-code" role="img" aria-label="([^"]+)">(<svg.*?</svg>)</div>',
        card["html"], re.DOTALL)
    assert figure, card["html"]
    assert "QR code" in figure.group(1)
    svg = figure.group(2)
    assert "<image" not in svg and "href" not in svg, "drawn, not fetched"
    size, dark = qr_modules(svg)
    expected = segno.make(card["url"], micro=False)
    border = (size - expected.symbol_size(scale=1, border=0)[0]) // 2
    assert border >= 4, "a quiet zone of four modules"
    assert dark == {(column + border, row + border)
                    for row, line in enumerate(expected.matrix)
                    for column, module in enumerate(line) if module}


def test_pages_showing_feed_urls_are_kept_out_of_caches_and_referrers(browser: Browser) -> None:
    feed_id = only_card(browser.get("/calendars"))["id"]
    for path in ("/calendars", "/calendars/new", f"/calendars/{feed_id}",
                 f"/calendars/{feed_id}/rotate", f"/calendars/{feed_id}/delete"):
        response = browser.get(path).response
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
        assert response.headers["Referrer-Policy"] == "same-origin", path


def test_the_nav_links_to_the_calendars_page(browser: Browser) -> None:
    assert 'href="/calendars"' in browser.get("/").text
    assert 'href="/calendars" aria-current="page"' in browser.get("/calendars").text


def post_form(browser: Browser, path: str, data: dict[str, Any]) -> Page:
    """Send a form to ``path`` with this session's CSRF token; lists send repeated fields."""
    return Page(browser.client.post(path, data={**data, "csrf_token": browser.csrf_token()}))


def test_the_first_calendar_is_named_in_the_pages_language(browser: Browser, api: Api) -> None:
    assert api.patch("/api/v1/me", json={"locale": "zh-Hans"}).status_code == 200
    card = only_card(browser.get("/calendars"))
    assert "全部续费" in cards(browser.get("/calendars"))
    path = f"/calendars/{card['id']}"
    assert browser.get(path).values(path)["name"] == "全部续费"
    assert post_form(browser, path, {"name": "全部续费"}).status == 302
    [feed] = api.get("/api/v1/feeds").json["feeds"]
    assert feed["name"] == DEFAULT_FEED_NAME, "still the calendar named in each language"


def test_a_filtered_feed_serves_only_its_categories(browser: Browser, api: Api) -> None:
    for title, category in (("MTS Russia", "sim"), ("example.org", "domain"),
                            ("Netflix", "subscription")):
        assert api.post("/api/v1/items", json={**VALID_ITEM, "title": title,
                                               "category": category}).status_code == 201
    form = browser.get("/calendars/new").form()
    assert form.action == "/calendars/new"
    page = post_form(browser, "/calendars/new", {
        "name": "SIMs and domains", "categories": ["sim", "domain"], "reminder_events": "on"})
    assert page.status == 302
    assert page.response.location.startswith("/calendars#feed-")
    listing = browser.get("/calendars")
    assert "Created the calendar “SIMs and domains”." in " ".join(listing.flashes())
    card = cards(listing)["SIMs and domains"]
    assert card["filter"] == "Only: SIM, Domain · with reminder events · " \
                             "numbers masked (last 4 digits)"
    body = browser.client.get(card["url"].removeprefix(BASE)).get_data(as_text=True)
    assert "MTS Russia" in body and "example.org" in body and "Netflix" not in body
    assert "due in 14 days" in body, "reminder events are on"
    [feed] = [f for f in api.get("/api/v1/feeds").json["feeds"] if f["id"] == card["id"]]
    assert feed["categories"] == ["domain", "sim"]
    assert (feed["reminder_events"], feed["show_numbers"]) == (True, False)
    assert feed["url"] == card["url"]


def test_editing_a_feed_keeps_its_url(browser: Browser, api: Api) -> None:
    card = only_card(browser.get("/calendars"))
    path = f"/calendars/{card['id']}"
    values = browser.get(path).values(path)
    assert values["name"] == DEFAULT_FEED_NAME
    assert "categories" not in values and "reminder_events" not in values
    page = post_form(browser, path, {"name": "  Phones ", "categories": ["sim"],
                                     "show_numbers": "on"})
    assert page.status == 302
    [feed] = api.get("/api/v1/feeds").json["feeds"]
    assert (feed["name"], feed["categories"], feed["reminder_events"], feed["show_numbers"]) \
        == ("Phones", ["sim"], False, True)
    assert feed["url"] == card["url"]
    form = browser.get(path)
    assert form.control("categories-sim").get("checked") is not None
    assert form.control("categories-domain").get("checked") is None
    assert form.control("show_numbers").get("checked") is not None
    # Unticking every category means every category again.
    assert post_form(browser, path, {"name": "Phones"}).status == 302
    [feed] = api.get("/api/v1/feeds").json["feeds"]
    assert (feed["categories"], feed["show_numbers"]) == (None, False)


def test_rotating_retires_the_old_url(browser: Browser, client: FlaskClient) -> None:
    old = only_card(browser.get("/calendars"))
    path = f"/calendars/{old['id']}/rotate"
    confirm = browser.get(path)
    assert "stops working" in confirm.text and "subscribed again" in confirm.text
    assert client.get(old["url"].removeprefix(BASE)).status_code == 200, "asking changes nothing"
    page = browser.submit(path, action=path)
    assert page.status == 302
    listing = browser.get("/calendars")
    new = only_card(listing)
    assert new["id"] == old["id"] and new["url"] != old["url"]
    assert old["url"] not in listing.text
    assert client.get(old["url"].removeprefix(BASE)).status_code == 410
    assert client.get(new["url"].removeprefix(BASE)).status_code == 200
    assert any("has a new address" in flash for flash in listing.flashes())


def test_deleting_retires_the_url(browser: Browser, client: FlaskClient, api: Api) -> None:
    card = only_card(browser.get("/calendars"))
    path = f"/calendars/{card['id']}/delete"
    assert "stops working" in browser.get(path).text
    assert browser.submit(path, action=path).status == 302
    assert client.get(card["url"].removeprefix(BASE)).status_code == 410
    listing = browser.get("/calendars")
    assert cards(listing) == {}
    assert "You have no calendars." in listing.text
    assert api.get("/api/v1/feeds").json["feeds"] == []


BAD_INPUTS = [
    ({"name": ""}, "name", "must not be empty"),
    ({"name": "   "}, "name", "must not be empty"),
    ({"name": "x" * 101}, "name", "at most 100 characters"),
    ({"name": "two\nlines"}, "name", "must be one line"),
    ({"name": "Mine", "categories": ["sim", "pets"]}, "categories", "“pets”: Input should be"),
]


@pytest.mark.parametrize("data, control, message", BAD_INPUTS,
                         ids=["empty", "spaces", "too-long", "newline", "category"])
@pytest.mark.parametrize("editing", [False, True], ids=["create", "edit"])
def test_bad_feed_settings_answer_422_next_to_the_field_and_change_nothing(
    browser: Browser, api: Api, data: dict[str, Any], control: str, message: str,
    editing: bool
) -> None:
    before = api.get("/api/v1/feeds").json
    path = f"/calendars/{before['feeds'][0]['id']}" if editing else "/calendars/new"
    page = post_form(browser, path, {**data, "reminder_events": "on"})
    assert page.status == 422
    assert message in (page.error(control) or ""), page.text
    assert "Please correct the marked fields" in page.text
    assert page.values(path)["name"] == data["name"], "input kept"
    assert page.control("reminder_events").get("checked") is not None, "input kept"
    if "categories" in data:
        assert page.control("categories-sim").get("checked") is not None
    assert api.get("/api/v1/feeds").json == before


CSRF_PATHS = ["/calendars/new", "/calendars/{id}", "/calendars/{id}/rotate",
              "/calendars/{id}/delete"]


@pytest.mark.parametrize("path", CSRF_PATHS)
@pytest.mark.parametrize("token", [None, "forged"], ids=["missing", "forged"])
def test_a_feed_form_without_a_valid_csrf_token_is_refused_and_changes_nothing(
    browser: Browser, api: Api, path: str, token: str | None
) -> None:
    before = api.get("/api/v1/feeds").json
    data = {"name": "sneaky"} if token is None else {"name": "sneaky", "csrf_token": token}
    page = Page(browser.client.post(path.format(id=before["feeds"][0]["id"]), data=data))
    assert page.status == 400
    assert "The form expired; please try again." in page.text
    assert api.get("/api/v1/feeds").json == before


@pytest.mark.parametrize("path", ["/calendars/{id}", "/calendars/{id}/rotate",
                                  "/calendars/{id}/delete"])
def test_another_users_feed_is_not_found_on_every_route(
    app: Flask, browser: Browser, api: Api, other_user: dict[str, Any], path: str
) -> None:
    before = api.get("/api/v1/feeds").json
    mine = path.format(id=before["feeds"][0]["id"])
    stranger = signed_in(app.test_client(), other_user)
    assert stranger.get(mine).status == 404
    answer = Page(stranger.client.post(mine, data={"name": "mine now",
                                                   "csrf_token": stranger.csrf_token()}))
    assert answer.status == 404
    assert api.get("/api/v1/feeds").json == before
    assert stranger.get("/calendars/999999999999/rotate").status == 404


def test_the_calendars_page_needs_a_login(client: FlaskClient) -> None:
    for path in ("/calendars", "/calendars/new", "/calendars/1", "/calendars/1/rotate"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.location, path
