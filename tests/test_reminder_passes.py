"""Sender passes at fixed instants: what each sends, skips, retries and records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from feedsvc import accounts, items, reminders, renewals
from feedsvc.db import new_session
from feedsvc.models import Channel, Delivery, Item, User
from feedsvc.reminders import Outgoing, Permanent, Temporary

from helpers import PASSWORD
from helpers.courier import Courier


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


@pytest.fixture
def sessions(app: Flask) -> Callable[[], Session]:
    return lambda: new_session(app)


@pytest.fixture
def account(app: Flask) -> dict[str, Any]:
    """A confirmed account in Shanghai with the default alarms (14, 3 and 0 days, 09:00)."""
    with app.app_context(), new_session(app) as session:
        user = accounts.create_user(session, "someone@example.com", PASSWORD,
                                    timezone="Asia/Shanghai", verified=True)
        session.commit()
        return {"id": user.id}


def add_item(app: Flask, account: dict[str, Any], **fields: Any) -> int:
    with app.app_context(), new_session(app) as session:
        user = session.get_one(User, account["id"])
        item = items.create_item(session, user, {"title": "MTS Russia",
                                                 "due_date": "2027-03-31", **fields})
        session.commit()
        return item.id


def deliveries(app: Flask) -> list[tuple[str, str, str, str | None]]:
    with new_session(app) as session:
        return [(d.kind, d.planned_at.isoformat(), d.status, d.error)
                for d in session.scalars(select(Delivery).order_by(Delivery.planned_at))]


def next_moment(app: Flask, item_id: int) -> dt.datetime | None:
    with new_session(app) as session:
        return session.get_one(Item, item_id).next_reminder_at


def run(sessions: Callable[[], Session], courier: Courier, at: str) -> str:
    return reminders.run_pass(sessions, courier, utc(at)).line()


def test_nothing_is_due_before_the_first_moment(app: Flask, sessions: Any,
                                                account: dict[str, Any]) -> None:
    item_id = add_item(app, account)
    assert next_moment(app, item_id) == reminders.REPLAN
    courier = Courier()
    assert run(sessions, courier, "2027-03-10 00:00") == "sent 0, retrying 0, failed 0, skipped 0"
    assert courier.sent == []
    # The pass planned the item: the 14-day alarm, 09:00 Shanghai time on 17 March.
    assert next_moment(app, item_id) == utc("2027-03-17 01:00")


def test_each_moment_is_sent_once_as_it_comes(app: Flask, sessions: Any,
                                              account: dict[str, Any]) -> None:
    item_id = add_item(app, account)
    courier = Courier()
    run(sessions, courier, "2027-03-10 00:00")
    for at in ("2027-03-17 01:00", "2027-03-17 01:01", "2027-03-28 01:00", "2027-03-31 01:00",
               "2027-04-01 01:00", "2027-04-01 01:05"):
        run(sessions, courier, at)
    assert courier.what() == [
        ("alarm", "MTS Russia", "2027-03-17T01:00:00+00:00"),
        ("alarm", "MTS Russia", "2027-03-28T01:00:00+00:00"),
        ("alarm", "MTS Russia", "2027-03-31T01:00:00+00:00"),
        ("overdue", "MTS Russia", "2027-04-01T01:00:00+00:00"),
    ]
    assert [status for *_, status, _ in deliveries(app)] == ["sent"] * 4
    assert next_moment(app, item_id) is None  # nothing more in this cycle


def test_late_reminders_send_only_the_latest(app: Flask, sessions: Any,
                                             account: dict[str, Any]) -> None:
    """A sender that was down from before the 14-day alarm to after the 3-day one."""
    add_item(app, account)
    courier = Courier()
    assert run(sessions, courier, "2027-03-29 12:00") == "sent 1, retrying 0, failed 0, skipped 1"
    assert courier.what() == [("alarm", "MTS Russia", "2027-03-28T01:00:00+00:00")]
    assert deliveries(app) == [
        ("alarm", "2027-03-17T01:00:00+00:00", "skipped", "a later reminder went instead"),
        ("alarm", "2027-03-28T01:00:00+00:00", "sent", None),
    ]


def test_reminders_past_their_use_are_skipped_not_sent(app: Flask, sessions: Any,
                                                       account: dict[str, Any]) -> None:
    add_item(app, account)  # no grace period: all is over at the end of 1 April, Shanghai
    courier = Courier()
    assert run(sessions, courier, "2027-04-05 00:00") == "sent 0, retrying 0, failed 0, skipped 4"
    assert courier.sent == []
    assert {error for *_, error in deliveries(app)} == {"too late to be of use"}


def test_with_a_grace_period_a_late_overdue_reminder_is_still_sent(
        app: Flask, sessions: Any, account: dict[str, Any]) -> None:
    add_item(app, account, grace_days=30)
    courier = Courier()
    run(sessions, courier, "2027-04-10 00:00")
    assert courier.what() == [("overdue", "MTS Russia", "2027-04-01T01:00:00+00:00")]
    run(sessions, courier, "2027-04-30 01:00")
    assert courier.what()[-1] == ("last_day", "MTS Russia", "2027-04-30T01:00:00+00:00")


def test_an_unconfirmed_address_gets_nothing(app: Flask, sessions: Any) -> None:
    with app.app_context(), new_session(app) as session:
        user = accounts.create_user(session, "new@example.com", PASSWORD)
        session.commit()
        add_item(app, {"id": user.id})
    courier = Courier()
    assert run(sessions, courier, "2027-03-31 02:00") == "sent 0, retrying 0, failed 0, skipped 0"
    assert deliveries(app) == []


def test_a_renewal_cancels_the_cycles_reminders_and_plans_the_next(
        app: Flask, sessions: Any, account: dict[str, Any]) -> None:
    item_id = add_item(app, account, repeat={"every": 1, "unit": "month"})
    courier = Courier()
    run(sessions, courier, "2027-03-17 02:00")
    with app.app_context(), new_session(app) as session:
        renewals.renew(session, session.get_one(Item, item_id), {}, dt.date(2027, 3, 20))
        session.commit()
    assert next_moment(app, item_id) == reminders.REPLAN
    run(sessions, courier, "2027-03-28 02:00")  # the old cycle's 3-day alarm: gone
    run(sessions, courier, "2027-04-17 02:00")  # the new cycle's 14-day alarm (due 30 April)
    assert courier.what() == [("alarm", "MTS Russia", "2027-03-17T01:00:00+00:00"),
                              ("alarm", "MTS Russia", "2027-04-16T01:00:00+00:00")]


def test_a_renewal_between_claim_and_send_stops_the_message(
        app: Flask, sessions: Any, account: dict[str, Any]) -> None:
    item_id = add_item(app, account)

    def renew_first(outgoing: Outgoing) -> None:
        raise AssertionError("sent after a renewal")

    now = utc("2027-03-17 02:00")
    claim = reminders._Claim()
    summary = reminders.Summary()
    with sessions() as session, session.begin():
        assert reminders._claim_due_items(session, now, claim, summary)
    with app.app_context(), new_session(app) as session:
        renewals.renew(session, session.get_one(Item, item_id), {"due_date": "2027-06-30"},
                       dt.date(2027, 3, 17))
        session.commit()
    for delivery_id in claim.deliveries:
        reminders.deliver(sessions, [delivery_id], claim, renew_first, now, summary)
    assert deliveries(app)[0][2:] == ("skipped", "renewed meanwhile")


def test_temporary_failures_are_retried_with_growing_waits(app: Flask, sessions: Any,
                                                           account: dict[str, Any]) -> None:
    add_item(app, account)
    courier = Courier(answers=[Temporary("451 try later"), Temporary("451 try later")])
    assert run(sessions, courier, "2027-03-17 01:00") == "sent 0, retrying 1, failed 0, skipped 0"
    assert run(sessions, courier, "2027-03-17 01:00:59") == \
        "sent 0, retrying 0, failed 0, skipped 0"
    assert run(sessions, courier, "2027-03-17 01:01") == "sent 0, retrying 1, failed 0, skipped 0"
    # The second wait is twice the first.
    assert run(sessions, courier, "2027-03-17 01:02:59") == \
        "sent 0, retrying 0, failed 0, skipped 0"
    assert run(sessions, courier, "2027-03-17 01:03") == "sent 1, retrying 0, failed 0, skipped 0"
    with new_session(app) as session:
        delivery = session.scalars(select(Delivery)).one()
        assert (delivery.status, delivery.attempts, delivery.sent_at) == (
            "sent", 3, utc("2027-03-17 01:03"))


def test_a_wait_the_service_asked_for_is_kept_when_it_is_longer(
        app: Flask, sessions: Any, account: dict[str, Any]) -> None:
    add_item(app, account)
    courier = Courier(answers=[Temporary("429", retry_after=600), Temporary("429", retry_after=5)])
    assert run(sessions, courier, "2027-03-17 01:00") == "sent 0, retrying 1, failed 0, skipped 0"
    # Ten minutes asked, not the first minute's wait.
    assert run(sessions, courier, "2027-03-17 01:09:59") == \
        "sent 0, retrying 0, failed 0, skipped 0"
    assert run(sessions, courier, "2027-03-17 01:10") == "sent 0, retrying 1, failed 0, skipped 0"
    # Five seconds asked, shorter than the second wait (two minutes): the wait holds.
    assert run(sessions, courier, "2027-03-17 01:11:59") == \
        "sent 0, retrying 0, failed 0, skipped 0"
    assert run(sessions, courier, "2027-03-17 01:12") == "sent 1, retrying 0, failed 0, skipped 0"
    with new_session(app) as session:
        assert session.scalars(select(Delivery)).one().next_attempt_at is None


def test_a_fault_of_the_courier_is_retried_and_the_pass_goes_on(
        app: Flask, sessions: Any, account: dict[str, Any],
        caplog: pytest.LogCaptureFixture) -> None:
    add_item(app, account, title="First")
    add_item(app, account, title="Second")
    courier = Courier(answers=[OverflowError("date value out of range")])
    assert run(sessions, courier, "2027-03-17 01:00") == "sent 1, retrying 1, failed 0, skipped 0"
    assert [status for _, _, status, _ in deliveries(app)].count("retrying") == 1
    assert ("an unexpected error; trying again later" in
            [error for _, _, _, error in deliveries(app)])
    assert "OverflowError" in caplog.text and "out of range" not in caplog.text
    assert run(sessions, courier, "2027-03-17 01:01") == "sent 1, retrying 0, failed 0, skipped 0"


def test_a_test_message_left_by_a_dead_sender_is_given_up_after_a_day(
        app: Flask, sessions: Any, account: dict[str, Any]) -> None:
    with new_session(app) as session:
        channel = session.scalars(select(Channel)).one()
        session.add(Delivery(user_id=account["id"], channel_id=channel.id, item_id=None,
                             kind="test", due_date=None, planned_at=utc("2027-03-17 01:00"),
                             status="sending", attempts=1, claimed_by="dead",
                             lease_until=utc("2027-03-17 01:10"),
                             created_at=utc("2027-03-17 01:00")))
        session.commit()
    assert run(sessions, Courier(), "2027-03-18 01:00") == \
        "sent 0, retrying 0, failed 1, skipped 0"
    assert deliveries(app)[0][2:] == ("failed", "could not be sent within 24 hours")


def test_the_waits_grow_to_an_hour() -> None:
    assert [reminders._wait(n) for n in (1, 2, 3, 7, 8, 20)] == [
        dt.timedelta(minutes=m) for m in (1, 2, 4, 60, 60, 60)]


def test_a_relay_down_for_a_day_fails_the_reminder_but_never_pauses_the_channel(
        app: Flask, sessions: Any, account: dict[str, Any]) -> None:
    for n in range(reminders.PAUSE_AFTER + 1):
        add_item(app, account, title=f"SIM {n}")
    courier = Courier(answers=[Temporary("relay unreachable", counts=False)] * 1000)
    at = utc("2027-03-17 01:00")
    while at < utc("2027-03-18 02:00"):
        reminders.run_pass(sessions, courier, at)
        at += dt.timedelta(minutes=30)
    statuses = [status for *_, status, _ in deliveries(app)]
    assert statuses == ["failed"] * (reminders.PAUSE_AFTER + 1)
    with new_session(app) as session:
        channel = session.scalars(select(Channel)).one()
        assert (channel.paused_at, channel.failures) == (None, 0)


def test_five_permanent_failures_in_a_row_pause_the_channel(app: Flask, sessions: Any,
                                                            account: dict[str, Any]) -> None:
    for n in range(reminders.PAUSE_AFTER + 1):
        add_item(app, account, title=f"SIM {n}")
    courier = Courier(answers=[Permanent("550 no such mailbox")] * reminders.PAUSE_AFTER)
    assert run(sessions, courier, "2027-03-17 01:00") == "sent 0, retrying 0, failed 5, skipped 1"
    with new_session(app) as session:
        channel = session.scalars(select(Channel)).one()
        assert channel.paused_at == utc("2027-03-17 01:00")
        assert channel.pause_reason == "550 no such mailbox"
        skipped = session.scalars(select(Delivery).where(Delivery.status == "skipped")).one()
        assert skipped.error == "the channel is off"


def test_a_success_in_between_starts_the_count_again(app: Flask, sessions: Any,
                                                     account: dict[str, Any]) -> None:
    for n in range(reminders.PAUSE_AFTER + 1):
        add_item(app, account, title=f"SIM {n}")
    fail = Permanent("550 no")
    courier = Courier(answers=[fail, fail, fail, fail, None, fail])
    run(sessions, courier, "2027-03-17 01:00")
    with new_session(app) as session:
        channel = session.scalars(select(Channel)).one()
        assert (channel.paused_at, channel.failures) == (None, 1)


def test_a_claim_left_by_a_dead_sender_is_taken_over_after_its_lease(
        app: Flask, sessions: Any, account: dict[str, Any]) -> None:
    add_item(app, account)
    now = utc("2027-03-17 01:00")
    with sessions() as session, session.begin():
        reminders._claim_due_items(session, now, reminders._Claim(), reminders.Summary())
    # The sender died here, holding the claim.
    courier = Courier()
    assert reminders.run_pass(sessions, courier, now + reminders.LEASE).line() == \
        "sent 0, retrying 0, failed 0, skipped 0"
    later = now + reminders.LEASE + dt.timedelta(seconds=1)
    assert reminders.run_pass(sessions, courier, later).line() == \
        "sent 1, retrying 0, failed 0, skipped 0"
    assert courier.what() == [("alarm", "MTS Russia", "2027-03-17T01:00:00+00:00")]


def test_remind_me_tomorrow_sends_one_more_a_day_later(app: Flask, sessions: Any,
                                                       account: dict[str, Any]) -> None:
    item_id = add_item(app, account, grace_days=10)
    courier = Courier()
    run(sessions, courier, "2027-04-01 01:00")  # overdue
    with new_session(app) as session:
        reminders.snooze(session, session.get_one(Item, item_id), utc("2027-04-01 03:00"))
        session.commit()
    run(sessions, courier, "2027-04-02 02:59")
    run(sessions, courier, "2027-04-02 03:00")
    assert courier.what()[-1] == ("snoozed", "MTS Russia", "2027-04-02T03:00:00+00:00")
    assert len(courier.sent) == 2


def test_new_settings_plan_every_item_again(app: Flask, sessions: Any,
                                            account: dict[str, Any]) -> None:
    item_id = add_item(app, account)
    run(sessions, Courier(), "2027-03-10 00:00")
    with app.app_context(), new_session(app) as session:
        accounts.update_settings(session, session.get_one(User, account["id"]),
                                 timezone="Europe/London")
        session.commit()
    assert next_moment(app, item_id) == reminders.REPLAN
    run(sessions, Courier(), "2027-03-10 00:00")
    assert next_moment(app, item_id) == utc("2027-03-17 09:00")


def test_archived_items_and_disabled_channels_get_nothing(app: Flask, sessions: Any,
                                                          account: dict[str, Any]) -> None:
    first = add_item(app, account)
    with app.app_context(), new_session(app) as session:
        items.update_item(session, session.get_one(Item, first), {"archived": True})
        session.commit()
    courier = Courier()
    run(sessions, courier, "2027-03-17 02:00")
    assert courier.sent == [] and next_moment(app, first) is None
    add_item(app, account, title="Second")
    with new_session(app) as session:
        session.execute(update(Channel).values(enabled=False))
        session.commit()
    run(sessions, courier, "2027-03-17 02:00")
    assert courier.sent == []


# Passes at fixed instants across time zones: for each pass, the kinds it sends (with
# their moments) and how many it records as skipped.
ZONE_CASES = {
    # UTC+14: the 0-day alarm at 09:00 on 10 January is 19:00 UTC on the 9th. The item
    # came in after its 3-day alarm: that one goes on the first pass, late but of use.
    "kiritimati": ("Pacific/Kiritimati", "2027-01-10", None, [
        ("2027-01-09 18:59", [("alarm", "2027-01-06T19:00:00+00:00")], 0),
        ("2027-01-09 19:00", [("alarm", "2027-01-09T19:00:00+00:00")], 0),
        ("2027-01-10 19:00", [("overdue", "2027-01-10T19:00:00+00:00")], 0),
    ]),
    # UTC-11: the same local moments come 25 hours later; the 0-day alarm still goes at the
    # last minute of its day, and the overdue one, once its day is over, is no use.
    "pago pago": ("Pacific/Pago_Pago", "2027-01-10", None, [
        ("2027-01-10 19:59", [("alarm", "2027-01-07T20:00:00+00:00")], 0),
        ("2027-01-11 10:59", [("alarm", "2027-01-10T20:00:00+00:00")], 0),
        ("2027-01-12 11:00", [], 1),
    ]),
    # UTC+8, a grace period: a sender down for both alarms and the overdue reminder sends
    # the latest ten days on (the two alarms skipped), then the last day's.
    "shanghai grace": ("Asia/Shanghai", "2027-03-31", 30, [
        ("2027-04-10 00:00", [("overdue", "2027-04-01T01:00:00+00:00")], 2),
        ("2027-04-30 01:00", [("last_day", "2027-04-30T01:00:00+00:00")], 0),
    ]),
    # London across the spring change: 09:00 is 09:00 UTC before it, 08:00 UTC after.
    "london spring": ("Europe/London", "2027-03-28", None, [
        ("2027-03-25 09:00", [("alarm", "2027-03-25T09:00:00+00:00")], 0),
        ("2027-03-28 07:59", [], 0),
        ("2027-03-28 08:00", [("alarm", "2027-03-28T08:00:00+00:00")], 0),
        ("2027-03-29 08:00", [("overdue", "2027-03-29T08:00:00+00:00")], 0),
    ]),
}


@pytest.mark.parametrize("case", ZONE_CASES.values(), ids=ZONE_CASES.keys())
def test_passes_across_time_zones(app: Flask, sessions: Any, case: tuple[Any, ...]) -> None:
    zone, due, grace, passes = case
    with app.app_context(), new_session(app) as session:
        user = accounts.create_user(session, "zone@example.com", PASSWORD, timezone=zone,
                                    verified=True)
        user.default_alarms = [{"days_before": 3, "at": "09:00"},
                               {"days_before": 0, "at": "09:00"}]
        session.commit()
        account = {"id": user.id}
    add_item(app, account, due_date=due, grace_days=grace)
    for at, sent, skipped in passes:
        courier = Courier()
        summary = reminders.run_pass(sessions, courier, utc(at))
        assert [(o.kind, o.planned_at.isoformat()) for o in courier.sent] == sent, at
        assert summary.skipped == skipped, at
