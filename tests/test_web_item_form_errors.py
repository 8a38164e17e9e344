"""Bad input through the item form: 422 (never 500), the error at its field, the input kept,
nothing stored."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
from flask.testing import FlaskClient

from helpers import FULL_FORM, VALID_ITEM, Api, Browser, Page, signed_in, writable

NO_OWN_ALARMS = {"use_default_alarms": None}


class Case(NamedTuple):
    id: str
    changes: dict[str, str | None]
    control: str  # where the error must be shown
    message: str  # part of the message shown there


CASES = [
    Case("impossible-date", {"due_date": "2026-02-30"}, "due_date", "not a real calendar date"),
    Case("date-not-iso", {"due_date": "31/12/2026"}, "due_date", "YYYY-MM-DD"),
    Case("no-date", {"due_date": ""}, "due_date", "YYYY-MM-DD"),
    Case("date-too-early", {"due_date": "1899-12-31"}, "due_date",
         "must be between Jan 1, 1900 and Dec 31, 2999"),
    Case("empty-title", {"title": ""}, "title", "must not be empty"),
    Case("blank-title", {"title": "   "}, "title", "must not be empty"),
    Case("title-201-chars", {"title": "x" * 201}, "title", "at most 200"),
    Case("title-newline", {"title": "MTS\nRussia"}, "title", "one line"),
    Case("title-control-char", {"title": "MTS\x07Russia"}, "title", "control characters"),
    Case("title-line-separator", {"title": "MTS\u2028Russia"}, "title", "one line"),
    Case("bad-category", {"category": "spaceship"}, "category", "'sim'"),
    Case("provider-101-chars", {"provider": "p" * 101}, "provider", "at most 100"),
    Case("provider-tab", {"provider": "M\tTS"}, "provider", "one line"),
    Case("carrier-no-preset", {"carrier": "megafon"}, "carrier", "carrier preset"),
    Case("phone-letters", {"phone_number": "abc"}, "phone_number", "phone number"),
    Case("phone-41-chars", {"phone_number": "1" * 41}, "phone_number", "at most 40"),
    Case("country-XX", {"country": "XX"}, "country", "ISO 3166-1"),
    Case("country-3-letters", {"country": "RUS"}, "country", "ISO 3166-1"),
    Case("currency-EURO", {"price.currency": "EURO"}, "price.currency", "ISO 4217"),
    Case("currency-XXY", {"price.currency": "XXY"}, "price.currency", "ISO 4217"),
    Case("currency-missing", {"price.currency": ""}, "price.currency", "ISO 4217"),
    Case("amount-comma", {"price.amount": "12,50"}, "price.amount", "amount such as"),
    Case("amount-negative", {"price.amount": "-1"}, "price.amount", "non-negative"),
    Case("amount-5-decimals", {"price.amount": "1.23456"}, "price.amount", "at most 4 decimals"),
    Case("amount-missing", {"price.amount": ""}, "price.amount", "amount such as"),
    Case("grace-negative", {"grace_days": "-1"}, "grace_days", "greater than or equal to 0"),
    Case("grace-366", {"grace_days": "366"}, "grace_days", "less than or equal to 365"),
    Case("grace-letters", {"grace_days": "abc"}, "grace_days", "valid integer"),
    Case("grace-fraction", {"grace_days": "1.5"}, "grace_days", "valid integer"),
    Case("grace-huge", {"grace_days": "9" * 40}, "grace_days", "valid integer"),
    Case("days-before-366", {**NO_OWN_ALARMS, "alarms.0.days_before": "366"},
         "alarms.0.days_before", "less than or equal to 365"),
    Case("days-before-negative", {**NO_OWN_ALARMS, "alarms.2.days_before": "-1"},
         "alarms.2.days_before", "greater than or equal to 0"),
    Case("days-before-letter", {**NO_OWN_ALARMS, "alarms.2.days_before": "x"},
         "alarms.2.days_before", "valid integer"),
    Case("alarm-time-25h", {**NO_OWN_ALARMS, "alarms.2.at": "25:00"},
         "alarms.2.at", "HH:MM"),
    Case("alarm-time-words", {**NO_OWN_ALARMS, "alarms.0.at": "9am"}, "alarms.0.at", "HH:MM"),
    Case("alarm-without-days", {**NO_OWN_ALARMS, "alarms.3.at": "10:00"},
         "alarms.3.days_before", "is required"),
    Case("alarm-twice", {**NO_OWN_ALARMS, "alarms.1.days_before": "14", "alarms.1.at": "09:00"},
         "alarms", "same alarm twice"),
    Case("repeat-every-0", {"repeat.every": "0"}, "repeat.every", "greater than or equal to 1"),
    Case("repeat-every-1001", {"repeat.every": "1001"}, "repeat.every",
         "less than or equal to 1000"),
    Case("repeat-every-letter", {"repeat.every": "x"}, "repeat.every", "valid integer"),
    Case("repeat-bad-unit", {"repeat.unit": "fortnight"}, "repeat.unit", "'month'"),
    Case("repeat-bad-from", {"repeat.from": "whenever"}, "repeat.from", "'schedule'"),
    Case("url-ftp", {"url": "ftp://x"}, "url", "http:// or https://"),
    Case("url-javascript", {"url": "javascript:alert(1)"}, "url", "http:// or https://"),
    Case("url-no-host", {"url": "https://"}, "url", "http:// or https://"),
    Case("url-with-space", {"url": "https://mts.ru/a b"}, "url", "http:// or https://"),
    Case("notes-5001-chars", {"notes": "n" * 5001}, "notes", "at most 5000"),
    Case("notes-nul", {"notes": "Top up\x00now"}, "notes", "control characters"),
    Case("bound-service-101-chars", {"bound_services": "Sberbank\n" + "s" * 101},
         "bound_services", "line 2"),
    Case("bound-service-control-char", {"bound_services": "Sber\x01bank"},
         "bound_services", "line 1"),
    Case("bound-services-51", {"bound_services": "\n".join(f"s{n}" for n in range(51))},
         "bound_services", "at most 50"),
]


@pytest.fixture
def browser(client: FlaskClient, user: dict[str, Any]) -> Browser:
    return signed_in(client, user)


def assert_refused_at(page: Page, case: Case) -> None:
    """422 with the message next to the control, described by it, and the input kept."""
    assert page.status == 422, page.text
    assert case.message in (page.error(case.control) or ""), (
        f"{case.control}: {page.error(case.control)!r}\n{page.texts}")
    if "f-" + case.control.replace(".", "-") in page.by_id:
        control = page.control(case.control)
        assert control.get("aria-invalid") == "true"
        assert f"f-{case.control.replace('.', '-')}-error" in control["aria-describedby"]
    assert "nothing was saved" in page.text
    kept = page.values()
    for name, value in case.changes.items():
        if value is not None:
            assert kept[name] == value, name


def test_the_table_is_large_and_distinct() -> None:
    assert len(CASES) >= 30
    assert len({case.id for case in CASES}) == len(CASES)
    assert len({tuple(sorted(case.changes.items())) for case in CASES}) == len(CASES)


def test_the_unchanged_form_is_accepted(browser: Browser, api: Api) -> None:
    """The baseline the table starts from is valid, so each case fails for its own change."""
    assert browser.submit("/items/new", FULL_FORM).status == 302
    assert [writable(item) for item in api.get("/api/v1/items").json["items"]] == [VALID_ITEM]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_on_the_add_form(browser: Browser, api: Api, case: Case) -> None:
    page = browser.submit("/items/new", {**FULL_FORM, **case.changes})
    assert_refused_at(page, case)
    assert api.get("/api/v1/items").json["items"] == []


EDIT_CASES = [case for case in CASES if case.id in {
    "impossible-date", "empty-title", "grace-letters", "alarm-without-days", "currency-EURO",
    "repeat-every-0", "url-javascript", "notes-nul", "bound-service-101-chars",
}]


@pytest.mark.parametrize("case", EDIT_CASES, ids=[case.id for case in EDIT_CASES])
def test_bad_input_on_the_edit_form(
    browser: Browser, api: Api, item: dict[str, Any], case: Case
) -> None:
    page = browser.submit(f"/items/{item['id']}", case.changes)
    assert_refused_at(page, case)
    stored = api.get(f"/api/v1/items/{item['id']}").json
    assert writable(stored) == VALID_ITEM
    assert stored["updated_at"] == item["updated_at"]
