"""The reminder engine: when each reminder is due, and each sent once on each channel.

Plain domain code over a session factory and a clock. A pass (``run_pass``):

1. **Claims** what has come due, in short transactions: the items whose
   ``next_reminder_at`` has passed (an index range, so a pass costs what is due, not what
   is stored), each worked out from its cycle's moments. Every (channel, item, kind, cycle,
   moment) becomes one delivery row; the table's unique constraint makes a second sender's
   insert of the same row a no-op, so each is claimed once however many senders run, on one
   host or many. On PostgreSQL, concurrent senders also skip each other's locked rows
   (``FOR UPDATE SKIP LOCKED``); SQLite runs writers one at a time.
2. **Sends** the claimed deliveries outside any transaction, through the courier it is given
   (``feedsvc.sender`` writes and carries the mail), and records each outcome with an update
   that holds only if the pass still owns the claim. A sender that dies holding claims leaves
   them to lapse (``LEASE``) and be taken over: at most one duplicate, never a loss.

Moments (``cycle_moments``) are the feed's: each alarm at its local time, 09:00 the day after
the due date (overdue), 09:00 on the last day before recycling, and 24 h after each "remind me
tomorrow". A moment whose time passed unsent is still sent while useful; when several are
late at once only the latest goes and the rest are recorded as skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from feedsvc import digests
from feedsvc.models import Channel, Delivery, Item, Snooze, User, dialect_insert
from feedsvc.texts import N_

log = logging.getLogger(__name__)

PAUSE_AFTER = 5  # failed deliveries in a row that pause a channel
LEASE = dt.timedelta(minutes=10)  # how long a pass may hold a claim before another takes it
FIRST_RETRY = dt.timedelta(minutes=1)
LONGEST_WAIT = dt.timedelta(hours=1)
# After the moment (or the first try, for a reminder sent late): a temporary failure is final.
GIVE_UP_AFTER = dt.timedelta(hours=24)
BATCH = 200
MORNING = dt.time(9, 0)
SNOOZE = dt.timedelta(hours=24)
# "Look at this item on the next pass": what every change that moves its moments sets.
REPLAN = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Moment:
    """A reminder of one cycle: its kind, when it is due (UTC), and until when it is useful."""

    kind: str
    at: dt.datetime
    useful_until: dt.datetime


def local_instant(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """``at`` on ``day`` in ``zone``, in UTC. A time that a DST change skips is read with the
    offset before it (an hour later on the clock); one it repeats is the first of the two."""
    return dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.UTC)


def cycle_moments(due_date: dt.date, grace_days: int | None, alarms: Iterable[dict[str, Any]],
                  timezone: str, snoozed: Iterable[dt.datetime] = ()) -> list[Moment]:
    """Every reminder moment of the cycle ending on ``due_date``, in order."""
    zone = ZoneInfo(timezone)
    day = dt.timedelta(days=1)
    grace = grace_days or 0

    def midnight_after(date: dt.date) -> dt.datetime:
        return local_instant(date + day, dt.time(0, 0), zone)

    # With a grace period everything is useful until it ends; without one, alarms until the
    # end of the due date and later reminders until the end of the day after it.
    alarms_until = midnight_after(due_date + dt.timedelta(days=grace)) if grace else \
        midnight_after(due_date)
    later_until = midnight_after(due_date + dt.timedelta(days=grace)) if grace else \
        midnight_after(due_date + day)
    moments = [Moment("alarm", local_instant(due_date - dt.timedelta(days=alarm["days_before"]),
                                             dt.time.fromisoformat(alarm["at"]), zone),
                      alarms_until)
               for alarm in alarms]
    moments.append(Moment("overdue", local_instant(due_date + day, MORNING, zone), later_until))
    if grace:
        last_day = due_date + dt.timedelta(days=grace)
        moments.append(Moment("last_day", local_instant(last_day, MORNING, zone),
                              midnight_after(last_day)))
    moments.extend(Moment("snoozed", at, later_until) for at in snoozed)
    return sorted(moments, key=lambda moment: (moment.at, moment.kind))


def item_moments(item: Item, user: User, snoozed: Iterable[dt.datetime] = ()) -> list[Moment]:
    """The moments of the item's current cycle (none for an archived item)."""
    if item.archived:
        return []
    alarms = user.default_alarms if item.alarms is None else item.alarms
    return cycle_moments(item.due_date, item.grace_days, alarms, user.timezone, snoozed)


