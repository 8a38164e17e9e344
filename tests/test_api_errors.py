"""Every bad input gets a clear 4xx in the spec's JSON error shape, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from helpers import VALID_ITEM, Api

ITEMS = "/api/v1/items"
ME = "/api/v1/me"
MISSING = object()  # marks a field to leave out of the body


def assert_error(response: Any, status: int) -> dict[str, Any]:
    """The response is a JSON error of this status in the spec's shape; returns its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"status", "message", "fields"}
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"].strip()
    if "fields" in error:
        assert error["fields"] and all(
            isinstance(key, str) and isinstance(text, str) and text.strip()
            for key, text in error["fields"].items())
    return error


def item_with(**changes: Any) -> dict[str, Any]:
    body = {**VALID_ITEM, **changes}
    return {key: value for key, value in body.items() if value is not MISSING}


BAD_ITEMS: list[tuple[str, dict[str, Any], str]] = [
    # dates
    ("impossible day", item_with(due_date="2026-02-30"), "due_date"),
    ("impossible month", item_with(due_date="2026-13-01"), "due_date"),
    ("word", item_with(due_date="tomorrow"), "due_date"),
    ("int date", item_with(due_date=20260101), "due_date"),
    ("unpadded date", item_with(due_date="2026-1-1"), "due_date"),
    ("date with time", item_with(due_date="2026-01-01T00:00:00"), "due_date"),
    ("date with newline", item_with(due_date="2026-01-01\n"), "due_date"),
    ("year one", item_with(due_date="0001-01-01"), "due_date"),
    ("year 9999", item_with(due_date="9999-12-31"), "due_date"),
    ("null date", item_with(due_date=None), "due_date"),
    ("missing date", item_with(due_date=MISSING), "due_date"),
    # wrong types
    ("title int", item_with(title=5), "title"),
    ("title list", item_with(title=["MTS"]), "title"),
    ("title null", item_with(title=None), "title"),
    ("missing title", item_with(title=MISSING), "title"),
    ("auto_renew yes", item_with(auto_renew="yes"), "auto_renew"),
    ("auto_renew 1", item_with(auto_renew=1), "auto_renew"),
    ("archived null", item_with(archived=None), "archived"),
    ("grace_days str", item_with(grace_days="3"), "grace_days"),
    ("grace_days float", item_with(grace_days=3.0), "grace_days"),
    ("grace_days bool", item_with(grace_days=True), "grace_days"),
    ("alarms dict", item_with(alarms={"days_before": 3}), "alarms"),
    ("alarms str", item_with(alarms="14,3,0"), "alarms"),
    ("bound_services str", item_with(bound_services="Telegram"), "bound_services"),
    ("bound_services int", item_with(bound_services=[1]), "bound_services.0"),
    ("bound_services null", item_with(bound_services=None), "bound_services"),
    ("notes null", item_with(notes=None), "notes"),
    ("repeat str", item_with(repeat="monthly"), "repeat"),
    ("price str", item_with(price="12.50"), "price"),
    ("country int", item_with(country=7), "country"),
    ("provider int", item_with(provider=5), "provider"),
    # unknown and read-only fields
    ("unknown field", item_with(bogus=1), "bogus"),
    ("id", item_with(id=1), "id"),
    ("status", item_with(status="ok"), "status"),
    ("days_left", item_with(days_left=1), "days_left"),
    ("created_at", item_with(created_at="2026-01-01T00:00:00Z"), "created_at"),
    ("user_id", item_with(user_id=2), "user_id"),
    ("unknown repeat field", item_with(repeat={"unit": "day", "bogus": 1}), "repeat.bogus"),
    ("python name of from", item_with(repeat={"unit": "day", "from_": "renewal"}),
     "repeat.from_"),
    ("unknown alarm field", item_with(alarms=[{"days_before": 1, "when": "now"}]),
     "alarms.0.when"),
    ("unknown price field", item_with(price={"amount": "1", "currency": "EUR", "vat": 0}),
     "price.vat"),
    # too long
    ("title 201", item_with(title="x" * 201), "title"),
    ("provider 101", item_with(provider="p" * 101), "provider"),
    ("phone 41", item_with(phone_number="+" + "1" * 40), "phone_number"),
    ("notes 5001", item_with(notes="n" * 5001), "notes"),
    ("url 2001", item_with(url="https://example.com/" + "a" * 1981), "url"),
    ("bound service 101", item_with(bound_services=["ok", "s" * 101]), "bound_services.1"),
    ("51 bound services", item_with(bound_services=[f"s{i}" for i in range(51)]),
     "bound_services"),
    # empty
    ("empty title", item_with(title=""), "title"),
    ("blank title", item_with(title="   "), "title"),
    ("empty bound service", item_with(bound_services=[""]), "bound_services.0"),
    ("blank bound service", item_with(bound_services=["  "]), "bound_services.0"),
    # codes
    ("currency ZZZ", item_with(price={"amount": "1", "currency": "ZZZ"}), "price.currency"),
    ("currency XX", item_with(price={"amount": "1", "currency": "XX"}), "price.currency"),
    ("currency R", item_with(price={"amount": "1", "currency": "R"}), "price.currency"),
    ("currency rus", item_with(price={"amount": "1", "currency": "rus"}), "price.currency"),
    ("currency EURO", item_with(price={"amount": "1", "currency": "EURO"}), "price.currency"),
    ("missing currency", item_with(price={"amount": "1"}), "price.currency"),
    ("country ZZ", item_with(country="ZZ"), "country"),
    ("country rus", item_with(country="rus"), "country"),
    ("country R", item_with(country="R"), "country"),
    ("category car", item_with(category="car"), "category"),
    ("category upper", item_with(category="SIM"), "category"),
    ("category null", item_with(category=None), "category"),
    # ranges
    ("grace -1", item_with(grace_days=-1), "grace_days"),
    ("grace 366", item_with(grace_days=366), "grace_days"),
    ("days_before -1", item_with(alarms=[{"days_before": -1}]), "alarms.0.days_before"),
    ("days_before 366", item_with(alarms=[{"days_before": 0}, {"days_before": 366}]),
     "alarms.1.days_before"),
    ("days_before str", item_with(alarms=[{"days_before": "3"}]), "alarms.0.days_before"),
    ("missing days_before", item_with(alarms=[{"at": "09:00"}]), "alarms.0.days_before"),
    ("alarm 24:00", item_with(alarms=[{"days_before": 1, "at": "24:00"}]), "alarms.0.at"),
    ("alarm 9:00", item_with(alarms=[{"days_before": 1, "at": "9:00"}]), "alarms.0.at"),
    ("alarm 09:60", item_with(alarms=[{"days_before": 1, "at": "09:60"}]), "alarms.0.at"),
    ("alarm with newline", item_with(alarms=[{"days_before": 1, "at": "09:00\n"}]),
     "alarms.0.at"),
    ("alarm at int", item_with(alarms=[{"days_before": 1, "at": 900}]), "alarms.0.at"),
    ("duplicate alarms", item_with(alarms=[{"days_before": 3}, {"days_before": 3, "at": "09:00"}]),
     "alarms"),
    ("11 alarms", item_with(alarms=[{"days_before": d} for d in range(11)]), "alarms"),
    ("repeat every 0", item_with(repeat={"every": 0, "unit": "day"}), "repeat.every"),
    ("repeat every 1001", item_with(repeat={"every": 1001, "unit": "day"}), "repeat.every"),
    ("repeat every str", item_with(repeat={"every": "3", "unit": "day"}), "repeat.every"),
    ("repeat fortnight", item_with(repeat={"unit": "fortnight"}), "repeat.unit"),
    ("repeat without unit", item_with(repeat={"every": 3}), "repeat.unit"),
    ("repeat from whenever", item_with(repeat={"unit": "day", "from": "whenever"}),
     "repeat.from"),
    # control characters and broken text
    ("title newline", item_with(title="MTS\nRussia"), "title"),
    ("title trailing newline", item_with(title="MTS Russia\n"), "title"),
    ("title carriage return", item_with(title="MTS\rRussia"), "title"),
    ("title tab", item_with(title="MTS\tRussia"), "title"),
    ("title NUL", item_with(title="MTS\x00"), "title"),
    ("title line separator", item_with(title="MTS\u2028Russia"), "title"),
    ("title C1 next line", item_with(title="MTS\x85Russia"), "title"),
    ("title escape", item_with(title="\x1b[31mMTS"), "title"),
    ("title lone surrogate", item_with(title="MTS \ud800"), "title"),
    ("provider newline", item_with(provider="MTS\nEVIL:1"), "provider"),
    ("bound service newline", item_with(bound_services=["a\nb"]), "bound_services.0"),
    ("notes NUL", item_with(notes="top up\x00"), "notes"),
    ("notes escape", item_with(notes="\x1b[2J"), "notes"),
    ("notes lone surrogate", item_with(notes="\ud800"), "notes"),
    ("phone letters", item_with(phone_number="call me"), "phone_number"),
    ("phone NUL", item_with(phone_number="+7 916\x00123"), "phone_number"),
    # URLs
    ("url javascript", item_with(url="javascript:alert(1)"), "url"),
    ("url ftp", item_with(url="ftp://x"), "url"),
    ("url without host", item_with(url="https://"), "url"),
    ("url relative", item_with(url="/renew"), "url"),
    ("url with space", item_with(url="https://exa mple.com/"), "url"),
    ("url with newline", item_with(url="https://example.com/\nX-EVIL:1"), "url"),
    ("url lone surrogate", item_with(url="https://example.com/\ud800"), "url"),
    ("url bad ipv6", item_with(url="http://[::1/"), "url"),
    ("url bad port", item_with(url="http://example.com:99999/"), "url"),
    # amounts
    ("amount -1", item_with(price={"amount": "-1", "currency": "EUR"}), "price.amount"),
    ("amount comma", item_with(price={"amount": "12,50", "currency": "EUR"}), "price.amount"),
    ("amount exponent", item_with(price={"amount": "1e5", "currency": "EUR"}), "price.amount"),
    ("amount empty", item_with(price={"amount": "", "currency": "EUR"}), "price.amount"),
    ("amount 5 decimals", item_with(price={"amount": "1.23456", "currency": "EUR"}),
     "price.amount"),
    ("amount newline", item_with(price={"amount": "12.50\n", "currency": "EUR"}),
     "price.amount"),
    ("amount bool", item_with(price={"amount": True, "currency": "EUR"}), "price.amount"),
    ("amount missing", item_with(price={"currency": "EUR"}), "price.amount"),
]


