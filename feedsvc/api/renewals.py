"""/api/v1/items/<id>/renewals: mark renewed, history, undo the latest."""

from __future__ import annotations

from flask import Response, jsonify, request

from feedsvc import items, renewals
from feedsvc.api import bp, check_if_match, current_user, item_json, item_response, json_body
from feedsvc.db import get_session
from feedsvc.status import today_in


@bp.post("/items/<int:item_id>/renewals")
def create_renewal(item_id: int) -> tuple[Response, int]:
    session = get_session()
    user = current_user()
    # Every field is optional, so an empty body means "renewed today, as usual".
    body = json_body() if request.content_length else {}
    item = items.get_item(session, user, item_id)
    check_if_match(item)
    today = today_in(user.timezone)
    renewal = renewals.renew(session, item, body, today)
    session.commit()
    return jsonify({"renewal": renewals.renewal_out(renewal).model_dump(mode="json"),
                    "item": item_json(item, today)}), 201


@bp.get("/items/<int:item_id>/renewals")
def list_renewals(item_id: int) -> Response:
    session = get_session()
    item = items.get_item(session, current_user(), item_id)
    return jsonify({"renewals": [renewals.renewal_out(r).model_dump(mode="json")
                                 for r in renewals.list_renewals(session, item)]})


@bp.delete("/items/<int:item_id>/renewals/latest")
def undo_latest_renewal(item_id: int) -> Response:
    session = get_session()
    item = items.get_item(session, current_user(), item_id)
    check_if_match(item)
    renewals.undo_latest(session, item)
    session.commit()
    return item_response(item)
