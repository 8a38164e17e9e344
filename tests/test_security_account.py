"""Account lifecycle from the settings page: delete (feeds answer 410) and export."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import func, select, update

from feedsvc import reminders
from feedsvc.db import new_session
from feedsvc.models import ApiToken, Channel, Delivery, Feed, Item, Renewal, Snooze, User

from helpers import PASSWORD, VALID_ITEM, Api, Browser, signed_in


def count(app: Flask, model: Any) -> int:
    with app.app_context(), new_session(app) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_deleting_the_account_removes_everything_and_its_feeds_answer_410(
    app: Flask, user: dict[str, Any], api: Api, other_api: Api
) -> None:
    item = api.post("/api/v1/items", json=VALID_ITEM).json
    api.post(f"/api/v1/items/{item['id']}/renewals", json={})
    feed = api.post("/api/v1/feeds", json={"name": "Mine"}).json
    other_api.post("/api/v1/items", json=VALID_ITEM)
    path = urlsplit(feed["url"]).path
    assert app.test_client().get(path).status_code == 200
    # Reminders: both accounts' addresses confirmed, one reminder each sent, one snoozed.
    api.post("/api/v1/items", json={**VALID_ITEM, "title": "Not renewed yet"})
    with new_session(app) as session:
        session.execute(update(Channel).values(verified_at=dt.datetime(2027, 1, 1,
                                                                       tzinfo=dt.UTC)))
        session.commit()
        now = dt.datetime(2027, 3, 18, tzinfo=dt.UTC)
        reminders.run_pass(lambda: new_session(app), lambda outgoing: None, now)
        reminders.snooze(session, session.get_one(Item, item["id"]), now)
        session.commit()
    assert (count(app, Channel), count(app, Delivery), count(app, Snooze)) == (2, 2, 1)
    browser = signed_in(app.test_client(), user)

    refused = browser.submit("/settings/delete", {"password": "not my password"})
    assert refused.status == 422 and refused.error("password")
    assert count(app, User) == 2

    page = browser.submit("/settings/delete", {"password": PASSWORD})
    assert page.status == 302 and page.response.location == "/signup"
    assert browser.get("/").status == 302, "signed out"
    assert app.test_client().get(path).status_code == 410
    assert app.test_client().get(path.replace(".ics", "/google.ics")).status_code == 410
    assert api.get("/api/v1/items").status_code == 401
    assert count(app, User) == 1 and count(app, Item) == 1 and count(app, Renewal) == 0
    assert count(app, Feed) == 0 and count(app, ApiToken) == 1
    # Its channels, deliveries and snoozes went with it; the other account's stay.
    assert (count(app, Channel), count(app, Delivery), count(app, Snooze)) == (1, 1, 0)
    assert other_api.get("/api/v1/items").json["items"], "the other account is untouched"
    assert Browser(app.test_client()).log_in(user["email"], PASSWORD).status == 422


def test_the_settings_page_downloads_the_accounts_own_data_as_json(
    app: Flask, user: dict[str, Any], api: Api, other_api: Api
) -> None:
    item = api.post("/api/v1/items", json=VALID_ITEM).json
    api.post(f"/api/v1/items/{item['id']}/renewals", json={"note": "paid"})
    feed = api.post("/api/v1/feeds", json={"name": "Mine"}).json
    other_api.post("/api/v1/items", json={**VALID_ITEM, "title": "Not mine"})
    browser = signed_in(app.test_client(), user)
    assert "/settings/export" in browser.get("/settings").text
    response = browser.client.get("/settings/export")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.data)
    assert data["account"]["email"] == user["email"]
    assert [i["title"] for i in data["items"]] == [VALID_ITEM["title"]]
    assert data["items"][0]["renewals"][0]["note"] == "paid"
    assert feed["url"] in [f["url"] for f in data["feeds"]]
    text = response.get_data(as_text=True)
    assert "Not mine" not in text and "password" not in text and "token_hash" not in text
    assert user["token"] not in text
