"""Fill a migrated database for the benchmark, fast: executemany on SQLite, COPY on PostgreSQL.

Every database gets the same 20 "bench" accounts of 50 items each (1,000 items), each with
``feeds_per_account`` feeds; the first account is the one the warm scenarios fetch. A large
database adds filler accounts of 10 items, each with its default feed, up to the item count.

With ``reminders=True`` (``benchmarks/reminders.py``) every account also has its address as a
confirmed e-mail channel, each bench item has one reminder due at ``NOW`` (its 7-day alarm,
between 09:00 and 10:59 in Moscow that morning) and every filler item is planned, as the
sender would have left it, for its first moment after ``NOW``. Every item also has the
history a sender leaves: one reminder sent in an earlier cycle; every tenth filler item was
once snoozed in that cycle.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Engine, insert, literal, select, text
from werkzeug.security import generate_password_hash

from feedsvc.accounts import API_TOKEN_PREFIX, hash_token
from feedsvc.feeds import feed_token
from feedsvc.models import (
    ApiToken,
    Channel,
    Delivery,
    Feed,
    Item,
    Renewal,
    Snooze,
    User,
    UTCDateTime,
)
from feedsvc.reminders import cycle_moments
from feedsvc.schemas import DEFAULT_ALARMS

BENCH_ACCOUNTS = 20
BENCH_ITEMS = 50
FILLER_ITEMS = 10
PASSWORD = "benchmark password"
NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
BATCH = 20_000
COUNTRIES = ("RU", "HK", "ME", "MC", "PH", "FR", "DE", "CN")
PROVIDERS = ("MTS", "China Mobile Hong Kong", "One Montenegro", "Monaco Telecom", "TNT",
             "Orange", "Telekom", "China Unicom")
TIMEZONE = "Europe/Moscow"
# The bench items' cycle when reminders are seeded: due in a week, so their 7-day alarm
# (this morning) is due at NOW and useful, and nothing else of the cycle has come yet.
REMINDER_DUE_DATE = TODAY + dt.timedelta(days=7)
# The earlier cycle of the seeded history: its reminder went, a few items were snoozed.
PAST_DUE_DATE = TODAY - dt.timedelta(days=83)
PAST_SENT_AT = NOW - dt.timedelta(days=90)


@dataclass
class Seeded:
    """What the load generator needs to know about a seeded database."""

    email: str
    password: str
    api_token: str
    feed_path: str
    # One item per bench account, edited before each cold run.
    edit_item_ids: list[int] = field(default_factory=list)
    cold_feed_paths: list[str] = field(default_factory=list)
    items: int = 0
    # With reminders: each item with a reminder due at NOW, and the moment it is planned for.
    due_reminders: dict[int, dt.datetime] = field(default_factory=dict)


def _item(user_id: int, n: int) -> dict[str, Any]:
    """A realistic number-keeping SIM (or subscription), varied by ``n``."""
    repeat = n % 4 != 3
    return {
        "user_id": user_id,
        "title": f"{PROVIDERS[n % len(PROVIDERS)]} number {n}",
        "category": "sim" if n % 5 else "subscription",
        "provider": PROVIDERS[n % len(PROVIDERS)],
        "phone_number": f"+7 916 {n % 1000:03d} {n % 100:02d} 67",
        "country": COUNTRIES[n % len(COUNTRIES)],
        "due_date": TODAY + dt.timedelta(days=3 + (n * 7) % 360),
        "repeat_every": 3 if repeat else None,
        "repeat_unit": "month" if repeat else None,
        "repeat_from": "schedule" if repeat else None,
        "repeat_anchor": TODAY + dt.timedelta(days=3 + (n * 7) % 360) if repeat else None,
        "grace_days": 30 if n % 2 else None,
        "alarms": None if n % 3 else [{"days_before": 7, "at": "10:00"},
                                      {"days_before": 0, "at": "09:00"}],
        "price_amount": "300.00",
        "price_currency": "RUB",
        "bound_services": ["Sberbank", "Telegram"],
        "notes": "Top up in the app with a card.\nCheck the balance afterwards.",
        "url": "https://example.org/renew",
        "auto_renew": n % 7 == 0,
        "archived": False,
        "version": 1,
        "created_at": NOW,
        "updated_at": NOW,
    }


def _due_now(row: dict[str, Any], n: int) -> dict[str, Any]:
    """A bench item whose 7-day alarm came this morning, not yet looked at by any pass."""
    minute = n % 120
    alarms = [{"days_before": 7, "at": f"{9 + minute // 60:02d}:{minute % 60:02d}"},
              {"days_before": 0, "at": "09:00"}]
    moments = cycle_moments(REMINDER_DUE_DATE, None, alarms, TIMEZONE)
    return {**row, "due_date": REMINDER_DUE_DATE, "grace_days": None, "alarms": alarms,
            "repeat_anchor": REMINDER_DUE_DATE if row["repeat_every"] else None,
            "next_reminder_at": moments[0].at}


@functools.cache
def _next_moment(due_date: dt.date, grace_days: int | None,
                 alarms: tuple[tuple[int, str], ...]) -> dt.datetime | None:
    moments = cycle_moments(due_date, grace_days,
                            [{"days_before": days, "at": at} for days, at in alarms], TIMEZONE)
    return min((moment.at for moment in moments if moment.at > NOW), default=None)


def _planned(row: dict[str, Any]) -> dict[str, Any]:
    """A filler item as the sender leaves it: planned for its first moment after NOW."""
    alarms = DEFAULT_ALARMS if row["alarms"] is None else row["alarms"]
    return {**row, "next_reminder_at": _next_moment(
        row["due_date"], row["grace_days"],
        tuple((alarm["days_before"], alarm["at"]) for alarm in alarms))}


def _channel(user_id: int, email: str) -> dict[str, Any]:
    """The account's own address, confirmed a month ago, switched on."""
    return {"user_id": user_id, "kind": "email", "name": email, "target": email,
            "account": True, "verified_at": NOW - dt.timedelta(days=30), "enabled": True,
            "digest": None, "failures": 0, "paused_at": None, "pause_reason": None,
            "created_at": NOW - dt.timedelta(days=30)}


