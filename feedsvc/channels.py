"""Reminder channels: where reminders go, whether they may go there, and the signed links
that confirm an address or unsubscribe it in one click. Plain functions over a Session.

Links are signed with ``FEEDSVC_SECRET_KEY`` (itsdangerous, which Flask's sessions use too):
a confirmation link names the channel and the address it was sent to, so it confirms that
address only, and lapses after ``CONFIRM_FOR``; an unsubscribe link names the channel and
switches it off (RFC 8058's one-click POST).

A person's channels (list, add, rename, switch, remove) and the history of their deliveries
live here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from feedsvc import digests, mail, mailtext, push
from feedsvc.accounts import check_email
from feedsvc.baseurl import mail_base_url
from feedsvc.errors import Conflict, Gone, NotFound, ValidationFailed
from feedsvc.items import MAX_ID
from feedsvc.models import Channel, Delivery, Item, User
from feedsvc.outbound import AllowList, Refused
from feedsvc.schemas import ChannelFields, ChannelOut, ChannelPatch, validate
from feedsvc.sealed import Unreadable, seal, unseal
from feedsvc.texts import N_

CONFIRM_FOR = dt.timedelta(days=7)
_CONFIRM = "feedsvc confirm address"
_UNSUBSCRIBE = "feedsvc unsubscribe"


def usable(channel: Channel) -> bool:
    """Whether reminders go to the channel: confirmed, switched on and not paused."""
    return channel.verified_at is not None and channel.enabled and channel.paused_at is None


def account_channel(session: Session, user: User) -> Channel | None:
    """The channel of the account's own address."""
    return session.scalar(select(Channel).where(Channel.user_id == user.id,
                                                Channel.account.is_(True)))


def confirm_token(secret_key: str, channel: Channel) -> str:
    """The token of a link that confirms the channel's current address."""
    return URLSafeTimedSerializer(secret_key, salt=_CONFIRM).dumps(
        {"channel": channel.id, "address": channel.target})


def confirm(session: Session, secret_key: str, token: str, now: dt.datetime) -> Channel:
    """Confirm the address a confirmation link was sent to (again: nothing changes)."""
    try:
        found = URLSafeTimedSerializer(secret_key, salt=_CONFIRM).loads(
            token, max_age=int(CONFIRM_FOR.total_seconds()))
    except SignatureExpired:
        raise Gone(N_("This confirmation link has expired. Ask for a new one on the "
                      "Reminders page.")) from None
    except BadSignature:
        raise NotFound(N_("This confirmation link is not valid.")) from None
    channel = session.get(Channel, found.get("channel")) if isinstance(found, dict) else None
    if channel is None or channel.target != found.get("address"):
        raise Gone(N_("This address is no longer one of the account's."))
    if channel.verified_at is None:
        channel.verified_at = now
    return channel


def unsubscribe_token(secret_key: str, channel: Channel) -> str:
    """The token of the one-click link that switches the channel off."""
    return URLSafeTimedSerializer(secret_key, salt=_UNSUBSCRIBE).dumps({"channel": channel.id})


def unsubscribe_target(session: Session, secret_key: str, token: str) -> Channel:
    """The channel an unsubscribe link names, unchanged (what its page shows)."""
    try:
        found = URLSafeTimedSerializer(secret_key, salt=_UNSUBSCRIBE).loads(token)
    except BadSignature:
        raise NotFound(N_("This link is not valid.")) from None
    channel_id = found.get("channel") if isinstance(found, dict) else None
    channel = (session.get(Channel, channel_id)
               if isinstance(channel_id, int) and 0 < channel_id <= MAX_ID else None)
    if channel is None:
        raise Gone(N_("This address no longer receives reminders."))
    return channel


def unsubscribe(session: Session, secret_key: str, token: str) -> Channel:
    """Switch off the channel an unsubscribe link names."""
    channel = unsubscribe_target(session, secret_key, token)
    channel.enabled = False
    return channel


# A person's channels.

# What an account may have: enough for every address a family shares, too few for a list.
MAX_CHANNELS = 20
# The deliveries a history shows, newest first.
RECENT_DELIVERIES = 100
NAME_LENGTH = 100


def is_paused(channel: Channel) -> bool:
    """Whether failed deliveries paused the channel (until it is switched on again)."""
    return channel.paused_at is not None


