"""HTML forms to the API's input shapes, and validation errors back onto form controls.

Form controls are named after the dotted paths that validation errors use
(``alarms.0.days_before``, ``price.currency``), so an error finds its control by name.
Text that cleanly converts (``"30"`` → 30, ``""`` → None) is converted; anything else goes
through as typed, so the domain's validation names the field instead of the form guessing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pycountry
from babel import Locale

from feedsvc.models import Item
from feedsvc.schemas import (
    CATEGORIES,
    MAX_ALARMS,
    ErrorPlace,
    error_place,
    integer_or_text,
)
from feedsvc.web.i18n import BABEL_LOCALES, _, get_locale
from feedsvc.web.messages import translate

Values = dict[str, str]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MIN_ALARM_ROWS = 5
ITEM_CONTROLS = frozenset({
    "title", "category", "provider", "carrier", "phone_number", "country", "due_date",
    "repeat", "repeat.every", "repeat.unit", "repeat.from", "grace_days",
    "alarms", "price", "price.amount", "price.currency", "bound_services", "notes", "url",
    "auto_renew", "archived",
})
SETTINGS_CONTROLS = frozenset({"timezone", "locale", "default_alarms"})
RENEWAL_CONTROLS = frozenset({
    "renewed_on", "periods", "due_date", "amount", "currency", "method", "reference", "note",
})


def has_control_characters(text: str) -> bool:
    """Whether text holds a line break, NUL or another control character."""
    return bool(_CONTROL.search(text))


def checked(form: Mapping[str, str], name: str) -> bool:
    """Whether a checkbox was ticked (an unticked box is not sent at all)."""
    return name in form


@dataclass
class FormInput:
    """What a form became: the API-shaped ``data``, and where each list entry came from."""

    data: dict[str, Any]
    # For each list field, the form row (or textarea line) of each entry in ``data``.
    rows: dict[str, list[int]] = field(default_factory=dict)


def read_alarms(form: Mapping[str, str], prefix: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The filled-in alarm rows (empty rows are skipped) and the row number of each."""
    alarms: list[dict[str, Any]] = []
    rows: list[int] = []
    for row in range(MAX_ALARMS):
        days = form.get(f"{prefix}.{row}.days_before", "")
        at = form.get(f"{prefix}.{row}.at", "").strip()
        if not days.strip() and not at:
            continue
        alarm: dict[str, Any] = {}
        if days.strip():
            alarm["days_before"] = integer_or_text(days)
        if at:
            alarm["at"] = at
        alarms.append(alarm)
        rows.append(row)
    return alarms, rows


def alarm_values(alarms: list[dict[str, Any]] | None, prefix: str) -> Values:
    """Alarm rows as form values."""
    values: Values = {}
    for row, alarm in enumerate(alarms or []):
        values[f"{prefix}.{row}.days_before"] = str(alarm["days_before"])
        values[f"{prefix}.{row}.at"] = str(alarm["at"])
    return values


def alarm_row_count(values: Mapping[str, str], prefix: str) -> int:
    """How many alarm rows to show: at least five, and every row that holds something."""
    used = [row for row in range(MAX_ALARMS)
            if values.get(f"{prefix}.{row}.days_before") or values.get(f"{prefix}.{row}.at")]
    # One spare row after the last one in use.
    return min(MAX_ALARMS, max(MIN_ALARM_ROWS, max(used, default=-1) + 2))


def _optional(text: str) -> str | None:
    text = text.strip()
    return text or None


