"""What each mail says, in the account's language: reminders and account mail.

Each function returns a ``feedsvc.mail.Mail`` (subject, plain text and HTML) rendered from
``templates/mail/`` inside ``force_locale``, so every word goes through the Babel catalog. It
needs an application context, not a request. Dates read the reader's way, as on the pages.

The plain-text templates (``*.txt``) use the same msgids as their HTML twins, which is where
``pybabel extract`` finds them; ``tests/test_mailtext.py`` checks that none is missing there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from babel.dates import format_skeleton
from babel.lists import format_list
from flask import render_template
from flask_babel import force_locale, format_date, get_locale, gettext, ngettext

from feedsvc import presets
from feedsvc.feed.events import mask_number
from feedsvc.mail import Mail

if TYPE_CHECKING:
    from feedsvc.models import Item

_ = gettext

# The account's locales and Babel's names for them, as in ``feedsvc.web.i18n``; not imported
# from there, as importing the web package imports the views, which import this module.
BABEL_LOCALES = {"en": "en", "zh-Hans": "zh_Hans"}
KINDS = ("alarm", "overdue", "last_day", "snoozed", "test")
# A lock screen shows the start of a subject: a long title is cut so the "when" stays.
TITLE_LENGTH = 60


@dataclass(frozen=True)
class ReminderFacts:
    """What a reminder tells about one item's cycle, at the moment it is sent.

    ``days_left`` counts from the account's today to ``due_date`` (negative once overdue);
    ``last_day`` is the last day before recycling (the due date plus the grace period), or
    None without a grace period. ``phone_number`` is given in full: the mail shows only its
    last four digits.
    """

    title: str
    kind: str
    due_date: date
    days_left: int
    last_day: date | None = None
    provider: str | None = None
    carrier: str | None = None
    phone_number: str | None = None
    price_amount: str | None = None
    price_currency: str | None = None
    bound_services: Sequence[str] = ()
    notes: str = ""
    renew_url: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown reminder kind {self.kind!r}; one of {', '.join(KINDS)}")

    @classmethod
    def of_item(cls, item: Item, kind: str, today: date) -> ReminderFacts:
        """The facts of an item's current cycle, on the account's ``today``."""
        last_day = (None if item.grace_days is None
                    else item.due_date + timedelta(days=item.grace_days))
        return cls(title=item.title, kind=kind, due_date=item.due_date,
                   days_left=(item.due_date - today).days, last_day=last_day,
                   provider=item.provider, carrier=item.carrier,
                   phone_number=item.phone_number,
                   price_amount=item.price_amount, price_currency=item.price_currency,
                   bound_services=tuple(item.bound_services or ()), notes=item.notes or "",
                   renew_url=item.url)

    @property
    def days_before_recycling(self) -> int | None:
        """Days from today to the last day before recycling (0: today is that day)."""
        return None if self.last_day is None else (
            self.days_left + (self.last_day - self.due_date).days)


@dataclass(frozen=True)
class ReminderLinks:
    """The links a reminder carries: the item's page, the two actions (``FEEDSVC_BASE_URL/
    act/<token>``; None leaves the action out) and one-click unsubscribing of the channel."""

    item: str
    renewed: str | None = None
    snooze: str | None = None
    unsubscribe: str | None = None


@dataclass(frozen=True)
class Row:
    """One fact of a reminder: its label and value, and a link when the value is one."""

    label: str
    value: str
    url: str | None = None


@contextmanager
def _language(locale: str) -> Iterator[None]:
    """The account's language (``en`` or ``zh-Hans``) for everything said inside."""
    with force_locale(BABEL_LOCALES.get(locale, "en")):
        yield


def _render(template: str, to: str, subject: str, unsubscribe_url: str | None = None,
            **context: Any) -> Mail:
    """Both parts of a mail, in the current language."""
    context.update(subject=subject, unsubscribe_url=unsubscribe_url, labelled=_labelled)
    text = render_template(f"mail/{template}.txt", **context)
    # Jinja's tags leave blank lines behind: at most one in a row, none at the ends.
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    html = render_template(f"mail/{template}.html", **context)
    return Mail(to=to, subject=subject, text=text, html=html, unsubscribe_url=unsubscribe_url)


