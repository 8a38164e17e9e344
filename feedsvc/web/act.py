"""Action links: "I renewed it" and "Remind me tomorrow", one tap from a reminder or a feed.

No log-in: the sealed token in the address (``feedsvc.actions``) is the only key, and it
reaches one cycle of one item. A GET only shows the item's title and due date and one button,
since mail scanners and link previews follow GETs; the button's POST does it. Renewing is
the list's one-tap "Renewed" (``renewals.renew``, dated today in the account's zone), and the
check that the link's cycle is still the current one happens in the same transaction, on a
locked row, so two taps never renew twice. The pages speak the owner's language; a link
that leads to no item answers in the visitor's, as other pages do.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_datetime_format
from flask import current_app, render_template, request
from flask_babel import force_locale
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from feedsvc import actions, reminders, renewals, status
from feedsvc.db import get_session
from feedsvc.errors import Conflict, ValidationFailed
from feedsvc.items import MAX_ID
from feedsvc.models import Feed, Item, Renewal, User
from feedsvc.web import Page, bp
from feedsvc.web.forms import RENEWAL_CONTROLS, FormErrors, form_errors
from feedsvc.web.i18n import BABEL_LOCALES, N_, _, format_day, get_locale


class Refused(Exception):
    """A link that acts on nothing: 404 (not one of ours) or 410 (its item, feed or cycle
    is gone). ``heading`` and ``message`` are msgids; ``locale`` is the owner's when the
    item is known, else None (the visitor's language)."""

    def __init__(self, status: int, heading: str, message: str, locale: str | None = None
                 ) -> None:
        super().__init__(message)
        self.status = status
        self.heading = heading
        self.message = message
        self.locale = locale


@dataclass(frozen=True)
class Link:
    """A live link: what its token says, the item and its owner."""

    token: str
    action: actions.Action
    item: Item
    user: User

    @property
    def today(self) -> dt.date:
        return status.today_in(self.user.timezone)


def _gone(message: str, locale: str | None = None) -> Refused:
    return Refused(410, N_("This link no longer works"), message, locale)


def open_link(db: Session, token: str, lock: bool = False) -> Link:
    """The link behind ``token``, or ``Refused``; with ``lock``, the item's row stays locked
    until the transaction ends (PostgreSQL; on SQLite a writing request holds the database)."""
    try:
        action = actions.read_token(current_app.config["SECRET_KEY"], token)
    except actions.BadToken:
        action = None
    if action is None or not 0 < action.item_id <= MAX_ID:
        raise Refused(404, N_("Link not found"),
                      N_("This link is not valid. Check that it was copied in full."))
    item = db.get(Item, action.item_id, with_for_update=lock)
    if item is None:  # deleted, on its own or with its account
        raise _gone(N_("This link no longer works: what it was for has been deleted."))
    user = item.user
    if action.feed_id is not None:
        feed = db.get(Feed, action.feed_id) if action.feed_id <= MAX_ID else None
        if feed is None or feed.user_id != item.user_id or not feed.action_links or \
                not hmac.compare_digest(actions.feed_tag(feed.secret, item.id, action.due_date,
                                                         action.action), action.feed_tag):
            raise _gone(N_("This link no longer works: the calendar it came from has a new "
                           "address, was deleted, or no longer carries such links."), user.locale)
    link = Link(token, action, item, user)
    if link.today > actions.expires_on(action.due_date, item.grace_days):
        raise _gone(N_("This link has expired. Sign in to feedsvc to renew the item there."),
                    user.locale)
    return link


@contextmanager
def _language(locale: str | None) -> Iterator[None]:
    """Pages, dates and form errors in the owner's language (None: the visitor's)."""
    if locale is None:
        yield
        return
    with force_locale(BABEL_LOCALES.get(locale, "en")):
        yield


def _page(view: Callable[[Session, Link], Page], token: str) -> Page:
    """Open the link and run ``view`` in the owner's language; a refusal gets its page."""
    db = get_session()
    try:
        link = open_link(db, token, lock=request.method == "POST")
        with _language(link.user.locale):
            return view(db, link)
    except Refused as refusal:
        db.rollback()
        with _language(refusal.locale):
            return render_template("act/refused.html", heading=_(refusal.heading),
                                   message=_(refusal.message)), refusal.status


def _renewal_of_cycle(db: Session, link: Link) -> Renewal | None:
    """The renewal that ended the link's cycle, if one did."""
    for renewal in renewals.list_renewals(db, link.item):
        if renewal.due_before == link.action.due_date:
            return renewal
    return None


def _no_longer_current(db: Session, link: Link) -> str | None:
    """Why the link's cycle is over ("already renewed on …"), or None while it is current."""
    item = link.item
    if item.due_date == link.action.due_date:
        return None
    renewal = _renewal_of_cycle(db, link)
    if renewal is not None:
        return _("“%(title)s” was already renewed on %(renewed_on)s, next due %(due)s.",
                 title=item.title, renewed_on=format_day(renewal.renewed_on),
                 due=format_day(item.due_date))
    return _("This link was for the due date %(old)s, but “%(title)s” is now due %(due)s, "
             "so it no longer applies.", old=format_day(link.action.due_date),
             title=item.title, due=format_day(item.due_date))


def _confirm(link: Link, message: str | None = None, errors: FormErrors | None = None,
             values: dict[str, str] | None = None, status_code: int = 200,
             done: str | None = None) -> Page:
    """The item's title and due date, and the one button (with the new due date, for an
    item that does not repeat)."""
    errors = errors or FormErrors()
    item = link.item
    renewing = link.action.action == actions.RENEW
    return render_template(
        "act/confirm.html", token=link.token, item=item, renewing=renewing,
        ask_due_date=renewing and renewals.repeat_rule(item) is None,
        earliest_due=item.due_date + dt.timedelta(days=1), values=values or {},
        errors=errors.fields, general=errors.general, message=message, done=done,
    ), status_code


def _undo_proof(link: Link, renewal_id: int) -> str:
    return actions.undo_proof(current_app.config["SECRET_KEY"], link.token, renewal_id)


def _result(link: Link, message: str, status_code: int = 200, success: bool = False,
            undo: Renewal | None = None) -> Page:
    """What happened (``success``) or why nothing did, with the item's title and due date;
    after a renewal, with the Undo button that only this page can send."""
    return render_template(
        "act/result.html", token=link.token, item=link.item, message=message,
        success=success, undo=undo, proof=_undo_proof(link, undo.id) if undo else None,
    ), status_code


def show(db: Session, link: Link) -> Page:
    """GET: the button, or why the link no longer acts. Changes nothing."""
    over = _no_longer_current(db, link)
    if over is not None:
        return _result(link, over)
    return _confirm(link)


def act(db: Session, link: Link) -> Page:
    """POST: renew, or plan one more reminder, if the link's cycle is still the current one."""
    over = _no_longer_current(db, link)
    if over is not None:
        return _result(link, over, 409)
    if link.action.action == actions.SNOOZE:
        return _snooze(db, link)
    return _renew(db, link)


def _renew(db: Session, link: Link) -> Page:
    item = link.item
    data: dict[str, str] = {}
    values: dict[str, str] = {}
    if renewals.repeat_rule(item) is None:
        values["due_date"] = request.form.get("due_date", "").strip()
        if values["due_date"]:
            data["due_date"] = values["due_date"]
    try:
        renewal = renewals.renew(db, item, data, link.today)
        db.commit()
    except ValidationFailed as error:
        db.rollback()
        return _confirm(link, _("Please correct the marked fields; nothing was saved."),
                        form_errors(error.fields, {}, RENEWAL_CONTROLS), values, 422)
    except StaleDataError:
        # Someone else changed the item between the check and the write (the row lock
        # makes this rare): nothing was recorded; say how things stand now.
        db.rollback()
        return _changed_meanwhile(db, link)
    return _result(link, _("%(title)s renewed: next due %(due)s", title=item.title,
                           due=format_day(item.due_date)), success=True, undo=renewal)


def _changed_meanwhile(db: Session, link: Link) -> Page:
    fresh = open_link(db, link.token)
    over = _no_longer_current(db, fresh)
    if over is not None:
        return _result(fresh, over, 409)
    return _confirm(fresh, _("“%(title)s” was changed elsewhere at the same moment, so "
                             "nothing was recorded. Please try again.", title=fresh.item.title),
                    status_code=409)


def _moment(at: dt.datetime, zone: str) -> str:
    """A moment in the owner's zone and language, to the minute, as ``format_timestamp``
    writes it for a signed-in reader ("Jan 20, 2027, 12:00 PM", "2027年1月20日 12:00")."""
    locale = get_locale()
    tzinfo = ZoneInfo(zone)
    local = at.astimezone(tzinfo)
    joined = get_datetime_format("medium", locale=locale)
    return str(joined).replace("{0}", format_time(local, "short", tzinfo=tzinfo, locale=locale)) \
        .replace("{1}", format_date(local.date(), "medium", locale=locale))


def _snooze(db: Session, link: Link) -> Page:
    item, user = link.item, link.user
    now = status.utc_now()
    at = now + reminders.SNOOZE
    # A snoozed reminder is sent only until the cycle's last day ends (the reminder engine's
    # rule): past that, say so instead of promising a reminder that would be skipped.
    [planned] = [moment for moment in reminders.cycle_moments(
        item.due_date, item.grace_days, [], user.timezone, [at]) if moment.kind == "snoozed"]
    if at >= planned.useful_until:
        last_day = planned.useful_until.astimezone(ZoneInfo(user.timezone)).date() \
            - dt.timedelta(days=1)
        return _result(link, _("Too late for another reminder: the last day for “%(title)s” "
                               "was %(date)s.", title=item.title, date=format_day(last_day)),
                       409)
    reminders.snooze(db, item, now)
    db.commit()
    return _result(link, _("We will remind you again at %(moment)s (%(zone)s time).",
                           moment=_moment(at, user.timezone), zone=user.timezone),
                   success=True)


def undo(db: Session, link: Link) -> Page:
    """POST: undo the renewal that ended the link's cycle, while it is still the latest."""
    item = link.item
    history = renewals.list_renewals(db, item)
    latest = history[0] if history else None
    renewal_id = request.form.get("renewal", "")
    proof = request.form.get("proof", "").encode()
    if not (renewal_id.isascii() and renewal_id.isdigit() and len(renewal_id) <= 19
            and hmac.compare_digest(proof, _undo_proof(link, int(renewal_id)).encode())):
        # Only what this link renewed: never a renewal made elsewhere, with its receipt.
        return _result(link, _("Nothing was undone: this page can only undo the renewal "
                               "that was made on it."), 409)
    if latest is None or latest.id != int(renewal_id):
        return _result(link, _("Nothing was undone: that renewal is no longer the latest one "
                               "of “%(title)s”, which is due %(due)s.", title=item.title,
                               due=format_day(item.due_date)), 409)
    renewed_on = latest.renewed_on
    try:
        renewals.undo_latest(db, item)
        db.commit()
    except (Conflict, StaleDataError):
        db.rollback()
        fresh = open_link(db, link.token)
        return _result(fresh, _("“%(title)s” was changed elsewhere at the same moment, so "
                                "nothing was undone. Check it and confirm again.",
                                title=fresh.item.title), 409)
    # The cycle is open again, and so is the link: offer its button once more.
    return _confirm(link, done=_("Undid the renewal of %(renewed_on)s: “%(title)s” is due "
                                 "%(due)s again.", renewed_on=format_day(renewed_on),
                                 title=item.title, due=format_day(item.due_date)))


@bp.get("/act/<token>")
def action_page(token: str) -> Page:
    """The action link's page: the item's title and due date, and one button."""
    return _page(show, token)


@bp.post("/act/<token>")
def action_done(token: str) -> Page:
    """The button: "I renewed it" or "Remind me tomorrow"."""
    return _page(act, token)


@bp.post("/act/<token>/undo")
def action_undone(token: str) -> Page:
    """The Undo button after "I renewed it"."""
    return _page(undo, token)
