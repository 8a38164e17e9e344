"""The calendar feed URL that calendar apps poll: GET and HEAD, conditional, never partial."""

from __future__ import annotations

import hashlib
import logging

from flask import Blueprint, Response, request

from feedsvc import feeds, ics
from feedsvc.baseurl import public_base_url
from feedsvc.db import get_session
from feedsvc.errors import FeedsvcError, Unavailable
from feedsvc.status import today_in

bp = Blueprint("feed", __name__)
log = logging.getLogger(__name__)

CONTENT_TYPE = "text/calendar; charset=utf-8"


@bp.route("/feeds/<token>.ics", methods=["GET", "HEAD"])
def calendar(token: str) -> Response:
    """The feed as its settings say."""
    return serve(token, reminder_events=None)


@bp.route("/feeds/<token>/google.ics", methods=["GET", "HEAD"])
def google_calendar(token: str) -> Response:
    """The same feed with lead events, for Google Calendar, which ignores alarms."""
    return serve(token, reminder_events=True)


def serve(token: str, reminder_events: bool | None) -> Response:
    """Build the whole calendar first, so a failure is an error status, never a partial 200."""
    try:
        session = get_session()
        feed = feeds.feed_for_token(session, token)
        user = feed.user
        view = feeds.feed_view(session, feed, user, public_base_url(), today_in(user.timezone),
                               reminder_events=reminder_events)
        body = ics.build_calendar(view)
    except FeedsvcError:
        raise
    except Exception:
        log.exception("feed could not be built")
        raise Unavailable("The calendar is temporarily unavailable; please try again later.") \
            from None
    response = Response(body, content_type=CONTENT_TYPE)
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.last_modified = view.last_modified
    response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response.make_conditional(request)
