"""Marking an item renewed, its history, undo, and what was spent."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedsvc import reminders, status
from feedsvc.errors import Conflict, ValidationFailed
from feedsvc.models import Item, Renewal, User
from feedsvc.repeat import RepeatRule, add_months, next_due
from feedsvc.schemas import RenewalFields, RenewalOut, validate
from feedsvc.texts import N_, Message

LATEST_DUE = dt.date(2999, 12, 31)
SPEND_MONTHS = 12


def repeat_rule(item: Item) -> RepeatRule | None:
    """The item's repeat rule, or None when it does not repeat."""
    if item.repeat_unit is None or item.repeat_every is None:
        return None
    return RepeatRule(item.repeat_every, item.repeat_unit, item.repeat_from or "schedule")


def _invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(N_("The renewal is not valid: %(field)s %(problem)s."),
                            {field: problem}, field=field, problem=problem)


def _due_after(item: Item, fields: RenewalFields, renewed_on: dt.date) -> dt.date:
    if fields.due_date is not None:
        if fields.due_date <= item.due_date:
            raise _invalid("due_date", Message(N_("must be after the current due date %(date)s"),
                                               {"date": item.due_date}))
        due_after = fields.due_date
    else:
        rule = repeat_rule(item)
        if rule is None:
            raise _invalid("due_date", N_("is required for an item that does not repeat"))
        try:
            due_after = next_due(item.due_date, rule, renewed_on, fields.periods,
                                 item.repeat_anchor)
        except OverflowError:
            due_after = dt.date.max
    if due_after > LATEST_DUE:
        raise _invalid("periods", Message(N_("would move the due date past %(date)s"),
                                          {"date": LATEST_DUE}))
    return due_after


def _money(item: Item, fields: RenewalFields, given: set[str]) -> tuple[str | None, str | None]:
    if "amount" not in given and "currency" not in given:
        # Nothing said about money: assume the item's usual price was paid.
        return item.price_amount, item.price_currency
    amount, currency = fields.amount, fields.currency
    if amount is not None and currency is None:
        currency = item.price_currency
        if currency is None:
            raise _invalid("currency", N_("is required with an amount"))
    if amount is None and currency is not None:
        raise _invalid("amount", N_("is required with a currency"))
    return amount, currency


def renew(session: Session, item: Item, data: Any, today: dt.date) -> Renewal:
    """Record a renewal and move the item's due date by its repeat rule (or to ``due_date``)."""
    fields = validate(RenewalFields, data)
    renewed_on = fields.renewed_on or today
    if renewed_on > today:
        raise _invalid("renewed_on", N_("cannot be in the future"))
    if renewed_on < dt.date(1900, 1, 1):
        raise _invalid("renewed_on", N_("is too far in the past"))
    due_after = _due_after(item, fields, renewed_on)
    amount, currency = _money(item, fields, fields.model_fields_set)
    renewal = Renewal(
        item_id=item.id,
        renewed_on=renewed_on,
        periods=fields.periods,
        amount=amount,
        currency=currency,
        method=fields.method,
        reference=fields.reference,
        note=fields.note,
        due_before=item.due_date,
        due_after=due_after,
        created_at=status.utc_now(),
    )
    session.add(renewal)
    item.due_date = due_after
    item.updated_at = status.utc_now()
    reminders.replan(item)
    session.flush()
    return renewal


def list_renewals(session: Session, item: Item) -> list[Renewal]:
    """The item's renewals, newest first."""
    return list(session.scalars(
        select(Renewal).where(Renewal.item_id == item.id).order_by(Renewal.id.desc())))


def latest_renewals(session: Session, user: User) -> dict[int, Renewal]:
    """Each of the user's items' latest renewal, by item id, in one query."""
    latest_ids = (select(func.max(Renewal.id)).join(Item).where(Item.user_id == user.id)
                  .group_by(Renewal.item_id))
    return {renewal.item_id: renewal
            for renewal in session.scalars(select(Renewal).where(Renewal.id.in_(latest_ids)))}


def undo_latest(session: Session, item: Item) -> Item:
    """Delete the latest renewal and restore the due date it replaced; ``Conflict`` if none."""
    latest = session.scalar(select(Renewal).where(Renewal.item_id == item.id)
                            .order_by(Renewal.id.desc()).limit(1))
    if latest is None:
        raise Conflict(N_("There is no renewal to undo."))
    item.due_date = latest.due_before
    item.updated_at = status.utc_now()
    reminders.replan(item)
    session.delete(latest)
    session.flush()
    return item


def renewal_out(renewal: Renewal) -> RenewalOut:
    """The renewal as the API shows it."""
    return RenewalOut(
        id=renewal.id, item_id=renewal.item_id, renewed_on=renewal.renewed_on,
        periods=renewal.periods, amount=renewal.amount, currency=renewal.currency,
        method=renewal.method, reference=renewal.reference, note=renewal.note,
        due_before=renewal.due_before, due_after=renewal.due_after,
        created_at=renewal.created_at,
    )


def recent_since(today: dt.date) -> dt.date:
    """Renewals after this day are "recent": in the spend totals and in the feed."""
    # Calendar months, not 365 days: a span across Feb 29 has 366 days.
    return add_months(today, -SPEND_MONTHS)


def spend(
    session: Session, user: User, today: dt.date, item_id: int | None = None
) -> dict[int, dict[str, Decimal]]:
    """What was paid in the last 12 months, per item and currency, in one query."""
    since = recent_since(today)
    query = (select(Renewal.item_id, Renewal.amount, Renewal.currency).join(Item)
             .where(Item.user_id == user.id, Renewal.renewed_on > since,
                    Renewal.amount.is_not(None), Renewal.currency.is_not(None)))
    if item_id is not None:
        query = query.where(Renewal.item_id == item_id)
    totals: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for renewed_item, amount, currency in session.execute(query):
        # The query keeps only rows with both an amount and a currency.
        totals[renewed_item][str(currency)] += Decimal(str(amount))
    return {key: dict(value) for key, value in totals.items()}


def total_spend(per_item: dict[int, dict[str, Decimal]]) -> dict[str, Decimal]:
    """Per-item totals added up per currency."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for by_currency in per_item.values():
        for currency, amount in by_currency.items():
            totals[currency] += amount
    return dict(sorted(totals.items()))
