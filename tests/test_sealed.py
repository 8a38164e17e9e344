"""Secrets at rest (``feedsvc.sealed``): unreadable without the secret key, and unalterable."""

from __future__ import annotations

import base64

import pytest

from feedsvc.sealed import Unreadable, seal, unseal

KEY = "k" * 43
SECRETS = ["tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654321",
           "ntfys://alice:pa55w0rd@ntfy.example.org/renewals", "密码 and ☃", ""]


@pytest.mark.parametrize("secret", SECRETS)
def test_a_sealed_secret_opens_with_the_same_key_only(secret: str) -> None:
    sealed = seal(KEY, secret)
    assert unseal(KEY, sealed) == secret
    with pytest.raises(Unreadable):
        unseal("another key entirely, of the same length!", sealed)


@pytest.mark.parametrize("secret", SECRETS[:2])
def test_a_sealed_secret_shows_nothing_of_itself(secret: str) -> None:
    first, second = seal(KEY, secret), seal(KEY, secret)
    assert first != second, "a fresh IV every time: equal secrets do not look equal"
    for part in ("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "pa55w0rd", "123456789", "alice"):
        assert part not in first and part.encode() not in base64.urlsafe_b64decode(first)


@pytest.mark.parametrize("sealed", ["", "not sealed", "gAAAAA", seal(KEY, "x")[:-2] + "AA",
                                    seal(KEY, "x").swapcase(), "ünïcode"])
def test_anything_else_is_unreadable(sealed: str) -> None:
    with pytest.raises(Unreadable):
        unseal(KEY, sealed)
