"""What a feed's calendar is built from, read as plain rows (never changed, so no ORM):
``read_source`` reads the feed, its owner and the outline of the items it shows;
``feed_view`` the items it needs in full, with their renewals, in one more statement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select
from sqlalchemy.orm import aliased

from feedsvc import actions
from feedsvc.feed import key
from feedsvc.feed.events import UID_DOMAIN
from feedsvc.feed.views import AlarmSpec, FeedView, ItemView, RenewalView
from feedsvc.items import effective_alarms
from feedsvc.models import Feed, Item, Renewal, User
from feedsvc.renewals import recent_since


@dataclass(frozen=True)
class Settings:
    """What a calendar shows of a feed and its owner."""

    feed_id: int | str
    name: str
    categories: list[str] | None
    reminder_events: bool
    show_numbers: bool
    action_links: bool
    secret: str | None
    feed_version: int
    feed_updated_at: dt.datetime
    user_id: int
    locale: str
    timezone: str
    default_alarms: list[dict[str, Any]]
    user_version: int
    user_updated_at: dt.datetime
    # What the cache key reads of them (``key.SETTINGS``).
    state: str


@dataclass(frozen=True)
class Source:
    """A live feed's settings, and the items it shows in calendar order as (id, version)."""

    settings: Settings
    items: tuple[tuple[int, int], ...]
    # The latest change to any item it shows.
    changed: dt.datetime | None


_HEAD = {"feed_id": Feed.id, "name": Feed.name, "categories": Feed.categories,
         "reminder_events": Feed.reminder_events, "show_numbers": Feed.show_numbers,
         "action_links": Feed.action_links, "secret": Feed.secret, "feed_version": Feed.version,
         "feed_updated_at": Feed.updated_at, "user_id": User.id, "locale": User.locale,
         "timezone": User.timezone, "default_alarms": User.default_alarms,
         "user_version": User.version, "user_updated_at": User.updated_at,
         "state": key.SETTINGS}
HEAD = (select(*(column.label(name) for name, column in _HEAD.items()))
        .join(User, User.id == Feed.user_id).where(Feed.token_hash == bindparam("token_hash")))
# The owner's items in calendar order: due date, then id.
OUTLINE = (select(Item.id, Item.version, Item.updated_at, Item.category)
           .where(Item.user_id == bindparam("user_id"), Item.archived.is_(False))
           .order_by(Item.due_date, Item.id))


def read_source(connection: Connection, token_hash: str) -> Source | None:
    """The live feed behind a token's hash, its settings and outline; None when there is none."""
    head = connection.execute(HEAD, {"token_hash": token_hash}).first()
    if head is None:
        return None
    settings = Settings(**head._asdict())
    # A filtered feed's categories are few: comparing here is cheaper than JSON in SQL.
    shown = [row for row in connection.execute(OUTLINE, {"user_id": settings.user_id})
             if settings.categories is None or row.category in settings.categories]
    return Source(settings, tuple((row.id, row.version) for row in shown),
                  max((row.updated_at for row in shown), default=None))


_ITEM_COLUMNS = (Item.id, Item.title, Item.due_date, Item.version, Item.updated_at, Item.alarms,
                 Item.provider, Item.carrier, Item.phone_number, Item.country, Item.grace_days,
                 Item.price_amount, Item.price_currency, Item.bound_services, Item.notes,
                 Item.url, Item.auto_renew)
_RENEWAL_COLUMNS = (Renewal.id.label("renewal_id"), Renewal.renewed_on, Renewal.amount,
                    Renewal.currency, Renewal.method, Renewal.reference, Renewal.note)


_EARLIER = aliased(Renewal)
_LATEST = (select(func.max(_EARLIER.id)).where(_EARLIER.item_id == Item.id)
           .correlate(Item).scalar_subquery())
# Items by id (bound: user_id, since, ids), in calendar order, an item's row once for each
# renewal a feed shows (its latest, and those after ``since``) or once with NULL renewal
# columns: one statement, where reading the renewals apart would be two.
ITEMS = (select(*_ITEM_COLUMNS, *_RENEWAL_COLUMNS)
         .outerjoin(Renewal, and_(Renewal.item_id == Item.id, or_(
             Renewal.id == _LATEST, Renewal.renewed_on > bindparam("since"))))
         .where(Item.user_id == bindparam("user_id"), Item.archived.is_(False),
                Item.id.in_(bindparam("ids", expanding=True)))
         .order_by(Item.due_date, Item.id, Renewal.renewed_on, Renewal.id))


def _renew_link(settings: Settings, base_url: str, secret_key: str, item_id: int,
                due_date: dt.date) -> str | None:
    """The "I renewed it" address of an item's cycle (None in a feed without links): the same
    for the same item, cycle, feed secret and key, and dead once the secret is rotated."""
    if not settings.action_links or settings.secret is None:
        return None
    return actions.link(base_url, actions.make_token(
        secret_key, actions.RENEW, item_id, due_date, int(settings.feed_id), settings.secret))


def feed_view(connection: Connection, settings: Settings, base_url: str, today: dt.date,
              items: Collection[int], *, secret_key: str,
              changed: dt.datetime | None = None) -> FeedView:
    """The calendar of these of the owner's items, in one query whatever their number; a
    build reads only those it has no events of, so ``changed`` gives the latest change to any
    item the feed shows. ``secret_key`` seals the action links."""
    base_url, since = base_url.rstrip("/"), recent_since(today)
    found: dict[int, Any] = {}
    renewals: dict[int, list[RenewalView]] = {}
    if items:
        for row in connection.execute(ITEMS, {"user_id": settings.user_id, "since": since,
                                              "ids": sorted(items)}):
            found.setdefault(row.id, row)
            shown = renewals.setdefault(row.id, [])
            if row.renewal_id is not None:
                shown.append(RenewalView(row.renewal_id, row.renewed_on, row.amount,
                                         row.currency, row.method, row.reference, row.note))
    settings_changed = max(settings.user_updated_at, settings.feed_updated_at)
    # Each counter only grows, so their sum rises with every change to the event.
    settings_sequence = settings.user_version + settings.feed_version - 2
    views = []
    for item in found.values():
        last = max(renewals[item.id], key=lambda renewal: renewal.id, default=None)
        views.append(ItemView(
            id=item.id, title=item.title, due_date=item.due_date,
            cycle=last.id if last else 0,
            sequence=item.version + settings_sequence,
            last_modified=max(item.updated_at, settings_changed),
            page_url=f"{base_url}/items/{item.id}",
            renew_link=_renew_link(settings, base_url, secret_key, item.id, item.due_date),
            alarms=tuple(AlarmSpec(a["days_before"], a["at"])
                         for a in effective_alarms(item, settings)),
            provider=item.provider, carrier=item.carrier, phone_number=item.phone_number,
            country=item.country,
            grace_days=item.grace_days, price_amount=item.price_amount,
            price_currency=item.price_currency, bound_services=tuple(item.bound_services),
            notes=item.notes, url=item.url, auto_renew=item.auto_renew, last_renewal=last,
            recent_renewals=tuple(r for r in renewals[item.id] if r.renewed_on > since)))
    changes = [settings_changed, *(view.last_modified for view in views),
               *([changed] if changed else [])]
    return FeedView(
        uid=f"feed-{settings.feed_id}@{UID_DOMAIN}", name=settings.name,
        timezone=settings.timezone, locale=settings.locale,
        last_modified=max(changes).replace(microsecond=0),
        reminder_events=settings.reminder_events, show_numbers=settings.show_numbers,
        items=tuple(views))
