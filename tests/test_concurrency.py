"""Lost updates: ETag / If-Match on the API, and the edit form's stale-edit check."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask

from helpers import VALID_ITEM, Api, signed_in


def test_item_responses_carry_the_version_as_a_strong_etag(api: Api) -> None:
    created = api.post("/api/v1/items", json=VALID_ITEM)
    assert created.headers["ETag"] == '"1"'
    item_id = created.json["id"]
    assert api.get(f"/api/v1/items/{item_id}").headers["ETag"] == '"1"'
    changed = api.patch(f"/api/v1/items/{item_id}", json={"title": "MegaFon"})
    assert changed.headers["ETag"] == '"2"'
    api.post(f"/api/v1/items/{item_id}/renewals", json={})
    assert api.get(f"/api/v1/items/{item_id}").headers["ETag"] == '"3"'
    undone = api.delete(f"/api/v1/items/{item_id}/renewals/latest")
    assert undone.headers["ETag"] == '"4"'


@pytest.mark.parametrize("method, suffix, body", [
    ("patch", "", {"title": "Overwritten"}),
    ("delete", "", None),
    ("post", "/renewals", {}),
    ("delete", "/renewals/latest", None),
], ids=["patch", "delete", "renew", "undo"])
def test_a_stale_if_match_is_refused_with_412_and_changes_nothing(
    api: Api, method: str, suffix: str, body: Any
) -> None:
    item = api.post("/api/v1/items", json=VALID_ITEM)
    path = f"/api/v1/items/{item.json['id']}"
    api.post(f"{path}/renewals", json={})
    stale = item.headers["ETag"]
    before = api.get(path).json
    kwargs = {"json": body} if body is not None else {}
    response = getattr(api.client, method)(path + suffix,
                                           headers={**api.headers, "If-Match": stale}, **kwargs)
    assert response.status_code == 412
    assert response.json["error"]["status"] == 412
    assert "changed since you read it" in response.json["error"]["message"]
    assert api.get(path).json == before


@pytest.mark.parametrize("if_match", ['"{v}"', "*", 'W/"0", "{v}"'])
def test_a_matching_if_match_goes_ahead(api: Api, if_match: str) -> None:
    item = api.post("/api/v1/items", json=VALID_ITEM)
    version = item.headers["ETag"].strip('"')
    path = f"/api/v1/items/{item.json['id']}"
    response = api.client.patch(path, json={"title": "Renamed"},
                                headers={**api.headers, "If-Match": if_match.format(v=version)})
    assert response.status_code == 200 and response.json["title"] == "Renamed"


def test_a_weak_etag_never_matches(api: Api) -> None:
    item = api.post("/api/v1/items", json=VALID_ITEM)
    response = api.client.delete(f"/api/v1/items/{item.json['id']}",
                                 headers={**api.headers, "If-Match": "W/" + item.headers["ETag"]})
    assert response.status_code == 412


def test_the_edit_form_shows_a_stale_edit_instead_of_overwriting(
    app: Flask, client: Any, user: dict[str, Any], api: Api
) -> None:
    item = api.post("/api/v1/items", json=VALID_ITEM).json
    browser = signed_in(client, user)
    opened = browser.get(f"/items/{item['id']}").values()
    assert api.patch(f"/api/v1/items/{item['id']}", json={"title": "Changed meanwhile"}
                     ).status_code == 200
    page = browser.client.post(f"/items/{item['id']}", data={**opened, "title": "Mine"})
    assert page.status_code == 409
    assert "changed elsewhere" in page.get_data(as_text=True)
    assert 'value="Mine"' in page.get_data(as_text=True), "the input is kept"
    assert api.get(f"/api/v1/items/{item['id']}").json["title"] == "Changed meanwhile"


def test_concurrent_renewals_never_break_the_due_date_chain(app: Flask, api: Api) -> None:
    item = api.post("/api/v1/items", json=VALID_ITEM).json
    path = f"/api/v1/items/{item['id']}"
    statuses: list[int] = []

    def renew() -> None:
        client = Api(app.test_client(), api.headers["Authorization"].split()[1])
        for _ in range(5):
            statuses.append(client.post(f"{path}/renewals", json={}).status_code)

    threads = [threading.Thread(target=renew) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {201, 409}, statuses
    history = list(reversed(api.get(f"{path}/renewals").json["renewals"]))
    assert len(history) == statuses.count(201)
    due = item["due_date"]
    for renewal in history:
        assert renewal["due_before"] == due
        due = renewal["due_after"]
    assert api.get(path).json["due_date"] == due
