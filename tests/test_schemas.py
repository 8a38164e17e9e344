"""The pydantic models alone: what they accept, how they normalise, how they name errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from feedsvc.errors import ValidationFailed
from feedsvc.schemas import (
    Alarm,
    ItemFields,
    MePatch,
    Repeat,
    field_errors,
    known_timezones,
    validate,
)

MINIMAL = {"title": "MTS", "due_date": "2027-01-31"}


def errors_of(model: type[BaseModel], data: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return field_errors(caught.value)


def test_validate_returns_the_model() -> None:
    fields = validate(ItemFields, MINIMAL)
    assert isinstance(fields, ItemFields)
    assert fields.due_date == dt.date(2027, 1, 31)
    assert fields.category == "sim"
    assert fields.alarms is None
    assert fields.bound_services == []


@pytest.mark.parametrize("data", [[], "x", None, 1, [MINIMAL]])
def test_validate_refuses_a_body_that_is_not_an_object(data: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate(ItemFields, data)
    assert caught.value.status == 422
    assert caught.value.fields == {"body": "must be an object"}


def test_validate_names_every_field_in_the_message() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate(ItemFields, {"due_date": "x", "bogus": 1})
    assert set(caught.value.fields) == {"title", "due_date", "bogus"}
    assert caught.value.message == "Some fields are not valid: bogus, due_date, title."


@pytest.mark.parametrize(
    "data, path, message",
    [
        ({"due_date": "2027-01-01"}, "title", "is required"),
        ({**MINIMAL, "bogus": 1}, "bogus", "is not a known field"),
        ({**MINIMAL, "alarms": [{"days_before": 0}, {"days_before": 400}]},
         "alarms.1.days_before", "less than or equal to 365"),
        ({**MINIMAL, "alarms": [{"days_before": 1, "at": "7:00"}]}, "alarms.0.at", "HH:MM"),
        ({**MINIMAL, "repeat": {"every": 0, "unit": "day"}}, "repeat.every",
         "greater than or equal to 1"),
        ({**MINIMAL, "repeat": {"unit": "day", "from": "x"}}, "repeat.from", "'schedule'"),
        ({**MINIMAL, "price": {"amount": "1", "currency": "ZZZ"}}, "price.currency", "ISO 4217"),
        ({**MINIMAL, "price": {"amount": "1,5", "currency": "EUR"}}, "price.amount", "12.50"),
        ({**MINIMAL, "bound_services": ["ok", 3]}, "bound_services.1", "string"),
        ({**MINIMAL, "due_date": "2027-02-29"}, "due_date", "not a real calendar date"),
        ({**MINIMAL, "due_date": "3000-01-01"}, "due_date", "between 1900-01-01 and 2999-12-31"),
        ({**MINIMAL, "title": "a\nb"}, "title", "one line"),
        ({**MINIMAL, "title": "\ud800"}, "title", "not valid Unicode"),
        ({**MINIMAL, "url": "ftp://x"}, "url", "http://"),
        ({**MINIMAL, "country": "XX"}, "country", "ISO 3166-1"),
    ],
)
def test_field_errors_use_dotted_paths_and_plain_messages(data: dict[str, Any], path: str,
                                                          message: str) -> None:
    errors = errors_of(ItemFields, data)
    assert path in errors, errors
    assert message in errors[path]
    assert not errors[path].startswith("Value error")


def test_field_errors_keep_the_first_message_per_field() -> None:
    errors = errors_of(ItemFields, {**MINIMAL, "title": 5})
    assert list(errors) == ["title"]


@pytest.mark.parametrize(
    "given, expected",
    [
        ([{"days_before": 0}, {"days_before": 14}, {"days_before": 3}],
         [(14, "09:00"), (3, "09:00"), (0, "09:00")]),
        ([{"days_before": 1, "at": "18:00"}, {"days_before": 1, "at": "06:00"}],
         [(1, "06:00"), (1, "18:00")]),
        ([], []),
    ],
)
def test_alarms_are_sorted_furthest_first(given: list[dict[str, Any]],
                                          expected: list[tuple[int, str]]) -> None:
    alarms = ItemFields.model_validate({**MINIMAL, "alarms": given}).alarms
    assert alarms is not None
    assert [(alarm.days_before, alarm.at) for alarm in alarms] == expected


def test_repeat_is_written_with_from_and_read_by_alias_only() -> None:
    repeat = Repeat.model_validate({"unit": "month", "from": "renewal"})
    assert repeat.model_dump(by_alias=True) == {"every": 1, "unit": "month", "from": "renewal"}
    assert "repeat.from_" in errors_of(ItemFields, {**MINIMAL, "repeat": {"unit": "month",
                                                                          "from_": "renewal"}})


@pytest.mark.parametrize("value", ["09:00", "00:00", "23:59"])
def test_alarm_times(value: str) -> None:
    assert Alarm.model_validate({"days_before": 0, "at": value}).at == value


@pytest.mark.parametrize("value", ["24:00", "9:00", "09:60", "09:00\n", "0900", "09:00:00", ""])
def test_bad_alarm_times(value: str) -> None:
    assert "at" in errors_of(Alarm, {"days_before": 0, "at": value})


@pytest.mark.parametrize(
    "field, value, stored",
    [
        ("title", " MTS ", "MTS"),
        ("provider", "  ", None),
        ("provider", "", None),
        ("phone_number", " +852 5123 4567 ", "+852 5123 4567"),
        ("country", "me", "ME"),
        ("url", " https://example.com/x ", "https://example.com/x"),
        ("notes", "a\r\nb\rc\td", "a\nb\nc\td"),
    ],
)
def test_text_is_normalised(field: str, value: Any, stored: Any) -> None:
    fields = ItemFields.model_validate({**MINIMAL, field: value})
    assert getattr(fields, field) == stored


@pytest.mark.parametrize("amount", ["0", "12.50", "12.5", "999999999999.9999", 12, 12.5])
def test_price_amounts(amount: Any) -> None:
    price = ItemFields.model_validate(
        {**MINIMAL, "price": {"amount": amount, "currency": "EUR"}}).price
    assert price is not None
    assert price.amount == str(amount)


def test_me_patch_leaves_out_what_is_not_sent() -> None:
    patch = validate(MePatch, {"locale": "zh-Hans"})
    assert (patch.timezone, patch.locale, patch.default_alarms) == (None, "zh-Hans", None)


@pytest.mark.parametrize("field", ["timezone", "locale", "default_alarms"])
def test_me_patch_refuses_null(field: str) -> None:
    assert field in errors_of(MePatch, {field: None})


@pytest.mark.parametrize("zone", ["UTC", "Europe/Moscow", "Asia/Hong_Kong", "Europe/Podgorica",
                                  "Europe/Monaco", "Asia/Manila"])
def test_known_timezones_include_the_seed_countries(zone: str) -> None:
    assert zone in known_timezones()
    assert validate(MePatch, {"timezone": zone}).timezone == zone


@pytest.mark.parametrize("zone", ["localtime", "Factory", "posixrules", "utc", "Mars/Olympus"])
def test_known_timezones_leave_out_names_that_are_not_places(zone: str) -> None:
    assert zone not in known_timezones()
