"""Whatever text reaches the calendar builder, three parsers read back a sound calendar.

The texts go straight into ``views.ItemView``, past the API's validation, so the builder is
tested on its own: a stored value, an old row, or a future input path must not break a feed.

What happens to text RFC 5545 cannot carry (documented in ``events.clean_text``):
- in multi-line text (notes, a renewal's note) CRLF, CR and the other line separators
  (VT, FF, FS, GS, RS, NEL, U+2028, U+2029) become LF, TAB stays, and every other control
  character (C0, DEL, C1) and U+FEFF (a byte-order mark) is dropped;
- in one-line text (title, provider, number, services, URL, the feed's name…) the line
  separators and TAB become a space and the other control characters are dropped.
``expect_line`` and ``expect_text`` below restate those rules independently.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import vobject
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedsvc.feed import events, ics, views

from feedparsers import PARSERS, ParsedCalendar, ParsedEvent

STAMP = dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)
LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
CALENDAR_PROPERTIES = frozenset({
    "VERSION", "PRODID", "CALSCALE", "METHOD", "NAME", "X-WR-CALNAME", "DESCRIPTION",
    "X-WR-CALDESC", "X-WR-TIMEZONE", "REFRESH-INTERVAL", "X-PUBLISHED-TTL", "LAST-MODIFIED",
})
EVENT_PROPERTIES = frozenset({
    "UID", "DTSTAMP", "LAST-MODIFIED", "SEQUENCE", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION",
    "TRANSP", "URL",
})


def _forbidden(char: str) -> bool:
    return ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F or char == "\ufeff"


def expect_line(value: str) -> str:
    """One-line text as the calendar should show it."""
    value = value.replace("\r\n", " ")
    return "".join(" " if c in LINE_BREAKS or c == "\t" else "" if _forbidden(c) else c
                   for c in value)


def expect_text(value: str) -> str:
    """Multi-line text as the calendar should show it."""
    value = value.replace("\r\n", "\n")
    return "".join("\n" if c in LINE_BREAKS else c if c == "\t" or not _forbidden(c) else ""
                   for c in value)


NASTY = [
    "END:VEVENT", "BEGIN:VALARM", "END:VCALENDAR", "BEGIN:VEVENT\r\nUID:x", "SUMMARY:injected",
    "\r\n", "\r", "\n", "\n ", "\r\n\t", ";", ",", "\\", "\\n", "\\N", "\\;", ":", "\"", "^",
    "\x00", "\x07", "\x1b[31m", "\x7f", "\x85", "\x0b", "\x0c", "\x1c", "\u2028", "\u2029",
    "\t", " ", "😀", "👩‍👩‍👧", "\ufeff", "é", "é", "续费：中国移动香港", "保号卡" * 40,
    "=0D=0A", "&#13;", "%0D%0A",
]
any_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=10)), max_size=12)
    .map("".join),
)
optional_text = st.none() | any_text
alarm = st.builds(views.AlarmSpec, days_before=st.integers(0, 365),
                  at=st.builds("{:02d}:{:02d}".format, st.integers(0, 23), st.integers(0, 59)))
dates = st.dates(dt.date(1900, 1, 1), dt.date(2999, 12, 31))


@st.composite
def renewals(draw: Any) -> tuple[views.RenewalView, ...]:
    ids = draw(st.lists(st.integers(1, 10**6), unique=True, max_size=2))
    return tuple(views.RenewalView(id=i, renewed_on=draw(dates), amount=draw(optional_text),
                                 currency=draw(optional_text), method=draw(optional_text),
                                 reference=draw(optional_text), note=draw(any_text))
                 for i in ids)


items = st.builds(
    views.ItemView,
    id=st.integers(1, 2**31 - 1),
    title=any_text,
    due_date=dates,
    cycle=st.integers(0, 2**31 - 1),
    sequence=st.integers(0, 10**6),
    last_modified=st.just(STAMP),
    page_url=st.just("https://feeds.example.org/items/1/edit"),
    alarms=st.lists(alarm, max_size=4, unique_by=lambda a: (a.days_before, a.at)).map(tuple),
    provider=optional_text,
    phone_number=optional_text,
    country=optional_text,
    grace_days=st.none() | st.integers(0, 365),
    price_amount=optional_text,
    price_currency=optional_text,
    bound_services=st.lists(any_text, max_size=4).map(tuple),
    notes=any_text,
    url=optional_text,
    auto_renew=st.booleans(),
    last_renewal=st.none() | renewals().filter(bool).map(lambda r: r[0]),
    recent_renewals=renewals(),
)


def expected_events(item: views.ItemView, reminder_events: bool) -> list[tuple[str, int]]:
    """(UID, number of alarms) of each event the item should give, in order."""
    expected = [(f"due-{item.id}-{item.cycle}@feedsvc", len(item.alarms))]
    if item.grace_days:
        expected.append((f"grace-{item.id}-{item.cycle}@feedsvc", 1))
    if reminder_events:
        days = sorted({a.days_before for a in item.alarms if a.days_before > 0}, reverse=True)
        expected += [(f"lead-{item.id}-{item.cycle}-{d}@feedsvc", 0) for d in days]
    expected += [(f"renewal-{r.id}@feedsvc", 0) for r in item.recent_renewals]
    return expected


def check_structure(parser: str, calendar: ParsedCalendar, item: views.ItemView,
                    reminder_events: bool) -> None:
    assert calendar.properties == CALENDAR_PROPERTIES, parser
    assert calendar.components == ("VEVENT",) * len(calendar.events), parser
    assert [(e.uid, e.alarms) for e in calendar.events] == expected_events(
        item, reminder_events), parser
    for event in calendar.events:
        assert event.properties == EVENT_PROPERTIES, (parser, event.uid)
        assert event.components == ("VALARM",) * event.alarms, (parser, event.uid)
        assert event.end - event.start == dt.timedelta(days=1), (parser, event.uid)


def check_texts(parser: str, events: dict[str, ParsedEvent], item: views.ItemView) -> None:
    due = events[f"due-{item.id}-{item.cycle}@feedsvc"]
    assert due.start == item.due_date, parser
    assert expect_line(item.title) in due.summary, parser
    assert expect_text(item.notes) in due.description, parser
    for value in (item.provider, item.country, item.url, item.price_amount,
                  *item.bound_services):
        if value is not None:
            assert expect_line(value) in due.description, (parser, value)
    for renewal in item.recent_renewals:
        past = events[f"renewal-{renewal.id}@feedsvc"]
        assert past.start == renewal.renewed_on, parser
        assert expect_line(item.title) in past.summary, parser
        assert expect_text(renewal.note) in past.description, parser
        for value in (renewal.method, renewal.reference):
            if value:
                assert expect_line(value) in past.description, (parser, value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=items, name=any_text, locale=st.sampled_from(["en", "zh-Hans"]),
       reminder_events=st.booleans(), show_numbers=st.booleans())
def test_any_stored_text_gives_a_calendar_every_parser_reads(
        item: views.ItemView, name: str, locale: str, reminder_events: bool,
        show_numbers: bool) -> None:
    feed = views.FeedView(uid="feed-1@feedsvc", name=name, timezone="Asia/Shanghai",
                        locale=locale, last_modified=STAMP, reminder_events=reminder_events,
                        show_numbers=show_numbers, items=(item,))
    data = ics.build_calendar(feed)

    lines = data.split(b"\r\n")
    assert lines[-1] == b""
    for line in lines[:-1]:
        assert len(line) <= 75 and b"\r" not in line and b"\n" not in line
        line.decode("utf-8")
    assert lines.count(b"BEGIN:VEVENT") == len(expected_events(item, reminder_events))
    assert lines.count(b"BEGIN:VALARM") == sum(n for _, n in expected_events(item,
                                                                             reminder_events))

    for parser, parse in PARSERS.items():
        calendar = parse(data)
        check_structure(parser, calendar, item, reminder_events)
        check_texts(parser, {e.uid: e for e in calendar.events}, item)

    # icalendar keeps calendar-level NAME and X- properties escaped: read them with vobject.
    calendar = vobject.readOne(data.decode("utf-8"))
    assert calendar.contents["x-wr-calname"][0].value == expect_line(name)
    assert calendar.contents["name"][0].value == expect_line(name)


@given(value=any_text)
@settings(max_examples=150, deadline=None)
def test_cleaning_follows_the_documented_rules(value: str) -> None:
    assert events.clean_line(value) == expect_line(value)
    assert events.clean_text(value) == expect_text(value)
