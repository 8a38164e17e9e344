"""/api/v1/channels and /api/v1/deliveries: adding addresses (confirmed by mail, through a
real SMTP server), switching, pausing and resuming, tests, removal, and the history."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from feedsvc import channels
from feedsvc.db import new_session
from feedsvc.models import Channel, Delivery

from helpers import SECRET_KEY, Api, make_user
from helpers.smtp import SmtpServer

CHANNELS = "/api/v1/channels"
DELIVERIES = "/api/v1/deliveries"
NOW = dt.datetime(2027, 3, 17, 1, 0, tzinfo=dt.UTC)
CONFIRM_LINK = re.compile(r"https://feeds\.example\.org/confirm/([A-Za-z0-9_.-]+)")


@pytest.fixture
def mail_user(mail_app: Flask) -> dict[str, Any]:
    return make_user(mail_app)


@pytest.fixture
def mail_api(mail_app: Flask, mail_user: dict[str, Any]) -> Api:
    return Api(mail_app.test_client(), mail_user["token"])


def add(api: Api, address: str = "Family@Example.com", **fields: Any) -> Any:
    return api.post(CHANNELS, json={"kind": "email", "address": address, **fields})


def confirm(app: Flask, channel_id: int) -> None:
    """Mark an address confirmed, as its link would."""
    with new_session(app) as session:
        session.get_one(Channel, channel_id).verified_at = NOW
        session.commit()


def stored(app: Flask, channel_id: int) -> Channel:
    with new_session(app) as session:
        channel = session.get_one(Channel, channel_id)
        session.expunge(channel)
        return channel


def pause(app: Flask, channel_id: int, reason: str = "SMTP 550 no such mailbox") -> None:
    """Pause a channel as five failed deliveries in a row do."""
    with new_session(app) as session:
        channel = session.get_one(Channel, channel_id)
        channel.failures, channel.paused_at, channel.pause_reason = 5, NOW, reason
        session.commit()


def add_deliveries(app: Flask, user_id: int, channel_id: int, count: int,
                   item_id: int | None = None, due: dt.date | None = None) -> list[int]:
    """Recorded deliveries, planned a minute apart, oldest first."""
    with new_session(app) as session:
        made = [Delivery(user_id=user_id, channel_id=channel_id, item_id=item_id,
                         kind="alarm" if item_id else "test", due_date=due,
                         planned_at=NOW + dt.timedelta(minutes=n), status="sent",
                         attempts=1, sent_at=NOW + dt.timedelta(minutes=n), created_at=NOW)
                for n in range(count)]
        session.add_all(made)
        session.commit()
        return [delivery.id for delivery in made]


def account_channel_id(app: Flask, user_id: int) -> int:
    with new_session(app) as session:
        return session.scalars(select(Channel.id).where(Channel.user_id == user_id,
                                                        Channel.account.is_(True))).one()


def outbox(app: Flask) -> list[Path]:
    folder = Path(app.instance_path) / "outbox"
    return sorted(folder.glob("*.eml")) if folder.exists() else []


# ---- listing and adding ------------------------------------------------------------------

def test_the_accounts_own_address_is_its_first_channel(api: Api, user: dict[str, Any]) -> None:
    response = api.get(CHANNELS)
    assert response.status_code == 200
    (channel,) = response.json["channels"]
    assert channel == {
        "id": channel["id"], "kind": "email", "name": user["email"], "target": user["email"],
        "verified": False, "enabled": True, "digest": None, "status": "ok", "reason": None,
        "created_at": channel["created_at"]}


def test_an_added_address_is_unconfirmed_and_mailed_its_confirmation_link(
        mail_app: Flask, mail_api: Api, smtp_server: SmtpServer) -> None:
    response = add(mail_api, "  Family@Example.COM ", name="Family")
    assert response.status_code == 201, response.json
    channel = response.json
    assert response.headers["Location"] == f"{CHANNELS}/{channel['id']}"
    assert (channel["target"], channel["name"], channel["verified"], channel["enabled"]) == (
        "family@example.com", "Family", False, True)
    assert channel["confirmation"] == {"sent": True, "error": None}
    (received,) = smtp_server.received
    assert received.recipients == ["family@example.com"]
    assert str(received.message["Subject"]) == "Confirm your address for feedsvc"
    body = received.message.get_body(preferencelist=("plain",))
    assert body is not None
    token = CONFIRM_LINK.search(str(body.get_content()))
    assert token is not None
    # The link confirms that address, and the list then says so.
    with new_session(mail_app) as session:
        channels.confirm(session, SECRET_KEY, token.group(1), NOW)
        session.commit()
    listed = {c["target"]: c for c in mail_api.get(CHANNELS).json["channels"]}
    assert listed["family@example.com"]["verified"] is True
    assert list(listed) == ["user@example.com", "family@example.com"]


def test_without_a_relay_the_confirmation_goes_to_the_outbox(app: Flask, api: Api) -> None:
    response = add(api, "family@example.com")
    assert response.status_code == 201
    assert response.json["confirmation"] == {"sent": True, "error": None}
    (eml,) = outbox(app)
    assert b"family@example.com" in eml.read_bytes()


def test_a_relay_that_is_down_still_adds_the_address_and_says_the_mail_did_not_go(
        mail_app: Flask, mail_api: Api, smtp_server: SmtpServer) -> None:
    smtp_server.stop()
    response = add(mail_api)
    assert response.status_code == 201
    confirmation = response.json["confirmation"]
    assert confirmation["sent"] is False
    assert "cannot be reached" in confirmation["error"]
    assert len(mail_api.get(CHANNELS).json["channels"]) == 2


def test_the_name_defaults_to_the_address_and_stays_within_its_length(api: Api) -> None:
    assert add(api, "family@example.com").json["name"] == "family@example.com"
    long_address = "a" * 200 + "@example.com"
    name = add(api, long_address).json["name"]
    assert len(name) == 100 and name.endswith("…")


@pytest.mark.parametrize("address", ["family@example.com", "FAMILY@example.com",
                                     "user@example.com", " User@Example.com"])
def test_an_address_the_account_already_has_is_409(api: Api, address: str) -> None:
    assert add(api, "family@example.com").status_code == 201
    response = add(api, address)
    assert response.status_code == 409
    assert response.json["error"]["fields"] == {"address": "is already one of your addresses"}
    assert len(api.get(CHANNELS).json["channels"]) == 2


def test_another_account_may_add_the_same_address(api: Api, other_api: Api) -> None:
    assert add(api, "shared@example.com").status_code == 201
    assert add(other_api, "shared@example.com").status_code == 201


def test_an_account_has_at_most_twenty_addresses(api: Api) -> None:
    for number in range(channels.MAX_CHANNELS - 1):
        assert add(api, f"a{number}@example.com").status_code == 201
    response = add(api, "one-more@example.com")
    assert response.status_code == 409
    assert "Remove one first" in response.json["error"]["message"]


BAD_CHANNELS: list[tuple[str, Any, str]] = [
    ("no kind", {"address": "a@example.com"}, "kind"),
    ("kind null", {"kind": None, "address": "a@example.com"}, "kind"),
    ("kind sms", {"kind": "sms", "address": "a@example.com"}, "kind"),
    ("kind number", {"kind": 1, "address": "a@example.com"}, "kind"),
    ("no address", {"kind": "email"}, "address"),
    ("address null", {"kind": "email", "address": None}, "address"),
    ("address number", {"kind": "email", "address": 5}, "address"),
    ("empty address", {"kind": "email", "address": ""}, "address"),
    ("spaces", {"kind": "email", "address": "   "}, "address"),
    ("no at", {"kind": "email", "address": "example.com"}, "address"),
    ("no dot", {"kind": "email", "address": "me@localhost"}, "address"),
    ("space inside", {"kind": "email", "address": "me @example.com"}, "address"),
    ("line break", {"kind": "email", "address": "me@example.com\nBcc: x@y.z"}, "address"),
    ("nul", {"kind": "email", "address": "me@exa\x00mple.com"}, "address"),
    ("lone surrogate", {"kind": "email", "address": "me\ud800@example.com"}, "address"),
    ("too long", {"kind": "email", "address": "a" * 250 + "@example.com"}, "address"),
    ("dot domain", {"kind": "email", "address": "me@.example.com"}, "address"),
    ("name empty", {"kind": "email", "address": "a@example.com", "name": " "}, "name"),
    ("name too long", {"kind": "email", "address": "a@example.com", "name": "n" * 101},
     "name"),
    ("name two lines", {"kind": "email", "address": "a@example.com", "name": "a\nb"}, "name"),
    ("name number", {"kind": "email", "address": "a@example.com", "name": 7}, "name"),
    ("enabled yes", {"kind": "email", "address": "a@example.com", "enabled": "yes"},
     "enabled"),
    ("enabled null", {"kind": "email", "address": "a@example.com", "enabled": None},
     "enabled"),
    ("digest 25:00", {"kind": "email", "address": "a@example.com", "digest": "25:00"},
     "digest"),
    ("digest 8:00", {"kind": "email", "address": "a@example.com", "digest": "8:00"}, "digest"),
    ("digest number", {"kind": "email", "address": "a@example.com", "digest": 800}, "digest"),
    ("url", {"kind": "email", "address": "a@example.com", "url": "ntfy://x"}, "url"),
    ("unknown", {"kind": "email", "address": "a@example.com", "colour": "red"}, "colour"),
    ("a list", [{"kind": "email", "address": "a@example.com"}], "body"),
    ("null", None, "body"),
    ("a string", "a@example.com", "body"),
]


@pytest.mark.parametrize("body, field", [(b, f) for _, b, f in BAD_CHANNELS],
                         ids=[name for name, _, _ in BAD_CHANNELS])
def test_a_bad_channel_is_422_naming_the_field_and_nothing_is_added(
        api: Api, body: Any, field: str) -> None:
    response = api.post(CHANNELS, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"]
    assert len(api.get(CHANNELS).json["channels"]) == 1


# ---- changing, pausing, removing ---------------------------------------------------------

def test_a_channel_can_be_renamed_and_switched(api: Api) -> None:
    channel_id = add(api).json["id"]
    response = api.patch(f"{CHANNELS}/{channel_id}", json={"name": "Family", "enabled": False})
    assert response.status_code == 200
    assert (response.json["name"], response.json["enabled"]) == ("Family", False)
    assert "confirmation" not in response.json
    again = api.patch(f"{CHANNELS}/{channel_id}", json={})
    assert again.json == response.json
    on = api.patch(f"{CHANNELS}/{channel_id}", json={"enabled": True})
    assert (on.json["name"], on.json["enabled"]) == ("Family", True)


@pytest.mark.parametrize("body, field", [
    ({"name": None}, "name"), ({"name": ""}, "name"), ({"name": "x" * 101}, "name"),
    ({"enabled": None}, "enabled"), ({"enabled": 1}, "enabled"),
    ({"target": "other@example.com"}, "target"), ({"kind": "email"}, "kind"),
    ({"digest": "9:00"}, "digest"), ({"digest": 900}, "digest"),
    ({"verified": True}, "verified"),
    (["name"], "body"),
])
def test_a_bad_change_is_422_and_changes_nothing(api: Api, body: Any, field: str) -> None:
    channel = add(api, name="Family").json
    response = api.patch(f"{CHANNELS}/{channel['id']}", json=body)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]
    (after,) = [c for c in api.get(CHANNELS).json["channels"] if c["id"] == channel["id"]]
    assert (after["name"], after["enabled"], after["verified"]) == ("Family", True, False)


def test_a_paused_channel_says_why_and_switching_it_on_resumes_it(app: Flask, api: Api) -> None:
    channel_id = add(api).json["id"]
    pause(app, channel_id)
    (paused,) = [c for c in api.get(CHANNELS).json["channels"] if c["id"] == channel_id]
    assert (paused["status"], paused["reason"], paused["enabled"]) == (
        "paused", "SMTP 550 no such mailbox", True)
    # Renaming or switching it off does not resume it.
    off = api.patch(f"{CHANNELS}/{channel_id}", json={"name": "Work", "enabled": False}).json
    assert (off["status"], off["enabled"]) == ("paused", False)
    resumed = api.patch(f"{CHANNELS}/{channel_id}", json={"enabled": True}).json
    assert (resumed["status"], resumed["reason"], resumed["enabled"]) == ("ok", None, True)
    channel = stored(app, channel_id)
    assert (channel.failures, channel.paused_at, channel.pause_reason) == (0, None, None)


def test_a_channel_is_removed_with_its_deliveries(app: Flask, api: Api,
                                                  user: dict[str, Any]) -> None:
    channel_id = add(api).json["id"]
    add_deliveries(app, user["id"], channel_id, 2)
    response = api.delete(f"{CHANNELS}/{channel_id}")
    assert response.status_code == 204 and response.data == b""
    assert [c["id"] for c in api.get(CHANNELS).json["channels"]] != [channel_id]
    assert len(api.get(CHANNELS).json["channels"]) == 1
    assert api.get(DELIVERIES).json == {"deliveries": []}
    assert api.delete(f"{CHANNELS}/{channel_id}").status_code == 404


def test_the_accounts_own_address_cannot_be_removed_only_switched_off(
        app: Flask, api: Api, user: dict[str, Any]) -> None:
    own = account_channel_id(app, user["id"])
    response = api.delete(f"{CHANNELS}/{own}")
    assert response.status_code == 409
    assert "cannot be removed" in response.json["error"]["message"]
    assert api.patch(f"{CHANNELS}/{own}", json={"enabled": False}).json["enabled"] is False


# ---- tests -----------------------------------------------------------------------------

def test_a_test_to_an_unconfirmed_address_is_409(mail_api: Api,
                                                 smtp_server: SmtpServer) -> None:
    channel_id = add(mail_api).json["id"]
    response = mail_api.post(f"{CHANNELS}/{channel_id}/test")
    assert response.status_code == 409
    assert "not confirmed" in response.json["error"]["message"]
    assert len(smtp_server.received) == 1  # the confirmation only
    assert mail_api.get(DELIVERIES).json == {"deliveries": []}


def test_a_test_arrives_and_its_delivery_says_so(mail_app: Flask, mail_api: Api,
                                                 smtp_server: SmtpServer) -> None:
    channel_id = add(mail_api).json["id"]
    confirm(mail_app, channel_id)
    response = mail_api.post(f"{CHANNELS}/{channel_id}/test")
    assert response.status_code == 200
    delivery = response.json["delivery"]
    assert {key: delivery[key] for key in ("channel_id", "item_id", "kind", "due_date",
                                           "status", "error")} == {
        "channel_id": channel_id, "item_id": None, "kind": "test", "due_date": None,
        "status": "sent", "error": None}
    assert delivery["sent_at"] is not None and delivery["planned_at"] is not None
    test_message = smtp_server.received[-1]
    assert test_message.recipients == ["family@example.com"]
    assert mail_api.get(DELIVERIES).json["deliveries"] == [delivery]


def test_a_test_that_fails_answers_200_with_the_reason(mail_app: Flask, mail_api: Api,
                                                       smtp_server: SmtpServer) -> None:
    channel_id = add(mail_api).json["id"]
    confirm(mail_app, channel_id)
    smtp_server.refuse_recipient("family@example.com")
    delivery = mail_api.post(f"{CHANNELS}/{channel_id}/test").json["delivery"]
    assert delivery["status"] == "failed"
    assert "550" in delivery["error"]
    smtp_server.stop()
    down = mail_api.post(f"{CHANNELS}/{channel_id}/test").json["delivery"]
    assert down["status"] == "failed" and "cannot be reached" in down["error"]


def test_a_switched_off_or_paused_address_can_still_be_tested(mail_app: Flask, mail_api: Api,
                                                              smtp_server: SmtpServer) -> None:
    channel_id = add(mail_api).json["id"]
    confirm(mail_app, channel_id)
    pause(mail_app, channel_id)
    mail_api.patch(f"{CHANNELS}/{channel_id}", json={"enabled": False})
    assert mail_api.post(f"{CHANNELS}/{channel_id}/test").json["delivery"]["status"] == "sent"


# ---- other people's channels -------------------------------------------------------------

@pytest.mark.parametrize("method, suffix, body", [
    ("patch", "", {"enabled": False}), ("patch", "", {"name": "Mine now"}),
    ("patch", "", {"bogus": True}), ("delete", "", None), ("post", "/test", None)])
def test_another_accounts_channel_is_404_and_unchanged(
        app: Flask, api: Api, other_api: Api, user: dict[str, Any], method: str, suffix: str,
        body: Any) -> None:
    theirs = add(api).json["id"]
    confirm(app, theirs)
    for channel_id in (theirs, account_channel_id(app, user["id"]), 99999, 0):
        response = getattr(other_api, method)(f"{CHANNELS}/{channel_id}{suffix}", json=body)
        assert response.status_code == 404, (channel_id, response.json)
        assert response.json["error"]["message"] == f"No channel {channel_id}."
    assert [(c["id"], c["enabled"], c["name"]) for c in api.get(CHANNELS).json["channels"]][1] \
        == (theirs, True, "family@example.com")
    assert api.get(DELIVERIES).json == {"deliveries": []}


def test_nobody_sees_another_accounts_channels(api: Api, other_api: Api) -> None:
    add(api, "secret@example.com")
    assert [c["target"] for c in other_api.get(CHANNELS).json["channels"]] == [
        "other@example.com"]


# ---- deliveries ------------------------------------------------------------------------

def test_deliveries_come_newest_first_and_at_most_a_hundred(app: Flask, api: Api,
                                                            user: dict[str, Any]) -> None:
    channel_id = account_channel_id(app, user["id"])
    ids = add_deliveries(app, user["id"], channel_id, 105)
    response = api.get(DELIVERIES)
    assert response.status_code == 200
    listed = response.json["deliveries"]
    assert [d["id"] for d in listed] == sorted(ids, reverse=True)[:100]
    assert set(listed[0]) == {"id", "channel_id", "item_id", "kind", "due_date", "planned_at",
                              "sent_at", "status", "error"}


def test_deliveries_of_one_item(app: Flask, api: Api, user: dict[str, Any],
                                item: dict[str, Any]) -> None:
    channel_id = account_channel_id(app, user["id"])
    add_deliveries(app, user["id"], channel_id, 2)
    due = dt.date.fromisoformat(item["due_date"])
    mine = add_deliveries(app, user["id"], channel_id, 3, item["id"], due)
    listed = api.get(f"{DELIVERIES}?item={item['id']}").json["deliveries"]
    assert [d["id"] for d in listed] == mine[::-1]
    assert {(d["item_id"], d["kind"], d["due_date"]) for d in listed} == {
        (item["id"], "alarm", item["due_date"])}
    assert len(api.get(DELIVERIES).json["deliveries"]) == 5


@pytest.mark.parametrize("query, status, field", [
    ("item=abc", 422, "item"), ("item=", 422, "item"), ("item=1.5", 422, "item"),
    ("item=1" + "0" * 30, 422, "item"), ("items=1", 422, "items"), ("page=2", 422, "page"),
    ("item=0", 404, None), ("item=-3", 404, None), ("item=99999", 404, None)])
def test_a_bad_delivery_filter_is_refused(api: Api, query: str, status: int,
                                          field: str | None) -> None:
    response = api.get(f"{DELIVERIES}?{query}")
    assert response.status_code == status
    if field:
        assert field in response.json["error"]["fields"]


def test_another_accounts_item_or_deliveries_are_not_shown(
        app: Flask, api: Api, user: dict[str, Any], item: dict[str, Any]) -> None:
    add_deliveries(app, user["id"], account_channel_id(app, user["id"]), 2, item["id"],
                   dt.date.fromisoformat(item["due_date"]))
    other = make_user(app, "someone-else@example.com")
    other_api = Api(app.test_client(), other["token"])
    assert other_api.get(f"{DELIVERIES}?item={item['id']}").status_code == 404
    assert other_api.get(DELIVERIES).json == {"deliveries": []}


def test_the_api_needs_a_token(client: Any) -> None:
    for method, path in (("get", CHANNELS), ("post", CHANNELS), ("patch", f"{CHANNELS}/1"),
                         ("delete", f"{CHANNELS}/1"), ("post", f"{CHANNELS}/1/test"),
                         ("get", DELIVERIES)):
        assert getattr(client, method)(path).status_code == 401
