"""The Reminders page and the unsubscribe links: addresses confirmed by mail (through a real
SMTP server), tests that arrive, switching, pausing and resuming, removal, the history on
the page and on an item's page, and RFC 8058 one-click unsubscribing."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feedsvc import channels
from feedsvc.db import new_session
from feedsvc.models import Channel, Delivery, User

from helpers import SECRET_KEY, VALID_ITEM, Api, Browser, Page, make_user, signed_in
from helpers.smtp import SmtpServer

NOW = dt.datetime(2027, 3, 17, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
CONFIRMATION_SENT = ("We sent a confirmation link to family@example.com. Reminders go there "
                     "once it is opened.")


@pytest.fixture
def mail_user(mail_app: Flask) -> dict[str, Any]:
    return make_user(mail_app, timezone="Asia/Shanghai")


@pytest.fixture
def browser(mail_app: Flask, mail_user: dict[str, Any]) -> Browser:
    return signed_in(mail_app.test_client(), mail_user)


def shown(page: Page) -> str:
    """The text of the page's main part, tags left out and spaces collapsed."""
    main = page.text.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", main.split(">", 1)[1]).split())


def add_address(browser: Browser, address: str) -> Page:
    return browser.submit("/reminders", {"address": address}, action="/reminders")


def channel_of(app: Flask, address: str) -> Channel:
    with new_session(app) as session:
        channel = session.scalars(select(Channel).where(Channel.target == address)).one()
        session.expunge(channel)
        return channel


def confirm(app: Flask, address: str) -> int:
    with new_session(app) as session:
        channel = session.scalars(select(Channel).where(Channel.target == address)).one()
        channel.verified_at = NOW
        session.commit()
        return channel.id


def pause(app: Flask, channel_id: int, reason: str = "SMTP 550 no such mailbox") -> None:
    with new_session(app) as session:
        channel = session.get_one(Channel, channel_id)
        channel.failures, channel.paused_at, channel.pause_reason = 5, NOW, reason
        session.commit()


def post_button(browser: Browser, action: str) -> Page:
    """Press a button of the Reminders page: the form posting to ``action``."""
    form = browser.get("/reminders").form(action)
    return Page(browser.client.post(action, data=form.fields))


def unsubscribe_path(app: Flask, address: str) -> str:
    return "/unsubscribe/" + channels.unsubscribe_token(SECRET_KEY, channel_of(app, address))


# ---- the page ----------------------------------------------------------------------------

def test_the_navigation_leads_to_the_reminders_page(browser: Browser) -> None:
    assert 'href="/reminders"' in browser.get("/").text
    page = browser.get("/reminders")
    assert page.status == 200
    assert '<a href="/reminders" aria-current="page">Reminders</a>' in page.text


def test_the_accounts_address_is_listed_waiting_for_its_confirmation(browser: Browser) -> None:
    page = browser.get("/reminders")
    text = shown(page)
    assert "user@example.com Confirmation sent On · your account’s address" in text
    assert page.form("/reminders/1/confirm")  # "Resend"
    assert "/reminders/1/delete" not in page.text  # only switched off, never removed
    assert "/reminders/1/test" not in page.text  # no test before it is confirmed
    assert "outbox" not in text  # mail is set up here


def test_without_a_relay_the_page_says_mail_goes_to_the_outbox(client: FlaskClient,
                                                               user: dict[str, Any]) -> None:
    text = shown(signed_in(client, user).get("/reminders"))
    assert "Mail is not set up on this server yet" in text
    assert "outbox folder" in text


def test_adding_an_address_mails_its_confirmation_link(mail_app: Flask, browser: Browser,
                                                       smtp_server: SmtpServer) -> None:
    response = add_address(browser, " Family@Example.com ")
    assert response.status == 302
    page = browser.get(response.response.location)
    assert page.flashes() == [CONFIRMATION_SENT]
    (received,) = smtp_server.received
    assert received.recipients == ["family@example.com"]
    body = received.message.get_body(preferencelist=("plain",))
    assert body is not None
    link = re.search(r"https://feeds\.example\.org(/confirm/\S+)", str(body.get_content()))
    assert link is not None
    assert channel_of(mail_app, "family@example.com").verified_at is None
    assert "family@example.com Confirmation sent On" in shown(page)
    # The link confirms that address.
    with new_session(mail_app) as session:
        token = link.group(1).removeprefix("/confirm/")
        assert channels.confirm(session, SECRET_KEY, token, NOW).target == "family@example.com"
        session.commit()
    assert "family@example.com Confirmed On" in shown(browser.get("/reminders"))


