"""The Reminders page (where reminders go, and what was sent), and the unsubscribe links.

Adding an address mails it a confirmation link at once (``accountmail.send``);
nothing else goes there until the link is opened. A push or chat channel is an Apprise URL,
checked when it is added and shown masked from then on: the URL as typed only goes back into
its own form field, after a failed submit. "Send a test" sends at once too, and the
page then says how it went. A relay that cannot be reached is an answer on the page, never
an error page: the address stays, and the confirmation can be sent again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_login import login_required

from feedsvc import accountmail, channels, csrf, mail, push, sender, status
from feedsvc.db import get_session
from feedsvc.errors import BadRequest, Conflict, ValidationFailed
from feedsvc.models import Channel, Delivery, Item, User
from feedsvc.reminders import PAUSE_AFTER
from feedsvc.web import Page, bp, signed_in_user
from feedsvc.web.forms import FormErrors
from feedsvc.web.i18n import BABEL_LOCALES, N_, _
from feedsvc.web.messages import translate, translate_stored

# How many deliveries an item's page shows; the Reminders page shows the latest of all.
ITEM_DELIVERIES = 20
# The reasons the reminder engine records for a delivery that did not go, word for word
# (feedsvc.reminders), marked here so that the page can show them translated.
DELIVERY_REASONS = (
    N_("not confirmed"),
    N_("the channel is off"),
    N_("the item is archived"),
    N_("renewed meanwhile"),
    N_("could not be sent within 24 hours"),
    N_("a later reminder went instead"),
    N_("too late to be of use"),
)
# Each delivery status as a badge's colour (the item statuses' classes).
STATUS_BADGES = {"waiting": "due_soon", "sent": "ok", "sending": "due_soon",
                 "retrying": "due_soon", "failed": "overdue", "skipped": "lapsed"}
# The push form's controls.
PUSH_CONTROLS = ("url", "name", "digest")


def kind_labels() -> dict[str, str]:
    """Each kind of reminder in words."""
    return {"alarm": _("Reminder"), "overdue": _("Overdue"), "last_day": _("Last day"),
            "snoozed": _("Snoozed"), "test": _("Test message")}


def status_labels() -> dict[str, str]:
    """Each delivery status in words."""
    return {"waiting": _("Waiting for the digest"), "sending": _("Sending"), "sent": _("Sent"),
            "retrying": _("Will retry"), "failed": _("Failed"), "skipped": _("Skipped")}


@dataclass(frozen=True)
class DeliveryRow:
    """One delivery as the pages show it."""

    delivery: Delivery
    title: str  # the item's title, or "Test message"
    kind: str
    status: str
    badge: str
    error: str | None


def delivery_rows(user: User, item: Item | None = None,
                  limit: int = channels.RECENT_DELIVERIES) -> list[DeliveryRow]:
    """The user's latest deliveries (of one item, if given), newest first, in words."""
    db = get_session()
    found = channels.list_deliveries(db, user, item, limit)
    titles = channels.item_titles(db, found)
    kinds, statuses = kind_labels(), status_labels()
    return [DeliveryRow(
        delivery=delivery,
        title=kinds["test"] if delivery.item_id is None else titles.get(delivery.item_id, ""),
        kind=kinds.get(delivery.kind, delivery.kind),
        status=statuses.get(delivery.status, delivery.status),
        badge=STATUS_BADGES.get(delivery.status, "lapsed"),
        error=translate_stored(delivery.error) if delivery.error else None,
    ) for delivery in found]


@dataclass(frozen=True)
class ChannelCard:
    """One channel on the Reminders page, with its state in words."""

    channel: Channel
    verified: bool
    paused: bool
    reason: str | None
    service: str | None  # a push channel's service ("ntfy"), None for an e-mail address


@dataclass(frozen=True)
class DigestProblem:
    """A digest time a card's form could not set: the card, what was typed, and why."""

    channel_id: int
    value: str
    message: str


def _card(channel: Channel) -> ChannelCard:
    paused = channels.is_paused(channel)
    return ChannelCard(channel=channel, verified=channel.verified_at is not None, paused=paused,
                       reason=translate_stored(channel.pause_reason)
                       if paused and channel.pause_reason else None,
                       service=push.service_of(channel.target)
                       if channel.kind == "apprise" else None)