def item_input(form: Mapping[str, str]) -> FormInput:
    """The item form as the JSON API's item fields."""
    unit = form.get("repeat.unit", "")
    repeat: dict[str, Any] | None = None
    if unit:
        repeat = {"unit": unit, "from": form.get("repeat.from", "schedule")}
        every = integer_or_text(form.get("repeat.every", ""))
        if every is not None:
            repeat["every"] = every
    amount = form.get("price.amount", "").strip()
    currency = form.get("price.currency", "").strip()
    price = {"amount": amount, "currency": currency} if amount or currency else None
    service_lines = [(number, line.strip())
                     for number, line in enumerate(form.get("bound_services", "").splitlines())]
    services = [(number, line) for number, line in service_lines if line]
    data: dict[str, Any] = {
        "title": form.get("title", "").strip(),
        "category": form.get("category", ""),
        "provider": _optional(form.get("provider", "")),
        "carrier": _optional(form.get("carrier", "")),
        "phone_number": _optional(form.get("phone_number", "")),
        "country": _optional(form.get("country", "")),
        "due_date": form.get("due_date", "").strip(),
        "repeat": repeat,
        "grace_days": integer_or_text(form.get("grace_days", "")),
        "price": price,
        "bound_services": [line for _number, line in services],
        "notes": form.get("notes", ""),
        "url": _optional(form.get("url", "")),
        "auto_renew": checked(form, "auto_renew"),
        "archived": checked(form, "archived"),
    }
    rows = {"bound_services": [number for number, _line in services]}
    if checked(form, "use_default_alarms"):
        data["alarms"] = None
    else:
        data["alarms"], rows["alarms"] = read_alarms(form, "alarms")
    return FormInput(data, rows)


def new_item_values() -> Values:
    """The add form's starting values."""
    return {"category": "sim", "repeat.every": "1", "repeat.from": "schedule",
            "use_default_alarms": "on"}


def item_values(item: Item) -> Values:
    """A stored item as form values."""
    values: Values = {
        "title": item.title,
        "category": item.category,
        "provider": item.provider or "",
        "carrier": item.carrier or "",
        "phone_number": item.phone_number or "",
        "country": item.country or "",
        "due_date": item.due_date.isoformat(),
        "repeat.every": str(item.repeat_every or 1),
        "repeat.unit": item.repeat_unit or "",
        "repeat.from": item.repeat_from or "schedule",
        "grace_days": "" if item.grace_days is None else str(item.grace_days),
        "price.amount": item.price_amount or "",
        "price.currency": item.price_currency or "",
        "bound_services": "\n".join(item.bound_services),
        "notes": item.notes,
        "url": item.url or "",
        "version": str(item.version),
        **alarm_values(item.alarms, "alarms"),
    }
    for name, on in (("use_default_alarms", item.alarms is None),
                     ("auto_renew", item.auto_renew), ("archived", item.archived)):
        if on:
            values[name] = "on"
    return values


def renewal_input(form: Mapping[str, str]) -> dict[str, Any]:
    """The renewal form as the API's renewal fields; what is left empty takes its default.

    The one-tap "Renewed" button sends no amount or currency at all, which means "the
    item's usual price"; the detailed form always sends both, so emptying them means
    "nothing paid" and a lone amount takes the item's currency.
    """
    data: dict[str, Any] = {}
    for name in ("renewed_on", "due_date", "method", "reference"):
        text = _optional(form.get(name, ""))
        if text is not None:
            data[name] = text
    periods = integer_or_text(form.get("periods", ""))
    if periods is not None:
        data["periods"] = periods
    if "amount" in form or "currency" in form:
        data["amount"] = _optional(form.get("amount", ""))
        data["currency"] = _optional(form.get("currency", ""))
    # Browsers send CRLF; counting it as one character keeps the length limit honest.
    note = form.get("note", "").replace("\r\n", "\n")
    if note.strip():
        data["note"] = note
    return data


def renewal_values(item: Item, today: dt.date) -> Values:
    """The renewal form's starting values: renewed today, one period, the usual price."""
    return {
        "renewed_on": today.isoformat(),
        "periods": "1",
        "amount": item.price_amount or "",
        "currency": item.price_currency or "",
        "version": str(item.version),
    }


def payment_methods() -> list[str]:
    """Suggestions for how a renewal was paid; any other text is fine too."""
    return [_("card"), _("PayPal"), _("Alipay"), _("WeChat Pay"), _("bank transfer"),
            _("cash"), _("carrier app")]