@pytest.mark.parametrize("address, status, message", [
    ("", 422, "must be an e-mail address such as you@example.com"),
    ("not an address", 422, "must be an e-mail address such as you@example.com"),
    ("me@localhost", 422, "must be an e-mail address such as you@example.com"),
    ("a" * 250 + "@example.com", 422, "String should have at most 254 characters"),
    ("user@example.com", 409, "is already one of your addresses"),
    ("USER@example.com", 409, "is already one of your addresses"),
])
def test_a_bad_or_known_address_is_shown_next_to_the_field(
        browser: Browser, smtp_server: SmtpServer, address: str, status: int,
        message: str) -> None:
    page = add_address(browser, address)
    assert page.status == status
    assert page.error("address") == "Error: " + message
    assert page.values("/reminders")["address"] == address
    assert smtp_server.received == []


def test_a_relay_that_is_down_adds_the_address_and_says_the_mail_will_need_resending(
        mail_app: Flask, browser: Browser, smtp_server: SmtpServer) -> None:
    smtp_server.stop()
    page = browser.get(add_address(browser, "family@example.com").response.location)
    (flash,) = page.flashes()
    assert flash.startswith("The confirmation mail to family@example.com could not be sent "
                            "now (The mail relay ")
    assert "Try “Resend” later." in flash
    smtp_server.start()
    channel_id = channel_of(mail_app, "family@example.com").id
    again = post_button(browser, f"/reminders/{channel_id}/confirm")
    assert again.status == 302
    assert [r.recipients for r in smtp_server.received] == [["family@example.com"]]
    assert browser.get("/reminders").flashes() == [CONFIRMATION_SENT]


def test_resending_to_a_confirmed_address_sends_nothing(mail_app: Flask, browser: Browser,
                                                        smtp_server: SmtpServer) -> None:
    channel_id = confirm(mail_app, "user@example.com")
    csrf = browser.csrf_token()
    browser.client.post(f"/reminders/{channel_id}/confirm", data={"csrf_token": csrf})
    assert browser.get("/reminders").flashes() == ["user@example.com is already confirmed."]
    assert smtp_server.received == []


# ---- tests -------------------------------------------------------------------------------

def test_send_a_test_arrives_and_the_page_says_so(mail_app: Flask, browser: Browser,
                                                  smtp_server: SmtpServer) -> None:
    channel_id = confirm(mail_app, "user@example.com")
    page = browser.get("/reminders")
    assert "user@example.com Confirmed On" in shown(page)
    assert post_button(browser, f"/reminders/{channel_id}/test").status == 302
    page = browser.get("/reminders")
    assert page.flashes() == ["Test message sent to user@example.com. Check that it arrived."]
    (received,) = smtp_server.received
    assert received.recipients == ["user@example.com"]
    assert "Recent deliveries Test message Sent planned" in shown(page)


def test_a_failed_test_shows_the_reason(mail_app: Flask, browser: Browser,
                                        smtp_server: SmtpServer) -> None:
    channel_id = confirm(mail_app, "user@example.com")
    smtp_server.refuse_recipient("user@example.com")
    post_button(browser, f"/reminders/{channel_id}/test")
    page = browser.get("/reminders")
    (flash,) = page.flashes()
    assert flash.startswith("The test message to user@example.com could not be sent: The mail "
                            "server refused the message: SMTP 550")
    text = shown(page)
    assert "Test message Failed" in text and "SMTP 550 5.1.1 No such mailbox here" in text


def test_a_test_to_an_unconfirmed_address_is_409(mail_app: Flask, browser: Browser,
                                                 smtp_server: SmtpServer) -> None:
    channel_id = channel_of(mail_app, "user@example.com").id
    response = browser.client.post(f"/reminders/{channel_id}/test",
                                   data={"csrf_token": browser.csrf_token()})
    assert response.status_code == 409
    assert "not confirmed yet" in response.get_data(as_text=True)
    assert smtp_server.received == []


# ---- switching, pausing, removing --------------------------------------------------------

