"""Serialised feeds, shared by every worker and instance, and never served stale.

A feed's bytes depend on the feed's settings, its owner's settings, the owner's items and
their renewals, the public base URL, "today" (which renewals are recent) and this code, and
through its action links ("I renewed it", ``feedsvc.actions``) on the feed's secret and the
app's secret key. ``probe`` reads all of that but the date, the base URL and the key in one
indexed query, together with the cached entry: the entry is served only when the key
computed now (``Probe.key``, given those three) equals the key it was built under.

Why the key sees every committed write: items are versioned (every UPDATE bumps
``Item.version``) and their ids are never reused, so over the owner's items
(count, sum of versions, max id) changes on every insert, update or delete: with the same
count, an insert raises the max id, and without inserts or deletes only versions grow.
Renewals are only ever inserted or deleted, each time in the same transaction as an UPDATE
of their item (its due date and ``updated_at``), so the items' aggregate covers them too
(tests/test_feed_cache.py checks each renewal path). The key is read before anything the
build reads, so a write that commits during a build makes the next key differ from the
stored one.

Entries live in the ``feed_cache`` table (one row per feed and variant, overwritten, deleted
with the feed), or in Redis when ``FEEDSVC_REDIS_URL`` is set (one hash per feed and variant,
overwritten, expiring ``REDIS_TTL`` after its last build). Either keeps the calendar gzipped
only: every cold request writes an entry, and the plain copy would be ten times the bytes.
A client that does not accept gzip gets the bytes decompressed on the way out (about 0.1 ms
for 50 items), usually only once per worker and change, thanks to ``BodyMemo``.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NamedTuple, Protocol, TypeAlias

from flask import Flask, current_app
from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    Select,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from feedsvc import actions, ics, status
from feedsvc.accounts import hash_token
from feedsvc.driver import Prepared, notify
from feedsvc.models import Feed, FeedCacheEntry, Item, User
from feedsvc.renewals import recent_since

log = logging.getLogger(__name__)

# Bump when the key's inputs or the stored entry change shape.
CACHE_VERSION = 3
try:
    PACKAGE_VERSION = version("feedsvc")
except PackageNotFoundError:  # running from a source tree that was never installed
    PACKAGE_VERSION = "source"
REDIS_TTL = dt.timedelta(days=30)
# Level 3 compresses a 50-item feed to 9 % of its size in a third of level 6's time (7 %).
GZIP_LEVEL = 3
EXTENSION_KEY = "feedsvc.feedcache"
# Feed bodies each worker keeps in memory (``BodyMemo``): at most this many bytes.
MEMO_BYTES = 32 * 1024 * 1024
MEMO_KEY = "feedsvc.feed_memo"
# Where the warm path leaves a probe that found the entry stale or the URL unknown, so the
# route it falls through to need not ask again: ((token, variant), Probe | None).
STALE_PROBE = "feedsvc.stale_probe"


@dataclass(frozen=True)
class Entry:
    """A serialised feed: its validators, the bytes asked for, and where its events sit.

    ``parts`` locates each item's events in the plain ``body``, even when only the gzipped
    copy was read. A store gives them as its driver returned them (``stored_parts``), decoded
    on first use: a probe reads them with the body, but only a stale entry needs them.
    """

    key: str
    etag: str
    last_modified: dt.datetime
    body: bytes | None = None
    body_gzip: bytes | None = None
    stored_parts: Any = ()

    @functools.cached_property
    def parts(self) -> tuple[tuple[str, int, int], ...]:
        """(digest, offset, length) of each item's events in ``body``."""
        return _parts(self.stored_parts)

    def events(self) -> dict[str, bytes]:
        """Each item's serialised events in this entry, by digest (empty without a body)."""
        if not self.parts:
            return {}
        body = self.body if self.body is not None or self.body_gzip is None \
            else gzip.decompress(self.body_gzip)
        return known_events(body, self.parts)


