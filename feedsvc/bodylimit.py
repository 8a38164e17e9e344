"""Bodies sent without a length (chunked) are held to the same limit as the others: 413.

Werkzeug refuses a body whose ``Content-Length`` is over ``MAX_CONTENT_LENGTH``, but it reads
a chunked body only up to the limit and then stops, as if the body had ended there: a form
or JSON document cut short, answered 400 at best. So such a body is read here, one byte past
the limit at most, and handed on with the length it turned out to have; when that is over
the limit, Werkzeug's own check answers 413 through the app's error pages.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ChunkedBodyLimit:
    """WSGI middleware giving a length to bodies the server passes on without one."""

    def __init__(self, wsgi_app: WSGIApp, limit: int) -> None:
        self.wsgi_app = wsgi_app
        self.limit = limit

    def __call__(self, environ: dict[str, Any],
                 start_response: Callable[..., Any]) -> Iterable[bytes]:
        # Only a server that ends the input stream itself may be read to its end.
        if (not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated")
                and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()):
            body = environ["wsgi.input"].read(self.limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            # From here on it is a body of known length (a length beside "chunked" is ignored).
            environ["CONTENT_LENGTH"] = str(len(body))
            del environ["HTTP_TRANSFER_ENCODING"]
        return self.wsgi_app(environ, start_response)
