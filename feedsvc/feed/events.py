"""An item's events: their words in the feed's language, their alarms, and the stored text
made safe for the calendar. Pure, like the rest of the serialiser."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

from babel.support import NullTranslations
from icalendar import Alarm, Event, vText
from icalendar.enums import TRANSP

from feedsvc import presets
from feedsvc.feed.views import AlarmSpec, FeedView, ItemView, RenewalView
from feedsvc.texts import N_, translations

UID_DOMAIN = "feedsvc"
GRACE_ALARM_AT = "09:00"

# What RFC 5545 TEXT cannot carry: control characters other than TAB and the line feed
# (which is escaped), and lone surrogates, which are not Unicode text at all. Line breaks of
# every kind (those str.splitlines() knows, which some parsers split on) become LF in
# multi-line text and a space in one-line text; other controls and U+FEFF (a byte-order
# mark, which icalendar drops at the start of a value anyway) are dropped.
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ufeff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """Multi-line text as a calendar can carry it: LF line breaks, no other controls."""
    value = _SURROGATE.sub("\ufffd", _LINE_BREAK.sub("\n", value))
    return "\n".join(_FORBIDDEN.sub("", line) for line in value.split("\n"))


def clean_line(value: str) -> str:
    """One-line text as a calendar can carry it: line breaks and TABs become spaces."""
    return _FORBIDDEN.sub("", _SURROGATE.sub("\ufffd", _LINE_BREAK.sub(" ", value))
                          .replace("\t", " "))


class Text(vText):
    """TEXT escaped exactly as RFC 5545 says: icalendar's own escaping first turns a literal
    backslash-N into a line break ("C:\\New" would lose its backslash); this does not."""

    def to_ical(self) -> bytes:
        escaped = (clean_text(self).replace("\\", "\\\\").replace(";", "\\;")
                   .replace(",", "\\,").replace("\n", "\\n"))
        return escaped.encode("utf-8")


def _clean(value: Any, lines: bool = False) -> Any:
    """``value`` with every stored text in it made safe for the calendar (``clean_line``;
    ``clean_text`` where ``lines``: notes keep their line breaks)."""
    if isinstance(value, str):
        return clean_text(value) if lines else clean_line(value)
    if isinstance(value, tuple):
        return tuple(_clean(part) for part in value)
    if isinstance(value, (ItemView, RenewalView)):
        return dataclasses.replace(value, **{
            field.name: _clean(getattr(value, field.name), field.name in ("notes", "note"))
            for field in dataclasses.fields(value)})
    return value


def text(locale: str, msgid: str, **values: object) -> str:
    """A calendar text in a feed's language ("en", "zh-Hans"; English when unknown), from the
    Babel catalog like the pages' texts: ``msgid`` is marked with ``N_`` where it is worded."""
    return _say(translations(locale), msgid, **values)


def _say(words: NullTranslations, msgid: str, **values: object) -> str:
    said = words.gettext(msgid)
    return said % values if values else said


def mask_number(number: str) -> str:
    """Only the last four digits of a phone number: ``•••• 4567``."""
    return "•••• " + "".join([c for c in number if c.isdigit()][-4:])


def alarm_trigger(alarm: AlarmSpec) -> dt.timedelta:
    """Offset from local midnight of the due date: 14 days at 09:00 is -P13DT15H."""
    hours, minutes = (int(part) for part in alarm.at.split(":"))
    return dt.timedelta(days=-alarm.days_before, hours=hours, minutes=minutes)


def _uid(kind: str, *parts: object) -> str:
    return "-".join([kind, *(str(p) for p in parts)]) + "@" + UID_DOMAIN


def _money(amount: str | None, currency: str | None) -> str | None:
    return f"{amount} {currency}" if amount and currency else amount


def _renewal_summary(renewal: RenewalView) -> str:
    parts = (renewal.renewed_on.isoformat(), _money(renewal.amount, renewal.currency),
             renewal.method)
    return " · ".join(part for part in parts if part)


def _facts(words: NullTranslations, *facts: tuple[str, str | None]) -> list[str]:
    """A line for each fact that has a value: (message id with ``%(value)s``, value)."""
    return [_say(words, msgid, value=value) for msgid, value in facts if value]