@dataclass(frozen=True)
class Probe:
    """A feed URL's state now, read in one query, and its cached entry if any."""

    feed_id: int
    timezone: str
    state: tuple[Any, ...]
    cached: Entry | None

    def key(self, variant: str, base_url: str, today: dt.date, secret_key: str) -> str:
        """The cache key of the feed as it would be built now.

        The action links' tokens are sealed under ``secret_key`` (only its fingerprint goes
        into the key) and keyed with the feed's secret, which ``state`` holds.
        """
        inputs = (CACHE_VERSION, ics.FORMAT_VERSION, PACKAGE_VERSION, variant, base_url,
                  recent_since(today).isoformat(), actions.key_id(secret_key), self.state)
        return hashlib.sha256(repr(inputs).encode("utf-8", "backslashreplace")).hexdigest()

    def storable(self, item_ids: Iterable[int]) -> bool:
        """Whether a calendar of these items, built after this probe, may be stored under its key.

        Reads after the probe may see later writes. One that changed or deleted an item the
        probe saw changes every later key, so storing is harmless; but an item inserted and
        deleted again during the build would leave the key as it was, so a build that saw an
        item newer than the probe's newest is not stored.
        """
        newest = int(self.state[_ITEMS_STATE_INDEX].split(":")[2] or 0)
        return all(item_id <= newest for item_id in item_ids)

    def fresh(self, key: str) -> Entry | None:
        """The cached entry when it was built under ``key``; None when it is stale or absent."""
        return self.cached if self.cached is not None and self.cached.key == key else None


def _joined(*columns: Any) -> Any:
    """Several aggregates as one text value, so one scalar subquery scans the rows once."""
    text: Any = None
    for column in columns:
        part = func.coalesce(cast(column, String), literal_column("''"))
        text = part if text is None else text + literal_column("':'") + part
    return text


_ITEMS_STATE = (select(_joined(func.count(Item.id), func.sum(Item.version), func.max(Item.id)))
                .where(Item.user_id == Feed.user_id).scalar_subquery())
# Few result columns: building a result's column map costs more than the query itself.
# The counters cover the settings: ``Feed.version`` and ``User.version`` are bumped with every
# change to what a feed shows (name, categories, language, time zone, default alarms...).
# A rotation changes only ``Feed.secret``, which the action links are keyed with: it is
# read too, so that the new address never serves the old address's links.
_SETTINGS_STATE = _joined(Feed.version, Feed.updated_at, Feed.reminder_events,
                          Feed.show_numbers, Feed.action_links, Feed.secret, User.version,
                          User.updated_at)
_STATE_COLUMNS = (Feed.id, User.timezone, _SETTINGS_STATE, _ITEMS_STATE)
_ITEMS_STATE_INDEX = 3
_STATE_SIZE = len(_STATE_COLUMNS)


def _state_query(*cached: Any) -> Select[Any]:
    query = (select(*_STATE_COLUMNS, *cached).join(User, User.id == Feed.user_id)
             .where(Feed.token_hash == bindparam("token_hash")))
    if cached:
        query = query.outerjoin(FeedCacheEntry, and_(
            FeedCacheEntry.feed_id == Feed.id, FeedCacheEntry.variant == bindparam("variant")))
    return query



class DriverConnection:
    """A pooled driver connection for the feed's warm path (``feedsvc.fastpath``).

    Its statements skip SQLAlchemy's connection and result objects altogether, so its
    engine's events do not see them: ``statement_listeners`` do (the tests count with them).
    """

    def __init__(self, dbapi_connection: Any, dialect: Dialect) -> None:
        self.dbapi_connection = dbapi_connection
        self.dialect = dialect
        # psycopg: results in binary, so that a body arrives as its bytes rather than as
        # hex text that the server writes out and the client reads back (twice its size).
        self.options = {"binary": True} if dialect.name == "postgresql" else {}

    def first(self, sql: str, args: Any) -> Any:
        cursor = self.dbapi_connection.cursor()
        try:
            cursor.execute(sql, args, **self.options)
            row = cursor.fetchone()
        finally:
            cursor.close()
        notify(sql)
        return row


