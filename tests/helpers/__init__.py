"""Helpers shared by the test modules: accounts and items to start from, an API client, a
browser-like client for the web pages, and a recorder of the SQL the app sends.

Fixtures live in ``conftest.py``; everything a test module imports by name lives here.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from werkzeug.test import Client
from werkzeug.wrappers import Response

from feedsvc import accounts, feeds, items, renewals
from feedsvc.config import normalise_database_url
from feedsvc.db import get_engine, get_feed_engine, new_session
from feedsvc.feed import serve
from feedsvc.models import ApiToken, Feed, Item, Renewal, User

from helpers.servers import child_environment

SECRET_KEY = "test-secret-key-not-for-production"
PASSWORD = "correct horse battery"

VALID_ITEM: dict[str, Any] = {
    "title": "MTS Russia",
    "category": "sim",
    "provider": "MTS",
    "carrier": None,
    "phone_number": "+7 916 123 45 67",
    "country": "RU",
    "due_date": "2027-03-31",
    "repeat": {"every": 3, "unit": "month", "from": "schedule"},
    "grace_days": 30,
    "alarms": [{"days_before": 14, "at": "09:00"}, {"days_before": 0, "at": "09:00"}],
    "price": {"amount": "300.00", "currency": "RUB"},
    "bound_services": ["Sberbank", "Telegram"],
    "notes": "Top up in the app.\nCheck the balance.",
    "url": "https://mts.ru/",
    "auto_renew": False,
    "archived": False,
}


def database_server_url() -> str | None:
    """The PostgreSQL server ``FEEDSVC_DATABASE_URL`` names, or None to test on SQLite."""
    url = os.environ.get("FEEDSVC_DATABASE_URL", "")
    return normalise_database_url(url) if url.startswith(("postgres", "postgresql")) else None


def app_config(instance: Path, url: str, **extra: Any) -> dict[str, Any]:
    """The configuration of a test app: its instance folder, its database, ``extra`` on top."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "FEEDSVC_DATABASE_URL": url,
        "FEEDSVC_SECRET_KEY": SECRET_KEY,
        "FEEDSVC_BASE_URL": "https://feeds.example.org",
        **extra,
    }


def sender_environment(app: Flask, **settings: str) -> dict[str, str]:
    """The environment of a sender process (``feedsvc remind``) on ``app``'s database and
    instance folder, with ``settings`` on top."""
    return child_environment(
        FEEDSVC_INSTANCE_PATH=app.instance_path,
        FEEDSVC_DATABASE_URL=app.config["FEEDSVC_DATABASE_URL"],
        FEEDSVC_SECRET_KEY=SECRET_KEY, FEEDSVC_BASE_URL="https://feeds.example.org",
        **settings)


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def recorded_statements(app: Flask, record: Callable[[str], None],
                        transaction_control: bool = False) -> Iterator[None]:
    """Pass every SQL statement the app sends to ``record``, on both its engines; BEGIN,
    COMMIT and the like only with ``transaction_control``."""
    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if transaction_control or statement.split(None, 1)[0].upper() not in TRANSACTION_CONTROL:
            record(statement)

    engines = (get_engine(app), get_feed_engine(app))
    for engine in engines:
        event.listen(engine, "before_cursor_execute", listener)
    try:
        yield
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", listener)


def route_only_client(app: Flask) -> Client:
    """A client of the Flask app behind the feed's fast path: the route answers everything.

    The middleware outside the fast path is left out too; none of it changes a feed answer.
    """
    layer: Any = app.wsgi_app
    while not isinstance(layer, serve.FastPath):
        layer = layer.wsgi_app
    return Client(layer.wsgi_app)


def make_user(app: Flask, email: str = "user@example.com", **settings: Any) -> dict[str, Any]:
    """Create an account with an API token; returns its e-mail, id, password and token."""
    with app.app_context(), new_session(app) as session:
        user = accounts.create_user(session, email, PASSWORD, **settings)
        token = accounts.create_api_token(session, user, "tests")
        session.commit()
        return {"id": user.id, "email": user.email, "password": PASSWORD, "token": token.secret}


