"""Everything a feed's bytes depend on, and the one cache key derived from it: this code and
its translations (``CODE``); the feed's and its owner's settings (``SETTINGS``: their version
counters, bumped with every change to what a feed shows, and the feed's secret, which keys
the action links); the owner's items and renewals (``ITEMS``); the variant, the base URL, the
first day of the recent-renewals window and the action key's fingerprint. ``Inputs.key``
digests them all; ``Inputs.context`` all but the items, and an item's events depend only on
it and the item's row (``event_key``).

``ITEMS`` sees every committed write: every UPDATE of an item bumps ``Item.version`` and ids
are never reused, so (count, sum of versions, max id) over the owner's items changes on every
insert, update or delete. Renewals are only inserted or deleted, each in the same transaction
as an UPDATE of their item (tests/test_feed_cache.py checks each path). The key is read before
anything a build reads, so a write committed during a build makes the next key differ.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import String, cast, func, literal_column, select

from feedsvc import actions
from feedsvc.models import Feed, Item, User
from feedsvc.renewals import recent_since

PACKAGE = Path(__file__).resolve().parent.parent


def _code_digest() -> str:
    """A digest of the package's code, data (the carrier presets) and compiled catalogs."""
    digest = hashlib.sha256()
    for path in sorted([*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.mo"),
                        *PACKAGE.rglob("*.json")]):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


CODE = _code_digest()


def _joined(*columns: Any) -> Any:
    """Several values as one text value: one result column, the same text on every path."""
    text: Any = None
    for column in columns:
        part = func.coalesce(cast(column, String), literal_column("''"))
        text = part if text is None else text + literal_column("':'") + part
    return text


# What the calendar depends on of the feed's and the owner's rows, as the probe (``store``)
# and the source query (``source``) both read it.
SETTINGS = _joined(Feed.version, Feed.updated_at, Feed.reminder_events, Feed.show_numbers,
                   Feed.action_links, Feed.secret, User.version, User.updated_at)
# "count:sum of versions:max id" over the owner's items (an index-only scan).
ITEMS = (select(_joined(func.count(Item.id), func.sum(Item.version), func.max(Item.id)))
         .where(Item.user_id == Feed.user_id).scalar_subquery())


def _digest(*inputs: Any) -> str:
    return hashlib.sha256(repr(inputs).encode("utf-8", "backslashreplace")).hexdigest()


@dataclass(frozen=True)
class Inputs:
    """What a feed's bytes depend on, as read now."""

    variant: str
    base_url: str
    today: dt.date
    secret_key: str
    settings: str
    items: str

    def context(self) -> str:
        """The digest of everything but the items, which every item's events depend on."""
        return _digest(CODE, self.variant, self.base_url.rstrip("/"), recent_since(self.today),
                       actions.key_id(self.secret_key), self.settings)

    def key(self) -> str:
        """The cache key: a digest of everything the bytes depend on."""
        return _digest(self.context(), self.items)

    def newest_item(self) -> int:
        """The highest item id the aggregate saw (0 for none)."""
        return int(self.items.split(":")[2] or 0)


def event_key(context: str, item_id: int, item_version: int) -> str:
    """The key of an item's events: its row version and everything else they depend on."""
    return _digest(context, item_id, item_version)[:32]
