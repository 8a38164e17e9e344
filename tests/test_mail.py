"""Outgoing mail: settings, the messages the standard library builds, and a postman that talks
to a real SMTP server (aiosmtpd on 127.0.0.1), or writes to the outbox without one."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import stat
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from feedsvc.mail import (
    Mail,
    MailSettings,
    PermanentFailure,
    Relay,
    RelayUnavailable,
    TemporaryFailure,
    build_message,
    mail_configured,
    mail_settings,
    parse_smtp_url,
    postman,
)

from helpers.servers import write_certificate
from helpers.smtp import (
    HOST,
    SmtpServer,
    client_tls_context,
    server_tls_context,
)

NOW = dt.datetime(2026, 12, 14, 9, 0, tzinfo=dt.UTC)
BASE = {"FEEDSVC_BASE_URL": "https://feeds.example.org"}
UNSUBSCRIBE = "https://feeds.example.org/unsubscribe/tok3n"


def settings_for(url: str | None, **config: Any) -> MailSettings:
    return mail_settings({**BASE, "FEEDSVC_SMTP_URL": url, **config})


def a_mail(to: str = "anna@example.com", subject: str = "Renew MTS Russia — due in 3 days",
           **fields: Any) -> Mail:
    return Mail(to=to, subject=subject, text="Due Dec 17.\nhttps://feeds.example.org/act/abc\n",
                html='<p>Due Dec 17. <a href="https://feeds.example.org/act/abc">Go</a></p>',
                **fields)


def message(settings: MailSettings, **fields: Any) -> EmailMessage:
    return build_message(a_mail(**fields), settings, NOW)


# ---- settings --------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://mail.example.org", Relay("plain", "mail.example.org", 25)),
    ("smtp://relay.internal:2525", Relay("plain", "relay.internal", 2525)),
    ("smtp://localhost/", Relay("plain", "localhost", 25)),
    ("smtp+starttls://feedsvc:s3cret@mail.example.org",
     Relay("starttls", "mail.example.org", 587, "feedsvc", "s3cret")),
    ("smtps://mail.example.org", Relay("tls", "mail.example.org", 465)),
    ("SMTPS://mail.example.org:4650", Relay("tls", "mail.example.org", 4650)),
    ("smtps://me%40example.org:p%3Ass%2Fw%40rd@mail.example.org",
     Relay("tls", "mail.example.org", 465, "me@example.org", "p:ss/w@rd")),
    ("smtp://[::1]:25", Relay("plain", "::1", 25)),
    ("  smtp://mail.example.org  ", Relay("plain", "mail.example.org", 25)),
])
def test_a_relay_url_is_understood(url: str, expected: Relay) -> None:
    assert parse_smtp_url(url) == expected
    assert settings_for(url).relay == expected


@pytest.mark.parametrize("url", [
    "mail.example.org",
    "http://mail.example.org",
    "lmtp://mail.example.org",
    "smtp+ssl://mail.example.org",
    "smtp://",
    "smtp://:25",
    "smtp://mail.example.org:port",
    "smtp://mail.example.org:70000",
    "smtp://mail.example.org:0",
    "smtp://feedsvc@mail.example.org",
    "smtp://:s3cret@mail.example.org",
    "smtp://mail.example.org/inbox",
    "smtp://mail.example.org?tls=1",
    "smtp://mail.example.org#x",
])
def test_a_malformed_relay_url_is_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(ValueError, match="^FEEDSVC_SMTP_URL: ") as refused:
        settings_for(url)
    assert "s3cret" not in str(refused.value)


def test_an_unknown_scheme_never_shows_the_password() -> None:
    with pytest.raises(ValueError, match="FEEDSVC_SMTP_URL: unknown scheme 'https'") as refused:
        parse_smtp_url("https://feedsvc:s3cret@mail.example.org")
    assert "s3cret" not in str(refused.value)


def test_a_relay_shows_no_password() -> None:
    relay = parse_smtp_url("smtps://feedsvc:s3cret@mail.example.org")
    assert str(relay) == "mail.example.org:465"
    assert "s3cret" not in repr(relay) and "s3cret" not in repr(settings_for("smtp://a:s3cret@b"))
    assert str(parse_smtp_url("smtp://[::1]")) == "[::1]:25"


@pytest.mark.parametrize(("config", "sender", "address"), [
    (BASE, "feedsvc <feedsvc@feeds.example.org>", "feedsvc@feeds.example.org"),
    ({"FEEDSVC_BASE_URL": "https://Feeds.Example.org:8443/base"},
     "feedsvc <feedsvc@feeds.example.org>", "feedsvc@feeds.example.org"),
    ({}, "feedsvc <feedsvc@localhost>", "feedsvc@localhost"),
    ({**BASE, "FEEDSVC_MAIL_FROM": "reminders@example.org"},
     "feedsvc <reminders@example.org>", "reminders@example.org"),
    ({**BASE, "FEEDSVC_MAIL_FROM": "Renewals <renewals@example.org>"},
     "Renewals <renewals@example.org>", "renewals@example.org"),
])
def test_the_sender_defaults_to_the_base_urls_host(config: dict[str, str], sender: str,
                                                    address: str) -> None:
    settings = mail_settings(config)
    assert (settings.sender, settings.sender_address) == (sender, address)


@pytest.mark.parametrize("sender", ["feedsvc", "@example.org", "feedsvc@",
                                    "a b@example.org", "x@example.org\nBcc: y@example.org"])
def test_a_malformed_sender_is_refused_naming_the_setting(sender: str) -> None:
    with pytest.raises(ValueError, match="^FEEDSVC_MAIL_FROM: "):
        mail_settings({**BASE, "FEEDSVC_MAIL_FROM": sender})


def test_mail_is_configured_only_with_a_relay() -> None:
    assert not mail_configured(settings_for(None))
    assert not mail_configured({"FEEDSVC_SMTP_URL": ""})
    assert mail_configured(settings_for("smtp://mail.example.org"))
    assert mail_configured({"FEEDSVC_SMTP_URL": "smtp://mail.example.org"})


# ---- the message -----------------------------------------------------------------------

def test_a_message_has_both_parts_in_utf8_and_the_standard_headers() -> None:
    built = message(settings_for(None), unsubscribe_url=UNSUBSCRIBE)
    raw = built.as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == [
        "text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in parsed.iter_parts())
    plain, html = (part.get_content() for part in parsed.iter_parts())
    assert "https://feeds.example.org/act/abc" in plain
    assert 'href="https://feeds.example.org/act/abc"' in html
    assert parsed["From"] == "feedsvc <feedsvc@feeds.example.org>"
    assert parsed["To"] == "anna@example.com"
    assert parsed["Subject"] == "Renew MTS Russia — due in 3 days"
    assert parsed["Date"] == format_datetime(NOW)
    assert parsedate_to_datetime(parsed["Date"]) == NOW
    assert parsed["Message-ID"].startswith("<") and parsed["Message-ID"].endswith(
        "@feeds.example.org>")
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert raw.isascii(), "7-bit clean, whatever the relay"


def test_a_chinese_subject_and_body_are_encoded_and_read_back() -> None:
    subject = "续费 MTS Russia — 3 天后到期（12月17日）"
    built = build_message(Mail("anna@example.com", subject, "到期日：2026年12月17日\n",
                               "<p>到期日：2026年12月17日</p>"), settings_for(None), NOW)
    raw = built.as_bytes()
    assert raw.isascii()
    header = next(line for line in raw.decode().splitlines() if line.startswith("Subject:"))
    assert "=?utf-8?" in header.lower()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == subject
    plain, html = (part.get_content() for part in parsed.iter_parts())
    assert plain == "到期日：2026年12月17日\n" and "到期日：2026年12月17日" in html


def test_each_message_gets_its_own_id() -> None:
    settings = settings_for(None)
    assert message(settings)["Message-ID"] != message(settings)["Message-ID"]


def test_without_an_unsubscribe_link_there_are_no_list_headers() -> None:
    built = message(settings_for(None))
    assert built["List-Unsubscribe"] is None and built["List-Unsubscribe-Post"] is None


def test_one_click_unsubscribing_is_offered_over_https_only() -> None:
    built = message(settings_for(None), unsubscribe_url="http://localhost:8000/unsubscribe/t")
    assert built["List-Unsubscribe"] is None and built["List-Unsubscribe-Post"] is None


def test_a_line_break_in_the_subject_cannot_add_a_header() -> None:
    built = message(settings_for(None), subject="Renew\r\nBcc: eve@example.org  now")
    assert built["Subject"] == "Renew Bcc: eve@example.org now"
    assert built["Bcc"] is None


def test_extra_headers_are_added() -> None:
    built = message(settings_for(None), headers={"X-Feedsvc-Delivery": "42"})
    assert built["X-Feedsvc-Delivery"] == "42"


def test_the_date_needs_an_aware_clock() -> None:
    with pytest.raises(ValueError, match="aware"):
        build_message(a_mail(), settings_for(None), NOW.replace(tzinfo=None))


# ---- sending through a real SMTP server --------------------------------------------------

def test_a_mail_reaches_the_server_as_it_was_built(smtp_server: SmtpServer,
                                                   tmp_path: Path) -> None:
    settings = settings_for(smtp_server.url())
    built = message(settings, unsubscribe_url=UNSUBSCRIBE,
                    subject="续费 MTS Russia — 3 天后到期（12月17日）")
    with postman(settings, tmp_path / "outbox") as post:
        post.send(built)
    [received] = smtp_server.received
    assert received.sender == "feedsvc@feeds.example.org"
    assert received.recipients == ["anna@example.com"]
    assert received.message["Subject"] == "续费 MTS Russia — 3 天后到期（12月17日）"
    assert received.message["Message-ID"] == built["Message-ID"]
    assert received.message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert not received.tls and received.login is None
    assert not (tmp_path / "outbox").exists()


def test_one_connection_carries_every_mail_of_a_pass(smtp_server: SmtpServer,
                                                     tmp_path: Path) -> None:
    settings = settings_for(smtp_server.url())
    with postman(settings, tmp_path) as post:
        for number in range(3):
            post.send(message(settings, to=f"user{number}@example.com"))
    assert [r.recipients for r in smtp_server.received] == [
        ["user0@example.com"], ["user1@example.com"], ["user2@example.com"]]
    assert smtp_server.connections == 1


def test_each_pass_opens_its_own_connection(smtp_server: SmtpServer, tmp_path: Path) -> None:
    settings = settings_for(smtp_server.url())
    for _ in range(2):
        with postman(settings, tmp_path) as post:
            post.send(message(settings))
    assert smtp_server.connections == 2 and len(smtp_server.received) == 2


def test_a_connection_the_server_dropped_between_mails_is_opened_again(
        smtp_server: SmtpServer, tmp_path: Path) -> None:
    smtp_server.drop_after_each_message = True
    settings = settings_for(smtp_server.url())
    with postman(settings, tmp_path) as post:
        post.send(message(settings, to="first@example.com"))
        time.sleep(0.05)
        post.send(message(settings, to="second@example.com"))
    assert [r.recipients for r in smtp_server.received] == [
        ["first@example.com"], ["second@example.com"]]
    assert smtp_server.connections == 2


def test_the_credentials_are_percent_decoded_for_the_log_in(tmp_path: Path) -> None:
    server = SmtpServer(logins={"me@example.org": "p:ss/w@rd"})
    server.start()
    try:
        settings = settings_for(server.url("smtp", "me%40example.org:p%3Ass%2Fw%40rd@"))
        with postman(settings, tmp_path) as post:
            post.send(message(settings))
        [received] = server.received
        assert received.login == "me@example.org"
    finally:
        server.stop()


def test_a_refused_log_in_is_an_outage_that_shows_no_password(tmp_path: Path) -> None:
    server = SmtpServer(logins={"feedsvc": "right"})
    server.start()
    try:
        settings = settings_for(server.url("smtp", "feedsvc:wr0ng-s3cret@"))
        with pytest.raises(RelayUnavailable) as failed, postman(settings, tmp_path) as post:
            post.send(message(settings))
        assert "535" in failed.value.reason and "log-in" in failed.value.reason
        assert "s3cret" not in failed.value.reason
        assert server.refused_logins >= 1 and server.received == []
    finally:
        server.stop()


def test_starttls_that_the_server_does_not_offer_sends_nothing_in_clear(
        smtp_server: SmtpServer, tmp_path: Path) -> None:
    settings = settings_for(smtp_server.url("smtp+starttls"))
    with pytest.raises(RelayUnavailable, match="does not offer STARTTLS") as failed, \
            postman(settings, tmp_path) as post:
        post.send(message(settings))
    assert failed.value.reason == (f"The mail relay {HOST}:{smtp_server.port} does not offer "
                                   "STARTTLS; nothing was sent.")
    assert smtp_server.received == []


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_server(certificate: tuple[Path, Path], request: pytest.FixtureRequest
               ) -> Iterator[SmtpServer]:
    context = server_tls_context(*certificate)
    server = (SmtpServer(implicit_tls=context) if request.param == "smtps"
              else SmtpServer(starttls=context))
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("tls_server", ["smtp+starttls", "smtps"], indirect=True)
def test_mail_goes_encrypted_with_starttls_or_smtps(tls_server: SmtpServer,
                                                    certificate: tuple[Path, Path],
                                                    tmp_path: Path) -> None:
    scheme = "smtps" if tls_server.implicit_tls else "smtp+starttls"
    settings = settings_for(tls_server.url(scheme))
    with postman(settings, tmp_path, ssl_context=client_tls_context(certificate[0])) as post:
        post.send(message(settings))
        post.send(message(settings))
    assert [received.tls for received in tls_server.received] == [True, True]
    assert tls_server.connections == 1


@pytest.mark.parametrize("tls_server", ["smtp+starttls", "smtps"], indirect=True)
def test_an_untrusted_certificate_is_an_outage(tls_server: SmtpServer, tmp_path: Path) -> None:
    scheme = "smtps" if tls_server.implicit_tls else "smtp+starttls"
    settings = settings_for(tls_server.url(scheme))
    with pytest.raises(RelayUnavailable, match="cannot be reached"), \
            postman(settings, tmp_path) as post:
        post.send(message(settings))
    assert tls_server.received == []


def test_a_4xx_answer_is_a_temporary_failure_and_the_retry_goes_through(
        smtp_server: SmtpServer, tmp_path: Path) -> None:
    smtp_server.defer_messages(2)
    settings = settings_for(smtp_server.url())
    with postman(settings, tmp_path) as post:
        for _ in range(2):
            with pytest.raises(TemporaryFailure) as failed:
                post.send(message(settings))
            assert failed.value.reason == ("The mail server asked to try again later: "
                                           "SMTP 451 4.3.0 Try again later")
        post.send(message(settings))
    assert len(smtp_server.received) == 1 and smtp_server.connections == 1


def test_a_relay_closing_with_421_is_an_outage_and_the_next_mail_reconnects(
        smtp_server: SmtpServer, tmp_path: Path) -> None:
    smtp_server.defer_messages(1, "421 4.3.2 Service shutting down")
    settings = settings_for(smtp_server.url())
    with postman(settings, tmp_path) as post:
        with pytest.raises(RelayUnavailable, match="refused us: SMTP 421 4.3.2"):
            post.send(message(settings))
        post.send(message(settings))
    assert len(smtp_server.received) == 1 and smtp_server.connections == 2


def test_a_refused_sender_is_an_outage_not_the_recipients_fault(smtp_server: SmtpServer,
                                                                tmp_path: Path) -> None:
    smtp_server.sender_reply = "553 5.7.1 Sender address rejected"
    settings = settings_for(smtp_server.url())
    with pytest.raises(RelayUnavailable, match="SMTP 553 5.7.1 Sender address rejected"), \
            postman(settings, tmp_path) as post:
        post.send(message(settings))
    assert smtp_server.received == []


def test_a_recipient_refused_with_5xx_is_a_permanent_failure(smtp_server: SmtpServer,
                                                             tmp_path: Path) -> None:
    smtp_server.refuse_recipient("gone@example.com")
    settings = settings_for(smtp_server.url())
    with postman(settings, tmp_path) as post:
        with pytest.raises(PermanentFailure) as failed:
            post.send(message(settings, to="gone@example.com"))
        post.send(message(settings, to="here@example.com"))
    assert failed.value.reason == ("The mail server refused the message: "
                                   "SMTP 550 5.1.1 No such mailbox here")
    assert failed.value.values["code"] == 550
    assert [r.recipients for r in smtp_server.received] == [["here@example.com"]]


def test_a_recipient_deferred_with_4xx_is_a_temporary_failure(smtp_server: SmtpServer,
                                                              tmp_path: Path) -> None:
    smtp_server.refuse_recipient("busy@example.com", "450 4.2.1 Mailbox busy")
    settings = settings_for(smtp_server.url())
    with pytest.raises(TemporaryFailure, match="SMTP 450 4.2.1 Mailbox busy"), \
            postman(settings, tmp_path) as post:
        post.send(message(settings, to="busy@example.com"))


def test_an_address_that_is_not_ascii_goes_to_a_relay_with_smtputf8(smtp_server: SmtpServer,
                                                                      tmp_path: Path) -> None:
    settings = settings_for(smtp_server.url())
    with postman(settings, tmp_path) as post:
        post.send(message(settings, to="аня@пример.рф"))
    [received] = smtp_server.received
    assert received.recipients == ["аня@пример.рф"] and received.message["To"] == "аня@пример.рф"


def test_an_address_that_is_not_ascii_fails_without_smtputf8(tmp_path: Path) -> None:
    server = SmtpServer(smtputf8=False)
    server.start()
    try:
        settings = settings_for(server.url())
        with postman(settings, tmp_path) as post:
            with pytest.raises(PermanentFailure, match="cannot carry this address"):
                post.send(message(settings, to="аня@пример.рф"))
            post.send(message(settings, to="anna@example.com"))
        assert [r.recipients for r in server.received] == [["anna@example.com"]]
        assert server.connections == 1
    finally:
        server.stop()


def test_a_server_that_is_down_is_an_outage_until_it_is_back(smtp_server: SmtpServer,
                                                             tmp_path: Path) -> None:
    settings = settings_for(smtp_server.url())
    smtp_server.stop()
    with pytest.raises(RelayUnavailable) as failed, postman(settings, tmp_path) as post:
        post.send(message(settings))
    assert failed.value.reason.startswith(
        f"The mail relay {HOST}:{smtp_server.port} cannot be reached: ")
    assert "refused" in failed.value.reason.lower()
    smtp_server.start()
    with postman(settings, tmp_path) as post:
        post.send(message(settings))
    assert len(smtp_server.received) == 1


def test_a_server_that_never_answers_is_an_outage_within_the_timeout(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (backlog), never says a word
        silent.bind((HOST, 0))
        silent.listen()
        settings = settings_for(f"smtp://{HOST}:{silent.getsockname()[1]}")
        started = time.monotonic()
        with pytest.raises(RelayUnavailable, match="cannot be reached: .*timed out"), \
                postman(settings, tmp_path, timeout=0.5) as post:
            post.send(message(settings))
        assert time.monotonic() - started < 5


# ---- the outbox, without a relay ---------------------------------------------------------

def test_without_a_relay_mails_are_written_to_the_outbox(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    settings = settings_for(None)
    outbox = tmp_path / "instance" / "outbox"
    moments = iter([NOW, NOW + dt.timedelta(seconds=1), NOW + dt.timedelta(seconds=1)])
    sent = [message(settings, to=f"user{n}@example.com", subject=f"Mail {n}") for n in range(3)]
    with caplog.at_level(logging.INFO, logger="feedsvc.mail"), \
            postman(settings, outbox, clock=lambda: next(moments)) as post:
        for built in sent:
            post.send(built)
    assert stat.S_IMODE(os.stat(outbox).st_mode) == 0o700
    files = sorted(outbox.iterdir())
    assert len(files) == 3 and all(path.suffix == ".eml" for path in files)
    assert files[0].name.startswith("20261214T090000000000Z-")
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)
    parsed = [message_from_bytes(path.read_bytes(), policy=policy.default) for path in files]
    assert parsed[0]["Message-ID"] == sent[0]["Message-ID"]
    assert {m["To"] for m in parsed[1:]} == {"user1@example.com", "user2@example.com"}
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 3
    assert "user0@example.com" in lines[0] and "Mail 0" in lines[0]
    assert not any("/act/" in line for line in lines), "links carry tokens"
