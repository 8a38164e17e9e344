"""Sessions and forms: CSRF on every state change, cookie flags, fresh sessions, log-out."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc import channels, create_app
from feedsvc.db import get_engine, new_session
from feedsvc.models import User

from helpers import PASSWORD, SECRET_KEY, Browser, app_config, make_account, snapshot, web_client

# Exempt by design: an RFC 8058 one-click unsubscribe is POSTed by mail providers, with no
# session; the signed token in its URL is the key (feedsvc/web/reminders.py, tested there).
CSRF_EXEMPT = {("/unsubscribe/<token>", "POST")}
STATE_CHANGES = sorted(
    (rule.rule, method)
    for rule in create_app({"TESTING": True, "FEEDSVC_DATABASE_URL": "sqlite://",
                            "FEEDSVC_SECRET_KEY": SECRET_KEY,
                            "INSTANCE_PATH": "/tmp/feedsvc-matrix"}).url_map.iter_rules()
    if not rule.endpoint.startswith(("api.", "feed.", "static"))
    for method in rule.methods & {"POST", "PUT", "PATCH", "DELETE"}
    if (rule.rule, method) not in CSRF_EXEMPT
)


def test_every_web_state_change_is_found() -> None:
    assert ("/logout", "POST") in STATE_CHANGES and ("/settings/delete", "POST") in STATE_CHANGES


@pytest.mark.parametrize("rule, method", STATE_CHANGES, ids=[f"{m} {r}" for r, m in STATE_CHANGES])
@pytest.mark.parametrize("token", [None, "forged", "other session"])
def test_every_state_change_of_the_web_needs_the_csrf_token(
    app: Flask, rule: str, method: str, token: str | None
) -> None:
    owner = make_account(app, "owner@example.com")
    path = rule
    for name in ("item_id", "feed_id", "token_id"):
        path = path.replace(f"<int:{name}>", str(owner[name]))
    with app.app_context(), new_session(app) as session:
        own_address = channels.account_channel(session, session.get_one(User, owner["id"]))
        assert own_address is not None
        path = path.replace("<int:channel_id>", str(own_address.id))
    client = web_client(app, owner)
    data = {"title": "x", "name": "x", "password": PASSWORD, "email": owner["email"],
            "due_date": "2030-01-01", "timezone": "UTC", "locale": "en"}
    if token == "forged":
        data["csrf_token"] = "IjQyIg.forged.token"
    elif token == "other session":
        data["csrf_token"] = Browser(app.test_client()).csrf_token()
    before = snapshot(app, owner["id"])
    response = client.open(path, method=method, data=data)
    assert response.status_code == 400, (path, response.status_code)
    assert "The form expired" in response.get_data(as_text=True)
    assert snapshot(app, owner["id"]) == before


def test_session_cookie_is_httponly_samesite_lax_and_secure_behind_https(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    page = Browser(client).log_in(user["email"], PASSWORD)
    cookie = page.response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie, "FEEDSVC_BASE_URL is https in the tests"


def test_session_cookie_is_secure_when_the_request_came_over_https(tmp_path: Any,
                                                                    database_url: str) -> None:
    app = create_app(app_config(tmp_path / "i", database_url, FEEDSVC_BASE_URL=None))
    plain = app.test_client().get("/login")
    assert "Secure" not in plain.headers["Set-Cookie"]
    secure = app.test_client().get("/login", base_url="https://localhost")
    assert "Secure" in secure.headers["Set-Cookie"]
    get_engine(app).dispose()


def test_log_in_starts_a_new_session_with_a_new_csrf_token(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    browser = Browser(client)
    before = browser.csrf_token()
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        planted_cookie = dict(session)
    browser.log_in(user["email"], PASSWORD)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != planted_cookie.get("csrf_token")
    assert browser.csrf_token() != before


def test_log_out_makes_every_copy_of_the_session_worthless(
    app: Flask, client: FlaskClient, user: dict[str, Any]
) -> None:
    browser = Browser(client)
    browser.log_in(user["email"], PASSWORD)
    stolen = client.get_cookie("session").value
    assert browser.submit("/", action="/logout").status == 302
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_a_password_change_signs_out_other_sessions_and_keeps_this_one(
    app: Flask, user: dict[str, Any]
) -> None:
    here = Browser(app.test_client())
    here.log_in(user["email"], PASSWORD)
    elsewhere = Browser(app.test_client())
    elsewhere.log_in(user["email"], PASSWORD)
    page = here.submit("/settings/password", {"current_password": PASSWORD,
                                              "new_password": "a new long password",
                                              "confirm": "a new long password"})
    assert page.status == 302
    assert "Password changed" in here.get("/settings").text
    assert here.get("/").status == 200, "this session stays signed in"
    assert elsewhere.get("/").status == 302, "the other session is signed out"
    assert Browser(app.test_client()).log_in(user["email"], "a new long password").status == 302
    assert Browser(app.test_client()).log_in(user["email"], PASSWORD).status == 422


@pytest.mark.parametrize("changes, control", [
    ({"current_password": "wrong password", "new_password": "a new long password",
      "confirm": "a new long password"}, "current_password"),
    ({"current_password": PASSWORD, "new_password": "short", "confirm": "short"},
     "new_password"),
    ({"current_password": PASSWORD, "new_password": "a new long password",
      "confirm": "something else"}, "confirm"),
], ids=["wrong-current", "too-short", "mismatch"])
def test_a_bad_password_change_is_refused_next_to_the_field(
    app: Flask, user: dict[str, Any], changes: dict[str, str], control: str
) -> None:
    browser = Browser(app.test_client())
    browser.log_in(user["email"], PASSWORD)
    with app.app_context(), new_session(app) as session:
        before = session.get_one(User, user["id"]).password_hash
    page = browser.submit("/settings/password", changes)
    assert page.status == 422
    assert page.error(control)
    assert "wrong password" not in page.text and "a new long password" not in page.text
    with app.app_context(), new_session(app) as session:
        assert session.get_one(User, user["id"]).password_hash == before
    assert browser.get("/").status == 200


def test_cookies_are_not_secure_on_a_plain_http_deployment(tmp_path: Any, database_url: str
                                                           ) -> None:
    app = create_app(app_config(tmp_path / "i", database_url,
                                 FEEDSVC_BASE_URL="http://intranet.example"))
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert "Secure" not in app.test_client().get("/login").headers["Set-Cookie"]
    get_engine(app).dispose()
