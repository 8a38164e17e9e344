"""Marking items renewed: new due dates, validation, history, undo, and what was spent."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from feedsvc import items, renewals, status
from feedsvc.db import new_session
from feedsvc.demo import demo_items
from feedsvc.errors import Conflict
from feedsvc.models import Renewal, User

from helpers import VALID_ITEM, Api, make_user

ITEMS = "/api/v1/items"
TODAY = dt.date(2027, 1, 19)
NOON = dt.datetime(2027, 1, 19, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every "today" in the app is 2027-01-19 (UTC noon)."""
    monkeypatch.setattr(status, "utc_now", lambda: NOON)
    yield


def renewals_url(item_id: int) -> str:
    return f"{ITEMS}/{item_id}/renewals"


def create(api: Api, **fields: Any) -> dict[str, Any]:
    response = api.post(ITEMS, json={**VALID_ITEM, **fields})
    assert response.status_code == 201, response.json
    return response.json


def renew(api: Api, item_id: int, body: Any = None) -> dict[str, Any]:
    response = api.post(renewals_url(item_id), json=body)
    assert response.status_code == 201, response.json
    return response.json


def due_date(api: Api, item_id: int) -> str:
    response = api.get(f"{ITEMS}/{item_id}")
    assert response.status_code == 200, response.json
    return response.json["due_date"]


def history(api: Api, item_id: int) -> list[dict[str, Any]]:
    response = api.get(renewals_url(item_id))
    assert response.status_code == 200, response.json
    return response.json["renewals"]


def assert_refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"], response.json


# The five demo items, renewed on TODAY (their due dates are TODAY + 12, 45, 6, 20, 30 days).


@pytest.mark.parametrize(
    "title, due_before, due_after, amount, currency",
    [
        # The carriers' presets count from the renewal: TODAY + 183, 180 and 120 days,
        # whatever the old due date.
        ("MTS Russia", "2027-01-31", "2027-07-21", "300.00", "RUB"),
        ("Hong Kong registration card", "2027-03-05", "2027-07-18", "118.00", "HKD"),
        # Monthly on schedule: a month after the old due date.
        ("Montenegro prepaid card", "2027-01-25", "2027-02-25", "5.00", "EUR"),
        ("Monaco Telecom", "2027-02-08", "2027-03-08", "15.00", "EUR"),
        ("TNT eSIM", "2027-02-18", "2027-05-19", "50.00", "PHP"),
    ],
)
def test_renewing_each_demo_item_moves_its_due_date(
    api: Api, title: str, due_before: str, due_after: str, amount: str, currency: str
) -> None:
    data = next(d for d in demo_items(TODAY) if d["title"] == title)
    response = api.post(ITEMS, json=data)
    assert response.status_code == 201, response.json
    item = response.json
    assert item["due_date"] == due_before

    created = renew(api, item["id"], {})
    assert created["item"]["due_date"] == due_after
    assert created["renewal"]["renewed_on"] == TODAY.isoformat()
    assert created["renewal"]["due_before"] == due_before
    assert created["renewal"]["due_after"] == due_after
    assert (created["renewal"]["amount"], created["renewal"]["currency"]) == (amount, currency)
    assert created["item"]["status"] == "ok"
    assert due_date(api, item["id"]) == due_after


def test_a_quarterly_plan_from_jan31_comes_back_to_the_31st(api: Api) -> None:
    item = create(api, due_date="2027-01-31",
                  repeat={"every": 3, "unit": "month", "from": "schedule"})
    seen = [renew(api, item["id"])["item"]["due_date"] for _ in range(4)]
    assert seen == ["2027-04-30", "2027-07-31", "2027-10-31", "2028-01-31"]


def test_twelve_periods_of_a_monthly_plan_pay_a_year(api: Api) -> None:
    data = next(d for d in demo_items(TODAY) if d["title"] == "Montenegro prepaid card")
    item = api.post(ITEMS, json=data).json
    created = renew(api, item["id"], {"periods": 12, "amount": "60.00"})
    assert created["item"]["due_date"] == "2028-01-25"
    assert created["renewal"]["periods"] == 12


def test_a_late_renewal_on_schedule_moves_past_the_renewal_date(api: Api) -> None:
    item = create(api, due_date="2026-10-31", repeat={"every": 1, "unit": "month"})
    created = renew(api, item["id"], {"renewed_on": "2027-01-10"})
    # Nov 30 and Dec 31 have passed; the 31st is kept.
    assert created["item"]["due_date"] == "2027-01-31"