Probing: TypeAlias = Connection | DriverConnection


def _first(connection: Probing, query: Prepared, params: dict[str, Any]) -> Any:
    """Run a probe as the driver's own SQL: the hot path skips SQLAlchemy's result processing.

    On a SQLAlchemy connection its engine's events (and the tests' query counts) see it.
    The key only needs raw values, which are the same for the same stored data either way.
    """
    compiled = query.compiled(connection.dialect)
    args = compiled.arguments(params, typed=False)
    if isinstance(connection, DriverConnection):
        return connection.first(compiled.sql, args)
    return connection.exec_driver_sql(compiled.sql, args).first()


def _utc(value: Any) -> dt.datetime:
    """A timestamp as the driver returns it (SQLite: text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None \
        else value.astimezone(dt.UTC)


def _parts(value: Any) -> tuple[tuple[str, int, int], ...]:
    """Stored parts as the driver returns them (SQLite: JSON text) as tuples."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes)):
        value = json.loads(value)
    return tuple((digest, offset, length) for digest, offset, length in value)


def _probe_from(row: Any, entry: Entry | None) -> Probe:
    return Probe(feed_id=row[0], timezone=row[1], state=tuple(row[:_STATE_SIZE]), cached=entry)


def _gzip(body: bytes) -> bytes:
    # mtime=0: the same body always compresses to the same bytes.
    return gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)


def _stored(key: str, etag: str, last_modified: Any, body_gzip: bytes | None, parts: Any,
            plain: bool) -> Entry:
    """An entry as a store keeps it (gzipped), decompressed too when ``plain``."""
    return Entry(key=key, etag=etag, last_modified=_utc(last_modified),
                 body=gzip.decompress(body_gzip) if plain and body_gzip is not None else None,
                 body_gzip=body_gzip, stored_parts=parts)


def new_entry(key: str, body: bytes, last_modified: dt.datetime,
              parts: list[tuple[str, int, int]]) -> Entry:
    """An entry for freshly built bytes, with its strong ETag and gzip copy."""
    return Entry(key=key, etag=hashlib.sha256(body).hexdigest()[:32], last_modified=last_modified,
                 body=body, body_gzip=_gzip(body), stored_parts=tuple(parts))


def known_events(body: bytes | None, parts: Iterable[tuple[str, int, int]]) -> dict[str, bytes]:
    """Each item's serialised events in an earlier body, by digest, to reuse when unchanged."""
    if body is None:
        return {}
    return {digest: body[offset:offset + length] for digest, offset, length in parts}


class Store(Protocol):
    """Where entries are kept; ``body`` is "body", "gzip" or None (validators only).

    Stores keep the gzipped bytes only: "body" reads them and decompresses them.
    """

    def probe(self, connection: Probing, token: str, variant: str,
              body: str | None) -> Probe | None: ...

    def load(self, connection: Connection, feed_id: int, variant: str,
             key: str) -> Entry | None: ...

    def previous(self, connection: Connection, feed_id: int, variant: str) -> Entry | None: ...

    def save(self, connection: Connection, feed_id: int, variant: str, entry: Entry) -> None: ...


_SAVED_COLUMNS = ("key", "etag", "last_modified", "body_gzip", "parts", "built_at")


@functools.cache
def _upsert(dialect_name: str) -> Prepared:
    """The statement that writes an entry over the feed's previous one, built once."""
    insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    statement = insert(FeedCacheEntry)
    return Prepared(statement.on_conflict_do_update(
        index_elements=[FeedCacheEntry.feed_id, FeedCacheEntry.variant],
        set_={name: statement.excluded[name] for name in _SAVED_COLUMNS}))


