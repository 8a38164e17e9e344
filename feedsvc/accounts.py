"""Accounts, passwords and API tokens: plain functions over a Session."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from feedsvc import reminders, status
from feedsvc.errors import Conflict, NotFound, ValidationFailed
from feedsvc.models import ApiToken, Channel, Feed, RetiredFeedToken, User
from feedsvc.schemas import DEFAULT_ALARMS, LOCALES, known_timezones
from feedsvc.texts import N_, Message

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
API_TOKEN_PREFIX = "fs_"
# scrypt, memory-hard (Werkzeug's default parameters). The test suite swaps in a cheap
# method, as hashing dominates the time of a test that signs up.
PASSWORD_HASH_METHOD = "scrypt"
# A real hash to check against when the e-mail is unknown, so both paths take as long.
_DUMMY_HASH = generate_password_hash("not a password", method=PASSWORD_HASH_METHOD)


def normalise_email(email: str) -> str:
    """E-mail addresses are compared case-insensitively."""
    return email.strip().lower()


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _storable(text: str) -> bool:
    # No database keeps NUL, and no address has a control character or a lone surrogate.
    return not any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in text)


def check_email(email: str) -> str:
    """The normalised address, or ``ValidationFailed`` naming the field."""
    email = normalise_email(email)
    local, _, domain = email.partition("@")
    if (not local or "." not in domain or not _storable(email) or len(email) > 254 or any(c.isspace() for c in email)
            or domain.startswith(".") or domain.endswith(".")):
        raise ValidationFailed(N_("Please give a valid e-mail address."),
                               {"email": N_("must be an e-mail address such as you@example.com")})
    return email


def check_password(password: str) -> None:
    """Refuse passwords that are too short, absurdly long, or not text."""
    if "\x00" in password or not _encodable(password):
        raise ValidationFailed(N_("The password has characters that cannot be used."),
                               {"password": N_("must not contain NUL or invalid characters")})
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(N_("The password is too short."), {"password": Message(N_(
            "must have at least %(count)s characters"), {"count": MIN_PASSWORD_LENGTH})})
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(N_("The password is too long."), {"password": Message(N_(
            "must have at most %(count)s characters"), {"count": MAX_PASSWORD_LENGTH})})


def create_user(
    session: Session,
    email: str,
    password: str,
    timezone: str = "UTC",
    locale: str = "en",
    verified: bool = False,
) -> User:
    """Create an account, with its address as its first reminder channel (confirmed when
    ``verified``: an operator vouching for it); ``Conflict`` when the e-mail is taken."""
    email = check_email(email)
    check_password(password)
    if timezone not in known_timezones():
        raise ValidationFailed(N_("Unknown time zone."),
                               {"timezone": N_("must be an IANA time zone name")})
    if locale not in LOCALES:
        raise ValidationFailed(N_("Unknown language."), {"locale": N_("must be en or zh-Hans")})
    # Hashed first, so a taken address costs as long as a free one: timing tells nothing.
    password_hash = generate_password_hash(password, method=PASSWORD_HASH_METHOD)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(N_("An account with this e-mail already exists."),
                       {"email": N_("is already registered")})
    user = User(
        email=email,
        password_hash=password_hash,
        timezone=timezone,
        locale=locale,
        default_alarms=[dict(alarm) for alarm in DEFAULT_ALARMS],
        session_nonce=secrets.token_hex(16),
    )
    now = status.utc_now()
    user.channels.append(Channel(kind="email", name=email[:100], target=email, account=True,
                                 enabled=True, failures=0, created_at=now,
                                 verified_at=now if verified else None))
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        # Two sign-ups raced for the same address; the unique index decided.
        session.rollback()
        raise Conflict(N_("An account with this e-mail already exists."),
                       {"email": N_("is already registered")}) from None
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user with this e-mail and password, or None."""
    user = None
    if _storable(email):
        user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if not _encodable(password):
        return None  # no stored password can contain a lone surrogate
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    return user


