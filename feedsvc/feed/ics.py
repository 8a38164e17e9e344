"""The calendar a feed serves: pure, from plain values to bytes, knowing no HTTP and no SQL.
Every input that shapes the output is in ``FeedView``; nothing here reads the clock, so the
same account gives the same bytes (stable UIDs, DTSTAMP = last change, no "now")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from icalendar import Calendar, vDuration

from feedsvc.feed.events import Text, clean_line, item_events, text
from feedsvc.feed.views import FeedView
from feedsvc.texts import DEFAULT_FEED_NAME, N_

PRODID = "-//feedsvc//Renewal deadlines//EN"
REFRESH = dt.timedelta(hours=3)
_END = b"END:VCALENDAR\r\n"


def calendar_name(feed: FeedView) -> str:
    """The feed's name; the name every account starts with is shown in the account's language."""
    return (text(feed.locale, DEFAULT_FEED_NAME) if feed.name == DEFAULT_FEED_NAME
            else clean_line(feed.name))


def _head(feed: FeedView) -> bytes:
    """The calendar's own properties, before its first event."""
    description = text(feed.locale,
                       N_("Renewal deadlines with reminders ahead of each due date"))
    calendar = Calendar.new(prodid=PRODID, calscale="GREGORIAN", method="PUBLISH",
                            name=Text(calendar_name(feed)), description=Text(description),
                            last_modified=feed.last_modified)
    # Calendar.new() adds a random UID, which would change every build and, worse, make
    # vdirsyncer file every event under that one UID.
    calendar.pop("UID", None)
    # RFC 7986 wants the parameter, which icalendar leaves out for a duration.
    calendar.add("refresh-interval", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
    calendar.add("x-wr-timezone", Text(clean_line(feed.timezone)))
    calendar.add("x-published-ttl", vDuration(REFRESH))
    return calendar.to_ical().removesuffix(_END)


def build_calendar(feed: FeedView) -> bytes:
    """Serialise a feed as an RFC 5545 calendar (UTF-8, CRLF, folded at 75 octets)."""
    return assemble(feed, [(item.id, "") for item in feed.items], {})[0]


Parts = list[tuple[str, int, int]]


def assemble(feed: FeedView, order: Sequence[tuple[int, str]],
             known: Mapping[str, bytes]) -> tuple[bytes, Parts]:
    """The calendar of the items in ``order`` (id, key of its events), and where each item's
    events sit in it: (key, offset, length). As icalendar writes a component's properties,
    subcomponents and END line, the bytes are the head, each item's events on their own, and
    END:VCALENDAR. Events come from ``known`` by key, or are serialised from ``feed.items``."""
    views = {item.id: item for item in feed.items}
    chunks = [_head(feed)]
    parts: Parts = []
    offset = len(chunks[0])
    for item_id, key in order:
        chunk = known.get(key) if key else None
        if chunk is None:
            if item_id not in views:  # deleted since ``order`` was read
                continue
            chunk = b"".join(event.to_ical() for event in item_events(views[item_id], feed))
        if key:
            parts.append((key, offset, len(chunk)))
        chunks.append(chunk)
        offset += len(chunk)
    chunks.append(_END)
    return b"".join(chunks), parts
