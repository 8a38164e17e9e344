"""Push and chat channels on the Reminders page: added from their Apprise URL and shown
masked (the URL as typed never comes back but in its own field), refused services and
private hosts, digest times, tests sent to a real ntfy-like server on 127.0.0.1, the
how-to's addresses, and the delivery states and reasons in both languages."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from feedsvc import channels, outbound, push
from feedsvc.db import new_session
from feedsvc.models import Channel, Delivery, User
from feedsvc.outbound import AllowList

from helpers import Browser, Page, make_user, signed_in

NOW = dt.datetime(2027, 3, 17, 1, 0, tzinfo=dt.UTC)
TOPIC = "renewals-k3y9q7"
BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SERVICES = "ntfy, Telegram, Gotify, Pushover, Discord, Bark, ServerChan, PushPlus, JSON webhook"
ONLY_THESE = f"Only these services are accepted: {SERVICES}."
BAD_TIME = "must be a time written HH:MM, from 00:00 to 23:59"


@pytest.fixture
def browser(push_app: Flask, push_user: dict[str, Any]) -> Browser:
    return signed_in(push_app.test_client(), push_user)


def shown(page: Page) -> str:
    """The text of the page's main part, tags left out and spaces collapsed."""
    main = page.text.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", main.split(">", 1)[1]).split())


def card(page: Page, channel_id: int) -> str:
    """The text of one channel's card."""
    html = page.text.split(f'id="channel-{channel_id}"', 1)[1].split("</li>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", html.split(">", 1)[1]).split())


def add_push(browser: Browser, url: str, **fields: str) -> Page:
    return browser.submit("/reminders", {"url": url, **fields}, action="/reminders/push")


def stored(app: Flask) -> list[Channel]:
    """The push channels of every account."""
    with new_session(app) as session:
        found = list(session.scalars(select(Channel).where(Channel.kind == "apprise")
                                     .order_by(Channel.id)))
        session.expunge_all()
        return found


def add_stored(app: Flask, user: dict[str, Any], url: str, digest: str | None = None) -> int:
    """A push channel added as the API adds it; its id."""
    with app.app_context(), new_session(app) as session:
        channel = channels.add_channel(session, session.get_one(User, user["id"]),
                                       {"kind": "apprise", "url": url, "digest": digest}, NOW,
                                       app.config)
        session.commit()
        return channel.id


def post_to(browser: Browser, action: str, **data: str) -> Page:
    """Send the Reminders page's form posting to ``action``, with ``data`` changed."""
    form = browser.get("/reminders").form(action)
    return Page(browser.client.post(action, data={**form.fields, **data}))


# ---- adding ------------------------------------------------------------------------------

def test_an_added_ntfy_channel_is_shown_masked_and_its_topic_nowhere(
        push_app: Flask, browser: Browser) -> None:
    url = f"ntfy://127.0.0.1:8080/{TOPIC}"
    response = add_push(browser, url, name="My phone")
    assert response.status == 302
    page = browser.get(response.response.location)
    masked = "ntfy://127.0.0.1:8080/r...7"
    assert page.flashes() == [(f"Added {masked}: reminders go there from now on. “Send a test” "
                              "shows whether they arrive.")]
    (channel,) = stored(push_app)
    assert (channel.target, channel.name, channel.digest) == (masked, "My phone", None)
    assert card(page, channel.id).startswith(
        f"{masked} My phone Service: ntfy On Each reminder is sent at its time Send a test")
    assert "Confirm" not in card(page, channel.id)  # nothing to confirm for a push channel
    assert TOPIC not in page.text
    assert page.values("/reminders/push")["url"] == ""
    assert TOPIC not in (channel.secret or "")  # stored sealed
    assert TOPIC not in browser.get(f"/reminders/{channel.id}/delete").text


def test_a_channel_added_with_a_digest_time_shows_it(push_app: Flask, browser: Browser) -> None:
    add_push(browser, f"tgram://{BOT_TOKEN}/987654321", digest="07:30")
    (channel,) = stored(push_app)
    page = browser.get("/reminders")
    assert channel.digest == "07:30"
    assert "Service: Telegram On Daily digest at 07:30" in card(page, channel.id)
    assert page.by_id[f"channel-{channel.id}-digest"]["value"] == "07:30"
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in page.text


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "syslog://", "mailto://someone@example.org", "http://example.org/",
    "not an address", "",
])
def test_a_service_not_accepted_is_422_naming_those_that_are(push_app: Flask, browser: Browser,
                                                            url: str) -> None:
    page = add_push(browser, url)
    assert page.status == 422
    assert page.text.count(ONLY_THESE) == 1
    assert page.error("url") == "Error: is not an accepted address"
    assert page.values("/reminders/push")["url"] == url
    assert stored(push_app) == []


