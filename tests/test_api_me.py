"""GET and PATCH /api/v1/me: the account's settings."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpers import Api, make_user

ME = "/api/v1/me"
DEFAULT_ALARMS = [{"days_before": 14, "at": "09:00"}, {"days_before": 3, "at": "09:00"},
                  {"days_before": 0, "at": "09:00"}]


def test_me_shape_for_a_new_account(api: Api, user: dict[str, Any]) -> None:
    response = api.get(ME)
    assert response.status_code == 200
    assert response.json == {"email": user["email"], "timezone": "UTC", "locale": "en",
                             "default_alarms": DEFAULT_ALARMS}


def test_me_shows_the_settings_the_account_was_made_with(app: Flask, client: FlaskClient) -> None:
    made = make_user(app, "Mixed.Case@Example.com", timezone="Asia/Shanghai", locale="zh-Hans")
    response = Api(client, made["token"]).get(ME)
    assert response.json == {"email": "mixed.case@example.com", "timezone": "Asia/Shanghai",
                             "locale": "zh-Hans", "default_alarms": DEFAULT_ALARMS}


@pytest.mark.parametrize(
    "changes",
    [
        {"timezone": "Europe/Moscow"},
        {"timezone": "Pacific/Kiritimati"},
        {"timezone": "America/Argentina/Buenos_Aires"},
        {"timezone": "UTC"},
        {"locale": "zh-Hans"},
        {"locale": "en"},
        {"default_alarms": [{"days_before": 7, "at": "20:00"}]},
        {"default_alarms": []},
        {"default_alarms": [{"days_before": d, "at": "09:00"} for d in range(9, -1, -1)]},
        {"timezone": "Asia/Hong_Kong", "locale": "zh-Hans",
         "default_alarms": [{"days_before": 30, "at": "08:30"}]},
        {},
    ],
)
def test_patch_me_changes_only_given_settings(api: Api, changes: dict[str, Any]) -> None:
    before = api.get(ME).json
    response = api.patch(ME, json=changes)
    assert response.status_code == 200, response.json
    assert response.json == {**before, **changes}
    assert api.get(ME).json == {**before, **changes}


def test_patch_me_sorts_alarms_and_fills_in_the_time(api: Api) -> None:
    response = api.patch(ME, json={"default_alarms": [{"days_before": 0}, {"days_before": 30}]})
    assert response.status_code == 200
    assert response.json["default_alarms"] == [{"days_before": 30, "at": "09:00"},
                                               {"days_before": 0, "at": "09:00"}]


def test_empty_default_alarms_mean_none(api: Api) -> None:
    assert api.patch(ME, json={"default_alarms": []}).json["default_alarms"] == []
    item = api.post("/api/v1/items", json={"title": "x", "due_date": "2999-01-01"}).json
    assert item["alarms"] is None
    assert item["status"] == "ok"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"timezone": None}, "timezone"),
        ({"locale": None}, "locale"),
        ({"default_alarms": None}, "default_alarms"),
        ({"email": "x@example.com"}, "email"),
        ({"id": 1}, "id"),
        ({"bogus": True}, "bogus"),
        ({"timezone": "Europe/Moscow", "bogus": True}, "bogus"),
    ],
)
def test_patch_me_refuses_null_and_unknown_fields(api: Api, changes: dict[str, Any],
                                                 field: str) -> None:
    before = api.get(ME).json
    response = api.patch(ME, json=changes)
    assert response.status_code == 422
    assert response.json["error"]["status"] == 422
    assert field in response.json["error"]["fields"]
    assert api.get(ME).json == before


def test_patch_me_changes_only_the_callers_account(api: Api, other_api: Api) -> None:
    before = other_api.get(ME).json
    assert api.patch(ME, json={"timezone": "Asia/Tokyo"}).status_code == 200
    assert other_api.get(ME).json == before