def item_description(item: ItemView, feed: FeedView) -> str:
    """The due event's DESCRIPTION: what a user needs to renew, one fact a line, and last
    the cycle's "I renewed it" link when the feed carries action links."""
    words = translations(feed.locale)
    number = item.phone_number
    if number and not feed.show_numbers:
        number = mask_number(number)
    lines = [_say(words, N_("Due: %(date)s"), date=item.due_date.isoformat()),
             *_facts(words, (N_("Provider: %(value)s"), item.provider),
                     (N_("Number: %(value)s"), number), (N_("Country: %(value)s"), item.country),
                     (N_("Price: %(value)s"), _money(item.price_amount, item.price_currency)),
                     (N_("Bound accounts: %(value)s"), ", ".join(item.bound_services)))]
    if item.grace_days:
        last_day = item.due_date + dt.timedelta(days=item.grace_days)
        lines.append(_say(words, N_("Grace period: %(days)s days (last day %(date)s)"),
                          days=item.grace_days, date=last_day.isoformat()))
    if item.auto_renew:
        lines.append(_say(words, N_("Renews automatically: check that the charge went "
                                    "through.")))
    preset = presets.get(item.carrier)
    if preset is not None:
        keeps = (N_("Keeps the number alive (an unclear rule: check it): %(value)s")
                 if preset.confidence == "unclear" else N_("Keeps the number alive: %(value)s"))
        lines += _facts(words, (keeps, preset.keeps_alive.said(feed.locale)),
                        (N_("Where this rule comes from: %(value)s"), preset.source.url))
    last = item.last_renewal
    lines += _facts(words, (N_("Renew at: %(value)s"), item.url),
                    (N_("Last renewal: %(value)s"), _renewal_summary(last) if last else None))
    if item.notes:
        lines.extend(["", item.notes, ""])
    lines += _facts(words, (N_("Open in feedsvc: %(value)s"), item.page_url),
                    (N_("I renewed it: %(value)s"), item.renew_link))
    return "\n".join(lines)


def _all_day(uid: str, day: dt.date, summary: str, description: str, item: ItemView) -> Event:
    return Event.new(uid=uid, stamp=item.last_modified, last_modified=item.last_modified,
                     sequence=item.sequence, start=day, end=day + dt.timedelta(days=1),
                     summary=Text(summary), description=Text(description),
                     transparency=TRANSP.TRANSPARENT, url=item.page_url)


def _alarm(description: str, trigger: dt.timedelta) -> Alarm:
    alarm = Alarm.new(description=Text(description))
    alarm.add("action", "DISPLAY")
    alarm.add("trigger", trigger)
    return alarm


def _alarm_text(item: ItemView, days: int, words: NullTranslations) -> str:
    msgid = (N_("%(title)s is due today") if days == 0 else
             N_("%(title)s is due tomorrow (%(date)s)") if days == 1 else
             N_("%(title)s is due in %(days)s days (%(date)s)"))
    return _say(words, msgid, title=item.title, days=days, date=item.due_date.isoformat())


def _due_summary(item: ItemView, words: NullTranslations) -> str:
    if item.auto_renew:
        return _say(words, N_("Check that %(title)s renewed"), title=item.title)
    # The renewal page's title has the same English and other Chinese: a context of its own.
    return str(words.pgettext("calendar", "Renew %(title)s")) % {"title": item.title}


def item_events(item: ItemView, feed: FeedView) -> list[Event]:
    """The due event with its alarms, the grace event, lead events and past renewals."""
    words = translations(feed.locale)
    item = _clean(item)
    description = item_description(item, feed)
    due = _all_day(_uid("due", item.id, item.cycle), item.due_date, _due_summary(item, words),
                   description, item)
    for alarm in item.alarms:
        due.add_component(_alarm(_alarm_text(item, alarm.days_before, words),
                                 alarm_trigger(alarm)))
    events = [due]

    if item.grace_days:
        last_day = item.due_date + dt.timedelta(days=item.grace_days)
        grace = _all_day(_uid("grace", item.id, item.cycle), last_day,
                         _say(words, N_("Last day before %(title)s is recycled"),
                              title=item.title), description, item)
        grace.add_component(_alarm(_say(words, N_("%(title)s will be recycled after today"),
                                        title=item.title),
                                   alarm_trigger(AlarmSpec(0, GRACE_ALARM_AT))))
        events.append(grace)

    if feed.reminder_events:
        for days in sorted({a.days_before for a in item.alarms if a.days_before > 0},
                           reverse=True):
            lead = _say(words, N_("Renew %(title)s — due tomorrow") if days == 1 else
                        N_("Renew %(title)s — due in %(days)s days"), title=item.title, days=days)
            events.append(_all_day(
                _uid("lead", item.id, item.cycle, days), item.due_date - dt.timedelta(days=days),
                lead, description, item))

    for renewal in item.recent_renewals:
        lines = [*_facts(words, (N_("Paid: %(value)s"), _money(renewal.amount, renewal.currency)),
                         (N_("Method: %(value)s"), renewal.method),
                         (N_("Reference: %(value)s"), renewal.reference)),
                 renewal.note, _say(words, N_("Open in feedsvc: %(value)s"), value=item.page_url)]
        events.append(_all_day(_uid("renewal", renewal.id), renewal.renewed_on,
                               _say(words, N_("Renewed %(title)s"), title=item.title),
                               "\n".join(line for line in lines if line), item))
    return events
