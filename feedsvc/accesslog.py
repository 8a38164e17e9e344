"""Gunicorn's access log with secrets masked: feed URL tokens and bearer tokens never land in logs."""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

_FEED_TOKEN = re.compile(r"(/feeds/)[^/?#\s\"]+")
_BEARER = re.compile(r"(?i)(bearer\s+)\S+")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:token|key|secret)=)[^&\s\"]+")


def mask(text: str) -> str:
    """Replace every secret in a logged string by a placeholder."""
    text = _FEED_TOKEN.sub(r"\1[masked]", text)
    text = _BEARER.sub(r"\1[masked]", text)
    return _QUERY_SECRET.sub(r"\1[masked]", text)


class MaskedLogger(Logger):
    """A gunicorn logger whose access-log fields pass through ``mask``."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: mask(value) if isinstance(value, str) else value
                for key, value in atoms.items()}
