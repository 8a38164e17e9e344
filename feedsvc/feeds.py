"""Feeds: the secret calendar URLs of an account (what they serve: ``feedsvc.feed``).

A feed's URL token is HMAC-SHA256(secret key, the feed's random ``secret``): 256 bits the
owner can be shown again at any time, yet a copy of the database alone (which holds the
``secret`` and the token's SHA-256, never the token) opens nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from feedsvc import status
from feedsvc.accounts import hash_token
from feedsvc.errors import FeedsvcError, Gone, NotFound
from feedsvc.items import MAX_ID
from feedsvc.models import Feed, RetiredFeedToken, User
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


def feed_for_token(session: Session, token: str) -> Feed:
    """The live feed behind a URL token; ``Gone`` when retired, ``NotFound`` when unknown."""
    if len(token) != TOKEN_LENGTH:
        raise NotFound(N_("No such calendar."))
    token_hash = hash_token(token)
    feed = session.scalar(select(Feed).where(Feed.token_hash == token_hash))
    if feed is None:
        raise not_live(session.connection(), token_hash)
    return feed


def not_live(connection: Connection, token_hash: str) -> FeedsvcError:
    """Why no live feed has this token: ``Gone`` when it was retired, else ``NotFound``."""
    retired = select(RetiredFeedToken.token_hash).where(RetiredFeedToken.token_hash == token_hash)
    if connection.scalar(retired) is not None:
        return Gone(N_("This calendar address was replaced or deleted. "
                       "Subscribe again with the new address."))
    return NotFound(N_("No such calendar."))
