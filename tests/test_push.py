"""Push channels through Apprise (``feedsvc.push``): the services accepted, their addresses
checked and masked, and messages sent to real HTTP servers on 127.0.0.1 — an ntfy-compatible
one and a JSON webhook — with each kind of failure told apart."""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import unquote

import pytest

from feedsvc import push
from feedsvc.outbound import AllowList, Refused
from feedsvc.reminders import Permanent, Temporary

LOCAL = AllowList.parse("127.0.0.1")
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


# -- addresses ------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "service"), [
    (f"tgram://{TOKEN}/987654321", "Telegram"),
    ("pover://ukp9rh7g3cc3j4ohdcrhfwagx8hyyu@azGDORePK8gMaC0QOYAMyEEuzJnyUi", "Pushover"),
    ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "Discord"),
    ("schan://SCT1234567890abcdefghijklmn", "ServerChan"),
    ("pushplus://abcdef0123456789abcdef0123456789", "PushPlus"),
    ("ntfys://93.184.216.34/renewals", "ntfy"), ("gotify://93.184.216.34/AbCdEf1234567", "Gotify"),
    ("bark://93.184.216.34/device_key", "Bark"), ("jsons://93.184.216.34/hook", "JSON webhook"),
])
def test_each_accepted_service_is_read(url: str, service: str) -> None:
    assert push.service_of(url) == service
    assert push.read(url, AllowList())


@pytest.mark.parametrize("url", [
    "mailto://someone@example.org", "file:///etc/passwd", "syslog://", "http://example.org/",
    "https://93.184.216.34/hook", "windows://", "not an address", "", "ntfy:/topic",
])
def test_every_other_address_is_refused_naming_the_services(url: str) -> None:
    with pytest.raises(push.BadAddress) as problem:
        push.read(url, AllowList())
    assert "ntfy, Telegram, Gotify, Pushover, Discord, Bark, ServerChan, PushPlus" in str(
        problem.value)


@pytest.mark.parametrize("url", ["tgram://", "tgram://not-a-token/1", "pover://", "discord://x"])
def test_an_address_apprise_does_not_take_is_not_valid(url: str) -> None:
    with pytest.raises(push.BadAddress, match="This is not a valid"):
        push.read(url, AllowList())


@pytest.mark.parametrize("url", [
    "ntfy://127.0.0.1/renewals", "json://10.0.0.5/hook", "gotify://[::1]/AbCdEf1234567",
    "jsons://2130706433/hook", "bark://0x7f000001/device", "ntfy://169.254.169.254/t",
    "json://localhost:8080/hook",
])
def test_a_host_that_is_not_public_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(Refused):
        push.read(url, AllowList())
    assert push.read(url, AllowList.parse("127.0.0.0/8, ::1, 10.0.0.0/8, 169.254.0.0/16"))


@pytest.mark.parametrize(("url", "shown"), [
    (f"tgram://{TOKEN}/987654321", "tgram://1...w/987654321"),
    ("ntfys://alice:pa55w0rd@93.184.216.34/renewals", "ntfys://alice:****@93.184.216.34/r...s"),
    ("ntfy://renewals-x7k2p9", "ntfys://ntfy.sh/r...9"),
    ("ntfys://ntfy.sh/renewals-x7k2p9", "ntfys://ntfy.sh/r...9"),
    ("gotify://93.184.216.34/AbCdEf1234567", "gotify://93.184.216.34/A...7"),
    ("jsons://user:pw@93.184.216.34/hook/s3cret-t0ken?x=1", "jsons://user:****@93.184.216.34/h...k/s...n"),
    ("bark://93.184.216.34/DeviceKey123", "bark://93.184.216.34/****"),
    ("pover://ukp9rh7g3cc3j4ohdcrhfwagx8hyyu@azGDORePK8gMaC0QOYAMyEEuzJnyUi",
     "pover://u...u@a...i"),
])
def test_the_address_shown_masks_its_secrets(url: str, shown: str) -> None:
    assert push.read(url, AllowList()) == shown


@pytest.mark.parametrize("url", ["ntfy://0177.0.0.1/renewals", "ntfy://127.1/renewals",
                                 "ntfy://[::1]/renewals"])
def test_a_host_ntfy_would_read_as_a_topic_is_checked_all_the_same(url: str) -> None:
    with pytest.raises(Refused):
        push.read(url, AllowList())


# -- sending --------------------------------------------------------------------------------

