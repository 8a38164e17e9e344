"""Feeds: the secret calendar URLs of an account.

A feed's URL token is HMAC-SHA256(secret key, the feed's random ``secret``): 256 bits the
owner can be shown again at any time, yet a copy of the database alone (which holds the
``secret`` and the token's SHA-256, never the token) opens nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc.accounts import hash_token
from feedsvc.models import Feed, User

DEFAULT_FEED_NAME = "All renewals"


def feed_token(secret_key: str, feed_secret: str) -> str:
    """The URL token of a feed, derived from its stored secret and the app's key."""
    digest = hmac.new(secret_key.encode("utf-8"), b"feed:" + feed_secret.encode("ascii"),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def create_feed(
    session: Session,
    user: User,
    secret_key: str,
    *,
    name: str = DEFAULT_FEED_NAME,
    categories: list[str] | None = None,
    reminder_events: bool = False,
    show_numbers: bool = False,
) -> Feed:
    """Create a feed with a fresh secret."""
    feed_secret = secrets.token_hex(32)
    feed = Feed(
        user=user,
        name=name,
        categories=categories,
        reminder_events=reminder_events,
        show_numbers=show_numbers,
        secret=feed_secret,
        token_hash=hash_token(feed_token(secret_key, feed_secret)),
    )
    session.add(feed)
    session.flush()
    return feed


def ensure_default_feed(session: Session, user: User, secret_key: str) -> Feed:
    """The user's first feed, created (all categories) when they have none."""
    feed = session.scalar(select(Feed).where(Feed.user_id == user.id).order_by(Feed.id).limit(1))
    return feed or create_feed(session, user, secret_key)