class DatabaseStore:
    """Entries in the ``feed_cache`` table: the probe reads state and entry in one query.

    A probe that reads a body also reads where its events sit: when the entry turns out to
    be stale, the build takes the unchanged items' events from it instead of reading it again.
    """

    _validators = Prepared(_state_query(FeedCacheEntry.key, FeedCacheEntry.etag,
                                        FeedCacheEntry.last_modified))
    _with_body = Prepared(_state_query(FeedCacheEntry.key, FeedCacheEntry.etag,
                                       FeedCacheEntry.last_modified, FeedCacheEntry.body_gzip,
                                       FeedCacheEntry.parts))

    def probe(self, connection: Probing, token: str, variant: str,
              body: str | None) -> Probe | None:
        row = _first(connection, self._with_body if body else self._validators,
                     {"token_hash": hash_token(token), "variant": variant})
        if row is None:
            return None
        entry = None
        at = _STATE_SIZE
        if row[at] is not None:
            entry = _stored(row[at], row[at + 1], row[at + 2], row[at + 3] if body else None,
                            row[at + 4] if body else None, plain=body == "body")
        return _probe_from(row, entry)

    @staticmethod
    def _read(connection: Connection, feed_id: int, variant: str, plain: bool) -> Entry | None:
        table = FeedCacheEntry.__table__
        row = connection.execute(
            select(table.c.key, table.c.etag, table.c.last_modified, table.c.body_gzip,
                   table.c.parts)
            .where(table.c.feed_id == feed_id, table.c.variant == variant)).first()
        return None if row is None else _stored(row.key, row.etag, row.last_modified,
                                                row.body_gzip, row.parts, plain=plain)

    def load(self, connection: Connection, feed_id: int, variant: str,
             key: str) -> Entry | None:
        entry = self._read(connection, feed_id, variant, plain=True)
        return entry if entry is not None and entry.key == key else None

    def previous(self, connection: Connection, feed_id: int, variant: str) -> Entry | None:
        return self._read(connection, feed_id, variant, plain=False)

    def save(self, connection: Connection, feed_id: int, variant: str, entry: Entry) -> None:
        values = {"feed_id": feed_id, "variant": variant, "key": entry.key, "etag": entry.etag,
                  "last_modified": entry.last_modified,
                  "body_gzip": entry.body_gzip, "parts": [list(p) for p in entry.parts],
                  "built_at": status.utc_now()}
        if connection.dialect.name == "postgresql" and \
                not connection.connection.driver_connection.autocommit:  # type: ignore[union-attr]
            # As on the warm path's connections (``db.make_probe_engine``): an entry lost in
            # a crash is only built again, so this transaction need not wait for the disk.
            connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        _upsert(connection.dialect.name).execute(connection, values)


class RedisStore:
    """Entries in Redis, one hash per feed and variant; the database answers the state."""

    _query = Prepared(_state_query())
    _VALIDATORS = ("key", "etag", "last_modified")
    _CONTENT = ("gzip", "parts")

    def __init__(self, url: str, database_url: str) -> None:
        import redis

        self.redis = redis.Redis.from_url(url)
        # Feed ids are only unique within one database: deployments (or test runs) sharing
        # a Redis must not read each other's entries.
        database = hashlib.sha256(database_url.encode()).hexdigest()[:12]
        self.prefix = f"feedsvc:feed-cache:{CACHE_VERSION}:{database}:"

    def _name(self, feed_id: int, variant: str) -> str:
        return f"{self.prefix}{feed_id}:{variant}"

    def probe(self, connection: Probing, token: str, variant: str,
              body: str | None) -> Probe | None:
        row = _first(connection, self._query, {"token_hash": hash_token(token)})
        if row is None:
            return None
        fields = [*self._VALIDATORS, *(self._CONTENT if body else ())]
        found = self.redis.hmget(self._name(row[0], variant), fields)
        entry = None
        if found[0] is not None:
            entry = self._entry(found, plain=body == "body")
        return _probe_from(row, entry)

    @staticmethod
    def _entry(found: list[Any], plain: bool) -> Entry:
        key, etag, last_modified, *content = found
        body_gzip, parts = content or (None, None)
        return _stored(key.decode(), etag.decode(), last_modified.decode(), body_gzip, parts,
                       plain=plain)

    def _read(self, feed_id: int, variant: str, plain: bool) -> Entry | None:
        found = self.redis.hmget(self._name(feed_id, variant),
                                 [*self._VALIDATORS, *self._CONTENT])
        return None if found[0] is None else self._entry(found, plain)

    def load(self, connection: Connection, feed_id: int, variant: str,
             key: str) -> Entry | None:
        entry = self._read(feed_id, variant, plain=True)
        return entry if entry is not None and entry.key == key else None

    def previous(self, connection: Connection, feed_id: int, variant: str) -> Entry | None:
        return self._read(feed_id, variant, plain=False)

    def save(self, connection: Connection, feed_id: int, variant: str, entry: Entry) -> None:
        name = self._name(feed_id, variant)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(name, mapping={
            "key": entry.key, "etag": entry.etag,
            "last_modified": entry.last_modified.isoformat(), "gzip": entry.body_gzip or b"",
            "parts": json.dumps([list(p) for p in entry.parts]),
        })
        pipe.expire(name, REDIS_TTL)
        pipe.execute()


