"""The error table: small typed exceptions, and one place that turns them into responses.

Domain code raises these; the handlers below render them as JSON under ``/api/`` and as
an HTML page elsewhere. Werkzeug's own HTTP errors (404, 405, 413…) go through the same
handlers, and anything unexpected becomes a plain 500 without a stack trace.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class FeedsvcError(Exception):
    """An error with an HTTP status, a message for people and optional per-field messages."""

    status = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
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


def error_response(status: int, message: str, fields: dict[str, str] | None = None) -> Response:
    """Render an error for the API or for a browser."""
    if wants_json():
        body: dict[str, object] = {"status": status, "message": message}
        if fields:
            body["fields"] = fields
        response = jsonify({"error": body})
    else:
        response = Response(
            render_template("error.html", status=status, message=message, fields=fields or {}),
            mimetype="text/html",
        )
    response.status_code = status
    if status == 401 and wants_json():
        response.headers["WWW-Authenticate"] = 'Bearer realm="feedsvc"'
    return response


def register(app: Flask) -> None:
    """Install the handlers on the app."""

    @app.errorhandler(FeedsvcError)
    def handle_feedsvc_error(error: FeedsvcError) -> Response:
        return error_response(error.status, error.message, error.fields)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException) -> Response:
        status = error.code or 500
        response = error_response(status, error.description or error.name)
        if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(StaleDataError)
    def handle_concurrent_change(error: StaleDataError) -> Response:
        return error_response(409, "Someone changed this at the same time. "
                                   "Reload it and try again.")

    @app.errorhandler(OperationalError)
    def handle_database_unavailable(error: DBAPIError) -> Response:
        log.error("database unavailable: %s", error.orig)
        return error_response(503, "The service is temporarily unavailable. Please try again.")

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "Something went wrong on our side.")
