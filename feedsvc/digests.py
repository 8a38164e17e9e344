"""Digests: a channel with ``digest`` "HH:MM" gets at most one message a day, at that local
time, listing every reminder that came due since its last one.

A reminder for such a channel is claimed like any other (one delivery row, once however many
senders run) but ``waiting``, with ``next_attempt_at`` at the first digest time after its
moment. At that time a pass takes the day's digest on by moving the channel's
``digest_day`` forward (a conditional update: of several senders, one wins the day) and, in
the same transaction, claims every waiting delivery of the channel; the sender then sends
them as one message. Waiting deliveries that find the day taken move to the next day's time.

Times are local, in the account's zone: a digest at a time a DST change skips comes an hour
later on the clock that day, one at a time it repeats comes the first time.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from feedsvc.models import Channel, Delivery, User

WAITING = "waiting"


def _at(day: dt.date, digest: str, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(digest), tzinfo=zone).astimezone(
        dt.UTC)


def next_time(digest: str, timezone: str, after: dt.datetime) -> dt.datetime:
    """The first digest time at or after ``after`` (UTC)."""
    zone = ZoneInfo(timezone)
    day = after.astimezone(zone).date()
    for offset in range(3):  # the same day, or the next (two when a DST change is near)
        at = _at(day + dt.timedelta(days=offset), digest, zone)
        if at >= after:
            return at
    raise AssertionError("a digest time comes every day")


def last_time(digest: str, timezone: str, now: dt.datetime) -> tuple[dt.date, dt.datetime]:
    """The latest digest time at or before ``now``: its local day, and the instant."""
    zone = ZoneInfo(timezone)
    day = now.astimezone(zone).date()
    for offset in range(3):
        at = _at(day - dt.timedelta(days=offset), digest, zone)
        if at <= now:
            return day - dt.timedelta(days=offset), at
    raise AssertionError("a digest time comes every day")


def _waiting_due(channel_id: int, now: dt.datetime) -> ColumnElement[bool]:
    return and_(Delivery.channel_id == channel_id, Delivery.status == WAITING,
                Delivery.next_attempt_at <= now)


def claim(session: Session, now: dt.datetime, claim_id: str,
          lease_until: dt.datetime) -> list[int]:
    """Take on the digests due at ``now``: the ids of the waiting deliveries claimed. A
    channel whose digest was switched off since gets its waiting deliveries claimed too, to
    go one by one."""
    # In order: senders lock channels in the same order, so they never wait on each other.
    channel_ids = list(session.scalars(select(Delivery.channel_id).distinct().where(
        Delivery.status == WAITING, Delivery.next_attempt_at <= now)
        .order_by(Delivery.channel_id)))
    claimed: list[int] = []
    for channel_id in channel_ids:
        row = session.execute(select(Channel.digest, User.timezone).join(User).where(
            Channel.id == channel_id)).first()
        if row is None:
            continue
        digest, timezone = row
        if digest is not None:
            day, at = last_time(digest, timezone, now)
            if day != now.astimezone(ZoneInfo(timezone)).date():
                # Before today's time: what missed an earlier day's digest goes in today's,
                # not in a second message today.
                session.execute(update(Delivery).where(_waiting_due(channel_id, now)).values(
                    next_attempt_at=next_time(digest, timezone, now))
                    .execution_options(synchronize_session=False))
                continue
            taken = session.execute(
                update(Channel).where(Channel.id == channel_id, or_(
                    Channel.digest_day.is_(None), Channel.digest_day < day))
                .values(digest_day=day).execution_options(synchronize_session=False))
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                # Today's digest has gone: these wait for tomorrow's.
                session.execute(update(Delivery).where(_waiting_due(channel_id, now)).values(
                    next_attempt_at=next_time(digest, timezone, at + dt.timedelta(minutes=1)))
                    .execution_options(synchronize_session=False))
                continue
        claimed.extend(session.scalars(
            update(Delivery).where(_waiting_due(channel_id, now))
            .values(status="sending", claimed_by=claim_id, lease_until=lease_until)
            .returning(Delivery.id).execution_options(synchronize_session=False)))
    return claimed


def reschedule(session: Session, channel: Channel, now: dt.datetime) -> None:
    """After the channel's digest time changed: what waits goes at the new time, or on the
    next pass when there is no digest any more."""
    when = (now if channel.digest is None
            else next_time(channel.digest, channel.user.timezone, now))
    session.execute(update(Delivery).where(Delivery.channel_id == channel.id,
                                           Delivery.status == WAITING)
                    .values(next_attempt_at=when).execution_options(synchronize_session=False))


def give_up_from(channel: Channel, timezone: str, since: dt.datetime) -> dt.datetime:
    """When a reminder that came due at ``since`` was first meant to go on the channel: at
    once, or at the digest that took it on (the channel's latest, if it is that late: what
    waits may have been moved to a later day), else at the next digest time."""
    if channel.digest is None:
        return since
    if channel.digest_day is not None:
        taken = _at(channel.digest_day, channel.digest, ZoneInfo(timezone))
        if taken >= since:
            return taken
    return next_time(channel.digest, timezone, since)