ACTIONS = [("I renewed it", "https://feeds.example.org/act/renew-token"),
           ("Remind me tomorrow", "https://feeds.example.org/act/snooze-token")]


def test_an_ntfy_server_gets_the_message_with_its_buttons(push_server: Any) -> None:
    url = f"ntfy://127.0.0.1:{push_server.server_port}/renewals"
    push.send(url, "Renew MTS Russia — due in 3 days (Dec 17)", "Due: 2026-12-17\n续费",
              LOCAL, ACTIONS)
    [(path, headers, body)] = push_server.received
    message = json.loads(body)
    assert (path, message["topic"]) == ("/", "renewals")
    assert message["title"] == "Renew MTS Russia — due in 3 days (Dec 17)"
    assert message["message"] == "Due: 2026-12-17\n续费"
    assert unquote(headers["X-Actions"]) == (
        "view, I renewed it, https://feeds.example.org/act/renew-token, clear=true; "
        "view, Remind me tomorrow, https://feeds.example.org/act/snooze-token, clear=true")
    assert "X-Icon" not in headers


def test_a_json_webhook_gets_the_title_and_the_message(push_server: Any) -> None:
    push.send(f"json://127.0.0.1:{push_server.server_port}/hook", "Renew giffgaff",
              "I renewed it: https://feeds.example.org/act/renew-token", LOCAL, ACTIONS)
    [(path, headers, body)] = push_server.received
    message = json.loads(body)
    assert path == "/hook" and headers["Content-Type"].startswith("application/json")
    assert (message["title"], message["message"]) == (
        "Renew giffgaff", "I renewed it: https://feeds.example.org/act/renew-token")


@pytest.mark.parametrize(("status", "retry_after", "failure", "wait"), [
    (500, None, Temporary, None), (503, None, Temporary, None), (429, "120", Temporary, 120.0),
    (404, None, Permanent, None), (401, None, Permanent, None), (400, None, Permanent, None),
])
def test_each_answer_is_a_kind_of_failure(push_server: Any, status: int, retry_after: str | None,
                                          failure: type[Exception], wait: float | None) -> None:
    push_server.status, push_server.retry_after = status, retry_after
    with pytest.raises(failure) as problem:
        push.send(f"json://127.0.0.1:{push_server.server_port}/hook", "t", "b", LOCAL)
    assert str(status) in str(problem.value)
    assert getattr(problem.value, "retry_after", None) == wait


def test_a_service_that_fails_then_answers_gets_the_message(push_server: Any) -> None:
    url = f"ntfy://127.0.0.1:{push_server.server_port}/renewals"
    push_server.status = 500
    with pytest.raises(Temporary):
        push.send(url, "t", "b", LOCAL)
    push_server.status = 200
    push.send(url, "t", "b", LOCAL)
    assert len(push_server.received) == 2


def test_a_service_that_hangs_is_given_up_on_in_time(push_server: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push, "TIMEOUTS", (1.0, 1.0))
    push_server.delay = 5.0
    started = time.monotonic()
    with pytest.raises(Temporary, match="did not answer"):
        push.send(f"json://127.0.0.1:{push_server.server_port}/hook", "t", "b", LOCAL)
    assert time.monotonic() - started < 4


def test_a_host_that_is_not_allowed_at_send_time_is_refused(push_server: Any) -> None:
    with pytest.raises(Permanent, match="not a public address"):
        push.send(f"json://127.0.0.1:{push_server.server_port}/hook", "t", "b", AllowList())
    assert push_server.received == []


def test_a_wait_asked_for_is_taken_at_most_a_day(push_server: Any) -> None:
    push_server.status, push_server.retry_after = 429, "99999999999999999999"
    with pytest.raises(Temporary) as failure:
        push.send(f"json://127.0.0.1:{push_server.server_port}/hook", "t", "b", LOCAL)
    assert failure.value.retry_after == 24 * 3600


def test_nothing_of_a_message_or_its_address_is_logged(push_server: Any,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"ntfy://tk_S3cretT0ken@127.0.0.1:{push_server.server_port}/secret-topic"
    push.send(url, "Renew giffgaff", "Due tomorrow", LOCAL, ACTIONS)
    push_server.status = 500
    with pytest.raises(Temporary):
        push.send(url, "Renew giffgaff", "Due tomorrow", LOCAL, ACTIONS)
    assert len(push_server.received) == 2
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in ("S3cretT0ken", "secret-topic", "renew-token", "snooze-token"):
        assert secret not in logged