def test_an_early_keep_alive_renewal_restarts_the_clock(api: Api) -> None:
    item = create(api, due_date="2027-03-01",
                  repeat={"every": 180, "unit": "day", "from": "renewal"})
    created = renew(api, item["id"], {"renewed_on": "2027-01-01"})
    assert created["item"]["due_date"] == "2027-06-30"


# Items without a repeat rule, and dates


def test_an_item_without_repeat_needs_the_new_due_date(api: Api) -> None:
    item = create(api, repeat=None)
    assert_refused(api.post(renewals_url(item["id"]), json={}), "due_date")
    assert_refused(api.post(renewals_url(item["id"])), "due_date")
    created = renew(api, item["id"], {"due_date": "2028-03-31"})
    assert created["item"]["due_date"] == "2028-03-31"
    assert created["renewal"]["due_before"] == VALID_ITEM["due_date"]


@pytest.mark.parametrize("new_due", ["2027-03-31", "2027-03-30", "2027-01-01"])
def test_the_new_due_date_must_be_after_the_current_one(api: Api, new_due: str) -> None:
    for repeat in (None, VALID_ITEM["repeat"]):
        item = create(api, repeat=repeat)
        assert_refused(api.post(renewals_url(item["id"]), json={"due_date": new_due}),
                       "due_date")
        assert due_date(api, item["id"]) == VALID_ITEM["due_date"]
        assert history(api, item["id"]) == []


def test_a_given_due_date_overrides_the_repeat_rule(api: Api, item: dict[str, Any]) -> None:
    created = renew(api, item["id"], {"due_date": "2027-05-15"})
    assert created["item"]["due_date"] == "2027-05-15"


@pytest.mark.parametrize("days_ahead", [1, 2, 30])
def test_renewed_on_cannot_be_in_the_future(api: Api, item: dict[str, Any],
                                            days_ahead: int) -> None:
    future = (TODAY + dt.timedelta(days=days_ahead)).isoformat()
    assert_refused(api.post(renewals_url(item["id"]), json={"renewed_on": future}),
                   "renewed_on")
    assert history(api, item["id"]) == []


def test_renewed_on_defaults_to_today_in_the_users_time_zone(app: Flask,
                                                             client: FlaskClient) -> None:
    # At 12:00 UTC it is already Jan 20 at UTC+14 and still Jan 19 at UTC-11.
    for zone, today in (("Pacific/Kiritimati", "2027-01-20"), ("Pacific/Pago_Pago", "2027-01-19")):
        account = make_user(app, f"{zone.split('/')[1].lower()}@example.com", timezone=zone)
        api = Api(client, account["token"])
        item = create(api)
        assert renew(api, item["id"])["renewal"]["renewed_on"] == today
        other = create(api)
        assert renew(api, other["id"], {"renewed_on": today})["renewal"]["renewed_on"] == today
        tomorrow = (dt.date.fromisoformat(today) + dt.timedelta(days=1)).isoformat()
        assert_refused(api.post(renewals_url(other["id"]), json={"renewed_on": tomorrow}),
                       "renewed_on")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"periods": 0}, "periods"),
        ({"periods": 121}, "periods"),
        ({"periods": "2"}, "periods"),
        ({"periods": True}, "periods"),
        ({"periods": 1.5}, "periods"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "1.23456"}, "amount"),
        ({"amount": "12,50", "currency": "EUR"}, "amount"),
        ({"currency": "ZZZ", "amount": "1.00"}, "currency"),
        ({"currency": "EURO", "amount": "1.00"}, "currency"),
        ({"paid_with": "card"}, "paid_with"),
        ({"renewed_on": "2026-02-30"}, "renewed_on"),
        ({"renewed_on": "2027/01/10"}, "renewed_on"),
        ({"renewed_on": "2027-01-10T00:00:00"}, "renewed_on"),
        ({"renewed_on": 20270110}, "renewed_on"),
        ({"due_date": "someday"}, "due_date"),
        ({"due_date": "3000-01-01"}, "due_date"),
        ({"note": "n" * 2001}, "note"),
        ({"note": "bell\x07"}, "note"),
        ({"reference": "A1\nB2"}, "reference"),
        ({"reference": "r" * 201}, "reference"),
        ({"method": "m" * 101}, "method"),
        ({"method": "card\r"}, "method"),
        ({"currency": "EUR"}, "amount"),
        ([], "body"),
        ("renewed", "body"),
        (None, "body"),
    ],
)
def test_bad_renewal_input_is_refused_naming_the_field(
    api: Api, item: dict[str, Any], body: Any, field: str
) -> None:
    response = api.post(renewals_url(item["id"]), data=json.dumps(body),
                        content_type="application/json")
    assert_refused(response, field)
    assert due_date(api, item["id"]) == VALID_ITEM["due_date"]
    assert history(api, item["id"]) == []