@pytest.mark.parametrize(("url", "host"), [
    ("ntfy://10.0.0.5/topic", r"10\.0\.0\.5"), ("json://127.0.0.1/hook", r"127\.0\.0\.1"),
    ("gotify://[::1]/AbCdEf1234567", r"\[?::1\]?"), ("jsons://2130706433/hook", "2130706433"),
])
def test_a_private_host_is_422_without_the_allow_list(app: Flask, user: dict[str, Any],
                                                     url: str, host: str) -> None:
    browser = signed_in(app.test_client(), user)
    page = add_push(browser, url)
    assert page.status == 422
    form_message = shown(page).split("Add a push or chat channel", 1)[1]
    assert re.search(rf"{host} (points to [0-9.:]+, which )?is not a public address\.",
                     form_message)
    assert page.error("url") == "Error: is not a public address"
    assert page.text.count(url) == 1  # in its own field, and nowhere else
    assert page.values("/reminders/push")["url"] == url
    assert stored(app) == []


def test_a_channel_added_twice_is_409_and_the_secret_only_in_its_field(
        push_app: Flask, browser: Browser) -> None:
    url = f"tgram://{BOT_TOKEN}/987654321"
    add_push(browser, url)
    page = add_push(browser, url)
    assert page.status == 409
    assert "You already have the channel tgram://1...w/987654321." in shown(page)
    assert page.error("url") == "Error: is already one of your channels"
    assert page.text.count("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw") == 1
    assert page.values("/reminders/push")["url"] == url
    assert len(stored(push_app)) == 1


@pytest.mark.parametrize(("fields", "control", "message"), [
    ({"digest": "25:00"}, "digest", BAD_TIME),
    ({"digest": "8 am"}, "digest", BAD_TIME),
    ({"name": "x" * 101}, "name", "String should have at most 100 characters"),
])
def test_a_bad_name_or_digest_is_shown_next_to_its_field(
        push_app: Flask, browser: Browser, fields: dict[str, str], control: str,
        message: str) -> None:
    page = add_push(browser, f"ntfy://127.0.0.1/{TOPIC}", **fields)
    assert page.status == 422
    assert page.error(control) == "Error: " + message
    assert page.values("/reminders/push")[control] == fields[control]
    assert stored(push_app) == []


def test_a_push_channel_is_removed_after_asking(push_app: Flask, push_user: dict[str, Any],
                                               browser: Browser) -> None:
    channel_id = add_stored(push_app, push_user, f"ntfy://127.0.0.1/{TOPIC}")
    asked = browser.get(f"/reminders/{channel_id}/delete")
    assert shown(asked).startswith("Remove ntfy://127.0.0.1/r...7? No more reminders go to "
                                   "this channel")
    assert "Remove channel" in shown(asked)
    assert browser.submit(f"/reminders/{channel_id}/delete").status == 302
    assert browser.get("/reminders").flashes() == [
        "Removed ntfy://127.0.0.1/r...7: no more reminders go there."]
    assert stored(push_app) == []


# ---- digests -----------------------------------------------------------------------------

def test_a_digest_time_is_set_changed_and_cleared_from_the_card(
        push_app: Flask, push_user: dict[str, Any], browser: Browser) -> None:
    channel_id = add_stored(push_app, push_user, f"ntfy://127.0.0.1/{TOPIC}")
    action = f"/reminders/{channel_id}/digest"
    assert post_to(browser, action, digest="08:00").status == 302
    page = browser.get("/reminders")
    assert page.flashes() == [("Reminders to ntfy://127.0.0.1/r...7 now come together in one "
                              "daily digest at 08:00.")]
    assert "Daily digest at 08:00" in card(page, channel_id)
    assert stored(push_app)[0].digest == "08:00"
    post_to(browser, action, digest="21:15")
    assert stored(push_app)[0].digest == "21:15"
    # "Each reminder at once" sends the time too; the button wins.
    assert post_to(browser, action, at_once="1").status == 302
    page = browser.get("/reminders")
    assert page.flashes() == [("Reminders to ntfy://127.0.0.1/r...7 are sent one by one, each "
                              "at its time.")]
    assert "Each reminder is sent at its time" in card(page, channel_id)
    assert stored(push_app)[0].digest is None
    # An emptied time means the same.
    post_to(browser, action, digest="06:45")
    assert post_to(browser, action, digest="").status == 302
    assert stored(push_app)[0].digest is None


