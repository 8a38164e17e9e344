"""Action links' pages (/act/<token>): "I renewed it" and "Remind me tomorrow" without a log-in.

A GET changes nothing; the button's POST acts once per cycle; tokens that are altered,
expired, from a rotated feed or for something deleted get a 404 or 410 page, never a 500.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import threading
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from feedsvc import accounts, feeds, reminders, renewals, status
from feedsvc.actions import RENEW, SNOOZE, BadToken, make_token, read_token
from feedsvc.db import new_session
from feedsvc.models import Feed, Item, Renewal, Snooze, User

from helpers import PASSWORD, SECRET_KEY, VALID_ITEM, Api, Browser, Page, make_user, signed_in

ITEMS = "/api/v1/items"
NOON = dt.datetime(2027, 1, 19, 12, 0, tzinfo=dt.UTC)
TODAY = "2027-01-19"
# VALID_ITEM ("MTS Russia") is due 2027-03-31 every 3 months on schedule, at 300.00 RUB.
DUE = dt.date(2027, 3, 31)
NEXT_DUE = "2027-06-30"
ENGLISH = {"Accept-Language": "en"}
CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9"}


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every "today" and "now" in the app is 2027-01-19, UTC noon."""
    monkeypatch.setattr(status, "utc_now", lambda: NOON)


def create(api: Api, **fields: Any) -> dict[str, Any]:
    response = api.post(ITEMS, json={**VALID_ITEM, **fields})
    assert response.status_code == 201, response.json
    return response.json


def act_path(item: dict[str, Any], action: str = RENEW, due: dt.date | None = None,
             feed_id: int | None = None, feed_secret: str | None = None) -> str:
    due = due or dt.date.fromisoformat(item["due_date"])
    return "/act/" + make_token(SECRET_KEY, action, item["id"], due, feed_id, feed_secret)


def visitor(app: Flask) -> Browser:
    """A browser that has never been here: no session, no log-in."""
    return Browser(app.test_client())


def state(app: Flask, item_id: int) -> tuple[Any, ...]:
    """What an action could change: the item's row, its renewals and its snoozes."""
    with new_session(app) as session:
        item = session.get_one(Item, item_id)
        return (item.due_date, item.version, item.next_reminder_at,
                list(session.scalars(select(Renewal.id).where(Renewal.item_id == item_id))),
                list(session.scalars(select(Snooze.id).where(Snooze.item_id == item_id))))


def renewal_count(app: Flask, item_id: int) -> int:
    return len(state(app, item_id)[3])


def shown(page: Page) -> str:
    """The text of the page's main part, tags left out and spaces collapsed."""
    main = page.text.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", main.split(">", 1)[1]).split())


def act_forms(page: Page) -> list[str]:
    return [form.action for form in page.forms if form.action.startswith("/act/")]


def lang(page: Page) -> str:
    match = re.search(r'<html lang="([^"]+)">', page.text)
    assert match, page.text[:200]
    return match.group(1)


def press(browser: Browser, path: str, changes: dict[str, str | None] | None = None) -> Page:
    """Open an action link and press its button."""
    return browser.submit(path, changes, action=path)


# -- GET changes nothing ------------------------------------------------------------------

@pytest.mark.parametrize(("action", "button"), [(RENEW, "I renewed it"),
                                                (SNOOZE, "Remind me tomorrow")])
def test_a_get_shows_only_the_title_the_due_date_and_one_button(
        app: Flask, item: dict[str, Any], action: str, button: str) -> None:
    path = act_path(item, action)
    before = state(app, item["id"])
    page = visitor(app).get(path)
    assert page.status == 200
    assert act_forms(page) == [path]
    text = shown(page)
    assert text.startswith("MTS Russia Due Mar 31, 2027")
    assert text.endswith(button)
    for private in ("MTS ", "4567", "Sberbank", "300.00", "Top up", "mts.ru", "RU"):
        assert private not in text.replace("MTS Russia", ""), private
    assert visitor(app).client.head(path).status_code == 200
    assert state(app, item["id"]) == before


