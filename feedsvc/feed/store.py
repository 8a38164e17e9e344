"""Built calendars, kept one per feed and variant in the ``feed_cache`` table, and the probe:
the one query that reads what a feed's key is made of together with the kept calendar.

An entry keeps the calendar gzipped only (every cold request writes one; the plain bytes are
ten times as many), decompressed for a client without gzip (0.1 ms for 50 items)."""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select
from werkzeug.http import http_date

from feedsvc import status
from feedsvc.feed import key
from feedsvc.models import Feed, FeedCacheEntry, User, dialect_insert

# Level 3 compresses a 50-item feed to 9 % of its size in a third of level 6's time (7 %).
GZIP_LEVEL = 3


@dataclass(frozen=True)
class Entry:
    """A built calendar: the key it was built under, its validators, its gzipped bytes, and
    where each item's events sit in the plain bytes, (event key, offset, length)."""

    key: str
    etag: str
    last_modified: dt.datetime
    body_gzip: bytes | None = None
    parts: Any = ()

    @functools.cached_property
    def body(self) -> bytes:
        """The calendar's plain bytes."""
        assert self.body_gzip is not None, "an entry read without its bytes"
        return gzip.decompress(self.body_gzip)

    @functools.cached_property
    def http_date(self) -> str:
        """Last-Modified as HTTP dates it."""
        return http_date(self.last_modified)

    def events(self) -> dict[str, bytes]:
        """Each item's serialised events, by event key."""
        return {event_key: self.body[offset:offset + length]
                for event_key, offset, length in self.parts}


def new_entry(cache_key: str, body: bytes, last_modified: dt.datetime,
              parts: list[tuple[str, int, int]]) -> Entry:
    """An entry for freshly built bytes, with its strong ETag (mtime=0: the same bytes)."""
    return Entry(cache_key, hashlib.sha256(body).hexdigest()[:32], last_modified,
                 gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0), tuple(parts))


@dataclass(frozen=True)
class Probe:
    """A feed URL's state now and its kept entry, if any."""

    feed_id: int
    timezone: str
    settings: str
    items: str
    cached: Entry | None


def _probe(body: bool) -> Any:
    kept = [FeedCacheEntry.key, FeedCacheEntry.etag, FeedCacheEntry.last_modified,
            *([FeedCacheEntry.body_gzip, FeedCacheEntry.parts] if body else [])]
    return (select(Feed.id.label("feed_id"), User.timezone, key.SETTINGS.label("settings"),
                   key.ITEMS.label("items"), *kept)
            .join(User, User.id == Feed.user_id)
            .outerjoin(FeedCacheEntry, and_(FeedCacheEntry.feed_id == Feed.id,
                                            FeedCacheEntry.variant == bindparam("variant")))
            .where(Feed.token_hash == bindparam("token_hash")))


# The kept bytes are read only when the answer is likely to need them and this worker has no
# copy of them (``Copies``): on PostgreSQL they cost more than the rest of the query.
PROBES = {body: _probe(body) for body in (False, True)}


def probe(connection: Connection, token_hash: str, variant: str, body: bool) -> Probe | None:
    """The live feed's state and kept entry (its bytes too with ``body``); None for no feed."""
    row = connection.execute(PROBES[body], {"token_hash": token_hash, "variant": variant}).first()
    if row is None:
        return None
    cached = None if row.key is None else Entry(
        row.key, row.etag, row.last_modified, *((row.body_gzip, row.parts) if body else ()))
    return Probe(row.feed_id, row.timezone, row.settings, row.items, cached)


def kept(connection: Connection, token_hash: str, variant: str) -> Entry | None:
    """The latest entry kept for the feed URL, with its bytes and where its events sit."""
    found = probe(connection, token_hash, variant, True)
    return None if found is None else found.cached


class Copies(dict[tuple[str, str], Entry]):
    """The entries this worker served last, by feed URL, at most ``size``; served only when
    the probe finds the ETag current, never stale. A copy spares reading the bytes again,
    decompressing them for a client without gzip, and reading the events a build reuses."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.lock = threading.Lock()

    def put(self, url: tuple[str, str], entry: Entry) -> None:
        """Keep ``entry`` as the newest; every answer served is put, so the oldest goes."""
        with self.lock:
            self.pop(url, None)
            self[url] = entry
            if len(self) > self.size:
                del self[next(iter(self))]


_SAVED = ("key", "etag", "last_modified", "body_gzip", "parts", "built_at")


def save(connection: Connection, feed_id: int, variant: str, entry: Entry) -> None:
    """Keep ``entry`` over the feed's previous one."""
    statement = dialect_insert(connection, FeedCacheEntry)
    statement = statement.on_conflict_do_update(
        index_elements=[FeedCacheEntry.feed_id, FeedCacheEntry.variant],
        set_={name: statement.excluded[name] for name in _SAVED})
    connection.execute(statement, {
        "feed_id": feed_id, "variant": variant, "key": entry.key, "etag": entry.etag,
        "last_modified": entry.last_modified, "body_gzip": entry.body_gzip,
        "parts": [list(part) for part in entry.parts], "built_at": status.utc_now()})
    connection.commit()
