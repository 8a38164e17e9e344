"""Three independent iCalendar parsers behind one small interface, for comparing feeds.

Each adapter reads a feed's bytes and returns the same normalised shape, so a test can
assert that icalendar, vobject and Home Assistant's ``ical`` see the same calendar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import icalendar
import vobject
from ical.calendar_stream import IcsCalendarStream
from ical.parsing.component import ParsedComponent, parse_content


@dataclass(frozen=True)
class ParsedEvent:
    """One VEVENT as a parser understood it."""

    uid: str
    summary: str
    description: str
    start: dt.date
    end: dt.date
    alarms: int
    # Upper-case property names of the event, and names of its subcomponents.
    properties: frozenset[str]
    components: tuple[str, ...]


@dataclass(frozen=True)
class ParsedCalendar:
    """The calendar's own property names, its subcomponent names and its events."""

    properties: frozenset[str]
    components: tuple[str, ...]
    events: tuple[ParsedEvent, ...]


def _day(value: object) -> dt.date:
    # An all-day event must come back as a date, never as a datetime at midnight.
    assert isinstance(value, dt.date) and not isinstance(value, dt.datetime), value
    return value


def parse_with_icalendar(data: bytes) -> ParsedCalendar:
    """The library that writes the feed, reading it back (strictly: errors raise)."""
    calendar = icalendar.Calendar.from_ical(data)
    assert not calendar.errors, calendar.errors
    events = []
    for event in calendar.subcomponents:
        if event.name != "VEVENT":
            continue
        assert not event.errors, event.errors
        names = tuple(c.name for c in event.subcomponents)
        events.append(ParsedEvent(
            uid=str(event["UID"]),
            summary=str(event.get("SUMMARY", "")),
            description=str(event.get("DESCRIPTION", "")),
            start=_day(event.decoded("DTSTART")),
            end=_day(event.decoded("DTEND")),
            alarms=names.count("VALARM"),
            properties=frozenset(name.upper() for name in event),
            components=names,
        ))
    return ParsedCalendar(
        properties=frozenset(name.upper() for name in calendar),
        components=tuple(c.name for c in calendar.subcomponents),
        events=tuple(events),
    )


def parse_with_vobject(data: bytes) -> ParsedCalendar:
    """vobject, an unrelated parser with its own line unfolding and unescaping."""
    calendar = vobject.readOne(data.decode("utf-8"))
    events = []
    for event in calendar.components():
        if event.name.upper() != "VEVENT":
            continue
        names = tuple(c.name.upper() for c in event.components())
        contents = event.contents
        events.append(ParsedEvent(
            uid=event.uid.value,
            summary=event.summary.value if "summary" in contents else "",
            description=event.description.value if "description" in contents else "",
            start=_day(event.dtstart.value),
            end=_day(event.dtend.value),
            alarms=names.count("VALARM"),
            properties=frozenset(name.upper() for name in contents
                                 if not isinstance(contents[name][0], vobject.base.Component)),
            components=names,
        ))
    contents = calendar.contents
    return ParsedCalendar(
        properties=frozenset(name.upper() for name in contents
                             if not isinstance(contents[name][0], vobject.base.Component)),
        components=tuple(c.name.upper() for c in calendar.components()),
        events=tuple(events),
    )


def _structure(component: ParsedComponent) -> tuple[frozenset[str], tuple[str, ...]]:
    return (frozenset(p.name.upper() for p in component.properties),
            tuple(c.name.upper() for c in component.components))


def parse_with_ical(data: bytes) -> ParsedCalendar:
    """Home Assistant's ``ical``: a pydantic model for values, its own tokenizer for names."""
    text = data.decode("utf-8")
    calendar = IcsCalendarStream.calendar_from_ics(text)
    (tree,) = parse_content(text)
    properties, components = _structure(tree)
    trees = [c for c in tree.components if c.name.upper() == "VEVENT"]
    assert len(trees) == len(calendar.events)
    events = []
    for event, event_tree in zip(calendar.events, trees, strict=True):
        event_properties, event_components = _structure(event_tree)
        events.append(ParsedEvent(
            uid=event.uid,
            summary=event.summary or "",
            description=event.description or "",
            start=_day(event.dtstart),
            end=_day(event.dtend),
            alarms=len(event.alarm),
            properties=event_properties,
            components=event_components,
        ))
    return ParsedCalendar(properties=properties, components=components, events=tuple(events))


PARSERS: dict[str, Callable[[bytes], ParsedCalendar]] = {
    "icalendar": parse_with_icalendar,
    "vobject": parse_with_vobject,
    "ical": parse_with_ical,
}
