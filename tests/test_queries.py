"""Query discipline: what a request costs in SQL does not grow with the number of items."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from feedsvc.accounts import hash_token
from feedsvc.db import get_engine, new_session
from feedsvc.feed import source, store
from feedsvc.models import User

from helpers import TRANSACTION_CONTROL, VALID_ITEM, Api, recorded_statements


def count_statements(app: Flask, action: Callable[[], Any]) -> tuple[Any, list[str]]:
    """Run ``action``; the SQL statements it sent (transaction control left out)."""
    seen: list[str] = []
    with recorded_statements(app, seen.append):
        return action(), seen


def sign_in(client: FlaskClient, app: Flask, user: dict[str, Any]) -> None:
    """Set the Flask-Login session as logging in would."""
    with new_session(app) as session:
        nonce = session.get_one(User, user["id"]).session_nonce
    with client.session_transaction() as browser_session:
        browser_session["_user_id"] = f"{user['id']}:{nonce}"
        browser_session["_fresh"] = True


def add_items(api: Api, count: int) -> None:
    for n in range(count):
        response = api.post("/api/v1/items", json={
            **VALID_ITEM, "title": f"Number {n}", "alarms": None if n % 2 else VALID_ITEM["alarms"],
            "category": "sim" if n % 3 else "domain"})
        assert response.status_code == 201, response.json
        if n % 4 == 0:
            assert api.post(f"/api/v1/items/{response.json['id']}/renewals",
                            json={}).status_code == 201


def request_costs(app: Flask, api: Api, user: dict[str, Any], items: int) -> dict[str, int]:
    """Statements per request kind, for an account with ``items`` items."""
    add_items(api, items)
    feed = api.post("/api/v1/feeds", json={"name": "Counted"}).json
    path = urlsplit(feed["url"]).path
    google = path.removesuffix(".ics") + "/google.ics"
    browser = app.test_client()
    sign_in(browser, app, user)

    def cost(name: str, action: Callable[[], Any], status: int) -> int:
        response, seen = count_statements(app, action)
        assert response.status_code == status, (name, response.status_code)
        return len(seen)

    costs = {"feed cold": cost("feed cold", lambda: api.client.get(path), 200)}
    etag = api.client.get(path).headers["ETag"]
    costs["feed warm"] = cost("feed warm", lambda: api.client.get(path), 200)
    costs["feed 304"] = cost("feed 304", lambda: api.client.get(
        path, headers={"If-None-Match": etag}), 304)
    costs["google cold"] = cost("google cold", lambda: api.client.get(google), 200)
    costs["item list"] = cost("item list", lambda: browser.get("/"), 200)
    costs["archived list"] = cost("archived list", lambda: browser.get("/archived"), 200)
    costs["api list"] = cost("api list", lambda: api.get("/api/v1/items"), 200)
    costs["api feeds"] = cost("api feeds", lambda: api.get("/api/v1/feeds"), 200)
    return costs


def test_request_costs_do_not_grow_with_the_number_of_items(
        app: Flask, api: Api, user: dict[str, Any], other_user: dict[str, Any]) -> None:
    one = request_costs(app, api, user, 1)
    other_api = Api(app.test_client(), other_user["token"])
    thirty = request_costs(app, other_api, other_user, 30)
    assert thirty == one


def test_warm_feed_requests_cost_one_query(app: Flask, api: Api, user: dict[str, Any]) -> None:
    costs = request_costs(app, api, user, 3)
    assert costs["feed warm"] == 1
    assert costs["feed 304"] == 1


# -- indexes -----------------------------------------------------------------------------

def query_plan(app: Flask, sql: str, params: Any) -> str:
    with get_engine(app).connect() as connection:
        return "\n".join(str(row[-1]) for row in
                          connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))


def sent(app: Flask, statement: Any, values: dict[str, Any]) -> tuple[str, Any]:
    """``statement`` as SQLAlchemy sends it to the driver for ``values``: the SQL, expanding
    IN lists spelled out, and its parameters."""
    seen: list[tuple[str, Any]] = []

    def note(conn: Any, cursor: Any, sql: str, parameters: Any, *args: Any) -> None:
        seen.append((sql, parameters))

    with get_engine(app).connect() as connection:
        event.listen(connection, "before_cursor_execute", note)
        connection.execute(statement, values).all()
    [query] = [(sql, parameters) for sql, parameters in seen
               if sql.split(None, 1)[0].upper() not in TRANSACTION_CONTROL]
    return query


def test_feed_lookups_use_indexes_on_sqlite(app: Flask, api: Api, user: dict[str, Any]) -> None:
    if get_engine(app).dialect.name != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    add_items(api, 3)
    token_hash = hash_token("x" * 43)
    # What every feed request reads: the feed's state and its kept calendar.
    for variant, body in (("ics", False), ("google", False), ("ics", True)):
        sql, params = sent(app, store.PROBES[body], {"token_hash": token_hash, "variant": variant})
        plan = query_plan(app, sql, params)
        assert "SCAN" not in plan, plan
        assert "USING INDEX sqlite_autoindex_feeds" in plan, plan  # token_hash is unique
        assert "USING INDEX sqlite_autoindex_feed_cache" in plan, plan  # (feed_id, variant)
        assert "COVERING INDEX ix_items_user_id_id_version" in plan, plan
    # What a cold build reads: the feed, owner and outline, then the changed items in full.
    for statement, values, index in (
        (source.HEAD, {"token_hash": token_hash}, "sqlite_autoindex_feeds"),
        (source.OUTLINE, {"user_id": user["id"]}, "ix_items_"),
        (source.ITEMS, {"user_id": user["id"], "since": dt.date(2026, 1, 1), "ids": [1, 2]},
         "ix_renewals_item_id_id"),
        (source.ITEMS, {"user_id": user["id"], "since": dt.date(2026, 1, 1), "ids": [3]},
         "ix_renewals_item_id_id"),
    ):
        sql, params = sent(app, statement, values)
        plan = query_plan(app, sql, params)
        assert "SCAN items" not in plan and "SCAN renewals" not in plan, (sql, plan)
        assert "SCAN feeds" not in plan and "SCAN users" not in plan, (sql, plan)
        assert f"INDEX {index}" in plan, (sql, plan)
    for sql in (
        "SELECT * FROM items WHERE user_id = :u AND archived = 0 ORDER BY due_date, id",
        ("SELECT max(renewals.id) FROM renewals JOIN items ON items.id = renewals.item_id "
         "WHERE items.user_id = :u GROUP BY renewals.item_id"),
        "SELECT * FROM retired_feed_tokens WHERE token_hash = :u",
        "SELECT * FROM api_tokens WHERE token_hash = :u",
        "SELECT * FROM feeds WHERE user_id = :u ORDER BY id",
    ):
        plan = query_plan(app, sql, {"u": 1})
        assert "SCAN items" not in plan and "SCAN renewals" not in plan, (sql, plan)
        assert "SCAN feeds" not in plan and "SCAN api_tokens" not in plan, (sql, plan)
