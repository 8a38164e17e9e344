"""Sign up, log in and log out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from feedsvc import accountmail, accounts
from feedsvc.auth import SessionUser
from feedsvc.db import get_session
from feedsvc.errors import Conflict, ValidationFailed
from feedsvc.feeds import ensure_default_feed
from feedsvc.models import User
from feedsvc.schemas import LOCALES, known_timezones
from feedsvc.web import Page, bp
from feedsvc.web.account import flash_mail_outcome
from feedsvc.web.forms import has_control_characters
from feedsvc.web.i18n import LANG_COOKIE, _, page_locale
from feedsvc.web.messages import translate_fields


def locale_choices() -> list[tuple[str, str]]:
    """The languages, each named in itself."""
    return [("en", "English"), ("zh-Hans", "简体中文")]


def timezone_choices() -> list[tuple[str, str]]:
    """Every IANA zone name, sorted, as (value, label) pairs."""
    return [(name, name.replace("_", " ")) for name in sorted(known_timezones())]


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only, never another origin, and
    nothing a ``Location`` header cannot carry (line breaks and other control characters)."""
    if (target and target.startswith("/") and not target.startswith(("//", "/\\"))
            and target.isprintable()):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("web.index")


def start_session(user: User) -> None:
    """Log the user in on a fresh session, so no session id chosen before login survives it."""
    session.clear()
    login_user(SessionUser(user))


def _render_signup(values: dict[str, str], errors: dict[str, str], status: int = 200,
                   message: str | None = None, detect_timezone: bool = False) -> Page:
    return render_template(
        "account/signup.html", values=values, errors=errors, message=message,
        timezones=timezone_choices(), locales=locale_choices(), detect_timezone=detect_timezone,
    ), status


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Page:
    """Create an account with its first feed, mail the link that confirms its address, then
    ask to log in.

    A taken address gets the very same answer (after the same password hashing, and one
    mail: to its owner), so the page tells nobody which addresses have accounts; its owner's
    account is left as it was.
    """
    if current_user.is_authenticated:
        return redirect(url_for("web.index"))
    if request.method == "GET":
        return _render_signup({"timezone": "UTC", "locale": page_locale()}, {},
                              detect_timezone=True)
    form = request.form
    values = {name: form.get(name, "") for name in ("email", "timezone", "locale")}
    password = form.get("password", "")
    errors: dict[str, str] = {}
    if has_control_characters(values["email"]):
        errors["email"] = _("must be an e-mail address such as you@example.com")
    else:
        try:
            accounts.check_email(values["email"])
        except ValidationFailed as error:
            errors.update(translate_fields(error.fields))
    try:
        accounts.check_password(password)
    except ValidationFailed as error:
        errors.update(translate_fields(error.fields))
    if form.get("confirm", "") != password:
        errors["confirm"] = _("does not match the password")
    if values["timezone"] not in known_timezones():
        errors["timezone"] = _("must be a time zone from the list")
    if values["locale"] not in LOCALES:
        errors["locale"] = _("must be a language from the list")
    if errors:
        return _render_signup(values, errors, 422, _("Please correct the marked fields."))
    db = get_session()
    try:
        user = accounts.create_user(db, values["email"], password,
                                    timezone=values["timezone"], locale=values["locale"])
    except Conflict:
        db.rollback()
        # One mail on this path too, to the address's owner: the page cannot tell them apart.
        failure = accountmail.send_to_owner(db, values["email"])
    else:
        ensure_default_feed(db, user, current_app.config["SECRET_KEY"])
        db.commit()
        failure = accountmail.send_welcome(db, user)
    flash(_("Your account is ready: log in with your e-mail address and password."),
          "success")
    flash_mail_outcome(
        failure, _("We sent you a mail with a link that confirms your address."),
        _("The mail that confirms your address could not be sent just now. Once logged in, "
          "ask for a new one on the Reminders page."))
    return redirect(url_for("web.login"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Page:
    """Log in with e-mail and password; the same answer whichever of the two is wrong."""
    target = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(target)
    if request.method == "GET":
        return render_template("account/login.html", email="", next=target, message=None)
    email = request.form.get("email", "")
    # No stored address holds control characters (and PostgreSQL refuses NUL), so such an
    # address looks up nothing, at the same cost as any other unknown one.
    lookup = "" if has_control_characters(email) else email
    user = accounts.authenticate(get_session(), lookup, request.form.get("password", ""))
    if user is None:
        return render_template(
            "account/login.html", email=email, next=target,
            message=_("The e-mail address or the password is not correct."),
        ), 422
    start_session(user)
    return redirect(target)


@bp.post("/logout")
def logout() -> Response:
    """Log out (a POST with the CSRF token, so no other site can log anyone out).

    Sessions live in signed cookies, so a copy of this one would outlive a mere clearing of
    the cookie: a new session nonce makes every copy worthless (and signs the account out
    on every device).
    """
    if current_user.is_authenticated:
        db = get_session()
        accounts.end_other_sessions(current_user.user)
        db.commit()
    logout_user()
    session.clear()
    flash(_("You are logged out."), "success")
    return redirect(url_for("web.login"))


@bp.post("/lang/<code>")
def switch_language(code: str) -> Response:
    """Switch the pages' language: a cookie for visitors, and the account's setting."""
    if code not in LOCALES:
        return redirect(safe_next(request.args.get("next")))
    if current_user.is_authenticated:
        db = get_session()
        accounts.update_settings(db, current_user.user, locale=code)
        db.commit()
    response = redirect(safe_next(request.args.get("next")))
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax",
                        httponly=True, secure=request.is_secure)
    return response
