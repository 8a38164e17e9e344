"""The API's data shapes: one set of pydantic models validates input and documents it.

``openapi.py`` builds the OpenAPI document from these same models, so the rules and
their description cannot drift apart. The web form feeds its input through them too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any, Literal, get_args
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
)
from pydantic_core import ErrorDetails

from feedsvc.errors import ValidationFailed
from feedsvc.texts import DEFAULT_FEED_NAME, N_, Choices, Message

Category = Literal["sim", "subscription", "domain", "document", "other"]
Locale = Literal["en", "zh-Hans"]
CATEGORIES: tuple[Category, ...] = get_args(Category)
LOCALES: tuple[Locale, ...] = get_args(Locale)
DEFAULT_ALARMS: list[dict[str, Any]] = [
    {"days_before": 14, "at": "09:00"},
    {"days_before": 3, "at": "09:00"},
    {"days_before": 0, "at": "09:00"},
]
MAX_ALARMS = 10
FIRST_DATE = dt.date(1900, 1, 1)
LAST_DATE = dt.date(2999, 12, 31)
MAX_BOUND_SERVICES = 50

# Every C0 and C1 control character, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_EXCEPT_NEWLINE_TAB = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
# Used with ``fullmatch``: ``$`` alone would let a trailing "\n" through.
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]*$")
_AMOUNT = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,4})?$")
# Short enough that int() never meets Python's limit on digits; longer text stays text.
_INTEGER = re.compile(r"[+-]?[0-9]{1,12}")


class Strict(BaseModel):
    """Base for inputs: exact JSON types, unknown fields refused."""

    # Aliased fields ("from") are accepted by their alias only, never by their Python name.
    model_config = ConfigDict(strict=True, extra="forbid")


def _encodable(value: str) -> str:
    # A lone surrogate from JSON ("\ud800") cannot be stored as UTF-8 by any database.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains characters that are not valid Unicode text") from None
    return value


def _one_line(value: str) -> str:
    # Checked before stripping: a trailing line break is refused, not quietly removed.
    if _CONTROL.search(_encodable(value)):
        raise ValueError("must be one line, without line breaks or control characters")
    return value.strip()


def _filled_line(value: str) -> str:
    value = _one_line(value)
    if not value:
        raise ValueError("must not be empty")
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
        if not _DATE.fullmatch(value):
            raise ValueError("must be a date written YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(Message(N_("%(value)s is not a real calendar date"),
                                     {"value": value})) from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    raise ValueError("must be a date written YYYY-MM-DD")


def _date_in_range(value: dt.date) -> dt.date:
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ValueError(Message(N_("must be between %(first)s and %(last)s"),
                                 {"first": FIRST_DATE, "last": LAST_DATE}))
    return value


def _time_of_day(value: str) -> str:
    if not _TIME.fullmatch(value):
        raise ValueError("must be a time written HH:MM, from 00:00 to 23:59")
    return value


def _phone(value: str) -> str:
    value = value.strip()
    if not value:
        return value
    if not _PHONE.fullmatch(value) or sum(c.isdigit() for c in value) < 3:
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
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise ValueError("must be a non-negative amount such as \"12.50\" (at most 4 decimals)")
    return value


def _url(value: str) -> str:
    value = _encodable(value).strip()
    if not value:
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError:
        raise ValueError("must be an http:// or https:// address") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or _CONTROL.search(value) \
            or " " in value:
        raise ValueError("must be an http:// or https:// address")
    return value


@lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    """IANA zone names known to this machine's zoneinfo."""
    # "localtime" is this machine's own setting and "Factory" means "no zone set": neither
    # names a place, and "localtime" would change meaning on another server.
    return frozenset(available_timezones()) - {"localtime", "Factory", "posixrules"}


def _timezone(value: str) -> str:
    if value not in known_timezones():
        raise ValueError("must be an IANA time zone name such as Europe/Moscow or Asia/Shanghai")
    return value


