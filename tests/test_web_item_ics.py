"""Downloading one item as a calendar file."""

from __future__ import annotations

from typing import Any

import icalendar
import pytest
from flask.testing import FlaskClient

from helpers import VALID_ITEM, Api, Browser, signed_in


@pytest.fixture
def browser(client: FlaskClient, user: dict[str, Any]) -> Browser:
    return signed_in(client, user)


def test_an_item_downloads_as_a_calendar_with_only_its_events(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    api.post("/api/v1/items", json={"title": "Other number", "due_date": "2027-01-01",
                                    "category": "sim"})
    response = browser.client.get(f"/items/{item['id']}.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="MTS-Russia.ics"')
    calendar = icalendar.Calendar.from_ical(response.data)
    events = calendar.walk("VEVENT")
    dates = sorted(event.decoded("DTSTART").isoformat() for event in events)
    # The due event and the grace period's last day; no other item's events.
    assert dates == ["2027-03-31", "2027-04-30"]
    assert all("Other number" not in str(event.get("SUMMARY")) for event in events)
    due = next(e for e in events if e.decoded("DTSTART").isoformat() == "2027-03-31")
    assert len(due.walk("VALARM")) == len(VALID_ITEM["alarms"])
    assert f'href="/items/{item["id"]}.ics"' in browser.get(f"/items/{item['id']}").text


def test_an_item_with_default_alarms_gets_the_users_alarms(
    browser: Browser, api: Api
) -> None:
    created = api.post("/api/v1/items", json={"title": "香港 CSL", "due_date": "2027-01-15"})
    response = browser.client.get(f"/items/{created.json['id']}.ics")
    assert response.status_code == 200
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    [event] = icalendar.Calendar.from_ical(response.data).walk("VEVENT")
    assert len(event.walk("VALARM")) == 3  # 14 days, 3 days, on the day


def test_another_users_item_or_a_missing_one_is_not_found(
    client: FlaskClient, other_user: dict[str, Any], item: dict[str, Any]
) -> None:
    other = signed_in(client, other_user)
    assert other.client.get(f"/items/{item['id']}.ics").status_code == 404
    assert other.client.get("/items/999999.ics").status_code == 404


def test_an_archived_item_is_not_offered_as_a_calendar(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    api.patch(f"/api/v1/items/{item['id']}", json={"archived": True})
    assert browser.client.get(f"/items/{item['id']}.ics").status_code == 404
    assert f'/items/{item["id"]}.ics' not in browser.get(f"/items/{item['id']}").text


def test_the_download_needs_a_sign_in(client: FlaskClient, item: dict[str, Any]) -> None:
    response = client.get(f"/items/{item['id']}.ics")
    assert response.status_code == 302
