"""Marking an item renewed (one tap, or the form with its preview) and undoing the latest."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required
from markupsafe import Markup
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from feedsvc import items, renewals
from feedsvc.db import get_session
from feedsvc.errors import Conflict, ValidationFailed
from feedsvc.models import Item, Renewal
from feedsvc.repeat import next_due
from feedsvc.status import today_in
from feedsvc.web import Page, bp, signed_in_user
from feedsvc.web.forms import (
    RENEWAL_CONTROLS,
    FormErrors,
    Values,
    currencies,
    form_errors,
    payment_methods,
    renewal_input,
    renewal_values,
)
from feedsvc.web.i18n import _, format_day, period_words
from feedsvc.web.standing import standing


@dataclass(frozen=True)
class Preview:
    """The due date a renewal would give, and the inputs it was computed for."""

    due_date: dt.date
    renewed_on: dt.date
    periods: int


def period_text(item: Item) -> str | None:
    """One period of the item's repeat rule: "3 months", "1 year", "90 days"."""
    rule = renewals.repeat_rule(item)
    if rule is None:
        return None
    return period_words(rule.every, rule.unit)


def rule_text(item: Item) -> str:
    """The repeat rule as a sentence: "Repeats every 3 months, counted from the previous…"."""
    rule = renewals.repeat_rule(item)
    if rule is None:
        return _("Does not repeat.")
    if rule.start == "renewal":
        return _("Repeats every %(period)s, counted from the day it is renewed.",
                 period=period_text(item))
    return _("Repeats every %(period)s, counted from the previous due date.",
             period=period_text(item))


def _default_preview(item: Item, today: dt.date) -> Preview | None:
    """The due date after renewing one period today, as the form starts out."""
    rule = renewals.repeat_rule(item)
    if rule is None:
        return None
    try:
        due = next_due(item.due_date, rule, today, 1, item.repeat_anchor)
    except OverflowError:
        return None
    return Preview(due, today, 1) if due <= renewals.LATEST_DUE else None


def _render(item: Item, values: Values, errors: FormErrors | None = None, status: int = 200,
            message: str | None = None, preview: Preview | None = None) -> Page:
    errors = errors or FormErrors()
    user = signed_in_user()
    today = today_in(user.timezone)
    return render_template(
        "renewals/form.html", item=item, values=values, errors=errors.fields,
        general=errors.general, message=message, preview=preview, today=today,
        earliest_due=item.due_date + dt.timedelta(days=1),
        standing=standing(item, user, today), period=period_text(item), rule=rule_text(item),
        methods=payment_methods(), currencies=currencies(),
    ), status


def _changed_elsewhere(item: Item, today: dt.date) -> Page:
    """The form again, on the item as it is now, after someone else changed it first."""
    values = {**renewal_values(item, today), **request.form.to_dict(),
              "version": str(item.version)}
    values.pop("preview", None)
    return _render(item, values, status=409, message=_(
        "“%(title)s” was changed elsewhere after this page was opened (was it just renewed?), "
        "so nothing was recorded. It is now due %(due)s. Check the form and send it again "
        "if you still want to renew it.", title=item.title, due=format_day(item.due_date)))


def _undo_offer(item: Item) -> Markup:
    """The confirmation after a renewal, with an Undo button in the message itself."""
    return Markup('{text} <a class="button button-small flash-action" href="{url}">{undo}</a>'
                  ).format(text=_("%(title)s renewed: next due %(due)s", title=item.title,
                                  due=format_day(item.due_date)),
                           url=url_for("web.undo_renewal", item_id=item.id), undo=_("Undo"))


@bp.get("/items/<int:item_id>/renew")
@login_required
def renew_form(item_id: int) -> Page:
    """The renewal form: date, periods, new due date, amount, method, receipt, note."""
    user = signed_in_user()
    item = items.get_item(get_session(), user, item_id)
    today = today_in(user.timezone)
    return _render(item, renewal_values(item, today), preview=_default_preview(item, today))


@bp.post("/items/<int:item_id>/renew")
@login_required
def renew_item(item_id: int) -> Page:
    """Record a renewal (the one-tap button sends no fields: today, one period, usual price).

    With ``preview`` in the form, show the new due date it would give and store nothing.
    """
    db = get_session()
    user = signed_in_user()
    item = items.get_item(db, user, item_id)
    today = today_in(user.timezone)
    if request.form.get("version", str(item.version)) != str(item.version):
        # A second tap on "Renewed", or a form opened before another change: renewing
        # again on top of that change is rarely what was meant.
        return _changed_elsewhere(item, today)
    values = {**renewal_values(item, today), **request.form.to_dict()}
    values.pop("preview", None)
    try:
        renewal = renewals.renew(db, item, renewal_input(request.form), today)
        if "preview" in request.form:
            preview = Preview(renewal.due_after, renewal.renewed_on, renewal.periods)
            db.rollback()
            return _render(item, values, preview=preview)
        db.commit()
    except ValidationFailed as error:
        errors = form_errors(error.fields, {}, RENEWAL_CONTROLS)
        return _render(item, values, errors, 422,
                       _("Please correct the marked fields; nothing was saved."))
    except StaleDataError:
        db.rollback()
        return _changed_elsewhere(items.get_item(db, user, item_id), today)
    flash(_undo_offer(item), "success")
    return redirect(url_for("web.index"))


def _latest(db: Session, item: Item) -> Renewal | None:
    history = renewals.list_renewals(db, item)
    return history[0] if history else None


def _render_undo(item: Item, latest: Renewal | None, status: int = 200,
                 message: str | None = None) -> Page:
    if latest is None:
        status = 409
        message = _("“%(title)s” has no renewal to undo.", title=item.title)
    return render_template("renewals/undo.html", item=item, renewal=latest,
                           message=message), status


@bp.get("/items/<int:item_id>/renewals/undo")
@login_required
def undo_renewal(item_id: int) -> Page:
    """Ask before undoing the latest renewal; 409 when there is none."""
    db = get_session()
    item = items.get_item(db, signed_in_user(), item_id)
    return _render_undo(item, _latest(db, item))


@bp.post("/items/<int:item_id>/renewals/undo")
@login_required
def undo_renewal_confirmed(item_id: int) -> Page:
    """Undo the latest renewal, if it is still the one the user confirmed."""
    db = get_session()
    user = signed_in_user()
    item = items.get_item(db, user, item_id)
    latest = _latest(db, item)
    if latest is None:
        return _render_undo(item, None)
    if request.form.get("renewal") != str(latest.id):
        return _render_undo(item, latest, 409, _(
            "The latest renewal of “%(title)s” is not the one you confirmed: it changed "
            "elsewhere after this page was opened. Nothing was undone; check this one and "
            "confirm again.", title=item.title))
    renewed_on = latest.renewed_on
    try:
        renewals.undo_latest(db, item)
        db.commit()
    except (Conflict, StaleDataError):
        db.rollback()
        item = items.get_item(db, user, item_id)
        return _render_undo(item, _latest(db, item), 409, _(
            "“%(title)s” was changed elsewhere at the same moment, so nothing was undone. "
            "Check it and confirm again.", title=item.title))
    flash(_("Undid the renewal of %(renewed_on)s: “%(title)s” is due %(due)s again.",
            renewed_on=format_day(renewed_on), title=item.title,
            due=format_day(item.due_date)), "success")
    return redirect(url_for("web.index"))
