"""A browser-like helper for the web tests, its own tests, and CSRF across every form.

``Browser.submit`` does what a browser does: it GETs the page, reads the form (hidden CSRF
token, pre-filled values, ticked boxes, selected options), applies the changes a person
would make, and posts the form to its action.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.wrappers import Response

from conftest import Api
from feedsvc.db import new_session
from feedsvc.models import User

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
            self._form.fields[name] = text[1:] if text.startswith("\n") else text
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
        return [" ".join(m.split()) for m in re.findall(r'<p class="flash [^"]*"[^>]*>(.*?)</p>',
                                                        self.text, re.S)]


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


@pytest.fixture
def browser(client: FlaskClient, user: dict[str, Any]) -> Browser:
    return signed_in(client, user)


# The helper itself: it must read forms the way a browser does, or every test lies.

def test_page_reads_a_form_as_a_browser_would_send_it() -> None:
    html = """<form method="post" action="/x">
      <input type="hidden" name="csrf_token" value="t">
      <input name="title" value="A &amp; B">
      <input type="checkbox" name="on" checked><input type="checkbox" name="off">
      <select name="pick"><option value="a">A</option><option value="b" selected>B</option></select>
      <select name="first"><option value="1">1</option><option value="2">2</option></select>
      <textarea name="notes">
line one
line two</textarea>
      <button type="submit">Save</button></form>"""
    response = Response(html, 200, mimetype="text/html")
    assert Page(response).values("/x") == {
        "csrf_token": "t", "title": "A & B", "on": "on", "pick": "b", "first": "1",
        "notes": "line one\nline two",
    }


def test_page_reads_error_messages_by_control_name() -> None:
    html = ('<p class="field-error" id="f-alarms-2-at-error"><span class="visually-hidden">'
            'Error: </span>must be a time</p><input id="f-alarms-2-at" aria-invalid="true">')
    page = Page(Response(html, 422, mimetype="text/html"))
    assert page.error("alarms.2.at") == "Error: must be a time"
    assert page.control("alarms.2.at")["aria-invalid"] == "true"
    assert page.error("alarms.1.at") is None


# CSRF: every form refuses a POST without a valid token, and nothing changes.

CSRF_FORMS = [
    ("/items/new", {"title": "MTS Russia", "category": "sim", "due_date": "2027-03-31"}),
    ("/settings", {"timezone": "Europe/Moscow", "locale": "en"}),
    ("/tokens", {"name": "sneaky"}),
    ("/logout", {}),
]


@pytest.mark.parametrize("path, data", CSRF_FORMS, ids=[p for p, _ in CSRF_FORMS])
@pytest.mark.parametrize("token", [None, "forged"], ids=["missing", "forged"])
def test_a_form_without_a_valid_csrf_token_is_refused_and_changes_nothing(
    browser: Browser, api: Api, path: str, data: dict[str, str], token: str | None
) -> None:
    me_before = api.get("/api/v1/me").json
    sent = dict(data) if token is None else {**data, "csrf_token": token}
    page = Page(browser.client.post(path, data=sent))
    assert page.status == 400
    assert "The form expired; please try again." in page.text
    assert api.get("/api/v1/items").json["items"] == []
    assert api.get("/api/v1/me").json == me_before
    assert "sneaky" not in browser.get("/tokens").text
    assert browser.get("/").status == 200, "still logged in"


def test_a_csrf_token_from_another_session_is_refused(
    browser: Browser, client: FlaskClient, app: Any, api: Api
) -> None:
    stranger = Browser(app.test_client())
    token = stranger.csrf_token()
    page = Page(browser.client.post("/tokens", data={"name": "x", "csrf_token": token}))
    assert page.status == 400
    assert "The form expired" in page.text


def test_a_deletion_without_csrf_token_keeps_the_item(
    browser: Browser, api: Api, item: dict[str, Any]
) -> None:
    page = Page(browser.client.post(f"/items/{item['id']}/delete"))
    assert page.status == 400
    assert api.get(f"/api/v1/items/{item['id']}").status_code == 200