@pytest.mark.parametrize("body, field", [case[1:] for case in BAD_ITEMS],
                         ids=[case[0] for case in BAD_ITEMS])
def test_bad_item_is_refused_and_not_stored(api: Api, body: dict[str, Any], field: str) -> None:
    error = assert_error(api.post(ITEMS, json=body), 422)
    assert field in error["fields"], error
    assert api.get(ITEMS).json == {"items": []}


def put_at(path: str, value: str) -> dict[str, Any]:
    """VALID_ITEM with ``value`` at a dotted path such as "alarms.0.at"."""
    body: Any = item_with(repeat={"every": 1, "unit": "day", "from": "schedule"},
                          alarms=[{"days_before": 1, "at": "09:00"}],
                          price={"amount": "1", "currency": "EUR"}, bound_services=["x"])
    *parents, last = path.split(".")
    target = body
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return body


TEXT_PATHS = ["title", "category", "provider", "phone_number", "country", "due_date",
              "repeat.unit", "repeat.from", "alarms.0.at", "price.amount", "price.currency",
              "bound_services.0", "notes", "url"]


@pytest.mark.parametrize("path", TEXT_PATHS)
@pytest.mark.parametrize("text", ["\ud800", "x\udfff", "\x00", "a\x00b"],
                         ids=["lone high surrogate", "lone low surrogate", "NUL", "inner NUL"])
