"""``/healthz``: whether this instance can serve, for the proxy and the orchestrator.

It answers 200 ``{"status": "ok"}`` when the database answers, 503 when it does not; it
needs no sign-in and touches no account. Probes come every few seconds, so an outage is
logged when it starts and when it ends, not at every probe (and ``gunicorn_config`` keeps
successful probes out of the access log).
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Blueprint, Flask, Response, jsonify
from sqlalchemy import exists, select

from feedsvc.db import get_engine
from feedsvc.models import Channel, SenderPass
from feedsvc.status import utc_now

PATH = "/healthz"
SENDER_LATE_AFTER = dt.timedelta(minutes=10)
bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)
_database_was_up = True


@bp.get(PATH)
def healthz() -> tuple[Response, int]:
    """200 when the database answers, else 503; with the reminder sender's last pass."""
    global _database_was_up
    try:
        with get_engine().connect() as connection:
            last = connection.execute(select(SenderPass.finished_at)).scalar()
            channels = connection.execute(select(exists().where(Channel.id.is_not(None))))
            reminders = _sender_state(last, bool(channels.scalar()))
    except Exception as error:  # noqa: BLE001 - any failure to answer means unavailable
        if _database_was_up:
            log.warning("health check: the database is unreachable (%s)", type(error).__name__)
        _database_was_up = False
        return _answer("unavailable", 503)
    if not _database_was_up:
        log.warning("health check: the database answers again")
    _database_was_up = True
    return _answer("ok", 200, reminders)


def _sender_state(last: dt.datetime | None, channels: bool) -> dict[str, object]:
    """The last pass, and whether the sender is late: no pass for ``SENDER_LATE_AFTER``
    while reminders have somewhere to go. It never changes the status code."""
    if last is not None and last.tzinfo is None:  # SQLite keeps no zone
        last = last.replace(tzinfo=dt.UTC)
    late = channels and (last is None or utc_now() - last > SENDER_LATE_AFTER)
    return {"last_pass": last.isoformat() if last else None, "late": late}


def _answer(status: str, code: int, reminders: dict[str, object] | None = None
            ) -> tuple[Response, int]:
    body: dict[str, object] = {"status": status}
    if reminders is not None:
        body["reminders"] = reminders
    return jsonify(body), code


def init_app(app: Flask) -> None:
    """Serve ``/healthz`` on the app."""
    app.register_blueprint(bp)

