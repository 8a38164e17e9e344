"""Digests: at most one message a day per channel at its local time, listing every reminder
that came due since the last one — across a DST change, and with several sender processes
at once (a real JSON webhook on 127.0.0.1 counting what arrives)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc import accounts, channels, create_app, digests, items, reminders, sender
from feedsvc.db import get_engine, new_session
from feedsvc.models import Channel, Delivery, Item, User
from feedsvc.reminders import Temporary

from helpers import PASSWORD, app_config, sender_environment
from helpers.courier import Courier
from helpers.pushserver import push_service


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


# -- the digest's times ---------------------------------------------------------------------

@pytest.mark.parametrize(("digest", "zone", "after", "expected"), [
    ("08:00", "Europe/London", "2027-03-27 07:59", "2027-03-27 08:00"),
    ("08:00", "Europe/London", "2027-03-27 08:00", "2027-03-27 08:00"),
    ("08:00", "Europe/London", "2027-03-27 08:01", "2027-03-28 07:00"),  # BST from the 28th
    # 01:30 does not exist on 28 March in London: it is read with the offset before.
    ("01:30", "Europe/London", "2027-03-28 00:00", "2027-03-28 01:30"),
    # 01:30 happens twice on 31 October: the first.
    ("01:30", "Europe/London", "2027-10-31 00:00", "2027-10-31 00:30"),
    ("01:30", "Europe/London", "2027-10-31 00:31", "2027-11-01 01:30"),
    ("08:00", "Asia/Shanghai", "2027-03-17 00:00", "2027-03-17 00:00"),
    ("23:59", "Asia/Shanghai", "2027-03-17 16:00", "2027-03-18 15:59"),
    ("00:00", "America/New_York", "2027-03-14 05:01", "2027-03-15 04:00"),
])
def test_the_next_digest_time(digest: str, zone: str, after: str, expected: str) -> None:
    assert digests.next_time(digest, zone, utc(after)) == utc(expected)


@pytest.mark.parametrize(("digest", "zone", "now", "day", "at"), [
    ("08:00", "Europe/London", "2027-03-28 06:59", "2027-03-27", "2027-03-27 08:00"),
    ("08:00", "Europe/London", "2027-03-28 07:00", "2027-03-28", "2027-03-28 07:00"),
    ("08:00", "Asia/Shanghai", "2027-03-17 23:59", "2027-03-17", "2027-03-17 00:00"),
    ("08:00", "Asia/Shanghai", "2027-03-18 00:00", "2027-03-18", "2027-03-18 00:00"),
])
def test_the_last_digest_time(digest: str, zone: str, now: str, day: str, at: str) -> None:
    assert digests.last_time(digest, zone, utc(now)) == (dt.date.fromisoformat(day), utc(at))


# -- passes at fixed instants ---------------------------------------------------------------

@pytest.fixture
def sessions(app: Flask) -> Callable[[], Session]:
    return lambda: new_session(app)


# In London, where summer time starts on 28 March 2027 at 01:00 UTC. Each item has one
# alarm two or three days before its due date; the digest is at 08:00 local time.
ITEMS = [("A", "2027-03-29", 2, "09:00"),  # 27 March 09:00 GMT
         ("D", "2027-03-30", 2, "07:59"),  # 28 March 07:59 BST, just before its digest
         ("B", "2027-03-30", 2, "09:00"),  # 28 March 09:00 BST
         ("C", "2027-03-31", 3, "23:00")]  # 28 March 23:00 BST


def london_account(app: Flask, digest: str | None = "08:00") -> tuple[int, int]:
    """A confirmed account in London with ``ITEMS``; (user id, its address's channel id)."""
    with app.app_context(), new_session(app) as session:
        user = accounts.create_user(session, "someone@example.com", PASSWORD,
                                    timezone="Europe/London", verified=True)
        for title, due, days, at in ITEMS:
            items.create_item(session, user, {"title": title, "due_date": due, "alarms": [
                {"days_before": days, "at": at}]})
        channel = channels.account_channel(session, user)
        assert channel is not None
        channels.update_channel(session, channel, {"digest": digest}, utc("2027-03-20 00:00"))
        session.commit()
        return user.id, channel.id


def instants(first: str, last: str, every: dt.timedelta) -> Iterator[dt.datetime]:
    at = utc(first)
    while at <= utc(last):
        yield at
        at += every


def test_one_digest_a_day_lists_what_came_due_since_the_last(app: Flask, sessions: Any) -> None:
    london_account(app)
    courier = Courier()
    for at in instants("2027-03-26 23:00", "2027-03-29 12:00", dt.timedelta(minutes=20)):
        reminders.run_pass(sessions, courier, at)
    assert courier.messages() == [("2027-03-28T07:00:00+00:00", ["A", "D"]),
                                  ("2027-03-29T07:00:00+00:00", ["B", "C"])]
    with new_session(app) as session:
        assert sorted(session.execute(select(Item.title, Delivery.status, Delivery.sent_at)
                                      .join(Item, Item.id == Delivery.item_id))) == [
            ("A", "sent", utc("2027-03-28 07:00")), ("B", "sent", utc("2027-03-29 07:00")),
            ("C", "sent", utc("2027-03-29 07:00")), ("D", "sent", utc("2027-03-28 07:00"))]


def test_a_reminder_waits_in_the_meantime(app: Flask, sessions: Any) -> None:
    london_account(app)
    summary = reminders.run_pass(sessions, Courier(), utc("2027-03-27 10:00"))
    assert summary.line() == "sent 0, retrying 0, failed 0, skipped 0"
    with new_session(app) as session:
        assert session.execute(select(Delivery.status, Delivery.next_attempt_at)).all() == [
            ("waiting", utc("2027-03-28 07:00"))]


def test_a_late_pass_sends_the_day_s_digest_once(app: Flask, sessions: Any) -> None:
    """No sender ran at 08:00: the first pass after it sends the digest of what came due
    before 08:00, the next passes nothing until the next day's."""
    london_account(app)
    courier = Courier()
    reminders.run_pass(sessions, courier, utc("2027-03-27 10:00"))
    reminders.run_pass(sessions, courier, utc("2027-03-28 15:00"))
    reminders.run_pass(sessions, courier, utc("2027-03-28 23:00"))  # C came due at 22:00
    assert courier.messages() == [("2027-03-28T15:00:00+00:00", ["A", "D"])]
    reminders.run_pass(sessions, courier, utc("2027-03-29 07:00"))
    assert courier.messages()[1:] == [("2027-03-29T07:00:00+00:00", ["B", "C"])]


def test_a_digest_that_fails_is_retried_as_one_message(app: Flask, sessions: Any) -> None:
    london_account(app)
    courier = Courier(answers=[Temporary("451 try later")])
    reminders.run_pass(sessions, courier, utc("2027-03-27 10:00"))
    reminders.run_pass(sessions, courier, utc("2027-03-28 07:00"))
    assert courier.sent == []
    reminders.run_pass(sessions, courier, utc("2027-03-28 07:01"))
    assert courier.messages() == [("2027-03-28T07:01:00+00:00", ["A", "D"])]


def test_an_item_is_listed_once_with_its_latest_reminder(app: Flask, sessions: Any) -> None:
    london_account(app)
    with app.app_context(), new_session(app) as session:
        item = session.scalars(select(Item).where(Item.title == "A")).one()
        items.update_item(session, item, {"alarms": [{"days_before": 2, "at": "09:00"},
                                                     {"days_before": 2, "at": "18:00"}]})
        session.commit()
    courier = Courier()
    for at in ("2027-03-27 10:00", "2027-03-27 19:00", "2027-03-28 07:00"):
        reminders.run_pass(sessions, courier, utc(at))
    assert courier.messages() == [("2027-03-28T07:00:00+00:00", ["A", "D"])]
    assert [o.digest[0][1].title for o in courier.sent] == ["A"]
    with new_session(app) as session:
        assert sorted(session.execute(select(Delivery.planned_at, Delivery.status,
                                             Delivery.error).join(Item).where(
            Item.title == "A"))) == [
            (utc("2027-03-27 09:00"), "skipped", "a later reminder went instead"),
            (utc("2027-03-27 18:00"), "sent", None)]


def test_a_new_digest_time_moves_what_waits(app: Flask, sessions: Any) -> None:
    _, channel_id = london_account(app)
    courier = Courier()
    reminders.run_pass(sessions, courier, utc("2027-03-27 10:00"))
    with app.app_context(), new_session(app) as session:
        channels.update_channel(session, session.get_one(Channel, channel_id),
                                {"digest": "20:00"}, utc("2027-03-27 10:05"))
        session.commit()
    reminders.run_pass(sessions, courier, utc("2027-03-27 19:59"))
    assert courier.sent == []
    reminders.run_pass(sessions, courier, utc("2027-03-27 20:00"))
    assert courier.messages() == [("2027-03-27T20:00:00+00:00", ["A"])]


def test_without_a_digest_what_waited_goes_on_the_next_pass(app: Flask, sessions: Any) -> None:
    _, channel_id = london_account(app)
    courier = Courier()
    reminders.run_pass(sessions, courier, utc("2027-03-27 10:00"))
    with app.app_context(), new_session(app) as session:
        channels.update_channel(session, session.get_one(Channel, channel_id),
                                {"digest": None}, utc("2027-03-27 10:05"))
        session.commit()
    reminders.run_pass(sessions, courier, utc("2027-03-27 10:06"))
    assert courier.messages() == [("2027-03-27T10:06:00+00:00", ["A"])]


def test_a_reminder_held_over_a_25_hour_day_is_still_sent(app: Flask, sessions: Any) -> None:
    """Summer time ends on 31 October: from 08:00 BST on the 30th to 08:00 GMT on the 31st
    is 25 hours, longer than a failed reminder is kept trying."""
    with app.app_context(), new_session(app) as session:
        user = accounts.create_user(session, "someone@example.com", PASSWORD,
                                    timezone="Europe/London", verified=True)
        items.create_item(session, user, {"title": "Autumn", "due_date": "2027-11-01",
                                          "alarms": [{"days_before": 2, "at": "08:01"}]})
        channel = channels.account_channel(session, user)
        assert channel is not None
        channel.digest = "08:00"
        session.commit()
    courier = Courier()
    for at in ("2027-10-30 07:00", "2027-10-30 07:01", "2027-10-31 07:00", "2027-10-31 08:00"):
        reminders.run_pass(sessions, courier, utc(at))
    assert courier.messages() == [("2027-10-31T08:00:00+00:00", ["Autumn"])]


# -- several sender processes at once -------------------------------------------------------

PASS = ("import datetime, sys; from feedsvc import create_app, sender; "
        "print(sender.run_pass(create_app(), datetime.datetime.fromisoformat(sys.argv[1]))"
        ".line())")


def test_concurrent_senders_send_one_digest_a_day_with_each_reminder_once(
        database_url: str, tmp_path: Path) -> None:
    app = create_app(app_config(tmp_path / "instance", database_url,
                                FEEDSVC_CHANNEL_ALLOW_HOSTS="127.0.0.1"))
    with push_service() as service:
        user_id, own = london_account(app, digest=None)
        with app.app_context(), new_session(app) as session:
            user = session.get_one(User, user_id)
            channels.update_channel(session, session.get_one(Channel, own), {"enabled": False},
                                    utc("2027-03-20 00:00"))
            channels.add_channel(session, user, {
                "kind": "apprise", "url": f"json://127.0.0.1:{service.server_port}/hook",
                "digest": "08:00"}, utc("2027-03-20 00:00"), app.config)
            session.commit()
        env = sender_environment(app, FEEDSVC_CHANNEL_ALLOW_HOSTS="127.0.0.1")
        for at in ("2027-03-27 08:00", "2027-03-27 09:00", "2027-03-28 06:59",
                   "2027-03-28 07:00", "2027-03-28 07:01", "2027-03-28 08:00",
                   "2027-03-28 22:00", "2027-03-29 07:00", "2027-03-29 07:30"):
            processes = [subprocess.Popen([sys.executable, "-c", PASS, utc(at).isoformat()],
                                          env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True)
                         for _ in range(3)]
            outputs = [process.communicate(timeout=120) for process in processes]
            assert [process.returncode for process in processes] == [0] * 3, outputs
        messages = service.messages()
        get_engine(app).dispose()
    assert len(messages) == 2, messages
    first, second = (message["message"] for message in messages)
    assert [f"Renew {t} —" in first for t in "ADBC"] == [True, True, False, False]
    assert [f"Renew {t} —" in second for t in "ADBC"] == [False, False, True, True]
    assert messages[0]["title"].endswith(", and 1 more")


def test_an_address_gets_its_digest_as_one_mail(mail_app: Flask, smtp_server: Any) -> None:
    with mail_app.app_context(), new_session(mail_app) as session:
        user = accounts.create_user(session, "someone@example.com", PASSWORD,
                                    timezone="Asia/Shanghai", locale="zh-Hans", verified=True)
        for title in ("MTS Russia", "giffgaff"):
            items.create_item(session, user, {"title": title, "due_date": "2027-03-31"})
        channel = channels.account_channel(session, user)
        assert channel is not None
        channel.digest = "09:00"
        session.commit()
    # 09:00 in Shanghai, when both items' 14-day alarms come due too.
    assert sender.run_pass(mail_app, utc("2027-03-17 01:00")).sent == 2
    [received] = smtp_server.received
    message = received.message
    assert str(message["Subject"]) == "续费 MTS Russia — 14 天后到期（3月31日），另有 1 项"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "续费 giffgaff — 14 天后到期（3月31日）" in text
    assert text.count("https://feeds.example.org/act/") == 4
    assert message["List-Unsubscribe"].startswith("<https://feeds.example.org/unsubscribe/")


def test_a_test_message_left_by_a_dead_sender_goes_alone(app: Flask, sessions: Any) -> None:
    user_id, channel_id = london_account(app)
    reminders.run_pass(sessions, Courier(), utc("2027-03-27 10:00"))
    with new_session(app) as session:
        session.add(Delivery(user_id=user_id, channel_id=channel_id, item_id=None, kind="test",
                             due_date=None, planned_at=utc("2027-03-28 06:00"),
                             status="sending", attempts=0, claimed_by="dead",
                             lease_until=utc("2027-03-28 06:10"),
                             created_at=utc("2027-03-28 06:00")))
        session.commit()
    courier = Courier()
    reminders.run_pass(sessions, courier, utc("2027-03-28 07:00"))
    assert sorted(courier.messages()) == [("2027-03-28T07:00:00+00:00", ["A", "D"]),
                                          ("2027-03-28T07:00:00+00:00", ["test"])]


def test_a_reminder_moved_past_a_new_digest_time_is_still_sent(app: Flask,
                                                               sessions: Any) -> None:
    """The 28th's digest went at 08:00 with A and D; B came due at 09:00 and waits. At 10:00
    the time becomes 20:00: that day's digest has gone, so B goes at 20:00 on the 29th, 35
    hours after it came due — not given up after 24."""
    _, channel_id = london_account(app)
    courier = Courier()
    for at in ("2027-03-27 10:00", "2027-03-28 07:00", "2027-03-28 08:00"):
        reminders.run_pass(sessions, courier, utc(at))
    with app.app_context(), new_session(app) as session:
        channels.update_channel(session, session.get_one(Channel, channel_id),
                                {"digest": "20:00"}, utc("2027-03-28 09:00"))
        session.commit()
    for at in ("2027-03-28 19:00", "2027-03-28 22:00", "2027-03-29 18:59"):
        reminders.run_pass(sessions, courier, utc(at))
    reminders.run_pass(sessions, courier, utc("2027-03-29 19:00"))  # 20:00 BST
    assert courier.messages() == [("2027-03-28T07:00:00+00:00", ["A", "D"]),
                                  ("2027-03-29T19:00:00+00:00", ["B", "C"])]
    with new_session(app) as session:
        assert set(session.scalars(select(Delivery.status))) == {"sent"}


def test_what_missed_an_earlier_day_goes_in_today_s_digest_only(app: Flask,
                                                                sessions: Any) -> None:
    """No sender ran for two days; the first pass comes before today's time: nothing then,
    one message at the time."""
    london_account(app)
    courier = Courier()
    reminders.run_pass(sessions, courier, utc("2027-03-29 06:00"))  # 07:00 BST
    assert courier.sent == []
    reminders.run_pass(sessions, courier, utc("2027-03-29 07:00"))
    reminders.run_pass(sessions, courier, utc("2027-03-29 08:00"))
    assert courier.messages() == [("2027-03-29T07:00:00+00:00", ["A", "B", "C", "D"])]