def test_an_address_is_switched_off_and_on(mail_app: Flask, browser: Browser) -> None:
    channel_id = channel_of(mail_app, "user@example.com").id
    post_button(browser, f"/reminders/{channel_id}/switch")
    page = browser.get("/reminders")
    assert page.flashes() == ["Reminders to user@example.com are switched off."]
    assert "user@example.com Confirmation sent Off" in shown(page)
    assert channel_of(mail_app, "user@example.com").enabled is False
    post_button(browser, f"/reminders/{channel_id}/switch")
    assert browser.get("/reminders").flashes() == [
        "Reminders to user@example.com are switched on."]
    assert channel_of(mail_app, "user@example.com").enabled is True


def test_a_paused_address_shows_why_and_switching_it_back_on_resumes_it(
        mail_app: Flask, browser: Browser) -> None:
    channel_id = confirm(mail_app, "user@example.com")
    pause(mail_app, channel_id)
    page = browser.get("/reminders")
    assert "Confirmed Paused" in shown(page)
    assert ("Paused on Mar 17, 2027, 9:00 AM after 5 failed deliveries in a row: SMTP 550 no "
            "such mailbox" in shown(page))
    assert "Switch back on" in page.text
    post_button(browser, f"/reminders/{channel_id}/switch")
    page = browser.get("/reminders")
    assert page.flashes() == [("Reminders to user@example.com are on again; the failures "
                               "that paused it are forgotten.")]
    assert "Confirmed On" in shown(page)
    channel = channel_of(mail_app, "user@example.com")
    assert (channel.enabled, channel.paused_at, channel.pause_reason, channel.failures) == (
        True, None, None, 0)


def test_a_switch_without_a_choice_is_400(mail_app: Flask, browser: Browser) -> None:
    channel_id = channel_of(mail_app, "user@example.com").id
    response = browser.client.post(f"/reminders/{channel_id}/switch",
                                   data={"csrf_token": browser.csrf_token(), "enabled": "maybe"})
    assert response.status_code == 400


def test_an_added_address_is_removed_after_asking(mail_app: Flask, browser: Browser) -> None:
    add_address(browser, "family@example.com")
    channel_id = channel_of(mail_app, "family@example.com").id
    asked = browser.get(f"/reminders/{channel_id}/delete")
    assert asked.status == 200
    assert "Remove family@example.com?" in shown(asked)
    done = browser.submit(f"/reminders/{channel_id}/delete")
    assert done.status == 302
    page = browser.get("/reminders")
    assert page.flashes() == ["Removed family@example.com: no more reminders go there."]
    channels_listed = shown(page).split("Channels", 1)[1].split("Add an e-mail address", 1)[0]
    assert "user@example.com" in channels_listed
    assert "family@example.com" not in channels_listed


def test_the_accounts_address_cannot_be_removed(mail_app: Flask, browser: Browser) -> None:
    channel_id = channel_of(mail_app, "user@example.com").id
    assert browser.get(f"/reminders/{channel_id}/delete").status == 409
    response = browser.client.post(f"/reminders/{channel_id}/delete",
                                   data={"csrf_token": browser.csrf_token()})
    assert response.status_code == 409
    assert "cannot be removed" in response.get_data(as_text=True)
    assert channel_of(mail_app, "user@example.com").enabled is True


@pytest.mark.parametrize("method, suffix", [
    ("post", "/switch"), ("post", "/test"), ("post", "/confirm"), ("get", "/delete"),
    ("post", "/delete")])
def test_another_accounts_address_is_404(mail_app: Flask, browser: Browser, method: str,
                                         suffix: str) -> None:
    other = make_user(mail_app, "other@example.com")
    theirs = confirm(mail_app, "other@example.com")
    data = {"csrf_token": browser.csrf_token(), "enabled": "off"}
    response = browser.client.open(f"/reminders/{theirs}{suffix}", method=method.upper(),
                                   data=data if method == "post" else None)
    assert response.status_code == 404
    channel = channel_of(mail_app, "other@example.com")
    assert channel.enabled is True and other["id"] == channel.user_id


def test_the_forms_need_the_csrf_token(mail_app: Flask, browser: Browser) -> None:
    channel_id = channel_of(mail_app, "user@example.com").id
    for path in ("/reminders", f"/reminders/{channel_id}/switch"):
        response = browser.client.post(path, data={"address": "x@example.com",
                                                   "enabled": "off"})
        assert response.status_code == 400
    assert channel_of(mail_app, "user@example.com").enabled is True


