"""Action links: "I renewed it" and "Remind me tomorrow", one tap from a reminder or a feed.

A token names one item, one cycle (its due date then) and one action, and nothing else. It
is the payload sealed with AES-SIV (the ``cryptography`` package) under a key derived from
``FEEDSVC_SECRET_KEY``: unguessable, unreadable (no personal data in clear), impossible to
alter, and deterministic, so a feed that did not change stays byte-identical. A feed's
tokens also carry a tag made with that feed's own secret: rotating the feed kills them.

A token lives as long as its cycle: once the item is renewed (from anywhere) it only says
so, and 30 days after the cycle's grace period it is gone, like the item itself when it or
the account is deleted.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import hmac
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

RENEW, SNOOZE = "renew", "snooze"
ACTIONS = (RENEW, SNOOZE)
# After the cycle's grace period (or its due date without one), the links keep answering
# "already renewed" or "expired" rather than acting.
LIFETIME_AFTER_GRACE = dt.timedelta(days=30)
_VERSION = 1
# version, action, item id, due date (ordinal), feed id (0: a reminder), feed tag
_LAYOUT = struct.Struct(">BBQIQ8s")
_NO_TAG = bytes(8)


@dataclass(frozen=True)
class Action:
    """What a valid token says."""

    action: str
    item_id: int
    due_date: dt.date
    feed_id: int | None
    feed_tag: bytes


class BadToken(ValueError):
    """The token was not made here, or was altered."""


# Deriving the key costs most of a token; a feed build makes one per item.
@functools.lru_cache(maxsize=4)
def _cipher(secret_key: str) -> AESSIV:
    key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None,
               info=b"feedsvc action links").derive(secret_key.encode())
    return AESSIV(key)


def feed_tag(feed_secret: str, item_id: int, due_date: dt.date, action: str) -> bytes:
    """The part of a feed's token that only the feed's current secret makes."""
    message = f"{item_id}:{due_date.isoformat()}:{action}".encode()
    return hmac.new(feed_secret.encode(), message, hashlib.sha256).digest()[:8]


def make_token(secret_key: str, action: str, item_id: int, due_date: dt.date,
               feed_id: int | None = None, feed_secret: str | None = None) -> str:
    """The token for ``action`` on the item's cycle ending ``due_date`` (for a feed when
    ``feed_id`` and ``feed_secret`` are given)."""
    tag = feed_tag(feed_secret, item_id, due_date, action) if feed_secret else _NO_TAG
    payload = _LAYOUT.pack(_VERSION, ACTIONS.index(action), item_id, due_date.toordinal(),
                           feed_id or 0, tag)
    sealed = _cipher(secret_key).encrypt(payload, None)
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def read_token(secret_key: str, token: str) -> Action:
    """What the token says; ``BadToken`` when it is not one of ours, unaltered."""
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = _cipher(secret_key).decrypt(sealed, None)
        version, action, item_id, ordinal, feed_id, tag = _LAYOUT.unpack(payload)
        if version != _VERSION:
            raise BadToken(token)
        return Action(ACTIONS[action], item_id, dt.date.fromordinal(ordinal), feed_id or None,
                      tag)
    except (InvalidTag, binascii.Error, struct.error, ValueError, IndexError) as error:
        raise BadToken(token) from error


def link(base_url: str, token: str) -> str:
    """The address of an action link: ``<base URL>/act/<token>``."""
    return f"{base_url.rstrip('/')}/act/{token}"


def key_id(secret_key: str) -> str:
    """A fingerprint of the key tokens are sealed under, for whatever caches bytes that hold
    tokens (the feed cache) to key on, without keeping the key itself."""
    return hashlib.sha256(b"feedsvc action links key:" + secret_key.encode()).hexdigest()[:32]


def undo_proof(secret_key: str, token: str, renewal_id: int) -> str:
    """What the page that renewed through ``token`` hands back to undo that renewal: only
    a renewal made through the link can be undone through it, never one made elsewhere."""
    message = f"undo:{renewal_id}:{token}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def expires_on(due_date: dt.date, grace_days: int | None) -> dt.date:
    """The last day a cycle's links act: 30 days after its grace period."""
    return due_date + dt.timedelta(days=grace_days or 0) + LIFETIME_AFTER_GRACE
