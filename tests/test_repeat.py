"""Repeat rules: where the due date goes on renewal, as a table of calendar dates."""

from __future__ import annotations

import datetime as dt

import pytest

from feedsvc.repeat import RepeatRule, add_months, advance, next_due

D = dt.date
MONTHLY = RepeatRule(1, "month")
QUARTERLY = RepeatRule(3, "month")
YEARLY = RepeatRule(1, "year")
EVERY_90_DAYS = RepeatRule(90, "day")
EVERY_180_DAYS = RepeatRule(180, "day")
KEEP_ALIVE_90 = RepeatRule(90, "day", "renewal")
KEEP_ALIVE_180 = RepeatRule(180, "day", "renewal")


def case(name: str, due: dt.date, rule: RepeatRule, renewed_on: dt.date, expected: dt.date,
         *, periods: int = 1, anchor: dt.date | None = None) -> object:
    return pytest.param(due, rule, renewed_on, periods, anchor, expected, id=name)


NEXT_DUE = [
    # Month ends: a plan anchored on the 31st comes back to the 31st after a short month.
    case("jan31-monthly-to-feb28", D(2027, 1, 31), MONTHLY, D(2027, 1, 20), D(2027, 2, 28),
         anchor=D(2027, 1, 31)),
    case("feb28-anchored-31-to-mar31", D(2027, 2, 28), MONTHLY, D(2027, 2, 20), D(2027, 3, 31),
         anchor=D(2027, 1, 31)),
    case("mar31-anchored-31-to-apr30", D(2027, 3, 31), MONTHLY, D(2027, 3, 25), D(2027, 4, 30),
         anchor=D(2027, 1, 31)),
    case("apr30-anchored-31-to-may31", D(2027, 4, 30), MONTHLY, D(2027, 4, 28), D(2027, 5, 31),
         anchor=D(2027, 1, 31)),
    case("jan31-monthly-leap-to-feb29", D(2028, 1, 31), MONTHLY, D(2028, 1, 30), D(2028, 2, 29),
         anchor=D(2028, 1, 31)),
    case("feb29-anchored-31-to-mar31", D(2028, 2, 29), MONTHLY, D(2028, 2, 20), D(2028, 3, 31),
         anchor=D(2028, 1, 31)),
    case("mar31-to-apr30", D(2027, 3, 31), MONTHLY, D(2027, 3, 30), D(2027, 4, 30),
         anchor=D(2027, 3, 31)),
    case("apr30-anchored-mar31-to-may31", D(2027, 4, 30), MONTHLY, D(2027, 4, 29),
         D(2027, 5, 31), anchor=D(2027, 3, 31)),
    case("no-anchor-counts-from-the-due-date", D(2027, 4, 30), MONTHLY, D(2027, 4, 29),
         D(2027, 5, 30)),
    case("aug31-quarterly-to-nov30", D(2027, 8, 31), QUARTERLY, D(2027, 8, 30), D(2027, 11, 30),
         anchor=D(2027, 8, 31)),
    case("nov30-anchored-aug31-to-feb29", D(2027, 11, 30), QUARTERLY, D(2027, 11, 1),
         D(2028, 2, 29), anchor=D(2027, 8, 31)),
    case("feb29-anchored-aug31-to-may31", D(2028, 2, 29), QUARTERLY, D(2028, 2, 1),
         D(2028, 5, 31), anchor=D(2027, 8, 31)),
    case("nov30-plus-3-months-non-leap", D(2026, 11, 30), QUARTERLY, D(2026, 11, 20),
         D(2027, 2, 28), anchor=D(2026, 11, 30)),
    case("nov30-plus-3-months-leap", D(2027, 11, 30), QUARTERLY, D(2027, 11, 20),
         D(2028, 2, 29), anchor=D(2027, 11, 30)),
    case("anchor-that-does-not-lead-to-the-due-date-is-ignored", D(2027, 1, 31), MONTHLY,
         D(2027, 1, 20), D(2027, 2, 28), anchor=D(2027, 3, 15)),
    case("later-anchor-that-leads-to-the-due-date-is-kept", D(2027, 2, 28), MONTHLY,
         D(2027, 2, 20), D(2027, 3, 31), anchor=D(2027, 3, 31)),
    # Leap days: Feb 29 yearly is Feb 28 for three years, then Feb 29 again.
    case("feb29-2028-yearly-to-2029", D(2028, 2, 29), YEARLY, D(2028, 2, 20), D(2029, 2, 28),
         anchor=D(2028, 2, 29)),
    case("feb28-2029-yearly-to-2030", D(2029, 2, 28), YEARLY, D(2029, 2, 20), D(2030, 2, 28),
         anchor=D(2028, 2, 29)),
    case("feb28-2030-yearly-to-2031", D(2030, 2, 28), YEARLY, D(2030, 2, 20), D(2031, 2, 28),
         anchor=D(2028, 2, 29)),
    case("feb28-2031-yearly-back-to-feb29-2032", D(2031, 2, 28), YEARLY, D(2031, 2, 20),
         D(2032, 2, 29), anchor=D(2028, 2, 29)),
    case("feb29-plus-12-months", D(2028, 2, 29), RepeatRule(12, "month"), D(2028, 2, 1),
         D(2029, 2, 28), anchor=D(2028, 2, 29)),
    case("feb28-non-leap-stays-feb28-in-leap-year", D(2027, 2, 28), YEARLY, D(2027, 2, 1),
         D(2028, 2, 28), anchor=D(2027, 2, 28)),
    # Day and week periods.
    case("every-90-days", D(2027, 1, 1), EVERY_90_DAYS, D(2026, 12, 20), D(2027, 4, 1)),
    case("every-90-days-across-feb29", D(2028, 1, 1), EVERY_90_DAYS, D(2027, 12, 20),
         D(2028, 3, 31)),
    case("every-180-days", D(2027, 1, 1), EVERY_180_DAYS, D(2026, 12, 31), D(2027, 6, 30)),
    case("weekly-across-new-year", D(2027, 12, 27), RepeatRule(1, "week"), D(2027, 12, 26),
         D(2028, 1, 3)),
    case("every-2-weeks-across-feb29", D(2028, 2, 22), RepeatRule(2, "week"), D(2028, 2, 21),
         D(2028, 3, 7)),
    # Years.
    case("yearly", D(2027, 3, 31), YEARLY, D(2027, 3, 1), D(2028, 3, 31), anchor=D(2027, 3, 31)),
    case("every-2-years-from-feb29", D(2028, 2, 29), RepeatRule(2, "year"), D(2028, 2, 1),
         D(2030, 2, 28), anchor=D(2028, 2, 29)),
    case("every-2-years-back-to-feb29", D(2030, 2, 28), RepeatRule(2, "year"), D(2030, 2, 1),
         D(2032, 2, 29), anchor=D(2028, 2, 29)),
    case("every-10-years", D(2027, 6, 15), RepeatRule(10, "year"), D(2027, 6, 1),
         D(2037, 6, 15), anchor=D(2027, 6, 15)),
    case("every-10-years-from-feb29", D(2028, 2, 29), RepeatRule(10, "year"), D(2028, 2, 1),
         D(2038, 2, 28), anchor=D(2028, 2, 29)),
    # Early renewals: the schedule keeps its dates, a keep-alive rule restarts the clock.
    case("schedule-early-keeps-schedule", D(2027, 3, 31), MONTHLY, D(2027, 3, 1),
         D(2027, 4, 30), anchor=D(2027, 3, 31)),
    case("schedule-60-days-early-keeps-schedule", D(2027, 4, 1), EVERY_90_DAYS,
         D(2027, 1, 31), D(2027, 6, 30)),
    case("renewal-early-restarts-clock", D(2027, 4, 1), KEEP_ALIVE_90, D(2027, 3, 1),
         D(2027, 5, 30)),
    case("renewal-monthly-clamps-from-renewal-date", D(2027, 3, 15),
         RepeatRule(1, "month", "renewal"), D(2027, 1, 31), D(2027, 2, 28)),
    # Late renewals.
    case("schedule-late-within-a-period", D(2027, 3, 31), MONTHLY, D(2027, 4, 10),
         D(2027, 4, 30), anchor=D(2027, 3, 31)),
    case("schedule-very-late-jumps-past-renewal", D(2027, 3, 31), MONTHLY, D(2027, 6, 15),
         D(2027, 6, 30), anchor=D(2027, 3, 31)),
    case("schedule-renewed-on-next-date-moves-one-more", D(2027, 1, 31), MONTHLY,
         D(2027, 2, 28), D(2027, 3, 31), anchor=D(2027, 1, 31)),
    case("schedule-very-late-keeps-anchor-day", D(2027, 1, 31), MONTHLY, D(2027, 3, 31),
         D(2027, 4, 30), anchor=D(2027, 1, 31)),
    case("schedule-90-days-very-late", D(2027, 1, 1), EVERY_90_DAYS, D(2027, 7, 1),
         D(2027, 9, 28)),
    case("schedule-weekly-very-late", D(2027, 1, 4), RepeatRule(1, "week"), D(2027, 1, 20),
         D(2027, 1, 25)),
    case("schedule-yearly-very-late", D(2027, 3, 31), YEARLY, D(2028, 5, 1), D(2029, 3, 31),
         anchor=D(2027, 3, 31)),
    case("renewal-late-counts-from-renewal-date", D(2027, 1, 1), KEEP_ALIVE_180,
         D(2027, 2, 1), D(2027, 7, 31)),
    # Several periods at once.
    case("twelve-months-at-once", D(2027, 1, 31), MONTHLY, D(2027, 1, 20), D(2028, 1, 31),
         periods=12, anchor=D(2027, 1, 31)),
    case("four-quarters-at-once", D(2027, 8, 31), QUARTERLY, D(2027, 8, 1), D(2028, 8, 31),
         periods=4, anchor=D(2027, 8, 31)),
    case("three-times-90-days-schedule", D(2027, 1, 1), EVERY_90_DAYS, D(2026, 12, 1),
         D(2027, 9, 28), periods=3),
    case("three-times-90-days-keep-alive", D(2027, 4, 1), KEEP_ALIVE_90, D(2027, 3, 1),
         D(2027, 11, 26), periods=3),
    case("three-months-late-but-ahead", D(2027, 1, 31), MONTHLY, D(2027, 2, 15),
         D(2027, 4, 30), periods=3, anchor=D(2027, 1, 31)),
    # Crossing a year.
    case("dec31-plus-1-month", D(2027, 12, 31), MONTHLY, D(2027, 12, 20), D(2028, 1, 31),
         anchor=D(2027, 12, 31)),
    case("dec15-every-2-months", D(2027, 12, 15), RepeatRule(2, "month"), D(2027, 12, 1),
         D(2028, 2, 15), anchor=D(2027, 12, 15)),
]


