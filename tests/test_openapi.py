"""The OpenAPI document is valid, covers every API route, and describes real answers."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from feedsvc import status
from feedsvc.db import new_session
from feedsvc.models import Channel

from helpers import VALID_ITEM, Api

DOCUMENT_URI = "urn:feedsvc:openapi"
PREFIX = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    """The document as served, without a token."""
    response = client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert isinstance(document, dict)
    return document


def check(document: dict[str, Any], method: str, response: Any) -> None:
    """The response's status is documented for the operation, and its body fits the schema."""
    path = _documented_path(document, response.request.path)
    documented = document["paths"][path][method]["responses"]
    assert str(response.status_code) in documented, (method, path, response.status_code)
    content = documented[str(response.status_code)].get("content")
    if content is None:
        assert response.data == b""
        return
    assert response.mimetype in content
    schema = {"$ref": DOCUMENT_URI + content[response.mimetype]["schema"]["$ref"]}
    registry: Registry = Registry().with_resource(DOCUMENT_URI,
                                                  DRAFT202012.create_resource(document))
    Draft202012Validator(schema, registry=registry, format_checker=FormatChecker()).validate(
        response.json)


def _documented_path(document: dict[str, Any], request_path: str) -> str:
    """The document's path template that a request path falls under."""
    for path in document["paths"]:
        pattern = re.sub(r"\\{[a-z_]+\\}", "[^/]+", re.escape(path))
        if re.fullmatch(pattern, request_path[len(PREFIX):]):
            return path
    raise AssertionError(f"{request_path} is not in the document")


