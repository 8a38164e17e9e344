"""``/healthz``: whether this instance can serve, for the proxy and the orchestrator.

It answers 200 ``{"status": "ok"}`` when the database answers, 503 when it does not; it
needs no sign-in and touches no account. Probes come every few seconds, so an outage is
logged when it starts and when it ends, not at every probe (and ``gunicorn_config`` keeps
successful probes out of the access log).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, jsonify
from sqlalchemy import text

from feedsvc.db import get_engine

PATH = "/healthz"
bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
_database_was_up = True


@bp.get(PATH)
def healthz() -> tuple[Response, int]:
    """200 when the database answers ``SELECT 1``, else 503."""
    global _database_was_up
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure to answer means unavailable
        if _database_was_up:
            log.warning("health check: the database is unreachable (%s)", type(error).__name__)
        _database_was_up = False
        return _answer("unavailable", 503)
    if not _database_was_up:
        log.warning("health check: the database answers again")
    _database_was_up = True
    return _answer("ok", 200)


def _answer(status: str, code: int) -> tuple[Response, int]:
    return jsonify({"status": status}), code


def init_app(app: Flask) -> None:
    """Serve ``/healthz`` on the app."""
    app.register_blueprint(bp)

