"""The calendars page: each feed's addresses, how to subscribe, and its settings.

These pages show secret feed URLs: like every page, they are ``no-store`` and never sent on in
a ``Referer`` to another site (``feedsvc.headers``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import segno
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from markupsafe import Markup

from feedsvc import feeds
from feedsvc.baseurl import public_base_url
from feedsvc.db import get_session
from feedsvc.errors import ValidationFailed
from feedsvc.feed import events
from feedsvc.models import Feed
from feedsvc.schemas import CATEGORIES, FeedFields
from feedsvc.texts import DEFAULT_FEED_NAME
from feedsvc.web import Page, bp, signed_in_user
from feedsvc.web.forms import (
    FormErrors,
    category_choices,
    category_names,
    checked,
    form_errors,
)
from feedsvc.web.i18n import _, page_locale

FEED_CONTROLS = frozenset({"name", "categories", "reminder_events", "show_numbers",
                           "action_links"})
# The form's checkboxes, each a feed setting of that name.
CHECKBOXES = ("reminder_events", "show_numbers", "action_links")


def qr_svg(url: str) -> Markup:
    """A QR code of ``url`` as inline SVG, drawn here so the address never leaves the server."""
    code = segno.make(url, micro=False)
    # No width or height: the stylesheet sizes it to the screen. Four modules of quiet zone,
    # painted white, so phones can read it on a dark background too.
    return Markup(code.svg_inline(border=4, omitsize=True, dark="#000", light="#fff",
                                  svgclass="qr-svg", lineclass="qr-dark"))


def shown_name(name: str) -> str:
    """A feed's name as pages show it: the one every account starts with in the reader's
    language, in the words its calendar app shows too."""
    if name == DEFAULT_FEED_NAME:
        return events.text(page_locale(), DEFAULT_FEED_NAME)
    return name


def stored_name(name: str) -> str:
    """A name sent by the form: the default name, as the form showed it, is kept as stored."""
    return DEFAULT_FEED_NAME if name == shown_name(DEFAULT_FEED_NAME) else name


@dataclass(frozen=True)
class CalendarCard:
    """What the page shows for one feed."""

    feed: Feed
    name: str
    urls: feeds.FeedUrls
    filters: list[str]
    qr: Markup


def _filters(feed: Feed) -> list[str]:
    if feed.categories is None:
        shown = [_("All categories")]
    else:
        names = category_names()
        shown = [_("Only: %(categories)s",
                   categories=", ".join(names[category] for category in CATEGORIES
                                        if category in feed.categories))]
    if feed.reminder_events:
        shown.append(_("with reminder events"))
    shown.append(_("full numbers shown") if feed.show_numbers
                 else _("numbers masked (last 4 digits)"))
    if feed.action_links:
        shown.append(_("with “I renewed it” links"))
    return shown


def _card(feed: Feed) -> CalendarCard:
    urls = feeds.feed_urls(feed, current_app.config["SECRET_KEY"], public_base_url())
    return CalendarCard(feed=feed, name=shown_name(feed.name), urls=urls, filters=_filters(feed),
                        qr=qr_svg(urls.url))


@bp.get("/calendars")
@login_required
def calendars() -> Page:
    """Every feed of the account with its URL, subscribe links and QR code."""
    cards = [_card(feed) for feed in feeds.list_feeds(get_session(), signed_in_user())]
    return render_template("calendars/list.html", cards=cards)


def _form_input() -> dict[str, Any]:
    """The feed form as the API's feed fields; no category ticked means every category."""
    categories = request.form.getlist("categories")
    return {
        "name": stored_name(request.form.get("name", "")),
        "categories": categories or None,
        **{name: checked(request.form, name) for name in CHECKBOXES},
    }


def _values(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"name": shown_name(data["name"]),
                              "categories": data["categories"] or []}
    for name in CHECKBOXES:
        if data[name]:
            values[name] = "on"
    return values


def _errors(fields: dict[str, str], data: dict[str, Any]) -> FormErrors:
    """Validation errors by form control; a bad category is named with its value."""
    return form_errors(fields, {}, FEED_CONTROLS, {"categories": data["categories"] or []})


def _render_form(feed: Feed | None, values: dict[str, Any], errors: FormErrors | None = None,
                 status: int = 200) -> Page:
    errors = errors or FormErrors()
    return render_template(
        "calendars/form.html", feed=feed, values=values, errors=errors.fields,
        general=errors.general,
        message=_("Please correct the marked fields; nothing was saved.") if errors else None,
        categories=category_choices(),
    ), status


@bp.route("/calendars/new", methods=["GET", "POST"])
@login_required
def new_calendar() -> Page:
    """Create a feed, optionally limited to some categories."""
    if request.method == "GET":
        # A new calendar starts with the settings' defaults ticked.
        return _render_form(None, _values({**FeedFields().model_dump(), "name": ""}))
    data = _form_input()
    db = get_session()
    try:
        feed = feeds.create_feed(db, signed_in_user(), current_app.config["SECRET_KEY"], data)
    except ValidationFailed as error:
        return _render_form(None, _values(data), _errors(error.fields, data), 422)
    db.commit()
    flash(_("Created the calendar “%(name)s”. Subscribe to it below.",
            name=shown_name(feed.name)),
          "success")
    return redirect(url_for("web.calendars", _anchor=f"feed-{feed.id}"))


@bp.route("/calendars/<int:feed_id>", methods=["GET", "POST"])
@login_required
def edit_calendar(feed_id: int) -> Page:
    """Change a feed's name and filter; its URL stays the same."""
    db = get_session()
    feed = feeds.get_feed(db, signed_in_user(), feed_id)
    if request.method == "GET":
        return _render_form(feed, _values(feeds.feed_fields(feed)))
    data = _form_input()
    try:
        feeds.update_feed(db, feed, data)
    except ValidationFailed as error:
        return _render_form(feed, _values(data), _errors(error.fields, data), 422)
    db.commit()
    flash(_("Saved the calendar “%(name)s”.", name=shown_name(feed.name)), "success")
    return redirect(url_for("web.calendars", _anchor=f"feed-{feed.id}"))


@bp.route("/calendars/<int:feed_id>/rotate", methods=["GET", "POST"])
@login_required
def rotate_calendar(feed_id: int) -> Page:
    """Ask before giving a feed a new URL; the POST does it, and the old URL answers 410."""
    db = get_session()
    feed = feeds.get_feed(db, signed_in_user(), feed_id)
    if request.method == "GET":
        return render_template("calendars/rotate.html", feed=feed, name=shown_name(feed.name))
    feeds.rotate_feed(db, feed, current_app.config["SECRET_KEY"])
    db.commit()
    flash(_("“%(name)s” has a new address. Subscribe to it again in each calendar app.",
            name=shown_name(feed.name)), "success")
    return redirect(url_for("web.calendars", _anchor=f"feed-{feed.id}"))


@bp.route("/calendars/<int:feed_id>/delete", methods=["GET", "POST"])
@login_required
def delete_calendar(feed_id: int) -> Page:
    """Ask before deleting a feed; the POST deletes it, and its URL answers 410."""
    db = get_session()
    feed = feeds.get_feed(db, signed_in_user(), feed_id)
    if request.method == "GET":
        return render_template("calendars/delete.html", feed=feed, name=shown_name(feed.name))
    name = feed.name
    feeds.delete_feed(db, feed)
    db.commit()
    flash(_("Deleted the calendar “%(name)s”.", name=shown_name(name)), "success")
    return redirect(url_for("web.calendars"))
