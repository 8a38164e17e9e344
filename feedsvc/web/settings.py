"""The settings page: time zone, language and default alarms."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required

from feedsvc import accounts
from feedsvc.db import get_session
from feedsvc.errors import ValidationFailed
from feedsvc.schemas import MePatch, validate
from feedsvc.web import Page, bp, signed_in_user
from feedsvc.web.auth import locale_choices, timezone_choices
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
    db = get_session()
    accounts.update_settings(
        db, user, timezone=patch.timezone, locale=patch.locale,
        default_alarms=[alarm.model_dump() for alarm in patch.default_alarms],
    )
    db.commit()
    flash(_("Settings saved."), "success")
    return redirect(url_for("web.settings"))
