"""Account mail: the welcome, password-reset and address-change mails, sent at once, and the
signed links they carry. Plain functions over a Session, with Flask's app context only for
the mails' words (``feedsvc.mailtext``) and the configuration.

Account mail is not queued for the sender: it is posted while the page waits, through the
same postman as reminders (``feedsvc.mail``; the outbox folder without a relay). A failure
to post is logged (recipient and subject only: the links carry tokens) and handed back for
the page to mention; it never breaks the page. Every link comes from ``mail_base_url``,
never from a request's ``Host``.

Links are signed with ``FEEDSVC_SECRET_KEY`` (itsdangerous, on the caller's clock):

- a password-reset link names the account and a digest of its password hash and address,
  so it works once (setting a password changes the hash) and dies when the address
  changes; it lapses after ``RESET_FOR``;
- an address-change link names the account, the new address and the address it had when
  the change was asked for, so it applies to that state of the account only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from typing import Any

from flask import current_app
from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from feedsvc import accounts, channels, mail, mailtext, status
from feedsvc.baseurl import mail_base_url
from feedsvc.errors import Conflict, Gone, NotFound
from feedsvc.items import MAX_ID
from feedsvc.models import Channel, User
from feedsvc.texts import N_

log = logging.getLogger(__name__)

RESET_FOR = dt.timedelta(hours=1)
# As long as a confirmation link of a reminder channel.
CHANGE_FOR = channels.CONFIRM_FOR
_RESET = "feedsvc reset password"
_CHANGE = "feedsvc change account address"
_RESET_TAG = b"feedsvc reset password tag"


# ---- sending -------------------------------------------------------------------------------

def send(letter: mail.Mail) -> mail.MailError | None:
    """Post one mail now (to the outbox without a relay); the failure, if any, logged and
    returned rather than raised."""
    settings = mail.mail_settings(current_app.config)
    message = mail.build_message(letter, settings, status.utc_now())
    try:
        with mail.postman(settings, mail.outbox_path(current_app.instance_path)) as post:
            post.send(message)
    except mail.MailError as failure:
        log.warning("account mail to %s not sent (%s): %s", letter.to, letter.subject,
                    failure.reason)
        return failure
    return None


def reach_relay() -> mail.MailError | None:
    """Greet the relay and leave, as a send begins: for a request that mails nobody but must
    take as long, and meet the same outage, as one that does."""
    settings = mail.mail_settings(current_app.config)
    if settings.relay is None:
        return None
    post = mail.SmtpPost(settings, settings.relay, mail.TIMEOUT, None)
    try:
        post._connection()  # the postman's own way in; there is nothing to send
    except mail.MailError as failure:
        log.warning("mail relay not reached: %s", failure.reason)
        return failure
    finally:
        post.close()
    return None


def _config() -> tuple[str, str]:
    """The secret key and the origin of links in mails."""
    return str(current_app.config["SECRET_KEY"]), mail_base_url(current_app.config)


def welcome_mail(session: Session, user: User) -> mail.Mail | None:
    """The welcome mail with the link that confirms the account's address (None for an
    account without an address channel, which only data written past the app lacks)."""
    channel = channels.account_channel(session, user)
    if channel is None:
        log.error("account %s has no address channel: no welcome mail", user.id)
        return None
    return mailtext.welcome(channels.confirm_url(current_app.config, channel),
                            to=channel.target, locale=user.locale)


def send_welcome(session: Session, user: User) -> mail.MailError | None:
    """Send the welcome mail now."""
    letter = welcome_mail(session, user)
    return None if letter is None else send(letter)


def confirmed(session: Session, user: User) -> bool:
    """Whether the account's address is confirmed: only then does anything but a
    confirmation go there."""
    channel = channels.account_channel(session, user)
    return channel is not None and channel.verified_at is not None and \
        channel.target == user.email


def send_to_owner(session: Session, email: str) -> mail.MailError | None:
    """Someone signed up with ``email``, which has an account: tell its owner, with links to
    log in and to reset the password, or, while the address is unconfirmed, welcome it
    again (an unconfirmed address gets nothing but confirmations)."""
    owner = session.scalar(select(User).where(User.email == accounts.normalise_email(email)))
    if owner is None:  # deleted since the sign-up found it
        return reach_relay()
    if not confirmed(session, owner):
        return send_welcome(session, owner)
    secret_key, base = _config()
    token = reset_token(secret_key, owner, status.utc_now())
    return send(mailtext.signup_attempt(f"{base}/login", f"{base}/password/reset/{token}",
                                        to=owner.email, locale=owner.locale))


def send_password_reset(session: Session, email: str) -> mail.MailError | None:
    """Mail a reset link to ``email`` (normalised) if a confirmed account has it.

    Whoever asks learns nothing of the account: each path does one password hash (as
    log-in does) and one exchange with the relay, and only the relay's outage, which is the
    same for every address, is handed back.
    """
    user = session.scalar(select(User).where(User.email == email))
    check_password_hash(user.password_hash if user else accounts._DUMMY_HASH, email)
    if user is None or not confirmed(session, user):
        failure = reach_relay()
    else:
        secret_key, base = _config()
        token = reset_token(secret_key, user, status.utc_now())
        failure = send(mailtext.password_reset(f"{base}/password/reset/{token}",
                                               to=user.email, locale=user.locale))
    return failure if isinstance(failure, mail.RelayUnavailable) else None


def send_address_change(user: User, new_address: str) -> mail.MailError | None:
    """Mail the link that makes ``new_address`` the account's address, to that address."""
    secret_key, base = _config()
    token = change_token(secret_key, user, new_address, status.utc_now())
    return send(mailtext.confirm_address(f"{base}/settings/email/{token}", to=new_address,
                                         locale=user.locale))


