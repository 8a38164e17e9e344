"""Outgoing mail: the relay's settings, messages built by the standard library's ``email``
package, and a postman that sends them over one SMTP connection per pass.

No Flask here: callers hand in the configuration mapping, a clock and the outbox folder.
Without ``FEEDSVC_SMTP_URL`` every message is written as an ``.eml`` file to the outbox
instead, so a fresh installation shows what it would have sent.

Outcomes of a send are exceptions carrying a short ``reason`` for people (marked with
``N_`` so that pages can translate it): ``RelayUnavailable`` is an outage of the service
(never the fault of a recipient), ``TemporaryFailure`` is worth retrying, and
``PermanentFailure`` is not.
"""

from __future__ import annotations

import logging
import os
import secrets
import smtplib
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from feedsvc import status
from feedsvc.config import make_private_folder
from feedsvc.texts import N_

log = logging.getLogger(__name__)

# Scheme → (how the connection is secured, default port).
SCHEMES = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}
# Seconds for connecting and for each answer of the relay: neither a pass nor a page that
# sends account mail hangs on it (gunicorn replaces a worker after FEEDSVC_TIMEOUT, 30 s).
TIMEOUT = 15.0
SENDER_NAME = "feedsvc"
OUTBOX_FOLDER = "outbox"
# Every message is 7-bit clean (non-ASCII bodies quoted-printable or base64, headers RFC
# 2047-encoded), so any relay can carry it, 8BITMIME or not.
MAIL_POLICY = policy.default.clone(cte_type="7bit")
_REPLY_LENGTH = 120


@dataclass(frozen=True)
class Relay:
    """Where mail goes: ``FEEDSVC_SMTP_URL`` parsed. Its text never shows the password."""

    security: str  # "plain", "starttls" or "tls"
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class MailSettings:
    """The relay (None: write to the outbox) and the sender, as ``From`` shows it."""

    relay: Relay | None
    sender: str  # "feedsvc <feedsvc@feeds.example.org>"
    sender_address: str  # "feedsvc@feeds.example.org"

    @property
    def sender_domain(self) -> str:
        """The domain of the sender's address: Message-IDs and the greeting use it."""
        return self.sender_address.rpartition("@")[2]


def _malformed_url(problem: str) -> str:
    # Words for whoever starts the service (it refuses to start): English, not for pages.
    return (f"FEEDSVC_SMTP_URL: {problem}; expected smtp://[user:password@]host[:port], "
            "smtp+starttls://… or smtps://…")


def parse_smtp_url(url: str) -> Relay:
    """``smtp://``, ``smtp+starttls://`` or ``smtps://[user:password@]host[:port]``.

    A malformed URL is a ValueError naming the setting (and never showing the password).
    """
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in SCHEMES:
        raise ValueError(_malformed_url(f"unknown scheme {parts.scheme or 'none'!r}"))
    security, default_port = SCHEMES[parts.scheme.lower()]
    try:
        port = parts.port
    except ValueError:
        raise ValueError(_malformed_url("the port is not a number from 1 to 65535")) from None
    if not parts.hostname:
        raise ValueError(_malformed_url("no host"))
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(_malformed_url("a path, query or fragment means nothing here"))
    if port == 0:
        raise ValueError(_malformed_url("the port is not a number from 1 to 65535"))
    user = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    if user is not None and password is None:
        raise ValueError(_malformed_url("a user name needs a password (user:password@host)"))
    if user == "":
        raise ValueError(_malformed_url("an empty user name"))
    return Relay(security, parts.hostname, port or default_port, user, password)


def _sender(config: Mapping[str, Any]) -> tuple[str, str]:
    configured = (config.get("FEEDSVC_MAIL_FROM") or "").strip()
    if not configured:
        host = urlsplit(config.get("FEEDSVC_BASE_URL") or "").hostname or "localhost"
        address = f"feedsvc@{host}"
        return formataddr((SENDER_NAME, address)), address
    name, address = parseaddr(configured)
    local, _at, domain = address.rpartition("@")
    if not local or not domain or any(c.isspace() for c in address) or any(c in configured for c in "\r\n"):
        raise ValueError("FEEDSVC_MAIL_FROM: expected an address such as "
                         "feedsvc@feeds.example.org or \"feedsvc <feedsvc@feeds.example.org>\"")
    return formataddr((name or SENDER_NAME, address)), address


def mail_settings(config: Mapping[str, Any]) -> MailSettings:
    """The mail settings of a configuration (``FEEDSVC_SMTP_URL``, ``FEEDSVC_MAIL_FROM``,
    ``FEEDSVC_BASE_URL``); ValueError, naming the setting, when one is malformed."""
    url = (config.get("FEEDSVC_SMTP_URL") or "").strip()
    sender, address = _sender(config)
    return MailSettings(parse_smtp_url(url) if url else None, sender, address)


