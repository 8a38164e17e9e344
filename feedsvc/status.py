"""Where an item stands today: pure date arithmetic, no database and no HTTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo


def utc_now() -> dt.datetime:
    """The current instant; the one clock behind every "today", so tests can set it."""
    return dt.datetime.now(dt.UTC)


def today_in(timezone: str, now: dt.datetime | None = None) -> dt.date:
    """The calendar date at ``now`` (default: the current instant) in an IANA zone."""
    instant = now or utc_now()
    return instant.astimezone(ZoneInfo(timezone)).date()


def item_status(
    due_date: dt.date,
    grace_days: int | None,
    alarms: Sequence[dict[str, Any]],
    today: dt.date,
) -> str:
    """``ok``, ``due_soon`` (within the largest alarm), ``overdue``, ``in_grace`` or ``lapsed``."""
    if today > due_date:
        if grace_days is None:
            return "overdue"
        if today <= due_date + dt.timedelta(days=grace_days):
            return "in_grace"
        return "lapsed"
    warning_days = max((alarm["days_before"] for alarm in alarms), default=0)
    if (due_date - today).days <= warning_days:
        return "due_soon"
    return "ok"