# Length limits come first, so their messages speak of characters; emptiness is checked
# after trimming spaces.
Title = Annotated[str, Field(max_length=200), AfterValidator(_filled_line)]
OptionalOneLine100 = Annotated[
    Annotated[str, Field(max_length=100), AfterValidator(_one_line)] | None,
    AfterValidator(_optional_text),
]
DateField = Annotated[
    dt.date,
    BeforeValidator(_parse_date),
    AfterValidator(_date_in_range),
    PlainSerializer(lambda d: d.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date", "example": "2026-12-31"}),
]
# Output only: a stored date is shown as it is, even one outside the range input allows.
StoredDate = Annotated[
    dt.date,
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
            raise ValueError(Message(N_("has the same alarm twice (%(days)s days, %(at)s)"),
                                     {"days": alarm.days_before, "at": alarm.at}))
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


def _carrier(value: str) -> str:
    # Imported here: the presets' own models are built from this module's types.
    from feedsvc import presets

    if presets.get(value) is None:
        raise ValueError("must be the id of a carrier preset (GET /api/v1/carriers)")
    return value


class ItemFields(Strict):
    """Every writable field of an item."""

    title: Title
    category: Category = "sim"
    provider: OptionalOneLine100 = None
    carrier: Annotated[str, AfterValidator(_carrier)] | None = Field(
        default=None, description="The carrier preset the item follows (GET /api/v1/carriers)",
        json_schema_extra={"example": "giffgaff"})
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
        list[Annotated[str, Field(max_length=100), AfterValidator(_filled_line)]],
        Field(max_length=MAX_BOUND_SERVICES),
    ] = Field(default_factory=list)
    notes: Annotated[str, Field(max_length=5000), AfterValidator(_multi_line)] = ""
    url: Annotated[
        Annotated[str, Field(max_length=2000), AfterValidator(_url)] | None,
        AfterValidator(_optional_text),
    ] = None
    auto_renew: bool = False
    archived: bool = False


class ItemOut(BaseModel):
    """An item as the API returns it."""

    id: int
    title: str
    category: str
    provider: str | None
    carrier: str | None = Field(description="The carrier preset the item follows")
    phone_number: str | None
    country: str | None
    due_date: StoredDate
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
    locale: Locale
    default_alarms: list[Alarm]


_NOT_SENT: Any = None


def _without_defaults(schema: dict[str, Any]) -> None:
    for field in schema.get("properties", {}).values():
        field.pop("default", None)


class MePatch(Strict):
    """Any of the user's settings: those left out keep their value; null is refused."""

    # The None defaults only mark "not sent": they are kept out of the documented schema,
    # and an explicit null is refused by the field's type.
    model_config = ConfigDict(json_schema_extra=_without_defaults)

    timezone: Timezone = _NOT_SENT
    locale: Locale = _NOT_SENT
    default_alarms: AlarmList = _NOT_SENT


class ErrorBody(BaseModel):
    status: int
    message: str
    fields: dict[str, str] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


# pydantic's errors in words, by their type: msgids with the names of the error's ``ctx``
# values, worded as pydantic words them (the API has always answered with that English), but
# for the three that read better in our words.
PYDANTIC_MESSAGES = {
    "missing": N_("is required"),
    "extra_forbidden": N_("is not a known field"),
    "string_unicode": N_("contains characters that are not valid Unicode text"),
    "string_type": N_("Input should be a valid string"),
    "int_type": N_("Input should be a valid integer"),
    "int_parsing": N_("Input should be a valid integer, unable to parse string as an integer"),
    "float_type": N_("Input should be a valid number"),
    "bool_type": N_("Input should be a valid boolean"),
    "list_type": N_("Input should be a valid list"),
    "literal_error": N_("Input should be %(expected)s"),
    "greater_than": N_("Input should be greater than %(gt)s"),
    "greater_than_equal": N_("Input should be greater than or equal to %(ge)s"),
    "less_than": N_("Input should be less than %(lt)s"),
    "less_than_equal": N_("Input should be less than or equal to %(le)s"),
}
# Those whose English counts: (the count's name in ``ctx``, msgid for 1, msgid for more).
PYDANTIC_COUNTS = {
    "string_too_short": ("min_length", N_("String should have at least %(min_length)s character"),
                         N_("String should have at least %(min_length)s characters")),
    "string_too_long": ("max_length", N_("String should have at most %(max_length)s character"),
                        N_("String should have at most %(max_length)s characters")),
    "too_short": ("min_length", N_("List should have at least %(min_length)s item"),
                  N_("List should have at least %(min_length)s items")),
    "too_long": ("max_length", N_("List should have at most %(max_length)s item"),
                 N_("List should have at most %(max_length)s items")),
}
_QUOTED = re.compile(r"'[^']*'")


def _counted(kind: str, ctx: dict[str, Any]) -> Message | None:
    name, one, more = PYDANTIC_COUNTS[kind]
    if kind in ("string_too_short", "string_too_long"):
        return Message(one if ctx[name] == 1 else more, {name: ctx[name]})
    if ctx.get("field_type") != "List" or ctx.get("actual_length") is None:
        return None
    # pydantic tells the length it found, which the pages have never shown: English only.
    return Message(one if ctx[name] == 1 else more, {name: ctx[name]},
                   detail=f" after validation, not {ctx['actual_length']}")


def field_message(problem: ErrorDetails) -> Message:
    """A field's problem in words, from pydantic's error ``type`` and ``ctx``.

    A validator's ``ValueError`` carries its message: a msgid (marked in
    ``feedsvc.web.messages.FIXED``), or a ``Message`` when it has values. An error type not
    worded above keeps pydantic's English, which the pages show as it is.
    """
    kind, ctx = problem["type"], dict(problem.get("ctx") or {})
    if kind == "value_error" and isinstance(ctx.get("error"), ValueError) and ctx["error"].args:
        reason = ctx["error"].args[0]
        return reason if isinstance(reason, Message) else Message(str(reason))
    if kind in PYDANTIC_COUNTS and PYDANTIC_COUNTS[kind][0] in ctx:
        counted = _counted(kind, ctx)
        if counted is not None:
            return counted
    if kind in PYDANTIC_MESSAGES:
        if isinstance(ctx.get("expected"), str):  # "'a', 'b' or 'c'": a page lists them its way
            ctx["expected"] = Choices(ctx["expected"], _QUOTED.findall(ctx["expected"]))
        try:
            return Message(PYDANTIC_MESSAGES[kind], ctx)
        except KeyError:  # a value the wording needs is missing from ctx
            pass
    return Message(problem["msg"])


def field_errors(error: ValidationError) -> dict[str, str]:
    """Per-field messages keyed by dotted path ("alarms.0.days_before"): ``Message``s."""
    fields: dict[str, str] = {}
    for problem in error.errors(include_url=False):
        path = ".".join(str(part) for part in problem["loc"]) or "body"
        fields.setdefault(path, field_message(problem))
    return fields


def validate(model: type[Strict], data: Any) -> Any:
    """Validate input against a model, raising ``ValidationFailed`` naming every bad field."""
    if not isinstance(data, dict):
        raise ValidationFailed(N_("The body must be a JSON object."),
                               {"body": N_("must be an object")})
    try:
        return model.model_validate(data)
    except ValidationError as error:
        fields = field_errors(error)
        names = ", ".join(sorted(fields))
        raise ValidationFailed(N_("Some fields are not valid: %(names)s."), fields,
                               names=names) from None


# Input typed as text (the web forms, a CSV file) and its errors placed back on it.

def integer_or_text(text: str) -> int | str | None:
    """``None`` for blank text, an int for a whole number, otherwise the text as typed: the
    models take exact types, so text that is no number is left for them to name the field."""
    text = text.strip()
    if not text:
        return None
    return int(text) if _INTEGER.fullmatch(text) else text


@dataclass(frozen=True)
class ErrorPlace:
    """Where in the input a validation error belongs, and its message (see ``error_place``)."""

    field: str
    entry: int | None
    part: str
    message: str


def error_place(path: str, message: str, fields: Collection[str]) -> ErrorPlace:
    """Where the error at a dotted path belongs: its top-level field, the list entry and the
    part inside it ("alarms.2.at" → "alarms", 2, "at"; "repeat.every" → "repeat", None, "every").

    A check across fields ("body") names its field first ("due_date must be between …"): when
    that word is one of ``fields``, the error belongs there, with the rest as its message.
    """
    if path == "body":
        first, _space, rest = message.partition(" ")
        if first in fields and rest:
            return ErrorPlace(first, None, "", rest)
        return ErrorPlace(path, None, "", message)
    field, _dot, rest = path.partition(".")
    entry, _dot, part = rest.partition(".")
    if entry.isdecimal():
        return ErrorPlace(field, int(entry), part, message)
    return ErrorPlace(field, None, rest, message)


class FeedFields(Strict):
    """The writable settings of a feed."""

    name: Annotated[str, Field(max_length=100), AfterValidator(_filled_line)] = (
        DEFAULT_FEED_NAME)
    categories: Annotated[list[Category], Field(min_length=1, max_length=len(CATEGORIES))] | None \
        = Field(default=None, description="Only items of these categories; null for all")
    reminder_events: bool = Field(default=False, description="Add an all-day lead event per "
                                  "alarm, for calendars that ignore alarms (Google)")
    show_numbers: bool = Field(default=False, description="Show phone numbers in full instead "
                               "of only their last four digits")
    action_links: bool = Field(default=True, description="Put an \"I renewed it\" link in "
                               "each due event's description")


class FeedOut(BaseModel):
    """A feed as the API returns it, with its secret URLs."""

    id: int
    name: str
    categories: list[Category] | None
    reminder_events: bool
    show_numbers: bool
    # A default only for what builds FeedOut without it; the API always sets it.
    action_links: bool
    url: str
    webcal_url: str
    google_url: str
    created_at: dt.datetime
    updated_at: dt.datetime


class FeedList(BaseModel):
    feeds: list[FeedOut]


class RenewalFields(Strict):
    """What the user says when marking an item renewed; every field is optional."""

    renewed_on: DateField | None = Field(default=None, description="Default: today in the "
                                         "user's time zone")
    periods: int = Field(default=1, ge=1, le=120, description="How many periods were paid "
                         "(a year of a monthly plan is 12)")
    due_date: DateField | None = Field(default=None, description="The new due date; required "
                                       "for an item without a repeat rule")
    amount: Amount | None = Field(default=None, description="Default: the item's price")
    currency: Currency | None = None
    method: OptionalOneLine100 = None
    reference: Annotated[
        Annotated[str, Field(max_length=200), AfterValidator(_one_line)] | None,
        AfterValidator(_optional_text),
    ] = None
    note: Annotated[str, Field(max_length=2000), AfterValidator(_multi_line)] = ""


class RenewalOut(BaseModel):
    """A recorded renewal, with the due dates around it."""

    id: int
    item_id: int
    renewed_on: StoredDate
    periods: int
    amount: str | None
    currency: str | None
    method: str | None
    reference: str | None
    note: str
    due_before: StoredDate
    due_after: StoredDate
    created_at: dt.datetime


class RenewalList(BaseModel):
    renewals: list[RenewalOut]


class RenewalCreated(BaseModel):
    renewal: RenewalOut
    item: ItemOut


# Reminder channels and their deliveries (REMINDERS.md).

ChannelName = Annotated[str, Field(max_length=100), AfterValidator(_filled_line)]
_DIGEST = ("\"HH:MM\": at most one message a day at that local time, listing every reminder "
           "that came due since the last one; null: each reminder at once")


class ChannelFields(Strict):
    """A new channel: an e-mail address (``address``), which gets nothing but a confirmation
    link until that link is opened, or a push or chat service's Apprise URL (``url``), which
    is checked at once and then shown masked."""

    kind: Literal["email", "apprise"] = Field(
        description="\"email\" with an address, or \"apprise\" with a url")
    address: Annotated[str, Field(max_length=254,
                                  json_schema_extra={"example": "me@example.com"})] | None = None
    url: Annotated[str, Field(max_length=2000, json_schema_extra={
        "example": "ntfys://ntfy.sh/my-renewals-7Qx2"})] | None = Field(
        default=None, description="An Apprise URL of ntfy, Telegram, Gotify, Pushover, "
                                  "Discord, Bark, ServerChan, PushPlus or a JSON webhook")
    name: ChannelName | None = Field(default=None, description="A label; default: the address")
    enabled: bool = True
    digest: TimeOfDay | None = Field(default=None, description=_DIGEST)


class ChannelPatch(Strict):
    """A channel's label, switch or digest time: those left out keep their value; null is
    refused, except for the digest, where it means each reminder at once."""

    model_config = ConfigDict(json_schema_extra=_without_defaults)

    name: ChannelName = _NOT_SENT
    enabled: bool = Field(default=_NOT_SENT, description="true also resumes a paused channel")
    digest: TimeOfDay | None = Field(default=_NOT_SENT, description=_DIGEST)


class ChannelOut(BaseModel):
    """A channel as the API returns it."""

    id: int
    kind: Literal["email", "apprise"]
    name: str
    target: str = Field(description="The address reminders go to; an Apprise URL with every "
                                    "secret part masked")
    verified: bool = Field(description="Whether the address was confirmed by the link sent "
                                       "to it (nothing else goes there before); push channels "
                                       "are checked when added")
    enabled: bool
    digest: str | None = Field(description=_DIGEST)
    status: Literal["ok", "paused"] = Field(description="paused after 5 failed deliveries in "
                                                        "a row, until switched on again")
    reason: str | None = Field(description="Why the channel is paused")
    created_at: dt.datetime


class ChannelList(BaseModel):
    channels: list[ChannelOut]


class ConfirmationOut(BaseModel):
    """Whether the confirmation mail left when the channel was added."""

    sent: bool
    error: str | None = Field(description="Why it could not be sent now")


class ChannelCreated(ChannelOut):
    """A new channel, and how its confirmation mail went (null for a push channel)."""

    confirmation: ConfirmationOut | None


class DeliveryOut(BaseModel):
    """One reminder sent, or tried, on one channel."""

    id: int
    channel_id: int
    item_id: int | None = Field(description="null for a test message")
    kind: Literal["alarm", "overdue", "last_day", "snoozed", "test"]
    due_date: StoredDate | None = Field(description="The cycle it is about; null for a test")
    planned_at: dt.datetime = Field(description="When it was due")
    sent_at: dt.datetime | None
    status: Literal["waiting", "sending", "sent", "retrying", "failed", "skipped"] = Field(
        description="waiting: held for the channel's digest")
    error: str | None


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]


class DeliveryResult(BaseModel):
    delivery: DeliveryOut
