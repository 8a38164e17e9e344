"""Gunicorn's access log with secrets masked: the tokens in feed, action, confirmation,
password-reset and unsubscribe links, and bearer tokens, never land in logs."""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger, SafeAtoms


def _spelled_any_way(text: str) -> str:
    """A pattern for ``text`` with each character written plain or percent-encoded, the
    way a client may write a path that the server decodes before routing it."""
    return "".join(f"(?:{re.escape(char)}|%{ord(char):02x})" for char in text)


# The paths whose next segment is a secret (feedsvc.web.feed, web.act, web.account,
# web.reminders), however the request line spells them.
SECRET_PATHS = ("/feeds/", "/act/", "/confirm/", "/password/reset/", "/unsubscribe/",
                "/settings/email/")
_PATH_TOKEN = re.compile("(?i)(" + "|".join(_spelled_any_way(path) for path in SECRET_PATHS)
                         + r")[^/?#\s\"]+")
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")
# Also at the start of a bare query string (the ``q`` field).
_QUERY_SECRET = re.compile(r"(?i)((?:^|[?&])(?:token|key|secret)=)[^&\s\"]+")


def mask(text: str) -> str:
    """Replace every secret in a logged string by a placeholder."""
    text = _PATH_TOKEN.sub(r"\1[masked]", text)
    text = _BEARER.sub(r"\1[masked]", text)
    return _QUERY_SECRET.sub(r"\1[masked]", text)


class MaskedAtoms(SafeAtoms):
    """Gunicorn's access-log fields, each masked as the log format reads it.

    The fields hold every request header, response header and WSGI environ entry; a format
    uses a handful. Masking on read masks whatever a format asks for, at the cost of those
    few (masking them all took about a twentieth of a feed build's time).
    """

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        return mask(value) if isinstance(value, str) else value


class MaskedLogger(Logger):
    """A gunicorn logger whose access-log fields pass through ``mask``."""

    atoms_wrapper_class = MaskedAtoms
