"""The API's data shapes: one set of pydantic models validates input and documents it.

``openapi.py`` builds the OpenAPI document from these same models, so the rules and
their description cannot drift apart. The web form feeds its input through them too.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from feedsvc.errors import ValidationFailed

CATEGORIES = ("sim", "subscription", "domain", "document", "other")
LOCALES = ("en", "zh-Hans")
REPEAT_UNITS = ("day", "week", "month", "year")
STATUSES = ("ok", "due_soon", "overdue", "in_grace", "lapsed")
DEFAULT_ALARMS: list[dict[str, Any]] = [
    {"days_before": 14, "at": "09:00"},
    {"days_before": 3, "at": "09:00"},
    {"days_before": 0, "at": "09:00"},
]
MAX_ALARMS = 10
MAX_BOUND_SERVICES = 50

# Every C0 and C1 control character, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_EXCEPT_NEWLINE_TAB = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]*$")
_AMOUNT = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,4})?$")


class Strict(BaseModel):
    """Base for inputs: exact JSON types, unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)


def _encodable(value: str) -> str:
    # A lone surrogate from JSON ("\ud800") cannot be stored as UTF-8 by any database.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains characters that are not valid Unicode text") from None
    return value


def _one_line(value: str) -> str:
    value = _encodable(value).strip()
    if _CONTROL.search(value):
        raise ValueError("must be one line, without line breaks or control characters")
    return value


def _multi_line(value: str) -> str:
    value = _encodable(value).replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL_EXCEPT_NEWLINE_TAB.search(value):
        raise ValueError("must not contain control characters")
    return value


def _optional_text(value: str | None) -> str | None:
    return value or None


def _parse_date(value: Any) -> Any:
    if isinstance(value, str):
        if not _DATE.match(value):
            raise ValueError("must be a date written YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value} is not a real calendar date") from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


def _time_of_day(value: str) -> str:
    if not _TIME.match(value):
        raise ValueError("must be a time written HH:MM, from 00:00 to 23:59")
    return value


def _phone(value: str) -> str:
    value = value.strip()
    if not value:
        return value
    if not _PHONE.match(value) or sum(c.isdigit() for c in value) < 3:
        raise ValueError("must be a phone number such as +7 912 345 67 89")
    return value


def _country(value: str) -> str:
    code = value.upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError("must be an ISO 3166-1 two-letter country code such as RU or HK")
    return code


def _currency(value: str) -> str:
    code = value.upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError("must be an ISO 4217 currency code such as EUR or HKD")
    return code


def _amount(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be an amount such as \"12.50\"")
    if isinstance(value, (int, float)):
        try:
            value = format(Decimal(str(value)), "f")
        except InvalidOperation:
            raise ValueError("must be an amount such as \"12.50\"") from None
    if not isinstance(value, str) or not _AMOUNT.match(value):
        raise ValueError("must be a non-negative amount such as \"12.50\" (at most 4 decimals)")
    return value


def _url(value: str) -> str:
    value = value.strip()
    if not value:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or _CONTROL.search(value) \
            or " " in value:
        raise ValueError("must be an http:// or https:// address")
    return value


@lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    """IANA zone names known to this machine's zoneinfo."""
    return frozenset(available_timezones())


def _timezone(value: str) -> str:
    if value not in known_timezones():
        raise ValueError("must be an IANA time zone name such as Europe/Moscow or Asia/Shanghai")
    return value


