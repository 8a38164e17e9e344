"""The error table: small typed exceptions, and one place that turns them into responses.

Domain code raises these; the handlers below render them as JSON under ``/api/``, in
English, and as an HTML page elsewhere, in the reader's language (``error.html`` translates).
Werkzeug's own HTTP errors (404, 405, 413…) go through the same handlers, and anything
unexpected becomes a plain 500 without a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from zoneinfo import ZoneInfoNotFoundError

from flask import Flask, Response, g, jsonify, render_template, request
from flask_login import AnonymousUserMixin
from pydantic import ValidationError as StoredDataInvalid
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, SecurityError

from feedsvc.texts import N_

log = logging.getLogger(__name__)


def _filled(msgid: str, values: Mapping[str, object]) -> str:
    """The message in English: the msgid with its values in its placeholders."""
    return msgid % values if values else msgid


class FeedsvcError(Exception):
    """An error with an HTTP status, a message for people and optional per-field messages.

    ``msgid`` is marked with ``N_`` where the error is raised and ``values`` fill its
    placeholders: ``message`` is the English the API answers with, and a page translates.
    """

    status = 400

    def __init__(self, msgid: str, fields: dict[str, str] | None = None,
                 **values: object) -> None:
        self.msgid = msgid
        self.values = values
        self.message = _filled(msgid, values)
        super().__init__(self.message)
        self.fields = fields or {}


class BadRequest(FeedsvcError):
    status = 400


class Unauthorized(FeedsvcError):
    status = 401


class NotFound(FeedsvcError):
    status = 404


class Conflict(FeedsvcError):
    status = 409


class Gone(FeedsvcError):
    status = 410


class PreconditionFailed(FeedsvcError):
    status = 412


class UnsupportedMediaType(FeedsvcError):
    status = 415


class ValidationFailed(FeedsvcError):
    status = 422


class Unavailable(FeedsvcError):
    status = 503


def wants_json() -> bool:
    """Whether the current request belongs to the JSON API."""
    return request.path.startswith("/api/")


def error_response(status: int, message: str, fields: dict[str, str] | None = None,
                   values: Mapping[str, object] | None = None) -> Response:
    """Render an error: for the API in English, for a browser in the reader's language.

    ``message`` is a msgid (marked with ``N_``), ``values`` fill its placeholders.
    """
    if wants_json():
        body: dict[str, object] = {"status": status, "message": _filled(message, values or {})}
        if fields:
            body["fields"] = fields
        response = jsonify({"error": body})
    else:
        if status >= 500 and "_login_user" not in g:
            # Flask-Login loads the user for every template, from the database that may be
            # what just failed: an error page draws no account menu, so nobody is needed.
            g._login_user = AnonymousUserMixin()
        response = Response(
            render_template("error.html", status=status, message=message, values=values or {},
                            fields=fields or {}),
            mimetype="text/html",
        )
    response.status_code = status
    if status == 401 and wants_json():
        response.headers["WWW-Authenticate"] = 'Bearer realm="feedsvc"'
    if status == 503:
        response.headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
    return response


UNAVAILABLE_RETRY_AFTER = 30
UNAVAILABLE_MESSAGE = N_("The service is temporarily unavailable. Please try again in a moment.")
CONCURRENT_CHANGE_MESSAGE = N_("Someone changed this at the same time. Reload it and try again.")
UNEXPECTED_MESSAGE = N_("Something went wrong on our side.")
UNTRUSTED_HOST_MESSAGE = N_("This service does not answer to the host the request names.")


def _retry_after(error: HTTPException) -> int:
    # Flask-Limiter's RateLimitExceeded names the limit it hit; its window bounds the wait.
    limit = getattr(getattr(error, "limit", None), "limit", None)
    return int(limit.get_expiry()) if limit is not None else 60


def register(app: Flask) -> None:
    """Install the handlers on the app."""

    @app.errorhandler(FeedsvcError)
    def handle_feedsvc_error(error: FeedsvcError) -> Response:
        return error_response(error.status, error.msgid, error.fields, error.values)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException) -> Response:
        status = error.code or 500
        # Werkzeug's descriptions, and those given to Flask-Limiter, are msgids too.
        response = error_response(status, error.description or error.name)
        if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        if status == 429:
            response.headers["Retry-After"] = str(_retry_after(error))
        return response

    @app.errorhandler(SecurityError)
    def handle_untrusted_host(error: SecurityError) -> Response:
        # Flask builds no URL for a host outside TRUSTED_HOSTS, so no page can be drawn.
        if wants_json():
            return error_response(400, UNTRUSTED_HOST_MESSAGE)
        return Response(UNTRUSTED_HOST_MESSAGE + "\n", status=400, mimetype="text/plain")

    @app.errorhandler(StaleDataError)
    def handle_concurrent_change(error: StaleDataError) -> Response:
        return error_response(409, CONCURRENT_CHANGE_MESSAGE)

    @app.errorhandler(DBAPIError)
    def handle_database_error(error: DBAPIError) -> Response:
        if isinstance(error, IntegrityError):
            # A constraint decided between two concurrent writes: the loser may retry.
            log.warning("integrity error: %s", error.orig)
            return error_response(409, CONCURRENT_CHANGE_MESSAGE)
        if isinstance(error, (OperationalError, InterfaceError)) or error.connection_invalidated:
            log.error("database unavailable: %s", error.orig)
            return error_response(503, UNAVAILABLE_MESSAGE)
        log.exception("database error")
        return error_response(500, UNEXPECTED_MESSAGE)

    @app.errorhandler(DisconnectionError)
    @app.errorhandler(PoolTimeoutError)
    def handle_pool_trouble(error: Exception) -> Response:
        log.error("database unavailable: %s", error)
        return error_response(503, UNAVAILABLE_MESSAGE)

    @app.errorhandler(StoredDataInvalid)
    @app.errorhandler(ZoneInfoNotFoundError)
    def handle_stored_data_invalid(error: Exception) -> Response:
        # Input is validated into ValidationFailed (422) before it is stored, so a pydantic
        # error here (or a time zone this machine does not know) means a stored row that no
        # longer reads as valid: written past the application, by an older version, or on
        # a machine with other time zone data. Say so plainly; the log has the details.
        log.error("stored data cannot be shown: %s", error)
        return error_response(503, N_("Some stored data cannot be shown right now. "
                                      "Please try again later."))

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, UNEXPECTED_MESSAGE)
