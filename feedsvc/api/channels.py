"""/api/v1/channels and /api/v1/deliveries: where reminders go, and what was sent there."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app, jsonify, request

from feedsvc import accountmail, channels, items, sender, status
from feedsvc.api import bp, current_user, json_body, only_known_parameters
from feedsvc.db import get_session
from feedsvc.errors import ValidationFailed
from feedsvc.models import Delivery
from feedsvc.schemas import ChannelCreated, ConfirmationOut, DeliveryOut

DELIVERY_LIST_PARAMETERS = frozenset({"item"})
_ID = re.compile(r"-?[0-9]{1,18}")


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return DeliveryOut(
        id=delivery.id, channel_id=delivery.channel_id, item_id=delivery.item_id,
        kind=delivery.kind, due_date=delivery.due_date,  # type: ignore[arg-type]
        planned_at=delivery.planned_at, sent_at=delivery.sent_at,
        status=delivery.status, error=delivery.error,  # type: ignore[arg-type]
    ).model_dump(mode="json")


@bp.get("/channels")
def list_channels() -> Response:
    found = channels.list_channels(get_session(), current_user())
    return jsonify({"channels": [channels.channel_out(c).model_dump(mode="json") for c in found]})


@bp.post("/channels")
def create_channel() -> tuple[Response, int, dict[str, str]]:
    session = get_session()
    user = current_user()
    channel = channels.add_channel(session, user, json_body(), status.utc_now(),
                                   current_app.config)
    session.commit()
    confirmation = None
    if channel.kind == "email":
        # After the commit: the link names the channel, which must exist when it is opened.
        problem = accountmail.send(channels.confirmation_mail(current_app.config, channel,
                                                              user.locale))
        confirmation = ConfirmationOut(sent=problem is None,
                                       error=None if problem is None else problem.reason)
    body = ChannelCreated(**channels.channel_out(channel).model_dump(), confirmation=confirmation)
    return (jsonify(body.model_dump(mode="json")), 201,
            {"Location": f"/api/v1/channels/{channel.id}"})


@bp.patch("/channels/<int:channel_id>")
def patch_channel(channel_id: int) -> Response:
    session = get_session()
    body = json_body()
    channel = channels.get_channel(session, current_user(), channel_id)
    channels.update_channel(session, channel, body, status.utc_now())
    session.commit()
    return jsonify(channels.channel_out(channel).model_dump(mode="json"))


@bp.delete("/channels/<int:channel_id>")
def delete_channel(channel_id: int) -> tuple[str, int]:
    session = get_session()
    channels.delete_channel(session, channels.get_channel(session, current_user(), channel_id))
    session.commit()
    return "", 204


@bp.post("/channels/<int:channel_id>/test")
def test_channel(channel_id: int) -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    _channel, delivery = sender.test_channel(app, get_session(), current_user(), channel_id)
    return jsonify({"delivery": delivery_json(delivery)})


@bp.get("/deliveries")
def list_deliveries() -> Response:
    only_known_parameters(DELIVERY_LIST_PARAMETERS)
    session = get_session()
    user = current_user()
    item = None
    if "item" in request.args:
        text = request.args["item"]
        if not _ID.fullmatch(text):
            raise ValidationFailed("The 'item' parameter must be an item id.",
                                   {"item": "must be an integer"})
        item = items.get_item(session, user, int(text))
    found = channels.list_deliveries(session, user, item)
    return jsonify({"deliveries": [delivery_json(delivery) for delivery in found]})
