"""The settings page and the API tokens page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpers import Api, Browser, Page, signed_in


@pytest.fixture
def browser(client: FlaskClient, user: dict[str, Any]) -> Browser:
    return signed_in(client, user)


def test_settings_show_the_current_values(browser: Browser) -> None:
    values = browser.get("/settings").values()
    assert values["timezone"] == "UTC"
    assert values["locale"] == "en"
    assert [(values[f"default_alarms.{row}.days_before"], values[f"default_alarms.{row}.at"])
            for row in range(5)] == [("14", "09:00"), ("3", "09:00"), ("0", "09:00"),
                                     ("", ""), ("", "")]


def test_changing_the_settings(browser: Browser, api: Api) -> None:
    page = browser.submit("/settings", {
        "timezone": "Asia/Shanghai", "locale": "zh-Hans",
        "default_alarms.0.days_before": "", "default_alarms.0.at": "",
        "default_alarms.1.days_before": "7", "default_alarms.1.at": "20:00",
        "default_alarms.3.days_before": "1",
    })
    assert page.status == 302 and page.response.location == "/settings"
    assert "Settings saved." in browser.get("/settings").flashes()
    assert api.get("/api/v1/me").json == {
        "email": "user@example.com", "timezone": "Asia/Shanghai", "locale": "zh-Hans",
        "default_alarms": [{"days_before": 7, "at": "20:00"}, {"days_before": 1, "at": "09:00"},
                           {"days_before": 0, "at": "09:00"}],
    }


def test_emptying_every_alarm_row_means_no_default_alarms(browser: Browser, api: Api) -> None:
    cleared = {f"default_alarms.{row}.{part}": "" for row in range(5)
               for part in ("days_before", "at")}
    assert browser.submit("/settings", cleared).status == 302
    assert api.get("/api/v1/me").json["default_alarms"] == []


@pytest.mark.parametrize("changes, control, message", [
    ({"timezone": "Mars/Olympus_Mons"}, "timezone", "must be an IANA time zone name"),
    ({"locale": "fr"}, "locale", "Input should be 'en' or 'zh-Hans'"),
    ({"default_alarms.2.days_before": "366"}, "default_alarms.2.days_before",
     "less than or equal to 365"),
    ({"default_alarms.4.at": "25:00", "default_alarms.4.days_before": "1"},
     "default_alarms.4.at", "must be a time written HH:MM"),
    ({"default_alarms.3.at": "10:00"}, "default_alarms.3.days_before", "is required"),
], ids=["zone", "locale", "days", "time", "days-missing"])
def test_bad_settings_answer_422_next_to_the_field_and_change_nothing(
    browser: Browser, api: Api, changes: dict[str, str], control: str, message: str
) -> None:
    before = api.get("/api/v1/me").json
    page = browser.submit("/settings", changes)
    assert page.status == 422
    assert message in (page.error(control) or ""), page.text
    assert page.control(control)["aria-invalid"] == "true"
    for name, value in changes.items():
        assert page.values()[name] == value
    assert api.get("/api/v1/me").json == before


def test_duplicate_default_alarms_are_refused_at_the_alarm_rows(browser: Browser) -> None:
    page = browser.submit("/settings", {"default_alarms.1.days_before": "14"})
    assert page.status == 422
    assert "has the same alarm twice" in (page.error("default_alarms") or "")


def token_rows(page: Page) -> list[tuple[str, str]]:
    return re.findall(r'class="token-name">(.*?)</strong>.*?<code>(.*?)…</code>', page.text,
                      re.DOTALL)


def test_a_new_token_is_shown_once_and_works_on_the_api(
    browser: Browser, client: FlaskClient
) -> None:
    page = browser.submit("/tokens", {"name": "backup script"}, action="/tokens")
    assert page.status == 201
    assert page.response.headers["Cache-Control"] == "no-store"
    secret = page.texts["new-token"]
    assert secret.startswith("fs_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json["email"] == "user@example.com"
    again = browser.get("/tokens")
    assert secret not in again.text
    assert ("backup script", secret[:10]) in token_rows(again)
    with client.session_transaction() as session:
        assert secret not in repr(dict(session)), "the secret never goes into the session"


def test_revoking_a_token_stops_it_on_the_api(
    browser: Browser, client: FlaskClient, user: dict[str, Any]
) -> None:
    created = browser.submit("/tokens", {"name": "short-lived"}, action="/tokens")
    secret = created.texts["new-token"]
    page = browser.get("/tokens")
    revoke_forms = [form.action for form in page.forms if form.action.endswith("/revoke")]
    assert len(revoke_forms) == 2, "the fixture's token and the new one"
    newest = revoke_forms[0]  # newest first
    assert browser.submit("/tokens", action=newest).status == 302
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {user['token']}"}).status_code == 200, "the other still works"
    assert "The token was revoked." in browser.get("/tokens").flashes()
    assert [name for name, _prefix in token_rows(browser.get("/tokens"))] == ["tests"]


def test_a_token_needs_a_one_line_name(browser: Browser) -> None:
    page = browser.submit("/tokens", {"name": "two\nlines"}, action="/tokens")
    assert page.status == 422
    assert "must be one line" in (page.error("name") or "")
    assert page.values("/tokens")["name"] == "two\nlines"
    assert len(token_rows(browser.get("/tokens"))) == 1


def test_another_users_token_cannot_be_revoked(
    app: Flask, browser: Browser, other_user: dict[str, Any], client: FlaskClient
) -> None:
    page = browser.get("/tokens")
    [mine] = [form.action for form in page.forms if form.action.endswith("/revoke")]
    stranger = signed_in(app.test_client(), other_user)
    answer = Page(stranger.client.post(mine, data={"csrf_token": stranger.csrf_token()}))
    assert answer.status == 404
    assert len(token_rows(browser.get("/tokens"))) == 1