def _render(values: dict[str, str] | None = None, errors: FormErrors | None = None,
            message: str | None = None, status: int = 200, form: str = "email",
            digest_problem: DigestProblem | None = None) -> Page:
    """The page; ``form`` names the form that ``values``, ``errors`` and ``message`` belong
    to: an add form (``email`` or ``push``), or a card's ``digest`` (``digest_problem``)."""
    user = signed_in_user()
    errors = errors or FormErrors()
    return render_template(
        "reminders/reminders.html",
        cards=[_card(channel) for channel in channels.list_channels(get_session(), user)],
        deliveries=delivery_rows(user), mail_configured=mail.mail_configured(current_app.config),
        pause_after=PAUSE_AFTER, timezone=user.timezone,
        values=values or {}, errors=errors.fields, general=errors.general, message=message,
        form=form, digest_problem=digest_problem,
    ), status


def _field_errors(error: ValidationFailed | Conflict) -> FormErrors:
    """The error's messages next to the form controls they name."""
    return FormErrors(fields={name: translate(text) for name, text in error.fields.items()})


def _back() -> Page:
    # To the top of the page, where the flashed outcome is shown.
    return redirect(url_for("web.reminders"))


def _flash_confirmation(channel: Channel, problem: mail.MailError | None) -> None:
    if problem is None:
        flash(_("We sent a confirmation link to %(address)s. Reminders go there once it is "
                "opened.", address=channel.target), "success")
    else:
        flash(_("The confirmation mail to %(address)s could not be sent now (%(reason)s). "
                "Try “Resend” later.", address=channel.target,
                reason=translate(problem.msgid, problem.values)), "error")


def _send_confirmation(channel: Channel) -> mail.MailError | None:
    return accountmail.send(channels.confirmation_mail(current_app.config, channel,
                                                       signed_in_user().locale))


@bp.route("/reminders", methods=["GET", "POST"])
@login_required
def reminders() -> Page:
    """The account's channels and the recent deliveries; the POST adds an address."""
    if request.method == "GET":
        return _render()
    address = request.form.get("address", "")
    db = get_session()
    try:
        channel = channels.add_channel(db, signed_in_user(),
                                       {"kind": "email", "address": address}, status.utc_now(),
                                       current_app.config)
    except (ValidationFailed, Conflict) as error:
        db.rollback()
        return _render({"address": address}, _field_errors(error),
                       translate(error.msgid, error.values), error.status)
    db.commit()
    # After the commit: the link names the channel, which must exist when it is opened.
    _flash_confirmation(channel, _send_confirmation(channel))
    return _back()


@bp.post("/reminders/push")
@login_required
def add_push_channel() -> Page:
    """Add a push or chat channel (an Apprise URL), which gets reminders from now on."""
    typed = {name: request.form.get(name, "") for name in PUSH_CONTROLS}
    data = {"kind": "apprise", "url": typed["url"]}
    data.update({name: typed[name].strip() for name in ("name", "digest")
                 if typed[name].strip()})
    db = get_session()
    try:
        channel = channels.add_channel(db, signed_in_user(), data, status.utc_now(),
                                       current_app.config)
    except (ValidationFailed, Conflict) as error:
        db.rollback()
        # The URL as typed goes back into its own field only: it may hold a token.
        return _render(typed, _field_errors(error),
                       translate(error.msgid, error.values), error.status, form="push")
    db.commit()
    flash(_("Added %(address)s: reminders go there from now on. “Send a test” shows whether "
            "they arrive.", address=channel.target), "success")
    return _back()


@bp.post("/reminders/<int:channel_id>/digest")
@login_required
def set_digest(channel_id: int) -> Page:
    """Set the time of a channel's daily digest; an empty time, or the "each reminder at
    once" button, sends each reminder at its own time again."""
    db = get_session()
    channel = channels.get_channel(db, signed_in_user(), channel_id)
    typed = request.form.get("digest", "").strip()
    digest = None if "at_once" in request.form else typed or None
    try:
        channels.update_channel(db, channel, {"digest": digest}, status.utc_now())
    except ValidationFailed as error:
        db.rollback()
        field = error.fields.get("digest")
        reason = translate(field) if field else translate(error.msgid, error.values)
        problem = DigestProblem(channel_id, typed, reason)
        return _render(message=_("The digest time of %(address)s was not changed: %(reason)s",
                                 address=channel.target, reason=reason),
                       status=error.status, form="digest", digest_problem=problem)
    db.commit()
    if digest is None:
        flash(_("Reminders to %(address)s are sent one by one, each at its time.",
                address=channel.target), "success")
    else:
        flash(_("Reminders to %(address)s now come together in one daily digest at %(time)s.",
                address=channel.target, time=digest), "success")
    return _back()