def mail_configured(settings: MailSettings | Mapping[str, Any]) -> bool:
    """Whether mail really leaves (a relay is set) rather than going to the outbox."""
    if isinstance(settings, MailSettings):
        return settings.relay is not None
    return bool((settings.get("FEEDSVC_SMTP_URL") or "").strip())


@dataclass(frozen=True)
class Mail:
    """One mail to one address: what it says, in plain text and in HTML."""

    to: str
    subject: str
    text: str
    html: str
    # https link that unsubscribes this address with one POST (RFC 8058), for reminders.
    unsubscribe_url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def build_message(mail: Mail, settings: MailSettings, now: datetime) -> EmailMessage:
    """The mail as a ``multipart/alternative`` message, dated ``now`` (an aware datetime)."""
    if now.tzinfo is None:
        raise ValueError("the Date of a mail needs an aware datetime")
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = settings.sender
    message["To"] = mail.to
    # A title cannot break the header: line breaks and runs of spaces become one space.
    message["Subject"] = " ".join(mail.subject.split())
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=settings.sender_domain)
    message["Auto-Submitted"] = "auto-generated"
    # RFC 8058 one-click unsubscribing works over https only; a plain http link (a test
    # installation) stays in the mail's footer but is not offered to mail programs.
    if mail.unsubscribe_url and mail.unsubscribe_url.startswith("https://"):
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in mail.headers.items():
        del message[name]
        message[name] = value
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


class MailError(Exception):
    """A mail that did not leave. ``reason`` is short, for people, and carries no secret;
    ``msgid`` (marked with ``N_``) and ``values`` let a page translate it."""

    def __init__(self, msgid: str, **values: object) -> None:
        self.msgid = msgid
        self.values = values
        self.reason = msgid % values if values else msgid
        super().__init__(self.reason)


class RelayUnavailable(MailError):
    """The relay cannot be reached or refuses us: an outage of the service, not a recipient's
    fault (connection refused, timeout, TLS failure, disconnect, log-in refused)."""


class TemporaryFailure(MailError):
    """The relay answered 4xx for this message or recipient: try again later."""


class PermanentFailure(MailError):
    """The relay answered 5xx for this message or recipient: trying again will not help."""


class Post(Protocol):
    """What ``postman`` gives: ``send`` raises one of the ``MailError`` kinds on failure."""

    def send(self, message: EmailMessage) -> None: ...


def _reply(code: int, reply: bytes | str) -> dict[str, object]:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    text = " ".join(text.split())
    if len(text) > _REPLY_LENGTH:
        text = text[:_REPLY_LENGTH - 1] + "…"
    return {"code": code, "reply": text}


def _answer_failure(code: int, reply: bytes | str) -> MailError:
    """An SMTP answer about the message or a recipient, as the matching failure."""
    if 400 <= code < 500:
        return TemporaryFailure(N_("The mail server asked to try again later: SMTP %(code)s "
                                   "%(reply)s"), **_reply(code, reply))
    return PermanentFailure(N_("The mail server refused the message: SMTP %(code)s %(reply)s"),
                            **_reply(code, reply))


def _unreachable(relay: Relay, error: BaseException) -> RelayUnavailable:
    """A failure to reach or use the relay, whatever the message."""
    if isinstance(error, smtplib.SMTPResponseException):
        return RelayUnavailable(N_("The mail relay %(relay)s refused us: SMTP %(code)s "
                                   "%(reply)s"), relay=str(relay),
                                **_reply(error.smtp_code, error.smtp_error))
    detail = (error.strerror if isinstance(error, OSError) and error.strerror else
              str(error) or type(error).__name__)
    return RelayUnavailable(N_("The mail relay %(relay)s cannot be reached: %(error)s"),
                            relay=str(relay), error=" ".join(detail.split())[:_REPLY_LENGTH])