@pytest.mark.parametrize("periods", [1, 120])
def test_periods_at_the_limits_are_accepted(api: Api, item: dict[str, Any],
                                            periods: int) -> None:
    created = renew(api, item["id"], {"periods": periods})
    assert created["renewal"]["periods"] == periods


@pytest.mark.parametrize("repeat", [
    {"every": 1000, "unit": "year"},
    {"every": 1000, "unit": "week"},
    {"every": 1000, "unit": "year", "from": "renewal"},
])
def test_a_due_date_past_the_calendar_is_refused(api: Api, repeat: dict[str, Any]) -> None:
    item = create(api, repeat=repeat)
    assert_refused(api.post(renewals_url(item["id"]), json={"periods": 120}), "periods")
    assert due_date(api, item["id"]) == VALID_ITEM["due_date"]


def test_an_empty_body_and_an_empty_object_both_renew(api: Api, item: dict[str, Any]) -> None:
    first = api.post(renewals_url(item["id"]))
    assert first.status_code == 201, first.json
    assert first.json["item"]["due_date"] == "2027-06-30"
    second = api.post(renewals_url(item["id"]), json={})
    assert second.status_code == 201, second.json
    assert second.json["item"]["due_date"] == "2027-09-30"


# Money


def test_amount_and_currency_default_to_the_items_price(api: Api, item: dict[str, Any]) -> None:
    renewal = renew(api, item["id"])["renewal"]
    assert (renewal["amount"], renewal["currency"]) == ("300.00", "RUB")


def test_an_amount_alone_takes_the_items_currency(api: Api, item: dict[str, Any]) -> None:
    renewal = renew(api, item["id"], {"amount": "450"})["renewal"]
    assert (renewal["amount"], renewal["currency"]) == ("450", "RUB")


def test_an_amount_in_another_currency(api: Api, item: dict[str, Any]) -> None:
    renewal = renew(api, item["id"], {"amount": "4.99", "currency": "usd"})["renewal"]
    assert (renewal["amount"], renewal["currency"]) == ("4.99", "USD")


def test_an_item_without_price_records_no_money(api: Api) -> None:
    item = create(api, price=None)
    renewal = renew(api, item["id"])["renewal"]
    assert (renewal["amount"], renewal["currency"]) == (None, None)
    assert_refused(api.post(renewals_url(item["id"]), json={"amount": "5"}), "currency")


def test_the_other_fields_are_stored(api: Api, item: dict[str, Any]) -> None:
    body = {"method": "Alipay", "reference": "2027011922001", "note": "Paid in the app.\nOK."}
    renewal = renew(api, item["id"], body)["renewal"]
    assert {key: renewal[key] for key in body} == body
    assert history(api, item["id"])[0] == renewal


# History and undo


def test_history_is_newest_first_with_amounts(api: Api, item: dict[str, Any]) -> None:
    for amount in ("100", "200", "300"):
        renew(api, item["id"], {"amount": amount})
    found = history(api, item["id"])
    assert [r["amount"] for r in found] == ["300", "200", "100"]
    assert [(r["due_before"], r["due_after"]) for r in found] == [
        ("2027-09-30", "2027-12-31"), ("2027-06-30", "2027-09-30"), ("2027-03-31", "2027-06-30")]
    assert all(r["item_id"] == item["id"] and r["currency"] == "RUB" for r in found)