def connect(engine: Engine) -> Connection:
    """A connection for probes; on PostgreSQL in autocommit, so that a probe is one round trip.

    A single statement needs no transaction, and on a busy server each BEGIN and ROLLBACK is
    another wait for the database process.
    """
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


def store(app: Flask | None = None) -> Store:
    """The app's store: Redis when ``FEEDSVC_REDIS_URL`` is set, else the database."""
    app = app or current_app
    found = app.extensions.get(EXTENSION_KEY)
    if found is None:
        url = app.config.get("FEEDSVC_REDIS_URL")
        found = (RedisStore(url, app.config["FEEDSVC_DATABASE_URL"]) if url
                 else DatabaseStore())
        app.extensions[EXTENSION_KEY] = found
    return found


class Kept(NamedTuple):
    """A body kept in the memo; ``parts`` as in ``Entry``, when this worker built it."""

    etag: str
    body: bytes
    parts: tuple[tuple[str, int, int], ...] = ()


class BodyMemo:
    """The body each feed URL was last served with in this worker, by URL and encoding.

    The probe decides what is current; a body kept here is used only when its ETag (a
    digest of the body) is the current one, so it can never be stale. It spares reading the
    bytes again (9 KB gzipped for 50 items), and decompressing them (to 90 KB) for a client
    that does not accept gzip; after an edit it holds the events the next build reuses.
    Least recently used feeds are dropped first once ``limit`` bytes are kept.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.bodies: OrderedDict[tuple[str, str, bool], Kept] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, url: tuple[str, str, bool]) -> Kept | None:
        """What was last served for (token, variant, gzip), if kept."""
        with self.lock:
            found = self.bodies.get(url)
            if found is not None:
                self.bodies.move_to_end(url)
            return found

    def put(self, url: tuple[str, str, bool], etag: str, body: bytes,
            parts: tuple[tuple[str, int, int], ...] = ()) -> None:
        if len(body) > self.limit:
            return
        with self.lock:
            old = self.bodies.pop(url, None)
            if old is not None:
                self.size -= len(old.body)
                if old.etag == etag and not parts:
                    parts = old.parts
            self.bodies[url] = Kept(etag, body, parts)
            self.size += len(body)
            while self.size > self.limit:
                _, dropped = self.bodies.popitem(last=False)
                self.size -= len(dropped.body)


def memo(app: Flask) -> BodyMemo:
    """The app's memo, shared by the warm path and the route (which fills it after a build)."""
    found = app.extensions.get(MEMO_KEY)
    if found is None:
        found = app.extensions[MEMO_KEY] = BodyMemo(MEMO_BYTES)
    return found
