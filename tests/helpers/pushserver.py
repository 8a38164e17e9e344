"""A push service on 127.0.0.1 for the tests: ntfy-compatible and a JSON webhook at once
(both take a JSON POST), keeping what it was sent and answering as told."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from helpers.servers import http_server


class Service(BaseHTTPRequestHandler):
    """Keeps each request (path, headers, body); answers the server's ``status`` (and
    ``retry_after``), after ``delay`` seconds; ``statuses``, when given, are used first."""

    def do_POST(self) -> None:
        server: Any = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server.received.append((self.path, dict(self.headers), body))
        time.sleep(server.delay)
        self.send_response(server.statuses.pop(0) if server.statuses else server.status)
        if server.retry_after:
            self.send_header("Retry-After", server.retry_after)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def push_service() -> Iterator[Any]:
    """The running server: ``received``, ``status``, ``statuses``, ``retry_after``, ``delay``,
    ``server_port``, ``messages()``, the JSON bodies received, and ``authorizations()``,
    their Authorization headers."""
    with http_server(Service, received=[], status=200, statuses=[], retry_after=None,
                     delay=0.0) as httpd:
        httpd.messages = lambda: [json.loads(body) for _, _, body in httpd.received]
        httpd.authorizations = lambda: [headers.get("Authorization")
                                        for _, headers, _ in httpd.received]
        yield httpd