@bp.post("/reminders/<int:channel_id>/confirm")
@login_required
def resend_confirmation(channel_id: int) -> Page:
    """Send an address its confirmation link again."""
    channel = channels.get_channel(get_session(), signed_in_user(), channel_id)
    if channel.verified_at is not None:
        flash(_("%(address)s is already confirmed.", address=channel.target), "success")
    else:
        _flash_confirmation(channel, _send_confirmation(channel))
    return _back()


@bp.post("/reminders/<int:channel_id>/switch")
@login_required
def switch_channel(channel_id: int) -> Page:
    """Switch an address off, or on again (which also resumes a paused one)."""
    db = get_session()
    channel = channels.get_channel(db, signed_in_user(), channel_id)
    choice = request.form.get("enabled")
    if choice not in ("on", "off"):
        raise BadRequest(N_("Choose whether to switch the address on or off."))
    was_paused = channels.is_paused(channel)
    channels.update_channel(db, channel, {"enabled": choice == "on"}, status.utc_now())
    db.commit()
    if choice == "off":
        flash(_("Reminders to %(address)s are switched off.", address=channel.target),
              "success")
    elif was_paused:
        flash(_("Reminders to %(address)s are on again; the failures that paused it are "
                "forgotten.", address=channel.target), "success")
    else:
        flash(_("Reminders to %(address)s are switched on.", address=channel.target), "success")
    return _back()


@bp.post("/reminders/<int:channel_id>/test")
@login_required
def test_channel(channel_id: int) -> Page:
    """Send a test message at once and say how it went."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    channel, delivery = sender.test_channel(app, get_session(), signed_in_user(), channel_id)
    if delivery.status == "sent":
        flash(_("Test message sent to %(address)s. Check that it arrived.",
                address=channel.target), "success")
    else:
        flash(_("The test message to %(address)s could not be sent: %(error)s",
                address=channel.target,
                error=translate_stored(delivery.error) if delivery.error else ""),
              "error")
    return _back()


@bp.route("/reminders/<int:channel_id>/delete", methods=["GET", "POST"])
@login_required
def delete_channel(channel_id: int) -> Page:
    """Ask before removing an address; the POST removes it with its deliveries."""
    db = get_session()
    channel = channels.get_channel(db, signed_in_user(), channel_id)
    if request.method == "GET":
        channels.check_removable(channel)
        return render_template("reminders/delete.html", channel=channel)
    address = channel.target
    channels.delete_channel(db, channel)
    db.commit()
    flash(_("Removed %(address)s: no more reminders go there.", address=address), "success")
    return redirect(url_for("web.reminders"))


@contextmanager
def _owners_language(channel: Channel) -> Iterator[None]:
    with force_locale(BABEL_LOCALES.get(channel.user.locale, "en")):
        yield


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> Page:
    """An unsubscribe link from a reminder: the GET shows one button, the POST switches the
    address off. No log-in: the signed token is the key, and it reaches that one switch."""
    db = get_session()
    secret_key = current_app.config["SECRET_KEY"]
    if request.method == "GET":
        # Mail scanners and link previews follow GETs: this changes nothing.
        channel = channels.unsubscribe_target(db, secret_key, token)
        with _owners_language(channel):
            return render_template("reminders/unsubscribe.html", channel=channel, token=token,
                                   done=False)
    channel = channels.unsubscribe(db, secret_key, token)
    db.commit()
    with _owners_language(channel):
        return render_template("reminders/unsubscribe.html", channel=channel, token=token,
                               done=True)


# RFC 8058 one-click unsubscribing: the mail provider POSTs "List-Unsubscribe=One-Click" to
# the link itself, with no session and so no CSRF token. A CSRF token protects a cookie
# session from other sites; this route uses no session, and its token in the URL is the only
# key (unguessable, signed, reaching one switch that only turns reminders off), so a forged
# request could do nothing that having the link does not already allow.
csrf.exempt(unsubscribe)
