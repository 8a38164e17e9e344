"""The domain's messages, translated for the web pages.

Domain code, Werkzeug and pydantic speak English, which the JSON API answers with. The pages
pass those messages through ``translate``. A message the domain raised comes as its msgid
(marked with ``N_`` where it is raised) with its values. A field's problem is a ``Message``
(``feedsvc.texts``), which keeps its msgid and values: pydantic's errors are put into words
from their type and context (``feedsvc.schemas.field_message``), never from their English.
Any other text is looked up in the catalog as it is. Below, ``N_`` marks the texts that are
not marked where they are worded: the schemas' validators' and Werkzeug's.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from pathlib import Path

from babel.lists import format_list
from babel.messages.pofile import read_po
from flask_babel import get_locale

from feedsvc.texts import Choices, Message
from feedsvc.web.i18n import N_, format_day, gettext

# The schemas' validators' messages without values, which pydantic passes on as they are:
# marked here for extraction, as the validators raise them as plain text.
FIXED = (
    N_("contains characters that are not valid Unicode text"),
    N_("must be one line, without line breaks or control characters"),
    N_("must not be empty"),
    N_("must not contain control characters"),
    N_("must be a date written YYYY-MM-DD"),
    N_("must be a time written HH:MM, from 00:00 to 23:59"),
    N_("must be a phone number such as +7 912 345 67 89"),
    N_("must be an ISO 3166-1 two-letter country code such as RU or HK"),
    N_("must be an ISO 4217 currency code such as EUR or HKD"),
    N_("must be an amount such as \"12.50\""),
    N_("must be a non-negative amount such as \"12.50\" (at most 4 decimals)"),
    N_("must be an http:// or https:// address"),
    N_("must be an IANA time zone name such as Europe/Moscow or Asia/Shanghai"),
    N_("must be the id of a carrier preset (GET /api/v1/carriers)"),
)
# Werkzeug's descriptions of the HTTP errors a page can meet, word for word (the API answers
# with them as they are).
HTTP_ERRORS = {
    404: N_("The requested URL was not found on the server. If you entered the URL manually "
            "please check your spelling and try again."),
    405: N_("The method is not allowed for the requested URL."),
    413: N_("The data value transmitted exceeds the capacity limit."),
}


def _shown(value: object, english: bool) -> object:
    """A value as the reader should see it: a date in their convention (in English too), a
    list of choices as their language lists them (English keeps the API's), else as is."""
    if isinstance(value, dt.date):
        return format_day(value)
    if isinstance(value, Choices) and value.choices and not english:
        return format_list(list(value.choices), style="or", locale=get_locale())
    return value


def translate(message: str, values: Mapping[str, object] | None = None) -> str:
    """The message in the reader's language; an unknown message stays as it is.

    With ``values``, ``message`` is a msgid and they fill its placeholders; a value that is
    a message itself (a field's problem) is translated too.
    """
    if values:
        return gettext(message, **{name: translate(value) if isinstance(value, str) else value
                                   for name, value in values.items()})
    if isinstance(message, Message):
        english = str(get_locale()) == "en"
        said = gettext(message.msgid, **{name: _shown(value, english)
                                         for name, value in message.values.items()})
        return said + message.detail if english else said
    return gettext(message)


_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# A message whose words around its values are this short could be read into anything.
_LEAST_WORDS = 12


@functools.cache
def _worded() -> list[tuple[re.Pattern[str], str]]:
    """Every message of the catalog that has values, as a pattern reading them back, the
    most specific first."""
    catalog = Path(__file__).parent.parent / "translations/zh_Hans/LC_MESSAGES/messages.po"
    with catalog.open("rb") as po:
        msgids = [message.id for message in read_po(po) if isinstance(message.id, str)
                  and _PLACEHOLDER.search(message.id) and ")d" not in message.id]
    found = []
    for msgid in msgids:
        words = _PLACEHOLDER.split(msgid)[::2]
        if len("".join(words)) < _LEAST_WORDS:
            continue
        pattern, names = "", set()
        for index, part in enumerate(_PLACEHOLDER.split(msgid)):
            if index % 2 == 0:
                pattern += re.escape(part)
            else:
                pattern += f"(?P={part})" if part in names else f"(?P<{part}>.+?)"
                names.add(part)
        found.append((re.compile(pattern + r"\Z", re.DOTALL), msgid))
    return sorted(found, key=lambda entry: -len(entry[1]))


def translate_stored(text: str) -> str:
    """A message that was stored with its values filled in (a delivery's error, why a
    channel paused), in the reader's language: read back into its msgid and values."""
    said = gettext(text)
    if said != text or str(get_locale()) == "en":
        return said
    for pattern, msgid in _worded():
        found = pattern.match(text)
        if found:
            return gettext(msgid, **found.groupdict())
    return text


def translate_fields(fields: dict[str, str]) -> dict[str, str]:
    """Each field's message in the reader's language."""
    return {name: translate(message) for name, message in fields.items()}
