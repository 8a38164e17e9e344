"""The reminder sender: the engine's courier, and the passes the CLI runs.

``feedsvc.reminders`` decides what is due and records what happened; this module writes
each message (``feedsvc.mailtext``, in the account's language, so it needs an app context)
and hands it to the postman (``feedsvc.mail``, one SMTP connection per pass) or, for a push
channel, to its service through Apprise (``feedsvc.push``, with "I renewed it" and "Remind
me tomorrow" as buttons where the service has them). Every link in
a message comes from ``FEEDSVC_BASE_URL`` (``baseurl.mail_base_url``), never from a request.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedsvc import actions, channels, mail, mailtext, push, reminders, status
from feedsvc.baseurl import mail_base_url
from feedsvc.db import new_session
from feedsvc.models import Channel, Delivery, Item, SenderPass, User, dialect_insert
from feedsvc.reminders import Outgoing, Permanent, Summary, Temporary
from feedsvc.sealed import Unreadable
from feedsvc.status import today_in
from feedsvc.texts import N_

log = logging.getLogger(__name__)


class Courier:
    """Writes each outgoing reminder for its channel and carries it: a mail through the
    postman, or a push message through Apprise (``feedsvc.push``); failures as the engine's.
    """

    def __init__(self, app: Flask, post: mail.Post) -> None:
        self.app = app
        self.post = post
        self.settings = mail.mail_settings(app.config)
        self.base_url = mail_base_url(app.config)
        self.secret_key = str(app.config["SECRET_KEY"])
        self.allow = app.config["CHANNEL_ALLOW_HOSTS"]

    def _links(self, item: Item, unsubscribe: str | None, actions_too: bool = True
               ) -> mailtext.ReminderLinks:
        def action(kind: str) -> str | None:
            return actions.link(self.base_url, actions.make_token(
                self.secret_key, kind, item.id, item.due_date)) if actions_too else None

        return mailtext.ReminderLinks(item=f"{self.base_url}/items/{item.id}",
                                      renewed=action(actions.RENEW),
                                      snooze=action(actions.SNOOZE), unsubscribe=unsubscribe)

    def compose(self, outgoing: Outgoing, buttons: bool = False) -> mail.Mail:
        """The message of one delivery, or of a digest, in the account's language; with
        ``buttons`` the action links are left to the service's buttons."""
        user, channel, item = outgoing.user, outgoing.channel, outgoing.item
        unsubscribe = None if channel.kind != "email" else (
            f"{self.base_url}/unsubscribe/"
            + channels.unsubscribe_token(self.secret_key, channel))
        today = today_in(user.timezone, outgoing.now)
        if outgoing.digest:
            return mailtext.digest([
                (mailtext.ReminderFacts.of_item(each, kind, today), self._links(each, None))
                for kind, each in outgoing.digest],
                to=channel.target, locale=user.locale, unsubscribe_url=unsubscribe)
        if item is None:
            return mailtext.test_message(f"{self.base_url}/reminders", to=channel.target,
                                         locale=user.locale, unsubscribe_url=unsubscribe)
        facts = mailtext.ReminderFacts.of_item(item, outgoing.kind, today)
        return mailtext.reminder(facts, self._links(item, unsubscribe, not buttons),
                                 to=channel.target, locale=user.locale)

    def __call__(self, outgoing: Outgoing) -> None:
        if outgoing.channel.kind == "apprise":
            self._push(outgoing)
            return
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

    def _push(self, outgoing: Outgoing) -> None:
        try:
            url = channels.push_url(self.secret_key, outgoing.channel)
        except Unreadable:
            raise Permanent(N_("The channel's address cannot be read with this service's "
                               "secret key: add the channel again.")) from None
        item = outgoing.item
        buttons = push.has_buttons(url) and item is not None and not outgoing.digest
        with self.app.app_context():
            message = self.compose(outgoing, buttons)
            labels = mailtext.action_labels(outgoing.user.locale)
        buttons_: list[tuple[str, str]] = []
        if buttons and item is not None:
            links = self._links(item, None)
            buttons_ = list(zip(labels, (str(links.renewed), str(links.snooze)), strict=True))
        push.send(url, message.subject, mailtext.message_text(message), self.allow, buttons_)


def _sessions(app: Flask) -> Callable[[], Session]:
    return lambda: new_session(app)


def run_pass(app: Flask, now: dt.datetime | None = None) -> Summary:
    """One pass of the sender at ``now`` (the current time by default), recorded."""
    now = now or status.utc_now()
    settings = mail.mail_settings(app.config)
    with mail.postman(settings, mail.outbox_path(app.instance_path)) as post:
        summary = reminders.run_pass(_sessions(app), Courier(app, post), now)
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
        delivery_id = reminders.send_test(_sessions(app), channel_id, Courier(app, post),
                                          now)
    with new_session(app) as session:
        delivery = session.scalars(select(Delivery).where(Delivery.id == delivery_id)).one()
        session.expunge(delivery)
        return delivery