# ---- the history -------------------------------------------------------------------------

def record_deliveries(app: Flask, user_id: int, item_id: int) -> None:
    """An alarm sent, an overdue reminder that failed, and a test."""
    with new_session(app) as session:
        channel_id = session.scalars(select(Channel.id).where(Channel.user_id == user_id)).one()
        due = dt.date(2027, 3, 31)
        session.add_all([
            Delivery(user_id=user_id, channel_id=channel_id, item_id=item_id, kind="alarm",
                     due_date=due, planned_at=NOW, status="sent", attempts=1, sent_at=NOW,
                     created_at=NOW),
            Delivery(user_id=user_id, channel_id=channel_id, item_id=item_id, kind="overdue",
                     due_date=due, planned_at=NOW + dt.timedelta(days=15), status="failed",
                     attempts=1, error="renewed meanwhile", created_at=NOW),
            Delivery(user_id=user_id, channel_id=channel_id, item_id=None, kind="test",
                     due_date=None, planned_at=NOW + dt.timedelta(days=20), status="skipped",
                     attempts=0, error="not confirmed", created_at=NOW),
        ])
        session.commit()


def test_the_page_lists_recent_deliveries_in_the_accounts_zone(
        mail_app: Flask, browser: Browser, mail_user: dict[str, Any]) -> None:
    item = Api(mail_app.test_client(), mail_user["token"]).post(
        "/api/v1/items", json=VALID_ITEM).json
    record_deliveries(mail_app, mail_user["id"], item["id"])
    page = browser.get("/reminders")
    text = shown(page).split("Recent deliveries", 1)[1].strip()
    assert text == (
        "Test message Skipped planned Apr 6, 2027, 9:00 AM "
        "to user@example.com not confirmed "
        "MTS Russia Failed Overdue · planned Apr 1, 2027, 9:00 AM "
        "to user@example.com renewed meanwhile "
        "MTS Russia Sent Reminder · planned Mar 17, 2027, 9:00 AM · sent Mar 17, 2027, 9:00 AM "
        "to user@example.com")
    assert f'href="/items/{item["id"]}"' in page.text


def test_an_items_page_lists_its_deliveries(mail_app: Flask, browser: Browser,
                                            mail_user: dict[str, Any]) -> None:
    api = Api(mail_app.test_client(), mail_user["token"])
    item = api.post("/api/v1/items", json=VALID_ITEM).json
    other_item = api.post("/api/v1/items", json={**VALID_ITEM, "title": "Other SIM"}).json
    page = browser.get(f"/items/{item['id']}")
    assert "Reminders sent No reminder has been sent for this item yet." in shown(page)
    record_deliveries(mail_app, mail_user["id"], item["id"])
    text = shown(browser.get(f"/items/{item['id']}")).split("Reminders sent", 1)[1].strip()
    assert text.startswith("Failed Overdue · planned Apr 1, 2027, 9:00 AM to user@example.com "
                           "renewed meanwhile Sent Reminder · planned Mar 17, 2027, 9:00 AM")
    assert "Test message" not in text
    assert "No reminder has been sent" in shown(browser.get(f"/items/{other_item['id']}"))


def test_the_history_reads_in_chinese_for_a_chinese_account(mail_app: Flask) -> None:
    user = make_user(mail_app, "zh@example.com", locale="zh-Hans", timezone="Asia/Shanghai")
    item = Api(mail_app.test_client(), user["token"]).post("/api/v1/items",
                                                           json=VALID_ITEM).json
    record_deliveries(mail_app, user["id"], item["id"])
    text = shown(signed_in(mail_app.test_client(), user).get("/reminders"))
    assert "2027年3月17日 09:00" in text


# ---- unsubscribing -----------------------------------------------------------------------

def test_an_unsubscribe_link_shows_one_button_and_changes_nothing(mail_app: Flask) -> None:
    make_user(mail_app)
    path = unsubscribe_path(mail_app, "user@example.com")
    page = Browser(mail_app.test_client()).get(path)
    assert page.status == 200
    assert "Stop sending reminders to this address?" in shown(page)
    (form,) = [form for form in page.forms if form.method == "post" and form.action == path]
    assert form.fields == {}  # no CSRF token: mail providers post here without a session
    assert channel_of(mail_app, "user@example.com").enabled is True


