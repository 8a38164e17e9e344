"""Account mail against a real SMTP server: the welcome mail and its confirmation link, a
forgotten password, a new account address, the command line, a relay that is down, and
links that lead nowhere."""

from __future__ import annotations

import datetime as dt
import html
import re
import time
import types
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import itsdangerous.timed
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from feedsvc import accountmail, accounts, channels, status
from feedsvc.db import new_session
from feedsvc.limits import EMAIL_CHANGE_LIMIT, LOGIN_LIMIT, PASSWORD_CHECK_LIMIT
from feedsvc.models import Channel, User

from helpers import PASSWORD, SECRET_KEY, Browser, Page, signed_in
from helpers.smtp import SmtpServer

BASE = "https://feeds.example.org"
NEW_PASSWORD = "a brand new password"
LINK = re.compile(r"https?://[^\s<>\"]+")


@pytest.fixture
def no_csrf(mail_app: Flask) -> Flask:
    mail_app.config["WTF_CSRF_ENABLED"] = False
    return mail_app


@pytest.fixture
def cheap_dummy_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unknown-address path checks a dummy scrypt hash; throttle tests send dozens."""
    monkeypatch.setattr(accounts, "_DUMMY_HASH",
                        generate_password_hash("x", method="pbkdf2:sha256:1000"))


class Clock:
    """``status.utc_now``, set by the test: it signs the links and judges their age."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = dt.datetime(2027, 3, 17, 9, 0, tzinfo=dt.UTC)
        monkeypatch.setattr(status, "utc_now", lambda: self.now)

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def make_account(app: Flask, email: str = "owner@example.com", *, confirmed: bool = True,
                 locale: str = "en") -> dict[str, Any]:
    with app.app_context(), new_session(app) as session:
        user = accounts.create_user(session, email, PASSWORD, locale=locale,
                                    verified=confirmed)
        session.commit()
        return {"id": user.id, "email": user.email, "password": PASSWORD}


def stored(app: Flask, user_id: int) -> tuple[User | None, Channel | None]:
    with app.app_context(), new_session(app) as session:
        user = session.get(User, user_id)
        channel = None if user is None else channels.account_channel(session, user)
        return user, channel


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def links(message: EmailMessage) -> list[str]:
    return LINK.findall(text_of(message))


def path_of(message: EmailMessage, prefix: str) -> str:
    """The path of the mail's one link under ``BASE + prefix``."""
    found = [link for link in links(message) if link.startswith(BASE + prefix)]
    assert len(found) == 1, links(message)
    return urlsplit(found[0]).path


def mails_to(server: SmtpServer, address: str) -> list[EmailMessage]:
    return [r.message for r in server.received if r.recipients == [address]]


def only_mail(server: SmtpServer, address: str) -> EmailMessage:
    assert [r.recipients for r in server.received] == [[address]]
    return server.received[0].message


def sign_up(client: FlaskClient, email: str = "new@example.com", password: str = NEW_PASSWORD,
            locale: str = "en", **kwargs: Any) -> Page:
    return Browser(client).submit("/signup", {"email": email, "password": password,
                                              "confirm": password, "timezone": "UTC",
                                              "locale": locale}, **kwargs)


def flashes(page: Page) -> list[str]:
    return [html.unescape(text) for text in page.flashes()]


def without_tokens(page: Page) -> str:
    """The page with its CSRF tokens left out: each page has its own."""
    return re.sub(r'name="csrf_token" value="[^"]*"', "", page.text)


def ask_for_reset(client: FlaskClient, email: str, **kwargs: Any) -> Page:
    return Browser(client).submit("/password/forgot", {"email": email}, **kwargs)


def reset_path(app: Flask, server: SmtpServer, email: str) -> str:
    ask_for_reset(app.test_client(), email)
    return path_of(mails_to(server, email)[-1], "/password/reset/")


def set_password(client: FlaskClient, path: str, password: str = NEW_PASSWORD,
                 confirm: str | None = None) -> Page:
    return Browser(client).submit(path, {"password": password,
                                         "confirm": password if confirm is None else confirm})


def post_password(client: FlaskClient, path: str, password: str = NEW_PASSWORD) -> Page:
    """Send the new-password form straight to ``path``, as a page kept open would."""
    token = Browser(client).csrf_token()
    return Page(client.post(path, data={"csrf_token": token, "password": password,
                                        "confirm": password}))