class SmtpPost:
    """Sends through one SMTP connection, opened on the first mail and kept for the next."""

    def __init__(self, settings: MailSettings, relay: Relay, timeout: float,
                 ssl_context: ssl.SSLContext | None) -> None:
        self.settings = settings
        self.relay = relay
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        relay = self.relay
        # The sender's domain greets the relay: no DNS look-up of our own host name.
        helo = self.settings.sender_domain
        try:
            smtp = (smtplib.SMTP_SSL(relay.host, relay.port, local_hostname=helo,
                                     timeout=self.timeout, context=self.ssl_context)
                    if relay.security == "tls" else
                    smtplib.SMTP(relay.host, relay.port, local_hostname=helo,
                                 timeout=self.timeout))
        except (smtplib.SMTPException, OSError) as error:
            raise _unreachable(relay, error) from error
        try:
            smtp.ehlo()
            if relay.security == "starttls":
                if not smtp.has_extn("starttls"):
                    # Never fall back to sending in clear what was configured encrypted.
                    raise RelayUnavailable(N_("The mail relay %(relay)s does not offer "
                                              "STARTTLS; nothing was sent."), relay=str(relay))
                smtp.starttls(context=self.ssl_context)
                smtp.ehlo()
            if relay.user is not None:
                smtp.login(relay.user, relay.password or "")
        except smtplib.SMTPAuthenticationError as error:
            smtp.close()
            raise RelayUnavailable(N_("The mail relay %(relay)s refused the log-in: SMTP "
                                      "%(code)s"), relay=str(relay),
                                   code=error.smtp_code) from error
        except RelayUnavailable:
            smtp.close()
            raise
        except (smtplib.SMTPException, OSError) as error:
            smtp.close()
            raise _unreachable(relay, error) from error
        return smtp

    def _connection(self) -> smtplib.SMTP:
        """The open connection if the relay still answers it, else a new one (once)."""
        if self._smtp is not None:
            try:
                if self._smtp.noop()[0] == 250:
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass
            self.close()
        self._smtp = self._connect()
        return self._smtp

    def send(self, message: EmailMessage) -> None:
        """Send one message; raises RelayUnavailable, TemporaryFailure or PermanentFailure."""
        smtp = self._connection()
        try:
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = next(iter(error.recipients.values()))
            raise self._refusal(code, reply) from error
        except smtplib.SMTPSenderRefused as error:
            if error.smtp_code >= 500:
                # Our own address refused: every mail would be, whoever it is for.
                raise _unreachable(self.relay, error) from error
            raise self._refusal(error.smtp_code, error.smtp_error) from error
        except smtplib.SMTPNotSupportedError as error:
            # An address that needs SMTPUTF8, which the relay lacks: nothing was sent.
            raise PermanentFailure(N_("The mail relay cannot carry this address: %(error)s"),
                                   error=str(error)[:_REPLY_LENGTH]) from error
        except smtplib.SMTPResponseException as error:
            raise self._refusal(error.smtp_code, error.smtp_error) from error
        except (smtplib.SMTPException, OSError) as error:  # disconnected, timed out…
            self.close()
            raise _unreachable(self.relay, error) from error
        if refused:  # several recipients, some refused: report the first
            code, reply = next(iter(refused.values()))
            raise _answer_failure(code, reply)
        log.info("mail to %s sent through %s: %s", message["To"], self.relay,
                 message["Subject"])

    def _refusal(self, code: int, reply: bytes | str) -> MailError:
        if code == 421:  # the relay is shutting the connection: an outage, not this mail
            self.close()
            return RelayUnavailable(N_("The mail relay %(relay)s refused us: SMTP %(code)s "
                                       "%(reply)s"), relay=str(self.relay), **_reply(code, reply))
        return _answer_failure(code, reply)

    def close(self) -> None:
        """Say goodbye to the relay, if it still listens."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


class OutboxPost:
    """Writes each message as an ``.eml`` file (0600) in a folder of its owner's (0700)."""

    def __init__(self, folder: Path, clock: Callable[[], datetime]) -> None:
        self.folder = folder
        self.clock = clock
        make_private_folder(str(folder))

    def send(self, message: EmailMessage) -> None:
        """Write the message; names sort by time, and a random part keeps them apart."""
        data = message.as_bytes()
        stamp = self.clock().astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        while True:
            name = f"{stamp}-{os.getpid()}-{secrets.token_hex(4)}.eml"
            try:
                fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            break
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
        # Recipient and subject only: the links in the body carry tokens.
        log.info("mail to %s written to %s/%s (no mail relay set): %s", message["To"],
                 OUTBOX_FOLDER, name, message["Subject"])


def outbox_path(instance_path: str | Path) -> Path:
    """Where mail goes without a relay: ``<instance>/outbox``."""
    return Path(instance_path) / OUTBOX_FOLDER


@contextmanager
def postman(settings: MailSettings, outbox: str | Path, *, timeout: float = TIMEOUT,
            ssl_context: ssl.SSLContext | None = None,
            clock: Callable[[], datetime] = status.utc_now) -> Iterator[Post]:
    """Open once per pass: ``with postman(settings, outbox) as post: post.send(message)``.

    With a relay, every ``send`` reuses one SMTP connection (reconnecting once when the relay
    dropped it between mails), closed at the end. Without one, messages go to ``outbox``
    (``<instance>/outbox``). ``ssl_context`` defaults to the system's trusted certificates.
    """
    if settings.relay is None:
        yield OutboxPost(Path(outbox), clock)
        return
    post = SmtpPost(settings, settings.relay, timeout, ssl_context)
    try:
        yield post
    finally:
        post.close()
