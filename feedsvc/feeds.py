"""Feeds: the secret calendar URLs of an account, and what they serve.

A feed's URL token is HMAC-SHA256(secret key, the feed's random ``secret``): 256 bits the
owner can be shown again at any time, yet a copy of the database alone (which holds the
``secret`` and the token's SHA-256, never the token) opens nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import current_app
from sqlalchemy import (
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, aliased, joinedload

from feedsvc import actions, ics, status
from feedsvc.accounts import hash_token
from feedsvc.driver import Prepared
from feedsvc.errors import FeedsvcError, Gone, NotFound
from feedsvc.feedcache import PACKAGE_VERSION
from feedsvc.items import MAX_ID, effective_alarms
from feedsvc.models import Feed, Item, Renewal, RetiredFeedToken, User
from feedsvc.renewals import recent_since
from feedsvc.schemas import FeedFields, validate
from feedsvc.texts import DEFAULT_FEED_NAME, N_

# Token alphabet and length of feed_token(): 43 URL-safe base64 characters.
TOKEN_LENGTH = 43


def feed_token(secret_key: str, feed_secret: str) -> str:
    """The URL token of a feed, derived from its stored secret and the app's key."""
    digest = hmac.new(secret_key.encode("utf-8"), b"feed:" + feed_secret.encode("ascii"),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class FeedUrls:
    """Where a feed can be subscribed from."""

    url: str
    webcal_url: str
    google_url: str


def feed_urls(feed: Feed, secret_key: str, base_url: str) -> FeedUrls:
    """The https URL, the webcal:// URL, and Google Calendar's subscribe link.

    Google ignores alarms in subscribed calendars, so its link always points at a variant of
    the feed that carries lead events.
    """
    token = feed_token(secret_key, feed.secret)
    base = base_url.rstrip("/")
    url = f"{base}/feeds/{token}.ics"
    google_feed = url if feed.reminder_events else f"{base}/feeds/{token}/google.ics"
    webcal = "webcal://" + url.split("://", 1)[1]
    google_webcal = "webcal://" + google_feed.split("://", 1)[1]
    return FeedUrls(
        url=url,
        webcal_url=webcal,
        google_url="https://calendar.google.com/calendar/render?cid=" + quote(google_webcal, safe=""),
    )


def _new_secret(secret_key: str) -> tuple[str, str]:
    feed_secret = secrets.token_hex(32)
    return feed_secret, hash_token(feed_token(secret_key, feed_secret))


def create_feed(session: Session, user: User, secret_key: str, data: Any) -> Feed:
    """Validate the settings (``{}`` for the defaults) and create a feed with a fresh secret."""
    # No None-means-defaults here: a JSON body of ``null`` must be refused, not obeyed.
    fields = validate(FeedFields, data)
    feed_secret, token_hash = _new_secret(secret_key)
    now = status.utc_now()
    feed = Feed(user_id=user.id, secret=feed_secret, token_hash=token_hash,
                created_at=now, updated_at=now)
    _apply(feed, fields)
    session.add(feed)
    session.flush()
    return feed


def _apply(feed: Feed, fields: FeedFields) -> None:
    feed.name = fields.name
    feed.categories = None if fields.categories is None else sorted(set(fields.categories))
    feed.reminder_events = fields.reminder_events
    feed.show_numbers = fields.show_numbers
    feed.action_links = fields.action_links


def ensure_default_feed(session: Session, user: User, secret_key: str) -> Feed:
    """The user's first feed, created (all categories) when they have none."""
    feed = session.scalar(select(Feed).where(Feed.user_id == user.id).order_by(Feed.id).limit(1))
    return feed or create_feed(session, user, secret_key, {"name": DEFAULT_FEED_NAME})


def list_feeds(session: Session, user: User) -> list[Feed]:
    """The user's feeds, oldest first."""
    return list(session.scalars(select(Feed).where(Feed.user_id == user.id).order_by(Feed.id)))


def get_feed(session: Session, user: User, feed_id: int) -> Feed:
    """One of the user's feeds; another user's feed is ``NotFound`` like a missing one."""
    feed = None
    if 0 < feed_id <= MAX_ID:
        feed = session.scalar(select(Feed).where(Feed.id == feed_id, Feed.user_id == user.id))
    if feed is None:
        raise NotFound(N_("No feed %(id)s."), id=feed_id)
    return feed


def feed_fields(feed: Feed) -> dict[str, Any]:
    """The feed's writable settings in their input shape."""
    return {"name": feed.name, "categories": feed.categories,
            "reminder_events": feed.reminder_events, "show_numbers": feed.show_numbers,
            "action_links": feed.action_links}


def update_feed(session: Session, feed: Feed, changes: Any) -> Feed:
    """Merge changes into the feed's settings, validated as a whole."""
    before = feed_fields(feed)
    fields = validate(FeedFields, {**before, **changes} if isinstance(changes, dict) else changes)
    _apply(feed, fields)
    if feed_fields(feed) != before:
        feed.version += 1
        feed.updated_at = status.utc_now()
    session.flush()
    return feed


def _retire(session: Session, token_hash: str) -> None:
    session.add(RetiredFeedToken(token_hash=token_hash))


def rotate_feed(session: Session, feed: Feed, secret_key: str) -> Feed:
    """Give the feed a new URL; the old one answers 410 Gone from now on."""
    _retire(session, feed.token_hash)
    # The address changes, and the action links keyed on the secret with it; the events'
    # LAST-MODIFIED and SEQUENCE stay as they were (only the new address serves them).
    feed.secret, feed.token_hash = _new_secret(secret_key)
    session.flush()
    return feed


def delete_feed(session: Session, feed: Feed) -> None:
    """Delete a feed; its URL answers 410 Gone from now on."""
    _retire(session, feed.token_hash)
    session.delete(feed)
    session.flush()


# The feed path's statements are built once: building a select (and its cache key) costs
# more than SQLite takes to run it, and a cold feed request runs several.
_FEED_BY_TOKEN = (select(Feed).where(Feed.token_hash == bindparam("token_hash"))
                  .options(joinedload(Feed.user)))


def feed_for_token(session: Session, token: str) -> Feed:
    """The live feed behind a URL token; ``Gone`` when retired, ``NotFound`` when unknown."""
    if len(token) != TOKEN_LENGTH:
        raise NotFound(N_("No such calendar."))
    token_hash = hash_token(token)
    feed = session.scalar(_FEED_BY_TOKEN, {"token_hash": token_hash})
    if feed is None:
        raise _not_live(session, token_hash)
    return feed


def _not_live(session: Session, token_hash: str) -> FeedsvcError:
    """Why no live feed has this token: ``Gone`` when it was retired, else ``NotFound``."""
    if session.get(RetiredFeedToken, token_hash) is not None:
        return Gone(N_("This calendar address was replaced or deleted. "
                       "Subscribe again with the new address."))
    return NotFound(N_("No such calendar."))


# What the calendar shows of items and renewals, loaded as plain rows: a feed is built from
# many rows that are never changed, which the ORM's identity map would only slow down.
_ITEM_COLUMNS = (Item.id, Item.title, Item.due_date, Item.version, Item.updated_at, Item.alarms,
                 Item.provider, Item.phone_number, Item.country, Item.grace_days,
                 Item.price_amount, Item.price_currency, Item.bound_services, Item.notes,
                 Item.url, Item.auto_renew)
_RENEWAL_COLUMNS = (Renewal.id.label("renewal_id"), Renewal.renewed_on, Renewal.amount,
                    Renewal.currency, Renewal.method, Renewal.reference, Renewal.note)


def _renewal_view(row: Any) -> ics.RenewalView:
    return ics.RenewalView(id=row.renewal_id, renewed_on=row.renewed_on, amount=row.amount,
                           currency=row.currency, method=row.method, reference=row.reference,
                           note=row.note)


def _items_shown(only: bool, categories: bool) -> Any:
    """The items a feed shows in calendar order, each with the renewals it shows.

    An item's row comes once for each of its renewals shown (its latest, and those after
    ``since``), by date, or once with NULL renewal columns: one statement, where reading
    the renewals on their own would be a second. Bound: user_id, since, categories, only.
    """
    earlier = aliased(Renewal)
    latest = (select(func.max(earlier.id)).where(earlier.item_id == Item.id)
              .correlate(Item).scalar_subquery())
    shown = and_(Renewal.item_id == Item.id,
                 or_(Renewal.id == latest, Renewal.renewed_on > bindparam("since")))
    query = (select(*_ITEM_COLUMNS, *_RENEWAL_COLUMNS).outerjoin(Renewal, shown)
             .where(Item.user_id == bindparam("user_id"), Item.archived.is_(False)))
    if categories:
        query = query.where(Item.category.in_(bindparam("categories", expanding=True)))
    if only:
        query = query.where(Item.id.in_(bindparam("only", expanding=True)))
    return query.order_by(Item.due_date, Item.id, Renewal.renewed_on, Renewal.id)


_ITEMS = {(only, categories): _items_shown(only, categories)
          for only in (False, True) for categories in (False, True)}
_ITEMS_RUN = {shape: Prepared(query) for shape, query in _ITEMS.items()}
# Their rows' columns, by name.
_ItemRow = namedtuple("_ItemRow",  # type: ignore[misc]
                      [column.key for column in _ITEMS[False, False].selected_columns])


def _shown_params(feed: Feed | FeedSettings, user: User | Owner) -> dict[str, Any]:
    params: dict[str, Any] = {"user_id": user.id}
    if feed.categories is not None:
        params["categories"] = list(feed.categories)
    return params


@dataclass(frozen=True)
class Outline:
    """The items a feed shows, in calendar order, as (id, row version), and their latest change.

    An item's events depend only on its row (whose version grows with every change, renewals
    included) and on the feed's ``events_context``: so a build can tell from this alone which
    items' events an earlier build already serialised.
    """

    items: tuple[tuple[int, int], ...]
    changed: dt.datetime | None


@dataclass(frozen=True)
class FeedSettings:
    """What a feed's calendar depends on of the feed row (``Feed``'s attributes of that name)."""

    id: int
    name: str
    categories: list[str] | None
    reminder_events: bool
    show_numbers: bool
    action_links: bool
    # What the action links in its events are keyed on: rotating the feed kills them.
    secret: str
    version: int
    updated_at: dt.datetime


@dataclass(frozen=True)
class Owner:
    """What a feed's calendar depends on of its owner (``User``'s attributes of that name)."""

    id: int
    locale: str
    timezone: str
    default_alarms: list[dict[str, Any]]
    version: int
    updated_at: dt.datetime


@dataclass(frozen=True)
class FeedSource:
    """A live feed, its owner, and the outline of the items it shows: what a build starts from."""

    feed: FeedSettings
    owner: Owner
    outline: Outline


_FEED_COLUMNS = (Feed.id, Feed.name, Feed.categories, Feed.reminder_events, Feed.show_numbers,
                 Feed.action_links, Feed.secret, Feed.version, Feed.updated_at)
_OWNER_COLUMNS = (User.id, User.locale, User.timezone, User.default_alarms, User.version,
                  User.updated_at)
_OUTLINE_COLUMNS = (Item.id, Item.version, Item.updated_at, Item.category, Item.due_date)


def _source_query() -> Any:
    """The feed and its owner as the first row, then the owner's unarchived items in order.

    Two row shapes in one UNION ALL, each padded with typed NULLs where the other has
    values: a cold feed request would otherwise spend a second statement, and the ORM's
    loading of the feed and owner, which together cost more than this statement.
    """
    settings = (*_FEED_COLUMNS, *_OWNER_COLUMNS)

    def labelled(columns: tuple[Any, ...], present: bool, first: int) -> list[Any]:
        return [(column if present else cast(null(), column.type)).label(f"c{first + n}")
                for n, column in enumerate(columns)]

    by_token = Feed.token_hash == bindparam("token_hash")
    head = (select(literal_column("0").label("shape"), *labelled(settings, True, 0),
                   *labelled(_OUTLINE_COLUMNS, False, len(settings)))
            .join(User, User.id == Feed.user_id).where(by_token))
    items = (select(literal_column("1"), *labelled(settings, False, 0),
                    *labelled(_OUTLINE_COLUMNS, True, len(settings)))
             .join(Feed, Feed.user_id == Item.user_id)
             .where(by_token, Item.archived.is_(False)))
    query = union_all(head, items)
    order = query.selected_columns
    # Calendar order, as ``_items_shown``: due date, then id.
    return query.order_by(order.shape, order[f"c{len(settings) + 4}"],
                          order[f"c{len(settings)}"])


_SOURCE = _source_query()
_SOURCE_RUN = Prepared(_SOURCE)


def feed_source(session: Session, token: str) -> FeedSource:
    """The live feed behind a URL token, its owner and its outline, in one statement.

    ``Gone`` when the token was retired, ``NotFound`` when unknown, as ``feed_for_token``.
    """
    if len(token) != TOKEN_LENGTH:
        raise NotFound(N_("No such calendar."))
    token_hash = hash_token(token)
    rows = _SOURCE_RUN.rows(session.connection(), {"token_hash": token_hash})
    if not rows or rows[0][0] != 0:
        raise _not_live(session, token_hash)
    head = rows[0][1:]
    feed = FeedSettings(*head[:len(_FEED_COLUMNS)])
    owner = Owner(*head[len(_FEED_COLUMNS):len(_FEED_COLUMNS) + len(_OWNER_COLUMNS)])
    at = 1 + len(_FEED_COLUMNS) + len(_OWNER_COLUMNS)
    # A filtered feed's categories are few: comparing here is cheaper than JSON in SQL.
    shown = [row[at:] for row in rows[1:]
             if feed.categories is None or row[at + 3] in feed.categories]
    outline = Outline(items=tuple((item_id, version) for item_id, version, *_ in shown),
                      changed=max((updated_at for _, _, updated_at, *_ in shown), default=None))
    return FeedSource(feed, owner, outline)


def events_context(feed: Feed | FeedSettings, user: User | Owner, base_url: str, today: dt.date,
                   reminder_events: bool | None = None, *, secret_key: str) -> str:
    """Everything but the item itself that shapes an item's events, as one digest.

    The action links' tokens depend on the base URL, the feed's secret and the app's key
    (``secret_key``, through its fingerprint), so each of them is part of it.
    """
    inputs = (ics.FORMAT_VERSION, PACKAGE_VERSION, base_url.rstrip("/"),
              recent_since(today).isoformat(), feed.version, feed.updated_at.isoformat(),
              feed.show_numbers, feed.reminder_events if reminder_events is None
              else reminder_events, bool(feed.action_links), feed.secret,
              actions.key_id(secret_key), user.version, user.updated_at.isoformat(),
              user.locale, user.timezone, repr(user.default_alarms))
    return hashlib.sha256(repr(inputs).encode("utf-8", "backslashreplace")).hexdigest()


def feed_view(
    session: Session,
    feed: Feed | FeedSettings,
    user: User | Owner,
    base_url: str,
    today: dt.date,
    *,
    reminder_events: bool | None = None,
    outline: Outline | None = None,
    only: frozenset[int] | None = None,
    secret_key: str | None = None,
) -> ics.FeedView:
    """Everything the calendar needs, in one query whatever the number of items.

    With ``only``, just those items are read (the calendar's other items come from an
    earlier build), and ``outline`` gives the feed's latest change. ``secret_key`` seals the
    action links (default: the current app's key).
    """
    params = _shown_params(feed, user)
    since = recent_since(today)
    params["since"] = since
    if only is not None:
        params["only"] = sorted(only)
    rows: list[Any] = []
    if only is None or only:
        rows = [_ItemRow._make(row) for row in _ITEMS_RUN[
            only is not None, feed.categories is not None].rows(session.connection(), params)]

    found: list[Any] = []
    latest: dict[int, ics.RenewalView] = {}
    recent: dict[int, list[ics.RenewalView]] = {}
    for row in rows:
        if not found or found[-1].id != row.id:
            found.append(row)
        if row.renewal_id is not None:
            renewal = _renewal_view(row)
            if renewal.id > getattr(latest.get(row.id), "id", 0):
                latest[row.id] = renewal
            if renewal.renewed_on > since:
                recent.setdefault(row.id, []).append(renewal)

    base = base_url.rstrip("/")
    renew_link = _renew_links(feed, base, secret_key)
    settings_changed = max(user.updated_at, feed.updated_at)
    # Each counter only grows, so their sum rises with every change to the event.
    settings_sequence = user.version + feed.version - 2
    default_alarms: tuple[ics.AlarmSpec, ...] | None = None
    views = []
    for item in found:
        if item.alarms is None:
            if default_alarms is None:
                default_alarms = _alarm_specs(effective_alarms(item, user))
            alarms = default_alarms
        else:
            alarms = _alarm_specs(effective_alarms(item, user))
        last = latest.get(item.id)
        views.append(ics.ItemView(
            id=item.id,
            title=item.title,
            due_date=item.due_date,
            cycle=last.id if last else 0,
            sequence=item.version + settings_sequence,
            last_modified=max(item.updated_at, settings_changed),
            page_url=f"{base}/items/{item.id}",
            renew_link=renew_link(item.id, item.due_date),
            alarms=alarms,
            provider=item.provider,
            phone_number=item.phone_number,
            country=item.country,
            grace_days=item.grace_days,
            price_amount=item.price_amount,
            price_currency=item.price_currency,
            bound_services=tuple(item.bound_services),
            notes=item.notes,
            url=item.url,
            auto_renew=item.auto_renew,
            last_renewal=last,
            recent_renewals=tuple(recent.get(item.id, ())),
        ))
    changes = [settings_changed, *(v.last_modified for v in views)]
    if outline is not None and outline.changed is not None:
        changes.append(outline.changed)
    last_modified = max(changes)
    return ics.FeedView(
        uid=f"feed-{feed.id}@{ics.UID_DOMAIN}",
        name=feed.name,
        timezone=user.timezone,
        locale=user.locale,
        last_modified=last_modified.replace(microsecond=0),
        reminder_events=feed.reminder_events if reminder_events is None else reminder_events,
        show_numbers=feed.show_numbers,
        items=tuple(views),
    )


def _renew_links(feed: Feed | FeedSettings, base_url: str,
                 secret_key: str | None) -> Callable[[int, dt.date], str | None]:
    """The "I renewed it" address of an item's cycle in this feed, or None without links.

    Deterministic (the same item, cycle, feed secret and key give the same token), so an
    unchanged account still gives the same bytes; keyed with the feed's secret, so a
    rotation kills the old links.
    """
    # The single-item download (``web.items.item_calendar``) passes a stand-in feed that has
    # no secret and carries no links.
    if not getattr(feed, "action_links", False):
        return lambda item_id, due_date: None
    key = secret_key if secret_key is not None else current_app.config["SECRET_KEY"]
    return lambda item_id, due_date: actions.link(base_url, actions.make_token(
        key, actions.RENEW, item_id, due_date, feed.id, feed.secret))


def _alarm_specs(alarms: list[dict[str, Any]]) -> tuple[ics.AlarmSpec, ...]:
    return tuple(ics.AlarmSpec(a["days_before"], a["at"]) for a in alarms)
