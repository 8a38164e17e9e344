"""The calendar feed URL that calendar apps poll: GET and HEAD, conditional, never partial.

Calendar apps poll forever while people edit rarely, so a request normally costs one indexed
query (``feedcache``): the cached bytes when nothing changed, a 304 when the app has them.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request
from sqlalchemy.orm import Session
from werkzeug.http import is_resource_modified

from feedsvc import feedcache, feeds, ics
from feedsvc.baseurl import public_base_url
from feedsvc.db import get_engine, get_session
from feedsvc.errors import FeedsvcError, Unavailable
from feedsvc.status import today_in
from feedsvc.web.i18n import N_

bp = Blueprint("feed", __name__)
log = logging.getLogger(__name__)

CONTENT_TYPE = "text/calendar; charset=utf-8"
# On every feed answer, 200 or 304, from the route or from ``feedsvc.fastpath``.
FEED_HEADERS = {
    "Cache-Control": "private, max-age=0, must-revalidate",
    "Vary": "Accept-Encoding",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}


@bp.after_request
def keep_the_address_private(response: Response) -> Response:
    """A feed's address is its secret: no answer to it, errors included, lets a browser
    send that address on in a ``Referer``."""
    response.headers["Referrer-Policy"] = FEED_HEADERS["Referrer-Policy"]
    return response


@bp.route("/feeds/<token>.ics", methods=["GET", "HEAD"])
def calendar(token: str) -> Response:
    """The feed as its settings say."""
    return serve(token, reminder_events=None)


@bp.route("/feeds/<token>/google.ics", methods=["GET", "HEAD"])
def google_calendar(token: str) -> Response:
    """The same feed with lead events, for Google Calendar, which ignores alarms."""
    return serve(token, reminder_events=True)


def serve(token: str, reminder_events: bool | None) -> Response:
    """Serve the cached bytes, or build the whole calendar first: never a partial 200."""
    variant = "google" if reminder_events else "ics"
    compressed = request.accept_encodings["gzip"] > 0
    try:
        cache = feedcache.store()
        probe, entry = _current(cache, token, variant, compressed)
        if probe is None:
            feeds.feed_for_token(get_session(), token)  # raises NotFound or Gone
            raise LookupError("the feed appeared between two queries")
        if entry is None:
            entry = build(get_session(), cache, feedcache.memo(current_app), probe, token,
                          reminder_events, variant, public_base_url(),
                          current_app.config["SECRET_KEY"])
    except FeedsvcError:
        raise
    except Exception:
        log.exception("feed could not be built")
        raise Unavailable(
            N_("The calendar is temporarily unavailable; please try again later.")) from None
    body = entry.body_gzip if compressed else entry.body
    if body:
        # The warm path can serve the next request for this URL without reading the body.
        feedcache.memo(current_app).put((token, variant, compressed), etag_of(entry, compressed),
                                        body)
    response = Response(body or b"", content_type=CONTENT_TYPE)
    if compressed:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(etag_of(entry, compressed))
    response.last_modified = entry.last_modified
    response.headers.update(FEED_HEADERS)
    response.make_conditional(request)  # in place: a 304 when the validators match
    return response


def _key(probe: feedcache.Probe, variant: str) -> str:
    return probe.key(variant, public_base_url(), today_in(probe.timezone),
                     current_app.config["SECRET_KEY"])


def _current(cache: feedcache.Store, token: str, variant: str,
             compressed: bool) -> tuple[feedcache.Probe | None, feedcache.Entry | None]:
    """The feed URL's probe, and its cached entry when current, with what the answer needs."""
    stale = request.environ.pop(feedcache.STALE_PROBE, None)
    if stale is not None and stale[0] == (token, variant):
        # The warm path has just found no current entry: asking again would find the same.
        return stale[1], None
    # A conditional request usually ends in a 304, so the probe leaves the body behind.
    conditional = bool(request.if_none_match or request.if_modified_since)
    wanted = None if conditional else "gzip" if compressed else "body"
    # The probe needs no ORM session: a bare connection is the cheapest way in.
    with feedcache.connect(get_engine()) as connection:
        probe = cache.probe(connection, token, variant, wanted)
        if probe is None:
            return None, None
        entry = probe.fresh(_key(probe, variant))
        if entry is not None and wanted is None and is_resource_modified(
                request.environ, etag=etag_of(entry, compressed),
                last_modified=entry.last_modified):
            entry = cache.load(connection, probe.feed_id, variant, entry.key)
    return probe, entry


def etag_of(entry: feedcache.Entry, compressed: bool) -> str:
    # Two encodings are two representations, so each gets its own strong validator.
    return entry.etag + "-gzip" if compressed else entry.etag


def build(session: Session, cache: feedcache.Store, memo: feedcache.BodyMemo,
          probe: feedcache.Probe, token: str, reminder_events: bool | None, variant: str,
          base_url: str, secret_key: str) -> feedcache.Entry:
    """Build the feed, reusing the events of items unchanged since the last build, and store it.

    Needs no request: the route calls it, and so does ``feedsvc.fastpath`` to build a stale
    feed without Flask's request handling.

    Only the items whose row version (or whose context: settings, date window, code) changed
    since the last build are read in full and serialised; the others' events are copied
    from the previous entry, which this worker usually still holds in its memo.
    ``secret_key`` seals the action links; it is part of the cache key and the context.
    """
    source = feeds.feed_source(session, token)
    feed, user, outline = source.feed, source.owner, source.outline
    today = today_in(probe.timezone)
    key = probe.key(variant, base_url, today, secret_key)
    known = _previous_events(session, cache, memo, probe, token, variant)
    context = feeds.events_context(feed, user, base_url, today, reminder_events,
                                   secret_key=secret_key)
    order = [(item_id, ics.version_digest(context, item_id, version))
             for item_id, version in outline.items]
    missing = frozenset(item_id for item_id, digest in order if digest not in known)
    view = feeds.feed_view(session, feed, user, base_url, today,
                           reminder_events=reminder_events, outline=outline, only=missing,
                           secret_key=secret_key)
    events = ics.EventCache(known)
    body = ics.assemble_calendar(view, order, events)
    entry = feedcache.new_entry(key, body, view.last_modified, events.parts)
    # The next build after an edit, in this worker, takes its events from here.
    memo.put((token, variant, False), entry.etag, body, entry.parts)
    if not probe.storable(item_id for item_id, _ in outline.items):
        return entry
    try:
        if session.connection().dialect.name == "sqlite":
            # The write gets a transaction of its own: on SQLite one that began with reads
            # could not wait for the write lock once another writer had committed.
            session.commit()
        cache.save(session.connection(), feed.id, variant, entry)
        session.commit()
    except Exception:
        # The calendar is built and correct; only the next request will have to build it too.
        session.rollback()
        log.warning("feed cache could not be written", exc_info=True)
    return entry


def _previous_events(session: Session, cache: feedcache.Store, memo: feedcache.BodyMemo,
                     probe: feedcache.Probe, token: str, variant: str) -> dict[str, bytes]:
    """The events of the entry the probe found, by digest: from the memo, the probe, the store."""
    if probe.cached is None:
        return {}
    kept = memo.get((token, variant, False))
    if kept is not None and kept.parts and kept.etag == probe.cached.etag:
        return feedcache.known_events(kept.body, kept.parts)
    if probe.cached.parts:
        return probe.cached.events()
    previous = cache.previous(session.connection(), probe.feed_id, variant)
    return {} if previous is None else previous.events()
