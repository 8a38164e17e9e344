"""The settings page: time zone, language and default alarms; password, export, deletion."""

from __future__ import annotations

import json

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import login_required, logout_user
from werkzeug.wrappers import Response

from feedsvc import accounts, backup
from feedsvc.baseurl import public_base_url
from feedsvc.db import get_session
from feedsvc.errors import ValidationFailed
from feedsvc.limits import note_wrong_password
from feedsvc.schemas import MePatch, validate
from feedsvc.status import today_in
from feedsvc.web import Page, bp, signed_in_user
from feedsvc.web.auth import locale_choices, start_session, timezone_choices
from feedsvc.web.forms import (
    SETTINGS_CONTROLS,
    FormErrors,
    Values,
    alarm_row_count,
    alarm_values,
    form_errors,
    read_alarms,
)
from feedsvc.web.i18n import _
from feedsvc.web.messages import translate_fields


def _render(values: Values, errors: FormErrors | None = None, status: int = 200) -> Page:
    errors = errors or FormErrors()
    return render_template(
        "settings/settings.html", values=values, errors=errors.fields, general=errors.general,
        message=_("Please correct the marked fields; nothing was saved.") if errors else None,
        timezones=timezone_choices(), locales=locale_choices(),
        alarm_rows=alarm_row_count(values, "default_alarms"),
    ), status


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings() -> Page:
    """Show and change the account's settings."""
    user = signed_in_user()
    if request.method == "GET":
        return _render({"timezone": user.timezone, "locale": user.locale,
                        **alarm_values(user.default_alarms, "default_alarms")})
    alarms, rows = read_alarms(request.form, "default_alarms")
    data = {"timezone": request.form.get("timezone", ""),
            "locale": request.form.get("locale", ""), "default_alarms": alarms}
    try:
        patch = validate(MePatch, data)
    except ValidationFailed as error:
        errors = form_errors(error.fields, {"default_alarms": rows}, SETTINGS_CONTROLS)
        return _render(request.form.to_dict(), errors, 422)
    # Confirm in the language the form was read in, even when the language is what changed.
    saved = _("Settings saved.")
    db = get_session()
    accounts.update_settings(
        db, user, timezone=patch.timezone, locale=patch.locale,
        default_alarms=[alarm.model_dump() for alarm in patch.default_alarms],
    )
    db.commit()
    flash(saved, "success")
    return redirect(url_for("web.settings"))


def _render_password(errors: dict[str, str], status: int = 200) -> Page:
    return render_template(
        "settings/password.html", values={}, errors=errors,
        message=_("Please correct the marked fields; nothing was saved.") if errors else None,
    ), status


@bp.route("/settings/password", methods=["GET", "POST"])
@login_required
def change_password() -> Page:
    """Change the password; every other session is signed out, this one stays."""
    if request.method == "GET":
        return _render_password({})
    new = request.form.get("new_password", "")
    if request.form.get("confirm", "") != new:
        return _render_password({"confirm": _("does not match the new password")}, 422)
    user = signed_in_user()
    db = get_session()
    try:
        accounts.change_password(db, user, request.form.get("current_password", ""), new)
    except ValidationFailed as error:
        if isinstance(error, accounts.WrongPassword):
            note_wrong_password()
        return _render_password(translate_fields(error.fields), 422)
    db.commit()
    start_session(user)
    flash(_("Password changed. Every other device was signed out."), "success")
    return redirect(url_for("web.settings"))


@bp.route("/settings/delete", methods=["GET", "POST"])
@login_required
def delete_account() -> Page:
    """Ask for the password, then delete the account, its items and its calendars."""
    if request.method == "GET":
        return render_template("settings/delete.html", values={}, errors={}, message=None)
    db = get_session()
    try:
        accounts.delete_account(db, signed_in_user(), request.form.get("password", ""))
    except ValidationFailed as error:
        if isinstance(error, accounts.WrongPassword):
            note_wrong_password()
        return render_template("settings/delete.html", values={},
                               errors=translate_fields(error.fields),
                               message=_("Nothing was deleted.")), 422
    db.commit()
    logout_user()
    session.clear()
    flash(_("Your account and everything in it were deleted."), "success")
    return redirect(url_for("web.signup"))


@bp.get("/settings/export")
@login_required
def export_data() -> Response:
    """Download the account's own data as JSON."""
    user = signed_in_user()
    today = today_in(user.timezone)
    document = backup.personal_export(get_session(), user, current_app.config["SECRET_KEY"],
                                      public_base_url(), today)
    response = Response(json.dumps(document, ensure_ascii=False, indent=2),
                        mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="feedsvc-{today.isoformat()}.json"')
    return response
