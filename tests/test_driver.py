"""Statements run on the driver's cursor give what SQLAlchemy's own execution gives."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from feedsvc import feedcache, feeds
from feedsvc.accounts import hash_token
from feedsvc.db import get_engine
from feedsvc.models import FeedCacheEntry

from helpers import VALID_ITEM, Api, recorded_statements


def _items(api: Api) -> list[int]:
    """Items with and without renewals, alarms, prices and categories."""
    ids = []
    for n, changes in enumerate([
        {"title": "Renewed twice", "price": {"amount": "12.50", "currency": "EUR"}},
        {"title": "Default alarms", "alarms": None},
        {"title": "Domain", "category": "domain", "notes": "续费 — notes"},
        {"title": "Plain", "grace_days": None, "price": None},
    ]):
        response = api.post("/api/v1/items", json={**VALID_ITEM, **changes,
                                                   "due_date": f"2027-0{n + 1}-15"})
        assert response.status_code == 201, response.json
        ids.append(response.json["id"])
    for _ in range(2):
        renewal = api.post(f"/api/v1/items/{ids[0]}/renewals", json={"method": "card"})
        assert renewal.status_code == 201, renewal.json
    return ids


def test_prepared_statements_return_what_sqlalchemy_returns(
        app: Flask, api: Api, user: dict[str, Any]) -> None:
    ids = _items(api)
    feed = api.post("/api/v1/feeds", json={"name": "All"}).json
    token = feed["url"].rsplit("/", 1)[1].removesuffix(".ics")
    runs: list[tuple[Any, Any, dict[str, Any]]] = [
        (feeds._SOURCE, feeds._SOURCE_RUN, {"token_hash": hash_token(token)})]
    for only in (False, True):
        for categories in (False, True):
            params: dict[str, Any] = {"user_id": user["id"], "since": dt.date(2026, 1, 1)}
            if only:
                params["only"] = ids[:3]
            if categories:
                params["categories"] = ["sim", "domain"]
            runs.append((feeds._ITEMS[only, categories], feeds._ITEMS_RUN[only, categories],
                         params))
    seen: list[str] = []
    with get_engine(app).connect() as connection, recorded_statements(app, seen.append):
        for statement, prepared, params in runs:
            expected = [tuple(row) for row in connection.execute(statement, params)]
            assert len(expected) > 1
            seen.clear()
            assert prepared.rows(connection, params) == expected
            # The tests' statement counts see them.
            assert len(seen) == 1


@pytest.mark.parametrize("rows", [0, 1, 50])
def test_a_prepared_upsert_writes_what_the_orm_reads(
        app: Flask, api: Api, rows: int) -> None:
    feed = api.post("/api/v1/feeds", json={"name": "All"}).json
    moment = dt.datetime(2026, 11, 23, 9, 30, 15, 250_000, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    entry = feedcache.Entry(key="k" * 64, etag="e" * 32, last_modified=moment, body=None,
                            body_gzip=b"\x1f\x8b" + bytes(range(256)) * 4,
                            stored_parts=tuple((f"{n:016x}", n * 10, 10) for n in range(rows)))
    engine = get_engine(app)
    for _ in range(2):  # an insert, then an update of the same entry
        with engine.connect() as connection:
            feedcache.DatabaseStore().save(connection, feed["id"], "ics", entry)
            connection.commit()
    with engine.connect() as connection:
        stored = connection.execute(select(FeedCacheEntry.__table__).where(
            FeedCacheEntry.feed_id == feed["id"])).one()
    assert (stored.key, stored.etag, stored.body_gzip) == (entry.key, entry.etag,
                                                          entry.body_gzip)
    assert stored.last_modified == moment and stored.last_modified.tzinfo == dt.UTC
    assert stored.parts == [list(part) for part in entry.stored_parts]
    assert stored.built_at.tzinfo == dt.UTC
