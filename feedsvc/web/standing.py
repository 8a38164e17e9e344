"""Where an item stands today, in words: the item list, the item page and the renewal form
all show it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from feedsvc import items
from feedsvc.models import Item, User
from feedsvc.status import item_status
from feedsvc.web.i18n import _, ngettext


def status_labels() -> dict[str, str]:
    """Each item status in words."""
    return {
        "ok": _("OK"),
        "due_soon": _("Due soon"),
        "overdue": _("Overdue"),
        "in_grace": _("In grace period"),
        "lapsed": _("Lapsed"),
    }


def due_text(status: str, days_left: int, grace_left: int | None = None) -> str:
    """Where the item stands in words: "in 12 days", "due today", "3 days overdue",
    "in grace: 5 days left before recycling", "lapsed"."""
    if status == "in_grace" and grace_left is not None:
        if grace_left == 0:
            return _("in grace: last day before recycling")
        return ngettext("in grace: %(num)d day left before recycling",
                        "in grace: %(num)d days left before recycling", grace_left)
    if status == "lapsed":
        return _("lapsed")
    if days_left == 0:
        return _("due today")
    if days_left == 1:
        return _("due tomorrow")
    if days_left > 1:
        return ngettext("in %(num)d day", "in %(num)d days", days_left)
    return ngettext("%(num)d day overdue", "%(num)d days overdue", -days_left)


@dataclass(frozen=True)
class Standing:
    """An item's status on a given day, with the words for it."""

    status: str
    label: str
    text: str


def standing(item: Item, user: User, today: dt.date) -> Standing:
    """The item's status today in the user's zone, and how it reads."""
    status = item_status(item.due_date, item.grace_days, items.effective_alarms(item, user),
                         today)
    days_left = (item.due_date - today).days
    grace_left = None if item.grace_days is None else days_left + item.grace_days
    return Standing(status, status_labels()[status], due_text(status, days_left, grace_left))