def test_undo_restores_each_previous_due_date_in_order(api: Api, item: dict[str, Any]) -> None:
    dues = [item["due_date"]]
    for body in ({}, {"periods": 4}, {"renewed_on": "2027-01-01"}, {"due_date": "2031-02-28"}):
        dues.append(renew(api, item["id"], body)["item"]["due_date"])
    assert dues == ["2027-03-31", "2027-06-30", "2028-06-30", "2028-09-30", "2031-02-28"]
    for expected in reversed(dues[:-1]):
        response = api.delete(renewals_url(item["id"]) + "/latest")
        assert response.status_code == 200, response.json
        assert response.json["due_date"] == expected
        assert due_date(api, item["id"]) == expected
    assert history(api, item["id"]) == []
    response = api.delete(renewals_url(item["id"]) + "/latest")
    assert response.status_code == 409, response.json
    assert due_date(api, item["id"]) == VALID_ITEM["due_date"]


def test_undo_without_renewals_is_a_conflict(api: Api, item: dict[str, Any]) -> None:
    response = api.delete(renewals_url(item["id"]) + "/latest")
    assert response.status_code == 409
    assert response.json["error"]["status"] == 409


def test_undo_of_a_keep_alive_renewal_restores_the_old_date(api: Api) -> None:
    item = create(api, due_date="2027-02-18",
                  repeat={"every": 90, "unit": "day", "from": "renewal"})
    assert renew(api, item["id"])["item"]["due_date"] == "2027-04-19"
    assert api.delete(renewals_url(item["id"]) + "/latest").json["due_date"] == "2027-02-18"


def test_renew_undo_renew_gives_the_same_due_date(api: Api, item: dict[str, Any]) -> None:
    first = renew(api, item["id"])
    api.delete(renewals_url(item["id"]) + "/latest")
    again = renew(api, item["id"])
    assert again["item"]["due_date"] == first["item"]["due_date"] == "2027-06-30"
    assert [r["due_after"] for r in history(api, item["id"])] == ["2027-06-30"]


def test_renewing_after_undoing_past_a_manual_edit_keeps_the_schedule(api: Api) -> None:
    item = create(api, due_date="2027-01-31", repeat={"every": 1, "unit": "month"})
    assert renew(api, item["id"])["item"]["due_date"] == "2027-02-28"
    assert api.patch(f"{ITEMS}/{item['id']}", json={"due_date": "2027-03-15"}).status_code == 200
    assert api.delete(renewals_url(item["id"]) + "/latest").json["due_date"] == "2027-01-31"
    assert renew(api, item["id"])["item"]["due_date"] == "2027-02-28"


def test_another_users_item_is_not_found(api: Api, other_api: Api,
                                         item: dict[str, Any]) -> None:
    renew(api, item["id"])
    url = renewals_url(item["id"])
    for response in (other_api.post(url, json={}), other_api.post(url),
                     other_api.get(url), other_api.delete(url + "/latest")):
        assert response.status_code == 404, response.json
        assert response.json["error"]["status"] == 404
    assert due_date(api, item["id"]) == "2027-06-30"
    assert len(history(api, item["id"])) == 1


@pytest.mark.parametrize("item_id", [0, 999999, 2**31, 2**63])
def test_a_missing_item_is_not_found(api: Api, item_id: int) -> None:
    assert api.post(renewals_url(item_id), json={}).status_code == 404
    assert api.get(renewals_url(item_id)).status_code == 404
    assert api.delete(renewals_url(item_id) + "/latest").status_code == 404


def test_renewals_need_a_token(client: FlaskClient, item: dict[str, Any]) -> None:
    url = renewals_url(item["id"])
    assert client.post(url, json={}).status_code == 401
    assert client.get(url).status_code == 401
    assert client.delete(url + "/latest").status_code == 401


def test_deleting_an_item_deletes_its_renewals(app: Flask, api: Api,
                                               item: dict[str, Any]) -> None:
    renew(api, item["id"])
    assert api.delete(f"{ITEMS}/{item['id']}").status_code == 204
    with app.app_context(), new_session(app) as session:
        assert session.scalar(select(func.count()).select_from(Renewal)) == 0


# Spend, through the domain functions


def _days_ago(days: int) -> str:
    return (TODAY - dt.timedelta(days=days)).isoformat()