def test_a_get_or_head_of_every_kind_of_page_changes_nothing(
        app: Flask, api: Api, item: dict[str, Any]) -> None:
    browser = visitor(app)
    press(browser, act_path(item))
    before = state(app, item["id"])
    for path in (act_path(item), act_path(item, SNOOZE), act_path(item, due=DUE.replace(year=2026))):
        assert browser.get(path).status in (200, 410)
        assert browser.client.head(path).status_code in (200, 410)
    assert state(app, item["id"]) == before


def test_a_get_needs_no_session_and_works_for_someone_else_signed_in(
        app: Flask, item: dict[str, Any]) -> None:
    someone = make_user(app, "someone@example.com")
    for browser in (visitor(app), signed_in(app.test_client(), someone)):
        page = browser.get(act_path(item))
        assert page.status == 200 and act_forms(page) == [act_path(item)]


# -- I renewed it ---------------------------------------------------------------------------

def test_i_renewed_it_records_todays_renewal_like_the_one_tap_button(
        app: Flask, api: Api, item: dict[str, Any]) -> None:
    path = act_path(item)
    page = press(visitor(app), path)
    assert page.status == 200, page.text
    [renewal] = api.get(f"{ITEMS}/{item['id']}/renewals").json["renewals"]
    assert (renewal["renewed_on"], renewal["periods"], renewal["amount"], renewal["currency"],
            renewal["due_before"], renewal["due_after"]) == (
        TODAY, 1, "300.00", "RUB", "2027-03-31", NEXT_DUE)
    assert api.get(f"{ITEMS}/{item['id']}").json["due_date"] == NEXT_DUE
    text = shown(page)
    assert "MTS Russia renewed: next due Jun 30, 2027" in text
    assert "Due Jun 30, 2027" in text
    assert act_forms(page) == [path + "/undo"]
    assert page.values(path + "/undo")["renewal"] == str(renewal["id"])