def logs_in(app: Flask, email: str, password: str) -> bool:
    return Browser(app.test_client()).log_in(email, password).status == 302


# ---- sign-up -----------------------------------------------------------------------------

def test_sign_up_mails_a_welcome_whose_link_confirms_the_address_once(
        mail_app: Flask, smtp_server: SmtpServer) -> None:
    client = mail_app.test_client()
    page = sign_up(client, "New@Example.com")
    assert page.status == 302 and page.response.location == "/login"
    assert Page(client.get("/login")).flashes() == [
        "Your account is ready: log in with your e-mail address and password.",
        "We sent you a mail with a link that confirms your address."]
    message = only_mail(smtp_server, "new@example.com")
    assert message["Subject"] == "Welcome to feedsvc — confirm your address"
    path = path_of(message, "/confirm/")
    with mail_app.app_context(), new_session(mail_app) as session:
        user = session.scalars(select(User)).one()
    assert stored(mail_app, user.id)[1].verified_at is None  # type: ignore[union-attr]

    confirmed = Page(mail_app.test_client().get(path))  # no log-in needed
    assert confirmed.status == 200
    assert "Address confirmed" in confirmed.text
    assert "new@example.com is confirmed" in confirmed.text
    first = stored(mail_app, user.id)[1].verified_at  # type: ignore[union-attr]
    assert first is not None
    again = Page(mail_app.test_client().get(path))
    assert again.status == 200
    assert stored(mail_app, user.id)[1].verified_at == first  # type: ignore[union-attr]


def test_a_chinese_sign_up_gets_its_welcome_in_chinese(mail_app: Flask,
                                                       smtp_server: SmtpServer) -> None:
    sign_up(mail_app.test_client(), locale="zh-Hans")
    message = only_mail(smtp_server, "new@example.com")
    assert message["Subject"] == "欢迎使用 feedsvc — 请确认你的邮箱地址"
    assert path_of(message, "/confirm/")


@pytest.mark.parametrize("owner_confirmed", [True, False], ids=["confirmed", "unconfirmed"])
def test_a_taken_address_gets_the_same_answer_and_its_owner_one_mail(
        mail_app: Flask, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch,
        owner_confirmed: bool) -> None:
    owner = make_account(mail_app, confirmed=owner_confirmed)
    hashed: list[str] = []
    real = accounts.generate_password_hash
    monkeypatch.setattr(accounts, "generate_password_hash",
                        lambda password, **kw: hashed.append(password) or real(password, **kw))
    answers = []
    for email in ("fresh@example.com", "OWNER@example.com"):
        client = mail_app.test_client()
        page = sign_up(client, email)
        login = Page(client.get("/login"))
        answers.append((page.status, page.response.location,
                        sorted(page.response.headers.keys()), without_tokens(login)))
    assert answers[0] == answers[1]
    assert hashed == [NEW_PASSWORD, NEW_PASSWORD], "one password hash on each path"
    assert [r.recipients for r in smtp_server.received] == [["fresh@example.com"],
                                                            ["owner@example.com"]]
    message = smtp_server.received[1].message
    assert logs_in(mail_app, owner["email"], PASSWORD), "the owner's password is kept"
    if owner_confirmed:
        assert message["Subject"] == "Someone tried to sign up with your address"
        assert path_of(message, "/login") == "/login"
        reset = Page(mail_app.test_client().get(path_of(message, "/password/reset/")))
        assert reset.status == 200 and "Choose a new password" in reset.text
    else:
        # An unconfirmed address gets nothing but confirmations: the welcome again.
        assert message["Subject"] == "Welcome to feedsvc — confirm your address"
        assert Page(mail_app.test_client().get(path_of(message, "/confirm/"))).status == 200
        assert stored(mail_app, owner["id"])[1].verified_at is not None  # type: ignore[union-attr]


# ---- a forgotten password ----------------------------------------------------------------

def test_the_log_in_page_links_to_the_forgotten_password_page(client: FlaskClient) -> None:
    page = Browser(client).get("/login")
    assert 'href="/password/forgot"' in page.text
    assert "Forgot your password?" in page.text
    forgot = Browser(client).get("/password/forgot")
    assert forgot.status == 200 and forgot.values()["email"] == ""


