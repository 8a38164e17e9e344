"""/api/v1/carriers: the carrier presets (``feedsvc.presets``), for clients that fill an
item's keep-alive rule the way the web form does."""

from __future__ import annotations

from flask import Response, jsonify

from feedsvc import presets
from feedsvc.api import bp


@bp.get("/carriers")
def list_carriers() -> Response:
    found = presets.CarrierList(carriers=list(presets.all_presets()))
    return jsonify(found.model_dump(mode="json", by_alias=True))