def _template(rule: str) -> str:
    """A Flask rule as an OpenAPI path: /api/v1/items/<int:item_id> -> /items/{item_id}."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule[len(PREFIX):])


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(copy.deepcopy(document), cls=OpenAPIV31SpecValidator)


def test_every_api_route_is_documented_with_its_methods(app: Flask,
                                                        document: dict[str, Any]) -> None:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            methods = set(rule.methods or ()) - IGNORED_METHODS
            routes.setdefault(_template(rule.rule), set()).update(m.lower() for m in methods)
    assert {"/me", "/items", "/items/{item_id}", "/openapi.json"} <= set(routes)
    for path, methods in routes.items():
        assert path in document["paths"], path
        operations = set(document["paths"][path]) - {"parameters", "summary", "description"}
        assert operations == methods, path


def test_documented_path_parameters_match_the_routes(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        names = set(re.findall(r"{([a-z_]+)}", path))
        declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert names == declared, path


def test_document_has_no_dangling_references(document: dict[str, Any]) -> None:
    text = repr(document)
    for name in re.findall(r"#/components/schemas/([A-Za-z0-9_-]+)", text):
        assert name in document["components"]["schemas"], name


def test_real_item_answers_fit_the_document(api: Api, document: dict[str, Any]) -> None:
    created = api.post(f"{PREFIX}/items", json=VALID_ITEM)
    check(document, "post", created)
    minimal = api.post(f"{PREFIX}/items", json={"title": "TNT", "due_date": "2027-01-01"})
    check(document, "post", minimal)
    item_path = f"{PREFIX}/items/{created.json['id']}"
    check(document, "get", api.get(item_path))
    check(document, "patch", api.patch(item_path, json={"archived": True, "repeat": None}))
    check(document, "get", api.get(f"{PREFIX}/items"))
    check(document, "get", api.get(f"{PREFIX}/items?archived=true"))
    check(document, "delete", api.delete(item_path))


def test_real_settings_answers_fit_the_document(api: Api, document: dict[str, Any]) -> None:
    check(document, "get", api.get(f"{PREFIX}/me"))
    check(document, "patch", api.patch(f"{PREFIX}/me", json={"locale": "zh-Hans",
                                                             "default_alarms": []}))


def test_real_errors_fit_the_document(api: Api, client: FlaskClient,
                                      document: dict[str, Any]) -> None:
    items = f"{PREFIX}/items"
    check(document, "post", api.post(items, json={"title": ""}))
    check(document, "post", api.client.post(items, data=b"{", headers={
        **api.headers, "Content-Type": "application/json"}))
    check(document, "post", api.client.post(items, data=b"x", headers={
        **api.headers, "Content-Type": "text/plain"}))
    check(document, "post", api.client.post(items, data=b" " * (300 * 1024), headers={
        **api.headers, "Content-Type": "application/json"}))
    check(document, "get", client.get(items))
    check(document, "get", api.get(f"{items}?category=car"))
    check(document, "get", api.get(f"{items}/12345"))
    check(document, "patch", api.patch(f"{items}/12345", json={}))
    check(document, "delete", api.delete(f"{items}/12345"))
    check(document, "patch", api.patch(f"{PREFIX}/me", json={"timezone": "Mars/Olympus"}))


def test_real_channel_and_delivery_answers_fit_the_document(
        app: Flask, api: Api, item: dict[str, Any], document: dict[str, Any]) -> None:
    channels = f"{PREFIX}/channels"
    check(document, "get", api.get(channels))
    created = api.post(channels, json={"kind": "email", "address": "family@example.com"})
    check(document, "post", created)
    channel_path = f"{channels}/{created.json['id']}"
    check(document, "patch", api.patch(channel_path, json={"name": "Family",
                                                           "enabled": False}))
    check(document, "post", api.post(f"{channel_path}/test"))  # 409: not confirmed
    with new_session(app) as session:
        session.get_one(Channel, created.json["id"]).verified_at = status.utc_now()
        session.commit()
    tested = api.post(f"{channel_path}/test")  # no relay: written to the outbox
    assert tested.json["delivery"]["status"] == "sent"
    check(document, "post", tested)
    check(document, "get", api.get(f"{PREFIX}/deliveries"))
    check(document, "get", api.get(f"{PREFIX}/deliveries?item={item['id']}"))
    check(document, "delete", api.delete(channel_path))
    own = api.get(channels).json["channels"][0]["id"]
    check(document, "delete", api.delete(f"{channels}/{own}"))  # 409: the account's own


def test_real_channel_errors_fit_the_document(api: Api, document: dict[str, Any]) -> None:
    channels = f"{PREFIX}/channels"
    check(document, "post", api.post(channels, json={"kind": "apprise", "url": "x"}))
    check(document, "post", api.post(channels, json={"kind": "email", "address": "x"}))
    check(document, "post", api.post(channels, json={"kind": "email",
                                                     "address": "user@example.com"}))
    check(document, "patch", api.patch(f"{channels}/12345", json={}))
    check(document, "delete", api.delete(f"{channels}/12345"))
    check(document, "post", api.post(f"{channels}/12345/test"))
    check(document, "get", api.get(f"{PREFIX}/deliveries?item=12345"))
    check(document, "get", api.get(f"{PREFIX}/deliveries?item=x"))


def test_check_refuses_an_answer_that_does_not_fit(api: Api, document: dict[str, Any]) -> None:
    response = api.get(f"{PREFIX}/me")
    response.set_data(b'{"email": 5}')
    with pytest.raises(ValidationError):
        check(document, "get", response)


def test_documented_item_fields_match_the_answers(api: Api, document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    item = api.post(f"{PREFIX}/items", json=VALID_ITEM).json
    assert set(schemas["ItemOut"]["properties"]) == set(item)
    assert set(schemas["ItemOut"]["required"]) == set(item)
    assert set(schemas["ItemFields"]["properties"]) == set(VALID_ITEM)
    assert schemas["ItemFields"]["additionalProperties"] is False
    assert schemas["ItemPatch"]["additionalProperties"] is False
    assert schemas["ItemPatch"]["required"] == []
    assert set(schemas["Repeat"]["properties"]) == {"every", "unit", "from"}
