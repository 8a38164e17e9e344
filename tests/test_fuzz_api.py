"""Schema fuzzing: schemathesis drives every API operation from /api/v1/openapi.json.

Positive and negative inputs, a fixed seed and a bounded number of examples per operation,
through the WSGI app (no server). Every answer must be below 500, carry a documented
status, content type and headers, and match the documented schema; input the schema
forbids must be refused. A longer run is described in benchmarks/README.md
(``FEEDSVC_FUZZ_EXAMPLES=500``).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config._auth import AuthConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from feedsvc.openapi import document

from helpers import VALID_ITEM, Api

EXAMPLES = int(os.environ.get("FEEDSVC_FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]
OPERATIONS = [(method.upper(), path) for path, operations in document()["paths"].items()
              for method in operations if method != "parameters"]
CASES = [(mode, method, path) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
         for method, path in OPERATIONS
         # The document itself takes no input at all: nothing to make invalid.
         if not (mode == GenerationMode.NEGATIVE and path == "/openapi.json")]
TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report() -> Any:
    yield
    statuses = dict(sorted((k, v) for k, v in TALLY.items() if k.isdigit()))
    print(f"\nschemathesis: {len(OPERATIONS)} operations, {TALLY['requests']} requests, "
          f"{TALLY['5xx']} answered 5xx; statuses {statuses}")


def seed_data(app: Flask, token: str) -> None:
    """Some items, renewals, feeds and reminder addresses, so that not every id the fuzzer
    tries is a 404."""
    api = Api(app.test_client(), token)
    for number in range(3):
        created = api.post("/api/v1/items", json={**VALID_ITEM, "title": f"Item {number}"})
        api.post(f"/api/v1/items/{created.json['id']}/renewals", json={})
        api.post("/api/v1/feeds", json={"name": f"Feed {number}"})
        api.post("/api/v1/channels", json={"kind": "email",
                                           "address": f"address{number}@example.com"})


@pytest.mark.parametrize("mode, method, path", CASES,
                         ids=[f"{mode.value}-{method} {path}" for mode, method, path in CASES])
def test_every_operation_answers_as_documented_and_never_5xx(
    app: Flask, user: dict[str, Any], mode: GenerationMode, method: str, path: str
) -> None:
    seed_data(app, user["token"])
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # Given as the document's bearer scheme, so that negative cases may leave it out.
    schema.config.auth = AuthConfig(openapi={"bearer": {"bearer": user["token"]}})
    operation = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        response = case.call()
        TALLY["requests"] += 1
        TALLY[str(response.status_code)] += 1
        TALLY["5xx"] += response.status_code >= 500
        case.validate_response(response, checks=CHECKS)

    call()
