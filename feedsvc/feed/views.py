"""The plain values a calendar is made from: a feed's settings and its items, as shown."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AlarmSpec:
    """Fire ``days_before`` days before the due date at ``at`` (HH:MM, local time)."""

    days_before: int
    at: str


@dataclass(frozen=True)
class RenewalView:
    id: int
    renewed_on: dt.date
    amount: str | None = None
    currency: str | None = None
    method: str | None = None
    reference: str | None = None
    note: str = ""


@dataclass(frozen=True)
class ItemView:
    """One item with everything its events need."""

    id: int
    title: str
    due_date: dt.date
    # Identifies the current cycle: the id of the latest renewal, 0 before the first.
    cycle: int
    sequence: int
    last_modified: dt.datetime
    page_url: str
    alarms: tuple[AlarmSpec, ...] = ()
    # The cycle's "I renewed it" action link, in a feed that carries them.
    renew_link: str | None = None
    provider: str | None = None
    # The carrier preset's id (``feedsvc.presets``): what keeps the number alive, and why.
    carrier: str | None = None
    phone_number: str | None = None
    country: str | None = None
    grace_days: int | None = None
    price_amount: str | None = None
    price_currency: str | None = None
    bound_services: tuple[str, ...] = ()
    notes: str = ""
    url: str | None = None
    auto_renew: bool = False
    last_renewal: RenewalView | None = None
    recent_renewals: tuple[RenewalView, ...] = ()


@dataclass(frozen=True)
class FeedView:
    """A feed's settings and items, as the calendar shows them."""

    uid: str
    name: str
    timezone: str
    locale: str
    last_modified: dt.datetime
    reminder_events: bool = False
    show_numbers: bool = False
    items: tuple[ItemView, ...] = field(default_factory=tuple)

