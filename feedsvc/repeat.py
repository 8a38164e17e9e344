"""Repeat rules: where the due date goes when an item is renewed. Pure date arithmetic.

``schedule``: the next due date is the previous one plus the period, with month and year
steps counted from the first due date (the anchor), so a plan due on the 31st comes back
to the 31st after a short month: Jan 31 → Feb 28 (29) → Mar 31. A renewal made so late
that the next date has already passed moves on to the first scheduled date after it.

``renewal``: the next due date is the renewal date plus the period (keep-alive rules such
as "some activity every 90 days"), so renewing early or late restarts the clock.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

MAX_STEPS = 100_000


@dataclass(frozen=True)
class RepeatRule:
    every: int
    unit: str  # "day", "week", "month" or "year"
    start: str = "schedule"  # "schedule" or "renewal" (the API calls it "from")


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months, clamped to the end of a shorter month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise OverflowError("date out of range")
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _months(rule: RepeatRule) -> int:
    return rule.every * (12 if rule.unit == "year" else 1)


def _days(rule: RepeatRule) -> int:
    return rule.every * (7 if rule.unit == "week" else 1)


def advance(day: dt.date, rule: RepeatRule, periods: int = 1) -> dt.date:
    """``day`` plus ``periods`` periods of the rule (month steps clamped to month ends)."""
    if rule.unit in ("month", "year"):
        return add_months(day, _months(rule) * periods)
    return day + dt.timedelta(days=_days(rule) * periods)


def _months_between(anchor: dt.date, day: dt.date) -> int:
    return (day.year - anchor.year) * 12 + (day.month - anchor.month)


def next_due(
    due: dt.date,
    rule: RepeatRule,
    renewed_on: dt.date,
    periods: int = 1,
    anchor: dt.date | None = None,
) -> dt.date:
    """The due date after renewing ``periods`` periods on ``renewed_on``."""
    if periods < 1:
        raise ValueError("periods must be at least 1")
    if rule.start == "renewal":
        return advance(renewed_on, rule, periods)
    if rule.unit in ("month", "year"):
        if anchor is None or add_months(anchor, _months_between(anchor, due)) != due:
            # An anchor that does not lead to this due date (say, the due date was restored
            # by an undo after a manual edit) would shift the schedule: count from the due date.
            anchor = due
        step = _months(rule)
        # Count whole months from the anchor, so clamping never drifts (31 → 28 → 31).
        months = _months_between(anchor, due) + step * periods
        result = add_months(anchor, months)
        for _ in range(MAX_STEPS):
            if result > renewed_on:
                break
            months += step
            result = add_months(anchor, months)
        return result
    days = _days(rule)
    result = due + dt.timedelta(days=days * periods)
    if result <= renewed_on:
        # Jump straight to the first scheduled day after the renewal.
        behind = (renewed_on - result).days // days + 1
        result += dt.timedelta(days=days * behind)
    return result
