"""Secrets kept in the database (a push channel's bot token, a password in its URL), sealed:
encrypted with Fernet (the ``cryptography`` package: AES-CBC with an HMAC, a fresh IV each
time) under a key derived from ``FEEDSVC_SECRET_KEY``, so that a dump of the database alone
reveals none of them, and a restore beside the same key opens them all.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class Unreadable(ValueError):
    """Sealed under another secret key, or altered."""


@functools.lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"feedsvc sealed secrets").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, text: str) -> str:
    """``text`` sealed: different every time, readable only with the same secret key."""
    return _fernet(secret_key).encrypt(text.encode()).decode("ascii")


def unseal(secret_key: str, sealed: str) -> str:
    """What ``seal`` sealed; ``Unreadable`` for anything else."""
    try:
        return _fernet(secret_key).decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        raise Unreadable from None
