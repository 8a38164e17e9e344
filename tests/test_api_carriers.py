"""The carrier presets through the API: listed, named by items, refused when unknown."""

from __future__ import annotations

from typing import Any

import pytest

from helpers import VALID_ITEM, Api

ITEMS = "/api/v1/items"


def test_the_presets_are_listed_with_their_rule_and_source(api: Api) -> None:
    response = api.get("/api/v1/carriers")
    assert response.status_code == 200
    carriers = {carrier["id"]: carrier for carrier in response.json["carriers"]}
    assert carriers["giffgaff"] == {
        "id": "giffgaff", "carrier": "giffgaff", "country": "GB",
        "keeps_alive": {
            "en": "A call, SMS or MMS (not to 999), any data use, or buying credit or a goodybag",
            "zh-Hans": "打一个电话、发一条短信或彩信（拨打 999 不算）、使用任意流量，或购买话费或 "
                       "goodybag 套餐"},
        "repeat": {"every": 6, "unit": "month", "from": "renewal"}, "grace_days": None,
        "min_top_up": None,
        "source": {"title": "giffgaff community blog: Recycling mobile numbers (staff post)",
                   "url": "https://community.giffgaff.com/t5/Blog/Recycling-mobile-numbers-"
                          "giffgaff/ba-p/8211666"},
        "confidence": "official", "checked": "2026-12"}
    assert carriers["elisa-ee"]["min_top_up"] == {"amount": "3.00", "currency": "EUR"}
    assert {carriers[name]["confidence"] for name in ("mts", "google-voice")} == {"unclear"}


def test_the_list_needs_a_token(client: Any) -> None:
    assert client.get("/api/v1/carriers").status_code == 401


def test_an_item_remembers_its_carrier_and_can_forget_it(api: Api) -> None:
    created = api.post(ITEMS, json={**VALID_ITEM, "carrier": "mts"})
    assert created.status_code == 201, created.json
    assert created.json["carrier"] == "mts"
    item_path = f"{ITEMS}/{created.json['id']}"
    assert api.get(item_path).json["carrier"] == "mts"
    cleared = api.patch(item_path, json={"carrier": None})
    assert cleared.status_code == 200, cleared.json
    assert cleared.json["carrier"] is None


@pytest.mark.parametrize("carrier", ["MTS", "unknown", "", " mts", 7, ["mts"], "x" * 41])
def test_a_carrier_that_is_no_preset_is_422(api: Api, carrier: Any) -> None:
    response = api.post(ITEMS, json={**VALID_ITEM, "carrier": carrier})
    assert response.status_code == 422, response.json
    assert "carrier" in response.json["error"]["fields"]
    assert api.get(ITEMS).json["items"] == []


def test_the_openapi_document_has_the_carriers(api: Api) -> None:
    document = api.get("/api/v1/openapi.json").json
    assert "/carriers" in document["paths"]
    assert "carrier" in document["components"]["schemas"]["ItemFields"]["properties"]
    assert "Preset" in document["components"]["schemas"]
