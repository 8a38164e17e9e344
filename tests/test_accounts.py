"""Accounts and API tokens through the domain module."""

from __future__ import annotations

from feedsvc import accounts
from feedsvc.db import new_session


def test_passwords_are_stored_with_scrypt_in_production(app, monkeypatch):
    monkeypatch.setattr(accounts, "PASSWORD_HASH_METHOD", "scrypt")
    with app.app_context(), new_session(app) as session:
        user = accounts.create_user(session, "hash@example.com", "a long password")
        assert user.password_hash.startswith("scrypt:")
        assert "a long password" not in user.password_hash
        assert accounts.authenticate(session, "HASH@example.com", "a long password") is user


def test_api_tokens_are_stored_only_as_hashes(app, user):
    with app.app_context(), new_session(app) as session:
        stored = [t.token_hash for t in accounts.list_api_tokens(
            session, accounts.user_by_email(session, user["email"]))]
    assert user["token"] not in stored
    assert accounts.hash_token(user["token"]) in stored
