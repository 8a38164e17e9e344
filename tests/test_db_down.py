"""Faults under the feed and the pages: broken stored data, and the database going away.

Stored data that bypassed validation (written straight into the database) must give a
whole calendar or a clear 503, never a 500 and never a 200 missing an event; pages and the
API show such rows, or a plain error without internals. With the
database unreachable, pages answer a 503 page, the API a JSON 503 and feeds a 503; when
it is back, everything works again in the same process (PostgreSQL: through a proxy that is
cut and restored; SQLite: its folder moved away and back).
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import icalendar
import pytest
from flask import Flask
from sqlalchemy import update
from sqlalchemy.engine import make_url

from conftest import SECRET_KEY, VALID_ITEM, Api, _config, make_user
from feedsvc import create_app
from feedsvc.db import get_engine, new_session
from feedsvc.models import Feed, Item, User
from test_web_browser import signed_in

# Column values no form or API call can store, each written over a valid item.
BROKEN_ITEMS: dict[str, dict[str, Any]] = {
    "empty title": {"title": ""},
    "blank title": {"title": "   "},
    "line breaks in title": {"title": "a\r\nBEGIN:VEVENT\r\nUID:x"},
    "year 9999": {"due_date": dt.date(9999, 12, 31)},
    "year 1": {"due_date": dt.date(1, 1, 1)},
    "year 9999 with grace": {"due_date": dt.date(9999, 12, 30), "grace_days": 365},
    "year 1 with alarms": {"due_date": dt.date(1, 1, 2),
                           "alarms": [{"days_before": 365, "at": "09:00"}]},
    "alarms not a list": {"alarms": {"days_before": 3}},
    "alarms of numbers": {"alarms": [1, 2, 3]},
    "alarm without fields": {"alarms": [{}]},
    "alarm of wrong types": {"alarms": [{"days_before": "three", "at": 9}]},
    "alarm out of range": {"alarms": [{"days_before": -400, "at": "25:99"}]},
    "grace negative": {"grace_days": -5},
    "grace huge": {"grace_days": 10**6},
    "repeat unknown unit": {"repeat_every": 1, "repeat_unit": "fortnight",
                            "repeat_from": "schedule"},
    "repeat zero": {"repeat_every": 0, "repeat_unit": "month", "repeat_from": "sideways"},
    "price not a number": {"price_amount": "twelve", "price_currency": "XXX"},
    "bound services not a list": {"bound_services": "Sberbank"},
    "bound services of nulls": {"bound_services": [None, 5, {"x": 1}]},
    "url not a url": {"url": "javascript:alert(1)"},
    "unknown category": {"category": "spaceship"},
}
BROKEN_USERS: dict[str, dict[str, Any]] = {
    "unknown time zone": {"timezone": "Mars/Olympus_Mons"},
    "unknown locale": {"locale": "tlh"},
    "default alarms not a list": {"default_alarms": "14 days"},
    "default alarms of nulls": {"default_alarms": [None]},
}
BROKEN_FEEDS: dict[str, dict[str, Any]] = {
    "categories not a list": {"categories": "sim"},
    "categories of numbers": {"categories": [1, 2]},
}


def store(app: Flask, model: Any, row_id: int, values: dict[str, Any]) -> None:
    """Write values straight into the database, past every validation."""
    with app.app_context(), new_session(app) as session:
        session.execute(update(model).where(model.id == row_id).values(**values))
        session.commit()


def feed_path(api: Api) -> str:
    return urlsplit(api.get("/api/v1/feeds").json["feeds"][0]["url"]).path


def check_whole_or_unavailable(app: Flask, path: str, item_ids: list[int]) -> int:
    """The feed answers a calendar with a due event per item, or a plain 503."""
    response = app.test_client().get(path)
    assert response.status_code in (200, 503), response.status_code
    if response.status_code == 503:
        assert b"Traceback" not in response.data
        return 503
    calendar = icalendar.Calendar.from_ical(response.data)
    uids = {str(event["UID"]) for event in calendar.walk("VEVENT")}
    for item_id in item_ids:
        assert any(uid.startswith(f"due-{item_id}-") for uid in uids), (
            f"item {item_id} is missing: a partial calendar")
    return 200


def signed_in_quietly(app: Flask, someone: dict[str, Any]) -> Any:
    """A test client with a session for ``someone``, without loading any page first."""
    client = app.test_client()
    with app.app_context(), new_session(app) as session:
        nonce = session.get_one(User, someone["id"]).session_nonce
    with client.session_transaction() as cookie_session:
        cookie_session["_user_id"] = f"{someone['id']}:{nonce}"
        cookie_session["_fresh"] = True
    return client


def shows_no_internals(response: Any) -> None:
    """Pages and the API may fail on such rows, but only with a plain error, no internals."""
    assert response.status_code in (200, 500, 503)
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and 'File "' not in body
    if response.status_code >= 500 and response.mimetype == "application/json":
        assert response.json["error"]["status"] == response.status_code


@pytest.fixture
def owner(app: Flask, user: dict[str, Any], api: Api) -> dict[str, Any]:
    make_feed = api.post("/api/v1/feeds", json={"name": "All"})
    assert make_feed.status_code == 201
    good = api.post("/api/v1/items", json=VALID_ITEM).json
    bad = api.post("/api/v1/items", json={**VALID_ITEM, "title": "To be broken"}).json
    return {**user, "good": good["id"], "bad": bad["id"], "feed": make_feed.json["id"]}


@pytest.mark.parametrize("values", BROKEN_ITEMS.values(), ids=BROKEN_ITEMS.keys())
def test_a_broken_item_gives_a_whole_calendar_or_a_503_never_a_500(
    app: Flask, api: Api, owner: dict[str, Any], values: dict[str, Any]
) -> None:
    store(app, Item, owner["bad"], values)
    check_whole_or_unavailable(app, feed_path(api), [owner["good"], owner["bad"]])
    for path in ("/api/v1/items", f"/api/v1/items/{owner['bad']}",
                 f"/api/v1/items/{owner['bad']}/renewals"):
        shows_no_internals(api.get(path))
    browser = signed_in_quietly(app, owner)
    for path in ("/", f"/items/{owner['bad']}"):
        shows_no_internals(browser.get(path))


@pytest.mark.parametrize("values", BROKEN_USERS.values(), ids=BROKEN_USERS.keys())
def test_broken_account_settings_give_a_whole_calendar_or_a_503(
    app: Flask, api: Api, owner: dict[str, Any], values: dict[str, Any]
) -> None:
    path = feed_path(api)
    store(app, User, owner["id"], values)
    check_whole_or_unavailable(app, path, [owner["good"], owner["bad"]])
    shows_no_internals(api.get("/api/v1/me"))
    shows_no_internals(api.get("/api/v1/items"))


@pytest.mark.parametrize("values", BROKEN_FEEDS.values(), ids=BROKEN_FEEDS.keys())
def test_broken_feed_settings_give_a_whole_calendar_or_a_503(
    app: Flask, api: Api, owner: dict[str, Any], values: dict[str, Any]
) -> None:
    path = feed_path(api)
    store(app, Feed, owner["feed"], values)
    response = app.test_client().get(path)
    assert response.status_code in (200, 503)
    assert api.get("/api/v1/feeds").status_code in (200, 503)


# The database going away, and coming back.

class Proxy:
    """A TCP relay in front of PostgreSQL that can be cut (closing every connection) and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener: socket.socket | None = None
        self.port = 0
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        self.up()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        if self.listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        with self.lock:
            for sock in self.open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self.open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self.lock:
                self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.close()
                except OSError:
                    pass