def test_no_text_field_stores_nul_or_lone_surrogates(api: Api, path: str, text: str) -> None:
    error = assert_error(api.post(ITEMS, json=put_at(path, text)), 422)
    assert path in error["fields"], error
    assert api.get(ITEMS).json == {"items": []}


@pytest.mark.parametrize(
    "key, named",
    # A name that is not Unicode text cannot be named back: the body is blamed instead.
    [("\ud800", "body"), ("\x00", "\x00"), ("title\x00", "title\x00")],
)
def test_unknown_field_with_broken_name_is_422(api: Api, key: str, named: str) -> None:
    error = assert_error(api.post(ITEMS, json=item_with(**{key: 1})), 422)
    assert named in error["fields"]
    assert api.get(ITEMS).json == {"items": []}


@pytest.mark.parametrize("field", ["timezone", "locale"])
@pytest.mark.parametrize("text", ["\ud800", "UTC\x00"])
def test_settings_refuse_nul_and_lone_surrogates(api: Api, field: str, text: str) -> None:
    error = assert_error(api.patch(ME, json={field: text}), 422)
    assert field in error["fields"]


def test_every_bad_field_is_named_at_once(api: Api) -> None:
    error = assert_error(api.post(ITEMS, json=item_with(
        title="", due_date="2026-02-30", grace_days=-1, bogus=1,
        alarms=[{"days_before": 1, "at": "25:00"}])), 422)
    assert set(error["fields"]) == {"title", "due_date", "grace_days", "bogus", "alarms.0.at"}
    assert "title" in error["message"] and "due_date" in error["message"]


