"""Marking user-visible strings for translation.

Every string the web pages show goes through ``gettext`` / ``ngettext`` (``_`` in templates),
with ``%(name)s`` placeholders, the convention Flask-Babel follows. Until translations
exist these return the English text; Flask-Babel's functions can then take their place
without touching the call sites.
"""

from __future__ import annotations

from flask import Flask


def gettext(text: str, **variables: object) -> str:
    """The text in the user's language (English for now), with ``variables`` filled in."""
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: object) -> str:
    """``singular`` or ``plural`` depending on ``num``, which is also available as ``%(num)d``."""
    variables.setdefault("num", num)
    return (singular if num == 1 else plural) % variables


_ = gettext


def install(app: Flask) -> None:
    """Give templates ``_``, ``gettext`` and ``ngettext``, unless a translation library did."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    if "gettext" not in app.jinja_env.globals:
        app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
            lambda text: text, lambda singular, plural, num: singular if num == 1 else plural,
            newstyle=True,
        )