def _labelled(label: str, value: str | None = None) -> str:
    """"Label: value", or "Label:" before a line of its own, with the language's colon."""
    if value is None:
        return _("%(label)s:", label=label)
    return _("%(label)s: %(value)s", label=label, value=value)


def _day(value: date) -> str:
    """A date as pages show it: "Dec 17, 2026", "2026年12月17日"."""
    return format_date(value, "medium")


def _short_day(value: date) -> str:
    """A date without its year, for subjects: "Dec 17", "12月17日"."""
    return format_skeleton("MMMd", value, locale=get_locale())


def _short_title(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= TITLE_LENGTH else title[:TITLE_LENGTH - 1].rstrip() + "…"


def reminder_subject(facts: ReminderFacts) -> str:
    """What and when, short enough for a lock screen, in the current language."""
    title, due = _short_title(facts.title), _short_day(facts.due_date)
    days, grace = facts.days_left, facts.days_before_recycling
    if days > 1:
        subject = ngettext("Renew %(title)s — due in %(num)d day (%(date)s)",
                           "Renew %(title)s — due in %(num)d days (%(date)s)", days,
                           title=title, date=due)
    elif days == 1:
        subject = _("Renew %(title)s — due tomorrow (%(date)s)", title=title, date=due)
    elif days == 0:
        subject = _("Renew %(title)s — due today (%(date)s)", title=title, date=due)
    elif grace is not None and grace > 0:
        subject = ngettext("%(title)s is overdue — %(num)d day left before the number is "
                           "recycled",
                           "%(title)s is overdue — %(num)d days left before the number is "
                           "recycled", grace, title=title)
    elif grace == 0:
        subject = _("Last day for %(title)s — renew today before the number is recycled",
                    title=title)
    elif facts.last_day is not None:
        subject = _("%(title)s was not renewed in time (last day %(date)s)", title=title,
                    date=_short_day(facts.last_day))
    elif days == -1:
        subject = _("%(title)s was due yesterday", title=title)
    else:
        subject = ngettext("%(title)s is %(num)d day overdue (due %(date)s)",
                           "%(title)s is %(num)d days overdue (due %(date)s)", -days,
                           title=title, date=due)
    return _("Test: %(subject)s", subject=subject) if facts.kind == "test" else subject


def _when(days: int) -> str:
    if days > 1:
        return ngettext("in %(num)d day", "in %(num)d days", days)
    if days == 1:
        return _("tomorrow")
    if days == 0:
        return _("today")
    return ngettext("%(num)d day overdue", "%(num)d days overdue", -days)


def _rows(facts: ReminderFacts) -> list[Row]:
    rows = [Row(_("Due date"), _("%(date)s (%(when)s)", date=_day(facts.due_date),
                                 when=_when(facts.days_left)))]
    grace = facts.days_before_recycling
    if facts.last_day is not None and grace is not None:
        last_day = _day(facts.last_day)
        if facts.days_left < 0 and grace > 0:
            last_day = _("%(date)s (%(when)s)", date=last_day, when=ngettext(
                "%(num)d day left", "%(num)d days left", grace))
        elif grace == 0:
            last_day = _("%(date)s (%(when)s)", date=last_day, when=_("today"))
        rows.append(Row(_("Last day before recycling"), last_day))
    if facts.provider:
        rows.append(Row(_("Provider"), facts.provider))
    if facts.phone_number:
        rows.append(Row(_("Number"), mask_number(facts.phone_number)))
    if facts.price_amount:
        price = " ".join(filter(None, (facts.price_amount, facts.price_currency)))
        rows.append(Row(_("Price"), price))
    if facts.bound_services:
        rows.append(Row(_("Bound accounts"),
                        format_list(list(facts.bound_services), locale=get_locale())))
    preset = presets.get(facts.carrier)
    if preset is not None:
        locale = "zh-Hans" if str(get_locale()) == "zh_Hans" else "en"
        keeps = (_("Keeps the number alive (an unclear rule: check it)")
                 if preset.confidence == "unclear" else _("Keeps the number alive"))
        rows += [Row(keeps, preset.keeps_alive.said(locale)),
                 Row(_("Where this rule comes from"), preset.source.url, preset.source.url)]
    if facts.renew_url:
        # Only a web address becomes a link; anything else is shown as text.
        link = facts.renew_url if facts.renew_url.startswith(("https://", "http://")) else None
        rows.append(Row(_("Renew at"), facts.renew_url, link))
    return rows


def reminder(facts: ReminderFacts, links: ReminderLinks, *, to: str, locale: str) -> Mail:
    """A reminder about one item, with its action links and one-click unsubscribing."""
    with _language(locale):
        subject = reminder_subject(facts)
        headline = (reminder_subject(_without_test(facts)) if facts.kind == "test"
                    else subject)
        return _render("reminder", to, subject, links.unsubscribe, headline=headline,
                       test=facts.kind == "test", rows=_rows(facts), notes=facts.notes.strip(),
                       links=links)


@dataclass(frozen=True)
class DigestEntry:
    """One item of a digest, as the templates show it."""

    headline: str
    rows: list[Row]
    links: ReminderLinks


def digest(reminders: Sequence[tuple[ReminderFacts, ReminderLinks]], *, to: str, locale: str,
           unsubscribe_url: str | None = None) -> Mail:
    """Several reminders in one message (a channel's daily digest), in order; the subject
    names the first and counts the others."""
    with _language(locale):
        entries = [DigestEntry(reminder_subject(facts), _rows(facts), links)
                   for facts, links in reminders]
        subject = ngettext("%(first)s, and %(num)d more", "%(first)s, and %(num)d more",
                           len(entries) - 1, first=entries[0].headline)
        return _render("digest", to, subject, unsubscribe_url, entries=entries)


def action_labels(locale: str) -> tuple[str, str]:
    """The two actions' labels, for a service's buttons: renewed, and remind me tomorrow."""
    with _language(locale):
        return _("I renewed it"), _("Remind me tomorrow")


def message_text(message: Mail) -> str:
    """A mail's plain text without its footer: what a push message says."""
    return message.text.rpartition("\n-- \n")[0].strip() or message.text.strip()


def _without_test(facts: ReminderFacts) -> ReminderFacts:
    return replace(facts, kind="alarm" if facts.days_left >= 0 else "overdue")


def test_message(reminders_url: str, *, to: str, locale: str,
                 unsubscribe_url: str | None = None) -> Mail:
    """The "Send a test" mail of a channel: reminders will reach this address."""
    return _account_mail("test_message", to, locale,
                         lambda: _("Test from feedsvc: reminders reach this address"),
                         unsubscribe_url, reminders_url=reminders_url)


# Not a test for pytest to collect, although its name starts with "test".
test_message.__test__ = False  # type: ignore[attr-defined]


def welcome(confirm_url: str, *, to: str, locale: str) -> Mail:
    """Sent at sign-up: welcome, and the link that confirms the account's address."""
    return _account_mail("welcome", to, locale,
                         lambda: _("Welcome to feedsvc — confirm your address"),
                         confirm_url=confirm_url)


def confirm_address(confirm_url: str, *, to: str, locale: str) -> Mail:
    """Sent to an added address, or to an account's new address, before anything else."""
    return _account_mail("confirm_address", to, locale,
                         lambda: _("Confirm your address for feedsvc"), confirm_url=confirm_url)


def password_reset(reset_url: str, *, to: str, locale: str) -> Mail:
    """The "forgot your password" link: valid for 1 hour, works once."""
    return _account_mail("password_reset", to, locale,
                         lambda: _("Reset your feedsvc password"), reset_url=reset_url)


def signup_attempt(login_url: str, reset_url: str, *, to: str, locale: str) -> Mail:
    """Sent when someone signs up with an address that already has an account."""
    return _account_mail("signup_attempt", to, locale,
                         lambda: _("Someone tried to sign up with your address"),
                         login_url=login_url, reset_url=reset_url)


def _account_mail(template: str, to: str, locale: str, subject: Callable[[], str],
                  unsubscribe_url: str | None = None, **context: Any) -> Mail:
    with _language(locale):
        return _render(template, to, subject(), unsubscribe_url, **context)
