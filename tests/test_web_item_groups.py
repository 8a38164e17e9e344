"""The item list's groups: in grace, overdue, next 30 days, later, lapsed."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from feedsvc import status

from helpers import Api, Browser, Page, signed_in

TODAY = dt.date(2027, 3, 10)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    noon = dt.datetime(2027, 3, 10, 12, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(status, "utc_now", lambda: noon)


@pytest.fixture
def browser(client: FlaskClient, user: dict[str, Any]) -> Browser:
    return signed_in(client, user)


def add(api: Api, title: str, days: int, **fields: Any) -> None:
    due = (TODAY + dt.timedelta(days=days)).isoformat()
    response = api.post("/api/v1/items", json={"title": title, "due_date": due, **fields})
    assert response.status_code == 201, response.json


def groups(page: Page) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(heading, count, [(title, days left)]) for each group of the list."""
    found = []
    for section in page.text.split('<section class="item-group')[1:]:
        heading, count = re.search(
            r'<h2 class="group-title"[^>]*>(.*?) <span class="group-count">\((\d+)\)</span>',
            section, re.DOTALL).groups()
        rows = re.findall(r'class="item-title">(.*?)</span>.*?class="days-left">(.*?)</span>',
                          section, re.DOTALL)
        found.append((heading, count, rows))
    return found


def test_items_are_grouped_by_urgency_with_counts_and_days_left(
    browser: Browser, api: Api
) -> None:
    add(api, "Later", 31)
    add(api, "Lapsed", -30, grace_days=10)
    add(api, "In a month", 30)
    add(api, "Today", 0)
    add(api, "In grace", -3, grace_days=10)
    add(api, "Overdue", -1)
    add(api, "Long overdue", -20)
    add(api, "Archived", 5, archived=True)
    assert groups(browser.get("/")) == [
        ("In grace period", "1", [("In grace", "in grace: 7 days left before recycling")]),
        ("Overdue", "2", [("Long overdue", "20 days overdue"), ("Overdue", "1 day overdue")]),
        ("Next 30 days", "2", [("Today", "due today"), ("In a month", "in 30 days")]),
        ("Later", "1", [("Later", "in 31 days")]),
        ("Lapsed", "1", [("Lapsed", "lapsed")]),
    ]


def test_empty_groups_are_left_out_and_the_renew_buttons_stay(
    browser: Browser, api: Api
) -> None:
    add(api, "Monthly", 3, repeat={"every": 1, "unit": "month", "from": "schedule"})
    page = browser.get("/")
    assert [heading for heading, _count, _rows in groups(page)] == ["Next 30 days"]
    assert 'class="quick-renew"' in page.text


def test_the_archived_list_has_no_urgency_groups(browser: Browser, api: Api) -> None:
    add(api, "Old", -100, archived=True)
    page = browser.get("/archived")
    assert 'class="group-title"' not in page.text
    assert "Old" in page.text
