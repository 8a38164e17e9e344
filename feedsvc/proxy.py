"""The client's address and scheme, taken from the reverse proxies trusted to tell them.

Behind a proxy every connection comes from the proxy, so the client's address (which the
throttles count and the access log shows) and whether it spoke https (secure cookies, HSTS,
the CSRF check's same-origin test) come from its ``X-Forwarded-For`` and
``X-Forwarded-Proto``. Only the addresses in ``FEEDSVC_FORWARDED_ALLOW_IPS`` may set them;
from anyone else they are removed before anything reads them. Werkzeug's ``ProxyFix``
does the rewriting; this only decides whom it applies to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_HEADERS = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO",
                     "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT",
                     "HTTP_X_FORWARDED_PREFIX")


def parse_networks(setting: str) -> list[Network] | None:
    """The trusted networks of a comma-separated setting; None when ``*`` trusts everyone."""
    entries = [entry.strip() for entry in str(setting or "").split(",") if entry.strip()]
    if "*" in entries:
        return None
    try:
        return [ipaddress.ip_network(entry, strict=False) for entry in entries]
    except ValueError as error:
        raise ValueError(f"FEEDSVC_FORWARDED_ALLOW_IPS: {error}") from None


class TrustedProxies:
    """WSGI middleware: ``ProxyFix`` (one proxy) for trusted peers, no forwarding otherwise."""

    def __init__(self, wsgi_app: WSGIApp, trusted: str) -> None:
        self.wsgi_app = wsgi_app
        self.networks = parse_networks(trusted)
        # Each trusted proxy sets these headers itself, so its own entry is the last one.
        self.fixed = ProxyFix(wsgi_app, x_for=1, x_proto=1)

    def trusts(self, address: str | None) -> bool:
        """Whether a peer at ``address`` is a trusted proxy; a Unix socket peer
        (no address) can only be a local process, which is trusted."""
        if self.networks is None or not address:
            return True
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
            peer = peer.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
        return any(peer in network for network in self.networks)

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.trusts(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        for name in FORWARDED_HEADERS:
            environ.pop(name, None)
        return self.wsgi_app(environ, start_response)