@dataclass
class FormErrors:
    """Messages for form controls (keyed by control name), and those that fit no control."""

    fields: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)


def _alarm_control(place: ErrorPlace, rows: list[int]) -> str | None:
    """The control of an alarm row's field ("alarms.2.at"), the entry counted among the rows
    that were filled in."""
    if place.entry is not None and place.entry < len(rows) and place.part \
            and "." not in place.part:
        return f"{place.field}.{rows[place.entry]}.{place.part}"
    return None


def form_errors(fields: Mapping[str, str], rows: Mapping[str, list[int]],
                controls: frozenset[str],
                chosen: Mapping[str, list[str]] | None = None) -> FormErrors:
    """Place validation errors (dotted paths of the API input) onto the form's controls.

    ``rows`` gives, for each list field, the form row (or textarea line) of each entry;
    ``chosen``, for each list of ticked choices, the values sent, to name a bad one.
    """
    errors = FormErrors()
    chosen = chosen or {}
    for path, english in fields.items():
        place = error_place(path, english, controls)
        message = translate(place.message)
        control: str | None = path if path in controls else None
        if path == "body":
            control = place.field if place.field in controls else None
        elif place.field in ("alarms", "default_alarms") and path != place.field:
            control = _alarm_control(place, rows.get(place.field, []))
        elif place.field == "bound_services" and place.field in controls \
                and place.entry is not None and not place.part:
            lines = rows.get("bound_services", [])
            number = lines[place.entry] + 1 if place.entry < len(lines) else place.entry + 1
            control = "bound_services"
            message = _("line %(number)d: %(message)s", number=number, message=message)
        elif place.field in chosen and place.entry is not None and not place.part:
            values = chosen[place.field]
            control = place.field
            if place.entry < len(values):
                message = _("“%(value)s”: %(message)s", value=values[place.entry],
                            message=message)
        if control is None:
            errors.general.append(message if path == "body" else f"{path}: {message}")
        else:
            errors.fields.setdefault(control, message)
    return errors


def category_choices() -> list[tuple[str, str]]:
    """The item categories with their labels."""
    labels = {
        "sim": _("SIM card / phone number"),
        "subscription": _("Subscription"),
        "domain": _("Domain name"),
        "document": _("Document (passport, licence…)"),
        "other": _("Other"),
    }
    return [(category, labels[category]) for category in CATEGORIES]


def category_names() -> dict[str, str]:
    """Short category names, for lists."""
    return {"sim": _("SIM"), "subscription": _("Subscription"), "domain": _("Domain"),
            "document": _("Document"), "other": _("Other")}


def repeat_unit_choices() -> list[tuple[str, str]]:
    """The repeat units, with "does not repeat" first."""
    return [("", _("Does not repeat")), ("day", _("days")), ("week", _("weeks")),
            ("month", _("months")), ("year", _("years"))]


def repeat_from_choices() -> list[tuple[str, str]]:
    """Where a repeat counts from."""
    return [("schedule", _("the previous due date")), ("renewal", _("the day it is renewed"))]


def countries() -> list[tuple[str, str]]:
    """ISO 3166-1 countries as (code, name in the reader's language), by name."""
    return _countries(str(get_locale()))


def currencies() -> list[tuple[str, str]]:
    """ISO 4217 currencies as (code, name in the reader's language), by code."""
    return _currencies(str(get_locale()))


# Names from the CLDR data that Babel ships; pycountry's English one where it has none.
@lru_cache(maxsize=len(BABEL_LOCALES))
def _countries(locale: str) -> list[tuple[str, str]]:
    names = Locale.parse(locale).territories
    return sorted(((country.alpha_2, names.get(country.alpha_2, country.name))
                   for country in pycountry.countries), key=lambda pair: pair[1])


@lru_cache(maxsize=len(BABEL_LOCALES))
def _currencies(locale: str) -> list[tuple[str, str]]:
    names = Locale.parse(locale).currencies
    return sorted((currency.alpha_3, names.get(currency.alpha_3, currency.name))
                  for currency in pycountry.currencies)
