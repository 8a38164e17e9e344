"""When each reminder of a cycle is due, and until when it is of use: a pure table."""

from __future__ import annotations

import datetime as dt

import pytest

from feedsvc.reminders import Moment, cycle_moments, local_instant


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


DEFAULT = [{"days_before": 14, "at": "09:00"}, {"days_before": 3, "at": "09:00"},
           {"days_before": 0, "at": "09:00"}]

CASES = {
    # UTC+8, no grace: alarms until the end of the due date, overdue until the day after.
    "shanghai": (dt.date(2027, 3, 31), None, DEFAULT, "Asia/Shanghai", [
        Moment("alarm", utc("2027-03-17 01:00"), utc("2027-03-31 16:00")),
        Moment("alarm", utc("2027-03-28 01:00"), utc("2027-03-31 16:00")),
        Moment("alarm", utc("2027-03-31 01:00"), utc("2027-03-31 16:00")),
        Moment("overdue", utc("2027-04-01 01:00"), utc("2027-04-01 16:00")),
    ]),
    # UTC+14: the first place on Earth to reach a date.
    "kiritimati": (dt.date(2027, 1, 10), None, [{"days_before": 0, "at": "09:00"}],
                   "Pacific/Kiritimati", [
        Moment("alarm", utc("2027-01-09 19:00"), utc("2027-01-10 10:00")),
        Moment("overdue", utc("2027-01-10 19:00"), utc("2027-01-11 10:00")),
    ]),
    # UTC-11: the last.
    "pago pago": (dt.date(2027, 1, 10), None, [{"days_before": 0, "at": "09:00"}],
                  "Pacific/Pago_Pago", [
        Moment("alarm", utc("2027-01-10 20:00"), utc("2027-01-11 11:00")),
        Moment("overdue", utc("2027-01-11 20:00"), utc("2027-01-12 11:00")),
    ]),
    # London springs forward at 01:00 UTC on 28 March 2027: 01:30 does not exist that day
    # and is read with the offset before (GMT); 09:00 is BST.
    "london spring": (dt.date(2027, 3, 28), None,
                      [{"days_before": 3, "at": "09:00"}, {"days_before": 0, "at": "01:30"},
                       {"days_before": 0, "at": "09:00"}], "Europe/London", [
        Moment("alarm", utc("2027-03-25 09:00"), utc("2027-03-28 23:00")),
        Moment("alarm", utc("2027-03-28 01:30"), utc("2027-03-28 23:00")),
        Moment("alarm", utc("2027-03-28 08:00"), utc("2027-03-28 23:00")),
        Moment("overdue", utc("2027-03-29 08:00"), utc("2027-03-29 23:00")),
    ]),
    # Back at 01:00 UTC on 31 October 2027: 01:30 happens twice, the first (BST) counts.
    "london autumn": (dt.date(2027, 10, 31), None, [{"days_before": 0, "at": "01:30"}],
                      "Europe/London", [
        Moment("alarm", utc("2027-10-31 00:30"), utc("2027-11-01 00:00")),
        Moment("overdue", utc("2027-11-01 09:00"), utc("2027-11-02 00:00")),
    ]),
    # A grace period: everything is of use until it ends, and its last day has a reminder.
    "london grace": (dt.date(2027, 3, 31), 30, [{"days_before": 0, "at": "09:00"}],
                     "Europe/London", [
        Moment("alarm", utc("2027-03-31 08:00"), utc("2027-04-30 23:00")),
        Moment("overdue", utc("2027-04-01 08:00"), utc("2027-04-30 23:00")),
        Moment("last_day", utc("2027-04-30 08:00"), utc("2027-04-30 23:00")),
    ]),
    "no alarms": (dt.date(2027, 6, 1), 0, [], "UTC", [
        Moment("overdue", utc("2027-06-02 09:00"), utc("2027-06-03 00:00")),
    ]),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_moments_of_a_cycle(case: tuple) -> None:  # type: ignore[type-arg]
    due, grace, alarms, zone, expected = case
    assert cycle_moments(due, grace, alarms, zone) == expected


def test_a_snooze_is_of_use_as_long_as_an_overdue_reminder() -> None:
    at = utc("2027-04-02 10:15")
    moments = cycle_moments(dt.date(2027, 3, 31), 30, [], "Asia/Shanghai", [at])
    snoozed = [moment for moment in moments if moment.kind == "snoozed"]
    overdue = [moment for moment in moments if moment.kind == "overdue"]
    assert snoozed == [Moment("snoozed", at, overdue[0].useful_until)]


def test_local_instants_across_the_date_line() -> None:
    from zoneinfo import ZoneInfo
    day = dt.date(2027, 1, 10)
    assert local_instant(day, dt.time(9), ZoneInfo("Pacific/Kiritimati")) < \
        local_instant(day, dt.time(9), ZoneInfo("Pacific/Pago_Pago"))