def test_there_are_at_least_thirty_distinct_bad_items() -> None:
    assert len({repr(body) for _, body, _ in BAD_ITEMS}) == len(BAD_ITEMS) >= 30


BAD_PATCHES: list[tuple[dict[str, Any], str]] = [
    ({"due_date": "2026-02-30"}, "due_date"),
    ({"due_date": 20260101}, "due_date"),
    ({"title": None}, "title"),
    ({"title": "a\nb"}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"grace_days": "3"}, "grace_days"),
    ({"alarms": [{"days_before": 366}]}, "alarms.0.days_before"),
    ({"alarms": {"days_before": 1}}, "alarms"),
    ({"repeat": {"every": 0, "unit": "day"}}, "repeat.every"),
    ({"price": {"amount": "1", "currency": "ZZZ"}}, "price.currency"),
    ({"url": "javascript:alert(1)"}, "url"),
    ({"notes": "\x00"}, "notes"),
    ({"bound_services": [1]}, "bound_services.0"),
    ({"id": 5}, "id"),
    ({"bogus": True}, "bogus"),
]


@pytest.mark.parametrize("changes, field", BAD_PATCHES)
def test_bad_patch_is_refused_and_item_unchanged(
    api: Api, item: dict[str, Any], changes: dict[str, Any], field: str
) -> None:
    path = f"{ITEMS}/{item['id']}"
    error = assert_error(api.patch(path, json=changes), 422)
    assert field in error["fields"], error
    assert api.get(path).json == item


BAD_SETTINGS: list[tuple[dict[str, Any], str]] = [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "utc+8"}, "timezone"),
    ({"timezone": "UTC+8"}, "timezone"),
    ({"timezone": ""}, "timezone"),
    ({"timezone": "localtime"}, "timezone"),
    ({"timezone": "Europe/Moscow "}, "timezone"),
    ({"timezone": 8}, "timezone"),
    ({"timezone": None}, "timezone"),
    ({"locale": "fr"}, "locale"),
    ({"locale": "zh-hans"}, "locale"),
    ({"locale": None}, "locale"),
    ({"default_alarms": [{"days_before": 366}]}, "default_alarms.0.days_before"),
    ({"default_alarms": [{"days_before": 1, "at": "9:00"}]}, "default_alarms.0.at"),
    ({"default_alarms": [{"days_before": 1}, {"days_before": 1}]}, "default_alarms"),
    ({"default_alarms": {"days_before": 1}}, "default_alarms"),
    ({"default_alarms": None}, "default_alarms"),
    ({"email": "new@example.com"}, "email"),
    ({"password": "secret123"}, "password"),
    ({"bogus": 1}, "bogus"),
]


@pytest.mark.parametrize("changes, field", BAD_SETTINGS)
def test_bad_settings_are_refused_and_unchanged(
    api: Api, changes: dict[str, Any], field: str
) -> None:
    before = api.get(ME).json
    error = assert_error(api.patch(ME, json=changes), 422)
    assert field in error["fields"], error
    assert api.get(ME).json == before


# Bodies that are not a JSON object

JSON_TARGETS = [("post", ITEMS), ("patch", f"{ITEMS}/1"), ("patch", ME)]


def send(client: FlaskClient, token: str, method: str, path: str, data: bytes,
         content_type: str | None = "application/json") -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return getattr(client, method)(path, data=data, headers=headers)


@pytest.fixture
def target(api: Api, item: dict[str, Any]) -> None:
    """Every JSON endpoint has something to work on (item 1 exists)."""
    assert item["id"] == 1