def test_today_is_the_accounts_day(app: Flask, api: Api, item: dict[str, Any],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    api.patch("/api/v1/me", json={"timezone": "Pacific/Kiritimati"})  # UTC+14: already the 20th
    press(visitor(app), act_path(item))
    [renewal] = api.get(f"{ITEMS}/{item['id']}/renewals").json["renewals"]
    assert renewal["renewed_on"] == "2027-01-20"


def test_a_second_post_says_already_renewed_and_does_not_renew(
        app: Flask, item: dict[str, Any]) -> None:
    path = act_path(item)
    browser = visitor(app)
    form = browser.get(path).form(path)
    first = Page(browser.client.post(path, data=form.fields))
    second = Page(browser.client.post(path, data=form.fields))
    assert (first.status, second.status) == (200, 409)
    assert "“MTS Russia” was already renewed on Jan 19, 2027, next due Jun 30, 2027." \
        in shown(second)
    assert act_forms(second) == []
    assert renewal_count(app, item["id"]) == 1


def test_a_link_used_after_a_renewal_from_the_list_says_already_renewed(
        app: Flask, client: FlaskClient, user: dict[str, Any], item: dict[str, Any]) -> None:
    path = act_path(item)
    browser = visitor(app)
    form = browser.get(path).form(path)
    listing = signed_in(client, user)
    assert listing.submit("/", action=f"/items/{item['id']}/renew").status == 302
    page = browser.get(path)
    assert page.status == 200 and act_forms(page) == []
    assert "already renewed on Jan 19, 2027, next due Jun 30, 2027" in shown(page)
    posted = Page(browser.client.post(path, data=form.fields))
    assert posted.status == 409
    assert "already renewed on Jan 19, 2027, next due Jun 30, 2027" in shown(posted)
    assert renewal_count(app, item["id"]) == 1


def test_a_link_for_a_due_date_that_was_edited_away_no_longer_applies(
        app: Flask, api: Api, item: dict[str, Any]) -> None:
    path = act_path(item)
    api.patch(f"{ITEMS}/{item['id']}", json={"due_date": "2027-04-30"})
    page = visitor(app).get(path)
    assert page.status == 200 and act_forms(page) == []
    assert "This link was for the due date Mar 31, 2027, but “MTS Russia” is now due " \
        "Apr 30, 2027, so it no longer applies." in shown(page)
    assert press_anyway(app, path).status == 409
    assert renewal_count(app, item["id"]) == 0


def press_anyway(app: Flask, path: str) -> Page:
    """POST to a link whose page shows no button, with a valid CSRF token."""
    browser = visitor(app)
    token = browser.csrf_token()
    return Page(browser.client.post(path, data={"csrf_token": token}))


@pytest.mark.parametrize("attempt", range(3))
def test_two_posts_at_the_same_moment_renew_once(app: Flask, item: dict[str, Any],
                                                 attempt: int) -> None:
    path = act_path(item)
    browsers = [visitor(app) for _ in range(2)]
    forms = [browser.get(path).form(path) for browser in browsers]
    start = threading.Barrier(2)
    statuses: list[int] = []

    def tap(browser: Browser, fields: dict[str, str]) -> None:
        start.wait()
        statuses.append(browser.client.post(path, data=fields).status_code)

    threads = [threading.Thread(target=tap, args=(browser, form.fields))
               for browser, form in zip(browsers, forms, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    assert renewal_count(app, item["id"]) == 1


def test_a_write_that_lost_a_race_records_nothing_and_says_so(
        app: Flask, item: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def lost(*args: Any, **kwargs: Any) -> None:
        raise StaleDataError("the item's version moved")

    path = act_path(item)
    browser = visitor(app)
    form = browser.get(path).form(path)
    monkeypatch.setattr(renewals, "renew", lost)
    page = Page(browser.client.post(path, data=form.fields))
    assert page.status == 409
    assert "was changed elsewhere at the same moment, so nothing was recorded" in shown(page)
    assert act_forms(page) == [path]
    assert renewal_count(app, item["id"]) == 0


def test_the_post_needs_the_csrf_token(app: Flask, item: dict[str, Any]) -> None:
    browser = visitor(app)
    browser.get(act_path(item))
    assert browser.client.post(act_path(item), data={}).status_code == 400
    assert renewal_count(app, item["id"]) == 0


def test_the_title_is_escaped(app: Flask, api: Api) -> None:
    item = create(api, title="<b>MTS</b>")
    page = press(visitor(app), act_path(item))
    assert "&lt;b&gt;MTS&lt;/b&gt;" in page.text and "<b>MTS" not in page.text


# -- an item without a repeat rule ------------------------------------------------------------

def test_an_item_without_a_repeat_rule_asks_for_the_new_due_date(
        app: Flask, api: Api) -> None:
    item = create(api, repeat=None)
    path = act_path(item)
    browser = visitor(app)
    form = browser.get(path)
    assert form.control("due_date")["required"] == "required"
    assert form.control("due_date")["min"] == "2027-04-01"
    missing = press(browser, path)
    assert missing.status == 422
    assert missing.error("due_date") == "Error: is required for an item that does not repeat"
    early = press(browser, path, {"due_date": "2027-03-01"})
    assert early.status == 422
    assert early.error("due_date") == "Error: must be after the current due date Mar 31, 2027"
    assert early.values(path)["due_date"] == "2027-03-01"
    garbled = press(browser, path, {"due_date": "soon"})
    assert garbled.status == 422 and garbled.error("due_date")
    assert renewal_count(app, item["id"]) == 0
    done = press(browser, path, {"due_date": "2028-03-31"})
    assert done.status == 200
    assert "MTS Russia renewed: next due Mar 31, 2028" in shown(done)
    assert api.get(f"{ITEMS}/{item['id']}").json["due_date"] == "2028-03-31"


def test_a_repeating_item_ignores_fields_the_page_does_not_show(
        app: Flask, api: Api, item: dict[str, Any]) -> None:
    path = act_path(item)
    page = press(visitor(app), path, {"due_date": "2030-01-01", "amount": "1"})
    assert page.status == 200
    assert api.get(f"{ITEMS}/{item['id']}").json["due_date"] == NEXT_DUE


# -- undo -----------------------------------------------------------------------------------

def test_undo_on_the_result_page_undoes_that_renewal(
        app: Flask, api: Api, item: dict[str, Any]) -> None:
    path = act_path(item)
    browser = visitor(app)
    result = press(browser, path)
    undone = Page(browser.client.post(path + "/undo", data=result.values(path + "/undo")))
    assert undone.status == 200
    assert "Undid the renewal of Jan 19, 2027: “MTS Russia” is due Mar 31, 2027 again." \
        in shown(undone)
    assert api.get(f"{ITEMS}/{item['id']}").json["due_date"] == "2027-03-31"
    assert renewal_count(app, item["id"]) == 0
    # The cycle is open again, and so is the link.
    assert act_forms(undone) == [path]
    assert press(browser, path).status == 200
    assert renewal_count(app, item["id"]) == 1


def test_undo_is_refused_once_another_renewal_came_after(
        app: Flask, api: Api, item: dict[str, Any]) -> None:
    path = act_path(item)
    browser = visitor(app)
    undo_form = press(browser, path).values(path + "/undo")
    assert api.post(f"{ITEMS}/{item['id']}/renewals", json={}).status_code == 201
    refused = Page(browser.client.post(path + "/undo", data=undo_form))
    assert refused.status == 409
    assert "Nothing was undone: that renewal is no longer the latest one of “MTS Russia”, " \
        "which is due Sep 30, 2027." in shown(refused)
    assert renewal_count(app, item["id"]) == 2
    assert api.get(f"{ITEMS}/{item['id']}").json["due_date"] == "2027-09-30"


@pytest.mark.parametrize("changes", [
    {"renewal": ""}, {"renewal": "0"}, {"renewal": "2"}, {"renewal": "1; DROP TABLE"},
    {"renewal": "²"}, {"renewal": "9" * 300}, {"proof": ""}, {"proof": "0" * 32},
    {"proof": "é" * 32}, {"proof": None}, {"renewal": None}])
def test_undo_needs_the_renewal_and_proof_its_page_gave(
        app: Flask, item: dict[str, Any], changes: dict[str, str | None]) -> None:
    path = act_path(item)
    browser = visitor(app)
    fields: dict[str, str | None] = {**press(browser, path).values(path + "/undo"), **changes}
    sent = {name: value for name, value in fields.items() if value is not None}
    page = Page(browser.client.post(path + "/undo", data=sent))
    assert page.status == 409
    assert renewal_count(app, item["id"]) == 1


def test_a_renewal_made_elsewhere_cannot_be_undone_through_a_link(
        app: Flask, api: Api, item: dict[str, Any]) -> None:
    # It may carry what the link knows nothing of (a receipt), and whoever holds the link
    # (a calendar's subscribers) did not make it.
    api.post(f"{ITEMS}/{item['id']}/renewals", json={"reference": "R-1"})
    [renewal] = api.get(f"{ITEMS}/{item['id']}/renewals").json["renewals"]
    for path in (act_path(item), act_path(item, SNOOZE)):
        browser = visitor(app)
        page = Page(browser.client.post(path + "/undo", data={
            "csrf_token": browser.csrf_token(), "renewal": str(renewal["id"])}))
        assert page.status == 409, path
        assert "this page can only undo the renewal that was made on it" in shown(page)
    assert renewal_count(app, item["id"]) == 1


# -- remind me tomorrow -----------------------------------------------------------------------

def test_remind_me_tomorrow_plans_one_more_reminder(app: Flask, item: dict[str, Any]) -> None:
    with new_session(app) as session:
        session.execute(update(Item).where(Item.id == item["id"])
                        .values(next_reminder_at=NOON + dt.timedelta(days=30)))
        session.commit()
    page = press(visitor(app), act_path(item, SNOOZE))
    assert page.status == 200
    assert "We will remind you again at Jan 20, 2027, 12:00 PM (UTC time)." in shown(page)
    assert act_forms(page) == []
    with new_session(app) as session:
        [snooze] = session.scalars(select(Snooze))
        assert (snooze.item_id, snooze.due_date, snooze.remind_at) == (
            item["id"], DUE, NOON + dt.timedelta(hours=24))
        found = session.get_one(Item, item["id"])
        assert found.next_reminder_at == reminders.REPLAN
        assert found.version == 1, "a snooze is not an edit"
    assert renewal_count(app, item["id"]) == 0


@pytest.mark.parametrize(("zone", "locale", "expected"), [
    ("Europe/Moscow", "en", "Jan 20, 2027, 3:00 PM (Europe/Moscow time)"),
    ("Asia/Shanghai", "zh-Hans", "2027年1月20日 20:00"),
])
def test_the_reminder_time_is_said_in_the_accounts_zone_and_language(
        app: Flask, api: Api, item: dict[str, Any], zone: str, locale: str,
        expected: str) -> None:
    api.patch("/api/v1/me", json={"timezone": zone, "locale": locale})
    page = press(visitor(app), act_path(item, SNOOZE))
    assert page.status == 200 and expected in shown(page)


def test_remind_me_tomorrow_after_the_last_useful_day_says_it_is_too_late(
        app: Flask, api: Api) -> None:
    item = create(api, due_date="2027-01-10", grace_days=None)
    page = press(visitor(app), act_path(item, SNOOZE))
    assert page.status == 409
    assert "Too late for another reminder: the last day for “MTS Russia” was Jan 11, 2027." \
        in shown(page)
    assert state(app, item["id"])[4] == []


def test_remind_me_tomorrow_after_a_renewal_says_already_renewed(
        app: Flask, api: Api, item: dict[str, Any]) -> None:
    path = act_path(item, SNOOZE)
    browser = visitor(app)
    form = browser.get(path).form(path)
    api.post(f"{ITEMS}/{item['id']}/renewals", json={})
    page = Page(browser.client.post(path, data=form.fields))
    assert page.status == 409 and "already renewed on Jan 19, 2027" in shown(page)
    assert state(app, item["id"])[4] == []


# -- languages ------------------------------------------------------------------------------

def test_the_pages_speak_the_owners_language_whatever_the_browser_says(
        app: Flask, api: Api, item: dict[str, Any]) -> None:
    api.patch("/api/v1/me", json={"locale": "zh-Hans"})
    page = visitor(app).get(act_path(item), headers=ENGLISH)
    assert lang(page) == "zh-Hans" and "2027年3月31日" in page.text
    done = press(visitor(app), act_path(item))
    assert lang(done) == "zh-Hans" and "2027年6月30日" in done.text


# -- links that act on nothing ------------------------------------------------------------------

def altered(token: str, position: int, mask: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[position] ^= mask
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_a_token_for_one_item_altered_to_name_another_is_refused(
        app: Flask, item: dict[str, Any], other_api: Api) -> None:
    theirs = create(other_api, title="Someone else's SIM")
    assert (item["id"], theirs["id"]) == (1, 2)
    token = act_path(item).removeprefix("/act/")
    # The sealed payload is the 16-byte tag, then version, action, item id (8 bytes, big
    # endian), ...: flipping the id's last byte from 1 to 2 breaks the tag.
    for position in (16 + 9, 9):
        forged = altered(token, position, 1 ^ 2)
        with pytest.raises(BadToken):
            read_token(SECRET_KEY, forged)
        browser = visitor(app)
        assert browser.get(f"/act/{forged}").status == 404
        page = Page(browser.client.post(f"/act/{forged}", data={
            "csrf_token": browser.csrf_token()}))
        assert page.status == 404 and "Someone else" not in page.text
    assert renewal_count(app, theirs["id"]) == 0


BAD_TOKENS = [
    pytest.param(lambda t: t[:-1], id="cut short"),
    pytest.param(lambda t: t + "A", id="one more character"),
    pytest.param(lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), id="changed end"),
    pytest.param(lambda t: t.upper(), id="upper case"),
    pytest.param(lambda t: "x", id="one character"),
    pytest.param(lambda t: "A" * len(t), id="all A"),
    pytest.param(lambda t: "not-a-token", id="words"),
    pytest.param(lambda t: "%C3%A9t%C3%A9", id="non-ASCII"),
    pytest.param(lambda t: "%00", id="NUL"),
    pytest.param(lambda t: "=" * 8, id="padding"),
    pytest.param(lambda t: t * 40, id="very long"),
    pytest.param(lambda t: make_token("another installation", RENEW, 1, DUE), id="other key"),
]


@pytest.mark.parametrize("change", BAD_TOKENS)
@pytest.mark.parametrize(("headers", "expected_lang"), [(ENGLISH, "en"),
                                                        (CHINESE, "zh-Hans")])
def test_a_bad_token_gets_a_404_page_in_the_visitors_language(
        app: Flask, item: dict[str, Any], change: Any, headers: dict[str, str],
        expected_lang: str) -> None:
    path = "/act/" + change(act_path(item).removeprefix("/act/"))
    browser = visitor(app)
    before = state(app, item["id"])
    page = browser.get(path, headers=headers)
    assert page.status == 404 and lang(page) == expected_lang
    assert "MTS" not in page.text
    for suffix in ("", "/undo"):
        posted = Page(browser.client.post(path + suffix, headers=headers, data={
            "csrf_token": browser.csrf_token(), "renewal": "1"}))
        assert posted.status == 404 and lang(posted) == expected_lang
    assert state(app, item["id"]) == before


def _expired(app: Flask, api: Api, item: dict[str, Any]) -> str:
    # The cycle due 2026-11-01 (grace 30 days) stopped acting 30 days after 2026-12-01.
    return act_path(item, due=dt.date(2026, 11, 1))


def _rotated(app: Flask, api: Api, item: dict[str, Any]) -> str:
    feed = api.post("/api/v1/feeds", json={}).json
    path = feed_link(app, item, feed["id"])
    assert api.post(f"/api/v1/feeds/{feed['id']}/rotate").status_code == 200
    return path


def _feed_deleted(app: Flask, api: Api, item: dict[str, Any]) -> str:
    feed = api.post("/api/v1/feeds", json={}).json
    path = feed_link(app, item, feed["id"])
    assert api.delete(f"/api/v1/feeds/{feed['id']}").status_code == 204
    return path


def _links_turned_off(app: Flask, api: Api, item: dict[str, Any]) -> str:
    feed = api.post("/api/v1/feeds", json={}).json
    path = feed_link(app, item, feed["id"])
    assert api.patch(f"/api/v1/feeds/{feed['id']}", json={"action_links": False}).json[
        "action_links"] is False
    return path


def _another_users_feed(app: Flask, api: Api, item: dict[str, Any]) -> str:
    other = make_user(app, "other@example.com")
    feed = Api(app.test_client(), other["token"]).post("/api/v1/feeds", json={}).json
    return feed_link(app, item, feed["id"])


def _item_deleted(app: Flask, api: Api, item: dict[str, Any]) -> str:
    path = act_path(item)
    assert api.delete(f"{ITEMS}/{item['id']}").status_code == 204
    return path


def _account_deleted(app: Flask, api: Api, item: dict[str, Any]) -> str:
    path = act_path(item)
    with new_session(app) as session:
        user = session.scalars(select(User)).one()
        accounts.delete_account(session, user, PASSWORD)
        session.commit()
    return path


def feed_link(app: Flask, item: dict[str, Any], feed_id: int) -> str:
    with new_session(app) as session:
        secret = session.get_one(Feed, feed_id).secret
    return act_path(item, feed_id=feed_id, feed_secret=secret)


# (how the link died, whether the owner is still known: then the page speaks their language)
GONE = [
    pytest.param(_expired, True, "This link has expired.", id="expired"),
    pytest.param(_rotated, True, "the calendar it came from has a new address", id="rotated"),
    pytest.param(_feed_deleted, True, "the calendar it came from", id="feed deleted"),
    pytest.param(_links_turned_off, True, "no longer carries such links", id="links off"),
    pytest.param(_another_users_feed, True, "the calendar it came from", id="another's feed"),
    pytest.param(_item_deleted, False, "what it was for has been deleted", id="item deleted"),
    pytest.param(_account_deleted, False, "what it was for has been deleted",
                 id="account deleted"),
]


@pytest.mark.parametrize(("kill", "owner_known", "says"), GONE)
@pytest.mark.parametrize("locale", ["en", "zh-Hans"])
def test_a_dead_link_gets_a_410_page_in_the_right_language(
        app: Flask, api: Api, item: dict[str, Any], kill: Any, owner_known: bool, says: str,
        locale: str) -> None:
    # The owner's language when the item is still known, the visitor's otherwise: each
    # case sets one of them to ``locale`` and the other to the other language.
    other = "en" if locale == "zh-Hans" else "zh-Hans"
    api.patch("/api/v1/me", json={"locale": locale if owner_known else other})
    visitor_headers = CHINESE if (other if owner_known else locale) == "zh-Hans" else ENGLISH
    path = kill(app, api, item)
    browser = visitor(app)
    page = browser.get(path, headers=visitor_headers)
    assert page.status == 410, page.text
    assert lang(page) == locale
    if locale == "en":
        assert says in shown(page)
    assert "MTS" not in shown(page)
    for suffix in ("", "/undo"):
        posted = Page(browser.client.post(path + suffix, headers=visitor_headers, data={
            "csrf_token": browser.csrf_token(), "renewal": "1"}))
        assert posted.status == 410 and lang(posted) == locale
    if owner_known and kill is not _another_users_feed:
        assert renewal_count(app, item["id"]) == 0


def test_a_link_lives_until_30_days_after_the_grace_period(
        app: Flask, api: Api, item: dict[str, Any]) -> None:
    # Due 2026-11-20 with 30 days of grace: the last day it acts is 2027-01-19, today.
    assert visitor(app).get(act_path(item, due=dt.date(2026, 11, 20))).status == 200
    assert visitor(app).get(act_path(item, due=dt.date(2026, 11, 19))).status == 410


def test_a_feeds_link_acts_like_a_reminders(app: Flask, api: Api, item: dict[str, Any]) -> None:
    feed = api.post("/api/v1/feeds", json={}).json
    path = feed_link(app, item, feed["id"])
    assert press(visitor(app), path).status == 200
    assert renewal_count(app, item["id"]) == 1


def test_the_link_of_a_deleted_feed_never_acts_even_if_its_id_is_reused(
        app: Flask, api: Api, item: dict[str, Any]) -> None:
    feed = api.post("/api/v1/feeds", json={}).json
    path = feed_link(app, item, feed["id"])
    api.delete(f"/api/v1/feeds/{feed['id']}")
    # Whether or not a new feed gets the old id, its secret is another one.
    with new_session(app) as session:
        feeds.create_feed(session, session.scalars(select(User)).one(), SECRET_KEY, {})
        session.commit()
    assert visitor(app).get(path).status == 410
