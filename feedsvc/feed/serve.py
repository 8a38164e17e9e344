"""The answer to a feed URL: the whole calendar, or a 304 when the app has it; never partial.

Calendar apps poll forever while people edit rarely, so nearly every request finds its
calendar built: one query (``store.probe``) and a few headers. ``answer`` is the one function
that answers, for the Flask route and for ``FastPath``, which skips Flask's machinery.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from flask import Flask
from werkzeug.exceptions import SecurityError
from werkzeug.http import is_resource_modified, parse_accept_header, quote_etag
from werkzeug.wrappers import Response

from feedsvc.accounts import hash_token
from feedsvc.baseurl import base_url_of
from feedsvc.db import feed_connections
from feedsvc.errors import FeedsvcError, NotFound
from feedsvc.feed import key, store
from feedsvc.feed.build import build
from feedsvc.feeds import TOKEN_LENGTH, not_live
from feedsvc.headers import security_headers
from feedsvc.status import today_in
from feedsvc.texts import N_

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/calendar; charset=utf-8"
# On every feed answer, 200 or 304.
FEED_HEADERS = {"Cache-Control": "private, max-age=0, must-revalidate", "Vary": "Accept-Encoding",
                "X-Robots-Tag": "noindex, nofollow", "Referrer-Policy": "no-referrer"}
# Other preconditions, and ranges: rare, and left to Werkzeug's ``make_conditional`` whole.
RARE_HEADERS = ("HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE", "HTTP_RANGE", "HTTP_IF_RANGE")
# The app's ``store.Copies``, of this many URLs (9 KB gzipped for 50 items, plain if asked).
COPIES_KEY = "feedsvc.feed_copies"
COPIES = 256


class Answer(NamedTuple):
    """An answer as WSGI gives it: status line, headers, body (without a body for HEAD)."""

    status: str
    headers: list[tuple[str, str]]
    body: bytes


def answer(app: Flask, environ: dict[str, Any], token: str, variant: str) -> Answer:
    """The answer to a GET or HEAD of the feed URL ``token`` (variant "ics" or "google"):
    ``NotFound`` or ``Gone`` when no live feed has it, ``SecurityError`` for a host the app
    does not answer to; a database error propagates."""
    if len(token) != TOKEN_LENGTH:
        raise NotFound(N_("No such calendar."))
    token_hash = hash_token(token)
    url, copies = (token_hash, variant), app.extensions[COPIES_KEY]
    copy = copies.get(url)
    conditional = "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ
    with feed_connections(app).connect() as connection:
        probe = store.probe(connection, token_hash, variant, copy is None and not conditional)
        if probe is None:
            raise not_live(connection, token_hash)
        inputs = key.Inputs(variant, base_url_of(app.config, environ), today_in(probe.timezone),
                            app.config["SECRET_KEY"], probe.settings, probe.items)
        cached = probe.cached
        # The copy is the kept entry when its bytes are: it has them, and where its events sit.
        entry = copy if cached and copy and copy.etag == cached.etag else cached
        if cached is None or cached.key != inputs.key():
            entry = build(connection, probe, inputs, token_hash, entry)
        if entry is None:  # deleted since the probe
            raise not_live(connection, token_hash)
        found = _answer(environ, entry, conditional)
        if found is None:  # the bytes are needed after all (the latest kept, even newer ones)
            entry = (store.kept(connection, token_hash, variant)
                     or build(connection, probe, inputs, token_hash, None))
            if entry is None:
                raise not_live(connection, token_hash)
            found = _answer(environ, entry, conditional)
    if entry.body_gzip is not None:
        copies.put(url, entry)
    assert found is not None, "an entry with its bytes always has an answer"
    return found


def _answer(environ: dict[str, Any], entry: store.Entry, conditional: bool) -> Answer | None:
    """The answer with this entry; None when it needs the bytes the entry was read without."""
    compressed = _gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
    # Two encodings are two representations, so each gets its own strong validator.
    etag = entry.etag + "-gzip" if compressed else entry.etag
    headers = [*FEED_HEADERS.items(), ("ETag", quote_etag(etag))]
    rare = any(name in environ for name in RARE_HEADERS)
    if (conditional and not rare
            and not is_resource_modified(environ, etag, last_modified=entry.last_modified)):
        return Answer("304 NOT MODIFIED", headers, b"")
    if entry.body_gzip is None:
        return None
    headers += [("Last-Modified", entry.http_date), ("Content-Type", CONTENT_TYPE),
                *([("Content-Encoding", "gzip")] if compressed else [])]
    body = entry.body_gzip if compressed else entry.body
    if rare:
        response = Response(body, headers=headers).make_conditional(environ)
        return Answer(response.status, response.headers.to_wsgi_list(), response.get_data())
    return Answer("200 OK", [*headers, ("Content-Length", str(len(body)))], body)


@functools.lru_cache(maxsize=64)
def _gzip(accepted: str) -> bool:
    """Whether an Accept-Encoding takes gzip; kept, as clients send few different ones."""
    return "gzip" in accepted and parse_accept_header(accepted)["gzip"] > 0


# Feed tokens are URL-safe base64 (43 characters); anything else is the route's business.
FEED_PATH = re.compile(r"/feeds/([A-Za-z0-9_-]{43})(/google)?\.ics")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class FastPath:
    """WSGI middleware that answers GET and HEAD of live feeds before Flask, without its
    machinery or the throttle (refusing a live feed's request would cost more than answering
    it); what it cannot answer (404, 410, errors) goes on to the route, throttled."""

    def __init__(self, app: Flask, wsgi_app: WSGIApp) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        # The app's security headers, but for those a feed answer sets its own way.
        self.headers = [[(name, value) for name, value in security_headers(app, secure).items()
                         if name not in FEED_HEADERS] for secure in (False, True)]

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        match = FEED_PATH.fullmatch(environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD")
        if match is not None and method in ("GET", "HEAD"):
            try:
                found = answer(self.app, environ, match[1], "google" if match[2] else "ics")
            except (FeedsvcError, SecurityError):  # the route answers with its error page
                pass
            except Exception:
                log.warning("feed fast path failed; the route answers instead", exc_info=True)
            else:
                start_response(found.status, [
                    *found.headers, *self.headers[environ.get("wsgi.url_scheme") == "https"]])
                return [] if method == "HEAD" else [found.body]
        return self.wsgi_app(environ, start_response)


def install(app: Flask) -> None:
    """Put the fast path in front of the app's WSGI callable, and give the app its copies."""
    app.extensions[COPIES_KEY] = store.Copies(COPIES)
    app.wsgi_app = FastPath(app, app.wsgi_app)  # type: ignore[method-assign]
