"""Translations of user-visible strings, through Flask-Babel.

Every string the web pages show goes through ``gettext`` / ``ngettext`` (``_`` in templates),
with ``%(name)s`` placeholders. This module is the single import point, so call sites do not
depend on the translation library. The language is the signed-in user's ``locale``; a visitor
gets the ``lang`` cookie set by the language switch, else the best match of Accept-Language.
"""

from __future__ import annotations

import os
from datetime import date, datetime

from babel.dates import get_datetime_format
from flask import Flask, request
from flask_babel import (
    Babel,
    format_date,
    format_time,
    get_locale,
    get_translations,
    gettext,
    lazy_gettext,
    ngettext,
)
from flask_login import current_user
from markupsafe import Markup

from feedsvc.texts import N_

__all__ = [
    "BABEL_LOCALES",
    "LANG_COOKIE",
    "N_",
    "_",
    "format_day",
    "format_timestamp",
    "get_locale",
    "gettext",
    "install",
    "lazy_gettext",
    "ngettext",
    "page_locale",
    "time_element",
]

_ = gettext

# The account's locale codes (BCP 47, as the API speaks them) and Babel's names for them.
BABEL_LOCALES = {"en": "en", "zh-Hans": "zh_Hans"}
LANG_COOKIE = "lang"
TRANSLATIONS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "translations")


def browser_locale() -> str:
    """The language the browser prefers among ours; any Chinese gets Simplified Chinese."""
    match = request.accept_languages.best_match(["en", "zh-Hans", "zh"])
    return "zh-Hans" if match in ("zh", "zh-Hans") else "en"


def page_locale() -> str:
    """The reader's language: the account's, else the switch's cookie, else the browser's."""
    if current_user and current_user.is_authenticated:
        return current_user.user.locale  # type: ignore[no-any-return]
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in BABEL_LOCALES:
        return cookie
    return browser_locale()


def _select_locale() -> str:
    return BABEL_LOCALES.get(page_locale(), "en")


def _select_timezone() -> str | None:
    # Timestamps are shown in the account's zone; a visitor gets Flask-Babel's default (UTC).
    if current_user and current_user.is_authenticated:
        return current_user.user.timezone  # type: ignore[no-any-return]
    return None


def format_day(value: date) -> str:
    """A date in the reader's convention: "Dec 5, 2026" in English, "2026年12月5日" in Chinese.

    Only what is read changes: date inputs, ``<time datetime>``, the API, CSV files and
    calendars keep ISO 8601.
    """
    return format_date(value, "medium")


def format_timestamp(value: datetime) -> str:
    """A moment in the reader's convention and time zone, to the minute.

    "Dec 5, 2026, 3:04 PM" in English, "2026年12月5日 15:04" in Chinese: the locale's
    medium date joined to its short time the way the locale joins them.
    """
    joined = get_datetime_format("medium", locale=get_locale())
    return str(joined).replace("{0}", format_time(value, "short")).replace(
        "{1}", format_date(value, "medium"))


def period_words(every: int, unit: str) -> str:
    """One period of a repeat rule: "3 months", "1 year", "90 days"."""
    if unit == "day":
        return ngettext("%(num)d day", "%(num)d days", every)
    if unit == "week":
        return ngettext("%(num)d week", "%(num)d weeks", every)
    if unit == "month":
        return ngettext("%(num)d month", "%(num)d months", every)
    return ngettext("%(num)d year", "%(num)d years", every)


def time_element(value: date) -> Markup:
    """A date or moment as ``<time>``: ISO 8601 for machines, the reader's convention inside."""
    if isinstance(value, datetime):
        return Markup('<time datetime="{}">{}</time>').format(
            value.isoformat(timespec="seconds"), format_timestamp(value))
    return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), format_day(value))


def html_lang() -> str:
    """The ``lang`` attribute of the page: ``en`` or ``zh-Hans``."""
    return "zh-Hans" if str(get_locale()) == "zh_Hans" else "en"


def _template_gettext(text: str) -> str:
    # Jinja's newstyle gettext fills the placeholders itself, so these only translate.
    return get_translations().gettext(text)  # type: ignore[no-any-return]


def _template_ngettext(singular: str, plural: str, num: int) -> str:
    return get_translations().ngettext(singular, plural, num)  # type: ignore[no-any-return]


def install(app: Flask) -> None:
    """Set up Flask-Babel and give templates ``_``, ``gettext``, ``ngettext`` and ``time``.

    Flask-Login's "please log in" message is translated too, when it is flashed.
    """
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", TRANSLATIONS)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    Babel(app, locale_selector=_select_locale, timezone_selector=_select_timezone)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        _template_gettext, _template_ngettext, newstyle=True)
    app.jinja_env.filters["time"] = time_element
    app.jinja_env.globals["html_lang"] = html_lang
    app.login_manager.localize_callback = gettext  # type: ignore[attr-defined]