def channel_out(channel: Channel) -> ChannelOut:
    """A channel as the API (and a person's download) shows it: its address masked."""
    return ChannelOut(
        id=channel.id, kind=channel.kind, name=channel.name,  # type: ignore[arg-type]
        target=channel.target, verified=channel.verified_at is not None,
        enabled=channel.enabled, digest=channel.digest,
        status="paused" if is_paused(channel) else "ok",
        reason=channel.pause_reason if is_paused(channel) else None,
        created_at=channel.created_at)


def list_channels(session: Session, user: User) -> list[Channel]:
    """The user's channels, the account's own address first, then oldest first."""
    return list(session.scalars(select(Channel).where(Channel.user_id == user.id)
                                .order_by(Channel.account.desc(), Channel.id)))


def get_channel(session: Session, user: User, channel_id: int) -> Channel:
    """One of the user's channels; another user's channel is ``NotFound`` like a missing one."""
    channel = None
    if 0 < channel_id <= MAX_ID:
        channel = session.scalar(select(Channel).where(Channel.id == channel_id,
                                                       Channel.user_id == user.id))
    if channel is None:
        raise NotFound(N_("No channel %(id)s."), id=channel_id)
    return channel


def _default_name(address: str) -> str:
    # An address may be longer than a name (254 characters against 100).
    return address if len(address) <= NAME_LENGTH else address[:NAME_LENGTH - 1] + "…"


def _only(fields: ChannelFields, given: str, other: str) -> str:
    """The one of ``address`` and ``url`` the kind takes; naming the other is refused."""
    if getattr(fields, other) is not None:
        raise ValidationFailed(N_("Some fields are not valid: %(names)s."),
                               {other: N_("is not used by this kind of channel")}, names=other)
    value = getattr(fields, given)
    if value is None:
        raise ValidationFailed(N_("Some fields are not valid: %(names)s."),
                               {given: N_("is required")}, names=given)
    return str(value)


def _push_address(session: Session, user: User, url: str, secret_key: str,
                  allow: AllowList) -> tuple[str, str, str]:
    """A push channel's (masked address, sealed URL, service) once checked."""
    try:
        shown = push.read(url.strip(), allow)
    except push.BadAddress as problem:
        raise ValidationFailed(problem.msgid, {"url": N_("is not an accepted address")},
                               **problem.values) from None
    except Refused as problem:
        raise ValidationFailed(problem.reason, {"url": N_("is not a public address")}) from None
    for sealed_url in session.scalars(select(Channel.secret).where(
            Channel.user_id == user.id, Channel.kind == "apprise")):
        try:
            same = unseal(secret_key, sealed_url or "") == url.strip()
        except Unreadable:  # sealed under another key (a restore): not this one
            same = False
        if same:
            raise Conflict(N_("You already have the channel %(address)s."),
                           {"url": N_("is already one of your channels")}, address=shown)
    return shown, seal(secret_key, url.strip()), str(push.service_of(url.strip()))


def _unshared(session: Session, user: User, target: str) -> str:
    """A masked address no other channel of the user is shown as: numbered from 2."""
    shown = set(session.scalars(select(Channel.target).where(
        Channel.user_id == user.id, Channel.kind == "apprise",
        Channel.target.startswith(target, autoescape=True))))
    return next(f"{target} ({number})" for number in range(2, MAX_CHANNELS + 2)
                if f"{target} ({number})" not in shown)


def add_channel(session: Session, user: User, data: Any, now: dt.datetime,
                config: Mapping[str, Any]) -> Channel:
    """Validate and add a channel. An e-mail address starts unconfirmed: its confirmation
    mail comes next (``confirmation_mail``). A push channel's URL is checked now (its
    service, and a host it may reach under ``CHANNEL_ALLOW_HOSTS``) and kept sealed with
    ``SECRET_KEY``. ``Conflict`` when the user already has it."""
    fields: ChannelFields = validate(ChannelFields, data)
    secret = None
    if fields.kind == "apprise":
        target, secret, name = _push_address(session, user, _only(fields, "url", "address"),
                                             str(config["SECRET_KEY"]),
                                             config["CHANNEL_ALLOW_HOSTS"])
    else:
        address = _only(fields, "address", "url")
        try:
            target = name = check_email(address)
        except ValidationFailed as problem:
            raise ValidationFailed(problem.msgid, {"address": problem.fields["email"]}) from None
    taken = session.scalar(select(Channel.id).where(Channel.user_id == user.id,
                                                    Channel.kind == fields.kind,
                                                    Channel.target == target))
    if taken is not None and secret:
        # Another address that is shown the same (or this one, sealed under another key).
        target = _unshared(session, user, target)
    elif taken is not None:
        raise Conflict(N_("You already have the address %(address)s."),
                       {"address": N_("is already one of your addresses")}, address=target)
    count = session.scalar(select(func.count()).select_from(Channel)
                           .where(Channel.user_id == user.id))
    if (count or 0) >= MAX_CHANNELS:
        raise Conflict(N_("You have %(count)s channels, the most an account may have. "
                          "Remove one first."), count=MAX_CHANNELS)
    channel = Channel(user_id=user.id, kind=fields.kind, target=target, secret=secret,
                      name=fields.name or _default_name(name), account=False,
                      # A push service answers the test button at once; nothing to confirm.
                      verified_at=now if secret else None,
                      enabled=fields.enabled, digest=fields.digest, failures=0, created_at=now)
    session.add(channel)
    session.flush()
    return channel


