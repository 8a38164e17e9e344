"""The reminder sender: the engine's courier for e-mail, and the passes the CLI runs.

``feedsvc.reminders`` decides what is due and records what happened; this module writes
each message (``feedsvc.mailtext``, in the account's language, so it needs an app context)
and hands it to the postman (``feedsvc.mail``), one SMTP connection per pass. Every link in
a message comes from ``FEEDSVC_BASE_URL`` (``baseurl.mail_base_url``), never from a request.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc import actions, channels, mail, mailtext, reminders, status
from feedsvc.baseurl import mail_base_url
from feedsvc.db import new_session
from feedsvc.models import Channel, Delivery, SenderPass, User, dialect_insert
from feedsvc.reminders import Outgoing, Permanent, Summary, Temporary
from feedsvc.status import today_in

log = logging.getLogger(__name__)


class MailCourier:
    """Writes each outgoing reminder as a mail and posts it; failures as the engine's."""

    def __init__(self, app: Flask, post: mail.Post) -> None:
        self.app = app
        self.post = post
        self.settings = mail.mail_settings(app.config)
        self.base_url = mail_base_url(app.config)
        self.secret_key = str(app.config["SECRET_KEY"])

    def compose(self, outgoing: Outgoing) -> mail.Mail:
        """The mail of one delivery, in the account's language."""
        user, channel, item = outgoing.user, outgoing.channel, outgoing.item
        unsubscribe = f"{self.base_url}/unsubscribe/" + channels.unsubscribe_token(
            self.secret_key, channel)
        if item is None:
            return mailtext.test_message(f"{self.base_url}/reminders", to=channel.target,
                                         locale=user.locale, unsubscribe_url=unsubscribe)
        today = today_in(user.timezone, outgoing.now)
        facts = mailtext.ReminderFacts.of_item(item, outgoing.kind, today)
        links = mailtext.ReminderLinks(
            item=f"{self.base_url}/items/{item.id}",
            renewed=actions.link(self.base_url, actions.make_token(
                self.secret_key, actions.RENEW, item.id, item.due_date)),
            snooze=actions.link(self.base_url, actions.make_token(
                self.secret_key, actions.SNOOZE, item.id, item.due_date)),
            unsubscribe=unsubscribe)
        return mailtext.reminder(facts, links, to=channel.target, locale=user.locale)

    def __call__(self, outgoing: Outgoing) -> None:
        with self.app.app_context():
            message = mail.build_message(self.compose(outgoing), self.settings, outgoing.now)
        try:
            self.post.send(message)
        except mail.RelayUnavailable as problem:
            # The service's outage, not the recipient's: it never counts against a channel.
            raise Temporary(problem.reason, counts=False) from None
        except mail.TemporaryFailure as problem:
            raise Temporary(problem.reason) from None
        except mail.PermanentFailure as problem:
            raise Permanent(problem.reason) from None


def _sessions(app: Flask) -> Callable[[], Session]:
    return lambda: new_session(app)


def run_pass(app: Flask, now: dt.datetime | None = None) -> Summary:
    """One pass of the sender at ``now`` (the current time by default), recorded."""
    now = now or status.utc_now()
    settings = mail.mail_settings(app.config)
    with mail.postman(settings, mail.outbox_path(app.instance_path)) as post:
        summary = reminders.run_pass(_sessions(app), MailCourier(app, post), now)
    with new_session(app) as session:
        # One row for every sender of every host: the last to finish writes it.
        session.execute(dialect_insert(session, SenderPass)
                        .values(id=1, finished_at=now, summary=summary.line())
                        .on_conflict_do_update(index_elements=["id"], set_={
                            "finished_at": now, "summary": summary.line()}))
        session.commit()
    return summary


def last_pass(session: Session) -> SenderPass | None:
    """The last pass any sender finished, or None."""
    return session.get(SenderPass, 1)


def test_channel(app: Flask, session: Session, user: User,
                 channel_id: int) -> tuple[Channel, Delivery]:
    """Test one of ``user``'s channels at once (``NotFound`` for another's, refused when it
    cannot be tested yet). The test is recorded in transactions of its own, so the caller's
    is ended first: on SQLite it holds the write lock."""
    channel = channels.get_channel(session, user, channel_id)
    channels.check_testable(channel)
    session.commit()
    return channel, send_test(app, channel.id)


def send_test(app: Flask, channel_id: int, now: dt.datetime | None = None) -> Delivery:
    """Send a channel's test message at once; the delivery records how it went."""
    now = now or status.utc_now()
    settings = mail.mail_settings(app.config)
    with mail.postman(settings, mail.outbox_path(app.instance_path)) as post:
        delivery_id = reminders.send_test(_sessions(app), channel_id, MailCourier(app, post),
                                          now)
    with new_session(app) as session:
        delivery = session.scalars(select(Delivery).where(Delivery.id == delivery_id)).one()
        session.expunge(delivery)
        return delivery
