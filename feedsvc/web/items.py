"""The item list, and the add, edit and delete pages."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from feedsvc import carriers, items, presets, renewals
from feedsvc.baseurl import public_base_url
from feedsvc.db import get_session
from feedsvc.errors import NotFound, ValidationFailed
from feedsvc.feed import ics, source
from feedsvc.models import Item, Renewal, User
from feedsvc.status import today_in
from feedsvc.web import Page, bp, signed_in_user
from feedsvc.web.forms import (
    ITEM_CONTROLS,
    FormErrors,
    Values,
    alarm_row_count,
    category_choices,
    category_names,
    countries,
    currencies,
    form_errors,
    item_input,
    item_values,
    new_item_values,
    repeat_from_choices,
    repeat_unit_choices,
)
from feedsvc.web.i18n import N_, _, html_lang, ngettext
from feedsvc.web.keepalive import apply_preset, carrier_groups, item_rule
from feedsvc.web.reminders import ITEM_DELIVERIES, delivery_rows
from feedsvc.web.standing import Standing, standing


@dataclass(frozen=True)
class ListRow:
    """One line of the item list."""

    item: Item
    standing: Standing
    repeats: bool
    last_renewal: Renewal | None


# Overdue and in-grace items need action now, so they come first; a lapsed number is
# already lost, so it no longer comes before what can still be saved.
_STATUS_RANK = {"overdue": 0, "in_grace": 0, "due_soon": 1, "ok": 1, "lapsed": 2}


def alarms_text(alarms: list[dict[str, Any]]) -> str:
    """Alarms in words: "14 days before at 09:00; on the day at 09:00"."""
    if not alarms:
        return _("no alarms")
    parts = []
    for alarm in alarms:
        if alarm["days_before"] == 0:
            parts.append(_("on the day at %(at)s", at=alarm["at"]))
        else:
            parts.append(ngettext("%(num)d day before at %(at)s", "%(num)d days before at %(at)s",
                                  alarm["days_before"], at=alarm["at"]))
    # Chinese separates such phrases with a full-width semicolon.
    return ("；" if html_lang() == "zh-Hans" else "; ").join(parts)


@dataclass(frozen=True)
class ListGroup:
    """A heading of the item list and the rows under it."""

    key: str
    title: str
    rows: list[ListRow]


# Days ahead that count as "next": further away is "later".
SOON_DAYS = 30


def _group_key(row: ListRow, today: dt.date) -> str:
    if row.standing.status in ("overdue", "in_grace", "lapsed"):
        return row.standing.status
    return "soon" if (row.item.due_date - today).days <= SOON_DAYS else "later"


def group_rows(rows: list[ListRow], today: dt.date) -> list[ListGroup]:
    """The sorted rows under their headings, empty groups left out.

    In grace comes first: those numbers are frozen and about to be recycled; lapsed ones are
    already lost, so they come last.
    """
    titles = {"in_grace": _("In grace period"), "overdue": _("Overdue"),
              "soon": ngettext("Next %(num)d day", "Next %(num)d days", SOON_DAYS),
              "later": _("Later"), "lapsed": _("Lapsed")}
    grouped: dict[str, list[ListRow]] = {key: [] for key in titles}
    for row in rows:
        grouped[_group_key(row, today)].append(row)
    return [ListGroup(key, titles[key], grouped[key]) for key in titles if grouped[key]]


def _list_page(archived: bool) -> str:
    user = signed_in_user()
    today = today_in(user.timezone)
    db = get_session()
    # A fixed number of queries, however many items: the items, their latest renewals, and
    # what was paid; statuses are date arithmetic.
    latest = renewals.latest_renewals(db, user)
    rows = [ListRow(item, standing(item, user, today), renewals.repeat_rule(item) is not None,
                    latest.get(item.id))
            for item in items.list_items(db, user, archived=archived)]
    rows.sort(key=lambda row: (_STATUS_RANK[row.standing.status], row.item.due_date,
                               row.item.id))
    return render_template(
        "items/list.html", rows=rows, archived=archived,
        groups=[ListGroup("archived", "", rows)] if archived else group_rows(rows, today),
        categories=category_names(),
        spend=renewals.total_spend(renewals.spend(db, user, today)),
    )


@bp.get("/")
@login_required
def index() -> str:
    """The user's items, soonest due first."""
    return _list_page(archived=False)