def push_url(secret_key: str, channel: Channel) -> str:
    """A push channel's whole URL, unsealed (``sealed.Unreadable`` under another key)."""
    return unseal(secret_key, channel.secret or "")


def update_channel(session: Session, channel: Channel, changes: Any,
                   now: dt.datetime) -> Channel:
    """Rename or switch a channel, or set its digest time; switching a paused channel on
    resumes it, with its count of failures back at zero."""
    patch: ChannelPatch = validate(ChannelPatch, changes)
    if "digest" in patch.model_fields_set and patch.digest != channel.digest:
        channel.digest = patch.digest
        digests.reschedule(session, channel, now)
    if "name" in patch.model_fields_set:
        channel.name = patch.name
    if "enabled" in patch.model_fields_set:
        if patch.enabled and is_paused(channel):
            channel.paused_at = None
            channel.pause_reason = None
            channel.failures = 0
        channel.enabled = patch.enabled
    session.flush()
    return channel


def check_removable(channel: Channel) -> None:
    """``Conflict`` for the account's own address, which can only be switched off (it is
    where account mail goes)."""
    if channel.account:
        raise Conflict(N_("Your account's own address cannot be removed; switch it off "
                          "instead to stop reminders there."))


def delete_channel(session: Session, channel: Channel) -> None:
    """Remove a channel, with its deliveries; see ``check_removable``."""
    check_removable(channel)
    session.delete(channel)
    session.flush()


def check_testable(channel: Channel) -> None:
    """``Conflict`` unless a test may go to the channel: only a confirmed address gets one."""
    if channel.verified_at is None:
        raise Conflict(N_("%(address)s is not confirmed yet: open the link in the "
                          "confirmation mail first."), address=channel.target)


def list_deliveries(session: Session, user: User, item: Item | None = None,
                    limit: int = RECENT_DELIVERIES) -> list[Delivery]:
    """The user's latest deliveries (of one item, if given), newest first, with their
    channels; the indexes on (user_id, id) and (item_id, due_date) keep it short."""
    query = select(Delivery).where(Delivery.user_id == user.id)
    if item is not None:
        query = query.where(Delivery.item_id == item.id)
    return list(session.scalars(query.options(joinedload(Delivery.channel))
                                .order_by(Delivery.id.desc()).limit(limit)))


def item_titles(session: Session, deliveries: list[Delivery]) -> dict[int, str]:
    """The titles of the items the deliveries are about, by item id."""
    ids = {delivery.item_id for delivery in deliveries if delivery.item_id is not None}
    if not ids:
        return {}
    return {item_id: title for item_id, title in session.execute(
        select(Item.id, Item.title).where(Item.id.in_(ids)))}


# Confirmation mail.

def confirm_url(config: Mapping[str, Any], channel: Channel) -> str:
    """The link that confirms the channel's address; always on ``FEEDSVC_BASE_URL``."""
    return f"{mail_base_url(config)}/confirm/" + confirm_token(str(config["SECRET_KEY"]),
                                                               channel)


def confirmation_mail(config: Mapping[str, Any], channel: Channel, locale: str) -> mail.Mail:
    """The mail that asks the channel's address to confirm itself, in ``locale``; it goes at
    once (``accountmail.send``), not through the reminder sender. Needs an application
    context, in which ``feedsvc.mailtext`` renders it."""
    return mailtext.confirm_address(confirm_url(config, channel), to=channel.target,
                                    locale=locale)