@pytest.mark.parametrize("due, rule, renewed_on, periods, anchor, expected", NEXT_DUE)
def test_next_due(due: dt.date, rule: RepeatRule, renewed_on: dt.date, periods: int,
                  anchor: dt.date | None, expected: dt.date) -> None:
    assert next_due(due, rule, renewed_on, periods, anchor) == expected


def test_a_monthly_chain_from_jan31_returns_to_the_31st() -> None:
    due = anchor = D(2027, 1, 31)
    seen = []
    for _ in range(5):
        due = next_due(due, MONTHLY, due - dt.timedelta(days=3), anchor=anchor)
        seen.append(due)
    assert seen == [D(2027, 2, 28), D(2027, 3, 31), D(2027, 4, 30), D(2027, 5, 31),
                    D(2027, 6, 30)]


def test_a_yearly_chain_from_feb29_returns_in_the_next_leap_year() -> None:
    due = anchor = D(2028, 2, 29)
    seen = []
    for _ in range(4):
        due = next_due(due, YEARLY, due - dt.timedelta(days=10), anchor=anchor)
        seen.append(due)
    assert seen == [D(2029, 2, 28), D(2030, 2, 28), D(2031, 2, 28), D(2032, 2, 29)]


@pytest.mark.parametrize(
    "day, months, expected",
    [
        (D(2027, 1, 31), 1, D(2027, 2, 28)),
        (D(2028, 1, 31), 1, D(2028, 2, 29)),
        (D(2027, 3, 31), -1, D(2027, 2, 28)),
        (D(2027, 12, 31), 1, D(2028, 1, 31)),
        (D(2027, 1, 15), -13, D(2025, 12, 15)),
        (D(2028, 2, 29), 12, D(2029, 2, 28)),
        (D(2028, 2, 29), 48, D(2032, 2, 29)),
        (D(2027, 5, 31), 0, D(2027, 5, 31)),
        (D(9999, 11, 30), 1, D(9999, 12, 30)),
    ],
)
def test_add_months(day: dt.date, months: int, expected: dt.date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    "day, rule, periods, expected",
    [
        (D(2027, 1, 31), MONTHLY, 1, D(2027, 2, 28)),
        (D(2027, 1, 31), MONTHLY, 2, D(2027, 3, 31)),
        (D(2028, 2, 29), YEARLY, 1, D(2029, 2, 28)),
        (D(2028, 2, 22), RepeatRule(2, "week"), 1, D(2028, 3, 7)),
        (D(2027, 1, 1), EVERY_90_DAYS, 2, D(2027, 6, 30)),
        (D(2027, 11, 30), QUARTERLY, 1, D(2028, 2, 29)),
    ],
)
def test_advance(day: dt.date, rule: RepeatRule, periods: int, expected: dt.date) -> None:
    assert advance(day, rule, periods) == expected


@pytest.mark.parametrize("periods", [0, -1])
def test_periods_below_one_are_refused(periods: int) -> None:
    with pytest.raises(ValueError):
        next_due(D(2027, 1, 31), MONTHLY, D(2027, 1, 20), periods, D(2027, 1, 31))


@pytest.mark.parametrize(
    "day, months",
    [(D(9999, 12, 1), 1), (D(1, 1, 31), -1), (D(9990, 6, 30), 12 * 10)],
)
def test_add_months_past_the_calendar_overflows(day: dt.date, months: int) -> None:
    with pytest.raises(OverflowError):
        add_months(day, months)


def test_a_schedule_too_far_in_the_future_overflows() -> None:
    with pytest.raises(OverflowError):
        next_due(D(9999, 6, 30), RepeatRule(1, "year"), D(9999, 1, 1))
