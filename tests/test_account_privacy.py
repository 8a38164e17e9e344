"""Sign-up tells nobody which addresses have accounts; current-password checks are throttled."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from feedsvc import accounts
from feedsvc.db import new_session
from feedsvc.limits import PASSWORD_CHECK_LIMIT
from feedsvc.models import User

from helpers import PASSWORD, signed_in

NEW_PASSWORD = "a brand new password"


def sign_up(app: Flask, email: str, password: str = "another password 1") -> Any:
    return app.test_client().post("/signup", data={
        "email": email, "password": password, "confirm": password, "timezone": "UTC",
        "locale": "en"})


def accounts_named(app: Flask, email: str) -> int:
    with app.app_context(), new_session(app) as session:
        return int(session.scalar(select(func.count()).select_from(User)
                                  .where(User.email == email.lower())) or 0)


@pytest.fixture
def no_csrf(app: Flask) -> Flask:
    app.config["WTF_CSRF_ENABLED"] = False
    return app


@pytest.mark.parametrize("taken", ["user@example.com", "USER@Example.com", " user@example.com"])
def test_a_taken_address_gets_the_same_answer_as_a_new_one(
        no_csrf: Flask, user: dict[str, Any], taken: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[str] = []
    real = accounts.generate_password_hash
    monkeypatch.setattr(accounts, "generate_password_hash",
                        lambda password, **kw: hashed.append(password) or real(password, **kw))
    answers = []
    for email, password in (("fresh@example.com", "another password 1"),
                            (taken, "an attacker's password")):
        client = no_csrf.test_client()
        response = client.post("/signup", data={
            "email": email, "password": password, "confirm": password, "timezone": "UTC",
            "locale": "en"})
        # Neither is logged in: the account's pages send both to the log-in form.
        answers.append((response.status_code, response.headers["Location"],
                        sorted(response.headers.keys()),
                        client.get("/calendars").headers["Location"]))
    assert answers[0] == answers[1] == (
        302, "/login", answers[0][2], "/login?next=%2Fcalendars")
    # Both cost one password hash, so the time taken tells nothing either.
    assert hashed == ["another password 1", "an attacker's password"]
    assert accounts_named(no_csrf, "fresh@example.com") == 1
    assert accounts_named(no_csrf, "user@example.com") == 1


def test_both_answers_lead_to_the_same_message(no_csrf: Flask, user: dict[str, Any]) -> None:
    texts = []
    for email in ("fresh@example.com", user["email"]):
        client = no_csrf.test_client()
        client.post("/signup", data={"email": email, "password": "another password 1",
                                     "confirm": "another password 1", "timezone": "UTC",
                                     "locale": "en"})
        page = client.get("/login").get_data(as_text=True)
        # The only difference allowed: each page's own CSRF token.
        texts.append(re.sub(r'name="csrf_token" value="[^"]*"', "", page))
    assert "Your account is ready: log in with your e-mail address and password." in texts[0]
    assert texts[0] == texts[1]


def test_the_owner_of_a_taken_address_keeps_their_password(no_csrf: Flask,
                                                           user: dict[str, Any]) -> None:
    sign_up(no_csrf, user["email"], "an attacker's password")
    client = no_csrf.test_client()
    stolen = client.post("/login", data={"email": user["email"],
                                         "password": "an attacker's password"})
    assert stolen.status_code == 422
    assert client.post("/login", data={"email": user["email"],
                                       "password": PASSWORD}).status_code == 302


def test_a_new_account_logs_in_with_what_it_chose(no_csrf: Flask) -> None:
    assert sign_up(no_csrf, "fresh@example.com").status_code == 302
    client = no_csrf.test_client()
    response = client.post("/login", data={"email": "fresh@example.com",
                                           "password": "another password 1"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/calendars").status_code == 200


def limit_count() -> int:
    return int(PASSWORD_CHECK_LIMIT.split()[0])


@pytest.mark.parametrize(("path", "field", "extra"), [
    ("/settings/password", "current_password",
     {"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
    ("/settings/delete", "password", {}),
])
def test_wrong_current_passwords_are_throttled_per_account(
        no_csrf: Flask, user: dict[str, Any], other_user: dict[str, Any], path: str,
        field: str, extra: dict[str, str]) -> None:
    browser = signed_in(no_csrf.test_client(), user)
    statuses = [browser.client.post(path, data={field: "wrong guess", **extra}).status_code
                for _ in range(limit_count() + 2)]
    assert statuses == [422] * limit_count() + [429, 429]
    # The right password is held back too, until the hour is over.
    refused = browser.client.post(path, data={field: PASSWORD, **extra})
    assert refused.status_code == 429
    assert "Too many wrong passwords" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    # Another account is not held back.
    other = signed_in(no_csrf.test_client(), other_user)
    assert other.client.post(path, data={field: "wrong guess", **extra}).status_code == 422


def test_both_forms_share_one_count(no_csrf: Flask, user: dict[str, Any]) -> None:
    browser = signed_in(no_csrf.test_client(), user)
    half = limit_count() // 2
    for _ in range(half):
        browser.client.post("/settings/delete", data={"password": "wrong"})
    for _ in range(limit_count() - half):
        browser.client.post("/settings/password", data={
            "current_password": "wrong", "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert browser.client.post("/settings/delete", data={"password": "wrong"}
                               ).status_code == 429


def test_only_wrong_passwords_count(no_csrf: Flask, user: dict[str, Any]) -> None:
    browser = signed_in(no_csrf.test_client(), user)
    # Mistyped confirmations and too-short new passwords are not guesses.
    for _ in range(limit_count() + 1):
        response = browser.client.post("/settings/password", data={
            "current_password": PASSWORD, "new_password": "short", "confirm": "short"})
        assert response.status_code == 422
        response = browser.client.post("/settings/password", data={
            "current_password": "wrong", "new_password": NEW_PASSWORD, "confirm": "differs"})
        assert response.status_code == 422
    changed = browser.client.post("/settings/password", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert changed.status_code == 302