def test_forgot_password_answers_the_same_and_mails_only_a_confirmed_address(
        mail_app: Flask, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    make_account(mail_app, "confirmed@example.com")
    make_account(mail_app, "unconfirmed@example.com", confirmed=False)
    hashes: list[str] = []
    real = accountmail.check_password_hash
    monkeypatch.setattr(accountmail, "check_password_hash",
                        lambda stored, password: hashes.append(password) or real(stored, password))
    answers = []
    for email in ("Confirmed@example.com", "unconfirmed@example.com", "nobody@example.com"):
        connections = smtp_server.connections
        page = ask_for_reset(mail_app.test_client(), email)
        normalised = email.lower()
        answers.append((page.status, sorted(page.response.headers.keys()),
                        without_tokens(page).replace(normalised, "EMAIL")))
        assert smtp_server.connections == connections + 1, "each path greets the relay once"
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 200
    assert "a link to choose a new password is on its way there" in answers[0][2]
    assert len(hashes) == 3, "one password hash on each path"
    message = only_mail(smtp_server, "confirmed@example.com")
    assert message["Subject"] == "Reset your feedsvc password"
    assert "valid for 1 hour" in text_of(message)


def test_a_reset_link_shows_its_form_without_being_used_and_works_once(
        mail_app: Flask, smtp_server: SmtpServer) -> None:
    owner = make_account(mail_app)
    path = reset_path(mail_app, smtp_server, owner["email"])
    for _ in range(2):  # mail scanners and link previews open it first
        form = Browser(mail_app.test_client()).get(path)
        assert form.status == 200
        assert "owner@example.com" in form.text
    client = mail_app.test_client()
    page = set_password(client, path)
    assert page.status == 302 and page.response.location == "/login"
    assert "Your new password is set" in " ".join(Page(client.get("/login")).flashes())
    assert logs_in(mail_app, owner["email"], NEW_PASSWORD)
    assert not logs_in(mail_app, owner["email"], PASSWORD)
    used = Page(mail_app.test_client().get(path))
    assert used.status == 410
    assert "already used" in used.text
    assert post_password(client, path, "third password").status == 410
    assert logs_in(mail_app, owner["email"], NEW_PASSWORD)


def test_a_new_password_signs_out_every_session(mail_app: Flask,
                                                smtp_server: SmtpServer) -> None:
    owner = make_account(mail_app)
    elsewhere = signed_in(mail_app.test_client(), owner)
    here = signed_in(mail_app.test_client(), owner)
    path = reset_path(mail_app, smtp_server, owner["email"])
    assert set_password(here.client, path).status == 302
    assert elsewhere.get("/").status == 302, "signed out"
    assert here.get("/").status == 302, "sent to log in"


@pytest.mark.parametrize(("password", "confirm", "control", "message"), [
    ("short", "short", "password", "at least 8 characters"),
    (NEW_PASSWORD, "something else", "confirm", "does not match the password"),
])
def test_a_bad_new_password_is_refused_and_the_link_still_works(
        mail_app: Flask, smtp_server: SmtpServer, password: str, confirm: str, control: str,
        message: str) -> None:
    owner = make_account(mail_app)
    path = reset_path(mail_app, smtp_server, owner["email"])
    page = set_password(mail_app.test_client(), path, password, confirm)
    assert page.status == 422
    assert message in (page.error(control) or "")
    assert logs_in(mail_app, owner["email"], PASSWORD)
    assert set_password(mail_app.test_client(), path).status == 302


def test_a_reset_link_expires_after_an_hour(mail_app: Flask, smtp_server: SmtpServer,
                                            clock: Clock) -> None:
    owner = make_account(mail_app)
    path = reset_path(mail_app, smtp_server, owner["email"])
    clock.advance(minutes=59, seconds=59)
    assert Page(mail_app.test_client().get(path)).status == 200
    clock.advance(seconds=2)
    expired = Page(mail_app.test_client().get(path))
    assert expired.status == 410
    assert "expired" in expired.text
    assert post_password(mail_app.test_client(), path).status == 410
    assert logs_in(mail_app, owner["email"], PASSWORD)


def test_a_reset_link_dies_when_the_address_changes(mail_app: Flask,
                                                    smtp_server: SmtpServer) -> None:
    owner = make_account(mail_app)
    path = reset_path(mail_app, smtp_server, owner["email"])
    change_address(mail_app, smtp_server, owner, "moved@example.com")
    assert Page(mail_app.test_client().get(path)).status == 410


def test_asking_for_a_new_password_is_throttled_like_log_in(
        no_csrf: Flask, smtp_server: SmtpServer, cheap_dummy_hash: None) -> None:
    limit = int(LOGIN_LIMIT.split()[0])

    def ask(email: str, address: str = "10.0.0.1") -> Any:
        return no_csrf.test_client().post("/password/forgot", data={"email": email},
                                          environ_base={"REMOTE_ADDR": address})

    statuses = [ask("victim@example.com").status_code for _ in range(limit + 1)]
    assert statuses == [200] * limit + [429]
    refused = ask("victim@example.com")
    assert "Too many requests for a new password" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    assert ask("victim@example.com", "10.0.0.2").status_code == 200
    assert ask("someone@example.com").status_code == 200


def test_asking_for_new_passwords_is_throttled_per_address(no_csrf: Flask,
                                                           cheap_dummy_hash: None) -> None:
    client = no_csrf.test_client()
    statuses = [client.post("/password/forgot", data={"email": f"n{n}@example.com"}).status_code
                for n in range(51)]
    assert statuses == [200] * 50 + [429]


def test_a_forgotten_password_form_with_a_bad_address_says_so(client: FlaskClient) -> None:
    for email in ("not-an-address", "a\x00b@example.com"):
        page = ask_for_reset(client, email)
        assert page.status == 422
        assert "must be an e-mail address" in (page.error("email") or "")


@pytest.mark.parametrize("path", ["/password/forgot", "/signup"])
def test_links_come_from_the_base_url_whatever_host_the_request_names(
        mail_app: Flask, smtp_server: SmtpServer, path: str) -> None:
    owner = make_account(mail_app)
    client = mail_app.test_client()
    form = Browser(client).get(path, headers={"Host": "evil.example"}).form()
    fields = {"email": owner["email"], "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    response = client.post(path, data={**form.fields, **fields},
                           headers={"Host": "evil.example"})
    assert response.status_code in (200, 302)
    (received,) = smtp_server.received
    assert links(received.message)
    assert all(link.startswith(BASE + "/") for link in links(received.message))
    assert b"evil.example" not in received.raw


# ---- a new account address ---------------------------------------------------------------

def ask_for_address(browser: Browser, email: str, password: str = PASSWORD) -> Page:
    return browser.submit("/settings/email", {"email": email, "password": password})


def change_address(app: Flask, server: SmtpServer, account: dict[str, Any], email: str
                   ) -> Page:
    page = ask_for_address(signed_in(app.test_client(), account), email)
    assert page.status == 302
    return Page(app.test_client().get(path_of(mails_to(server, email)[-1], "/settings/email/")))


def test_the_settings_page_links_to_the_address_change(mail_app: Flask) -> None:
    browser = signed_in(mail_app.test_client(), make_account(mail_app))
    assert 'href="/settings/email"' in browser.get("/settings").text
    page = browser.get("/settings/email")
    assert page.status == 200 and "owner@example.com" in page.text


def test_a_new_address_is_confirmed_by_its_link_and_the_old_works_until_then(
        mail_app: Flask, smtp_server: SmtpServer) -> None:
    owner = make_account(mail_app)
    browser = signed_in(mail_app.test_client(), owner)
    page = ask_for_address(browser, "New.Address@example.com")
    assert page.status == 302 and page.response.location == "/settings"
    assert flashes(browser.get("/settings")) == [
        ("We sent a link to new.address@example.com. Open it to make it your account's "
         "address; until then, owner@example.com stays your address.")]
    message = only_mail(smtp_server, "new.address@example.com")
    assert message["Subject"] == "Confirm your address for feedsvc"
    path = path_of(message, "/settings/email/")
    assert stored(mail_app, owner["id"])[0].email == "owner@example.com"  # type: ignore[union-attr]
    assert logs_in(mail_app, "owner@example.com", PASSWORD)

    opened = Page(mail_app.test_client().get(path))  # logged in or not
    assert opened.status == 200
    assert "new.address@example.com is now your account's address" in html.unescape(opened.text)
    user, channel = stored(mail_app, owner["id"])
    assert user is not None and channel is not None
    assert user.email == channel.target == "new.address@example.com"
    assert channel.verified_at is not None
    assert logs_in(mail_app, "new.address@example.com", PASSWORD)
    assert not logs_in(mail_app, "owner@example.com", PASSWORD)
    assert browser.get("/").status == 200, "the session carries on"
    # Opened again, it changes nothing.
    assert Page(mail_app.test_client().get(path)).status == 200
    assert stored(mail_app, owner["id"])[0].email == "new.address@example.com"  # type: ignore[union-attr]


def test_an_address_taken_meanwhile_is_refused_clearly(mail_app: Flask,
                                                       smtp_server: SmtpServer) -> None:
    owner = make_account(mail_app)
    assert ask_for_address(signed_in(mail_app.test_client(), owner),
                           "wanted@example.com").status == 302
    make_account(mail_app, "wanted@example.com")
    page = Page(mail_app.test_client().get(
        path_of(mails_to(smtp_server, "wanted@example.com")[0], "/settings/email/")))
    assert page.status == 409
    assert "wanted@example.com is now the address of another account" in page.text
    assert stored(mail_app, owner["id"])[0].email == "owner@example.com"  # type: ignore[union-attr]


def test_an_address_that_has_an_account_gets_the_same_answer_as_any_other(
        mail_app: Flask, smtp_server: SmtpServer) -> None:
    owner = make_account(mail_app)
    make_account(mail_app, "taken@example.com")
    answers = []
    for email in ("free@example.com", "taken@example.com"):
        browser = signed_in(mail_app.test_client(), owner)
        page = ask_for_address(browser, email)
        answers.append((page.status, page.response.location,
                        [text.replace(email, "EMAIL") for text in flashes(browser.get("/"))]))
    assert answers[0] == answers[1]
    assert [r.recipients for r in smtp_server.received] == [["free@example.com"],
                                                            ["taken@example.com"]]


@pytest.mark.parametrize(("email", "password", "control", "message"), [
    ("not-an-address", PASSWORD, "email", "must be an e-mail address"),
    ("owner@example.com", PASSWORD, "email", "is already your account's address"),
    ("new@example.com", "wrong password", "password", "is not correct"),
])
def test_a_bad_address_change_is_refused_next_to_the_field(
        mail_app: Flask, smtp_server: SmtpServer, email: str, password: str, control: str,
        message: str) -> None:
    browser = signed_in(mail_app.test_client(), make_account(mail_app))
    page = ask_for_address(browser, email, password)
    assert page.status == 422
    assert message in (page.error(control) or "")
    assert page.values()["email"] == email and page.values()["password"] == ""
    assert smtp_server.received == []


def test_wrong_passwords_count_with_the_other_password_forms(no_csrf: Flask,
                                                             smtp_server: SmtpServer) -> None:
    owner = make_account(no_csrf)
    browser = signed_in(no_csrf.test_client(), owner)
    limit = int(PASSWORD_CHECK_LIMIT.split()[0])
    for _ in range(limit - 1):
        assert browser.client.post("/settings/email", data={
            "email": "new@example.com", "password": "wrong"}).status_code == 422
    assert browser.client.post("/settings/delete", data={"password": "wrong"}
                               ).status_code == 422
    refused = browser.client.post("/settings/email", data={"email": "new@example.com",
                                                           "password": PASSWORD})
    assert refused.status_code == 429
    assert "Too many wrong passwords" in refused.get_data(as_text=True)
    assert smtp_server.received == []


def test_new_addresses_are_throttled_per_account(no_csrf: Flask,
                                                 smtp_server: SmtpServer) -> None:
    browser = signed_in(no_csrf.test_client(), make_account(no_csrf))
    limit = int(EMAIL_CHANGE_LIMIT.split()[0])
    statuses = [browser.client.post("/settings/email", data={
        "email": f"new{n}@example.com", "password": PASSWORD}).status_code
        for n in range(limit + 1)]
    assert statuses == [302] * limit + [429]
    assert len(smtp_server.received) == limit


# ---- the command line --------------------------------------------------------------------

def test_user_create_mails_the_welcome_unless_verified(mail_app: Flask,
                                                       smtp_server: SmtpServer) -> None:
    runner = mail_app.test_cli_runner()
    result = runner.invoke(args=["user", "create", "cli@example.com", "--password-stdin"],
                           input="a long password\n")
    assert result.exit_code == 0, result.output
    assert "Sent the welcome mail" in result.output
    message = only_mail(smtp_server, "cli@example.com")
    assert Page(mail_app.test_client().get(path_of(message, "/confirm/"))).status == 200
    with mail_app.app_context(), new_session(mail_app) as session:
        user = session.scalars(select(User).where(User.email == "cli@example.com")).one()
        assert accountmail.confirmed(session, user)

    vouched = runner.invoke(args=["user", "create", "vouched@example.com", "--password-stdin",
                                  "--verified"], input="a long password\n")
    assert vouched.exit_code == 0, vouched.output
    assert len(smtp_server.received) == 1, "no mail to a vouched-for address"
    with mail_app.app_context(), new_session(mail_app) as session:
        user = session.scalars(select(User).where(User.email == "vouched@example.com")).one()
        assert accountmail.confirmed(session, user)


def test_user_create_without_a_relay_says_where_the_mail_went(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["user", "create", "cli@example.com", "--password-stdin"], input="a long password\n")
    assert result.exit_code == 0, result.output
    assert "outbox" in result.output
    (written,) = (Path(app.instance_path) / "outbox").glob("*.eml")
    assert f"{BASE}/confirm/" in written.read_text()


# ---- mail that is not set up, or a relay that is down ------------------------------------

OUTBOX = ("Mail is not set up on this server yet: every message is written to the server’s "
          "outbox folder instead of being sent. Ask the server’s administrator for your link.")


def test_without_a_relay_the_pages_say_mail_goes_to_the_outbox(app: Flask) -> None:
    client = app.test_client()
    assert OUTBOX in Browser(client).get("/password/forgot").text
    assert OUTBOX in ask_for_reset(client, "nobody@example.com").text
    sign_up(client)
    assert OUTBOX in Page(client.get("/login")).flashes()
    (written,) = (Path(app.instance_path) / "outbox").glob("*.eml")
    assert f"{BASE}/confirm/" in written.read_text()


def test_a_relay_that_is_down_leaves_every_page_answering_and_saying_so(
        mail_app: Flask, smtp_server: SmtpServer) -> None:
    owner = make_account(mail_app)
    smtp_server.stop()
    client = mail_app.test_client()
    page = sign_up(client)
    assert page.status == 302
    assert Page(client.get("/login")).flashes()[-1].startswith(
        "The mail that confirms your address could not be sent just now.")

    answers = []
    for email in (owner["email"], "nobody@example.com"):
        forgot = ask_for_reset(mail_app.test_client(), email)
        assert forgot.status == 200
        assert "Mail could not be sent just now" in forgot.text
        answers.append(without_tokens(forgot).replace(email, "EMAIL"))
    assert answers[0] == answers[1], "the outage tells nothing about the address"

    browser = signed_in(mail_app.test_client(), owner)
    assert ask_for_address(browser, "new@example.com").status == 302
    assert flashes(browser.get("/settings")) == [
        ("The mail could not be sent just now, so your address stays as it is. Please try "
         "again in a few minutes.")]

    result = mail_app.test_cli_runner().invoke(
        args=["user", "create", "cli@example.com", "--password-stdin"], input="a long password\n")
    assert result.exit_code == 0
    assert "The welcome mail could not be sent" in result.output
    assert smtp_server.received == []


def test_a_failed_account_mail_is_logged_without_its_links(
        mail_app: Flask, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture) -> None:
    smtp_server.refuse_recipient("new@example.com")
    page = sign_up(mail_app.test_client())
    assert page.status == 302
    logged = [r.getMessage() for r in caplog.records if r.name == "feedsvc.accountmail"]
    assert logged and "new@example.com" in logged[0] and "550" in logged[0]
    assert "/confirm/" not in caplog.text


# ---- links that lead nowhere ------------------------------------------------------------

def other_kinds_of_token(app: Flask, owner: dict[str, Any]) -> dict[str, str]:
    """A real token of each kind, to be given to the other routes."""
    with app.app_context(), new_session(app) as session:
        user = session.get_one(User, owner["id"])
        channel = channels.account_channel(session, user)
        assert channel is not None
        return {"/confirm/": channels.confirm_token(SECRET_KEY, channel),
                "/password/reset/": accountmail.reset_token(SECRET_KEY, user, status.utc_now()),
                "/settings/email/": accountmail.change_token(SECRET_KEY, user, "x@example.com",
                                                             status.utc_now())}


ROUTES = ["/confirm/", "/password/reset/", "/settings/email/"]
BAD_TOKENS: dict[str, Callable[[str, dict[str, str]], str]] = {
    "garbage": lambda route, real: "not-a-token",
    "dots": lambda route, real: "a.b.c",
    "long": lambda route, real: "A" * 3000,
    "chinese": lambda route, real: "令牌",
    "nul": lambda route, real: "%00",
    "tampered": lambda route, real: real[route][:-2] + ("AA" if real[route][-2:] != "AA"
                                                         else "BB"),
    "truncated": lambda route, real: real[route][:-10],
    "another-kind": lambda route, real: real[ROUTES[(ROUTES.index(route) + 1) % 3]],
    "no-separator": lambda route, real: real[route].replace(".", "", 1),
}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_a_token_that_is_not_ours_answers_404(mail_app: Flask, route: str, kind: str) -> None:
    real = other_kinds_of_token(mail_app, make_account(mail_app))
    path = route + BAD_TOKENS[kind](route, real)
    client = mail_app.test_client()
    page = Page(client.get(path))
    assert page.status == 404, page.text
    assert "Link not found" in page.text or kind == "nul"
    if route == "/password/reset/":
        assert post_password(client, path).status == 404


def _signed_days_ago(monkeypatch: pytest.MonkeyPatch, days: int) -> Callable[[], None]:
    """Make itsdangerous sign as if ``days`` ago; returns the undo."""
    fake = types.SimpleNamespace(time=lambda: time.time() - days * 86400)
    monkeypatch.setattr(itsdangerous.timed, "time", fake)
    return monkeypatch.undo


def test_an_expired_confirmation_link_answers_410(mail_app: Flask,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    owner = make_account(mail_app, confirmed=False)
    undo = _signed_days_ago(monkeypatch, 8)
    token = other_kinds_of_token(mail_app, owner)["/confirm/"]
    undo()
    page = Page(mail_app.test_client().get("/confirm/" + token))
    assert page.status == 410 and "expired" in page.text
    assert stored(mail_app, owner["id"])[1].verified_at is None  # type: ignore[union-attr]


@pytest.mark.parametrize("change", ["account-deleted", "address-changed"])
def test_links_of_an_account_that_changed_since_answer_410(
        mail_app: Flask, smtp_server: SmtpServer, change: str) -> None:
    owner = make_account(mail_app, confirmed=False)
    tokens = other_kinds_of_token(mail_app, owner)
    later_change = tokens["/settings/email/"]
    tokens["/password/reset/"] = accountmail.reset_token(
        SECRET_KEY, stored(mail_app, owner["id"])[0], status.utc_now())  # type: ignore[arg-type]
    if change == "account-deleted":
        with mail_app.app_context(), new_session(mail_app) as session:
            session.delete(session.get_one(User, owner["id"]))
            session.commit()
    else:
        assert change_address(mail_app, smtp_server, owner, "moved@example.com").status == 200
    for route, token in tokens.items():
        if route == "/settings/email/" and change == "address-changed":
            token = later_change  # asked for before the address moved
        page = Page(mail_app.test_client().get(route + token))
        assert page.status == 410, (route, page.text)
        assert "This link no longer works" in page.text


def test_an_address_change_link_expires_after_a_week(mail_app: Flask,
                                                     smtp_server: SmtpServer,
                                                     clock: Clock) -> None:
    owner = make_account(mail_app)
    assert ask_for_address(signed_in(mail_app.test_client(), owner),
                           "new@example.com").status == 302
    path = path_of(only_mail(smtp_server, "new@example.com"), "/settings/email/")
    clock.advance(days=7, seconds=1)
    page = Page(mail_app.test_client().get(path))
    assert page.status == 410 and "expired" in page.text
    assert stored(mail_app, owner["id"])[0].email == "owner@example.com"  # type: ignore[union-attr]
