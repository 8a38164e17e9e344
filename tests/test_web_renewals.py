"""Marking items renewed in the browser: the one-tap button, the form, history, undo,
statuses in the list, and what was spent. Every form is sent with its CSRF token."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from feedsvc import renewals, status
from feedsvc.db import get_engine
from feedsvc.models import Item

from helpers import VALID_ITEM, Api, Browser, Page, make_user, signed_in

ITEMS = "/api/v1/items"
NOON = dt.datetime(2027, 1, 19, 12, 0, tzinfo=dt.UTC)
TODAY = "2027-01-19"
# VALID_ITEM is due 2027-03-31 every 3 months on schedule, at 300.00 RUB.
NEXT_DUE = "2027-06-30"
# The same days as an English page shows them.
TODAY_SHOWN = "Jan 19, 2027"
NEXT_DUE_SHOWN = "Jun 30, 2027"


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every "today" in the app is 2027-01-19 (UTC noon)."""
    monkeypatch.setattr(status, "utc_now", lambda: NOON)
    yield


@pytest.fixture
def browser(client: FlaskClient, user: dict[str, Any]) -> Browser:
    return signed_in(client, user)


def create(api: Api, **fields: Any) -> dict[str, Any]:
    response = api.post(ITEMS, json={**VALID_ITEM, **fields})
    assert response.status_code == 201, response.json
    return response.json


def stored(api: Api, item_id: int) -> dict[str, Any]:
    return api.get(f"{ITEMS}/{item_id}").json


def history(api: Api, item_id: int) -> list[dict[str, Any]]:
    response = api.get(f"{ITEMS}/{item_id}/renewals")
    assert response.status_code == 200, response.json
    return response.json["renewals"]


def renew_url(item_id: int) -> str:
    return f"/items/{item_id}/renew"


def undo_url(item_id: int) -> str:
    return f"/items/{item_id}/renewals/undo"


def tap_renewed(browser: Browser, item_id: int) -> Page:
    """Press "Renewed" on the item list."""
    return browser.submit("/", action=renew_url(item_id))


