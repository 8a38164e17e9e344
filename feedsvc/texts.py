"""Messages that people read, usable anywhere (no Flask): the marker for msgids, messages
that keep their msgid, the one name that is stored in English but shown in the reader's
language, and the catalog for code that speaks a language without a request (calendars).

Domain code words its messages in English, as the JSON API answers with them, and marks each
with ``N_`` so that ``pybabel extract -k N_`` puts it in the catalog. Values go into
``%(name)s`` placeholders, not into the text, so a message has one msgid whatever its values;
the web pages translate it when they show it (``feedsvc.web.messages.translate``). A message
that travels as text, such as a field's problem, is a ``Message``: its English, which keeps
its msgid and values.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def N_(text: str) -> str:
    """Mark ``text`` for extraction without translating it here (it is translated later)."""
    return text


# The name every account's first calendar is stored under: the API's default name for a new
# calendar, and the name pages and feeds recognise to show it in the reader's language.
DEFAULT_FEED_NAME = N_("All renewals")


class Message(str):
    """A message in English, as the API answers with it, that keeps its msgid and values.

    It is that English text, so it goes wherever a message goes (JSON, comparisons, logs);
    a page translates ``msgid`` and fills in ``values``. ``detail`` is English the
    translations leave out (pydantic's count of what it found).
    """

    msgid: str
    values: Mapping[str, object]
    detail: str

    def __new__(cls, msgid: str, values: Mapping[str, object] | None = None,
                detail: str = "") -> Self:
        values = dict(values or {})
        message = super().__new__(cls, (msgid % values if values else msgid) + detail)
        message.msgid, message.values, message.detail = msgid, values, detail
        return message


class Choices(str):
    """A list of choices in English ("'a', 'b' or 'c'"), each kept for a page to list its way."""

    choices: tuple[str, ...]

    def __new__(cls, listed: str, choices: Sequence[str]) -> Self:
        value = super().__new__(cls, listed)
        value.choices = tuple(choices)
        return value


@functools.cache
def translations(locale: str) -> NullTranslations:
    """The catalog of an account's language ("en", "zh-Hans"), read once per process.

    English, and a language without a catalog, get the msgids themselves.
    """
    return Translations.load(str(TRANSLATIONS), [locale.replace("-", "_")])


@functools.cache
def catalog_digest() -> str:
    """A digest of the compiled catalogs: whatever caches translated text keys on it too."""
    digest = hashlib.sha256()
    for path in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/*.mo")):
        digest.update(f"{path.relative_to(TRANSLATIONS).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
