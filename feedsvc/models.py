"""Typed SQLAlchemy 2 models: what is stored, and nothing about HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ConfigDict, TypeAdapter
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import true as sa_true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

# pydantic reads only this TypedDict on Python 3.11.
from typing_extensions import TypedDict

from feedsvc import status

# Stable constraint names, so Alembic's batch mode can find and alter them on SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _now() -> dt.datetime:
    """A column's default stamp: the one clock, ``status.utc_now``, read when it is used."""
    return status.utc_now()


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp that always comes back timezone-aware in UTC (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store UTC instants only")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class StoredAlarm(TypedDict):
    """An alarm as stored: what ``schemas.Alarm`` checked on the way in."""

    days_before: int
    at: str


class CheckedJSON(TypeDecorator[Any]):
    """JSON that must read back in the shape the app writes it in (``shape``).

    A value changed past the app (by hand, or by another program) then fails to load with
    pydantic's ``ValidationError``, which the error table answers with 503 "stored data
    cannot be shown", rather than code further on failing on it with a 500.
    """

    impl = JSON
    cache_ok = True

    def __init__(self, shape: TypeAdapter[Any]) -> None:
        super().__init__()
        self.shape = shape

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is not None:
            self.shape.validate_python(value)
        return value


_STRICT = ConfigDict(strict=True)
ALARMS: TypeAdapter[list[StoredAlarm]] = TypeAdapter(list[StoredAlarm], config=_STRICT)
NAMES: TypeAdapter[list[str]] = TypeAdapter(list[str], config=_STRICT)


def dialect_insert(bind: Session | Connection, model: Any) -> Any:
    """An INSERT with the database's own ON CONFLICT clauses (SQLite and PostgreSQL alike)."""
    dialect = bind.dialect if isinstance(bind, Connection) else bind.get_bind().dialect
    module: Any = postgresql if dialect.name == "postgresql" else sqlite
    return module.insert(model)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased, which makes the unique constraint case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(16), default="en")
    default_alarms: Mapped[list[dict[str, Any]]] = mapped_column(CheckedJSON(ALARMS))
    # Part of the login session's identity: changing it signs out every session.
    session_nonce: Mapped[str] = mapped_column(String(64))
    # Bumped when a setting that shapes the feeds changes (language, time zone, alarms).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    # When a setting that shapes the feeds last changed (not the password or the session).
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)

    items: Mapped[list[Item]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    api_tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    feeds: Mapped[list[Feed]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    channels: Mapped[list[Channel]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Channel.id",
    )


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, so the owner can tell tokens apart.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="api_tokens")


class Item(Base):
    """Something to renew before a date, such as a number-keeping SIM card."""

    __tablename__ = "items"
    # AUTOINCREMENT on SQLite too: an id, and so an event UID, is never used twice.
    __table_args__ = (Index("ix_items_user_id_due_date", "user_id", "due_date"),
                      # Covers the feed cache's fingerprint (count, sum of versions, max id).
                      Index("ix_items_user_id_id_version", "user_id", "id", "version"),
                      # The reminder sender's work: items whose next reminder moment has come.
                      Index("ix_items_next_reminder_at", "next_reminder_at"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(20), default="sim")
    provider: Mapped[str | None] = mapped_column(String(100))
    # The carrier preset the item follows (``feedsvc.presets``), by id.
    carrier: Mapped[str | None] = mapped_column(String(40))
    phone_number: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(2))
    due_date: Mapped[dt.date] = mapped_column(Date)
    repeat_every: Mapped[int | None] = mapped_column(Integer)
    repeat_unit: Mapped[str | None] = mapped_column(String(10))
    repeat_from: Mapped[str | None] = mapped_column(String(10))
    # The day-of-month anchor for "schedule" repeats (Jan 31 -> Feb 28 -> Mar 31).
    repeat_anchor: Mapped[dt.date | None] = mapped_column(Date)
    grace_days: Mapped[int | None] = mapped_column(Integer)
    alarms: Mapped[list[dict[str, Any]] | None] = mapped_column(CheckedJSON(ALARMS))
    # Decimal text exactly as given ("12.50"), so amounts round-trip on every database.
    price_amount: Mapped[str | None] = mapped_column(String(32))
    price_currency: Mapped[str | None] = mapped_column(String(3))
    bound_services: Mapped[list[str]] = mapped_column(CheckedJSON(NAMES), default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(2000))
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    # The earliest moment of the current cycle the reminder sender has yet to look at
    # (feedsvc.reminders): planned on every change, moved on by each pass, never read by
    # the feeds. The sender updates it without touching ``version``.
    next_reminder_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Bumped by SQLAlchemy on every UPDATE, which also checks it (optimistic locking): a
    # write based on a stale read fails instead of silently undoing another one. The
    # feed's SEQUENCE and the API's ETag come from it.
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - read once, by the mapper

    user: Mapped[User] = relationship(back_populates="items")
    renewals: Mapped[list[Renewal]] = relationship(
        back_populates="item",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Renewal.id.desc()",
    )


class Renewal(Base):
    """One recorded renewal, with the due dates around it so it can be undone."""

    __tablename__ = "renewals"
    __table_args__ = (Index("ix_renewals_item_id_id", "item_id", "id"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    renewed_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str | None] = mapped_column(String(3))
    method: Mapped[str | None] = mapped_column(String(100))
    reference: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    periods: Mapped[int] = mapped_column(Integer, default=1)
    due_before: Mapped[dt.date] = mapped_column(Date)
    due_after: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)

    item: Mapped[Item] = relationship(back_populates="renewals")


class Feed(Base):
    """A secret calendar URL over the owner's items.

    The URL's token is derived from ``secret`` with the application's secret key, and
    only its SHA-256 (``token_hash``) is indexed: the database alone cannot open a feed.
    """

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    categories: Mapped[list[str] | None] = mapped_column(CheckedJSON(NAMES))
    reminder_events: Mapped[bool] = mapped_column(Boolean, default=False)
    show_numbers: Mapped[bool] = mapped_column(Boolean, default=False)
    secret: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "I renewed it" links in the due events' descriptions.
    action_links: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    # Bumped when the feed's settings change; part of every event's SEQUENCE.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)

    user: Mapped[User] = relationship(back_populates="feeds")


class RetiredFeedToken(Base):
    """The hash of a feed URL that was rotated or deleted: it answers 410 Gone."""

    __tablename__ = "retired_feed_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    retired_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)


class FeedCacheEntry(Base):
    """A feed's last serialised calendar, one row per feed and variant, overwritten.

    ``key`` digests everything the bytes depend on (``feedsvc.feed.key``): a row whose
    key differs from the one computed now is never served, only mined for unchanged events.
    """

    __tablename__ = "feed_cache"

    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"),
                                         primary_key=True)
    # "ics" (the feed as set) or "google" (with lead events).
    variant: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    etag: Mapped[str] = mapped_column(String(64))
    last_modified: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The calendar gzipped, the only copy kept: a tenth of the bytes to write on every build,
    # and what most calendar apps ask for; the rest get it decompressed.
    body_gzip: Mapped[bytes] = mapped_column(LargeBinary)
    # Where each item's events sit in the decompressed body: [[digest, offset, length], ...].
    parts: Mapped[list[list[Any]]] = mapped_column(JSON)
    built_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)


