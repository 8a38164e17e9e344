"""Reading a Wallos export (its "Export as JSON") into the import's rows and problems.

The result has the CSV import's shape (``feedsvc.imports.ImportResult``): each subscription
becomes the API's item input, checked with the API's own rules, and nothing is usable while
any subscription has a problem. Problems name the subscription by its place in the file (1 is
the first) and the field by the export's own key ("Next Payment").

The format, as read in Wallos's repository (github.com/ellite/Wallos) and its forks:

- ``endpoints/subscriptions/export.php`` answers ``{"success": true, "subscriptions": [...]}``;
  ``scripts/profile.js`` (``exportAsJson``) saves only the list as ``subscriptions.json``;
  older versions (``exportToJson`` in ``scripts/settings.js``) opened the endpoint itself, so
  the whole answer was saved. Both are read. Each subscription is an object of text (or
  null): "Name", "Payment Cycle", "Next Payment" (``YYYY-MM-DD``), "Renewal" ("Automatic"/
  "Manual"), "Category", "Payment Method", "Paid By", "Price" (the currency's *symbol*
  followed by the amount, "€9.99"), "Notes", "URL", "State" ("Enabled"/"Disabled"),
  "Notifications", "Cancellation Date", "Active" ("Yes"/"No").
  Older exports have no "Payment Cycle" or "Renewal", the oldest no "Active" either and
  "Categpry" for "Category" (export.php at ellite/Wallos 8cb9295); other keys are ignored. The
  export replaces every comma of a name, category, payment method or note with a space.
- "Payment Cycle" is the cycle (the ``cycles`` table of ``endpoints/cronjobs/
  createdatabase.php``: 1 Daily, 2 Weekly, 3 Monthly, 4 Yearly; newer versions add 5,
  One-time) with the frequency (1-366, ``includes/getdbkeys.php``): "Monthly" for 1, else
  "Every 3 Months" (export.php as in the forks thorstenhornung1/Wallos, Ved120-cmd/Wallos and
  KanameMadoka520/Wallos-Remastered), or through ``getBillingCycle`` of
  ``includes/list_subscriptions.php`` (export.php in ilyannn/Wallos): "3 months", in the
  account's language ("每月", "3 月" in ``includes/i18n/zh_cn.php`` and ``zh_tw.php``).
- Currencies: ``registration.php`` (and ``createdatabase.php``) give each account the table
  of symbols below; a symbol can be edited, and an added currency starts as "$"
  (``endpoints/currency/add.php``).
- Names, notes and URLs are stored HTML-escaped (``validate`` in
  ``includes/inputvalidation.php``, used by ``endpoints/subscription/add.php``), and a URL
  without a scheme is opened as https (``includes/list_subscriptions.php``).

The mapping:

- Name → title; Next Payment → due_date; every item is a ``subscription``.
- Payment Cycle → repeat ``{every: frequency, unit, from: "schedule"}`` (Wallos moves the next
  payment by whole cycles); "One-time", or no Payment Cycle at all (older exports), → no repeat.
- Price → price: the amount, with the currency its symbol stands for. A symbol that several
  of Wallos's currencies share ("$", "¥", "kr") needs the reader to say which one
  (``currencies``); a symbol written as an ISO 4217 code ("CHF") is that currency; any other
  symbol, or none, is a problem of the row rather than a guess.
- Notes → notes, followed by what feedsvc has no field for: the Wallos category (feedsvc's
  categories are fixed), the payment method and the cancellation date, one line each, worded
  in ``locale``'s language.
- URL → url; Renewal → auto_renew; a disabled subscription (State "Disabled" or Active "No")
  is imported archived, so it stays on record but leaves every feed and reminder.
- Paid By and Notifications are left out: the items use the account's default alarms.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pycountry

from feedsvc.errors import ValidationFailed
from feedsvc.imports import (
    MAX_BYTES,
    MAX_ROWS,
    ImportProblem,
    ImportResult,
    text_size,
    too_large,
)
from feedsvc.schemas import ItemFields, error_place, validate
from feedsvc.texts import N_, translations

NAME, CYCLE, NEXT_PAYMENT, RENEWAL = "Name", "Payment Cycle", "Next Payment", "Renewal"
CATEGORY, PAYMENT_METHOD, PRICE, NOTES = "Category", "Payment Method", "Price", "Notes"
URL, STATE, ACTIVE, CANCELLATION = "URL", "State", "Active", "Cancellation Date"
# The oldest exports misspelt the key.
_OLD_CATEGORY = "Categpry"

# Each account's currencies as Wallos creates them (registration.php; the Hryvnia from
# createdatabase.php), as (symbol, ISO 4217 code).
DEFAULT_CURRENCIES = (
    ("€", "EUR"), ("$", "USD"), ("¥", "JPY"), ("лв", "BGN"), ("Kč", "CZK"), ("kr", "DKK"),
    ("£", "GBP"), ("Ft", "HUF"), ("zł", "PLN"), ("lei", "RON"), ("kr", "SEK"), ("Fr", "CHF"),
    ("kr", "ISK"), ("kr", "NOK"), ("₽", "RUB"), ("₺", "TRY"), ("$", "AUD"), ("R$", "BRL"),
    ("$", "CAD"), ("¥", "CNY"), ("HK$", "HKD"), ("Rp", "IDR"), ("₪", "ILS"), ("₹", "INR"),
    ("₩", "KRW"), ("Mex$", "MXN"), ("RM", "MYR"), ("NZ$", "NZD"), ("₱", "PHP"), ("S$", "SGD"),
    ("฿", "THB"), ("R", "ZAR"), ("₴", "UAH"),
)


def _by_symbol() -> dict[str, tuple[str, ...]]:
    codes: dict[str, list[str]] = {}
    for symbol, code in DEFAULT_CURRENCIES:
        codes.setdefault(symbol, []).append(code)
    return {symbol: tuple(sorted(found)) for symbol, found in codes.items()}


# Symbol → the codes it may stand for; the shared ones need the reader's choice.
SYMBOLS = _by_symbol()
SHARED_SYMBOLS = {symbol: codes for symbol, codes in SYMBOLS.items() if len(codes) > 1}

# Payment cycles as Wallos words them, in English and Chinese (casefolded).
_UNITS = {
    "day": "day", "days": "day", "天": "day", "日": "day",
    "week": "week", "weeks": "week", "周": "week", "週": "week",
    "month": "month", "months": "month", "月": "month",
    "year": "year", "years": "year", "年": "year",
}
_ONCE = {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year",
         "每日": "day", "每周": "week", "每週": "week", "每月": "month", "每年": "year"}
_ONE_TIME = {"one-time", "买断", "買斷"}
_EVERY = re.compile(r"(?:every\s+)?([0-9]{1,6})\s*(\S+)")
# Wallos writes the symbol, then PHP's text for the amount (no thousands separator).
_PRICE = re.compile(r"(.*?)([0-9]{1,15}(?:\.[0-9]+)?)")
_SCHEME = re.compile(r"https?://", re.IGNORECASE)
# The category every account starts with, which says nothing worth keeping.
_NO_CATEGORY = {"no category", "无分类", "未分類"}
# Where a problem the item's rules find belongs in the export.
_KEY_OF_FIELD = {"title": NAME, "due_date": NEXT_PAYMENT, "repeat": CYCLE, "price": PRICE,
                 "notes": NOTES, "url": URL, "auto_renew": RENEWAL, "archived": STATE}


def is_export(data: bytes) -> bool:
    """Whether an uploaded file is JSON (a Wallos export) rather than CSV, by its first sign."""
    return data.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:1] in (b"[", b"{")


def _text(entry: Mapping[str, Any], key: str, problems: list[ImportProblem]) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(ImportProblem(0, key, N_("must be text")))
        return ""
    return html.unescape(value).strip()


def _repeat(cycle: str, problems: list[ImportProblem]) -> dict[str, Any] | None:
    words = cycle.casefold()
    if not words or words in _ONE_TIME:
        return None
    if words in _ONCE:
        return {"every": 1, "unit": _ONCE[words], "from": "schedule"}
    found = _EVERY.fullmatch(words)
    if found and found.group(2) in _UNITS:
        return {"every": int(found.group(1)), "unit": _UNITS[found.group(2)], "from": "schedule"}
    problems.append(ImportProblem(0, CYCLE, N_(
        "is not a payment cycle this import can read, such as Monthly or Every 3 Months")))
    return None


def _currency(symbol: str, chosen: Mapping[str, str],
              problems: list[ImportProblem]) -> str | None:
    # NFKC reads a full-width "￥" or "＄" as the sign it stands for.
    symbol = unicodedata.normalize("NFKC", symbol).strip()
    if not symbol:
        problems.append(ImportProblem(0, PRICE, N_("has no currency symbol before the amount")))
        return None
    if symbol in SHARED_SYMBOLS:
        if chosen.get(symbol) in SHARED_SYMBOLS[symbol]:
            return chosen[symbol]
        problems.append(ImportProblem(0, PRICE, N_(
            "“%(symbol)s” is the symbol of several currencies (%(codes)s): choose which one "
            "under “Currency symbols” and check the file again"),
            {"symbol": symbol, "codes": ", ".join(SHARED_SYMBOLS[symbol])}))
        return None
    if symbol in SYMBOLS:
        return SYMBOLS[symbol][0]
    if len(symbol) == 3 and pycountry.currencies.get(alpha_3=symbol.upper()) is not None:
        return symbol.upper()
    problems.append(ImportProblem(0, PRICE, N_(
        "“%(symbol)s” is not a currency symbol this import knows: write the currency's code "
        "in its place, such as EUR9.99"), {"symbol": symbol}))
    return None


def _price(price: str, chosen: Mapping[str, str],
           problems: list[ImportProblem]) -> dict[str, str] | None:
    if not price:
        return None
    found = _PRICE.fullmatch(price)
    if found is None:
        problems.append(ImportProblem(0, PRICE, N_("is not a price such as €9.99")))
        return None
    currency = _currency(found.group(1), chosen, problems)
    if currency is None:
        return None
    amount = found.group(2)
    if len(amount.partition(".")[2]) < 2:
        # PHP drops a float's trailing zeros ("9.9" for 9.90): the cents are written back.
        amount = format(Decimal(amount).quantize(Decimal("0.01")), "f")
    return {"amount": amount, "currency": currency}


def _flag(entry: Mapping[str, Any], key: str, yes: str, no: str, message: str,
          problems: list[ImportProblem]) -> bool | None:
    value = _text(entry, key, problems)
    if not value:
        return None
    if value.casefold() in (yes.casefold(), no.casefold()):
        return value.casefold() == yes.casefold()
    problems.append(ImportProblem(0, key, message))
    return None


def subscription_input(entry: Mapping[str, Any], currencies: Mapping[str, str],
                       locale: str) -> tuple[dict[str, Any], list[ImportProblem]]:
    """One subscription of the export as API item input, and the values it cannot read."""
    problems: list[ImportProblem] = []
    data: dict[str, Any] = {"title": _text(entry, NAME, problems), "category": "subscription",
                            "due_date": _text(entry, NEXT_PAYMENT, problems)}
    repeat = _repeat(_text(entry, CYCLE, problems), problems)
    if repeat:
        data["repeat"] = repeat
    price = _price(_text(entry, PRICE, problems), currencies, problems)
    if price:
        data["price"] = price
    say = translations(locale).gettext
    category = _text(entry, CATEGORY if CATEGORY in entry else _OLD_CATEGORY, problems)
    method = _text(entry, PAYMENT_METHOD, problems)
    cancellation = _text(entry, CANCELLATION, problems)
    extra = [
        say(N_("Wallos category: %(name)s")) % {"name": category}
        if category and category.casefold() not in _NO_CATEGORY else "",
        say(N_("Payment method: %(name)s")) % {"name": method} if method else "",
        say(N_("Cancellation date: %(date)s")) % {"date": cancellation} if cancellation else "",
    ]
    notes = "\n\n".join(part for part in (
        _text(entry, NOTES, problems), "\n".join(line for line in extra if line)) if part)
    if notes:
        data["notes"] = notes
    url = _text(entry, URL, problems)
    if url:
        data["url"] = url if _SCHEME.match(url) else "https://" + url
    if _flag(entry, RENEWAL, "Automatic", "Manual", N_("must be Automatic or Manual"),
             problems):
        data["auto_renew"] = True
    disabled = (_flag(entry, STATE, "Disabled", "Enabled", N_("must be Enabled or Disabled"),
                      problems),
                _flag(entry, ACTIVE, "No", "Yes", N_("must be Yes or No"), problems))
    if any(disabled):
        data["archived"] = True
    return data, problems


def _whole(result: ImportResult, message: str, values: dict[str, Any] | None = None) -> None:
    result.problems.append(ImportProblem(0, "", message, values or {}))


def _subscriptions(text: str, result: ImportResult) -> list[Any] | None:
    """The list of subscriptions the text holds, or ``None`` with the problem noted."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested beyond the stack
        _whole(result, N_("The file is not a readable JSON file."))
        return None
    if isinstance(document, dict) and document.get("success") is not False:
        document = document.get("subscriptions")
    if not isinstance(document, list):
        _whole(result, N_("The file is not a Wallos export: it holds no list of subscriptions."))
        return None
    if not document:
        _whole(result, N_("The file has no subscriptions."))
        return None
    if len(document) > MAX_ROWS:
        _whole(result, N_("The file has %(count)d subscriptions; at most %(max)d can be "
                          "imported at once."), {"count": len(document), "max": MAX_ROWS})
        return None
    return document


