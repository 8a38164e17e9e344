"""The sender against a real SMTP server: what arrives, faults, and several senders at once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from email.message import EmailMessage
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from feedsvc import accounts, items, reminders, sender
from feedsvc.db import new_session
from feedsvc.models import Channel, Delivery, Item, User

from helpers import PASSWORD, sender_environment
from helpers.servers import BIN, child_environment
from helpers.smtp import SmtpServer

NOW = dt.datetime(2027, 3, 17, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai


def confirmed_account(app: Flask, email: str = "someone@example.com",
                      locale: str = "en") -> int:
    with app.app_context(), new_session(app) as session:
        user = accounts.create_user(session, email, PASSWORD, timezone="Asia/Shanghai",
                                    locale=locale, verified=True)
        session.commit()
        return user.id


def add_items(app: Flask, user_id: int, count: int, due: str = "2027-03-31") -> list[int]:
    """Items whose 14-day alarm (09:00 on 17 March in Shanghai) is due at ``NOW``."""
    with app.app_context(), new_session(app) as session:
        user = session.get_one(User, user_id)
        made = [items.create_item(session, user, {"title": f"SIM {n}", "due_date": due})
                for n in range(count)]
        session.commit()
        return [item.id for item in made]


def statuses(app: Flask) -> list[str]:
    with new_session(app) as session:
        return list(session.scalars(select(Delivery.status).order_by(Delivery.id)))


def subjects(server: SmtpServer) -> list[str]:
    return sorted(str(received.message["Subject"]) for received in server.received)


def text_part(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


def test_due_reminders_arrive_as_mail_over_one_connection(mail_app: Flask,
                                                          smtp_server: SmtpServer) -> None:
    user_id = confirmed_account(mail_app)
    add_items(mail_app, user_id, 3)
    assert sender.run_pass(mail_app, NOW).line() == "sent 3, retrying 0, failed 0, skipped 0"
    assert smtp_server.connections == 1
    assert subjects(smtp_server) == [f"Renew SIM {n} — due in 14 days (Mar 31)" for n in range(3)]
    received = smtp_server.received[0]
    assert received.recipients == ["someone@example.com"]
    message = received.message
    assert message["From"].addresses[0].addr_spec == "reminders@feeds.example.org"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@feeds.example.org>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://feeds.example.org/unsubscribe/")
    text = text_part(message, "plain")
    assert "https://feeds.example.org/act/" in text
    assert "https://feeds.example.org/act/" in text_part(message, "html")
    # A second pass sends nothing again.
    assert sender.run_pass(mail_app, NOW + dt.timedelta(minutes=1)).sent == 0
    assert len(smtp_server.received) == 3


def test_a_chinese_reminder_has_its_subject_encoded_and_decoded_back(
        mail_app: Flask, smtp_server: SmtpServer) -> None:
    user_id = confirmed_account(mail_app, locale="zh-Hans")
    add_items(mail_app, user_id, 1)
    sender.run_pass(mail_app, NOW)
    (received,) = smtp_server.received
    assert b"=?utf-8?" in received.raw.split(b"\r\n\r\n", 1)[0]
    assert str(received.message["Subject"]) == "续费 SIM 0 — 14 天后到期（3月31日）"


def test_a_relay_that_is_down_delays_reminders_and_sends_them_once_when_back(
        mail_app: Flask, smtp_server: SmtpServer) -> None:
    user_id = confirmed_account(mail_app)
    add_items(mail_app, user_id, 2)
    smtp_server.stop()
    assert sender.run_pass(mail_app, NOW).line() == "sent 0, retrying 2, failed 0, skipped 0"
    smtp_server.start()
    assert sender.run_pass(mail_app, NOW + dt.timedelta(seconds=30)).sent == 0  # not yet
    assert sender.run_pass(mail_app, NOW + dt.timedelta(minutes=1)).line() == \
        "sent 2, retrying 0, failed 0, skipped 0"
    assert len(smtp_server.received) == 2
    with new_session(mail_app) as session:
        assert session.scalars(select(Channel)).one().failures == 0


def test_a_relay_answering_4xx_then_2xx_delivers_once(mail_app: Flask,
                                                      smtp_server: SmtpServer) -> None:
    user_id = confirmed_account(mail_app)
    add_items(mail_app, user_id, 1)
    smtp_server.defer_messages(1)
    assert sender.run_pass(mail_app, NOW).line() == "sent 0, retrying 1, failed 0, skipped 0"
    assert sender.run_pass(mail_app, NOW + dt.timedelta(minutes=1)).line() == \
        "sent 1, retrying 0, failed 0, skipped 0"
    assert len(smtp_server.received) == 1
    with new_session(mail_app) as session:
        delivery = session.scalars(select(Delivery)).one()
        assert (delivery.status, delivery.attempts) == ("sent", 2)


def test_a_refused_address_fails_at_once_and_five_in_a_row_pause_it(
        mail_app: Flask, smtp_server: SmtpServer) -> None:
    user_id = confirmed_account(mail_app)
    add_items(mail_app, user_id, reminders.PAUSE_AFTER)
    smtp_server.refuse_recipient("someone@example.com")
    assert sender.run_pass(mail_app, NOW).line() == "sent 0, retrying 0, failed 5, skipped 0"
    with new_session(mail_app) as session:
        channel = session.scalars(select(Channel)).one()
        assert channel.paused_at == NOW
        assert channel.pause_reason is not None and "550" in channel.pause_reason
    add_items(mail_app, user_id, 1, due="2027-03-20")  # its 3-day alarm is due too
    assert sender.run_pass(mail_app, NOW + dt.timedelta(minutes=1)).line() == \
        "sent 0, retrying 0, failed 0, skipped 0"


def test_a_test_message_goes_at_once(mail_app: Flask, smtp_server: SmtpServer) -> None:
    user_id = confirmed_account(mail_app)
    with new_session(mail_app) as session:
        channel_id = session.scalars(select(Channel.id).where(Channel.user_id == user_id)).one()
    delivery = sender.send_test(mail_app, channel_id, NOW)
    assert (delivery.kind, delivery.status, delivery.item_id) == ("test", "sent", None)
    assert len(smtp_server.received) == 1
    smtp_server.stop()
    failed = sender.send_test(mail_app, channel_id, NOW)
    assert failed.status == "failed" and failed.error


def test_several_sender_processes_send_each_reminder_once(mail_app: Flask,
                                                          smtp_server: SmtpServer) -> None:
    """Senders started at the same moment on the same due reminders (the real clock)."""
    users = [confirmed_account(mail_app, f"person{n}@example.com") for n in range(3)]
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=5)).date().isoformat()
    for user_id in users:
        add_items(mail_app, user_id, 20, due=soon)
    env = sender_environment(mail_app, FEEDSVC_SMTP_URL=smtp_server.url())
    processes = [subprocess.Popen([str(BIN / "feedsvc"), "remind"], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(4)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, outputs
    sent = sum(int(out.split()[1].rstrip(",")) for out, _ in outputs)
    assert sent == 60, outputs
    recipients = sorted((r.recipients[0], str(r.message["Subject"]))
                        for r in smtp_server.received)
    assert len(recipients) == 60 == len(set(recipients))
    assert statuses(mail_app) == ["sent"] * 60


def test_a_sender_killed_mid_pass_loses_nothing(mail_app: Flask,
                                                smtp_server: SmtpServer) -> None:
    user_id = confirmed_account(mail_app)
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=5)).date().isoformat()
    add_items(mail_app, user_id, 30, due=soon)
    smtp_server.delay = 0.2  # seconds per message: the pass takes a while
    env = sender_environment(mail_app, FEEDSVC_SMTP_URL=smtp_server.url())
    process = subprocess.Popen([str(BIN / "feedsvc"), "remind"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(smtp_server.received) < 5:
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    smtp_server.delay = 0.0
    arrived = len(smtp_server.received)
    assert 5 <= arrived < 30
    # Its claims lapse; the next pass after that takes them over and sends the rest.
    later = dt.datetime.now(dt.UTC) + reminders.LEASE + dt.timedelta(seconds=1)
    sender.run_pass(mail_app, later)
    with new_session(mail_app) as session:
        assert session.scalar(select(func.count()).select_from(Delivery)
                              .where(Delivery.status == "sent")) == 30
    titles = [str(r.message["Subject"]) for r in smtp_server.received]
    # Each item arrived, and at most the one in flight when it died arrived twice.
    assert len(set(titles)) == 30 and len(titles) - 30 <= 1


def test_the_command_prints_one_summary_line(mail_app: Flask, smtp_server: SmtpServer) -> None:
    user_id = confirmed_account(mail_app)
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).date().isoformat()
    add_items(mail_app, user_id, 2, due=soon)
    env = sender_environment(mail_app, FEEDSVC_SMTP_URL=smtp_server.url())
    result = subprocess.run([str(BIN / "feedsvc"), "remind"], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    # Each item's 14-day alarm passed unsent before its 3-day one: the latest goes.
    assert result.stdout == "sent 2, retrying 0, failed 0, skipped 2\n"


def test_the_command_fails_when_the_database_is_unreachable(tmp_path: Path) -> None:
    env = child_environment(FEEDSVC_INSTANCE_PATH=str(tmp_path),
                            FEEDSVC_DATABASE_URL=f"sqlite:///{tmp_path}/missing/db.sqlite3")
    result = subprocess.run([str(BIN / "feedsvc"), "remind"], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert result.returncode == 1
    assert "database cannot be reached" in result.stderr


def test_the_loop_stops_cleanly_on_sigterm(mail_app: Flask, smtp_server: SmtpServer) -> None:
    env = sender_environment(mail_app, FEEDSVC_SMTP_URL=smtp_server.url())
    process = subprocess.Popen([str(BIN / "feedsvc"), "remind", "--loop", "--every", "1"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    deadline = time.monotonic() + 60
    while True:
        with new_session(mail_app) as session:
            if sender.last_pass(session) is not None:
                break
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    time.sleep(1.5)  # at least one more pass, a second after the first
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out.count("sent 0, retrying 0, failed 0, skipped 0") >= 2
    assert "Stopped." in err


def test_items_are_planned_so_a_pass_reads_only_what_is_due(mail_app: Flask) -> None:
    user_id = confirmed_account(mail_app)
    (item_id,) = add_items(mail_app, user_id, 1)
    sender.run_pass(mail_app, NOW - dt.timedelta(days=30))
    with new_session(mail_app) as session:
        assert session.get_one(Item, item_id).next_reminder_at == NOW
