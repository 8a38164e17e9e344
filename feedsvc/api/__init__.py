"""The JSON API under /api/v1: bearer tokens, thin views over the domain modules."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from feedsvc import accounts, items
from feedsvc.db import get_session
from feedsvc.errors import (
    BadRequest,
    PreconditionFailed,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from feedsvc.models import User
from feedsvc.schemas import CATEGORIES, Alarm, Me, MePatch, validate
from feedsvc.status import today_in

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = {"api.openapi"}


@bp.before_request
def authenticate() -> None:
    """Every endpoint but the OpenAPI document needs ``Authorization: Bearer <token>``."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send an API token as 'Authorization: Bearer <token>'.")
    user = accounts.user_for_api_token(get_session(), token.strip())
    if user is None:
        raise Unauthorized("The API token is unknown or revoked.")
    g.api_user = user


def current_user() -> User:
    """The user the request's token belongs to."""
    return g.api_user


def only_known_parameters(known: frozenset[str]) -> None:
    """Refuse query parameters other than ``known``: like unknown body fields, a misspelt
    filter must not quietly list everything."""
    unknown = sorted(set(request.args) - known)
    if unknown:
        raise ValidationFailed(f"Unknown query parameter: {', '.join(unknown)}.",
                               {name: "is not a known parameter" for name in unknown})


def json_body() -> Any:
    """The request's JSON body: 415 for another content type, 400 when it is not JSON."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("Send the body as JSON with 'Content-Type: application/json'.")
    try:
        text = request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The body is not valid UTF-8 text.") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise BadRequest(f"The body is not valid JSON: {error}.") from None
    except RecursionError:
        raise BadRequest("The body is not valid JSON: it is nested too deeply.") from None
    except ValueError:
        # Python refuses integers of more than 4300 digits.
        raise BadRequest("The body is not valid JSON: a number is too long.") from None


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"The body is not valid JSON: {name} is not a JSON number.")


def me_out(user: User) -> dict[str, Any]:
    return Me(email=user.email, timezone=user.timezone, locale=user.locale,  # type: ignore[arg-type]
              default_alarms=[Alarm(**a) for a in user.default_alarms]).model_dump(mode="json")


@bp.get("/me")
def get_me() -> Response:
    return jsonify(me_out(current_user()))


@bp.patch("/me")
def patch_me() -> Response:
    patch = validate(MePatch, json_body())
    session = get_session()
    accounts.update_settings(
        session,
        current_user(),
        timezone=patch.timezone,
        locale=patch.locale,
        default_alarms=None if patch.default_alarms is None
        else [a.model_dump() for a in patch.default_alarms],
    )
    session.commit()
    return jsonify(me_out(current_user()))


def item_json(item: items.Item, today: Any) -> dict[str, Any]:
    return items.item_out(item, current_user(), today).model_dump(mode="json", by_alias=True)


def item_response(item: items.Item, status: int = 200) -> Response:
    """The item as JSON, with its version as a strong ETag for ``If-Match``."""
    response = jsonify(item_json(item, today_in(current_user().timezone)))
    response.status_code = status
    response.set_etag(str(item.version))
    return response


def check_if_match(item: items.Item) -> None:
    """412 when the request's ``If-Match`` names another version of the item.

    A client that read the item sends its ETag back, so a change made meanwhile by someone
    else is reported instead of overwritten. Without the header, the write goes ahead (and
    the version check on UPDATE still turns a race into 409).
    """
    if "If-Match" in request.headers and not request.if_match.contains(str(item.version)):
        raise PreconditionFailed(
            f"The item changed since you read it (its ETag is now \"{item.version}\"). "
            "Read it again, then retry.")


def _bool_arg(name: str) -> bool:
    value = request.args.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise ValidationFailed(f"The '{name}' parameter must be true or false.",
                               {name: "must be true or false"})
    return value in ("true", "1")


ITEM_LIST_PARAMETERS = frozenset({"category", "archived"})


@bp.get("/items")
def list_items() -> Response:
    only_known_parameters(ITEM_LIST_PARAMETERS)
    category = request.args.get("category")
    if category is not None and category not in CATEGORIES:
        raise ValidationFailed("Unknown category.",
                               {"category": "must be one of " + ", ".join(CATEGORIES)})
    user = current_user()
    found = items.list_items(get_session(), user, category=category,
                             archived=_bool_arg("archived"))
    today = today_in(user.timezone)
    return jsonify({"items": [item_json(item, today) for item in found]})


@bp.post("/items")
def create_item() -> Response:
    session = get_session()
    user = current_user()
    item = items.create_item(session, user, json_body())
    session.commit()
    response = item_response(item, 201)
    response.headers["Location"] = f"/api/v1/items/{item.id}"
    return response


@bp.get("/items/<int:item_id>")
def get_item(item_id: int) -> Response:
    return item_response(items.get_item(get_session(), current_user(), item_id))


@bp.patch("/items/<int:item_id>")
def patch_item(item_id: int) -> Response:
    session = get_session()
    body = json_body()
    item = items.get_item(session, current_user(), item_id)
    check_if_match(item)
    items.update_item(session, item, body)
    session.commit()
    return item_response(item)


@bp.delete("/items/<int:item_id>")
def delete_item(item_id: int) -> Response:
    session = get_session()
    item = items.get_item(session, current_user(), item_id)
    check_if_match(item)
    items.delete_item(session, item)
    session.commit()
    return Response(status=204)


@bp.get("/openapi.json")
def openapi() -> Response:
    from feedsvc.openapi import document

    return jsonify(document())


# Register the /feeds, /items/<id>/renewals, /channels, /deliveries and /carriers routes on
# this blueprint.
from feedsvc.api import carriers as _carriers  # noqa: F401
from feedsvc.api import channels as _channels  # noqa: F401
from feedsvc.api import feeds as _feeds  # noqa: F401
from feedsvc.api import renewals as _renewals  # noqa: F401