@bp.get("/archived")
@login_required
def archived() -> str:
    """The user's archived items."""
    return _list_page(archived=True)


def _renewal_section(item: Item, user: User) -> dict[str, Any]:
    """What the item page shows below the form: where it stands, what was paid, the history."""
    db = get_session()
    today = today_in(user.timezone)
    return {
        "standing": standing(item, user, today),
        "repeats": renewals.repeat_rule(item) is not None,
        "spend": renewals.spend(db, user, today, item.id).get(item.id, {}),
        "history": renewals.list_renewals(db, item),
        "deliveries": delivery_rows(user, item, ITEM_DELIVERIES),
    }


def _render_form(item: Item | None, values: Values, errors: FormErrors | None = None,
                 status: int = 200, message: str | None = None, shown: str | None = None,
                 applied: bool = False) -> Page:
    """The item form; ``shown``: the carrier preset whose rule is open (``applied``: and was
    just filled in)."""
    errors = errors or FormErrors()
    user = signed_in_user()
    carrier = values.get("carrier", "")
    return render_template(
        "items/form.html", item=item, values=values, errors=errors.fields,
        general=errors.general, message=message,
        renewal_section=None if item is None else _renewal_section(item, user),
        item_rule=None if item is None else item_rule(item.carrier),
        alarm_rows=alarm_row_count(values, "alarms"),
        default_alarms_text=_("Your defaults: %(alarms)s.",
                              alarms=alarms_text(user.default_alarms)),
        categories=category_choices(), repeat_units=repeat_unit_choices(),
        repeat_froms=repeat_from_choices(), countries=carriers.common_first(countries()),
        currencies=currencies(), providers=carriers.providers(),
        carrier_groups=carrier_groups(values.get("country")), shown=shown, applied=applied,
        # A carrier that is no preset (typed by hand into the request) is shown as sent.
        unknown_carrier=carrier if carrier and presets.get(carrier) is None else None,
    ), status


# The buttons of the carrier rule: they send the form back with a preset's rule shown or
# filled in, and save nothing.
SHOW_RULE = "show_rule"
APPLY_RULE = "apply_rule"
CONFIRM_UNCLEAR = "confirm_unclear"


def _rule_step(item: Item | None) -> Page | None:
    """Show or apply a carrier preset's rule, when one of its buttons sent the form (the
    way without JavaScript); None when the form is to be saved."""
    form = request.form
    if SHOW_RULE not in form and APPLY_RULE not in form:
        return None
    values = {name: value for name, value in form.to_dict().items()
              if name not in (SHOW_RULE, APPLY_RULE, CONFIRM_UNCLEAR)}
    chosen = form.get(APPLY_RULE, values.get("carrier", "")).strip()
    preset = presets.get(chosen)
    if preset is None:
        if not chosen:  # "Show the rule" with no carrier chosen: nothing to show
            return _render_form(item, values)
        return _render_form(item, values, FormErrors({"carrier": _(
            "Choose a carrier from the list.")}), 422,
            _("Please correct the marked fields; nothing was saved."))
    if APPLY_RULE not in form:
        return _render_form(item, values, shown=preset.id)
    if preset.confidence == "unclear" and preset.id not in form.getlist(CONFIRM_UNCLEAR):
        # An unclear rule is filled in only when the person says so.
        return _render_form(item, values, FormErrors({f"{CONFIRM_UNCLEAR}.{preset.id}": _(
            "This rule is unclear: tick the box to apply it anyway.")}), 422,
            shown=preset.id)
    return _render_form(item, apply_preset(values, preset), shown=preset.id, applied=True)