def user_by_email(session: Session, email: str) -> User:
    """The user with this e-mail, or ``NotFound``."""
    user = None
    if _storable(email):
        user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound(N_("No account with the e-mail %(email)s."), email=email)
    return user


def hash_token(token: str) -> str:
    """SHA-256 of a token: high-entropy secrets need no slow hash."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewToken:
    """A token just created: ``secret`` is shown once and never stored."""

    record: ApiToken
    secret: str


def create_api_token(session: Session, user: User, name: str = "API token") -> NewToken:
    """Create a bearer token for the API (256 random bits)."""
    name = name.strip()[:100] or "API token"
    secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(user=user, name=name, token_hash=hash_token(secret), prefix=secret[:10])
    session.add(record)
    session.flush()
    return NewToken(record=record, secret=secret)


def user_for_api_token(session: Session, secret: str) -> User | None:
    """The owner of a live token, or None for an unknown or revoked one."""
    if not secret.startswith(API_TOKEN_PREFIX) or len(secret) > 100:
        return None
    record = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_token(secret),
                               ApiToken.revoked_at.is_(None))
    )
    return None if record is None else record.user


def list_api_tokens(session: Session, user: User) -> list[ApiToken]:
    """The user's tokens that still work, newest first."""
    return list(session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.id.desc())
    ))


def revoke_api_token(session: Session, user: User, token_id: int) -> None:
    """Revoke one of the user's tokens; another user's token is ``NotFound``."""
    record = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id,
                               ApiToken.revoked_at.is_(None))
    )
    if record is None:
        raise NotFound(N_("No such token."))
    record.revoked_at = status.utc_now()


def update_settings(
    session: Session,
    user: User,
    *,
    timezone: str | None = None,
    locale: str | None = None,
    default_alarms: list[dict[str, object]] | None = None,
) -> User:
    """Change the given settings (already validated by ``schemas.MePatch``)."""
    before = (user.timezone, user.locale, user.default_alarms)
    if timezone is not None:
        user.timezone = timezone
    if locale is not None:
        user.locale = locale
    if default_alarms is not None:
        user.default_alarms = default_alarms
    if (user.timezone, user.locale, user.default_alarms) != before:
        user.version += 1
        user.updated_at = status.utc_now()
        if (user.timezone, user.default_alarms) != (before[0], before[2]):
            reminders.replan_user(session, user)
    session.flush()
    return user


def end_other_sessions(user: User) -> None:
    """Give the user a new session nonce: every session signed in before is signed out."""
    user.session_nonce = secrets.token_hex(16)


class WrongPassword(ValidationFailed):
    """The account's current password, asked for again, was not the right one."""


def _check_current_password(user: User, password: str, field: str) -> None:
    if not _encodable(password) or not check_password_hash(user.password_hash, password):
        raise WrongPassword(N_("The password is not correct."), {field: N_("is not correct")})


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """Set a new password after checking the current one; every session is signed out."""
    _check_current_password(user, current, "current_password")
    try:
        check_password(new)
    except ValidationFailed as error:
        raise ValidationFailed(error.msgid, {"new_password": error.fields["password"]},
                               **error.values) from None
    user.password_hash = generate_password_hash(new, method=PASSWORD_HASH_METHOD)
    end_other_sessions(user)
    session.flush()


def delete_account(session: Session, user: User, password: str) -> None:
    """Delete the account and everything in it, once the password is confirmed.

    Its feed URLs are retired first, so calendar apps hear 410 Gone and stop polling
    rather than a 404 that looks like a mistyped address.
    """
    _check_current_password(user, password, "password")
    for token_hash in session.scalars(select(Feed.token_hash).where(Feed.user_id == user.id)):
        session.add(RetiredFeedToken(token_hash=token_hash))
    session.delete(user)
    session.flush()
