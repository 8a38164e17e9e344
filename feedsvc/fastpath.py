"""The feed URL's warm path: cached bytes or a 304 straight from WSGI, before Flask.

Calendar apps poll every feed forever while people edit rarely, so nearly every feed request
finds its calendar already built. This middleware answers those requests with one query on a
pooled driver connection (``feedcache``'s probe) and a few headers, skipping Flask's request
machinery, SQLAlchemy's connection and result objects, and the feed throttle (refusing a
warm request would cost more than serving it).

It answers only what it is sure of: a GET or HEAD of a well-formed feed URL whose cached
entry was built under the key computed now, unconditionally or with validators that match.
A stale or missing entry it builds first, as the route would (``feed.build``, without a
request context: a build happens once per change, so it needs no throttle, and Flask's
request handling would add a tenth to its cost). Everything else falls through to the
Flask route, unchanged: an unknown, rotated or deleted token (404, 410), a conditional
request that does not match, If-Match or Range headers, and any error (the route answers
503 if the database is really down). Both paths compute the same key from the same probe,
so they never disagree on whether an entry is fresh; tests/test_fastpath.py compares their
answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.http import http_date, is_resource_modified, parse_accept_header
from werkzeug.wrappers import Request

from feedsvc import feedcache
from feedsvc.db import get_probe_engine
from feedsvc.headers import security_headers
from feedsvc.status import today_in
from feedsvc.web import feed
from feedsvc.web.feed import CONTENT_TYPE, FEED_HEADERS, etag_of

log = logging.getLogger(__name__)

# Feed tokens are URL-safe base64 (43 characters); anything else is the route's business.
FEED_PATH = re.compile(r"/feeds/([A-Za-z0-9_-]{16,64})(/google)?\.ics")
# Headers whose handling the route owns (412 on If-Match, ranges).
ROUTE_ONLY_HEADERS = ("HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE", "HTTP_RANGE",
                      "HTTP_IF_RANGE")

Answer = tuple[str, list[tuple[str, str]], bytes]
StartResponse = Callable[..., Any]


class FeedFastPath:
    """WSGI middleware around ``app.wsgi_app``; install with ``install(app)``."""

    def __init__(self, app: Flask, wsgi_app: Callable[[dict[str, Any], StartResponse],
                                                      Iterable[bytes]]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        # Indexed by whether the request came over https (HSTS).
        common = [{**security_headers(app, secure), **FEED_HEADERS} for secure in (False, True)]
        self.headers_304 = [list(headers.items()) for headers in common]
        self.headers_200 = [[("Content-Type", CONTENT_TYPE), *headers.items()]
                            for headers in common]
        self.memo = feedcache.memo(app)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method == "GET" or method == "HEAD":
            match = FEED_PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match is not None:
                answer = self.answer(environ, match[1], "google" if match[2] else "ics")
                if answer is not None:
                    status, headers, body = answer
                    start_response(status, headers)
                    return [] if method == "HEAD" else [body]
        return self.wsgi_app(environ, start_response)

    def answer(self, environ: dict[str, Any], token: str, variant: str) -> Answer | None:
        """The warm answer to a feed request, or None to let the route answer it."""
        if any(name in environ for name in ROUTE_ONLY_HEADERS):
            return None
        try:
            return self._warm(environ, token, variant)
        except Exception:
            # The route will try again the ordinary way, and report the failure if it lasts.
            log.warning("feed fast path failed; the route answers instead", exc_info=True)
            return None

    def _warm(self, environ: dict[str, Any], token: str, variant: str) -> Answer | None:
        conditional = "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ
        secure = environ.get("wsgi.url_scheme") == "https"
        accept_encoding = environ.get("HTTP_ACCEPT_ENCODING", "")
        compressed = "gzip" in accept_encoding and \
            parse_accept_header(accept_encoding)["gzip"] > 0
        # When this worker served the feed before, the probe reads validators only, and the
        # body comes from the memo if it is still current; otherwise it reads the body too.
        url = (token, variant, compressed)
        kept = None if conditional or environ["REQUEST_METHOD"] == "HEAD" else self.memo.get(url)
        wanted = None if conditional or kept is not None else "gzip" if compressed else "body"
        base_url = self._base_url(environ)
        probe, entry = self._probe(environ, token, variant, wanted, base_url)
        if probe is None:
            return None
        built = entry is None
        if entry is None:
            entry = self._build(token, variant, probe, base_url)
        etag = etag_of(entry, compressed)
        if conditional and not is_resource_modified(environ, etag=etag,
                                                    last_modified=entry.last_modified):
            return "304 NOT MODIFIED", [("ETag", f'"{etag}"'), *self.headers_304[secure]], b""
        if built or wanted is not None:
            body = entry.body_gzip if compressed else entry.body
            if body is None:
                return None
            self.memo.put(url, etag, body)
        elif conditional:
            return None  # the route loads the body
        elif kept is not None and kept.etag == etag:
            body = kept.body
        else:
            # The feed changed since this worker last served it: read the new body.
            _, entry = self._probe(environ, token, variant, "gzip" if compressed else "body",
                                   base_url)
            body = None if entry is None else entry.body_gzip if compressed else entry.body
            if entry is None or body is None:
                return None
            etag = etag_of(entry, compressed)
            self.memo.put(url, etag, body)
        headers = [*self.headers_200[secure], ("Content-Length", str(len(body))),
                   ("ETag", f'"{etag}"'), ("Last-Modified", http_date(entry.last_modified))]
        if compressed:
            headers.append(("Content-Encoding", "gzip"))
        return "200 OK", headers, body

    def _probe(self, environ: dict[str, Any], token: str, variant: str, body: str | None,
               base_url: str) -> tuple[feedcache.Probe | None, feedcache.Entry | None]:
        """The URL's probe, and its cached entry if current (with ``body``: "body", "gzip")."""
        engine = get_probe_engine(self.app)
        connection = engine.raw_connection()
        try:
            probe = feedcache.store(self.app).probe(
                feedcache.DriverConnection(connection.driver_connection, engine.dialect),
                token, variant, body)
        except Exception:
            connection.invalidate()
            raise
        finally:
            connection.close()
        fresh = None
        if probe is not None and probe.cached is not None:
            fresh = probe.fresh(probe.key(variant, base_url, today_in(probe.timezone),
                                          self.app.config["SECRET_KEY"]))
        if fresh is None:
            # Should anything below fail, the route takes over from this probe.
            environ[feedcache.STALE_PROBE] = ((token, variant), probe)
        return probe, fresh

    def _build(self, token: str, variant: str, probe: feedcache.Probe,
               base_url: str) -> feedcache.Entry:
        """Build the feed as the route would, on one of the warm path's autocommit connections.

        Each statement is its own transaction. A transaction would give the reads no
        consistency that the build needs (``feed.build`` relies on the probe's key, read
        first, and PostgreSQL's READ COMMITTED would not hold a snapshot anyway), and its
        BEGIN and COMMIT (and on PostgreSQL the request session's ping) are more round trips.
        The one write, the cache entry, is a single statement: on SQLite it waits for the
        write lock like any other writer, holding no read transaction that would make it fail.
        """
        reminder_events = True if variant == "google" else None
        with get_probe_engine(self.app).connect() as connection, \
                Session(bind=connection) as session:
            return feed.build(session, feedcache.store(self.app), self.memo, probe, token,
                              reminder_events, variant, base_url,
                              self.app.config["SECRET_KEY"])

    def _base_url(self, environ: dict[str, Any]) -> str:
        # As ``public_base_url`` computes it inside a request.
        configured = self.app.config.get("FEEDSVC_BASE_URL")
        if configured:
            return str(configured).rstrip("/")
        request = Request(environ)
        request.trusted_hosts = self.app.config.get("TRUSTED_HOSTS")
        return request.host_url.rstrip("/")


def install(app: Flask) -> None:
    """Put the warm path in front of the app's WSGI callable."""
    app.wsgi_app = FeedFastPath(app, app.wsgi_app)  # type: ignore[method-assign]