class Api:
    """The test client with a bearer token, speaking JSON."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.post(path, headers=self.headers, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.patch(path, headers=self.headers, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.client.delete(path, headers=self.headers, **kwargs)


# Accounts with everything: for tests that cross users.

def make_account(app: Flask, email: str, title: str = "Someone's SIM") -> dict[str, Any]:
    """An account with an item (renewed once), a feed, a spare token and a revoked one."""
    with app.app_context(), new_session(app) as session:
        user = accounts.create_user(session, email, PASSWORD)
        token = accounts.create_api_token(session, user, "main")
        spare = accounts.create_api_token(session, user, "spare")
        revoked = accounts.create_api_token(session, user, "revoked")
        item = items.create_item(session, user, {**VALID_ITEM, "title": title})
        renewals.renew(session, item, {}, item.due_date)
        feed = feeds.create_feed(session, user, SECRET_KEY, {"name": "All"})
        old_token = feeds.feed_token(SECRET_KEY, feed.secret)
        feeds.rotate_feed(session, feed, SECRET_KEY)
        accounts.revoke_api_token(session, user, revoked.record.id)
        session.commit()
        return {
            "id": user.id, "email": user.email, "token": token.secret,
            "revoked_token": revoked.secret, "item_id": item.id, "feed_id": feed.id,
            "token_id": spare.record.id, "feed_token": feeds.feed_token(SECRET_KEY, feed.secret),
            "rotated_feed_token": old_token, "nonce": user.session_nonce,
        }


def snapshot(app: Flask, user_id: int) -> tuple[object, ...]:
    """Everything of an account that a request could change, to compare before and after."""
    with app.app_context(), new_session(app) as session:
        user = session.get_one(User, user_id)
        return (
            (user.email, user.password_hash, user.session_nonce, user.version),
            [(i.id, i.version, i.title, i.due_date) for i in session.scalars(
                select(Item).where(Item.user_id == user_id).order_by(Item.id))],
            [r.id for r in session.scalars(select(Renewal).join(Item)
                                           .where(Item.user_id == user_id))],
            [(f.id, f.token_hash, f.version) for f in session.scalars(
                select(Feed).where(Feed.user_id == user_id))],
            [(t.id, t.revoked_at) for t in session.scalars(
                select(ApiToken).where(ApiToken.user_id == user_id))],
        )


def web_client(app: Flask, account: dict[str, Any] | None, nonce: str | None = None
               ) -> FlaskClient:
    """A test client signed in as ``account`` (anonymous for None), with its session nonce
    or the one given; no page is loaded."""
    client = app.test_client()
    if account is not None:
        with client.session_transaction() as session:
            session["_user_id"] = f"{account['id']}:{nonce or account['nonce']}"
            session["_fresh"] = True
    return client


# The web pages, read and filled in as a browser would.

SUBMITTABLE_INPUTS = {"hidden", "text", "email", "password", "tel", "url", "date", "time",
                      "number", "search"}


@dataclass
class Form:
    """One <form>: where it posts, and what a browser would send unchanged."""

    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.by_id: dict[str, dict[str, str]] = {}
        self.texts: dict[str, str] = {}
        self._form: Form | None = None
        self._select: tuple[str, list[tuple[str, bool]]] | None = None
        self._textarea: tuple[str, list[str]] | None = None
        self._capturing: list[tuple[str, str, int]] = []  # (id, tag, depth)
        self._buffers: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attr_list: list[tuple[str, str | None]]) -> None:
        attrs = {name: value or "" for name, value in attr_list}
        if "id" in attrs:
            self.by_id[attrs["id"]] = {"tag": tag, **attrs}
            if tag == "p":
                self._capturing.append((attrs["id"], tag, 0))
                self._buffers[attrs["id"]] = []
        for index, (ident, open_tag, depth) in enumerate(self._capturing):
            if tag == open_tag and ident != attrs.get("id"):
                self._capturing[index] = (ident, open_tag, depth + 1)
        if tag == "form":
            self._form = Form(attrs.get("action", ""), attrs.get("method", "get").lower())
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and "name" in attrs:
            kind = attrs.get("type", "text")
            if kind in SUBMITTABLE_INPUTS:
                self._form.fields[attrs["name"]] = attrs.get("value", "")
            elif kind == "checkbox" and "checked" in attrs:
                self._form.fields[attrs["name"]] = attrs.get("value", "on")
        elif tag == "select":
            self._select = (attrs["name"], [])
        elif tag == "option" and self._select is not None:
            self._select[1].append((attrs.get("value", ""), "selected" in attrs))
        elif tag == "textarea":
            self._textarea = (attrs["name"], [])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        for index, (ident, open_tag, depth) in enumerate(list(self._capturing)):
            if tag == open_tag:
                if depth == 0:
                    self.texts[ident] = " ".join("".join(self._buffers[ident]).split())
                    self._capturing.remove((ident, open_tag, depth))
                else:
                    self._capturing[index] = (ident, open_tag, depth - 1)
        if self._form is None:
            return
        if tag == "select" and self._select is not None:
            name, options = self._select
            chosen = [value for value, selected in options if selected] or [options[0][0]]
            self._form.fields[name] = chosen[-1]
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, parts = self._textarea
            text = "".join(parts)
            # Browsers drop the newline right after <textarea>.
            self._form.fields[name] = text.removeprefix("\n")
            self._textarea = None
        elif tag == "form":
            self._form = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)
        for ident, _tag, _depth in self._capturing:
            self._buffers[ident].append(data)


class Page:
    """A response, with its forms and elements read the way a browser reads them."""

    def __init__(self, response: Response) -> None:
        self.response = response
        self.status = response.status_code
        self.text = response.get_data(as_text=True)
        parser = _PageParser()
        if response.mimetype == "text/html":
            parser.feed(self.text)
            parser.close()
        self.forms = parser.forms
        self.by_id = parser.by_id
        self.texts = parser.texts

    def form(self, action: str | None = None) -> Form:
        """The form posting to ``action``, or the page's main form (not the log-out button)."""
        for form in self.forms:
            if form.method == "post" and (
                    form.action == action if action else form.action != "/logout"):
                return form
        raise AssertionError(f"no form for {action!r} on the page:\n{self.text}")

    def values(self, action: str | None = None) -> dict[str, str]:
        """What the form would send as it stands."""
        return dict(self.form(action).fields)

    def error(self, control: str) -> str | None:
        """The error message shown next to a form control, named as in the form."""
        return self.texts.get("f-" + control.replace(".", "-") + "-error")

    def control(self, control: str) -> dict[str, str]:
        """The attributes of a form control, named as in the form."""
        return self.by_id["f-" + control.replace(".", "-")]

    def flashes(self) -> list[str]:
        """The flash messages on the page, whitespace collapsed."""
        return [" ".join(m.split()) for m in re.findall(r'<p class="flash [^"]*"[^>]*>(.*?)</p>',
                                                        self.text, re.DOTALL)]


