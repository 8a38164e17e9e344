"""The OpenAPI 3 document, generated from the same pydantic models that validate input."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from feedsvc.presets import CarrierList
from feedsvc.schemas import (
    CATEGORIES,
    ChannelCreated,
    ChannelFields,
    ChannelList,
    ChannelOut,
    ChannelPatch,
    DeliveryList,
    DeliveryOut,
    DeliveryResult,
    ErrorResponse,
    FeedFields,
    FeedList,
    FeedOut,
    ItemFields,
    ItemList,
    ItemOut,
    Me,
    MePatch,
    RenewalCreated,
    RenewalFields,
    RenewalList,
    RenewalOut,
)

SCHEMAS: tuple[tuple[type[BaseModel], Literal["validation", "serialization"]], ...] = (
    (ItemFields, "validation"),
    (ItemOut, "serialization"),
    (ItemList, "serialization"),
    (Me, "serialization"),
    (MePatch, "validation"),
    (ErrorResponse, "serialization"),
    (FeedFields, "validation"),
    (FeedOut, "serialization"),
    (FeedList, "serialization"),
    (RenewalFields, "validation"),
    (RenewalOut, "serialization"),
    (RenewalList, "serialization"),
    (RenewalCreated, "serialization"),
    (ChannelFields, "validation"),
    (ChannelPatch, "validation"),
    (ChannelOut, "serialization"),
    (ChannelList, "serialization"),
    (ChannelCreated, "serialization"),
    (DeliveryOut, "serialization"),
    (DeliveryList, "serialization"),
    (DeliveryResult, "serialization"),
    (CarrierList, "serialization"),
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(name)}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {400: "Malformed JSON", 401: "No or bad token", 404: "Not found, or not yours",
            409: "Conflict: changed by someone else meanwhile", 412: "If-Match does not name "
            "the item's current ETag", 413: "Body too large", 415: "Body is not JSON",
            422: "Invalid fields (see error.fields)",
            503: "The database is unavailable; retry later"}
    return {str(s): {"description": text[s], "content": _json("ErrorResponse")} for s in statuses}


IF_MATCH = {"name": "If-Match", "in": "header", "required": False,
            "description": "The item's ETag as last read: the request fails with 412 when the "
                           "item changed since", "schema": {"type": "string"}}
ETAG = {"ETag": {"description": "The item's version, for If-Match", "required": True,
                 "schema": {"type": "string"}}}


def _item(description: str, status: str = "200") -> dict[str, Any]:
    return {status: {"description": description, "content": _json("ItemOut"), "headers": ETAG}}


def _with_unavailable(paths: dict[str, Any]) -> dict[str, Any]:
    # Any operation that reaches the database can meet it down.
    for operations in paths.values():
        for name, operation in operations.items():
            if name != "parameters" and operation.get("security") != []:
                operation["responses"].update(_errors(503))
    return paths


def _item_patch_schema(item_fields: dict[str, Any]) -> dict[str, Any]:
    # A PATCH takes any subset of the writable fields, validated by the same rules.
    return {**item_fields, "title": "ItemPatch", "required": []}


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The whole OpenAPI document (built once per process)."""
    _, defs = models_json_schema(SCHEMAS, ref_template="#/components/schemas/{model}",
                                 by_alias=True)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["ItemPatch"] = _item_patch_schema(schemas["ItemFields"])
    schemas["FeedPatch"] = {**schemas["FeedFields"], "title": "FeedPatch", "required": []}
    item_id = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    write_errors = _errors(400, 401, 413, 415, 422)
    return {
        "openapi": "3.1.0",
        "info": {"title": "feedsvc API", "version": "1",
                 "description": "Renewal items and calendar feeds. Authenticate with "
                                "'Authorization: Bearer <token>'."},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": _with_unavailable({
            "/me": {
                "get": {"operationId": "getMe", "responses": {
                    "200": {"description": "The account's settings", "content": _json("Me")},
                    **_errors(401)}},
                "patch": {"operationId": "patchMe",
                          "requestBody": {"required": True, "content": _json("MePatch")},
                          "responses": {"200": {"description": "Updated settings",
                                                "content": _json("Me")}, **write_errors}},
            },
            "/items": {
                "get": {
                    "operationId": "listItems",
                    "parameters": [
                        {"name": "category", "in": "query",
                         "description": "Only items of this category",
                         "schema": {"type": "string", "enum": list(CATEGORIES)}},
                        {"name": "archived", "in": "query",
                         "description": "true: only archived items; false (default): only "
                                        "the others",
                         "schema": {"type": "string", "enum": ["true", "false", "1", "0"]}},
                    ],
                    "responses": {"200": {"description": "Items sorted by due date",
                                          "content": _json("ItemList")}, **_errors(401, 422)},
                },
                "post": {"operationId": "createItem",
                         "requestBody": {"required": True, "content": _json("ItemFields")},
                         "responses": {**_item("Created", "201"), **write_errors}},
            },
            "/items/{item_id}": {
                "parameters": [item_id],
                "get": {"operationId": "getItem", "responses": {
                    **_item("The item"), **_errors(401, 404)}},
                "patch": {"operationId": "patchItem", "parameters": [IF_MATCH],
                          "requestBody": {"required": True, "content": _json("ItemPatch")},
                          "responses": {**_item("Updated"),
                                        **_errors(400, 401, 404, 409, 412, 413, 415, 422)}},
                "delete": {"operationId": "deleteItem", "parameters": [IF_MATCH], "responses": {
                    "204": {"description": "Deleted"}, **_errors(401, 404, 409, 412)}},
            },
            **_feed_paths(),
            **_renewal_paths(),
            **_channel_paths(),
            "/carriers": {"get": {
                "operationId": "listCarriers",
                "description": "The carrier presets: each carrier's keep-alive rule with its "
                               "source and how sure it is; an item's `carrier` names one.",
                "responses": {"200": {"description": "Every preset",
                                      "content": _json("CarrierList")}, **_errors(401)}}},
            "/openapi.json": {
                "get": {"operationId": "openapi", "security": [],
                        "responses": {"200": {"description": "This document"}}},
            },
        }),
    }


