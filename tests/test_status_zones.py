"""Status and days left follow "today" in the user's time zone, at every boundary."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feedsvc import status
from feedsvc.status import item_status, today_in

from helpers import VALID_ITEM, Api, make_user

DUE = dt.date(2027, 3, 31)
ZONES = ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Shanghai", "Europe/Moscow",
         "America/New_York"]
# Local times just after midnight and just before the next one: the first and last
# instants of a local day, which are another date in UTC for most of these zones.
EDGES = [dt.time(0, 0, 30), dt.time(23, 59, 30)]
TWO_ALARMS = [{"days_before": 7, "at": "09:00"}, {"days_before": 0, "at": "09:00"}]


def instant(zone: str, day: dt.date, at: dt.time) -> dt.datetime:
    """The UTC instant when the clock in ``zone`` shows ``day`` at ``at``."""
    return dt.datetime.combine(day, at, tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


def set_clock(monkeypatch: pytest.MonkeyPatch, now: dt.datetime) -> None:
    monkeypatch.setattr(status, "utc_now", lambda: now)


# (days after the due date, grace_days, item alarms, status)
BOUNDARIES = [
    pytest.param(-8, None, TWO_ALARMS, "ok", id="last-ok-day"),
    pytest.param(-7, None, TWO_ALARMS, "due_soon", id="first-due-soon-day"),
    pytest.param(0, None, TWO_ALARMS, "due_soon", id="due-day"),
    pytest.param(1, None, TWO_ALARMS, "overdue", id="first-overdue-day"),
    pytest.param(400, None, TWO_ALARMS, "overdue", id="long-overdue"),
    pytest.param(-1, 5, [], "ok", id="no-alarms-day-before"),
    pytest.param(0, 5, [], "due_soon", id="no-alarms-due-day"),
    pytest.param(1, 5, TWO_ALARMS, "in_grace", id="first-in-grace-day"),
    pytest.param(5, 5, TWO_ALARMS, "in_grace", id="last-in-grace-day"),
    pytest.param(6, 5, TWO_ALARMS, "lapsed", id="first-lapsed-day"),
    pytest.param(0, 0, TWO_ALARMS, "due_soon", id="grace-0-due-day"),
    pytest.param(1, 0, TWO_ALARMS, "lapsed", id="grace-0-day-after"),
    # alarms None: the user's default alarms (14 days is the largest).
    pytest.param(-15, None, None, "ok", id="defaults-last-ok-day"),
    pytest.param(-14, None, None, "due_soon", id="defaults-first-due-soon-day"),
]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("offset, grace_days, alarms, expected", BOUNDARIES)
def test_item_status_on_the_users_local_date(zone: str, offset: int, grace_days: int | None,
                                             alarms: list[dict[str, Any]] | None,
                                             expected: str) -> None:
    effective = status_alarms(alarms)
    for at in EDGES:
        today = today_in(zone, instant(zone, DUE + dt.timedelta(days=offset), at))
        assert today == DUE + dt.timedelta(days=offset)
        assert item_status(DUE, grace_days, effective, today) == expected


def status_alarms(alarms: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [{"days_before": 14, "at": "09:00"}, {"days_before": 3, "at": "09:00"},
            {"days_before": 0, "at": "09:00"}] if alarms is None else alarms


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("offset, grace_days, alarms, expected", BOUNDARIES)
def test_api_status_and_days_left_on_the_users_local_date(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, zone: str, offset: int,
    grace_days: int | None, alarms: list[dict[str, Any]] | None, expected: str,
) -> None:
    api = Api(client, make_user(app, timezone=zone)["token"])
    response = api.post("/api/v1/items", json={**VALID_ITEM, "due_date": DUE.isoformat(),
                                               "grace_days": grace_days, "alarms": alarms})
    assert response.status_code == 201, response.json
    item_id = response.json["id"]
    for at in EDGES:
        set_clock(monkeypatch, instant(zone, DUE + dt.timedelta(days=offset), at))
        shown = api.get(f"/api/v1/items/{item_id}").json
        assert (shown["status"], shown["days_left"]) == (expected, -offset), at
        listed = api.get("/api/v1/items").json["items"]
        assert [(i["status"], i["days_left"]) for i in listed] == [(expected, -offset)]


def test_the_same_instant_gives_the_two_pacific_users_different_statuses(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 10:30 UTC on Mar 31: Apr 1 at UTC+14, Mar 30 at UTC-11, Mar 31 in Shanghai and Moscow.
    set_clock(monkeypatch, dt.datetime(2027, 3, 31, 10, 30, tzinfo=dt.UTC))
    expected = {
        "Pacific/Kiritimati": {"2027-03-31": ("overdue", -1), "2027-04-14": ("due_soon", 13)},
        "Pacific/Pago_Pago": {"2027-03-31": ("due_soon", 1), "2027-04-14": ("ok", 15)},
        "Asia/Shanghai": {"2027-03-31": ("due_soon", 0), "2027-04-14": ("due_soon", 14)},
        "Europe/Moscow": {"2027-03-31": ("due_soon", 0), "2027-04-14": ("due_soon", 14)},
    }
    for number, (zone, by_due) in enumerate(expected.items()):
        api = Api(client, make_user(app, f"user{number}@example.com", timezone=zone)["token"])
        for due in by_due:
            response = api.post("/api/v1/items", json={**VALID_ITEM, "due_date": due,
                                                       "grace_days": None, "alarms": None})
            assert response.status_code == 201, response.json
        seen = {i["due_date"]: (i["status"], i["days_left"])
                for i in api.get("/api/v1/items").json["items"]}
        assert seen == by_due, zone


def test_the_status_follows_a_change_of_time_zone(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_clock(monkeypatch, dt.datetime(2027, 3, 31, 10, 30, tzinfo=dt.UTC))
    api = Api(client, make_user(app, timezone="Pacific/Pago_Pago")["token"])
    item_id = api.post("/api/v1/items", json={**VALID_ITEM, "grace_days": 2}).json["id"]
    assert api.get(f"/api/v1/items/{item_id}").json["status"] == "due_soon"
    assert api.patch("/api/v1/me", json={"timezone": "Pacific/Kiritimati"}).status_code == 200
    assert api.get(f"/api/v1/items/{item_id}").json["status"] == "in_grace"


@pytest.mark.parametrize(
    "default_alarms, offset, expected",
    [
        ([{"days_before": 30, "at": "09:00"}], -31, "ok"),
        ([{"days_before": 30, "at": "09:00"}], -30, "due_soon"),
        ([], -1, "ok"),
        ([], 0, "due_soon"),
    ],
)
def test_items_without_alarms_of_their_own_use_the_users_defaults(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch,
    default_alarms: list[dict[str, Any]], offset: int, expected: str,
) -> None:
    zone = "Asia/Shanghai"
    api = Api(client, make_user(app, timezone=zone)["token"])
    assert api.patch("/api/v1/me", json={"default_alarms": default_alarms}).status_code == 200
    item_id = api.post("/api/v1/items", json={**VALID_ITEM, "alarms": None}).json["id"]
    set_clock(monkeypatch, instant(zone, DUE + dt.timedelta(days=offset), dt.time(0, 0, 30)))
    assert api.get(f"/api/v1/items/{item_id}").json["status"] == expected
    # An item with alarms of its own ignores the defaults.
    own = api.post("/api/v1/items", json={**VALID_ITEM, "alarms": [
        {"days_before": 60, "at": "09:00"}]}).json["id"]
    assert api.get(f"/api/v1/items/{own}").json["status"] == "due_soon"


def test_renewing_answers_with_the_status_of_the_users_today(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    zone = "Pacific/Kiritimati"
    api = Api(client, make_user(app, timezone=zone)["token"])
    item_id = api.post("/api/v1/items", json={**VALID_ITEM, "grace_days": 30}).json["id"]
    set_clock(monkeypatch, instant(zone, DUE + dt.timedelta(days=3), dt.time(0, 0, 30)))
    assert api.get(f"/api/v1/items/{item_id}").json["status"] == "in_grace"
    created = api.post(f"/api/v1/items/{item_id}/renewals", json={}).json
    assert created["renewal"]["renewed_on"] == "2027-04-03"
    assert (created["item"]["status"], created["item"]["days_left"]) == ("ok", 88)
    undone = api.delete(f"/api/v1/items/{item_id}/renewals/latest").json
    assert (undone["status"], undone["days_left"]) == ("in_grace", -3)
