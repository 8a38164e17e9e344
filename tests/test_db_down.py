"""Faults under the feed and the pages: broken stored data, and the database going away.

Stored data that bypassed validation (written straight into the database) must give a
whole calendar or a clear 503, never a 500 and never a 200 missing an event; pages and the
API show such rows, or a plain error without internals. Each case names the one answer it
gets. With the database unreachable, pages answer a 503 page, the API a JSON 503 and feeds
a 503; when it is back, everything works again in the same process (PostgreSQL: through a
proxy that is cut and restored; SQLite: its folder moved away and back).
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import icalendar
import pytest
from flask import Flask
from sqlalchemy import update
from sqlalchemy.engine import make_url

from feedsvc import create_app
from feedsvc.db import get_engine, new_session
from feedsvc.models import Feed, Item, User

from helpers import SECRET_KEY, VALID_ITEM, Api, Browser, app_config, make_user, signed_in

OK, UNAVAILABLE = 200, 503


@dataclass(frozen=True)
class Broken:
    """Column values written over a valid row, and what the feed and each read answer then.

    ``feed`` is 200 for the whole calendar or 503; ``fails`` names the reads that do not
    answer 200, with their status. UNAVAILABLE is the plain "stored data cannot be shown"
    answer, which every read of a value that no longer has the shape the app stores it in
    gets (``models.CheckedJSON``), rather than a 500 from code further on.
    """

    values: dict[str, Any]
    feed: int = OK
    fails: dict[str, int] = field(default_factory=dict)


# Column values no form or API call can store, each written over a valid item. The reads:
# the API's item list, the item, its renewals; the list page, the item's page.
ITEM_READS = ("api items", "api item", "api renewals", "list page", "item page")
UNREADABLE_ITEM = dict.fromkeys(ITEM_READS, UNAVAILABLE)
NOT_READABLE = {"api items": UNAVAILABLE, "api item": UNAVAILABLE}
BROKEN_ITEMS: dict[str, Broken] = {
    "empty title": Broken({"title": ""}),
    "blank title": Broken({"title": "   "}),
    "line breaks in title": Broken({"title": "a\r\nBEGIN:VEVENT\r\nUID:x"}),
    "year 9999": Broken({"due_date": dt.date(9999, 12, 31)}, feed=UNAVAILABLE),
    "year 1": Broken({"due_date": dt.date(1, 1, 1)}),
    "year 9999 with grace": Broken({"due_date": dt.date(9999, 12, 30), "grace_days": 365},
                                   feed=UNAVAILABLE),
    "year 1 with alarms": Broken({"due_date": dt.date(1, 1, 2),
                                  "alarms": [{"days_before": 365, "at": "09:00"}]}),
    "alarms not a list": Broken({"alarms": {"days_before": 3}}, UNAVAILABLE, UNREADABLE_ITEM),
    "alarms of numbers": Broken({"alarms": [1, 2, 3]}, UNAVAILABLE, UNREADABLE_ITEM),
    "alarm without fields": Broken({"alarms": [{}]}, UNAVAILABLE, UNREADABLE_ITEM),
    "alarm of wrong types": Broken({"alarms": [{"days_before": "three", "at": 9}]},
                                   UNAVAILABLE, UNREADABLE_ITEM),
    "alarm out of range": Broken({"alarms": [{"days_before": -400, "at": "25:99"}]},
                                 fails=NOT_READABLE),
    "grace negative": Broken({"grace_days": -5}),
    "grace huge": Broken({"grace_days": 10**6}),
    "repeat unknown unit": Broken({"repeat_every": 1, "repeat_unit": "fortnight",
                                   "repeat_from": "schedule"}, fails=NOT_READABLE),
    "repeat zero": Broken({"repeat_every": 0, "repeat_unit": "month",
                           "repeat_from": "sideways"}, fails=NOT_READABLE),
    "price not a number": Broken({"price_amount": "twelve", "price_currency": "XXX"},
                                 fails=NOT_READABLE),
    "bound services not a list": Broken({"bound_services": "Sberbank"}, UNAVAILABLE,
                                        UNREADABLE_ITEM),
    "bound services of nulls": Broken({"bound_services": [None, 5, {"x": 1}]}, UNAVAILABLE,
                                      UNREADABLE_ITEM),
    "url not a url": Broken({"url": "javascript:alert(1)"}),
    "unknown category": Broken({"category": "spaceship"}),
}
# The reads: the API's account, and its item list.
USER_READS = ("api me", "api items")
BROKEN_USERS: dict[str, Broken] = {
    "unknown time zone": Broken({"timezone": "Mars/Olympus_Mons"}, UNAVAILABLE,
                                {"api items": UNAVAILABLE}),
    "unknown locale": Broken({"locale": "tlh"}, fails={"api me": UNAVAILABLE}),
    # The account itself no longer loads: every read of it answers 503.
    "default alarms not a list": Broken({"default_alarms": "14 days"}, UNAVAILABLE,
                                        dict.fromkeys(USER_READS, UNAVAILABLE)),
    "default alarms of nulls": Broken({"default_alarms": [None]}, UNAVAILABLE,
                                      dict.fromkeys(USER_READS, UNAVAILABLE)),
}
# The read: the API's feed list.
FEED_READS = ("api feeds",)
BROKEN_FEEDS: dict[str, Broken] = {
    "categories not a list": Broken({"categories": "sim"}, UNAVAILABLE,
                                    {"api feeds": UNAVAILABLE}),
    "categories of numbers": Broken({"categories": [1, 2]}, UNAVAILABLE,
                                    {"api feeds": UNAVAILABLE}),
}


def store(app: Flask, model: Any, row_id: int, values: dict[str, Any]) -> None:
    """Write values straight into the database, past every validation."""
    with app.app_context(), new_session(app) as session:
        session.execute(update(model).where(model.id == row_id).values(**values))
        session.commit()


def feed_path(api: Api) -> str:
    return urlsplit(api.get("/api/v1/feeds").json["feeds"][0]["url"]).path


def check_feed(app: Flask, path: str, status: int, item_ids: list[int]) -> None:
    """The feed answers ``status``: 200 with a due event per item, or a plain 503."""
    response = app.test_client().get(path)
    assert response.status_code == status
    if status == UNAVAILABLE:
        assert b"Traceback" not in response.data
        return
    calendar = icalendar.Calendar.from_ical(response.data)
    uids = {str(event["UID"]) for event in calendar.walk("VEVENT")}
    for item_id in item_ids:
        assert any(uid.startswith(f"due-{item_id}-") for uid in uids), (
            f"item {item_id} is missing: a partial calendar")


def signed_in_quietly(app: Flask, someone: dict[str, Any]) -> Any:
    """A test client with a session for ``someone``, without loading any page first."""
    client = app.test_client()
    with app.app_context(), new_session(app) as session:
        nonce = session.get_one(User, someone["id"]).session_nonce
    with client.session_transaction() as cookie_session:
        cookie_session["_user_id"] = f"{someone['id']}:{nonce}"
        cookie_session["_fresh"] = True
    return client


def shows_no_internals(responses: dict[str, Any], fails: dict[str, int]) -> None:
    """Each read answers 200, or the status ``fails`` gives it: a plain error, no internals."""
    statuses = {read: response.status_code for read, response in responses.items()}
    assert statuses == {read: fails.get(read, OK) for read in responses}
    for response in responses.values():
        body = response.get_data(as_text=True)
        assert "Traceback" not in body and 'File "' not in body
        if response.status_code != OK and response.mimetype == "application/json":
            assert response.json["error"]["status"] == response.status_code


@pytest.fixture
def owner(app: Flask, user: dict[str, Any], api: Api) -> dict[str, Any]:
    make_feed = api.post("/api/v1/feeds", json={"name": "All"})
    assert make_feed.status_code == 201
    good = api.post("/api/v1/items", json=VALID_ITEM).json
    bad = api.post("/api/v1/items", json={**VALID_ITEM, "title": "To be broken"}).json
    return {**user, "good": good["id"], "bad": bad["id"], "feed": make_feed.json["id"]}


@pytest.mark.parametrize("broken", BROKEN_ITEMS.values(), ids=BROKEN_ITEMS.keys())
def test_a_broken_item_gives_a_whole_calendar_or_a_503_never_a_500(
    app: Flask, api: Api, owner: dict[str, Any], broken: Broken
) -> None:
    store(app, Item, owner["bad"], broken.values)
    check_feed(app, feed_path(api), broken.feed, [owner["good"], owner["bad"]])
    browser = signed_in_quietly(app, owner)
    reads = dict(zip(ITEM_READS, (
        api.get("/api/v1/items"), api.get(f"/api/v1/items/{owner['bad']}"),
        api.get(f"/api/v1/items/{owner['bad']}/renewals"),
        browser.get("/"), browser.get(f"/items/{owner['bad']}"),
    ), strict=True))
    shows_no_internals(reads, broken.fails)


@pytest.mark.parametrize("broken", BROKEN_USERS.values(), ids=BROKEN_USERS.keys())
def test_broken_account_settings_give_a_whole_calendar_or_a_503(
    app: Flask, api: Api, owner: dict[str, Any], broken: Broken
) -> None:
    path = feed_path(api)
    store(app, User, owner["id"], broken.values)
    check_feed(app, path, broken.feed, [owner["good"], owner["bad"]])
    reads = dict(zip(USER_READS, (api.get("/api/v1/me"), api.get("/api/v1/items")),
                     strict=True))
    shows_no_internals(reads, broken.fails)


@pytest.mark.parametrize("broken", BROKEN_FEEDS.values(), ids=BROKEN_FEEDS.keys())
def test_broken_feed_settings_give_a_whole_calendar_or_a_503(
    app: Flask, api: Api, owner: dict[str, Any], broken: Broken
) -> None:
    path = feed_path(api)
    store(app, Feed, owner["feed"], broken.values)
    # No item is in category 1 or 2: a whole calendar of this feed has no due event.
    check_feed(app, path, broken.feed, [])
    shows_no_internals(dict(zip(FEED_READS, (api.get("/api/v1/feeds"),), strict=True)),
                       broken.fails)


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
        app = create_app(app_config(tmp_path / "instance", f"sqlite:///{folder}/feedsvc.sqlite3"))

        def cut() -> None:
            folder.rename(away)
            get_engine(app).dispose()  # open connections would keep the moved file

        yield app, Outage(cut, lambda: away.rename(folder))
    else:
        url = make_url(database_url)
        proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
        app = create_app(app_config(tmp_path / "instance",
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
    # /login sends a signed-in visitor on, which takes loading their account first.
    assert browser.get("/login").status == 503
    anonymous = Browser(app.test_client())
    assert anonymous.get("/login").status == 200, "a page without data still shows"
    # A log-in sent as the form sends it (CSRF token included) needs the database.
    login = anonymous.submit("/login", {"email": someone["email"], "password": "x"})
    assert login.status == 503
    for response in (api.get("/api/v1/items"), api.get(f"/api/v1/items/{item['id']}"),
                     api.post("/api/v1/items", json=VALID_ITEM), api.get("/api/v1/me")):
        assert response.status_code == 503
        assert response.json["error"]["status"] == 503
        assert "temporarily unavailable" in response.json["error"]["message"]
    # The feed's cache lives in the database too, so even a feed served just before the
    # outage is unavailable: never a 500, never an empty or partial calendar.
    down = app.test_client().get(path)
    assert down.status_code == 503
    assert down.mimetype == "text/html"
    assert "Traceback" not in down.get_data(as_text=True)
    assert down.headers["Retry-After"]

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
    app = create_app(app_config(tmp_path / "instance",
                                 f"sqlite:///{tmp_path}/no/such/folder/feedsvc.sqlite3",
                                 FEEDSVC_SECRET_KEY=SECRET_KEY))
    client = app.test_client()
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer fs_x"})
    assert response.status_code == 503 and response.json["error"]["status"] == 503
    assert client.get("/feeds/" + "A" * 43 + ".ics").status_code == 503
    get_engine(app).dispose()
