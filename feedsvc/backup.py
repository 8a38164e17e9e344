"""Backups (``feedsvc export`` / ``feedsvc import``) and a person's own data export.

A backup holds every stored row of the tables below, column by column, so it round-trips
without loss: password and token hashes, feed secrets (with the same secret key every feed
URL keeps working), versions, timestamps, retired feed URLs, and the id counters that keep
an item id, and so a calendar event's UID, from ever being used twice. Ids are kept when
they are free in the target database and renumbered consistently otherwise.

A push channel's whole Apprise URL (bot token, password) is kept sealed under a key derived
from ``FEEDSVC_SECRET_KEY`` (``feedsvc.sealed``), and a backup carries that sealed text as it
is, never opened: the file alone reveals no such secret. So keep the secret key with the
backup. Restored beside the same key, every push channel keeps working; beside another, the
import still succeeds (the rest of the data is worth having), but those channels can no
longer be read: each send to one fails at once, saying that its owner must add it again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import JSON, Boolean, Date, Integer, String, Table, Text, func, insert, select, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from feedsvc import channels, feeds, items, renewals
from feedsvc.accounts import user_by_email
from feedsvc.errors import Conflict, ValidationFailed
from feedsvc.models import (
    ApiToken,
    Base,
    Channel,
    CheckedJSON,
    Delivery,
    Feed,
    Item,
    Renewal,
    RetiredFeedToken,
    Snooze,
    User,
    UTCDateTime,
)
from feedsvc.schemas import FeedOut

FORMAT = "feedsvc-backup"
FORMAT_VERSION = 1
# Parents before children, the order rows are inserted in.
TABLES: tuple[Table, ...] = tuple(
    cast(Table, model.__table__)
    for model in (User, ApiToken, Item, Renewal, Feed, RetiredFeedToken, Channel, Delivery,
                  Snooze)
)
# Tables whose ids must never be handed out twice (event UIDs are built from them).
SEQUENCED = ("items", "renewals")
# Columns pointing at another table's id: (table, column) -> referenced table.
FOREIGN_KEYS = {("api_tokens", "user_id"): "users", ("items", "user_id"): "users",
                ("renewals", "item_id"): "items", ("feeds", "user_id"): "users",
                ("channels", "user_id"): "users", ("deliveries", "user_id"): "users",
                ("deliveries", "channel_id"): "channels", ("deliveries", "item_id"): "items",
                ("snoozes", "item_id"): "items"}


def _dump(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def _load(table: Table, column_name: str, value: Any, where: str) -> Any:
    column = table.columns[column_name]
    kind = column.type
    problem = None
    if value is None:
        problem = None if column.nullable else "must not be null"
    elif isinstance(kind, UTCDateTime):
        try:
            value = dt.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            problem = "must be an ISO 8601 timestamp"
        else:
            if value.tzinfo is None:
                problem = "must carry a UTC offset"
    elif isinstance(kind, Date):
        try:
            value = dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            problem = "must be a date written YYYY-MM-DD"
    elif isinstance(kind, Boolean):
        problem = None if isinstance(value, bool) else "must be true or false"
    elif isinstance(kind, Integer):
        problem = None if isinstance(value, int) and not isinstance(value, bool) \
            else "must be an integer"
    elif isinstance(kind, (String, Text)):
        problem = None if isinstance(value, str) else "must be text"
    elif isinstance(kind, CheckedJSON):
        try:
            kind.shape.validate_python(value)
        except ValidationError:
            problem = "does not have the shape this version stores"
    elif not isinstance(kind, JSON):
        problem = "has a type this version cannot read"
    if problem:
        raise ValidationFailed(f"The backup is not valid: {where}.{column_name} {problem}.",
                               {f"{where}.{column_name}": problem})
    return value


def _sequence_values(session: Session) -> dict[str, int]:
    """How far each never-reused id counter has gone."""
    values = {}
    dialect = session.get_bind().dialect.name
    for name in SEQUENCED:
        if dialect == "sqlite":
            seq = session.execute(text("SELECT seq FROM sqlite_sequence WHERE name = :name"),
                                  {"name": name}).scalar()
        elif dialect == "postgresql":
            seq_name = session.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"),
                                       {"t": name}).scalar()
            row = session.execute(text(f"SELECT last_value, is_called FROM {seq_name}")).one()
            seq = row[0] if row[1] else 0
        else:
            seq = None
        table = Base.metadata.tables[name]
        highest = session.execute(select(func.max(table.c.id))).scalar()
        values[name] = max(seq or 0, highest or 0)
    return values


def _advance_sequences(session: Session, values: dict[str, int]) -> None:
    dialect = session.get_bind().dialect.name
    for name in (table.name for table in TABLES if "id" in table.columns):
        table = Base.metadata.tables[name]
        wanted = max(values.get(name, 0), session.execute(select(func.max(table.c.id))).scalar()
                     or 0)
        if wanted == 0:
            continue
        if dialect == "postgresql":
            session.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :n)"),
                            {"t": name, "n": wanted})
        elif dialect == "sqlite" and name in SEQUENCED:
            found = session.execute(text("SELECT seq FROM sqlite_sequence WHERE name = :t"),
                                    {"t": name}).first()
            if found is None:
                session.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :n)"),
                                {"t": name, "n": wanted})
            elif found[0] < wanted:
                session.execute(text("UPDATE sqlite_sequence SET seq = :n WHERE name = :t"),
                                {"t": name, "n": wanted})


def export_backup(session: Session, email: str | None = None) -> dict[str, Any]:
    """Every row of every user (or of the one with ``email``), ready for ``json.dump``."""
    user_ids = select(User.id)
    if email is not None:
        user_ids = select(User.id).where(User.id == user_by_email(session, email).id)
    item_ids = select(Item.id).where(Item.user_id.in_(user_ids))
    where = {
        "users": User.id.in_(user_ids),
        "api_tokens": ApiToken.user_id.in_(user_ids),
        "items": Item.user_id.in_(user_ids),
        "renewals": Renewal.item_id.in_(item_ids),
        "feeds": Feed.user_id.in_(user_ids),
        "channels": Channel.user_id.in_(user_ids),
        "deliveries": Delivery.user_id.in_(user_ids),
        "snoozes": Snooze.item_id.in_(item_ids),
    }
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        if email is not None and table.name not in where:
            continue  # retired feed URLs belong to nobody in particular
        query = select(table)
        if email is not None:
            query = query.where(where[table.name])
        query = query.order_by(*table.primary_key.columns)
        tables[table.name] = [{key: _dump(value) for key, value in row._mapping.items()}
                              for row in session.execute(query)]
    document: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, "tables": tables}
    if email is None:
        document["id_counters"] = _sequence_values(session)
    return document


def _rows(document: Any) -> dict[str, list[dict[str, Any]]]:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValidationFailed("This is not a feedsvc backup (see `feedsvc export`).",
                               {"format": f"must be {FORMAT}"})
    if document.get("version") != FORMAT_VERSION:
        raise ValidationFailed(f"This backup has format version {document.get('version')}; "
                               f"this feedsvc reads version {FORMAT_VERSION}.",
                               {"version": f"must be {FORMAT_VERSION}"})
    tables = document.get("tables")
    if not isinstance(tables, dict) or not set(tables) <= {t.name for t in TABLES}:
        raise ValidationFailed("The backup's tables are not the ones this feedsvc knows.",
                               {"tables": "must name only " + ", ".join(t.name for t in TABLES)})
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        found = tables.get(table.name, [])
        if not isinstance(found, list) or not all(isinstance(row, dict) for row in found):
            raise ValidationFailed(f"The backup's {table.name} must be a list of rows.",
                                   {table.name: "must be a list of objects"})
        for number, row in enumerate(found):
            unknown = set(row) - set(table.columns.keys())
            if unknown:
                raise ValidationFailed(
                    f"The backup's {table.name} has columns this feedsvc does not know "
                    f"({', '.join(sorted(unknown))}): it was made by a newer version.",
                    {f"{table.name}.{number}": "has unknown columns"})
        rows[table.name] = [
            {key: _load(table, key, value, f"{table.name}.{number}") for key, value in row.items()}
            for number, row in enumerate(found)
        ]
    return rows


def _refuse_collisions(session: Session, rows: dict[str, list[dict[str, Any]]]) -> None:
    emails = [row["email"] for row in rows["users"]]
    taken = sorted(session.scalars(select(User.email).where(User.email.in_(emails))))
    if taken:
        raise Conflict("These accounts already exist, so nothing was imported: "
                       + ", ".join(taken) + ".", {"users": "already exist"})
    for table, model in (("api_tokens", ApiToken), ("feeds", Feed)):
        hashes = [row["token_hash"] for row in rows[table]]
        if session.scalar(select(func.count()).select_from(model)
                          .where(model.token_hash.in_(hashes))):
            raise Conflict(f"Some of the backup's {table} are already in this database, "
                           "so nothing was imported.", {table: "already exist"})


def _ids_free(session: Session, rows: dict[str, list[dict[str, Any]]]) -> bool:
    for table in TABLES:
        if "id" not in table.columns:
            continue
        ids = [row["id"] for row in rows[table.name] if "id" in row]
        if ids and session.scalar(select(func.count()).select_from(table)
                                  .where(table.c.id.in_(ids))):
            return False
    return True


def _already_retired(session: Session, token_hash: str) -> bool:
    return session.get(RetiredFeedToken, token_hash) is not None


def import_backup(session: Session, document: Any) -> dict[str, int]:
    """Insert a backup's rows (the caller commits); returns how many rows per table.

    Refuses, changing nothing, when an account in it already exists here.
    """
    rows = _rows(document)
    _refuse_collisions(session, rows)
    keep_ids = _ids_free(session, rows)
    new_ids: dict[str, dict[int, int]] = {table.name: {} for table in TABLES}
    retired = Base.metadata.tables["retired_feed_tokens"]
    for table in TABLES:
        for row in rows[table.name]:
            values = dict(row)
            for (name, column), parent in FOREIGN_KEYS.items():
                if name == table.name and not (values.get(column) is None
                                               and table.columns[column].nullable):
                    if values.get(column) not in new_ids[parent]:
                        raise ValidationFailed(
                            f"The backup is not valid: a row of {name} names {parent} "
                            f"{values.get(column)}, which is not in the backup.",
                            {f"{name}.{column}": f"must name a row of {parent}"})
                    values[column] = new_ids[parent][values[column]]
            if table is retired and _already_retired(session, values["token_hash"]):
                continue
            old_id = values.pop("id", None) if not keep_ids else values.get("id")
            result = cast(CursorResult[Any], session.execute(insert(table), values))
            if old_id is not None:
                key = result.inserted_primary_key
                assert key is not None  # a single-row insert into a table with a primary key
                new_ids[table.name][old_id] = key[0]
    counters = document.get("id_counters") if keep_ids else None
    _advance_sequences(session, counters if isinstance(counters, dict) else {})
    session.flush()
    return {table.name: len(rows[table.name]) for table in TABLES}


def personal_export(session: Session, user: User, secret_key: str, base_url: str,
                    today: dt.date) -> dict[str, Any]:
    """A person's own data in the API's shapes: settings, items with renewals, feeds,
    channels, tokens.

    It leaves out what only the service needs (password and token hashes, feed secrets, a
    push channel's sealed URL: its address is shown masked, as everywhere else).
    """
    exported_items = []
    for archived in (False, True):
        for item in items.list_items(session, user, archived=archived):
            data = items.item_out(item, user, today).model_dump(mode="json", by_alias=True)
            data["renewals"] = [renewals.renewal_out(r).model_dump(mode="json")
                                for r in renewals.list_renewals(session, item)]
            exported_items.append(data)
    exported_feeds = []
    for feed in feeds.list_feeds(session, user):
        urls = feeds.feed_urls(feed, secret_key, base_url)
        exported_feeds.append(FeedOut(
            id=feed.id, name=feed.name, categories=feed.categories,  # type: ignore[arg-type]
            reminder_events=feed.reminder_events, show_numbers=feed.show_numbers,
            action_links=feed.action_links,
            url=urls.url, webcal_url=urls.webcal_url, google_url=urls.google_url,
            created_at=feed.created_at, updated_at=feed.updated_at,
        ).model_dump(mode="json"))
    exported_channels = [channels.channel_out(channel).model_dump(mode="json")
                         for channel in channels.list_channels(session, user)]
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                             .order_by(ApiToken.id))
    return {
        "format": "feedsvc-export",
        "account": {"email": user.email, "timezone": user.timezone, "locale": user.locale,
                    "default_alarms": user.default_alarms,
                    "created_at": _dump(user.created_at)},
        "items": exported_items,
        "feeds": exported_feeds,
        "channels": exported_channels,
        "api_tokens": [{"name": t.name, "prefix": t.prefix, "created_at": _dump(t.created_at),
                        "last_used_at": _dump(t.last_used_at),
                        "revoked_at": _dump(t.revoked_at)} for t in tokens],
    }