class Browser:
    """The test client used like a browser: pages are fetched, forms filled in and sent."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, path: str, **kwargs: Any) -> Page:
        return Page(self.client.get(path, **kwargs))

    def submit(self, path: str, changes: dict[str, str | None] | None = None, *,
               action: str | None = None, **kwargs: Any) -> Page:
        """Open ``path``, change fields of its form (None unticks or leaves out), send it."""
        page = self.get(path)
        assert page.status == 200, page.text
        form = page.form(action)
        data = {**form.fields, **(changes or {})}
        sent = {name: value for name, value in data.items() if value is not None}
        return Page(self.client.post(form.action or path, data=sent, **kwargs))

    def csrf_token(self) -> str:
        """A valid CSRF token for this browser's session."""
        page = self.get("/login")
        if page.status == 302:  # signed in: take it from the log-out button
            return self.get("/").values("/logout")["csrf_token"]
        return page.values()["csrf_token"]

    def log_in(self, email: str, password: str) -> Page:
        return self.submit("/login", {"email": email, "password": password})


def signed_in(client: FlaskClient, user: dict[str, Any]) -> Browser:
    """A browser logged in as ``user``.

    It writes Flask-Login's session entry directly instead of posting the login form, which
    would check the password hash a second time per test; ``test_web_auth`` covers the form.
    """
    with client.application.app_context(), new_session(client.application) as session:
        nonce = session.get_one(User, user["id"]).session_nonce
    with client.session_transaction() as cookie_session:
        cookie_session["_user_id"] = f"{user['id']}:{nonce}"
        cookie_session["_fresh"] = True
    browser = Browser(client)
    assert browser.get("/").status == 200
    return browser


def upload(browser: Browser, data: bytes, filename: str = "items.csv") -> Page:
    """Send ``data`` as a CSV file through the import form; returns the page it leads to."""
    form = browser.get("/items/import").form("/items/import")
    return Page(browser.client.post("/items/import", data={
        **form.fields, "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data"))


# Every field of VALID_ITEM, typed into the add form as a person would.
FULL_FORM: dict[str, str | None] = {
    "title": "  MTS Russia ",
    "category": "sim",
    "provider": "MTS",
    "phone_number": "+7 916 123 45 67",
    "country": "ru",
    "due_date": "2027-03-31",
    "repeat.every": "3",
    "repeat.unit": "month",
    "repeat.from": "schedule",
    "grace_days": "30",
    "use_default_alarms": None,
    "alarms.0.days_before": "0",
    "alarms.0.at": "",
    "alarms.2.days_before": "14",
    "alarms.2.at": "09:00",
    "price.amount": "300.00",
    "price.currency": "rub",
    "bound_services": "Sberbank\r\n\r\n  Telegram  \r\n",
    "notes": "Top up in the app.\r\nCheck the balance.",
    "url": "https://mts.ru/",
    "auto_renew": None,
    "archived": None,
}


def writable(item: dict[str, Any]) -> dict[str, Any]:
    """The fields of an item as the API returned it that a client can write."""
    return {name: item[name] for name in VALID_ITEM}