def test_the_accounts_address_gets_a_digest_time_too(push_app: Flask, browser: Browser) -> None:
    page = post_to(browser, "/reminders/1/digest", digest="09:00")
    assert page.status == 302
    assert "Daily digest at 09:00" in card(browser.get("/reminders"), 1)


@pytest.mark.parametrize("value", ["25:00", "8:00", "08:00:00", "noon", "0" * 300])
def test_a_bad_digest_time_is_422_on_its_card_and_changes_nothing(
        push_app: Flask, push_user: dict[str, Any], browser: Browser, value: str) -> None:
    channel_id = add_stored(push_app, push_user, f"ntfy://127.0.0.1/{TOPIC}", digest="07:00")
    page = post_to(browser, f"/reminders/{channel_id}/digest", digest=value)
    assert page.status == 422
    assert page.texts[f"channel-{channel_id}-digest-error"] == f"Error: {BAD_TIME}"
    assert (f"The digest time of ntfy://127.0.0.1/r...7 was not changed: {BAD_TIME}"
            in shown(page))
    digest_input = page.by_id[f"channel-{channel_id}-digest"]
    assert digest_input["aria-invalid"] == "true"
    assert '<details class="digest" open>' in page.text
    assert stored(push_app)[0].digest == "07:00"


# ---- another account's channels, and CSRF ------------------------------------------------

@pytest.mark.parametrize("suffix", ["/digest", "/test", "/switch", "/delete"])
def test_another_accounts_push_channel_is_404(push_app: Flask, browser: Browser,
                                              suffix: str) -> None:
    other = make_user(push_app, "other@example.com")
    theirs = add_stored(push_app, other, f"ntfy://127.0.0.1/{TOPIC}", digest="07:00")
    response = browser.client.post(f"/reminders/{theirs}{suffix}", data={
        "csrf_token": browser.csrf_token(), "digest": "", "enabled": "off"})
    assert response.status_code == 404
    (channel,) = stored(push_app)
    assert (channel.digest, channel.enabled, channel.user_id) == ("07:00", True, other["id"])


def test_the_push_and_digest_forms_need_the_csrf_token(push_app: Flask, push_user: dict[str, Any],
                                                       browser: Browser) -> None:
    channel_id = add_stored(push_app, push_user, f"ntfy://127.0.0.1/{TOPIC}", digest="07:00")
    assert browser.client.post("/reminders/push", data={
        "url": "ntfy://127.0.0.1/other-topic"}).status_code == 400
    assert browser.client.post(f"/reminders/{channel_id}/digest", data={
        "at_once": "1"}).status_code == 400
    (channel,) = stored(push_app)
    assert channel.digest == "07:00"


# ---- tests sent to a real server ---------------------------------------------------------

def test_send_a_test_reaches_the_ntfy_server_and_the_page_says_so(
        push_app: Flask, push_user: dict[str, Any], browser: Browser, push_server: Any) -> None:
    channel_id = add_stored(push_app, push_user, f"ntfy://127.0.0.1:{push_server.server_port}/{TOPIC}")
    assert post_to(browser, f"/reminders/{channel_id}/test").status == 302
    page = browser.get("/reminders")
    masked = f"ntfy://127.0.0.1:{push_server.server_port}/r...7"
    assert page.flashes() == [f"Test message sent to {masked}. Check that it arrived."]
    [(path, _, body)] = push_server.received
    assert (path, json.loads(body)["topic"]) == ("/", TOPIC)
    assert "Test message Sent planned" in shown(page)
    assert TOPIC not in page.text


def test_a_test_the_server_refuses_shows_why(push_app: Flask, push_user: dict[str, Any],
                                             browser: Browser, push_server: Any) -> None:
    push_server.status = 404
    channel_id = add_stored(push_app, push_user, f"ntfy://127.0.0.1:{push_server.server_port}/{TOPIC}")
    post_to(browser, f"/reminders/{channel_id}/test")
    page = browser.get("/reminders")
    masked = f"ntfy://127.0.0.1:{push_server.server_port}/r...7"
    assert page.flashes() == [(f"The test message to {masked} could not be sent: The service "
                              "refused the message: HTTP 404.")]
    assert len(push_server.received) == 1
    text = shown(page).split("Recent deliveries", 1)[1]
    assert "Test message Failed" in text and "HTTP 404" in text