def _feed_paths() -> dict[str, Any]:
    feed_id = {"name": "feed_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "/feeds": {
            "get": {"operationId": "listFeeds", "responses": {
                "200": {"description": "The account's feeds with their secret URLs",
                        "content": _json("FeedList")}, **_errors(401)}},
            "post": {"operationId": "createFeed",
                     "requestBody": {"required": True, "content": _json("FeedFields")},
                     "responses": {"201": {"description": "Created", "content": _json("FeedOut")},
                                   **_errors(400, 401, 413, 415, 422)}},
        },
        "/feeds/{feed_id}": {
            "parameters": [feed_id],
            "patch": {"operationId": "patchFeed",
                      "requestBody": {"required": True, "content": _json("FeedPatch")},
                      "responses": {"200": {"description": "Updated", "content": _json("FeedOut")},
                                    **_errors(400, 401, 404, 413, 415, 422)}},
            "delete": {"operationId": "deleteFeed", "responses": {
                "204": {"description": "Deleted; its URL answers 410 from now on"},
                **_errors(401, 404)}},
        },
        "/feeds/{feed_id}/rotate": {
            "parameters": [feed_id],
            "post": {"operationId": "rotateFeed", "responses": {
                "200": {"description": "The feed with a new URL; the old one answers 410",
                        "content": _json("FeedOut")}, **_errors(401, 404)}},
        },
    }


def _renewal_paths() -> dict[str, Any]:
    item_id = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "/items/{item_id}/renewals": {
            "parameters": [item_id],
            "get": {"operationId": "listRenewals", "responses": {
                "200": {"description": "The item's renewals, newest first",
                        "content": _json("RenewalList")}, **_errors(401, 404)}},
            "post": {"operationId": "renewItem", "parameters": [IF_MATCH],
                     "requestBody": {"required": False, "content": _json("RenewalFields")},
                     "responses": {"201": {"description": "Recorded; the item's due date moved",
                                           "content": _json("RenewalCreated")},
                                   **_errors(400, 401, 404, 409, 412, 413, 415, 422)}},
        },
        "/items/{item_id}/renewals/latest": {
            "parameters": [item_id],
            "delete": {"operationId": "undoLatestRenewal", "parameters": [IF_MATCH], "responses": {
                **_item("Undone; the previous due date is restored"),
                **_errors(401, 404, 409, 412)}},
        },
    }


def _conflict(description: str) -> dict[str, Any]:
    return {"409": {"description": description, "content": _json("ErrorResponse")}}


def _channel_paths() -> dict[str, Any]:
    channel_id = {"name": "channel_id", "in": "path", "required": True,
                  "schema": {"type": "integer"}}
    return {
        "/channels": {
            "get": {"operationId": "listChannels", "responses": {
                "200": {"description": "Where the account's reminders go, its own address "
                                       "first", "content": _json("ChannelList")},
                **_errors(401)}},
            "post": {"operationId": "createChannel",
                     "description": "Adds an e-mail address and mails it a confirmation link "
                                    "at once (nothing else goes there until it is opened; "
                                    "`confirmation` says whether that mail left), or a push "
                                    "channel's Apprise URL, checked at once and then shown "
                                    "masked.",
                     "requestBody": {"required": True, "content": _json("ChannelFields")},
                     "responses": {"201": {"description": "Created",
                                           "content": _json("ChannelCreated")},
                                   **_errors(400, 401, 413, 415, 422),
                                   **_conflict("The account already has this address, or "
                                               "as many as it may have")}},
        },
        "/channels/{channel_id}": {
            "parameters": [channel_id],
            "patch": {"operationId": "patchChannel",
                      "requestBody": {"required": True, "content": _json("ChannelPatch")},
                      "responses": {"200": {"description": "Updated",
                                            "content": _json("ChannelOut")},
                                    **_errors(400, 401, 404, 409, 413, 415, 422)}},
            "delete": {"operationId": "deleteChannel",
                       "description": "Removes the channel and its deliveries. The account's "
                                      "own address cannot be removed (409): switch it off.",
                       "responses": {"204": {"description": "Deleted"},
                                     **_errors(401, 404),
                                     **_conflict("The account's own address")}},
        },
        "/channels/{channel_id}/test": {
            "parameters": [channel_id],
            "post": {"operationId": "testChannel",
                     "description": "Sends a test message at once; the delivery's status says "
                                    "whether it went. 409 for an address not yet confirmed.",
                     "responses": {"200": {"description": "The test's delivery",
                                           "content": _json("DeliveryResult")},
                                   **_errors(401, 404),
                                   **_conflict("The address is not confirmed yet")}},
        },
        "/deliveries": {
            "get": {
                "operationId": "listDeliveries",
                "parameters": [{"name": "item", "in": "query",
                                "description": "Only the deliveries of this item",
                                "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "The latest 100 deliveries, newest first",
                                      "content": _json("DeliveryList")},
                              **_errors(401, 404, 422)}},
        },
    }