def test_the_button_switches_the_address_off(mail_app: Flask) -> None:
    make_user(mail_app)
    path = unsubscribe_path(mail_app, "user@example.com")
    visitor = Browser(mail_app.test_client())
    page = visitor.submit(path, action=path)
    assert page.status == 200
    assert "Switched off: no more reminders go to user@example.com." in shown(page)
    assert channel_of(mail_app, "user@example.com").enabled is False
    again = visitor.get(path)
    assert "already switched off" in shown(again)
    assert not [form for form in again.forms if form.action == path]


def test_a_one_click_post_from_a_mail_provider_switches_it_off(mail_app: Flask) -> None:
    """RFC 8058: no cookie, no session, no CSRF token; just the body below."""
    make_user(mail_app)
    path = unsubscribe_path(mail_app, "user@example.com")
    client = mail_app.test_client(use_cookies=False)
    response = client.post(path, data=ONE_CLICK)
    assert response.status_code == 200
    assert channel_of(mail_app, "user@example.com").enabled is False
    # Twice is as good as once.
    assert client.post(path, data=ONE_CLICK).status_code == 200


def test_the_link_also_works_with_a_csrf_token_and_a_session(mail_app: Flask,
                                                             browser: Browser) -> None:
    path = unsubscribe_path(mail_app, "user@example.com")
    response = browser.client.post(path, data={"csrf_token": browser.csrf_token(),
                                               **ONE_CLICK})
    assert response.status_code == 200
    assert channel_of(mail_app, "user@example.com").enabled is False


def test_a_paused_address_unsubscribed_stays_paused_until_switched_on(mail_app: Flask,
                                                                     browser: Browser) -> None:
    channel_id = confirm(mail_app, "user@example.com")
    pause(mail_app, channel_id)
    mail_app.test_client().post(unsubscribe_path(mail_app, "user@example.com"), data=ONE_CLICK)
    channel = channel_of(mail_app, "user@example.com")
    assert (channel.enabled, channel.paused_at is not None) == (False, True)
    post_button(browser, f"/reminders/{channel_id}/switch")
    channel = channel_of(mail_app, "user@example.com")
    assert (channel.enabled, channel.paused_at) == (True, None)


@pytest.mark.parametrize("token", ["nonsense", "a" * 300, "é", "eyJjaGFubmVsIjoxfQ.x.y",
                                   "%00", "..", "e30.ZZZZ"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_bad_unsubscribe_token_is_a_404_page(mail_app: Flask, token: str,
                                               method: str) -> None:
    make_user(mail_app)
    response = mail_app.test_client().open(f"/unsubscribe/{token}", method=method,
                                           data=ONE_CLICK if method == "POST" else None)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert channel_of(mail_app, "user@example.com").enabled is True


def test_a_token_signed_with_another_key_or_purpose_is_404(mail_app: Flask) -> None:
    make_user(mail_app)
    channel = channel_of(mail_app, "user@example.com")
    for token in (channels.unsubscribe_token("another key", channel),
                  channels.confirm_token(SECRET_KEY, channel)):
        assert mail_app.test_client().post(f"/unsubscribe/{token}",
                                           data=ONE_CLICK).status_code == 404
    assert channel_of(mail_app, "user@example.com").enabled is True


def test_a_link_to_a_removed_address_is_410(mail_app: Flask, browser: Browser) -> None:
    add_address(browser, "family@example.com")
    path = unsubscribe_path(mail_app, "family@example.com")
    channel_id = channel_of(mail_app, "family@example.com").id
    browser.submit(f"/reminders/{channel_id}/delete")
    for method in ("GET", "POST"):
        response = mail_app.test_client().open(path, method=method)
        assert response.status_code == 410
        assert "no longer receives reminders" in response.get_data(as_text=True)


def test_the_unsubscribe_page_speaks_the_accounts_language(mail_app: Flask) -> None:
    user = make_user(mail_app, "zh@example.com", locale="zh-Hans")
    with new_session(mail_app) as session:
        assert session.get_one(User, user["id"]).locale == "zh-Hans"
    page = Browser(mail_app.test_client()).get(unsubscribe_path(mail_app, "zh@example.com"),
                                               headers={"Accept-Language": "en"})
    assert 'lang="zh-Hans"' in page.text
