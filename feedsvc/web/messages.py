"""The domain's messages, translated for the web pages.

Domain code, Werkzeug and pydantic speak English, which the JSON API answers with. The pages
pass those messages through ``translate``. A message the domain raised comes as its msgid
(marked with ``N_`` where it is raised) with its values. Any other text is looked up in the
catalog as it is, or, when it has values in it, matched against a pattern whose values are
put back into the translated text, dates in the reader's convention (in English too).
Below, ``N_`` marks the texts that are not marked where they are worded: the schemas'
validators', pydantic's and Werkzeug's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from babel.lists import format_list
from flask_babel import get_locale

from feedsvc.web.i18n import N_, format_day, gettext

# Messages without values, exactly as the schemas' validators or pydantic word them: marked
# here for extraction, as the catalog finds them by their English.
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
    N_("is not a known field"),
    N_("is required"),
    N_("Input should be a valid integer"),
    N_("Input should be a valid integer, unable to parse string as an integer"),
    N_("Input should be a valid boolean"),
    N_("Input should be a valid string"),
    N_("Input should be a valid list"),
    N_("Input should be a valid number"),
)

# Messages with values: (pattern over the English text, msgid with the same named values).
PATTERNS = (
    (r"(?P<value>.+) is not a real calendar date", N_("%(value)s is not a real calendar date")),
    (r"must be between (?P<first>\S+) and (?P<last>\S+)",
     N_("must be between %(first)s and %(last)s")),
    (r"has the same alarm twice \((?P<days>\d+) days, (?P<at>[^)]+)\)",
     N_("has the same alarm twice (%(days)s days, %(at)s)")),
    (r"must have at least (?P<count>\d+) characters",
     N_("must have at least %(count)s characters")),
    (r"must have at most (?P<count>\d+) characters", N_("must have at most %(count)s characters")),
    (r"must be after the current due date (?P<date>\S+)",
     N_("must be after the current due date %(date)s")),
    (r"would move the due date past (?P<date>\S+)", N_("would move the due date past %(date)s")),
    (r"String should have at most (?P<count>\d+) characters?",
     N_("must have at most %(count)s characters")),
    (r"String should have at least (?P<count>\d+) characters?",
     N_("must have at least %(count)s characters")),
    (r"Input should be greater than or equal to (?P<limit>\S+)",
     N_("must be at least %(limit)s")),
    (r"Input should be less than or equal to (?P<limit>\S+)", N_("must be at most %(limit)s")),
    (r"Input should be greater than (?P<limit>\S+)", N_("must be more than %(limit)s")),
    (r"Input should be less than (?P<limit>\S+)", N_("must be less than %(limit)s")),
    (r"Input should be (?P<choices>'.+)", N_("must be one of %(choices)s")),
    (r"List should have at most (?P<count>\d+) items?.*",
     N_("must have at most %(count)s entries")),
    (r"List should have at least (?P<count>\d+) items?.*",
     N_("must have at least %(count)s entries")),
)
_COMPILED = tuple((re.compile(pattern + r"\Z"), msgid) for pattern, msgid in PATTERNS)
# The values above that are dates the domain wrote in ISO 8601 ("%(value)s" is what was typed).
DATE_VALUES = frozenset({"date", "first", "last"})
# Werkzeug's descriptions of the HTTP errors a page can meet, word for word (the API answers
# with them as they are).
HTTP_ERRORS = {
    404: N_("The requested URL was not found on the server. If you entered the URL manually "
            "please check your spelling and try again."),
    405: N_("The method is not allowed for the requested URL."),
    413: N_("The data value transmitted exceeds the capacity limit."),
}


def _shown(name: str, value: str) -> str:
    """A value as the reader should see it: a date or a list in their convention, else as is."""
    if name == "choices":  # pydantic's "'a', 'b' or 'c'"
        return format_list(re.findall(r"'[^']*'", value), style="or", locale=get_locale())
    if name not in DATE_VALUES:
        return value
    try:
        return format_day(dt.date.fromisoformat(value))
    except ValueError:
        return value


def translate(message: str, values: Mapping[str, object] | None = None) -> str:
    """The message in the reader's language; an unknown message stays as it is.

    With ``values``, ``message`` is a msgid and they fill its placeholders; a value that is
    a message itself (a field's problem) is translated too.
    """
    if values:
        return gettext(message, **{name: translate(value) if isinstance(value, str) else value
                                   for name, value in values.items()})
    english = str(get_locale()) == "en"
    for pattern, msgid in _COMPILED:
        match = pattern.match(message)
        if match is None:
            continue
        found = match.groupdict()
        if english and not DATE_VALUES & found.keys():
            return message  # English pages keep the wording the API answers with
        return gettext(msgid, **{name: _shown(name, value) for name, value in found.items()})
    return gettext(message)


def translate_fields(fields: dict[str, str]) -> dict[str, str]:
    """Each field's message in the reader's language."""
    return {name: translate(message) for name, message in fields.items()}