OneLine = Annotated[str, AfterValidator(_one_line)]
Title = Annotated[str, AfterValidator(_one_line), Field(min_length=1, max_length=200)]
OptionalOneLine100 = Annotated[
    Annotated[str, Field(max_length=100), AfterValidator(_one_line)] | None,
    AfterValidator(_optional_text),
]
DateField = Annotated[
    dt.date,
    BeforeValidator(_parse_date),
    PlainSerializer(lambda d: d.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date", "example": "2026-12-31"}),
]
TimeOfDay = Annotated[str, AfterValidator(_time_of_day),
                      Field(json_schema_extra={"pattern": _TIME.pattern, "example": "09:00"})]
Country = Annotated[str, AfterValidator(_country),
                    Field(json_schema_extra={"pattern": "^[A-Za-z]{2}$", "example": "RU"})]
Currency = Annotated[str, AfterValidator(_currency),
                     Field(json_schema_extra={"pattern": "^[A-Za-z]{3}$", "example": "EUR"})]
Amount = Annotated[
    str, BeforeValidator(_amount),
    WithJsonSchema({"type": "string", "pattern": _AMOUNT.pattern, "example": "12.50"}),
]
Timezone = Annotated[str, AfterValidator(_timezone), Field(max_length=64,
                     json_schema_extra={"example": "Asia/Shanghai"})]


class Alarm(Strict):
    """Fire ``days_before`` days before the due date, at ``at`` in the user's time zone."""

    days_before: int = Field(ge=0, le=365)
    at: TimeOfDay = "09:00"


def _distinct_alarms(alarms: list[Alarm] | None) -> list[Alarm] | None:
    if alarms is None:
        return None
    seen = set()
    for alarm in alarms:
        key = (alarm.days_before, alarm.at)
        if key in seen:
            raise ValueError(f"has the same alarm twice ({alarm.days_before} days, {alarm.at})")
        seen.add(key)
    return sorted(alarms, key=lambda a: (-a.days_before, a.at))


AlarmList = Annotated[list[Alarm], Field(max_length=MAX_ALARMS), AfterValidator(_distinct_alarms)]


class Repeat(Strict):
    """How the due date moves on when the item is renewed."""

    every: int = Field(default=1, ge=1, le=1000)
    unit: Literal["day", "week", "month", "year"]
    from_: Literal["schedule", "renewal"] = Field(default="schedule", alias="from")


class Price(Strict):
    amount: Amount
    currency: Currency


class ItemFields(Strict):
    """Every writable field of an item."""

    title: Title
    category: Literal["sim", "subscription", "domain", "document", "other"] = "sim"
    provider: OptionalOneLine100 = None
    phone_number: Annotated[
        Annotated[str, Field(max_length=40), AfterValidator(_phone)] | None,
        AfterValidator(_optional_text),
    ] = None
    country: Country | None = None
    due_date: DateField
    repeat: Repeat | None = None
    grace_days: int | None = Field(default=None, ge=0, le=365)
    alarms: AlarmList | None = None
    price: Price | None = None
    bound_services: Annotated[
        list[Annotated[OneLine, Field(min_length=1, max_length=100)]],
        Field(max_length=MAX_BOUND_SERVICES),
    ] = Field(default_factory=list)
    notes: Annotated[str, AfterValidator(_multi_line), Field(max_length=5000)] = ""
    url: Annotated[
        Annotated[str, Field(max_length=2000), AfterValidator(_url)] | None,
        AfterValidator(_optional_text),
    ] = None
    auto_renew: bool = False
    archived: bool = False

    @model_validator(mode="after")
    def _due_date_in_range(self) -> ItemFields:
        if not dt.date(1900, 1, 1) <= self.due_date <= dt.date(2999, 12, 31):
            raise ValueError("due_date must be between 1900-01-01 and 2999-12-31")
        return self


class ItemOut(BaseModel):
    """An item as the API returns it."""

    id: int
    title: str
    category: str
    provider: str | None
    phone_number: str | None
    country: str | None
    due_date: DateField
    repeat: Repeat | None
    grace_days: int | None
    alarms: list[Alarm] | None
    price: Price | None
    bound_services: list[str]
    notes: str
    url: str | None
    auto_renew: bool
    archived: bool
    status: Literal["ok", "due_soon", "overdue", "in_grace", "lapsed"]
    days_left: int = Field(description="Days from today (user's time zone) to the due date; "
                                       "negative when overdue")
    created_at: dt.datetime
    updated_at: dt.datetime


class ItemList(BaseModel):
    items: list[ItemOut]


class Me(BaseModel):
    email: str
    timezone: str
    locale: Literal["en", "zh-Hans"]
    default_alarms: list[Alarm]


class MePatch(Strict):
    timezone: Timezone | None = None
    locale: Literal["en", "zh-Hans"] | None = None
    default_alarms: AlarmList | None = None


class ErrorBody(BaseModel):
    status: int
    message: str
    fields: dict[str, str] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def field_errors(error: ValidationError) -> dict[str, str]:
    """Per-field messages keyed by dotted path ("alarms.0.days_before")."""
    fields: dict[str, str] = {}
    for problem in error.errors(include_url=False):
        path = ".".join(str(part) for part in problem["loc"]) or "body"
        message = problem["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        if problem["type"] == "extra_forbidden":
            message = "is not a known field"
        elif problem["type"] == "missing":
            message = "is required"
        fields.setdefault(path, message)
    return fields


def validate(model: type[Strict], data: Any) -> Any:
    """Validate input against a model, raising ``ValidationFailed`` naming every bad field."""
    if not isinstance(data, dict):
        raise ValidationFailed("The body must be a JSON object.", {"body": "must be an object"})
    try:
        return model.model_validate(data)
    except ValidationError as error:
        fields = field_errors(error)
        names = ", ".join(sorted(fields))
        raise ValidationFailed(f"Some fields are not valid: {names}.", fields) from None