@pytest.mark.usefixtures("target")
@pytest.mark.parametrize("method, path", JSON_TARGETS)
@pytest.mark.parametrize(
    "data, status",
    [
        (b"{", 400),
        (b'{"title": "x",}', 400),
        (b"{'title': 'x'}", 400),
        (b"", 400),
        (b"   ", 400),
        (b'{"title": NaN}', 400),
        (b'{"grace_days": Infinity}', 400),
        (b'{"grace_days": -Infinity}', 400),
        (b'{"title": "\xff\xfe"}', 400),
        (b"\xef\xbb\xbf{}", 400),
        (b'{"grace_days": 1' + b"0" * 5000 + b"}", 400),
        (b"[" * 100_000 + b"]" * 100_000, 400),
        (b'{"a":' * 40_000 + b"1" + b"}" * 40_000, 400),
        (b"[]", 422),
        (b'[{"title": "x"}]', 422),
        (b'"MTS"', 422),
        (b"null", 422),
        (b"42", 422),
        (b"true", 422),
    ],
    ids=lambda value: value[:20].decode("latin-1") if isinstance(value, bytes) else str(value),
)
def test_body_that_is_not_a_json_object(
    client: FlaskClient, user: dict[str, Any], method: str, path: str, data: bytes, status: int
) -> None:
    before = send(client, user["token"], "get", path if method == "patch" else ITEMS, b"").json
    error = assert_error(send(client, user["token"], method, path, data), status)
    if status == 422:
        assert "body" in error["fields"]
    after = send(client, user["token"], "get", path if method == "patch" else ITEMS, b"").json
    assert after == before


@pytest.mark.parametrize(
    "data, words",
    [
        (b"{", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"title": NaN}', "NaN"),
        (b'{"grace_days": -Infinity}', "-Infinity"),
        (b'{"title": "\xff"}', "UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"grace_days": 1' + b"0" * 5000 + b"}", "number is too long"),
    ],
    ids=["open brace", "empty", "NaN", "-Infinity", "bad UTF-8", "deep", "long number"],
)
def test_malformed_body_message_says_what_is_wrong(api: Api, data: bytes, words: str) -> None:
    response = api.client.post(ITEMS, data=data, headers={
        **api.headers, "Content-Type": "application/json"})
    message = assert_error(response, 400)["message"]
    assert words in message
    assert "sys." not in message and "codec" not in message


@pytest.mark.usefixtures("target")
@pytest.mark.parametrize("method, path", JSON_TARGETS)
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "application/xml", None],
)
def test_body_that_is_not_sent_as_json_is_415(
    client: FlaskClient, user: dict[str, Any], method: str, path: str, content_type: str | None
) -> None:
    assert_error(send(client, user["token"], method, path, b'{"title": "x"}', content_type), 415)


@pytest.mark.usefixtures("target")
@pytest.mark.parametrize("method, path", JSON_TARGETS)
def test_json_with_charset_is_accepted(
    client: FlaskClient, user: dict[str, Any], method: str, path: str
) -> None:
    body = b'{"title": "MTS", "due_date": "2027-01-01"}' if path == ITEMS else b"{}"
    response = send(client, user["token"], method, path, body, "application/json; charset=utf-8")
    assert response.status_code == (201 if method == "post" else 200), response.json


@pytest.mark.usefixtures("target")
@pytest.mark.parametrize("method, path", JSON_TARGETS)
def test_body_over_the_limit_is_413(
    client: FlaskClient, user: dict[str, Any], method: str, path: str
) -> None:
    data = b'{"notes": "' + b"n" * (256 * 1024) + b'"}'
    error = assert_error(send(client, user["token"], method, path, data), 413)
    assert "fields" not in error


def test_body_just_under_the_limit_is_read(api: Api, client: FlaskClient,
                                           user: dict[str, Any]) -> None:
    data = b'{"title": "x", "due_date": "2027-01-01", "notes": "' + b" " * (255 * 1024) + b'"}'
    error = assert_error(send(client, user["token"], "post", ITEMS, data), 422)
    assert set(error["fields"]) == {"notes"}


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/nothing"),
        ("get", "/api/v1/items/abc"),
        ("get", "/api/v1/items/-1"),
        ("get", "/api/v1/items/1/unknown"),
        ("post", "/api/v1/nothing"),
        ("get", "/api/v2/items"),
        ("get", "/api/"),
    ],
)
def test_unknown_route_is_404_json(client: FlaskClient, method: str, path: str) -> None:
    assert_error(getattr(client, method)(path), 404)


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("put", ITEMS, {"GET", "POST"}),
        ("delete", ITEMS, {"GET", "POST"}),
        ("patch", ITEMS, {"GET", "POST"}),
        ("post", f"{ITEMS}/1", {"GET", "PATCH", "DELETE"}),
        ("put", f"{ITEMS}/1", {"GET", "PATCH", "DELETE"}),
        ("post", ME, {"GET", "PATCH"}),
        ("delete", ME, {"GET", "PATCH"}),
        ("post", "/api/v1/openapi.json", {"GET"}),
    ],
)
def test_wrong_method_is_405_json(api: Api, method: str, path: str, allowed: set[str]) -> None:
    response = getattr(api.client, method)(path, headers=api.headers)
    assert_error(response, 405)
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}