def replan(item: Item) -> None:
    """Have the next pass work the item's moments out again (after any change to them)."""
    item.next_reminder_at = REPLAN


def replan_user(session: Session, user: User) -> None:
    """The same for all the user's items (a new time zone or new default alarms)."""
    session.execute(update(Item).where(Item.user_id == user.id)
                    .values(next_reminder_at=REPLAN).execution_options(synchronize_session=False))


def snooze(session: Session, item: Item, now: dt.datetime) -> dt.datetime:
    """"Remind me tomorrow": one more reminder of this cycle 24 h from ``now``."""
    at = now + SNOOZE
    session.add(Snooze(item_id=item.id, due_date=item.due_date, remind_at=at, created_at=now))
    session.execute(update(Item).where(Item.id == item.id).values(next_reminder_at=REPLAN)
                    .execution_options(synchronize_session=False))
    return at


class Temporary(Exception):
    """The message could not go now; try again later. ``counts``: whether it says anything
    about the channel (a mail relay that cannot be reached is the service's outage);
    ``retry_after``: the seconds the service asked to wait, if it did."""

    def __init__(self, reason: str, counts: bool = True,
                 retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:200]
        self.counts = counts
        self.retry_after = retry_after


class Permanent(Exception):
    """The message will never go to this channel as it is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:200]


@dataclass(frozen=True)
class Outgoing:
    """One message for the courier: the delivery, where it goes, and what it is about; a
    digest is about several items (``digest``: each reminder's kind and item, in order)."""

    delivery_id: int
    kind: str
    channel: Channel
    user: User
    item: Item | None
    planned_at: dt.datetime
    now: dt.datetime
    # When a temporary failure stops being retried.
    give_up_at: dt.datetime
    digest: tuple[tuple[str, Item], ...] = ()


Courier = Callable[[Outgoing], None]


@dataclass
class Summary:
    """What a pass did, by outcome."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0

    def line(self) -> str:
        return (f"sent {self.sent}, retrying {self.retrying}, failed {self.failed}, "
                f"skipped {self.skipped}")


@dataclass
class _Claim:
    """What one pass holds: its id, and the deliveries it claimed."""

    id: str = field(default_factory=lambda: secrets.token_hex(8))
    deliveries: list[int] = field(default_factory=list)


def _locked(session: Session, query: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def _usable_channels(session: Session, user_ids: Sequence[int]) -> dict[int, list[Channel]]:
    found: dict[int, list[Channel]] = defaultdict(list)
    for channel in session.scalars(select(Channel).where(
            Channel.user_id.in_(user_ids), Channel.enabled.is_(True),
            Channel.verified_at.is_not(None), Channel.paused_at.is_(None))
            .order_by(Channel.id)):
        found[channel.user_id].append(channel)
    return found


def _claim_due_items(session: Session, now: dt.datetime, claim: _Claim,
                     summary: Summary) -> bool:
    """Claim the reminders of one batch of due items; False when none was due."""
    items = list(session.scalars(_locked(session, select(Item)
                                         .where(Item.next_reminder_at <= now)
                                         .order_by(Item.next_reminder_at, Item.id)
                                         .limit(BATCH))))
    if not items:
        return False
    users = {user.id: user for user in session.scalars(
        select(User).where(User.id.in_({item.user_id for item in items})))}
    channels = _usable_channels(session, list(users))
    # Looked up by item (an index), then kept for each item's current cycle only: a row-value
    # IN would have SQLite scan the whole table.
    ids = [item.id for item in items]
    cycles = {(item.id, item.due_date) for item in items}
    snoozed: dict[tuple[int, dt.date], list[dt.datetime]] = defaultdict(list)
    for snooze_row in session.execute(
            select(Snooze.item_id, Snooze.due_date, Snooze.remind_at)
            .where(Snooze.item_id.in_(ids))):
        snoozed[(snooze_row.item_id, snooze_row.due_date)].append(snooze_row.remind_at)
    # What was claimed before in each item's current cycle.
    handled = {tuple(row) for row in session.execute(
        select(Delivery.channel_id, Delivery.item_id, Delivery.due_date, Delivery.kind,
               Delivery.planned_at)
        .where(Delivery.item_id.in_(ids),
               Delivery.due_date.in_({due for _, due in cycles})))
        if (row.item_id, row.due_date) in cycles}

    rows: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    for item in items:
        user = users[item.user_id]
        moments = item_moments(item, user, snoozed[(item.id, item.due_date)])
        due = [moment for moment in moments if moment.at <= now]
        for channel in channels[item.user_id]:
            open_ = [moment for moment in due if (channel.id, item.id, item.due_date,
                                                  moment.kind, moment.at) not in handled]
            useful = [moment for moment in open_ if moment.useful_until > now]
            latest = useful[-1] if useful else None
            for moment in open_:
                row = {"user_id": item.user_id, "channel_id": channel.id, "item_id": item.id,
                       "kind": moment.kind, "due_date": item.due_date,
                       "planned_at": moment.at, "attempts": 0, "created_at": now}
                if moment is latest and channel.digest is not None:
                    rows.append({**row, "status": digests.WAITING, "next_attempt_at":
                                 digests.next_time(channel.digest, user.timezone, moment.at)})
                elif moment is latest:
                    rows.append({**row, "status": "sending", "claimed_by": claim.id,
                                 "lease_until": now + LEASE})
                else:
                    reason = ("a later reminder went instead" if moment.useful_until > now
                              else "too late to be of use")
                    rows.append({**row, "status": "skipped", "error": reason})
        later = [moment.at for moment in moments if moment.at > now]
        plans.append({"item": item.id, "next": min(later) if later else None})
    if rows:
        columns = ("claimed_by", "lease_until", "error", "next_attempt_at")
        for row in rows:
            for column in columns:
                row.setdefault(column, None)
        inserted = session.execute(
            dialect_insert(session, Delivery).values(rows).on_conflict_do_nothing()
            .returning(Delivery.id, Delivery.status))
        for delivery_id, status in inserted:
            if status == "sending":
                claim.deliveries.append(delivery_id)
            elif status == "skipped":
                summary.skipped += 1
    # One statement run for every item (executemany); the version column is left alone:
    # the plan is not part of what a feed shows.
    items_table = cast(Table, Item.__table__)
    session.execute(update(items_table).where(items_table.c.id == bindparam("item"))
                    .values(next_reminder_at=bindparam("next")), plans)
    return True


def _claim_retries(session: Session, now: dt.datetime, claim: _Claim) -> None:
    """Claim the deliveries due for another try, and those a dead pass left behind."""
    waiting = or_(and_(Delivery.status == "retrying", Delivery.next_attempt_at <= now),
                  and_(Delivery.status == "sending", Delivery.lease_until < now))
    ids = list(session.scalars(_locked(session, select(Delivery.id).where(waiting)
                                       .order_by(Delivery.id).limit(BATCH))))
    if not ids:
        return
    session.execute(update(Delivery).where(Delivery.id.in_(ids), waiting)
                    .values(status="sending", claimed_by=claim.id, lease_until=now + LEASE)
                    .execution_options(synchronize_session=False))
    claim.deliveries.extend(session.scalars(select(Delivery.id).where(
        Delivery.id.in_(ids), Delivery.claimed_by == claim.id, Delivery.status == "sending")))


def _outcome(delivery: Delivery, item: Item | None, give_up_at: dt.datetime,
             now: dt.datetime) -> tuple[str, str] | None:
    """Why a claimed delivery must not go any more (status, reason), or None."""
    channel = delivery.channel
    if delivery.kind == "test":  # also to a channel switched off or paused, to try it
        if channel.verified_at is None:
            return "skipped", "not confirmed"
        return None if now < give_up_at else ("failed", "could not be sent within 24 hours")
    if not channel.enabled or channel.paused_at is not None or channel.verified_at is None:
        return "skipped", "the channel is off"
    if item is None or item.archived:
        return "skipped", "the item is archived"
    if item.due_date != delivery.due_date:
        return "skipped", "renewed meanwhile"
    if now >= give_up_at:
        return "failed", "could not be sent within 24 hours"
    return None


def _give_up_at(delivery: Delivery, user: User) -> dt.datetime:
    """24 hours after the reminder was first meant to go: at once, or in a digest."""
    since = max(delivery.planned_at, delivery.created_at)
    if delivery.kind != "test":
        since = digests.give_up_from(delivery.channel, user.timezone, since)
    return since + GIVE_UP_AFTER


def _record(sessions: Callable[[], Session], delivery_id: int, claim: _Claim, now: dt.datetime,
            values: dict[str, Any], channel_result: str | None = None) -> bool:
    """Store an outcome if the pass still owns the claim. ``channel_result`` "ok" clears the
    channel's count of failures; a reason adds one, and pauses it at ``PAUSE_AFTER``."""
    with sessions() as session, session.begin():
        # By primary key: a claim is held exactly while ``claimed_by`` names it.
        done = session.execute(
            update(Delivery).where(Delivery.id == delivery_id, Delivery.claimed_by == claim.id)
            .values(claimed_by=None, lease_until=None, **values)
            .returning(Delivery.channel_id)
            .execution_options(synchronize_session=False)).first()
        if done is None:
            return False
        channel_id = done.channel_id
        if channel_result == "ok":
            session.execute(update(Channel).where(Channel.id == channel_id).values(failures=0))
        elif channel_result is not None:
            channel = session.get_one(Channel, channel_id)
            channel.failures += 1
            if channel.failures >= PAUSE_AFTER and channel.paused_at is None:
                channel.paused_at = now
                channel.pause_reason = channel_result
    return True


def deliver(sessions: Callable[[], Session], delivery_ids: Sequence[int], claim: _Claim,
            courier: Courier, now: dt.datetime, summary: Summary) -> str:
    """Send claimed deliveries as one message and record how it went: one delivery, or a
    digest channel's several (each item once: its latest reminder). Returns the status of
    the message, or of the last delivery stopped before it."""
    status = "skipped"
    with sessions() as session:
        found = sorted(session.scalars(select(Delivery).where(Delivery.id.in_(delivery_ids))),
                       key=lambda delivery: (delivery.planned_at, delivery.id))
        user = session.get_one(User, found[0].user_id) if found else None
        items = {item.id: item for item in session.scalars(select(Item).where(
            Item.id.in_({delivery.item_id for delivery in found})))}
        stops: dict[int, tuple[str, str]] = {}
        going: dict[int | None, Delivery] = {}  # by item
        for delivery in found:
            stop = _outcome(delivery, items.get(delivery.item_id or 0),
                            _give_up_at(delivery, cast(User, user)), now)
            if stop is not None:
                stops[delivery.id] = stop
                continue
            earlier = going.pop(delivery.item_id, None)
            if earlier is not None:
                stops[earlier.id] = ("skipped", "a later reminder went instead")
            going[delivery.item_id] = delivery
        message = list(going.values())
        outgoing = _outgoing(message, items, cast(User, user), now) if message else None
        attempts = {delivery.id: delivery.attempts + 1 for delivery in found}
        session.expunge_all()
    for delivery_id, (status, reason) in stops.items():
        _record(sessions, delivery_id, claim, now, {"status": status, "error": reason})
        setattr(summary, status, getattr(summary, status) + 1)
    if outgoing is not None:
        status, values, channel_result = _send(courier, outgoing, attempts[message[0].id])
        for delivery in message:
            # One message: it counts once against the channel.
            _record(sessions, delivery.id, claim, now, {
                "status": status, "attempts": attempts[delivery.id], **values},
                channel_result if delivery is message[0] or channel_result == "ok" else None)
            setattr(summary, status, getattr(summary, status) + 1)
    return status


def _outgoing(message: list[Delivery], items: dict[int, Item], user: User,
              now: dt.datetime) -> Outgoing:
    first = message[0]
    return Outgoing(first.id, first.kind, first.channel, user, items.get(first.item_id or 0),
                    first.planned_at, now, min(_give_up_at(d, user) for d in message),
                    tuple((d.kind, items[d.item_id or 0]) for d in message)
                    if len(message) > 1 else ())


def _send(courier: Courier, outgoing: Outgoing, attempts: int
          ) -> tuple[str, dict[str, Any], str | None]:
    """Hand the message to the courier: (status, values to store, result for the channel)."""
    now = outgoing.now
    try:
        try:
            courier(outgoing)
        except (Temporary, Permanent):
            raise
        except Exception as fault:  # a fault of ours: the pass goes on; this is tried again
            # Its type only: its text might quote a channel's address.
            log.error("delivery %s could not be sent: %s", outgoing.delivery_id,
                      type(fault).__name__)
            raise Temporary(N_("an unexpected error; trying again later"),
                            counts=False) from fault
    except Temporary as problem:
        # As long as the service asked, if it asked for longer: its 429 says when it will
        # take messages again.
        asked = dt.timedelta(seconds=problem.retry_after or 0)
        retry_at = now + max(_wait(attempts), asked)
        if retry_at < outgoing.give_up_at:
            return "retrying", {"error": problem.reason, "next_attempt_at": retry_at}, None
        return "failed", {"error": problem.reason, "next_attempt_at": None}, (
            problem.reason if problem.counts else None)
    except Permanent as problem:
        return "failed", {"error": problem.reason, "next_attempt_at": None}, problem.reason
    return "sent", {"sent_at": now, "error": None, "next_attempt_at": None}, "ok"


def _wait(attempts: int) -> dt.timedelta:
    """About a minute, then twice as long each time, at most an hour."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_WAIT)


def send_test(sessions: Callable[[], Session], channel_id: int, courier: Courier,
              now: dt.datetime) -> int:
    """Send a channel's test message at once (not retried); returns its delivery's id."""
    claim = _Claim()
    with sessions() as session, session.begin():
        channel = session.get_one(Channel, channel_id)
        delivery = Delivery(user_id=channel.user_id, channel_id=channel.id, item_id=None,
                            kind="test", due_date=None, planned_at=now, status="sending",
                            attempts=0, claimed_by=claim.id, lease_until=now + LEASE,
                            created_at=now)
        session.add(delivery)
        session.flush()
        delivery_id = delivery.id
    summary = Summary()
    status = deliver(sessions, [delivery_id], claim, courier, now, summary)
    if status == "retrying":  # a test answers now: what failed is the answer
        with sessions() as session, session.begin():
            session.execute(update(Delivery).where(Delivery.id == delivery_id)
                            .values(status="failed", next_attempt_at=None))
    return delivery_id


def run_pass(sessions: Callable[[], Session], courier: Courier, now: dt.datetime) -> Summary:
    """One pass at ``now``: claim what is due and due again, send it, record each outcome."""
    summary = Summary()
    claim = _Claim()
    while True:
        with sessions() as session, session.begin():
            if not _claim_due_items(session, now, claim, summary):
                break
    with sessions() as session, session.begin():
        _claim_retries(session, now, claim)
    with sessions() as session, session.begin():
        claim.deliveries.extend(digests.claim(session, now, claim.id, now + LEASE))
    for batch in _messages(sessions, claim.deliveries):
        deliver(sessions, batch, claim, courier, now, summary)
    return summary


def _messages(sessions: Callable[[], Session], delivery_ids: list[int]) -> list[list[int]]:
    """The claimed deliveries, one message each, but one for all the reminders of a digest
    channel."""
    with sessions() as session:
        rows = session.execute(select(Delivery.id, Delivery.channel_id, Delivery.kind,
                                      Channel.digest)
                               .join(Channel).where(Delivery.id.in_(delivery_ids))
                               .order_by(Delivery.id)).all()
    batches: dict[object, list[int]] = {}
    for delivery_id, channel_id, kind, digest in rows:
        alone = digest is None or kind == "test"
        batches.setdefault(delivery_id if alone else -channel_id, []).append(delivery_id)
    return list(batches.values())
