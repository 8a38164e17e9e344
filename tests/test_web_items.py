"""The item list and the add, edit and delete pages."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc import status
from feedsvc.status import today_in

from helpers import FULL_FORM, VALID_ITEM, Api, Browser, Page, signed_in, writable


@pytest.fixture
def browser(client: FlaskClient, user: dict[str, Any]) -> Browser:
    return signed_in(client, user)


def api_items(api: Api, archived: bool = False) -> list[dict[str, Any]]:
    return api.get(f"/api/v1/items?archived={'true' if archived else 'false'}").json["items"]


def list_rows(page: Page) -> list[tuple[str, str, str, str]]:
    """(status, title, status label, days left) for each item on a list page."""
    return re.findall(
        r'<li class="item status-(\w+)">.*?class="item-title">(.*?)</span>\s*'
        r'<span class="badge[^"]*">(.*?)</span>.*?class="days-left">(.*?)</span>',
        page.text, re.DOTALL)


def test_the_list_shows_overdue_and_in_grace_first_then_by_due_date_and_lapsed_last(
    browser: Browser, api: Api
) -> None:
    today = today_in("UTC")

    def add(title: str, days: int, **fields: Any) -> None:
        due = (today + dt.timedelta(days=days)).isoformat()
        response = api.post("/api/v1/items", json={"title": title, "due_date": due, **fields})
        assert response.status_code == 201, response.json

    add("Later", 40, alarms=[])
    add("Lapsed", -30, grace_days=10)
    add("Tomorrow", 1)
    add("Today", 0)
    add("In grace", -3, grace_days=10)
    add("Overdue", -1)
    add("Gone", 5, archived=True)
    page = browser.get("/")
    assert page.status == 200
    assert list_rows(page) == [
        ("in_grace", "In grace", "In grace period", "in grace: 7 days left before recycling"),
        ("overdue", "Overdue", "Overdue", "1 day overdue"),
        ("due_soon", "Today", "Due soon", "due today"),
        ("due_soon", "Tomorrow", "Due soon", "due tomorrow"),
        ("ok", "Later", "OK", "in 40 days"),
        ("lapsed", "Lapsed", "Lapsed", "lapsed"),
    ]
    assert 'href="/items/new"' in page.text
    assert 'href="/archived"' in page.text
    for item in api_items(api):
        assert f'href="/items/{item["id"]}"' in page.text
    archived = browser.get("/archived")
    assert [row[1] for row in list_rows(archived)] == ["Gone"]
    assert "in 5 days" in archived.text


def test_the_list_escapes_what_the_user_typed(browser: Browser, api: Api) -> None:
    api.post("/api/v1/items", json={"title": "<script>alert(1)</script>",
                                    "due_date": "2027-01-01", "provider": '"><b>x'})
    [item] = api_items(api)
    for path in ("/", f"/items/{item['id']}", f"/items/{item['id']}/delete"):
        page = browser.get(path)
        assert "<script>alert(1)</script>" not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path
        assert "<b>x" not in page.text, path


def test_an_empty_list_invites_to_add_the_first_item(browser: Browser) -> None:
    page = browser.get("/")
    assert "Nothing to renew yet." in page.text


def test_the_add_form_starts_with_the_default_alarms_and_no_repeat(browser: Browser) -> None:
    values = browser.get("/items/new").values()
    assert values["use_default_alarms"] == "on"
    assert values["repeat.unit"] == ""
    assert values["category"] == "sim"
    assert "14 days before at 09:00; 3 days before at 09:00; on the day at 09:00" in \
        browser.get("/items/new").text


def test_adding_an_item_with_every_field(browser: Browser, api: Api) -> None:
    page = browser.submit("/items/new", FULL_FORM)
    assert page.status == 302, page.text
    assert page.response.location == "/"
    assert "Added “MTS Russia”." in browser.get("/").flashes()
    [stored] = api_items(api)
    assert writable(stored) == VALID_ITEM


def test_the_edit_page_shows_every_field_of_the_item(
    browser: Browser, item: dict[str, Any]
) -> None:
    values = browser.get(f"/items/{item['id']}").values()
    assert values == {
        "csrf_token": values["csrf_token"],
        "version": "1",
        "title": "MTS Russia",
        "category": "sim",
        "provider": "MTS",
        "carrier": "",
        "phone_number": "+7 916 123 45 67",
        "country": "RU",
        "due_date": "2027-03-31",
        "repeat.every": "3",
        "repeat.unit": "month",
        "repeat.from": "schedule",
        "grace_days": "30",
        "alarms.0.days_before": "14",
        "alarms.0.at": "09:00",
        "alarms.1.days_before": "0",
        "alarms.1.at": "09:00",
        **{f"alarms.{row}.{part}": "" for row in range(2, 5) for part in ("days_before", "at")},
        "price.amount": "300.00",
        "price.currency": "RUB",
        "bound_services": "Sberbank\nTelegram",
        "notes": "Top up in the app.\nCheck the balance.",
        "url": "https://mts.ru/",
    }


def test_editing_every_field(browser: Browser, api: Api, item: dict[str, Any]) -> None:
    page = browser.submit(f"/items/{item['id']}", {
        "title": "MegaFon", "category": "subscription", "provider": "MegaFon PJSC",
        "phone_number": "+7 900 000-00-00", "country": "HK", "due_date": "2027-06-15",
        "repeat.every": "1", "repeat.unit": "year", "repeat.from": "renewal", "grace_days": "",
        "use_default_alarms": "on", "price.amount": "", "price.currency": "",
        "bound_services": "", "notes": "", "url": "", "auto_renew": "on", "archived": "on",
    })
    assert page.status == 302, page.text
    assert page.response.location == "/archived"
    assert writable(api.get(f"/api/v1/items/{item['id']}").json) == {
        "title": "MegaFon", "category": "subscription", "provider": "MegaFon PJSC",
        "carrier": None, "phone_number": "+7 900 000-00-00", "country": "HK", "due_date": "2027-06-15",
        "repeat": {"every": 1, "unit": "year", "from": "renewal"}, "grace_days": None,
        "alarms": None, "price": None, "bound_services": [], "notes": "", "url": None,
        "auto_renew": True, "archived": True,
    }
    assert api_items(api) == []
    assert [row[1] for row in list_rows(browser.get("/archived"))] == ["MegaFon"]


def test_does_not_repeat_clears_the_repeat_rule(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    page = browser.submit(f"/items/{item['id']}", {"repeat.unit": "", "repeat.every": "x"})
    assert page.status == 302, page.text
    assert api.get(f"/api/v1/items/{item['id']}").json["repeat"] is None


@pytest.mark.parametrize("rows, expected", [
    ({"use_default_alarms": "on", "alarms.0.days_before": "7"}, None),
    ({}, []),
    ({"alarms.1.days_before": "30", "alarms.1.at": "18:30", "alarms.4.days_before": "2"},
     [{"days_before": 30, "at": "18:30"}, {"days_before": 2, "at": "09:00"}]),
], ids=["use-defaults", "no-alarms", "rows-with-gaps"])
def test_alarm_rows(
    browser: Browser, api: Api, item: dict[str, Any], rows: dict[str, str],
    expected: list[dict[str, Any]] | None,
) -> None:
    cleared: dict[str, str | None] = {
        f"alarms.{row}.{part}": "" for row in range(5) for part in ("days_before", "at")}
    page = browser.submit(f"/items/{item['id']}",
                          {**cleared, "use_default_alarms": None, **rows})
    assert page.status == 302, page.text
    assert api.get(f"/api/v1/items/{item['id']}").json["alarms"] == expected


def test_an_alarm_error_is_shown_on_the_row_that_holds_it(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    page = browser.submit(f"/items/{item['id']}", {
        "alarms.0.days_before": "", "alarms.0.at": "", "alarms.1.days_before": "",
        "alarms.1.at": "", "alarms.3.days_before": "x", "alarms.4.at": "07:15",
    })
    assert page.status == 422
    assert page.error("alarms.3.days_before") == "Error: Input should be a valid integer"
    assert page.error("alarms.4.days_before") == "Error: is required"
    assert page.error("alarms.0.days_before") is None
    assert page.values()["alarms.4.at"] == "07:15"
    assert writable(api.get(f"/api/v1/items/{item['id']}").json) == VALID_ITEM


def test_an_item_with_many_alarms_keeps_them_all_through_the_form(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    alarms = [{"days_before": days, "at": "08:00"} for days in (60, 30, 21, 14, 7, 3, 1)]
    api.patch(f"/api/v1/items/{item['id']}", json={"alarms": alarms})
    page = browser.submit(f"/items/{item['id']}", {"title": "Renamed"})
    assert page.status == 302, page.text
    assert api.get(f"/api/v1/items/{item['id']}").json["alarms"] == alarms


def test_a_change_made_elsewhere_is_not_overwritten_silently(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    form = browser.get(f"/items/{item['id']}")
    api.patch(f"/api/v1/items/{item['id']}", json={"notes": "changed in another tab"})
    data = {**form.values(), "title": "From the stale form"}
    page = Page(browser.client.post(f"/items/{item['id']}", data=data))
    assert page.status == 409
    assert "changed elsewhere" in page.text
    assert page.values()["title"] == "From the stale form"
    stored = api.get(f"/api/v1/items/{item['id']}").json
    assert (stored["title"], stored["notes"]) == ("MTS Russia", "changed in another tab")
    again = Page(browser.client.post(f"/items/{item['id']}", data=page.values()))
    assert again.status == 302
    assert api.get(f"/api/v1/items/{item['id']}").json["title"] == "From the stale form"


def test_deleting_asks_first_then_deletes(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    confirm = browser.get(f"/items/{item['id']}/delete")
    assert confirm.status == 200
    assert "Delete “MTS Russia”?" in confirm.text
    assert api.get(f"/api/v1/items/{item['id']}").status_code == 200, "a GET deletes nothing"
    page = browser.submit(f"/items/{item['id']}/delete")
    assert page.status == 302 and page.response.location == "/"
    assert "Deleted “MTS Russia”." in browser.get("/").flashes()
    assert api.get(f"/api/v1/items/{item['id']}").status_code == 404


def test_another_users_item_is_not_found(
    app: Flask, api: Api, item: dict[str, Any], other_user: dict[str, Any]
) -> None:
    stranger = signed_in(app.test_client(), other_user)
    token = stranger.csrf_token()
    path = f"/items/{item['id']}"
    assert stranger.get(path).status == 404
    assert stranger.get(path + "/delete").status == 404
    posted = {**FULL_FORM, "title": "Stolen", "csrf_token": token}
    assert Page(stranger.client.post(path, data=posted)).status == 404
    assert Page(stranger.client.post(path + "/delete", data={"csrf_token": token})).status == 404
    assert writable(api.get(f"/api/v1/items/{item['id']}").json) == VALID_ITEM
    assert stranger.get("/").text.count('class="item ') == 0


def test_a_missing_item_is_a_404_page_with_the_layout(browser: Browser) -> None:
    page = browser.get("/items/999999")
    assert page.status == 404
    assert "No item 999999." in page.text
    assert 'href="/"' in page.text and "Log out" in page.text


def test_the_item_page_shows_where_the_item_stands_and_offers_to_renew_it(
    browser: Browser, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status, "utc_now",
                        lambda: dt.datetime(2027, 3, 10, 12, 0, tzinfo=dt.UTC))
    item = api.post("/api/v1/items", json={**VALID_ITEM, "due_date": "2027-03-07"}).json
    page = browser.get(f"/items/{item['id']}")
    summary = page.text.split('<div class="item-summary status-in_grace">', 1)[1].split("</div>")[0]
    assert '<span class="badge badge-in_grace">In grace period</span>' in summary
    assert 'Due <time datetime="2027-03-07">Mar 7, 2027</time>' in summary
    assert "in grace: 27 days left before recycling" in summary
    assert f'href="/items/{item["id"]}/renew"' in summary
    assert 'href="#renewals"' in summary
    assert 'id="renewals"' in page.text and "No renewal recorded yet." in page.text
    assert page.form().action == f"/items/{item['id']}", "the edit form stays the main form"
