"""The service as ``wsgi.py`` builds it, plus two reference routes for the benchmark.

``/_bench/fixed`` returns fixed bytes as large as the benchmark feed (the yardstick every
feed figure is divided by); ``/_bench/rebuild/<token>.ics`` queries and serialises the whole
feed on every request, with no cache at all. Never deploy this module.

For ``benchmarks/caches.py``, which serves the same database in several variants at once,
a few environment variables change the service before it serves anything; each is read
only here, and ``/_bench/variant`` tells (as JSON, per worker) what was actually applied:

- ``FEEDSVC_BENCH_VARIANT``: the variant's name; also counts, per worker, the feed requests
  that reached the Flask route (the fast path answers the others before Flask).
- ``FEEDSVC_BENCH_FAST_PATH=off``: ``FastPath`` taken out of the WSGI middleware chain, so
  that the route answers every feed request.
- ``FEEDSVC_BENCH_COPIES=off``: the worker keeps no copies of the entries it served
  (``feedsvc.feed.store.Copies`` of size 0), so every answer reads the bytes it sends.
- ``FEEDSVC_BENCH_BASE_URL``: becomes ``FEEDSVC_BASE_URL``, so that servers on different
  ports build the same bodies under the same cache keys.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, jsonify, request

from feedsvc import create_app, feeds
from feedsvc.accounts import hash_token
from feedsvc.baseurl import public_base_url
from feedsvc.db import get_engine
from feedsvc.feed import ics, source
from feedsvc.feed.serve import CONTENT_TYPE, COPIES_KEY, FastPath
from feedsvc.status import today_in

if os.environ.get("FEEDSVC_BENCH_BASE_URL"):
    os.environ["FEEDSVC_BASE_URL"] = os.environ["FEEDSVC_BENCH_BASE_URL"]

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
    """The whole feed queried and serialised on every request, without any cache."""
    token_hash = hash_token(token)
    with get_engine().connect() as connection:
        found = source.read_source(connection, token_hash)
        if found is None:
            raise feeds.not_live(connection, token_hash)
        view = source.feed_view(connection, found.settings, public_base_url(),
                                today_in(found.settings.timezone),
                                [item_id for item_id, _ in found.items],
                                secret_key=current_app.config["SECRET_KEY"],
                                changed=found.changed)
    return Response(ics.build_calendar(view), content_type=CONTENT_TYPE)


# ---- Variants for benchmarks/caches.py -------------------------------------------------

VARIANT = os.environ.get("FEEDSVC_BENCH_VARIANT")
ROUTE_FEED_REQUESTS = [0]


def _chain(flask_app: Flask) -> list[Any]:
    """The WSGI callables from the outermost in, following each wrapper's ``.wsgi_app``."""
    found: list[Any] = []
    node: Any = flask_app.wsgi_app
    while node is not None and len(found) < 20:
        found.append(node)
        node = getattr(node, "wsgi_app", None)
    return found


def _remove_fast_path(flask_app: Flask) -> None:
    """Splice ``FastPath`` out of the chain: its holder then holds what it wrapped."""
    holder: Any = flask_app
    for node in _chain(flask_app):
        if isinstance(node, FastPath):
            holder.wsgi_app = inner = node.wsgi_app
            # A wrapper may hold what it wraps twice (TrustedProxies: also in a ProxyFix).
            for value in vars(holder).values():
                if getattr(value, "app", None) is node:
                    value.app = inner
            return
        holder = node


if os.environ.get("FEEDSVC_BENCH_FAST_PATH") == "off":
    _remove_fast_path(app)
if os.environ.get("FEEDSVC_BENCH_COPIES") == "off":
    app.extensions[COPIES_KEY].size = 0

if VARIANT is not None:
    def _counted(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def counted(*args: Any, **kwargs: Any) -> Any:
            ROUTE_FEED_REQUESTS[0] += 1
            return view(*args, **kwargs)
        return counted

    for _endpoint in {rule.endpoint for rule in app.url_map.iter_rules()
                      if rule.rule.startswith("/feeds/")}:
        app.view_functions[_endpoint] = _counted(app.view_functions[_endpoint])


@app.get("/_bench/variant")
def variant() -> Response:
    """What this worker serves with: the variant's settings as they were actually applied.

    ``?hold=S`` answers after S seconds (at most 1): requests sent together then reach
    different workers."""
    time.sleep(min(max(request.args.get("hold", 0.0, type=float), 0.0), 1.0))
    chain = _chain(app)
    return jsonify({
        "variant": VARIANT, "pid": os.getpid(),
        "chain": [type(node).__name__ for node in chain],
        "fast_path_present": any(isinstance(node, FastPath) for node in chain),
        "copies": app.extensions[COPIES_KEY].size,
        "base_url": app.config.get("FEEDSVC_BASE_URL"),
        "route_feed_requests": ROUTE_FEED_REQUESTS[0] if VARIANT is not None else None,
    })