def _invalid(item: Item | None, error: ValidationFailed, rows: dict[str, list[int]]) -> Page:
    errors = form_errors(error.fields, rows, ITEM_CONTROLS)
    return _render_form(item, request.form.to_dict(), errors, 422,
                        _("Please correct the marked fields; nothing was saved."))


@bp.route("/items/new", methods=["GET", "POST"])
@login_required
def new_item() -> Page:
    """Add an item."""
    if request.method == "GET":
        return _render_form(None, new_item_values())
    step = _rule_step(None)
    if step is not None:
        return step
    submitted = item_input(request.form)
    db = get_session()
    try:
        item = items.create_item(db, signed_in_user(), submitted.data)
    except ValidationFailed as error:
        return _invalid(None, error, submitted.rows)
    db.commit()
    flash(_("Added “%(title)s”.", title=item.title), "success")
    return redirect(url_for("web.index"))


@bp.route("/items/<int:item_id>", methods=["GET", "POST"])
@login_required
def edit_item(item_id: int) -> Page:
    """An item's page: its form, to change any field."""
    db = get_session()
    item = items.get_item(db, signed_in_user(), item_id)
    if request.method == "GET":
        return _render_form(item, item_values(item))
    step = _rule_step(item)
    if step is not None:
        return step
    if request.form.get("version", str(item.version)) != str(item.version):
        # Someone saved the item since this form was opened: show their change instead of
        # silently overwriting it. Saving again (with the new version) keeps this input.
        values: Values = {**request.form.to_dict(), "version": str(item.version)}
        return _render_form(item, values, status=409, message=_(
            "This item was changed elsewhere after you opened this page. Check your input "
            "and save again to keep it, or cancel to see the other change."))
    submitted = item_input(request.form)
    try:
        items.update_item(db, item, submitted.data)
    except ValidationFailed as error:
        return _invalid(item, error, submitted.rows)
    db.commit()
    flash(_("Saved “%(title)s”.", title=item.title), "success")
    return redirect(url_for("web.archived" if item.archived else "web.index"))


@bp.route("/items/<int:item_id>/delete", methods=["GET", "POST"])
@login_required
def delete_item(item_id: int) -> Page:
    """Ask before deleting an item; the POST deletes it."""
    db = get_session()
    item = items.get_item(db, signed_in_user(), item_id)
    if request.method == "GET":
        return render_template("items/delete.html", item=item)
    title = item.title
    items.delete_item(db, item)
    db.commit()
    flash(_("Deleted “%(title)s”.", title=title), "success")
    return redirect(url_for("web.index"))


@bp.get("/items/<int:item_id>.ics")
@login_required
def item_calendar(item_id: int) -> Response:
    """One item's events as a calendar file, for people who import rather than subscribe."""
    db = get_session()
    user = signed_in_user()
    item = items.get_item(db, user, item_id)
    if item.archived:
        raise NotFound(N_("No item %(id)s."), id=item_id)
    # A feed of the item alone, built like a subscribed one: the events keep the UIDs they
    # have in a subscribed feed.
    settings = source.Settings(
        feed_id=f"item-{item.id}", name=item.title, categories=[item.category],
        reminder_events=False, show_numbers=False, action_links=False, secret=None,
        feed_version=1, feed_updated_at=user.updated_at, user_id=user.id, locale=user.locale,
        timezone=user.timezone, default_alarms=user.default_alarms, user_version=user.version,
        user_updated_at=user.updated_at, state="")
    view = source.feed_view(db.connection(), settings, public_base_url(),
                            today_in(user.timezone), [item.id],
                            secret_key=current_app.config["SECRET_KEY"])
    filename = re.sub(r"[^\w.-]+", "-", item.title, flags=re.ASCII).strip("-.") or "item"
    # The title in full for browsers that read RFC 6266's filename*, e.g. a Chinese one.
    disposition = (f'attachment; filename="{filename}.ics"; '
                   f"filename*=UTF-8''{quote(item.title.strip() or 'item', safe='')}.ics")
    return Response(ics.build_calendar(view), content_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": disposition,
                             "Cache-Control": "private, no-store"})

