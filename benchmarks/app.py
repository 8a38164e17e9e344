"""The service as ``wsgi.py`` builds it, plus two reference routes for the benchmark.

``/_bench/fixed`` returns fixed bytes as large as the benchmark feed (the yardstick every
feed figure is divided by); ``/_bench/rebuild/<token>.ics`` queries and serialises the feed
on every request, as the feed route did before it had a cache. Never deploy this module.
"""

from __future__ import annotations

import os

from flask import Response, request

from feedsvc import create_app, feeds, ics
from feedsvc.baseurl import public_base_url
from feedsvc.db import get_session
from feedsvc.status import today_in
from feedsvc.web.feed import CONTENT_TYPE

app = create_app()
FIXED = b"x" * int(os.environ.get("FEEDSVC_BENCH_BYTES", "20000"))


@app.get("/_bench/fixed")
def fixed() -> Response:
    """Fixed bytes, as a Flask route returning a cached body at best could (304 on a match)."""
    response = Response(FIXED, content_type=CONTENT_TYPE)
    response.set_etag("fixed")
    return response.make_conditional(request)


@app.get("/_bench/rebuild/<token>.ics")
def rebuild(token: str) -> Response:
    """The feed queried and serialised on every request, without the cache."""
    session = get_session()
    feed = feeds.feed_for_token(session, token)
    view = feeds.feed_view(session, feed, feed.user, public_base_url(),
                           today_in(feed.user.timezone))
    return Response(ics.build_calendar(view), content_type=CONTENT_TYPE)