class Outage:
    """Take the app's database away and bring it back."""

    def __init__(self, down: Any, up: Any) -> None:
        self.down, self.up = down, up


@pytest.fixture
def fragile(database_backend: dict[str, str], database_url: str,
            tmp_path: Path) -> Iterator[tuple[Flask, Outage]]:
    if database_backend["kind"] == "sqlite":
        folder = tmp_path / "db"
        folder.mkdir()
        shutil.copyfile(urlsplit(database_url).path, folder / "feedsvc.sqlite3")
        away = tmp_path / "db-away"
        app = create_app(_config(tmp_path / "instance", f"sqlite:///{folder}/feedsvc.sqlite3"))

        def cut() -> None:
            folder.rename(away)
            get_engine(app).dispose()  # open connections would keep the moved file

        yield app, Outage(cut, lambda: away.rename(folder))
    else:
        url = make_url(database_url)
        proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
        app = create_app(_config(tmp_path / "instance",
                                 url.set(host="127.0.0.1", port=proxy.port)
                                 .render_as_string(hide_password=False)))
        yield app, Outage(proxy.down, proxy.up)
        proxy.down()
    get_engine(app).dispose()


def test_with_the_database_down_everything_answers_503_and_recovers_by_itself(
    fragile: tuple[Flask, Outage],
) -> None:
    app, outage = fragile
    someone = make_user(app)
    api = Api(app.test_client(), someone["token"])
    item = api.post("/api/v1/items", json=VALID_ITEM).json
    feed = api.post("/api/v1/feeds", json={"name": "All"}).json
    path = urlsplit(feed["url"]).path
    browser = signed_in(app.test_client(), someone)
    before = app.test_client().get(path)
    assert before.status_code == 200

    outage.down()
    page = browser.get("/")
    assert page.status == 503
    assert page.response.mimetype == "text/html"
    assert "temporarily unavailable" in page.text
    assert "Traceback" not in page.text and "sqlalchemy" not in page.text.lower()
    assert page.response.headers["Retry-After"]
    assert browser.get("/login").status in (302, 503)
    anonymous = app.test_client()
    assert anonymous.get("/login").status_code == 200, "a page without data still shows"
    login = anonymous.post("/login", data={"email": someone["email"], "password": "x"})
    assert login.status_code in (400, 503)
    for response in (api.get("/api/v1/items"), api.get(f"/api/v1/items/{item['id']}"),
                     api.post("/api/v1/items", json=VALID_ITEM), api.get("/api/v1/me")):
        assert response.status_code == 503
        assert response.json["error"]["status"] == 503
        assert "temporarily unavailable" in response.json["error"]["message"]
    down = app.test_client().get(path)
    # Never a 500, never an empty or partial calendar: 503, or the whole calendar as before.
    assert down.status_code in (503, 200)
    if down.status_code == 200:
        assert down.data == before.data

    outage.up()
    assert browser.get("/").status == 200
    assert api.get(f"/api/v1/items/{item['id']}").status_code == 200
    assert api.post("/api/v1/items", json=VALID_ITEM).status_code == 201
    again = app.test_client().get(path)
    assert again.status_code == 200
    assert len(icalendar.Calendar.from_ical(again.data).walk("VEVENT")) > len(
        icalendar.Calendar.from_ical(before.data).walk("VEVENT"))


def test_an_app_started_while_the_database_is_unreachable_answers_503(
    tmp_path: Path,
) -> None:
    app = create_app(_config(tmp_path / "instance",
                             f"sqlite:///{tmp_path}/no/such/folder/feedsvc.sqlite3",
                             FEEDSVC_SECRET_KEY=SECRET_KEY))
    client = app.test_client()
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer fs_x"})
    assert response.status_code == 503 and response.json["error"]["status"] == 503
    assert client.get("/feeds/" + "A" * 43 + ".ics").status_code == 503
    get_engine(app).dispose()
