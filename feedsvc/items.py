"""Renewal items: create, read, change and delete a user's items."""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc import reminders, status
from feedsvc.errors import NotFound
from feedsvc.models import Item, User
from feedsvc.schemas import ItemFields, ItemOut, validate
from feedsvc.status import item_status
from feedsvc.texts import N_

# Ids are 32-bit on PostgreSQL; a larger one cannot exist, and must not reach the driver.
MAX_ID = 2**31 - 1


def list_items(
    session: Session, user: User, *, category: str | None = None, archived: bool = False
) -> list[Item]:
    """The user's items, soonest due first (then by id, so the order is stable)."""
    query = select(Item).where(Item.user_id == user.id, Item.archived.is_(archived))
    if category is not None:
        query = query.where(Item.category == category)
    return list(session.scalars(query.order_by(Item.due_date, Item.id)))


def get_item(session: Session, user: User, item_id: int) -> Item:
    """One of the user's items; another user's item is ``NotFound`` like a missing one."""
    if not 0 < item_id <= MAX_ID:
        raise NotFound(N_("No item %(id)s."), id=item_id)
    item = session.scalar(select(Item).where(Item.id == item_id, Item.user_id == user.id))
    if item is None:
        raise NotFound(N_("No item %(id)s."), id=item_id)
    return item


def writable_fields(item: Item) -> dict[str, Any]:
    """The item's writable fields in their input shape (what a PATCH is merged into)."""
    return {
        "title": item.title,
        "category": item.category,
        "provider": item.provider,
        "carrier": item.carrier,
        "phone_number": item.phone_number,
        "country": item.country,
        "due_date": item.due_date,
        "repeat": None if item.repeat_unit is None else {
            "every": item.repeat_every, "unit": item.repeat_unit, "from": item.repeat_from,
        },
        "grace_days": item.grace_days,
        "alarms": item.alarms,
        "price": None if item.price_currency is None else {
            "amount": item.price_amount, "currency": item.price_currency,
        },
        "bound_services": list(item.bound_services),
        "notes": item.notes,
        "url": item.url,
        "auto_renew": item.auto_renew,
        "archived": item.archived,
    }


def _apply(item: Item, fields: ItemFields) -> None:
    repeat_changed = (
        (None, None, None) if fields.repeat is None
        else (fields.repeat.every, fields.repeat.unit, fields.repeat.from_)
    ) != (item.repeat_every, item.repeat_unit, item.repeat_from)
    due_changed = item.due_date != fields.due_date
    item.title = fields.title
    item.category = fields.category
    item.provider = fields.provider
    item.carrier = fields.carrier
    item.phone_number = fields.phone_number
    item.country = fields.country
    item.due_date = fields.due_date
    if fields.repeat is None:
        item.repeat_every = item.repeat_unit = item.repeat_from = None
    else:
        item.repeat_every = fields.repeat.every
        item.repeat_unit = fields.repeat.unit
        item.repeat_from = fields.repeat.from_
    # A due date set by hand, or a new rule, restarts the day-of-month anchor.
    if repeat_changed or due_changed or item.repeat_anchor is None:
        item.repeat_anchor = fields.due_date if fields.repeat is not None else None
    item.grace_days = fields.grace_days
    item.alarms = None if fields.alarms is None else [a.model_dump() for a in fields.alarms]
    item.price_amount = None if fields.price is None else fields.price.amount
    item.price_currency = None if fields.price is None else fields.price.currency
    item.bound_services = list(fields.bound_services)
    item.notes = fields.notes
    item.url = fields.url
    item.auto_renew = fields.auto_renew
    item.archived = fields.archived


def create_item(session: Session, user: User, data: Any) -> Item:
    """Validate input and store a new item."""
    fields = validate(ItemFields, data)
    now = status.utc_now()
    item = Item(user_id=user.id, created_at=now, updated_at=now)
    _apply(item, fields)
    reminders.replan(item)
    session.add(item)
    session.flush()
    return item


def update_item(session: Session, item: Item, changes: Any) -> Item:
    """Merge changes into an item, validate the whole, and store it when anything changed."""
    before = writable_fields(item)
    if isinstance(changes, dict):
        changes = {**before, **changes}
    fields = validate(ItemFields, changes)
    _apply(item, fields)
    if writable_fields(item) != before:
        item.updated_at = status.utc_now()
        reminders.replan(item)
    session.flush()
    return item


def delete_item(session: Session, item: Item) -> None:
    """Delete an item and its renewal history."""
    session.delete(item)
    session.flush()


class AlarmDefaults(Protocol):
    """Whatever holds an account's default alarms: a ``User``, or a feed's ``feeds.Owner``."""

    @property
    def default_alarms(self) -> list[dict[str, Any]]: ...


def effective_alarms(item: Item, user: AlarmDefaults) -> list[dict[str, Any]]:
    """The item's alarms, or the user's defaults when the item has none of its own."""
    return list(user.default_alarms if item.alarms is None else item.alarms)


def item_out(item: Item, user: User, today: dt.date) -> ItemOut:
    """The item as the API shows it, with its status on ``today``."""
    data = writable_fields(item)
    return ItemOut.model_validate({
        **data,
        "id": item.id,
        "status": item_status(item.due_date, item.grace_days, effective_alarms(item, user), today),
        "days_left": (item.due_date - today).days,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    })
