"""No server-side request forgery: which hosts channels may reach, checked after resolution
and again at every connection, redirects included (``feedsvc.outbound``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from feedsvc.outbound import AllowList, Refused, check, check_new, guarded, public

from helpers.servers import http_server

# Every one names loopback, a private network, link-local (cloud metadata), or an address
# that is no destination at all, in one notation or another. None needs a DNS server.
REFUSED = [
    "127.0.0.1", "localhost", "[::1]", "::1", "10.0.0.5", "172.16.3.4", "192.168.1.1",
    "169.254.169.254", "0.0.0.0", "2130706433", "0x7f000001", "0177.0.0.1", "127.1",
    "[::ffff:127.0.0.1]", "::ffff:a9fe:a9fe", "100.64.0.1", "224.0.0.1", "255.255.255.255",
    "fd00::1", "fe80::1", "[fd00:ec2::254]", "LOCALHOST.", "192.0.2.1", "198.18.0.1",
    # IPv6 addresses that carry a private IPv4 one: NAT64, local-use NAT64, 6to4, and the
    # old IPv4-compatible form.
    "64:ff9b::a00:1", "[64:ff9b::7f00:1]", "64:ff9b:1::808:808", "2002:a00:1::", "::a00:1",
]


@pytest.mark.parametrize("host", REFUSED)
def test_a_host_that_is_not_public_is_refused(host: str) -> None:
    with pytest.raises(Refused) as refused:
        check(host, 443, AllowList())
    assert host in refused.value.reason


@pytest.mark.parametrize("host", ["93.184.216.34", "1.1.1.1", "[2606:4700:4700::1111]"])
def test_a_public_address_may_be_reached(host: str) -> None:
    found = check(host, 443, AllowList())
    assert [sockaddr[0] for *_, sockaddr in found] == [host.strip("[]")]


@pytest.mark.parametrize(("setting", "host"), [
    ("127.0.0.1", "127.0.0.1"), ("127.0.0.0/8", "2130706433"), ("10.0.0.0/8, fd00::/8", "fd00::1"),
    ("localhost", "localhost"), ("LocalHost.", "localhost"), (" 192.168.1.1 ,", "192.168.1.1"),
])
def test_the_allow_list_lets_a_host_through(setting: str, host: str) -> None:
    assert check(host, 80, AllowList.parse(setting))


@pytest.mark.parametrize(("setting", "host"), [
    ("127.0.0.2", "127.0.0.1"), ("10.0.0.0/8", "192.168.1.1"), ("localhost", "127.0.0.1"),
    ("ntfy.example.org", "10.0.0.5"), ("", "localhost"),
])
def test_the_allow_list_lets_nothing_else_through(setting: str, host: str) -> None:
    with pytest.raises(Refused):
        check(host, 80, AllowList.parse(setting))


@pytest.mark.parametrize("setting", ["http://ntfy.lan", "ntfy.lan:8080", "10.0.0.0/33",
                                     "300.1.1.1", "ntfy lan", "*.lan"])
def test_a_bad_allow_list_entry_is_named(setting: str) -> None:
    with pytest.raises(ValueError, match="not an address, a network or a host name"):
        AllowList.parse(setting)


@pytest.mark.parametrize(("address", "expected"), [
    ("8.8.8.8", True), ("::ffff:8.8.8.8", True), ("::ffff:10.0.0.1", False),
    ("239.1.1.1", False), ("ff02::1", False), ("2001:db8::1", False),
    ("64:ff9b::808:808", True), ("2002:808:808::", True), ("64:ff9b::a9fe:a9fe", False),
])
def test_public_means_the_public_internet(address: str, expected: bool) -> None:
    assert public(ipaddress.ip_address(address)) is expected


def test_a_name_that_does_not_resolve_yet_may_be_created(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    import socket

    def unresolvable(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unresolvable)
    check_new("ntfy.example.org", 443, AllowList())
    with pytest.raises(socket.gaierror):
        check("ntfy.example.org", 443, AllowList())


# -- at every connection ------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    """Answers the server's ``status`` (200), with its ``retry_after``; or redirects to the
    address the server was given once, then answers."""

    def do_GET(self) -> None:
        redirect = getattr(self.server, "redirect", None)
        self.server.redirect = None  # type: ignore[attr-defined]
        self.send_response(302 if redirect else getattr(self.server, "status", 200))
        if redirect:
            self.send_header("Location", redirect)
        if getattr(self.server, "retry_after", None):
            self.send_header("Retry-After", self.server.retry_after)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    with http_server(Handler) as httpd:
        yield httpd


def refused(problem: BaseException | None) -> bool:
    """Whether ``Refused`` is somewhere in an exception's chain."""
    while problem is not None:
        if isinstance(problem, Refused):
            return True
        problem = problem.__cause__ or problem.__context__
    return False


def test_a_connection_to_loopback_is_refused_unless_allowed(server: ThreadingHTTPServer
                                                            ) -> None:
    url = f"http://127.0.0.1:{server.server_port}/"
    with guarded(AllowList()) as answers, pytest.raises(requests.ConnectionError) as problem:
        requests.get(url, timeout=5)
    assert refused(problem.value) and answers.refused is not None and not answers.seen
    for setting in ("127.0.0.1", "127.0.0.0/8"):
        with guarded(AllowList.parse(setting)):
            assert requests.get(url, timeout=5).text == "ok"
    # Outside the guard, nothing changes.
    assert requests.get(url, timeout=5).text == "ok"


def test_a_name_allowed_is_reached_whatever_it_resolves_to(server: ThreadingHTTPServer
                                                           ) -> None:
    with guarded(AllowList.parse("localhost")):
        assert requests.get(f"http://localhost:{server.server_port}/", timeout=5).text == "ok"


def test_a_redirect_to_an_address_that_is_not_allowed_is_not_followed(
        server: ThreadingHTTPServer) -> None:
    server.redirect = f"http://127.0.0.1:{server.server_port}/inside"  # type: ignore[attr-defined]
    with guarded(AllowList.parse("localhost")), \
            pytest.raises(requests.ConnectionError) as problem:
        requests.get(f"http://localhost:{server.server_port}/", timeout=5)
    assert refused(problem.value)


def test_every_answer_is_noted_with_its_retry_after(server: ThreadingHTTPServer) -> None:
    url = f"http://127.0.0.1:{server.server_port}/"
    server.status, server.retry_after = 503, "120"  # type: ignore[attr-defined]
    with guarded(AllowList.parse("127.0.0.1")) as answers:
        assert requests.get(url, timeout=5).status_code == 503
    assert answers.seen == [(503, "120")] and answers.last() == (503, "120")
    server.status, server.retry_after = 200, None  # type: ignore[attr-defined]
    server.redirect = url + "again"  # type: ignore[attr-defined]
    with guarded(AllowList.parse("127.0.0.1")) as answers:
        assert requests.get(url, timeout=5).text == "ok"
    assert answers.seen == [(302, None), (200, None)]
    with guarded(AllowList.parse("127.0.0.1")) as answers:
        pass
    assert answers.last() is None