class Channel(Base):
    """Where reminders go: an e-mail address (``kind`` "email") or a push or chat service's
    Apprise URL (``kind`` "apprise").

    The account's own address is its first channel (``account``). Nothing but a
    confirmation goes to an address before it is confirmed (``verified_at``); a push channel
    is checked when it is added instead. After ``PAUSE_AFTER`` failed deliveries in a row a
    channel is paused, with the reason.
    """

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("user_id", "kind", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    # The e-mail address (lower-cased), or the Apprise URL with its secrets masked.
    target: Mapped[str] = mapped_column(String(2000))
    # The whole Apprise URL, sealed (``feedsvc.sealed``): a dump alone reveals no secret.
    secret: Mapped[str | None] = mapped_column(Text)
    account: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # "HH:MM" for one message a day at that local time; None sends each reminder at once.
    digest: Mapped[str | None] = mapped_column(String(5))
    # The local day of the last digest a sender took on: one a day, however many senders.
    digest_day: Mapped[dt.date | None] = mapped_column(Date)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    paused_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    pause_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)

    user: Mapped[User] = relationship(back_populates="channels")


class Delivery(Base):
    """One reminder sent, or tried, on one channel; the unique constraint makes each
    (channel, item, kind, cycle, moment) happen once however many senders run."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("channel_id", "item_id", "kind", "due_date", "planned_at"),
        # The sender's retries and stale claims, and the history pages.
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_deliveries_user_id_id", "user_id", "id"),
        Index("ix_deliveries_item_id_due_date", "item_id", "due_date"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    # None for a test message.
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    # The cycle the reminder is about (the item's due date then); None for a test.
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    planned_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The pass that holds a "sending" delivery, and until when; a crashed pass's claims are
    # taken over once they lapse.
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)

    channel: Mapped[Channel] = relationship()


class Snooze(Base):
    """"Remind me tomorrow": one more reminder of an item's cycle at ``remind_at``."""

    __tablename__ = "snoozes"
    __table_args__ = (Index("ix_snoozes_item_id_due_date", "item_id", "due_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    due_date: Mapped[dt.date] = mapped_column(Date)
    remind_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)


class SenderPass(Base):
    """The last finished pass of the reminder sender, of any host: one row, overwritten
    (``/healthz`` reports it)."""

    __tablename__ = "sender_passes"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    finished_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(String(200))
