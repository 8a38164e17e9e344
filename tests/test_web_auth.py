"""Sign up, log in and log out through the web pages."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedsvc.db import new_session
from feedsvc.models import Feed, User

from helpers import PASSWORD, Browser, Page, signed_in

NEW_PASSWORD = "a long enough password"


@pytest.fixture
def browser(client: FlaskClient, user: dict[str, Any]) -> Browser:
    return signed_in(client, user)


def sign_up(browser: Browser, **changes: str | None) -> Page:
    fields = {"email": "new@example.com", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
              "timezone": "Europe/Moscow", "locale": "en"}
    return browser.submit("/signup", {**fields, **changes})


def stored_users(app: Flask) -> list[User]:
    with app.app_context(), new_session(app) as session:
        return list(session.scalars(select(User)))


def test_signup_form_proposes_utc_for_the_browser_to_replace_and_the_browsers_language(
    client: FlaskClient,
) -> None:
    page = Browser(client).get("/signup", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert page.status == 200
    assert page.values()["timezone"] == "UTC"
    assert page.values()["locale"] == "zh-Hans"
    assert "data-detect-timezone" in page.control("timezone")
    assert 'src="/static/app.js" defer' in page.text
    assert "<script>" not in page.text, "no inline scripts"
    english = Browser(client).get("/signup", headers={"Accept-Language": "fr, en-GB;q=0.5"})
    assert english.values()["locale"] == "en"


def test_signup_creates_the_account_with_its_feed_then_asks_to_log_in(
    app: Flask, client: FlaskClient
) -> None:
    browser = Browser(client)
    page = sign_up(browser, email="New@Example.com")
    assert page.status == 302
    assert page.response.location == "/login"
    assert browser.get("/").status == 302, "not logged in yet"
    assert browser.submit("/login", {"email": "new@example.com",
                                     "password": NEW_PASSWORD}).status == 302
    assert browser.get("/").status == 200, "logged in"
    with app.app_context(), new_session(app) as session:
        user = session.scalars(select(User)).one()
        assert (user.email, user.timezone, user.locale) == ("new@example.com", "Europe/Moscow",
                                                           "en")
        assert session.scalar(select(func.count()).select_from(Feed)
                              .where(Feed.user_id == user.id)) == 1


def test_signup_with_a_registered_email_says_nothing_of_it_and_changes_nothing(
    app: Flask, client: FlaskClient, user: dict[str, Any]
) -> None:
    before = [(u.email, u.password_hash, u.timezone) for u in stored_users(app)]
    page = sign_up(Browser(client), email="USER@example.com", timezone="Asia/Shanghai")
    assert page.status == 302
    assert page.response.location == "/login"
    assert [(u.email, u.password_hash, u.timezone) for u in stored_users(app)] == before


@pytest.mark.parametrize("changes, control, message", [
    ({"email": "not-an-address"}, "email", "must be an e-mail address"),
    ({"email": "a\x00b@example.com"}, "email", "must be an e-mail address"),
    ({"password": "short", "confirm": "short"}, "password", "at least 8 characters"),
    ({"confirm": "something else entirely"}, "confirm", "does not match the password"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone", "must be a time zone from the list"),
    ({"locale": "tlh"}, "locale", "must be a language from the list"),
], ids=["bad-email", "nul-in-email", "short-password", "mismatch", "unknown-zone", "locale"])
def test_signup_with_bad_input_answers_422_next_to_the_field_and_keeps_the_input(
    app: Flask, client: FlaskClient, changes: dict[str, str], control: str, message: str
) -> None:
    page = sign_up(Browser(client), **changes)
    assert page.status == 422
    assert message in (page.error(control) or "")
    assert page.control(control).get("aria-invalid") == "true"
    assert f"f-{control}-error" in page.control(control)["aria-describedby"]
    kept = page.values()
    for name in ("email", "timezone", "locale"):
        assert kept[name] == changes.get(name, {"email": "new@example.com",
                                                "timezone": "Europe/Moscow",
                                                "locale": "en"}[name])
    assert kept["password"] == "" and kept["confirm"] == "", "passwords are never sent back"
    assert stored_users(app) == []


def test_signup_reports_every_bad_field_at_once(client: FlaskClient) -> None:
    page = sign_up(Browser(client), email="nope", password="short", confirm="other")
    assert page.status == 422
    assert page.error("email") and page.error("password") and page.error("confirm")


def test_login_with_the_right_password_goes_to_the_items(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    browser = Browser(client)
    assert browser.get("/").response.location == "/login?next=%2F"
    page = browser.log_in("USER@example.com", PASSWORD)
    assert page.status == 302 and page.response.location == "/"
    assert "Your items" in browser.get("/").text


def test_login_starts_a_fresh_session(client: FlaskClient, user: dict[str, Any]) -> None:
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    Browser(client).log_in(user["email"], PASSWORD)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert "_user_id" in session


def test_login_failure_looks_the_same_for_a_wrong_password_and_an_unknown_email(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    def attempt(email: str, password: str) -> tuple[int, str]:
        page = Browser(client).log_in(email, password)
        body = page.text.replace(email, "EMAIL").replace(page.values()["csrf_token"], "TOKEN")
        return page.status, body

    wrong_password = attempt(user["email"], "not the password")
    unknown_email = attempt("nobody@example.com", PASSWORD)
    control_character = attempt("nobody\x00@example.com", PASSWORD)
    assert wrong_password[0] == unknown_email[0] == control_character[0] == 422
    assert "The e-mail address or the password is not correct." in wrong_password[1]
    assert wrong_password[1] == unknown_email[1] == control_character[1]
    assert Browser(client).get("/").status == 302, "still logged out"


def test_login_keeps_the_email_but_never_the_password(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    page = Browser(client).log_in(user["email"], "not the password")
    assert page.values()["email"] == user["email"]
    assert page.values()["password"] == ""
    assert "not the password" not in page.text


@pytest.mark.parametrize("target, expected", [
    ("/settings", "/settings"),
    ("//evil.example/", "/"),
    ("https://evil.example/", "/"),
    ("/\\evil.example", "/"),
])
def test_login_returns_to_the_page_asked_for_on_this_site_only(
    client: FlaskClient, user: dict[str, Any], target: str, expected: str
) -> None:
    browser = Browser(client)
    page = browser.submit(f"/login?next={target}", {"email": user["email"], "password": PASSWORD})
    assert page.status == 302
    assert page.response.location == expected


def test_logout_needs_a_post_with_the_csrf_token(browser: Browser) -> None:
    assert browser.get("/logout").status == 405
    assert Page(browser.client.post("/logout")).status == 400
    assert browser.get("/").status == 200, "still logged in"
    page = browser.submit("/", action="/logout")
    assert page.status == 302 and page.response.location == "/login"
    assert "You are logged out." in browser.get("/login").text
    assert browser.get("/").status == 302


def test_anonymous_visitors_are_sent_to_the_login_page(client: FlaskClient) -> None:
    browser = Browser(client)
    for path in ("/", "/archived", "/items/new", "/items/1", "/items/1/delete", "/settings",
                 "/tokens"):
        page = browser.get(path)
        assert page.status == 302, path
        assert page.response.location.startswith("/login?next="), path


def test_signed_in_visitors_skip_the_login_and_signup_pages(browser: Browser) -> None:
    assert browser.get("/login").response.location == "/"
    assert browser.get("/signup").response.location == "/"
