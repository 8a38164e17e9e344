"""Push channels through the API and the sender: added checked and masked, refused when
their scheme or host is not allowed, tested at once, and sent each reminder with the action
buttons — to real HTTP servers on 127.0.0.1 (an ntfy-compatible one and a JSON webhook)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from flask import Flask
from sqlalchemy import select

from feedsvc import create_app, items, sender
from feedsvc.db import get_engine, new_session
from feedsvc.models import Channel, Delivery, User

from helpers import Api, app_config

CHANNELS = "/api/v1/channels"
NOW = dt.datetime(2027, 3, 17, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture
def push_api(push_app: Flask, push_user: dict[str, Any]) -> Api:
    return Api(push_app.test_client(), push_user["token"])


def add_push(api: Api, url: str, **fields: Any) -> Any:
    return api.post(CHANNELS, json={"kind": "apprise", "url": url, **fields})


# -- adding ---------------------------------------------------------------------------------

def test_a_push_channel_is_added_masked_and_needs_no_confirmation(api: Api) -> None:
    response = add_push(api, f"tgram://{TOKEN}/987654321")
    assert response.status_code == 201, response.json
    channel = response.json
    assert channel["kind"] == "apprise" and channel["name"] == "Telegram"
    assert channel["target"] == "tgram://1...w/987654321"
    assert (channel["verified"], channel["confirmation"], channel["digest"]) == (True, None, None)
    listed = api.get(CHANNELS).text
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in listed
    assert "tgram://1...w/987654321" in listed


def test_a_push_channel_may_have_a_name_and_a_digest(api: Api) -> None:
    response = add_push(api, "ntfy://ntfy.sh/renewals-4f9a1c", name="Phone", digest="08:30")
    assert response.status_code == 201, response.json
    assert (response.json["name"], response.json["digest"], response.json["target"]) == (
        "Phone", "08:30", "ntfy://ntfy.sh/r...c")
    changed = api.patch(f"{CHANNELS}/{response.json['id']}", json={"digest": None})
    assert changed.json["digest"] is None


def test_the_same_push_address_twice_is_409(api: Api) -> None:
    assert add_push(api, f"tgram://{TOKEN}/987654321").status_code == 201
    again = add_push(api, f"tgram://{TOKEN}/987654321")
    assert again.status_code == 409
    assert again.json["error"]["fields"] == {"url": "is already one of your channels"}
    assert TOKEN not in again.text


ACCEPTED = ("ntfy, Telegram, Gotify, Pushover, Discord, Bark, ServerChan, PushPlus, "
            "JSON webhook")


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "syslog://", "syslog://127.0.0.1", "mailto://user:pw@example.com",
    "windows://", "dbus://", "form://example.com/hook", "xml://example.com/hook",
    "https://example.com/hook", "not an address", "", "ntfy", "NTFY:/x",
])
def test_any_other_scheme_is_422_naming_the_accepted_services(api: Api, url: str) -> None:
    response = add_push(api, url)
    assert response.status_code == 422, response.json
    assert response.json["error"]["message"] == f"Only these services are accepted: {ACCEPTED}."
    assert "url" in response.json["error"]["fields"]
    assert len(api.get(CHANNELS).json["channels"]) == 1


@pytest.mark.parametrize("url", [
    "tgram://not-a-token/", "pover://", "discord://", "schan://", "ntfys://", "json://",
    "ntfy://a..b/topic", "ntfy://" + "a" * 64 + ".com/topic", "json://a..b/hook",
])
def test_an_address_apprise_cannot_read_is_422(api: Api, url: str) -> None:
    response = add_push(api, url)
    assert response.status_code == 422, response.json
    assert response.json["error"]["message"].startswith("This is not a valid ")


@pytest.mark.parametrize("host", [
    "127.0.0.1", "localhost", "[::1]", "10.0.0.5", "169.254.169.254", "0.0.0.0", "2130706433",
    "0x7f000001", "0177.0.0.1", "127.1", "[::ffff:127.0.0.1]", "192.168.1.20", "100.64.0.1",
    "[fd00::1]", "[fe80::1]", "224.0.0.1",
])
@pytest.mark.parametrize("scheme", ["ntfy", "json", "gotify", "bark"])
def test_a_host_that_is_not_public_is_422_without_the_allow_list(api: Api, scheme: str,
                                                                 host: str) -> None:
    response = add_push(api, f"{scheme}://{host}/renewals")
    assert response.status_code == 422, response.json
    # Refused as not public, or (Apprise's own check) as no host at all.
    assert response.json["error"]["fields"] in ({"url": "is not a public address"},
                                                {"url": "is not an accepted address"})


def test_the_allow_list_lets_a_listed_host_through(push_api: Api) -> None:
    assert add_push(push_api, "ntfy://127.0.0.1:8090/renewals").status_code == 201
    refused = add_push(push_api, "ntfy://10.0.0.5/renewals")
    assert refused.status_code == 422


def test_a_push_body_with_an_address_or_without_a_url_is_422(api: Api) -> None:
    with_address = api.post(CHANNELS, json={"kind": "apprise", "url": f"tgram://{TOKEN}/1",
                                            "address": "a@example.com"})
    assert with_address.status_code == 422
    assert with_address.json["error"]["fields"] == {
        "address": "is not used by this kind of channel"}
    without = api.post(CHANNELS, json={"kind": "apprise"})
    assert without.json["error"]["fields"] == {"url": "is required"}


# -- testing and sending --------------------------------------------------------------------

def test_the_test_button_sends_at_once_and_shows_the_answer(push_api: Api,
                                                            push_server: Any) -> None:
    channel = add_push(push_api, f"ntfy://127.0.0.1:{push_server.server_port}/renewals").json
    sent = push_api.post(f"{CHANNELS}/{channel['id']}/test").json["delivery"]
    assert (sent["status"], sent["error"]) == ("sent", None)
    [message] = push_server.messages()
    assert message["topic"] == "renewals"
    assert message["title"] == "Test from feedsvc: reminders reach this address"
    push_server.status = 404
    failed = push_api.post(f"{CHANNELS}/{channel['id']}/test").json["delivery"]
    assert (failed["status"], failed["error"]) == (
        "failed", "The service refused the message: HTTP 404.")


def add_items(app: Flask, user_id: int, count: int) -> None:
    """Items whose 14-day alarm (09:00 on 17 March in Shanghai) is due at ``NOW``."""
    with app.app_context(), new_session(app) as session:
        user = session.get_one(User, user_id)
        for n in range(count):
            items.create_item(session, user, {"title": f"SIM {n}", "due_date": "2027-03-31",
                                              "provider": "MTS"})
        session.commit()


def test_a_pass_sends_ntfy_its_reminders_with_both_buttons(push_app: Flask, push_api: Api,
                                                           push_user: dict[str, Any],
                                                           push_server: Any) -> None:
    add_push(push_api, f"ntfy://127.0.0.1:{push_server.server_port}/renewals")
    add_items(push_app, push_user["id"], 2)
    # The account's own address is not confirmed: only the push channel gets them.
    assert sender.run_pass(push_app, NOW).line() == "sent 2, retrying 0, failed 0, skipped 0"
    pushed = [(json_body, headers) for (_, headers, _), json_body
              in zip(push_server.received, push_server.messages(), strict=True)]
    assert sorted(message["title"] for message, _ in pushed) == [
        "Renew SIM 0 — due in 14 days (Mar 31)", "Renew SIM 1 — due in 14 days (Mar 31)"]
    for message, headers in pushed:
        assert "Provider: MTS" in message["message"]
        # The actions are buttons, not links in the text.
        assert "/act/" not in message["message"]
        renew, snooze = unquote(headers["X-Actions"]).split("; ")
        assert renew.startswith("view, I renewed it, https://feeds.example.org/act/")
        assert snooze.startswith("view, Remind me tomorrow, https://feeds.example.org/act/")
    # Nothing goes twice.
    assert sender.run_pass(push_app, NOW + dt.timedelta(minutes=1)).sent == 0


def test_a_json_webhook_gets_the_action_links_in_the_text(push_app: Flask, push_api: Api,
                                                          push_user: dict[str, Any],
                                                          push_server: Any) -> None:
    add_push(push_api, f"json://127.0.0.1:{push_server.server_port}/hook")
    add_items(push_app, push_user["id"], 1)
    sender.run_pass(push_app, NOW)
    [message] = push_server.messages()
    assert message["title"] == "Renew SIM 0 — due in 14 days (Mar 31)"
    assert "I renewed it:\nhttps://feeds.example.org/act/" in message["message"]
    assert "Remind me tomorrow:\nhttps://feeds.example.org/act/" in message["message"]


def test_a_failing_service_is_retried_then_paused_with_the_reason(push_app: Flask,
                                                                  push_api: Api,
                                                                  push_user: dict[str, Any],
                                                                  push_server: Any) -> None:
    channel_id = add_push(push_api, f"json://127.0.0.1:{push_server.server_port}/hook").json["id"]
    add_items(push_app, push_user["id"], 5)
    push_server.statuses = [503]
    push_server.status = 404
    sender.run_pass(push_app, NOW)
    with new_session(push_app) as session:
        found = session.scalars(select(Delivery.status).where(
            Delivery.channel_id == channel_id)).all()
        channel = session.get_one(Channel, channel_id)
        assert sorted(found) == ["failed"] * 4 + ["retrying"]
        assert channel.failures == 4 and channel.paused_at is None
    push_server.statuses = []
    sender.run_pass(push_app, NOW + dt.timedelta(minutes=2))
    with new_session(push_app) as session:
        channel = session.get_one(Channel, channel_id)
        assert channel.paused_at is not None
        assert channel.pause_reason == "The service refused the message: HTTP 404."


def test_a_channel_sealed_under_another_key_fails_saying_so(push_app: Flask, push_api: Api,
                                                            push_server: Any) -> None:
    channel_id = add_push(push_api, f"json://127.0.0.1:{push_server.server_port}/hook").json["id"]
    with new_session(push_app) as session:
        channel = session.get_one(Channel, channel_id)
        channel.secret = channel.secret[:-4] + "AAAA"  # type: ignore[index]
        session.commit()
    failed = push_api.post(f"{CHANNELS}/{channel_id}/test").json["delivery"]
    assert failed["status"] == "failed"
    assert "cannot be read with this service's secret key" in failed["error"]
    assert push_server.received == []


def test_each_send_checks_the_host_again(push_app: Flask, push_api: Api, database_url: str,
                                         tmp_path: Path, push_server: Any) -> None:
    """Allowed when added, no longer allowed when sent: refused before connecting."""
    channel_id = add_push(push_api, f"ntfy://127.0.0.1:{push_server.server_port}/renewals").json["id"]
    strict = create_app(app_config(tmp_path / "strict-instance", database_url))
    try:
        with strict.app_context(), new_session(strict) as session:
            user = session.get_one(User, session.get_one(Channel, channel_id).user_id)
            _, delivery = sender.test_channel(strict, session, user, channel_id)
    finally:
        get_engine(strict).dispose()
    assert (delivery.status, delivery.error) == ("failed", "127.0.0.1 is not a public address.")
    assert push_server.received == []


def test_a_channel_sealed_under_another_key_does_not_stop_adding_others(push_app: Flask,
                                                                        push_api: Api) -> None:
    url = f"tgram://{TOKEN}/987654321"
    channel_id = add_push(push_api, url).json["id"]
    with new_session(push_app) as session:
        channel = session.get_one(Channel, channel_id)
        channel.secret = channel.secret[:-4] + "AAAA"  # type: ignore[index]
        session.commit()
    assert add_push(push_api, f"tgram://{TOKEN}/12345").status_code == 201
    # Added again, it is told apart from the one that can no longer be read.
    again = add_push(push_api, url)
    assert again.status_code == 201, again.json
    assert again.json["target"] == "tgram://1...w/987654321 (2)"


def test_two_addresses_shown_alike_are_numbered(push_api: Api) -> None:
    first = add_push(push_api, "ntfy://127.0.0.1/renewals-phone").json
    second = add_push(push_api, "ntfy://127.0.0.1/renewals-home").json
    third = add_push(push_api, "ntfy://127.0.0.1/reminders-home").json
    assert [c["target"] for c in (first, second, third)] == [
        "ntfy://127.0.0.1/r...e", "ntfy://127.0.0.1/r...e (2)", "ntfy://127.0.0.1/r...e (3)"]
    assert add_push(push_api, "ntfy://127.0.0.1/renewals-home").status_code == 409
