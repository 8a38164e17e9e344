"""Where requests to people's push services may go: no server-side request forgery.

A channel's host may not be, nor resolve to, an address that is not on the public internet:
loopback, private, shared (carrier-grade NAT), link-local (cloud metadata services included),
multicast, reserved or unspecified, in any notation (decimal, hex or octal IPv4, IPv6,
IPv4-mapped IPv6), unless ``FEEDSVC_CHANNEL_ALLOW_HOSTS`` allows it (``AllowList``).

``check`` resolves a host and answers with the addresses it may be reached at. Inside
``guarded``, every connection the HTTP client makes (urllib3's, which ``requests`` and so
Apprise use) is checked when it is made and goes to an address that was checked, so neither a
name that points inside later nor a redirect reaches such an address; and every answer's
status is noted (``Answers``), since Apprise says only whether a message went.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import urllib3.connection
import urllib3.util.connection

from feedsvc.texts import N_

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(OSError):
    """A host that channels may not reach; ``reason`` says why, for people."""

    def __init__(self, host: str, address: str) -> None:
        self.host = host
        self.reason = (N_("%(host)s is not a public address.") % {"host": host}
                       if address == host.strip("[]") else
                       N_("%(host)s points to %(address)s, which is not a public address.")
                       % {"host": host, "address": address})
        super().__init__(self.reason)


@dataclass(frozen=True)
class AllowList:
    """What channels may reach although it is not public: addresses, networks (CIDR) and host
    names (a name allows URLs that name that host, whatever it resolves to)."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | None) -> AllowList:
        """The list a comma-separated setting gives; ``ValueError`` names a bad entry."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in (part.strip() for part in (text or "").split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = _host_name(entry)
            label = name.replace("-", "").replace(".", "")
            if "/" in entry or ":" in entry or not label.isalnum() or label.isdigit():
                raise ValueError("FEEDSVC_CHANNEL_ALLOW_HOSTS: not an address, a network or a "
                                 f"host name: {entry!r}")
            hosts.add(name)
        return cls(tuple(networks), frozenset(hosts))

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def _host_name(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


# IPv6 prefixes that carry an IPv4 address in their last 32 bits: NAT64's (RFC 6052) and
# the old IPv4-compatible one; and NAT64's local-use prefix (RFC 8215), which may reach
# anything.
_EMBEDDING = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("::/96"))
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def public(address: IPAddress) -> bool:
    """Whether an address is on the public internet; an IPv6 address that carries an IPv4
    one (IPv4-mapped, 6to4, NAT64, IPv4-compatible) is judged as that IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:
            return False
        if address.ipv4_mapped is not None or address.sixtofour is not None:
            return public(address.ipv4_mapped or address.sixtofour)  # type: ignore[arg-type]
        if any(address in prefix for prefix in _EMBEDDING) and int(address) > 0xFFFF:
            return public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return address.is_global and not address.is_multicast


def check(host: str, port: int, allow: AllowList) -> list[tuple[Any, ...]]:
    """The addresses (``socket.getaddrinfo``'s) at which ``host`` may be reached: ``Refused``
    when any of them is neither public nor allowed, ``socket.gaierror`` when it does not
    resolve."""
    name = _host_name(host)
    found = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    if name in allow.hosts:
        return found
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if not public(address) and not allow.allows_address(address):
            raise Refused(host, str(address))
    return found


def is_literal(host: str) -> bool:
    """Whether ``host`` is an IP address in some notation (read without asking DNS)."""
    try:
        socket.getaddrinfo(_host_name(host), None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        return False
    return True


def check_new(host: str, port: int, allow: AllowList) -> None:
    """``check`` for a channel being created: a name that does not resolve yet is accepted
    (it is checked again at each send)."""
    try:
        check(host, port, allow)
    except socket.gaierror:
        pass


@dataclass
class Answers:
    """The HTTP answers received inside ``guarded``, in order: (status, Retry-After); and
    the host refused, if one was."""

    seen: list[tuple[int, str | None]] = field(default_factory=list)
    refused: Refused | None = None

    def last(self) -> tuple[int, str | None] | None:
        return self.seen[-1] if self.seen else None


_GUARD: ContextVar[tuple[AllowList, Answers] | None] = ContextVar("feedsvc_outbound_guard",
                                                                  default=None)
_CREATE_CONNECTION = urllib3.util.connection.create_connection
_GETRESPONSE = urllib3.connection.HTTPConnection.getresponse


def _create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
    """urllib3's ``create_connection``, which checks the host inside ``guarded``."""
    guard = _GUARD.get()
    if guard is None:
        return _CREATE_CONNECTION(address, *args, **kwargs)
    host, port = address
    try:
        found = check(host, port, guard[0])
    except Refused as refused:
        guard[1].refused = refused
        raise
    failure: OSError = OSError(f"{host} has no address")
    for *_, sockaddr in found:
        try:
            return _CREATE_CONNECTION((sockaddr[0], port), *args, **kwargs)
        except OSError as problem:
            failure = problem
    raise failure


def _getresponse(self: Any, *args: Any, **kwargs: Any) -> Any:
    """urllib3's ``HTTPConnection.getresponse``, which notes the answer inside ``guarded``."""
    response = _GETRESPONSE(self, *args, **kwargs)
    guard = _GUARD.get()
    if guard is not None:
        guard[1].seen.append((response.status, response.headers.get("Retry-After")))
    return response


@contextmanager
def guarded(allow: AllowList) -> Iterator[Answers]:
    """Check every connection the HTTP client makes meanwhile in this context (a thread
    started meanwhile is not), and note every answer it gets.

    urllib3 offers no hook between resolving a name and connecting, nor one that sees every
    answer, so two of its functions are replaced, once, by ones that act only in this
    context.
    """
    urllib3.util.connection.create_connection = _create_connection  # type: ignore[assignment]
    urllib3.connection.HTTPConnection.getresponse = _getresponse  # type: ignore[method-assign]
    answers = Answers()
    token = _GUARD.set((allow, answers))
    try:
        yield answers
    finally:
        _GUARD.reset(token)
