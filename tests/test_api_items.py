"""The items API behaves as the specification's table says: every field, every rule."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc import accounts
from feedsvc.db import new_session
from feedsvc.status import today_in

from helpers import VALID_ITEM, Api, make_user

ITEMS = "/api/v1/items"
UTC_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
COMPUTED = {"id", "status", "days_left", "created_at", "updated_at"}

FULL_ITEM: dict[str, Any] = {
    "title": "Beeline 保号卡",
    "category": "subscription",
    "provider": "Beeline",
    "carrier": "tele2-ru",
    "phone_number": "+7 903 000 12 34",
    "country": "RU",
    "due_date": "2028-01-31",
    "repeat": {"every": 180, "unit": "day", "from": "renewal"},
    "grace_days": 0,
    "alarms": [{"days_before": 30, "at": "20:15"}, {"days_before": 1, "at": "07:05"}],
    "price": {"amount": "12.50", "currency": "EUR"},
    "bound_services": ["WeChat", "Сбербанк", "Alipay"],
    "notes": "Line one.\nLine two:\ttabbed.\n\n充值后检查余额。",
    "url": "https://moskva.beeline.ru/customers/products/?a=1&b=2#top",
    "auto_renew": True,
    "archived": False,
}


def create(api: Api, **fields: Any) -> dict[str, Any]:
    """Create an item from VALID_ITEM with the given changes, and return it."""
    response = api.post(ITEMS, json={**VALID_ITEM, **fields})
    assert response.status_code == 201, response.json
    return response.json


def titles(api: Api, query: str = "") -> list[str]:
    response = api.get(ITEMS + query)
    assert response.status_code == 200, response.json
    return [item["title"] for item in response.json["items"]]


def in_days(timezone: str, days: int) -> str:
    return (today_in(timezone) + dt.timedelta(days=days)).isoformat()


# Creating and reading back


def test_every_field_round_trips(api: Api) -> None:
    response = api.post(ITEMS, json=FULL_ITEM)
    assert response.status_code == 201
    assert response.headers["Location"] == f"{ITEMS}/{response.json['id']}"
    read = api.get(f"{ITEMS}/{response.json['id']}").json
    assert read == response.json
    assert {key: read[key] for key in FULL_ITEM} == FULL_ITEM
    assert set(read) == set(FULL_ITEM) | COMPUTED


@pytest.mark.parametrize(
    "field, value",
    [
        ("repeat", {"every": 1, "unit": "year", "from": "schedule"}),
        ("repeat", {"every": 1000, "unit": "week", "from": "renewal"}),
        ("repeat", None),
        ("price", {"amount": "12.50", "currency": "HKD"}),
        ("price", {"amount": "0", "currency": "RUB"}),
        ("price", {"amount": "999999999999.9999", "currency": "EUR"}),
        ("price", None),
        ("grace_days", 365),
        ("grace_days", None),
        ("alarms", []),
        ("alarms", None),
        ("alarms", [{"days_before": 365, "at": "23:59"}, {"days_before": 0, "at": "00:00"}]),
        ("bound_services", []),
        ("notes", ""),
        ("notes", "a\n" * 2500),
        ("title", "x" * 200),
        ("title", "Orange Monaco — 摩纳哥 🇲🇨"),
        ("provider", "p" * 100),
        ("phone_number", "+" + "1" * 39),
        ("url", "http://example.com"),
        ("url", "https://例子.测试/续费"),
        ("country", "HK"),
        ("country", "ME"),
        ("category", "domain"),
        ("category", "other"),
        ("archived", True),
        ("due_date", "2028-02-29"),
    ],
)
def test_field_value_round_trips(api: Api, field: str, value: Any) -> None:
    created = create(api, **{field: value})
    assert created[field] == value
    assert api.get(f"{ITEMS}/{created['id']}").json[field] == value


@pytest.mark.parametrize(
    "field, given, stored",
    [
        ("alarms", [{"days_before": 0}, {"days_before": 14}, {"days_before": 3, "at": "08:00"}],
         [{"days_before": 14, "at": "09:00"}, {"days_before": 3, "at": "08:00"},
          {"days_before": 0, "at": "09:00"}]),
        ("alarms", [{"days_before": 1, "at": "18:00"}, {"days_before": 1, "at": "09:00"}],
         [{"days_before": 1, "at": "09:00"}, {"days_before": 1, "at": "18:00"}]),
        ("repeat", {"unit": "month"}, {"every": 1, "unit": "month", "from": "schedule"}),
        ("title", "  MTS Russia  ", "MTS Russia"),
        ("country", "hk", "HK"),
        ("price", {"amount": "5", "currency": "eur"}, {"amount": "5", "currency": "EUR"}),
        ("notes", "one\r\ntwo\rthree", "one\ntwo\nthree"),
        ("provider", "", None),
        ("phone_number", "", None),
        ("url", "", None),
        ("bound_services", [" Telegram "], ["Telegram"]),
    ],
)
def test_input_is_normalised(api: Api, field: str, given: Any, stored: Any) -> None:
    created = create(api, **{field: given})
    assert created[field] == stored
    assert api.get(f"{ITEMS}/{created['id']}").json[field] == stored


def test_defaults_for_optional_fields(api: Api) -> None:
    response = api.post(ITEMS, json={"title": "TNT eSIM", "due_date": "2027-05-01"})
    assert response.status_code == 201
    item = response.json
    assert {key: item[key] for key in FULL_ITEM} == {
        "title": "TNT eSIM",
        "category": "sim",
        "provider": None,
        "carrier": None,
        "phone_number": None,
        "country": None,
        "due_date": "2027-05-01",
        "repeat": None,
        "grace_days": None,
        "alarms": None,
        "price": None,
        "bound_services": [],
        "notes": "",
        "url": None,
        "auto_renew": False,
        "archived": False,
    }


def test_timestamps_are_utc_iso_8601_with_z(api: Api, item: dict[str, Any]) -> None:
    assert UTC_STAMP.match(item["created_at"]), item["created_at"]
    assert UTC_STAMP.match(item["updated_at"]), item["updated_at"]
    assert item["created_at"] == item["updated_at"]
    created = dt.datetime.fromisoformat(item["created_at"])
    assert abs(dt.datetime.now(dt.UTC) - created) < dt.timedelta(minutes=5)


# Listing


def test_list_is_sorted_by_due_date_then_id(api: Api) -> None:
    for title, due in [("c", "2027-03-01"), ("a", "2027-01-01"), ("d", "2027-03-01"),
                       ("b", "2027-02-01"), ("e", "2026-12-31")]:
        create(api, title=title, due_date=due)
    assert titles(api) == ["e", "a", "b", "c", "d"]
    ids = [item["id"] for item in api.get(ITEMS).json["items"]]
    assert ids[3] < ids[4]


def test_list_is_empty_for_a_new_account(api: Api) -> None:
    response = api.get(ITEMS)
    assert response.status_code == 200
    assert response.json == {"items": []}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", ["sim", "domain"]),
        ("?category=sim", ["sim"]),
        ("?category=domain", ["domain"]),
        ("?category=document", []),
        ("?archived=true", ["old sim", "old domain"]),
        ("?archived=1", ["old sim", "old domain"]),
        ("?archived=TRUE", ["old sim", "old domain"]),
        ("?archived=false", ["sim", "domain"]),
        ("?archived=0", ["sim", "domain"]),
        ("?category=domain&archived=true", ["old domain"]),
        ("?category=subscription&archived=true", []),
    ],
)
def test_list_filters(api: Api, query: str, expected: list[str]) -> None:
    create(api, title="sim", category="sim", due_date="2027-01-01")
    create(api, title="domain", category="domain", due_date="2027-02-01")
    create(api, title="old sim", category="sim", due_date="2027-03-01", archived=True)
    create(api, title="old domain", category="domain", due_date="2027-04-01", archived=True)
    assert titles(api, query) == expected


@pytest.mark.parametrize(
    "query, field",
    [("?category=car", "category"), ("?category=", "category"), ("?category=SIM", "category"),
     ("?archived=yes", "archived"), ("?archived=", "archived")],
)
def test_list_refuses_bad_filters(api: Api, query: str, field: str) -> None:
    response = api.get(ITEMS + query)
    assert response.status_code == 422
    assert response.json["error"]["status"] == 422
    assert field in response.json["error"]["fields"]


def test_list_shows_only_own_items(api: Api, other_api: Api) -> None:
    create(api, title="mine")
    create(other_api, title="theirs")
    assert titles(api) == ["mine"]
    assert titles(other_api) == ["theirs"]


# Changing


@pytest.mark.parametrize(
    "changes",
    [
        {"title": "MegaFon"},
        {"due_date": "2030-01-01"},
        {"repeat": None},
        {"repeat": {"every": 1, "unit": "year", "from": "renewal"}},
        {"grace_days": None},
        {"alarms": None},
        {"alarms": []},
        {"price": {"amount": "7.00", "currency": "USD"}},
        {"bound_services": []},
        {"notes": "new\nnotes"},
        {"url": None},
        {"auto_renew": True, "archived": True},
        {"provider": None, "phone_number": None, "country": None},
        {"category": "document"},
    ],
)
def test_patch_changes_only_given_fields(api: Api, item: dict[str, Any],
                                         changes: dict[str, Any]) -> None:
    response = api.patch(f"{ITEMS}/{item['id']}", json=changes)
    assert response.status_code == 200, response.json
    expected = {key: item[key] for key in VALID_ITEM} | changes
    for read in (response.json, api.get(f"{ITEMS}/{item['id']}").json):
        assert {key: read[key] for key in VALID_ITEM} == expected
        assert read["created_at"] == item["created_at"]


def test_patch_moves_updated_at_on_change_only(api: Api, item: dict[str, Any]) -> None:
    same = api.patch(f"{ITEMS}/{item['id']}", json={"title": item["title"], "alarms": [
        {"days_before": 0, "at": "09:00"}, {"days_before": 14, "at": "09:00"}]})
    assert same.status_code == 200
    assert same.json["updated_at"] == item["updated_at"]
    empty = api.patch(f"{ITEMS}/{item['id']}", json={})
    assert empty.status_code == 200
    assert empty.json["updated_at"] == item["updated_at"]
    changed = api.patch(f"{ITEMS}/{item['id']}", json={"notes": "renewed by hand"})
    assert changed.status_code == 200
    assert changed.json["updated_at"] > item["updated_at"]
    assert UTC_STAMP.match(changed.json["updated_at"])
    assert changed.json["created_at"] == item["created_at"]
    assert api.get(f"{ITEMS}/{item['id']}").json["updated_at"] == changed.json["updated_at"]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"id": 99}, "id"),
        ({"status": "ok"}, "status"),
        ({"days_left": 3}, "days_left"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"updated_at": "2020-01-01T00:00:00Z"}, "updated_at"),
        ({"bogus": 1}, "bogus"),
        ({"title": None}, "title"),
        ({"title": ""}, "title"),
        ({"due_date": None}, "due_date"),
        ({"category": None}, "category"),
        ({"bound_services": None}, "bound_services"),
        ({"auto_renew": None}, "auto_renew"),
        ({"title": "ok", "bogus": 1}, "bogus"),
    ],
)
def test_patch_refuses_read_only_unknown_and_null_fields(
    api: Api, item: dict[str, Any], changes: dict[str, Any], field: str
) -> None:
    response = api.patch(f"{ITEMS}/{item['id']}", json=changes)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]
    assert api.get(f"{ITEMS}/{item['id']}").json == item


# Deleting


def test_delete_then_404(api: Api, item: dict[str, Any]) -> None:
    path = f"{ITEMS}/{item['id']}"
    response = api.delete(path)
    assert response.status_code == 204
    assert response.data == b""
    for again in (api.get(path), api.patch(path, json={"title": "x"}), api.delete(path)):
        assert again.status_code == 404
        assert again.json["error"]["status"] == 404
    assert titles(api) == []


@pytest.mark.parametrize("item_id", ["0", "999999", "2147483648", "9223372036854775808",
                                     "1" + "0" * 40])
def test_missing_item_is_404(api: Api, item_id: str) -> None:
    for response in (api.get(f"{ITEMS}/{item_id}"),
                     api.patch(f"{ITEMS}/{item_id}", json={"title": "x"}),
                     api.delete(f"{ITEMS}/{item_id}")):
        assert response.status_code == 404
        assert response.json["error"]["status"] == 404


# Other people's items


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_users_item_is_404_and_untouched(
    api: Api, other_api: Api, item: dict[str, Any], method: str
) -> None:
    path = f"{ITEMS}/{item['id']}"
    response = getattr(other_api, method)(path, **({"json": {"title": "mine now"}}
                                                   if method == "patch" else {}))
    assert response.status_code == 404
    assert response.json["error"]["status"] == 404
    assert api.get(path).json == item


# Authentication


def revoke_all_tokens(app: Flask, email: str) -> None:
    with app.app_context(), new_session(app) as session:
        owner = accounts.user_by_email(session, email)
        for token in accounts.list_api_tokens(session, owner):
            accounts.revoke_api_token(session, owner, token.id)
        session.commit()


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token {token}",
        "{token}",
        "Bearer fs_unknown",
        "Bearer {token}x",
        "Bearer " + "fs_" + "a" * 200,
        "Bearer not-even-prefixed",
    ],
)
@pytest.mark.parametrize("method, path", [("get", ITEMS), ("post", ITEMS), ("get", "/api/v1/me"),
                                          ("patch", "/api/v1/me")])
def test_bad_or_missing_token_is_401(
    client: FlaskClient, user: dict[str, Any], authorization: str | None, method: str, path: str
) -> None:
    headers = {} if authorization is None else {
        "Authorization": authorization.format(token=user["token"])}
    response = getattr(client, method)(path, headers=headers, json=VALID_ITEM)
    assert response.status_code == 401
    assert response.json["error"]["status"] == 401
    assert response.json["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_bearer_scheme_is_case_insensitive(client: FlaskClient, user: dict[str, Any]) -> None:
    response = client.get(ITEMS, headers={"Authorization": f"bearer {user['token']}"})
    assert response.status_code == 200


def test_revoked_token_is_401(app: Flask, api: Api, user: dict[str, Any],
                              item: dict[str, Any]) -> None:
    revoke_all_tokens(app, user["email"])
    for response in (api.get(ITEMS), api.get(f"{ITEMS}/{item['id']}"),
                     api.delete(f"{ITEMS}/{item['id']}")):
        assert response.status_code == 401
        assert response.json["error"]["status"] == 401


def test_item_of_unauthenticated_request_is_untouched(
    client: FlaskClient, api: Api, item: dict[str, Any]
) -> None:
    path = f"{ITEMS}/{item['id']}"
    assert client.delete(path).status_code == 401
    assert client.patch(path, json={"title": "x"}).status_code == 401
    assert api.get(path).json == item


# Status and days left, in the user's time zone


@pytest.mark.parametrize(
    "days, grace_days, alarms, status",
    [
        (30, None, None, "ok"),
        (15, None, None, "ok"),
        (14, None, None, "due_soon"),
        (1, None, [], "ok"),
        (0, None, [], "due_soon"),
        (0, 5, None, "due_soon"),
        (31, None, [{"days_before": 31}], "due_soon"),
        (32, None, [{"days_before": 31}, {"days_before": 1}], "ok"),
        (-1, None, None, "overdue"),
        (-400, None, None, "overdue"),
        (-1, 0, None, "lapsed"),
        (-1, 1, None, "in_grace"),
        (-30, 30, None, "in_grace"),
        (-31, 30, None, "lapsed"),
    ],
)
def test_status_and_days_left(app: Flask, client: FlaskClient, days: int, grace_days: int | None,
                              alarms: list[dict[str, Any]] | None, status: str) -> None:
    zone = "Asia/Shanghai"
    owner = Api(client, make_user(app, "zone@example.com", timezone=zone)["token"])
    created = create(owner, due_date=in_days(zone, days), grace_days=grace_days, alarms=alarms)
    assert (created["status"], created["days_left"]) == (status, days)
    listed = owner.get(ITEMS).json["items"][0]
    assert (listed["status"], listed["days_left"]) == (status, days)


def test_default_alarms_of_the_user_decide_due_soon(app: Flask, client: FlaskClient) -> None:
    owner = Api(client, make_user(app, "defaults@example.com")["token"])
    created = create(owner, due_date=in_days("UTC", 20), alarms=None)
    assert created["status"] == "ok"
    response = owner.patch("/api/v1/me", json={"default_alarms": [{"days_before": 20}]})
    assert response.status_code == 200
    assert owner.get(f"{ITEMS}/{created['id']}").json["status"] == "due_soon"


def test_days_left_follow_each_users_time_zone(app: Flask, client: FlaskClient) -> None:
    # UTC+14 and UTC-11 are 25 hours apart: their dates always differ, by one or two days.
    east = Api(client, make_user(app, "east@example.com", timezone="Pacific/Kiritimati")["token"])
    west = Api(client, make_user(app, "west@example.com", timezone="Pacific/Pago_Pago")["token"])
    due = today_in("Pacific/Kiritimati").isoformat()
    east_item = create(east, due_date=due, grace_days=None, alarms=[])
    west_item = create(west, due_date=due, grace_days=None, alarms=[])
    gap = (today_in("Pacific/Kiritimati") - today_in("Pacific/Pago_Pago")).days
    assert gap in (1, 2)
    assert (east_item["days_left"], east_item["status"]) == (0, "due_soon")
    assert (west_item["days_left"], west_item["status"]) == (gap, "ok")
    overdue = create(west, due_date=today_in("Pacific/Pago_Pago").isoformat(), alarms=[])
    assert overdue["days_left"] == 0
    east_late = create(east, due_date=today_in("Pacific/Pago_Pago").isoformat(),
                       grace_days=None, alarms=[])
    assert (east_late["days_left"], east_late["status"]) == (-gap, "overdue")


def test_status_follows_a_time_zone_change(api: Api) -> None:
    due = today_in("Pacific/Kiritimati").isoformat()
    assert api.patch("/api/v1/me", json={"timezone": "Pacific/Kiritimati"}).status_code == 200
    created = create(api, due_date=due, alarms=[], grace_days=None)
    assert created["days_left"] == 0
    assert api.patch("/api/v1/me", json={"timezone": "Pacific/Pago_Pago"}).status_code == 200
    assert api.get(f"{ITEMS}/{created['id']}").json["days_left"] > 0