# ---- signed links --------------------------------------------------------------------------

def _serializer(secret_key: str, salt: str, now: dt.datetime) -> URLSafeTimedSerializer:
    """itsdangerous's timed serializer, on the caller's clock for signing and for ages."""

    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(now.timestamp())

    return URLSafeTimedSerializer(secret_key, salt=salt, signer=Signer)


def _read(secret_key: str, salt: str, token: str, now: dt.datetime, valid_for: dt.timedelta,
          expired: str) -> dict[str, Any]:
    """The payload of a link, or ``NotFound`` (not one of ours) / ``Gone`` (``expired``)."""
    try:
        found = _serializer(secret_key, salt, now).loads(
            token, max_age=int(valid_for.total_seconds()))
    except SignatureExpired:
        raise Gone(expired) from None
    except BadData:
        found = None
    # Only this app signs them, but a payload is checked before it reaches a query.
    if not isinstance(found, dict) or type(found.get("user")) is not int or \
            not 0 < found["user"] <= MAX_ID:
        raise NotFound(N_("This link is not valid. Check that it was copied in full."))
    return found


def _reset_tag(secret_key: str, user: User) -> str:
    """A digest of the password hash and the address: it changes when either does."""
    key = hashlib.sha256(_RESET_TAG + secret_key.encode()).digest()
    return hmac.new(key, f"{user.password_hash}\n{user.email}".encode(), "sha256").hexdigest()


def reset_token(secret_key: str, user: User, now: dt.datetime) -> str:
    """The token of a link that sets the account's password once, within ``RESET_FOR``."""
    return _serializer(secret_key, _RESET, now).dumps(
        {"user": user.id, "tag": _reset_tag(secret_key, user)[:32]})


def user_to_reset(session: Session, secret_key: str, token: str, now: dt.datetime,
                  lock: bool = False) -> User:
    """The account a reset link is for while it still works; with ``lock`` its row stays
    locked until the transaction ends, so two uses at once set one password."""
    found = _read(secret_key, _RESET, token, now, RESET_FOR,
                  N_("This link has expired: a link to reset a password works for 1 hour. "
                     "Ask for a new one."))
    user = session.get(User, found["user"], with_for_update=lock)
    tag = found.get("tag")
    if user is None or not isinstance(tag, str) or not hmac.compare_digest(
            tag, _reset_tag(secret_key, user)[:32]):
        raise Gone(N_("This link no longer works: it was already used, or the account's "
                      "password or address has changed since. Ask for a new one if you still "
                      "need it."))
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Set a new password (``accounts.check_password``'s rules) and sign out every session."""
    accounts.check_password(password)
    user.password_hash = generate_password_hash(password, method=accounts.PASSWORD_HASH_METHOD)
    accounts.end_other_sessions(user)
    session.flush()


def change_token(secret_key: str, user: User, new_address: str, now: dt.datetime) -> str:
    """The token of a link that makes ``new_address`` the account's address."""
    return _serializer(secret_key, _CHANGE, now).dumps(
        {"user": user.id, "to": new_address, "from": user.email})


def _taken(address: str) -> Conflict:
    return Conflict(N_("%(email)s is now the address of another account, so it cannot become "
                       "this account's address."), email=address)


def change_address(session: Session, secret_key: str, token: str, now: dt.datetime) -> User:
    """Make the address an address-change link was sent to the account's address, confirmed,
    and its address channel's target. Opened again, it changes nothing."""
    found = _read(secret_key, _CHANGE, token, now, CHANGE_FOR,
                  N_("This link has expired. Ask for a new one on the Settings page."))
    new, old = found.get("to"), found.get("from")
    if not isinstance(new, str) or not isinstance(old, str):
        raise NotFound(N_("This link is not valid. Check that it was copied in full."))
    user = session.get(User, found["user"], with_for_update=True)
    if user is None:
        raise Gone(N_("This link no longer works: its account was deleted."))
    if user.email == new:
        return user
    if user.email != old:
        raise Gone(N_("This link no longer works: the account's address has changed since it "
                      "was sent."))
    if session.scalar(select(User.id).where(User.email == new)) is not None:
        raise _taken(new)
    channel = channels.account_channel(session, user)
    # Another reminder channel of the account with the new address would now repeat the
    # address channel: it gives way.
    for duplicate in session.scalars(select(Channel).where(
            Channel.user_id == user.id, Channel.kind == "email", Channel.target == new,
            Channel.account.is_(False))):
        session.delete(duplicate)
    session.flush()
    if channel is None:
        channel = Channel(kind="email", name=new, target=new, account=True, enabled=True,
                          failures=0, created_at=now)
        user.channels.append(channel)
    if channel.name == old:
        channel.name = new
    # A new address starts afresh: a pause was about the old one.
    channel.target, channel.verified_at = new, now
    channel.failures, channel.paused_at, channel.pause_reason = 0, None, None
    user.email = new
    try:
        session.flush()
    except IntegrityError:
        # Another account took the address between the check and now.
        session.rollback()
        raise _taken(new) from None
    return user
