"""Every golden feed reads the same in three independent parsers (see tests/feedparsers.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from feedparsers import PARSERS, ParsedCalendar

DATA = Path(__file__).parent / "data"
GOLDEN = sorted(DATA.glob("*.ics"))
CALENDAR_PROPERTIES = frozenset({
    "VERSION", "PRODID", "CALSCALE", "METHOD", "NAME", "X-WR-CALNAME", "DESCRIPTION",
    "X-WR-CALDESC", "X-WR-TIMEZONE", "REFRESH-INTERVAL", "X-PUBLISHED-TTL", "LAST-MODIFIED",
})
EVENT_PROPERTIES = frozenset({
    "UID", "DTSTAMP", "LAST-MODIFIED", "SEQUENCE", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION",
    "TRANSP", "URL",
})


def test_the_golden_feeds_are_there() -> None:
    assert {path.name for path in GOLDEN} >= {
        "demo-feed.ics", "demo-feed-zh-Hans.ics", "demo-feed-google.ics"}


@pytest.fixture(params=GOLDEN, ids=[path.name for path in GOLDEN])
def parsed(request: pytest.FixtureRequest) -> dict[str, ParsedCalendar]:
    data = request.param.read_bytes()
    return {name: parse(data) for name, parse in PARSERS.items()}


def test_parsers_agree_on_every_event(parsed: dict[str, ParsedCalendar]) -> None:
    reference = parsed["icalendar"]
    assert reference.events, "a golden feed without events proves little"
    for name, calendar in parsed.items():
        assert len(calendar.events) == len(reference.events), name
        for event, expected in zip(calendar.events, reference.events, strict=True):
            assert (event.uid, event.summary, event.start, event.end, event.alarms) == (
                expected.uid, expected.summary, expected.start, expected.end, expected.alarms
            ), name
            assert event.description == expected.description, (name, event.uid)


def test_parsers_see_the_same_structure(parsed: dict[str, ParsedCalendar]) -> None:
    for name, calendar in parsed.items():
        assert calendar.properties == CALENDAR_PROPERTIES, name
        assert set(calendar.components) == {"VEVENT"}, name
        for event in calendar.events:
            assert event.properties == EVENT_PROPERTIES, (name, event.uid)
            assert set(event.components) <= {"VALARM"}, (name, event.uid)


def test_golden_events_are_one_day_long_with_unique_uids(
        parsed: dict[str, ParsedCalendar]) -> None:
    events = parsed["vobject"].events
    assert all(e.end - e.start == dt.timedelta(days=1) for e in events)
    uids = [e.uid for e in events]
    assert len(uids) == len(set(uids))


EXPECTED_COUNTS = {
    # 5 due events and 1 grace event (Monaco, whose preset has one); alarms: 3 per default
    # item, 2 for Monaco, 1 per grace event.
    "demo-feed.ics": {"due": 5, "grace": 1, "lead": 0, "alarms": 3 * 4 + 2 + 1},
    "demo-feed-zh-Hans.ics": {"due": 5, "grace": 1, "lead": 0, "alarms": 3 * 4 + 2 + 1},
    # Lead events: 14 and 3 days for four items, 2 days for Monaco.
    "demo-feed-google.ics": {"due": 5, "grace": 1, "lead": 2 * 4 + 1, "alarms": 3 * 4 + 2 + 1},
}


@pytest.mark.parametrize("name", sorted(EXPECTED_COUNTS))
def test_golden_feeds_have_the_expected_events(name: str) -> None:
    data = (DATA / name).read_bytes()
    for parser, parse in PARSERS.items():
        events = parse(data).events
        kinds = [e.uid.split("-")[0] for e in events]
        expected = EXPECTED_COUNTS[name]
        assert {kind: kinds.count(kind) for kind in ("due", "grace", "lead")} == {
            kind: expected[kind] for kind in ("due", "grace", "lead")}, parser
        assert sum(e.alarms for e in events) == expected["alarms"], parser
        assert all(e.alarms == 0 for e in events if e.uid.startswith("lead-")), parser