def test_spend_sums_the_last_12_months_per_item_and_currency(
    app: Flask, user: dict[str, Any], other_user: dict[str, Any]
) -> None:
    with app.app_context(), new_session(app) as session:
        owner = session.get(User, user["id"])
        other = session.get(User, other_user["id"])
        assert owner is not None and other is not None
        sim = items.create_item(session, owner, {**VALID_ITEM, "due_date": "2020-01-31"})
        plan = items.create_item(session, owner, {**VALID_ITEM, "title": "Monaco",
                                                  "due_date": "2020-01-31",
                                                  "price": {"amount": "15.00",
                                                            "currency": "EUR"}})
        stranger = items.create_item(session, other, VALID_ITEM)
        for target, body in [
            (sim, {"renewed_on": _days_ago(400), "amount": "999"}),  # too old
            (sim, {"renewed_on": _days_ago(366), "amount": "888"}),  # too old
            (sim, {"renewed_on": _days_ago(300), "amount": "100.50"}),
            (sim, {"renewed_on": _days_ago(10)}),  # the item's price: 300.00 RUB
            (sim, {"renewed_on": _days_ago(5), "amount": "7.25", "currency": "EUR"}),
            (plan, {"renewed_on": _days_ago(364)}),
            (plan, {"renewed_on": _days_ago(0), "amount": "10", "currency": "USD"}),
            (plan, {"renewed_on": _days_ago(2), "amount": None, "currency": None}),
            (stranger, {"renewed_on": _days_ago(1), "amount": "5000"}),
        ]:
            renewals.renew(session, target, body, TODAY)
        session.commit()

        per_item = renewals.spend(session, owner, TODAY)
        assert per_item == {
            sim.id: {"RUB": Decimal("400.50"), "EUR": Decimal("7.25")},
            plan.id: {"EUR": Decimal("15.00"), "USD": Decimal(10)},
        }
        assert renewals.spend(session, owner, TODAY, item_id=plan.id) == {
            plan.id: {"EUR": Decimal("15.00"), "USD": Decimal(10)}}
        totals = renewals.total_spend(per_item)
        assert totals == {"EUR": Decimal("22.25"), "RUB": Decimal("400.50"),
                          "USD": Decimal(10)}
        assert list(totals) == ["EUR", "RUB", "USD"]
        assert renewals.spend(session, other, TODAY) == {stranger.id: {"RUB": Decimal(5000)}}


def test_spend_of_an_account_without_renewals_is_empty(app: Flask, user: dict[str, Any]) -> None:
    with app.app_context(), new_session(app) as session:
        owner = session.get(User, user["id"])
        items.create_item(session, owner, VALID_ITEM)
        assert renewals.spend(session, owner, TODAY) == {}
        assert renewals.total_spend({}) == {}


def test_domain_undo_of_nothing_is_a_conflict(app: Flask, user: dict[str, Any]) -> None:
    with app.app_context(), new_session(app) as session:
        owner = session.get(User, user["id"])
        item = items.create_item(session, owner, VALID_ITEM)
        renewal = renewals.renew(session, item, {}, TODAY)
        assert renewals.list_renewals(session, item) == [renewal]
        renewals.undo_latest(session, item)
        assert item.due_date == dt.date(2027, 3, 31)
        with pytest.raises(Conflict):
            renewals.undo_latest(session, item)


@pytest.mark.parametrize(
    "today, renewed_on, counted",
    [
        # Twelve calendar months back from Mar 1 2028 is Mar 1 2027, 366 days across Feb 29.
        ("2028-03-01", "2027-03-02", True),
        ("2028-03-01", "2027-03-01", False),
        ("2027-01-19", "2026-01-20", True),
        ("2027-01-19", "2026-01-19", False),
        # From a month end: twelve months before Feb 29 2028 is Feb 28 2027.
        ("2028-02-29", "2027-03-01", True),
        ("2028-02-29", "2027-02-28", False),
    ],
)
def test_spend_counts_twelve_calendar_months(app: Flask, user: dict[str, Any], today: str,
                                             renewed_on: str, counted: bool) -> None:
    with app.app_context(), new_session(app) as session:
        owner = session.get(User, user["id"])
        assert owner is not None
        sim = items.create_item(session, owner, {**VALID_ITEM, "due_date": "2020-01-31"})
        renewals.renew(session, sim, {"renewed_on": renewed_on}, dt.date.fromisoformat(today))
        expected = {sim.id: {"RUB": Decimal("300.00")}} if counted else {}
        assert renewals.spend(session, owner, dt.date.fromisoformat(today)) == expected
