"""The feed URLs calendar apps poll. ``feedsvc.feed.serve.FastPath`` answers live feeds
before Flask; this route answers what it leaves (unknown, replaced or deleted addresses,
errors) the same way (``serve.answer``), with the throttle and the error pages."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, request
from werkzeug.exceptions import SecurityError
from werkzeug.wrappers import Response

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


@bp.route("/feeds/<token>.ics", methods=["GET", "HEAD"], defaults={"variant": "ics"})
@bp.route("/feeds/<token>/google.ics", methods=["GET", "HEAD"], defaults={"variant": "google"})
def calendar(token: str, variant: str) -> Response:
    """The feed as its settings say; "google": with lead events, as Google Calendar ignores
    alarms."""
    try:
        answer = serve.answer(current_app, request.environ, token, variant)
    except (FeedsvcError, SecurityError):
        raise
    except Exception:
        log.exception("feed could not be built")
        raise Unavailable(
            N_("The calendar is temporarily unavailable; please try again later.")) from None
    return Response(answer.body, answer.status, answer.headers)