# ---- the how-to --------------------------------------------------------------------------

# Values of the right shape for the how-to's words in capitals; APP_TOKEN by service.
SAMPLE_VALUES = {
    "TOPIC": TOPIC, "HOST": "93.184.216.34", "USER": "alice", "PASSWORD": "pa55w0rd",
    "BOT_TOKEN": BOT_TOKEN, "CHAT_ID": "987654321", "DEVICE_KEY": "devicekey", "PATH": "hook",
    "SENDKEY": "SCT1234567TabcDEF", "TOKEN": "abcdef0123456789abcdef0123456789",
    "WEBHOOK_ID": "4174216298", "WEBHOOK_TOKEN": "JHMHI8qBe7bk2ZwO5U711o3dV_js",
    "USER_KEY": "ukp9rh7g3cc3j4ohdcrhfwagx8hyyu",
}
APP_TOKENS = {"Pushover": "azGDORePK8gMaC0QOYAMyEEuzJnyUi", "Gotify": "AbCdEf1234567"}


def test_every_address_the_how_to_gives_is_accepted(browser: Browser,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Each service has an example, and each example, its capitals filled in, reads as its
    service's. The hosts named are not looked up (the tests send no DNS queries)."""
    monkeypatch.setattr(outbound, "check_new", lambda host, port, allow: None)
    howto = browser.get("/reminders").text.split('id="push-howto"', 1)[1].split(
        'id="deliveries"', 1)[0]
    # Whole addresses, not a scheme named on its own ("ntfy:// without HTTPS").
    examples = [example for example in re.findall(r"<code>([^<]+)</code>", howto)
                if push.service_of(example) and example.partition("://")[2]]
    assert {push.service_of(example) for example in examples} == set(push.SERVICES)
    for example in examples:
        values = {**SAMPLE_VALUES, "APP_TOKEN": APP_TOKENS.get(str(push.service_of(example)))}
        filled = re.sub(r"[A-Z][A-Z_]+", "{\\g<0>}", example).format(**values)
        assert push.read(filled, AllowList()), example
    assert "FEEDSVC_CHANNEL_ALLOW_HOSTS" in howto


def test_the_how_to_and_the_push_form_read_in_chinese(push_app: Flask) -> None:
    user = make_user(push_app, "zh@example.com", locale="zh-Hans")
    page = signed_in(push_app.test_client(), user).get("/reminders")
    text = shown(page)
    for words in ("添加推送或聊天渠道", "渠道地址（Apprise URL）", "在 Telegram 里", "@BotFather",
                  "tgram://BOT_TOKEN/CHAT_ID", "FEEDSVC_CHANNEL_ALLOW_HOSTS"):
        assert words in text, words
    assert "Add a push or chat channel" not in text


# ---- delivery states and reasons ---------------------------------------------------------

def record_deliveries(app: Flask, user_id: int) -> None:
    """One reminder waiting for the digest, and two skipped with the engine's reasons."""
    with new_session(app) as session:
        channel_id = session.scalars(select(Channel.id).where(Channel.user_id == user_id)).one()
        session.add_all([
            Delivery(user_id=user_id, channel_id=channel_id, item_id=None, kind="test",
                     due_date=None, planned_at=NOW, status=status, attempts=0, error=error,
                     created_at=NOW)
            for status, error in (("skipped", "too late to be of use"),
                                  ("skipped", "a later reminder went instead"),
                                  ("waiting", None))])
        session.commit()


def test_a_waiting_delivery_and_the_engines_reasons_read_in_english(
        push_app: Flask, browser: Browser, push_user: dict[str, Any]) -> None:
    record_deliveries(push_app, push_user["id"])
    text = shown(browser.get("/reminders")).split("Recent deliveries", 1)[1]
    assert "Test message Waiting for the digest" in text
    assert "a later reminder went instead" in text and "too late to be of use" in text


def test_a_waiting_delivery_and_the_engines_reasons_read_in_chinese(push_app: Flask) -> None:
    user = make_user(push_app, "zh@example.com", locale="zh-Hans")
    record_deliveries(push_app, user["id"])
    text = shown(signed_in(push_app.test_client(), user).get("/reminders"))
    assert "等待每日汇总" in text
    assert "a later reminder went instead" not in text and "too late to be of use" not in text