def shown(html: str) -> str:
    """What a reader sees of some HTML: its text without the tags, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def history_rows(page: Page) -> list[str]:
    """Each history entry of an item page as one line of text."""
    section = page.text.split('id="renewals"', 1)[1]
    entries = re.findall(r'<li class="renewal">(.*?)</li>', section, re.DOTALL)
    return [shown(entry) for entry in entries]


# One tap from the list


def test_one_tap_renews_a_repeating_item_at_its_usual_price(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    page = tap_renewed(browser, item["id"])
    assert page.status == 302, page.text
    assert page.response.location == "/"
    assert stored(api, item["id"])["due_date"] == NEXT_DUE
    [renewal] = history(api, item["id"])
    assert (renewal["renewed_on"], renewal["periods"], renewal["amount"], renewal["currency"],
            renewal["due_before"], renewal["due_after"]) == (
        TODAY, 1, "300.00", "RUB", "2027-03-31", NEXT_DUE)
    listing = browser.get("/")
    [flash] = listing.flashes()
    assert flash.startswith(f"MTS Russia renewed: next due {NEXT_DUE_SHOWN} <a ")
    assert f'href="{undo_url(item["id"])}"' in flash and ">Undo</a>" in flash
    assert f'Last renewed <time datetime="{TODAY}">{TODAY_SHOWN}</time>' in listing.text
    assert browser.get("/").flashes() == [], "the confirmation is shown once"


def test_the_confirmation_escapes_the_title(browser: Browser, api: Api) -> None:
    item = create(api, title="<b>MTS</b>")
    tap_renewed(browser, item["id"])
    [flash] = browser.get("/").flashes()
    assert "&lt;b&gt;MTS&lt;/b&gt; renewed" in flash
    assert "<b>" not in flash


def test_an_item_without_repeat_rule_leads_to_the_form_that_asks_for_the_due_date(
    browser: Browser, api: Api
) -> None:
    item = create(api, repeat=None)
    listing = browser.get("/")
    assert f'<a class="button" href="{renew_url(item["id"])}">Renewed…' in listing.text
    assert not [form for form in listing.forms if form.action == renew_url(item["id"])]
    form = browser.get(renew_url(item["id"]))
    assert form.control("due_date")["required"] == "required"
    assert "periods" not in form.values()
    missing = browser.submit(renew_url(item["id"]))
    assert missing.status == 422
    assert missing.error("due_date") == \
        "Error: is required for an item that does not repeat"
    assert history(api, item["id"]) == []
    done = browser.submit(renew_url(item["id"]), {"due_date": "2028-03-31"})
    assert done.status == 302, done.text
    assert stored(api, item["id"])["due_date"] == "2028-03-31"
    assert "MTS Russia renewed: next due Mar 31, 2028" in browser.get("/").flashes()[0]


def test_a_one_tap_post_for_an_item_without_repeat_rule_names_the_due_date(
    browser: Browser, api: Api
) -> None:
    item = create(api, repeat=None)
    token = browser.csrf_token()
    page = Page(browser.client.post(renew_url(item["id"]), data={"csrf_token": token}))
    assert page.status == 422
    assert page.error("due_date") == "Error: is required for an item that does not repeat"
    assert page.values(renew_url(item["id"]))["amount"] == "300.00"
    assert history(api, item["id"]) == []


def test_a_second_tap_from_the_same_page_does_not_renew_twice(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    listing = browser.get("/")
    sent = listing.values(renew_url(item["id"]))
    assert Page(browser.client.post(renew_url(item["id"]), data=sent)).status == 302
    again = Page(browser.client.post(renew_url(item["id"]), data=sent))
    assert again.status == 409
    assert "was changed elsewhere after this page was opened" in again.text
    assert f"It is now due {NEXT_DUE_SHOWN}." in again.text
    assert len(history(api, item["id"])) == 1
    # The page offers the form on the item as it is now, so sending it renews once more.
    assert Page(browser.client.post(renew_url(item["id"]),
                                    data=again.values(renew_url(item["id"])))).status == 302
    assert len(history(api, item["id"])) == 2


# The form


def test_the_form_starts_with_today_one_period_the_price_and_a_preview(
    browser: Browser, item: dict[str, Any]
) -> None:
    page = browser.get(renew_url(item["id"]))
    assert page.status == 200
    values = page.values()
    assert {name: values[name] for name in ("renewed_on", "periods", "due_date", "amount",
                                            "currency", "method", "reference", "note")} == {
        "renewed_on": TODAY, "periods": "1", "due_date": "", "amount": "300.00",
        "currency": "RUB", "method": "", "reference": "", "note": "",
    }
    assert "× 3 months" in page.text
    assert page.texts["renew-preview"] == \
        f"Next due date: {NEXT_DUE_SHOWN} (1 period, renewed {TODAY_SHOWN})"
    assert f'<time datetime="{NEXT_DUE}">{NEXT_DUE_SHOWN}</time>' in page.text
    assert page.control("renewed_on")["max"] == TODAY
    assert "Repeats every 3 months, counted from the previous due date." in page.text
    for method in ("card", "PayPal", "Alipay", "WeChat Pay", "bank transfer", "cash",
                   "carrier app"):
        assert f'<option value="{method}">' in page.text


def test_renewing_with_every_field(browser: Browser, api: Api, item: dict[str, Any]) -> None:
    page = browser.submit(renew_url(item["id"]), {
        "renewed_on": "2027-01-10", "periods": "2", "amount": "550.5", "currency": "eur",
        "method": "Alipay", "reference": " ORDER-123 ", "note": "Paid for half a year.\r\nOK.",
    })
    assert page.status == 302, page.text
    assert page.response.location == "/"
    [renewal] = history(api, item["id"])
    assert {name: renewal[name] for name in (
        "renewed_on", "periods", "amount", "currency", "method", "reference", "note",
        "due_before", "due_after")} == {
        "renewed_on": "2027-01-10", "periods": 2, "amount": "550.5", "currency": "EUR",
        "method": "Alipay", "reference": "ORDER-123", "note": "Paid for half a year.\nOK.",
        "due_before": "2027-03-31", "due_after": "2027-09-30",
    }
    assert stored(api, item["id"])["due_date"] == "2027-09-30"


def test_a_due_date_given_in_the_form_overrides_the_rule(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    page = browser.submit(renew_url(item["id"]), {"due_date": "2027-05-15"})
    assert page.status == 302, page.text
    assert stored(api, item["id"])["due_date"] == "2027-05-15"


def test_emptying_the_amount_and_currency_records_no_payment(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    page = browser.submit(renew_url(item["id"]), {"amount": "", "currency": ""})
    assert page.status == 302, page.text
    [renewal] = history(api, item["id"])
    assert (renewal["amount"], renewal["currency"]) == (None, None)


def test_the_preview_button_shows_the_new_due_date_and_stores_nothing(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    page = browser.submit(renew_url(item["id"]), {"periods": "4", "preview": "1",
                                                  "method": "card"})
    assert page.status == 200, page.text
    assert page.texts["renew-preview"] == \
        f"Next due date: Mar 31, 2028 (4 periods, renewed {TODAY_SHOWN})"
    assert page.values()["periods"] == "4"
    assert page.values()["method"] == "card"
    assert history(api, item["id"]) == []
    assert stored(api, item["id"])["due_date"] == "2027-03-31"
    assert stored(api, item["id"])["updated_at"] == item["updated_at"]
    sent = Page(browser.client.post(renew_url(item["id"]), data=page.values()))
    assert sent.status == 302
    assert stored(api, item["id"])["due_date"] == "2028-03-31"


class Bad(NamedTuple):
    id: str
    changes: dict[str, str]
    control: str
    message: str


BAD_INPUTS = [
    Bad("periods-0", {"periods": "0"}, "periods", "greater than or equal to 1"),
    Bad("periods-121", {"periods": "121"}, "periods", "less than or equal to 120"),
    Bad("periods-letters", {"periods": "x"}, "periods", "valid integer"),
    Bad("periods-fraction", {"periods": "1.5"}, "periods", "valid integer"),
    Bad("amount-negative", {"amount": "-1"}, "amount", "non-negative"),
    Bad("amount-comma", {"amount": "12,50"}, "amount", "amount such as"),
    Bad("amount-5-decimals", {"amount": "1.23456"}, "amount", "at most 4 decimals"),
    Bad("amount-missing-with-currency", {"amount": ""}, "amount",
        "is required with a currency"),
    Bad("currency-ZZZ", {"currency": "ZZZ"}, "currency", "ISO 4217"),
    Bad("currency-EURO", {"currency": "EURO"}, "currency", "ISO 4217"),
    Bad("renewed-on-impossible", {"renewed_on": "2026-02-30"}, "renewed_on",
        "not a real calendar date"),
    Bad("renewed-on-not-iso", {"renewed_on": "19/01/2027"}, "renewed_on", "YYYY-MM-DD"),
    Bad("renewed-on-future", {"renewed_on": "2027-01-20"}, "renewed_on",
        "cannot be in the future"),
    Bad("due-date-same", {"due_date": "2027-03-31"}, "due_date",
        "must be after the current due date Mar 31, 2027"),
    Bad("due-date-earlier", {"due_date": "2027-01-01"}, "due_date",
        "must be after the current due date"),
    Bad("due-date-impossible", {"due_date": "2027-02-29"}, "due_date",
        "not a real calendar date"),
    Bad("reference-newline", {"reference": "ORDER\n123"}, "reference", "one line"),
    Bad("reference-201-chars", {"reference": "r" * 201}, "reference", "at most 200"),
    Bad("method-101-chars", {"method": "m" * 101}, "method", "at most 100"),
    Bad("note-2001-chars", {"note": "n" * 2001}, "note", "at most 2000"),
    Bad("note-control-char", {"note": "bell\x07"}, "note", "control characters"),
]


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[case.id for case in BAD_INPUTS])
def test_bad_input_is_shown_at_its_field_kept_and_nothing_is_stored(
    browser: Browser, api: Api, item: dict[str, Any], case: Bad
) -> None:
    page = browser.submit(renew_url(item["id"]), dict(case.changes))
    assert page.status == 422, page.text
    assert "Please correct the marked fields; nothing was saved." in page.text
    error = page.error(case.control)
    assert error is not None and case.message in error, (error, page.text)
    assert page.control(case.control)["aria-invalid"] == "true"
    for name, value in case.changes.items():
        assert page.values()[name] == value
    assert history(api, item["id"]) == []
    after = stored(api, item["id"])
    assert (after["due_date"], after["updated_at"]) == ("2027-03-31", item["updated_at"])


# History and undo


def test_the_item_page_shows_the_history_newest_first_with_amounts(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    assert "No renewal recorded yet." in browser.get(f"/items/{item['id']}").text
    browser.submit(renew_url(item["id"]), {"renewed_on": "2027-01-05", "method": "card"})
    browser.submit(renew_url(item["id"]), {
        "periods": "2", "amount": "600", "method": "Alipay", "reference": "A-42",
        "note": "Half a year <at once>",
    })
    page = browser.get(f"/items/{item['id']}")
    assert page.status == 200
    assert history_rows(page) == [
        ("Jan 19, 2027 600 RUB due Jun 30, 2027 → Dec 31, 2027 (2 periods) Alipay · "
         "receipt A-42 Half a year &lt;at once&gt; Undo this renewal…"),
        "Jan 5, 2027 300.00 RUB due Mar 31, 2027 → Jun 30, 2027 card",
    ]
    assert f'href="{undo_url(item["id"])}"' in page.text
    # The edit form is still the page's main form.
    assert page.values()["title"] == "MTS Russia"


def test_undo_asks_first_then_restores_the_previous_due_date(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    tap_renewed(browser, item["id"])
    confirm = browser.get(undo_url(item["id"]))
    assert confirm.status == 200
    assert (f"Undo the renewal of {TODAY_SHOWN}? The due date goes back to Mar 31, 2027."
            in shown(confirm.text))
    assert '<time datetime="2027-03-31">Mar 31, 2027</time>' in confirm.text
    assert stored(api, item["id"])["due_date"] == NEXT_DUE, "a GET undoes nothing"
    page = browser.submit(undo_url(item["id"]))
    assert page.status == 302 and page.response.location == "/"
    assert history(api, item["id"]) == []
    assert stored(api, item["id"])["due_date"] == "2027-03-31"
    assert browser.get("/").flashes() == [
        f"Undid the renewal of {TODAY_SHOWN}: “MTS Russia” is due Mar 31, 2027 again."]


def test_undo_twice_after_two_renewals_walks_back_exactly(
    browser: Browser, api: Api
) -> None:
    item = create(api, due_date="2027-01-31", repeat={"every": 1, "unit": "month"})
    tap_renewed(browser, item["id"])
    tap_renewed(browser, item["id"])
    assert stored(api, item["id"])["due_date"] == "2027-03-31"
    assert browser.submit(undo_url(item["id"])).status == 302
    assert stored(api, item["id"])["due_date"] == "2027-02-28"
    assert browser.submit(undo_url(item["id"])).status == 302
    assert stored(api, item["id"])["due_date"] == "2027-01-31"
    assert history(api, item["id"]) == []
    # The anchor survived: renewing again still comes back to the 31st after February.
    tap_renewed(browser, item["id"])
    tap_renewed(browser, item["id"])
    assert stored(api, item["id"])["due_date"] == "2027-03-31"


def test_undo_with_nothing_to_undo_is_a_409_with_a_clear_message(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    page = browser.get(undo_url(item["id"]))
    assert page.status == 409
    assert "“MTS Russia” has no renewal to undo." in page.text
    assert not [form for form in page.forms if form.action == undo_url(item["id"])]
    token = browser.csrf_token()
    posted = Page(browser.client.post(undo_url(item["id"]),
                                      data={"csrf_token": token, "renewal": "1"}))
    assert posted.status == 409
    assert "“MTS Russia” has no renewal to undo." in posted.text
    assert stored(api, item["id"])["due_date"] == "2027-03-31"


def test_undo_confirmed_for_a_renewal_that_is_no_longer_the_latest_undoes_nothing(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    tap_renewed(browser, item["id"])
    confirm = browser.get(undo_url(item["id"]))
    api.post(f"{ITEMS}/{item['id']}/renewals", json={})  # renewed again in another tab
    page = Page(browser.client.post(undo_url(item["id"]), data=confirm.values()))
    assert page.status == 409
    assert "is not the one you confirmed" in page.text
    assert len(history(api, item["id"])) == 2
    assert stored(api, item["id"])["due_date"] == "2027-09-30"
    # The page now asks about the latest one; confirming it undoes that one.
    assert Page(browser.client.post(undo_url(item["id"]), data=page.values())).status == 302
    assert stored(api, item["id"])["due_date"] == NEXT_DUE


# Concurrent changes and access


def _changed_meanwhile(session: Session, item_id: int) -> None:
    """Move the stored item on by one version behind the ORM's back.

    This is what another request committing between this one's read and write looks like
    to it (on SQLite a writing request holds the lock from its first read, so the race can
    only be staged, on the request's own connection).
    """
    items_table = Item.__table__
    session.connection().execute(
        update(items_table).where(items_table.c.id == item_id)
        .values(version=items_table.c.version + 1))


def test_a_renewal_racing_another_change_is_a_409_not_a_500(
    browser: Browser, api: Api, item: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = renewals.renew

    def racing(session: Session, target: Item, data: Any, today: dt.date) -> Any:
        _changed_meanwhile(session, target.id)
        return original(session, target, data, today)

    monkeypatch.setattr(renewals, "renew", racing)
    page = tap_renewed(browser, item["id"])
    assert page.status == 409, page.text
    assert "was changed elsewhere" in page.text and "nothing was recorded" in page.text
    assert page.values(renew_url(item["id"]))["version"] == "1"
    assert history(api, item["id"]) == []
    assert stored(api, item["id"])["due_date"] == "2027-03-31"


def test_an_undo_racing_another_change_is_a_409_not_a_500(
    browser: Browser, api: Api, item: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    tap_renewed(browser, item["id"])
    original = renewals.undo_latest

    def racing(session: Session, target: Item) -> Any:
        _changed_meanwhile(session, target.id)
        return original(session, target)

    monkeypatch.setattr(renewals, "undo_latest", racing)
    page = browser.submit(undo_url(item["id"]))
    assert page.status == 409, page.text
    assert "changed elsewhere at the same moment, so nothing was undone" in page.text
    assert len(history(api, item["id"])) == 1
    assert stored(api, item["id"])["due_date"] == NEXT_DUE


def test_another_users_item_is_not_found_on_every_renewal_route(
    app: Flask, api: Api, item: dict[str, Any], other_user: dict[str, Any]
) -> None:
    api.post(f"{ITEMS}/{item['id']}/renewals", json={})
    stranger = signed_in(app.test_client(), other_user)
    token = stranger.csrf_token()
    assert stranger.get(renew_url(item["id"])).status == 404
    assert stranger.get(undo_url(item["id"])).status == 404
    for path, data in ((renew_url(item["id"]), {"due_date": "2030-01-01"}),
                       (renew_url(item["id"]), {"preview": "1"}),
                       (undo_url(item["id"]), {"renewal": str(history(api, item["id"])[0]["id"])})):
        page = Page(stranger.client.post(path, data={**data, "csrf_token": token}))
        assert page.status == 404, path
    assert len(history(api, item["id"])) == 1
    assert stored(api, item["id"])["due_date"] == NEXT_DUE


@pytest.mark.parametrize("token", [None, "forged"], ids=["missing", "forged"])
def test_renewal_forms_without_a_valid_csrf_token_change_nothing(
    browser: Browser, api: Api, item: dict[str, Any], token: str | None
) -> None:
    tap_renewed(browser, item["id"])
    latest = history(api, item["id"])[0]
    extra = {} if token is None else {"csrf_token": token}
    for path, data in ((renew_url(item["id"]), {}),
                       (renew_url(item["id"]), {"due_date": "2030-01-01", "amount": "1"}),
                       (undo_url(item["id"]), {"renewal": str(latest["id"])})):
        page = Page(browser.client.post(path, data={**data, **extra}))
        assert page.status == 400, path
        assert "The form expired; please try again." in page.text
    assert history(api, item["id"]) == [latest]
    assert stored(api, item["id"])["due_date"] == NEXT_DUE


# Statuses in the list


def list_rows(page: Page) -> list[tuple[str, str, str, str]]:
    """(status, title, badge, due text) for each item on a list page."""
    return re.findall(
        r'<li class="item status-(\w+)">.*?class="item-title">(.*?)</span>\s*'
        r'<span class="badge[^"]*">(.*?)</span>.*?class="days-left">(.*?)</span>',
        page.text, re.DOTALL)


def add_items_around_today(api: Api) -> None:
    for title, due, grace in (("Later", "2027-01-31", None), ("Lapsed", "2026-12-01", 10),
                              ("Today", "2027-01-19", None), ("Overdue", "2027-01-17", None),
                              ("In grace", "2027-01-14", 10), ("Last grace day", "2027-01-09", 10)):
        create(api, title=title, due_date=due, grace_days=grace, alarms=[])


def test_the_list_puts_overdue_and_in_grace_first_with_clear_badges(
    browser: Browser, api: Api
) -> None:
    add_items_around_today(api)
    assert list_rows(browser.get("/")) == [
        ("in_grace", "Last grace day", "In grace period", "in grace: last day before recycling"),
        ("in_grace", "In grace", "In grace period", "in grace: 5 days left before recycling"),
        ("overdue", "Overdue", "Overdue", "2 days overdue"),
        ("due_soon", "Today", "Due soon", "due today"),
        ("ok", "Later", "OK", "in 12 days"),
        ("lapsed", "Lapsed", "Lapsed", "lapsed"),
    ]


def test_the_list_statuses_follow_the_users_time_zone(app: Flask, client: FlaskClient) -> None:
    # At 12:00 UTC on Jan 19 it is already Jan 20 on Kiritimati (UTC+14).
    account = make_user(app, "kiritimati@example.com", timezone="Pacific/Kiritimati")
    add_items_around_today(Api(client, account["token"]))
    assert list_rows(signed_in(client, account).get("/")) == [
        ("in_grace", "In grace", "In grace period", "in grace: 4 days left before recycling"),
        ("overdue", "Overdue", "Overdue", "3 days overdue"),
        ("overdue", "Today", "Overdue", "1 day overdue"),
        ("ok", "Later", "OK", "in 11 days"),
        ("lapsed", "Lapsed", "Lapsed", "lapsed"),
        ("lapsed", "Last grace day", "Lapsed", "lapsed"),
    ]


# Spend


def test_the_item_page_and_the_list_show_what_was_paid_in_the_last_12_months(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    assert "Nothing paid in the last 12 months." in browser.get(f"/items/{item['id']}").text
    assert "Paid in the last 12 months" not in browser.get("/").text
    tap_renewed(browser, item["id"])
    browser.submit(renew_url(item["id"]), {"renewed_on": "2026-06-01", "amount": "250.50"})
    # More than 12 months ago: not counted.
    browser.submit(renew_url(item["id"]), {"renewed_on": "2026-01-19", "amount": "999"})
    euro = create(api, title="Monaco Telecom", price={"amount": "15.00", "currency": "EUR"})
    tap_renewed(browser, euro["id"])
    unpriced = create(api, title="Free SIM", price=None)
    tap_renewed(browser, unpriced["id"])
    page = browser.get(f"/items/{item['id']}")
    assert re.search(r"Paid in the last 12 months: <strong>.*550\.50 RUB.*</strong>", page.text)
    assert "EUR" not in page.text.split('id="renewals"', 1)[1]
    listing = browser.get("/")
    totals = re.search(r'<p class="spend">(.*?)</p>', listing.text, re.DOTALL)
    assert totals is not None
    assert " ".join(re.sub(r"<[^>]+>", "", totals.group(1)).split()) == \
        "Paid in the last 12 months: 15.00 EUR, 550.50 RUB"


def test_the_list_costs_the_same_number_of_queries_for_one_item_or_many(
    app: Flask, browser: Browser, api: Api
) -> None:
    def queries_for_the_list() -> int:
        statements: list[str] = []

        def count(*args: Any) -> None:
            statements.append(args[2])

        engine = get_engine(app)
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert browser.get("/").status == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    first = create(api)
    tap_renewed(browser, first["id"])
    one = queries_for_the_list()
    for number in range(6):
        other = create(api, title=f"SIM {number}")
        tap_renewed(browser, other["id"])
        tap_renewed(browser, other["id"])
    page = browser.get("/")
    assert page.text.count(f"Last renewed <time datetime=\"{TODAY}\">{TODAY_SHOWN}</time>") == 7
    assert queries_for_the_list() == one
