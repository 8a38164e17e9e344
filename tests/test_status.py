"""Item status and the user's date: pure date arithmetic."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from feedsvc.status import item_status, today_in

DUE = dt.date(2027, 3, 31)
DEFAULTS = [{"days_before": 14, "at": "09:00"}, {"days_before": 3, "at": "09:00"},
            {"days_before": 0, "at": "09:00"}]


def day(offset: int) -> dt.date:
    """The date ``offset`` days after the due date."""
    return DUE + dt.timedelta(days=offset)


@pytest.mark.parametrize(
    "today, grace_days, alarms, expected",
    [
        (day(-15), None, DEFAULTS, "ok"),
        (day(-14), None, DEFAULTS, "due_soon"),
        (day(-1), None, DEFAULTS, "due_soon"),
        (day(0), None, DEFAULTS, "due_soon"),
        (day(-365), None, [{"days_before": 365}], "due_soon"),
        (day(-366), None, [{"days_before": 365}], "ok"),
        (day(-31), None, [{"days_before": 0}, {"days_before": 30}], "ok"),
        (day(-30), None, [{"days_before": 0}, {"days_before": 30}], "due_soon"),
        (day(-1), None, [], "ok"),
        (day(0), None, [], "due_soon"),
        (day(1), None, DEFAULTS, "overdue"),
        (day(1000), None, DEFAULTS, "overdue"),
        (day(1), 0, DEFAULTS, "lapsed"),
        (day(0), 0, DEFAULTS, "due_soon"),
        (day(1), 1, DEFAULTS, "in_grace"),
        (day(2), 1, DEFAULTS, "lapsed"),
        (day(1), 30, DEFAULTS, "in_grace"),
        (day(30), 30, DEFAULTS, "in_grace"),
        (day(31), 30, DEFAULTS, "lapsed"),
        (day(365), 365, [], "in_grace"),
        (day(366), 365, [], "lapsed"),
        (day(-20), 30, DEFAULTS, "ok"),
    ],
)
def test_item_status(today: dt.date, grace_days: int | None, alarms: list[dict[str, Any]],
                     expected: str) -> None:
    assert item_status(DUE, grace_days, alarms, today) == expected


def test_status_across_a_leap_day() -> None:
    due = dt.date(2028, 2, 28)
    assert item_status(due, 1, [], dt.date(2028, 2, 29)) == "in_grace"
    assert item_status(due, 1, [], dt.date(2028, 3, 1)) == "lapsed"


@pytest.mark.parametrize(
    "instant, zone, expected",
    [
        # 10:30 UTC: already tomorrow at UTC+14, still yesterday at UTC-11.
        ("2027-03-31T10:30:00+00:00", "Pacific/Kiritimati", "2027-04-01"),
        ("2027-03-31T10:30:00+00:00", "Pacific/Pago_Pago", "2027-03-30"),
        ("2027-03-31T10:30:00+00:00", "UTC", "2027-03-31"),
        ("2027-03-31T23:59:59+00:00", "UTC", "2027-03-31"),
        ("2027-03-31T16:00:00+00:00", "Asia/Shanghai", "2027-04-01"),
        ("2027-03-31T15:59:59+00:00", "Asia/Shanghai", "2027-03-31"),
        ("2027-03-31T20:59:59+00:00", "Europe/Moscow", "2027-03-31"),
        ("2027-03-31T21:00:00+00:00", "Europe/Moscow", "2027-04-01"),
        ("2027-03-31T01:00:00+01:00", "UTC", "2027-03-31"),
    ],
)
def test_today_in_a_time_zone(instant: str, zone: str, expected: str) -> None:
    assert today_in(zone, dt.datetime.fromisoformat(instant)).isoformat() == expected


def test_same_instant_gives_different_dates_far_apart() -> None:
    instant = dt.datetime(2027, 3, 31, 10, 30, tzinfo=dt.UTC)
    east, west = today_in("Pacific/Kiritimati", instant), today_in("Pacific/Pago_Pago", instant)
    assert (east - west).days == 2
    assert item_status(east, None, [], east) == "due_soon"
    assert item_status(east, None, [], west) == "ok"


def test_today_in_defaults_to_now() -> None:
    before = dt.datetime.now(dt.UTC).date()
    today = today_in("UTC")
    assert today in (before, before + dt.timedelta(days=1))