def _user(email: str, password_hash: str) -> dict[str, Any]:
    return {"email": email, "password_hash": password_hash, "timezone": TIMEZONE,
            "locale": "en", "default_alarms": [dict(a) for a in DEFAULT_ALARMS],
            "session_nonce": secrets.token_hex(16), "version": 1, "created_at": NOW,
            "updated_at": NOW}


def _feed(user_id: int, secret_key: str, name: str) -> tuple[dict[str, Any], str]:
    secret = secrets.token_hex(32)
    token = feed_token(secret_key, secret)
    return ({"user_id": user_id, "name": name, "categories": None, "reminder_events": False,
             "show_numbers": False, "secret": secret, "token_hash": hash_token(token),
             "version": 1, "created_at": NOW, "updated_at": NOW}, f"/feeds/{token}.ics")


def _renewal(item_id: int, n: int) -> dict[str, Any]:
    return {"item_id": item_id, "renewed_on": TODAY - dt.timedelta(days=20 + n % 200),
            "amount": "300.00", "currency": "RUB", "method": "card", "reference": f"R{n}",
            "note": "", "periods": 1, "due_before": TODAY - dt.timedelta(days=10),
            "due_after": TODAY + dt.timedelta(days=80), "created_at": NOW}


def _batches(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _bulk(engine: Engine, table: Any, rows: Iterable[dict[str, Any]]) -> None:
    """Insert many rows: COPY on PostgreSQL, executemany in batches elsewhere."""
    if engine.dialect.name != "postgresql":
        with engine.begin() as connection:
            for batch in _batches(rows):
                connection.execute(insert(table), batch)
        return
    # JSON columns, also behind a TypeDecorator (CheckedJSON), go as JSON text: COPY does not
    # run the column types' bind processing.
    json_columns = {c.name for c in table.columns
                    if isinstance(getattr(c.type, "impl_instance", c.type), JSON)}
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    columns = list(first)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        # The block ends the COPY even when a row fails, which frees the connection's lock:
        # closing it halfway through a COPY would wait for that lock forever.
        with cursor.copy(  # type: ignore[attr-defined]
                f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in itertools.chain([first], rows):
                copy.write_row([json.dumps(row[c]) if c in json_columns and row[c] is not None
                                else row[c] for c in columns])
        raw.commit()
    finally:
        raw.close()


def _history(engine: Engine, first_filler: int | None) -> None:
    """What earlier passes left: a sent reminder of an earlier cycle on every item, and a
    "remind me tomorrow" in it on every tenth filler item (one INSERT ... SELECT each)."""
    def at(value: dt.datetime) -> Any:
        return literal(value, UTCDateTime())

    sent = select(Item.user_id, Channel.id, Item.id, literal("alarm"), literal(PAST_DUE_DATE),
                  at(PAST_SENT_AT), literal("sent"), literal(1), at(PAST_SENT_AT),
                  at(PAST_SENT_AT)).join(Channel, Channel.user_id == Item.user_id)
    with engine.begin() as connection:
        connection.execute(insert(Delivery).from_select(
            ["user_id", "channel_id", "item_id", "kind", "due_date", "planned_at", "status",
             "attempts", "sent_at", "created_at"], sent))
        if first_filler is not None:
            snoozed = select(Item.id, literal(PAST_DUE_DATE), at(PAST_SENT_AT),
                             at(PAST_SENT_AT - dt.timedelta(days=1))).where(
                Item.user_id >= first_filler, Item.id % 10 == 0)
            connection.execute(insert(Snooze).from_select(
                ["item_id", "due_date", "remind_at", "created_at"], snoozed))


def _ids(engine: Engine, query: Any) -> list[int]:
    with engine.connect() as connection:
        return list(connection.scalars(query))


def seed(engine: Engine, secret_key: str, total_items: int, feeds_per_account: int,
         reminders: bool = False) -> Seeded:
    """Fill the database; ``total_items`` is at least the bench accounts' 1,000 items.

    ``reminders``: confirmed e-mail channels, and a reminder due at ``NOW`` on each bench item
    (see the module's docstring)."""
    password_hash = generate_password_hash(PASSWORD)
    fillers = max(0, total_items - BENCH_ACCOUNTS * BENCH_ITEMS) // FILLER_ITEMS
    emails = [f"bench{n}@example.org" for n in range(BENCH_ACCOUNTS)]
    emails += [f"user{n}@example.org" for n in range(fillers)]
    _bulk(engine, User.__table__, (_user(email, password_hash) for email in emails))
    user_ids = _ids(engine, select(User.id).order_by(User.id))
    bench_ids, filler_ids = user_ids[:BENCH_ACCOUNTS], user_ids[BENCH_ACCOUNTS:]

    def all_items() -> Iterator[dict[str, Any]]:
        n = 0
        for user_id in bench_ids:
            for _ in range(BENCH_ITEMS):
                n += 1
                yield _due_now(_item(user_id, n), n) if reminders else _item(user_id, n)
        for user_id in filler_ids:
            for _ in range(FILLER_ITEMS):
                n += 1
                yield _planned(_item(user_id, n)) if reminders else _item(user_id, n)

    _bulk(engine, Item.__table__, all_items())
    due_reminders: dict[int, dt.datetime] = {}
    if reminders:
        with engine.connect() as connection:
            addresses = list(connection.execute(select(User.id, User.email).order_by(User.id)))
            due_reminders = {item_id: at for item_id, at in connection.execute(
                select(Item.id, Item.next_reminder_at).where(Item.next_reminder_at <= NOW))
                if at is not None}
        _bulk(engine, Channel.__table__, (_channel(user_id, email)
                                          for user_id, email in addresses))
        _history(engine, filler_ids[0] if filler_ids else None)
    # Every bench item and every tenth filler item has been renewed once this year.
    with engine.connect() as connection:
        renewed = list(connection.execute(
            select(Item.id, Item.user_id).where(
                (Item.user_id.in_(bench_ids)) | (Item.id % 10 == 0)).order_by(Item.id)))
    _bulk(engine, Renewal.__table__, (_renewal(item_id, n) for n, (item_id, _) in
                                      enumerate(renewed)))

    cold_paths: list[str] = []
    feed_rows: list[dict[str, Any]] = []
    first_path = ""
    for index, user_id in enumerate(bench_ids):
        for number in range(feeds_per_account):
            row, path = _feed(user_id, secret_key, f"Feed {number}")
            feed_rows.append(row)
            if index == 0 and number == 0:
                first_path = path
            else:
                cold_paths.append(path)
    feed_rows.extend(_feed(user_id, secret_key, "All renewals")[0] for user_id in filler_ids)
    _bulk(engine, Feed.__table__, feed_rows)

    api_secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as connection:
        connection.execute(insert(ApiToken.__table__), [{
            "user_id": bench_ids[0], "name": "benchmark", "token_hash": hash_token(api_secret),
            "prefix": api_secret[:10], "created_at": NOW}])
        first_items = connection.execute(
            select(Item.user_id, Item.id).where(Item.user_id.in_(bench_ids))
            .order_by(Item.user_id, Item.id)).all()
    edit_ids = list({user_id: item_id for user_id, item_id in reversed(first_items)}.values())
    # A database in service is vacuumed and analysed: plans and index-only scans depend on it.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql"
                                else "ANALYZE"))
    return Seeded(email=emails[0], password=PASSWORD, api_token=api_secret,
                  feed_path=first_path, edit_item_ids=edit_ids, cold_feed_paths=cold_paths,
                  items=BENCH_ACCOUNTS * BENCH_ITEMS + fillers * FILLER_ITEMS,
                  due_reminders=due_reminders)


def edit(engine: Engine, item_ids: Iterable[int], round_number: int) -> None:
    """Change one item per bench account as ``items.update_item`` would (version and time)."""
    stamp = NOW + dt.timedelta(minutes=round_number)
    with engine.begin() as connection:
        connection.execute(
            Item.__table__.update().where(Item.id.in_(list(item_ids))).values(
                notes=f"Edited in round {round_number}.", version=Item.version + 1,
                updated_at=stamp))