def parse(data: bytes, currencies: Mapping[str, str] | None = None,
          locale: str = "en") -> ImportResult:
    """Read and validate a whole Wallos export; its rows are usable only when no problem is
    found. ``currencies`` says which code each shared symbol stands for ("$" → "USD");
    ``locale`` is the language of the lines added to the notes."""
    result = ImportResult(source="wallos")
    if len(data) > MAX_BYTES:
        result.problems.append(too_large())
        return result
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        _whole(result, N_("The file is not a readable JSON file."))
        return result
    if text_size(text) > MAX_BYTES:  # as the confirm step will post it back
        result.problems.append(too_large())
        return result
    subscriptions = _subscriptions(text, result)
    for number, entry in enumerate(subscriptions or [], start=1):
        if not isinstance(entry, dict):
            result.problems.append(ImportProblem(number, "", N_("is not a subscription")))
            continue
        item, problems = subscription_input(entry, currencies or {}, locale)
        result.problems.extend(ImportProblem(number, p.field, p.message, p.values)
                               for p in problems)
        try:
            validate(ItemFields, item)
        except ValidationFailed as error:
            for path, message in (error.fields or {}).items():
                place = error_place(path, message, _KEY_OF_FIELD)
                result.problems.append(ImportProblem(
                    number, _KEY_OF_FIELD.get(place.field, ""), place.message))
        result.rows.append((number, item))
    if result.problems:
        result.rows = []
    return result
