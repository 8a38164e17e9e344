"""The public origin used in links that leave the app (feed URLs, links inside events), and
the hosts the app answers to.

With ``FEEDSVC_BASE_URL`` set, links come from it alone, whatever ``Host`` a request names.
Without it they come from the request, so only trusted hosts may be named (Flask's
``TRUSTED_HOSTS`` answers any other with 400): an attacker's ``Host`` never reaches a link,
a cached feed or an export.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from flask import current_app, request
from werkzeug.wrappers import Request

# The embedded default serves this machine only.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
# Where the embedded default listens (gunicorn's FEEDSVC_BIND default).
EMBEDDED_ORIGIN = "http://127.0.0.1:8000"


def trusted_hosts(config: Mapping[str, Any]) -> list[str] | None:
    """The hosts a request may name (``FEEDSVC_TRUSTED_HOSTS``), or None for any host."""
    configured = config.get("FEEDSVC_TRUSTED_HOSTS")
    if configured:
        hosts = configured.split(",") if isinstance(configured, str) else configured
        return [host.strip() for host in hosts if host.strip()]
    return None if config.get("FEEDSVC_BASE_URL") else list(LOOPBACK_HOSTS)


def mail_base_url(config: Mapping[str, Any]) -> str:
    """The origin of links in mails (and anything made outside a request): only ever
    ``FEEDSVC_BASE_URL``, never a request's ``Host``; the embedded default's without one."""
    return str(config.get("FEEDSVC_BASE_URL") or EMBEDDED_ORIGIN).rstrip("/")


def public_base_url() -> str:
    """``FEEDSVC_BASE_URL`` when set, otherwise the origin of the current request."""
    return base_url_of(current_app.config, request.environ)


def base_url_of(config: Mapping[str, Any], environ: Mapping[str, Any]) -> str:
    """``public_base_url`` from a WSGI environment, outside Flask's request context too;
    ``SecurityError`` for a host the app does not answer to (``TRUSTED_HOSTS``), as Flask
    raises it for every route."""
    trusted = config.get("TRUSTED_HOSTS")
    origin = _origin(tuple((name, environ[name]) for name in _ORIGIN if name in environ),
                     None if trusted is None else tuple(trusted))
    return str(config.get("FEEDSVC_BASE_URL") or origin).rstrip("/")


# What a request's origin is made of.
_ORIGIN = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT")


@functools.lru_cache(maxsize=64)
def _origin(environ: tuple[tuple[str, str], ...], trusted: tuple[str, ...] | None) -> str:
    """Werkzeug's ``Request.host_url``, checked against the trusted hosts. Kept: clients name
    few hosts, and working it out takes a fifth of a kept feed's answer."""
    origin = Request(dict(environ), populate_request=False)
    origin.trusted_hosts = None if trusted is None else list(trusted)
    return origin.host_url
