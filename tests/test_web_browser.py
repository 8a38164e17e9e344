"""The browser-like helper of the web tests (``helpers.Browser``), and CSRF across every form.

``Browser.submit`` does what a browser does: it GETs the page, reads the form (hidden CSRF
token, pre-filled values, ticked boxes, selected options), applies the changes a person
would make, and posts the form to its action.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.wrappers import Response

from helpers import Api, Browser, Page, signed_in


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
