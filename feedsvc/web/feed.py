"""The calendar feed URLs that calendar apps poll: GET and HEAD, conditional, never partial.

``feedsvc.feed.serve.FastPath`` answers live feeds before Flask; the route answers the same
way (``serve.answer``) whatever it leaves: unknown, replaced or deleted addresses, and
errors, with the throttle (``feedsvc.limits``) and the error pages.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, request
from werkzeug.wrappers import Response

from feedsvc.baseurl import public_base_url
from feedsvc.errors import FeedsvcError, Unavailable
from feedsvc.feed import serve
from feedsvc.web.i18n import N_

bp = Blueprint("feed", __name__)
log = logging.getLogger(__name__)


@bp.after_request
def keep_the_address_private(response: Response) -> Response:
    """A feed's address is its secret: no answer to it, errors included, lets a browser
    send that address on in a ``Referer``."""
    response.headers["Referrer-Policy"] = serve.FEED_HEADERS["Referrer-Policy"]
    return response


@bp.route("/feeds/<token>.ics", methods=["GET", "HEAD"])
def calendar(token: str) -> Response:
    """The feed as its settings say."""
    return _answer(token, "ics")


@bp.route("/feeds/<token>/google.ics", methods=["GET", "HEAD"])
def google_calendar(token: str) -> Response:
    """The same feed with lead events, for Google Calendar, which ignores alarms."""
    return _answer(token, "google")


def _answer(token: str, variant: str) -> Response:
    base_url = public_base_url()
    try:
        answer = serve.answer(current_app, request.environ, token, variant, base_url)
    except FeedsvcError:
        raise
    except Exception:
        log.exception("feed could not be built")
        raise Unavailable(
            N_("The calendar is temporarily unavailable; please try again later.")) from None
    return Response(answer.body, answer.status, answer.headers)
