"""The marker for messages that people read, usable anywhere (no Flask, no translation here).

Domain code words its messages in English, as the JSON API answers with them, and marks each
with ``N_`` so that ``pybabel extract -k N_`` puts it in the catalog. Values go into
``%(name)s`` placeholders, not into the text, so a message has one msgid whatever its values;
the web pages translate it when they show it (``feedsvc.web.messages.translate``).
"""

from __future__ import annotations


def N_(text: str) -> str:
    """Mark ``text`` for extraction without translating it here (it is translated later)."""
    return text
