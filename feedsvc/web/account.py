"""Pages of account mail: confirming an address, a forgotten password, a new account address.

The links arrive by mail (``feedsvc.accountmail``) and need no log-in: the signed token is
the key. Confirming an address, or a new account address, happens on GET (a mail scanner
can only confirm what the mailbox received); a reset link's GET only shows the form, and
its POST uses it up. A link's pages speak its account's language; a link that leads nowhere
answers in the visitor's.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import force_locale
from flask_login import login_required, logout_user

from feedsvc import accountmail, accounts, channels, mail, status
from feedsvc.db import get_session
from feedsvc.errors import FeedsvcError, ValidationFailed
from feedsvc.limits import note_wrong_password
from feedsvc.models import User
from feedsvc.web import Page, bp, signed_in_user
from feedsvc.web.forms import has_control_characters
from feedsvc.web.i18n import BABEL_LOCALES, N_, _
from feedsvc.web.messages import translate, translate_fields

OUTBOX_NOTICE = N_("Mail is not set up on this server yet: every message is written to the "
                   "server’s outbox folder instead of being sent. Ask the server’s administrator "
                   "for your link.")
# A refused link's heading, by status.
REFUSED = {404: N_("Link not found"), 409: N_("The address was not changed"),
           410: N_("This link no longer works")}


def _secret_key() -> str:
    return str(current_app.config["SECRET_KEY"])


def _outbox_notice() -> str | None:
    """Where mail goes when no relay is set, or None when it really leaves."""
    return None if mail.mail_configured(current_app.config) else _(OUTBOX_NOTICE)


def flash_mail_outcome(failure: mail.MailError | None, sent: str, unsent: str) -> None:
    """Tell the reader about a mail just posted: ``sent``, with where it went when mail is
    not set up, or ``unsent`` when the relay could not take it now (both translated)."""
    if failure is not None:
        flash(unsent, "error")
        return
    flash(sent, "success")
    notice = _outbox_notice()
    if notice:
        flash(notice, "error")


def _address(email: str) -> tuple[str | None, dict[str, str]]:
    """The normalised address typed in, or the field's error."""
    if has_control_characters(email):
        return None, {"email": _("must be an e-mail address such as you@example.com")}
    try:
        return accounts.check_email(email), {}
    except ValidationFailed as error:
        return None, translate_fields(error.fields)


def _language(user: User) -> AbstractContextManager[None]:
    """The account's language, for the pages of its links."""
    return force_locale(BABEL_LOCALES.get(user.locale, "en"))


def _link_page(heading: str, message: str, status_code: int = 200) -> Page:
    return render_template("account/link.html", heading=heading, message=message), status_code


def _refused(refusal: FeedsvcError) -> Page:
    """A link that does nothing (404, 409, 410), said in the visitor's language."""
    get_session().rollback()
    return _link_page(_(REFUSED.get(refusal.status, REFUSED[404])),
                      translate(refusal.msgid, refusal.values), refusal.status)


@bp.get("/confirm/<token>")
def confirm_address(token: str) -> Page:
    """Confirm the address a confirmation link was sent to (again: nothing changes)."""
    db = get_session()
    try:
        channel = channels.confirm(db, _secret_key(), token, status.utc_now())
    except FeedsvcError as refusal:
        return _refused(refusal)
    db.commit()
    with _language(channel.user):
        return _link_page(_("Address confirmed"),
                          _("%(email)s is confirmed: your reminders can reach it.",
                            email=channel.target))


def _render_forgot(values: dict[str, str], errors: dict[str, str], status_code: int = 200
                   ) -> Page:
    return render_template(
        "account/forgot.html", values=values, errors=errors, outbox=_outbox_notice(),
        message=_("Please correct the marked fields.") if errors else None,
    ), status_code


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password() -> Page:
    """Ask for a link that sets a new password. The answer is the same whether or not an
    account has the address; only a confirmed address gets the link."""
    if request.method == "GET":
        return _render_forgot({"email": ""}, {})
    email = request.form.get("email", "")
    address, errors = _address(email)
    if address is None:
        return _render_forgot({"email": email}, errors, 422)
    failure = accountmail.send_password_reset(get_session(), address)
    return render_template("account/forgot_sent.html", email=address, outbox=_outbox_notice(),
                           unsent=failure is not None)


def _render_reset(user: User, token: str, errors: dict[str, str], status_code: int = 200
                  ) -> Page:
    return render_template(
        "account/reset.html", email=user.email, token=token, values={}, errors=errors,
        message=_("Please correct the marked fields; nothing was saved.") if errors else None,
    ), status_code


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Page:
    """Show the new-password form of a reset link (a GET leaves the link as it is); its POST
    sets the password, signs out every session and sends the person to log in."""
    db = get_session()
    try:
        user = accountmail.user_to_reset(db, _secret_key(), token, status.utc_now(),
                                         lock=request.method == "POST")
    except FeedsvcError as refusal:
        return _refused(refusal)
    with _language(user):
        if request.method == "GET":
            return _render_reset(user, token, {})
        password = request.form.get("password", "")
        if request.form.get("confirm", "") != password:
            return _render_reset(user, token, {"confirm": _("does not match the password")}, 422)
        try:
            accountmail.set_password(db, user, password)
        except ValidationFailed as error:
            db.rollback()
            return _render_reset(user, token, translate_fields(error.fields), 422)
    db.commit()
    logout_user()
    session.clear()
    flash(_("Your new password is set and every session was signed out. Log in with it."),
          "success")
    return redirect(url_for("web.login"))


def _render_change(user: User, values: dict[str, str], errors: dict[str, str],
                   status_code: int = 200) -> Page:
    return render_template(
        "account/email.html", current=user.email, values=values, errors=errors,
        confirmed=accountmail.confirmed(get_session(), user),
        message=_("Please correct the marked fields; nothing was saved.") if errors else None,
    ), status_code


@bp.route("/settings/email", methods=["GET", "POST"])
@login_required
def change_email() -> Page:
    """Ask for a new account address: a link goes to it, and the address changes when the
    link is opened. The answer says nothing of whether another account has it."""
    user = signed_in_user()
    if request.method == "GET":
        return _render_change(user, {"email": ""}, {})
    email = request.form.get("email", "")
    address, errors = _address(email)
    if address is not None and address == user.email:
        errors["email"] = _("is already your account's address")
    if accounts.authenticate(get_session(), user.email, request.form.get("password", "")) is None:
        note_wrong_password()
        errors["password"] = _("is not correct")
    if address is None or errors:
        return _render_change(user, {"email": email}, errors, 422)
    failure = accountmail.send_address_change(user, address)
    flash_mail_outcome(
        failure,
        _("We sent a link to %(email)s. Open it to make it your account's address; until then, "
          "%(current)s stays your address.", email=address, current=user.email),
        _("The mail could not be sent just now, so your address stays as it is. Please try "
          "again in a few minutes."))
    return redirect(url_for("web.settings"))


@bp.get("/settings/email/<token>")
def email_changed(token: str) -> Page:
    """Make the address an address-change link was sent to the account's address, whoever
    is logged in (the mailbox is the proof)."""
    db = get_session()
    try:
        user = accountmail.change_address(db, _secret_key(), token, status.utc_now())
    except FeedsvcError as refusal:
        return _refused(refusal)
    db.commit()
    with _language(user):
        return _link_page(_("Address changed"),
                          _("%(email)s is now your account's address: log in with it from now "
                            "on.", email=user.email))
