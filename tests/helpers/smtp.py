"""A real SMTP server for the tests: aiosmtpd's, on 127.0.0.1, with answers a test programs.

    server = SmtpServer()
    server.start()
    server.defer_messages(2)                   # answer DATA 451 twice, then accept
    server.refuse_recipient("gone@example.com") # always 550 for that address
    server.sender_reply = "553 5.7.1 No"       # MAIL FROM refused while set
    server.stop()                              # down: connections are refused
    server.received[0].message["Subject"]      # what arrived, parsed back

Nothing here mocks ``smtplib``: the code under test speaks SMTP over a socket.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from helpers.servers import free_ports

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    """One message the server accepted: its envelope and the message parsed back."""

    sender: str
    recipients: list[str]
    raw: bytes
    message: EmailMessage
    tls: bool
    login: str | None


class SmtpServer:
    """aiosmtpd's SMTP server in a thread, recording what it receives.

    ``starttls`` (a server-side ``ssl.SSLContext``) offers STARTTLS; ``implicit_tls`` serves
    TLS from the first byte (smtps); ``logins`` maps user names to the passwords accepted
    (AUTH is then offered, also without TLS, so that a test can check the credentials);
    ``smtputf8=False`` leaves out SMTPUTF8, which addresses that are not ASCII need.
    """

    def __init__(self, *, starttls: ssl.SSLContext | None = None,
                 implicit_tls: ssl.SSLContext | None = None,
                 logins: dict[str, str] | None = None, smtputf8: bool = True) -> None:
        self.host = HOST
        self.smtputf8 = smtputf8
        (self.port,) = free_ports(1)
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.logins = logins
        self.received: list[Received] = []
        self.refused_logins = 0
        self.drop_after_each_message = False
        self.delay = 0.0  # seconds to wait before answering each message's DATA
        self.sender_reply: str | None = None  # e.g. "553 5.7.1 Sender not allowed"
        self._connections: list[object] = []
        self._deferred_data: list[str] = []
        self._recipient_replies: dict[str, str] = {}
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    # ---- running ----------------------------------------------------------------------

    def start(self) -> None:
        """Listen on the same port as before (a restarted server is the same server)."""
        kwargs: dict[str, Any] = {"server_hostname": "smtp.test", "ready_timeout": 10.0,
                                  "enable_SMTPUTF8": self.smtputf8}
        if self.starttls is not None:
            kwargs["tls_context"] = self.starttls
        if self.implicit_tls is not None:
            kwargs["ssl_context"] = self.implicit_tls
        if self.logins is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        self._controller = Controller(self, hostname=self.host, port=self.port, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening: new connections are refused until ``start``."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def url(self, scheme: str = "smtp", userinfo: str = "") -> str:
        """``FEEDSVC_SMTP_URL`` for this server, e.g. ``url("smtp", "me:secret@")``."""
        return f"{scheme}://{userinfo}{self.host}:{self.port}"

    @property
    def connections(self) -> int:
        """Connections that greeted the server (aiosmtpd's own start-up probe does not)."""
        return len(self._connections)

    # ---- programming the answers ---------------------------------------------------------

    def defer_messages(self, times: int, reply: str = "451 4.3.0 Try again later") -> None:
        """Answer the next ``times`` messages' DATA with ``reply`` (4xx), then accept."""
        with self._lock:
            self._deferred_data.extend([reply] * times)

    def refuse_recipient(self, address: str,
                         reply: str = "550 5.1.1 No such mailbox here") -> None:
        """Answer RCPT TO for ``address`` with ``reply``, every time."""
        self._recipient_replies[address.lower()] = reply

    # ---- aiosmtpd's handler hooks ------------------------------------------------------

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        self._greeted(server)
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str) -> str:
        self._greeted(server)
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        if self.sender_reply is not None:
            return self.sender_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        reply = self._recipient_replies.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self._lock:
            deferred = self._deferred_data.pop(0) if self._deferred_data else None
        if deferred is not None:
            return deferred
        raw = cast(bytes, envelope.original_content or envelope.content)
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        transport = server.transport
        tls = transport is not None and transport.get_extra_info("ssl_object") is not None
        self.received.append(Received(
            sender=str(envelope.mail_from), recipients=list(envelope.rcpt_tos), raw=raw,
            message=cast(EmailMessage, message_from_bytes(raw, policy=policy.default)),
            tls=tls, login=login))
        if self.drop_after_each_message and transport is not None:
            # Closed right after the 250 below is written: the next mail finds it gone.
            server.loop.call_soon(transport.close)
        return "250 Message accepted"

    def _greeted(self, server: SMTP) -> None:
        with self._lock:
            if not any(known is server for known in self._connections):
                self._connections.append(server)

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        assert self.logins is not None
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if self.logins.get(user) == password:
                return AuthResult(success=True, auth_data=auth_data)
        self.refused_logins += 1
        return AuthResult(success=False, handled=False)


def server_tls_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """What the test server presents."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def client_tls_context(cert_file: Path) -> ssl.SSLContext:
    """A client context that trusts the test server's certificate, and nothing else."""
    return ssl.create_default_context(cafile=str(cert_file))
