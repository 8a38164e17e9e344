"""The pure calendar builder: plain values in, RFC 5545 bytes out, the same bytes every time."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import icalendar
import pytest

from feedsvc.feed import events, ics, views

STAMP = dt.datetime(2026, 11, 22, 8, 30, 15, tzinfo=dt.UTC)
DUE = dt.date(2026, 12, 4)
PAGE = "https://feeds.example.org/items/7/edit"
DEFAULT_ALARMS = (views.AlarmSpec(14, "09:00"), views.AlarmSpec(3, "09:00"), views.AlarmSpec(0, "09:00"))


def make_item(**changes: Any) -> views.ItemView:
    values: dict[str, Any] = {
        "id": 7, "title": "MTS Russia", "due_date": DUE, "cycle": 0, "sequence": 1,
        "last_modified": STAMP, "page_url": PAGE, "alarms": DEFAULT_ALARMS,
    }
    return views.ItemView(**{**values, **changes})


def make_feed(*items: views.ItemView, **changes: Any) -> views.FeedView:
    values: dict[str, Any] = {
        "uid": "feed-1@feedsvc", "name": "All renewals", "timezone": "Asia/Shanghai",
        "locale": "en", "last_modified": STAMP, "items": items or (make_item(),),
    }
    return views.FeedView(**{**values, **changes})


def build(*items: views.ItemView, **changes: Any) -> bytes:
    return ics.build_calendar(make_feed(*items, **changes))


def unfolded(data: bytes) -> list[str]:
    """The content lines, unfolded."""
    return data.decode("utf-8").replace("\r\n ", "").split("\r\n")[:-1]


def parsed_events(data: bytes) -> list[icalendar.Event]:
    return list(icalendar.Calendar.from_ical(data).walk("VEVENT"))


def by_uid_prefix(data: bytes, prefix: str) -> list[icalendar.Event]:
    return [e for e in parsed_events(data) if str(e["UID"]).startswith(prefix)]


def alarms_of(event: icalendar.Event) -> list[icalendar.Alarm]:
    return [c for c in event.subcomponents if c.name == "VALARM"]


# -- alarm triggers -------------------------------------------------------------------------

@pytest.mark.parametrize(("days_before", "at", "expected"), [
    (14, "09:00", "-P13DT15H"),
    (0, "09:00", "PT9H"),
    (1, "09:00", "-PT15H"),
    (3, "00:00", "-P3D"),
    (0, "23:59", "PT23H59M"),
    (0, "00:00", "P0D"),
    (365, "09:00", "-P364DT15H"),
    (365, "00:00", "-P365D"),
    (2, "18:30", "-P1DT5H30M"),
])
def test_alarm_trigger_counts_from_local_midnight_of_the_due_date(
        days_before: int, at: str, expected: str) -> None:
    hours, minutes = map(int, at.split(":"))
    alarm = views.AlarmSpec(days_before, at)
    assert events.alarm_trigger(alarm) == dt.timedelta(days=-days_before, hours=hours,
                                                    minutes=minutes)
    data = build(make_item(alarms=(alarm,)))
    triggers = [line for line in unfolded(data) if line.startswith("TRIGGER")]
    assert triggers == [f"TRIGGER:{expected}"]


# -- masking --------------------------------------------------------------------------------

@pytest.mark.parametrize(("number", "masked"), [
    ("+7 916 123 45 67", "•••• 4567"),
    ("+852 5123 4567", "•••• 4567"),
    ("+382 67 123 456", "•••• 3456"),
    ("+63 (912) 345-6789", "•••• 6789"),
    ("123", "•••• 123"),
])
def test_mask_number_keeps_only_the_last_four_digits(number: str, masked: str) -> None:
    assert events.mask_number(number) == masked


def test_numbers_are_masked_unless_the_feed_shows_them() -> None:
    item = make_item(phone_number="+7 916 123 45 67")
    masked = build(item).decode()
    assert "4567" in masked
    assert "916 123" not in masked and "+7 916" not in masked

    shown = parsed_events(build(item, show_numbers=True))[0]
    assert "Number: +7 916 123 45 67" in str(shown["DESCRIPTION"])
    assert "••••" not in str(shown["DESCRIPTION"])


# -- the due event --------------------------------------------------------------------------

@pytest.mark.parametrize(("due", "start", "end"), [
    (dt.date(2026, 12, 4), "20261204", "20261205"),
    (dt.date(2026, 12, 31), "20261231", "20270101"),
    (dt.date(2028, 2, 28), "20280228", "20280229"),
    (dt.date(2028, 2, 29), "20280229", "20280301"),
])
def test_due_event_is_all_day_and_transparent(due: dt.date, start: str, end: str) -> None:
    lines = unfolded(build(make_item(due_date=due, alarms=())))
    event = lines[lines.index("BEGIN:VEVENT"):lines.index("END:VEVENT")]
    assert f"DTSTART;VALUE=DATE:{start}" in event
    assert f"DTEND;VALUE=DATE:{end}" in event
    assert "TRANSP:TRANSPARENT" in event


def test_due_event_says_what_to_renew() -> None:
    (due,) = parsed_events(build(make_item(alarms=())))
    assert str(due["SUMMARY"]) == "Renew MTS Russia"
    (auto,) = parsed_events(build(make_item(alarms=(), auto_renew=True)))
    assert str(auto["SUMMARY"]) == "Check that MTS Russia renewed"


def test_description_holds_every_fact_needed_to_renew() -> None:
    last = views.RenewalView(id=3, renewed_on=dt.date(2026, 9, 4), amount="300.00",
                           currency="RUB", method="card")
    item = make_item(provider="MTS", phone_number="+7 916 123 45 67", country="RU",
                     price_amount="300.00", price_currency="RUB",
                     bound_services=("Sberbank", "Telegram"), grace_days=30,
                     notes="Top up in the app.\nCheck the balance.",
                     url="https://moskva.mts.ru/personal", last_renewal=last)
    description = str(parsed_events(build(item))[0]["DESCRIPTION"])
    assert description.split("\n") == [
        "Due: 2026-12-04",
        "Provider: MTS",
        "Number: •••• 4567",
        "Country: RU",
        "Price: 300.00 RUB",
        "Bound accounts: Sberbank, Telegram",
        "Grace period: 30 days (last day 2027-01-03)",
        "Renew at: https://moskva.mts.ru/personal",
        "Last renewal: 2026-09-04 · 300.00 RUB · card",
        "",
        "Top up in the app.",
        "Check the balance.",
        "",
        f"Open in feedsvc: {PAGE}",
    ]


def test_one_display_alarm_per_alarm() -> None:
    (due,) = parsed_events(build(make_item()))
    alarms = alarms_of(due)
    assert len(alarms) == 3
    assert [str(a["ACTION"]) for a in alarms] == ["DISPLAY"] * 3
    assert [a.decoded("TRIGGER") for a in alarms] == [
        dt.timedelta(days=-14, hours=9), dt.timedelta(days=-3, hours=9), dt.timedelta(hours=9)]
    assert [str(a["DESCRIPTION"]) for a in alarms] == [
        "MTS Russia is due in 14 days (2026-12-04)",
        "MTS Russia is due in 3 days (2026-12-04)",
        "MTS Russia is due today",
    ]


def test_no_alarms_means_no_valarm() -> None:
    (due,) = parsed_events(build(make_item(alarms=())))
    assert alarms_of(due) == []
    assert b"VALARM" not in build(make_item(alarms=()))


def test_tomorrow_alarm_says_tomorrow() -> None:
    (due,) = parsed_events(build(make_item(alarms=(views.AlarmSpec(1, "09:00"),))))
    assert [str(a["DESCRIPTION"]) for a in alarms_of(due)] == [
        "MTS Russia is due tomorrow (2026-12-04)"]


# -- grace, lead and renewal events ---------------------------------------------------------

def test_grace_event_on_the_last_day_with_its_own_alarm() -> None:
    data = build(make_item(grace_days=30))
    (grace,) = by_uid_prefix(data, "grace-")
    assert grace.decoded("DTSTART") == dt.date(2027, 1, 3)
    assert grace.decoded("DTEND") == dt.date(2027, 1, 4)
    assert str(grace["SUMMARY"]) == "Last day before MTS Russia is recycled"
    assert str(grace["TRANSP"]) == "TRANSPARENT"
    (alarm,) = alarms_of(grace)
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm.decoded("TRIGGER") == dt.timedelta(hours=9)
    assert str(alarm["DESCRIPTION"]) == "MTS Russia will be recycled after today"


@pytest.mark.parametrize("grace_days", [None, 0])
def test_no_grace_event_without_a_grace_period(grace_days: int | None) -> None:
    data = build(make_item(grace_days=grace_days))
    assert by_uid_prefix(data, "grace-") == []
    assert len(parsed_events(data)) == 1


def test_lead_events_only_with_reminder_events() -> None:
    assert by_uid_prefix(build(make_item()), "lead-") == []

    data = build(make_item(), reminder_events=True)
    leads = by_uid_prefix(data, "lead-")
    assert [(e.decoded("DTSTART"), e.decoded("DTEND")) for e in leads] == [
        (dt.date(2026, 11, 20), dt.date(2026, 11, 21)),
        (dt.date(2026, 12, 1), dt.date(2026, 12, 2)),
    ]
    assert [str(e["SUMMARY"]) for e in leads] == [
        "Renew MTS Russia — due in 14 days", "Renew MTS Russia — due in 3 days"]
    assert all(alarms_of(e) == [] for e in leads)
    assert all(str(e["TRANSP"]) == "TRANSPARENT" for e in leads)


def test_lead_events_one_per_day_before_none_for_the_day_itself() -> None:
    alarms = (views.AlarmSpec(1, "09:00"), views.AlarmSpec(0, "09:00"), views.AlarmSpec(0, "18:00"))
    leads = by_uid_prefix(build(make_item(alarms=alarms), reminder_events=True), "lead-")
    assert [(e.decoded("DTSTART"), str(e["SUMMARY"])) for e in leads] == [
        (dt.date(2026, 12, 3), "Renew MTS Russia — due tomorrow")]


def test_two_alarms_on_the_same_day_share_one_lead_event() -> None:
    alarms = (views.AlarmSpec(3, "09:00"), views.AlarmSpec(3, "18:00"))
    data = build(make_item(alarms=alarms), reminder_events=True)
    assert [e.decoded("DTSTART") for e in by_uid_prefix(data, "lead-")] == [dt.date(2026, 12, 1)]
    assert len(alarms_of(by_uid_prefix(data, "due-")[0])) == 2


def test_recent_renewals_are_past_events_without_alarms() -> None:
    renewals = (
        views.RenewalView(id=11, renewed_on=dt.date(2026, 3, 2), amount="300.00", currency="RUB",
                        method="card", reference="R-1", note="Paid at the shop"),
        views.RenewalView(id=12, renewed_on=dt.date(2026, 9, 1)),
    )
    data = build(make_item(recent_renewals=renewals, grace_days=None))
    past = by_uid_prefix(data, "renewal-")
    assert [str(e["UID"]) for e in past] == ["renewal-11@feedsvc", "renewal-12@feedsvc"]
    assert [e.decoded("DTSTART") for e in past] == [dt.date(2026, 3, 2), dt.date(2026, 9, 1)]
    assert [e.decoded("DTEND") for e in past] == [dt.date(2026, 3, 3), dt.date(2026, 9, 2)]
    assert [str(e["SUMMARY"]) for e in past] == ["Renewed MTS Russia"] * 2
    assert all(alarms_of(e) == [] for e in past)
    assert str(past[0]["DESCRIPTION"]).split("\n") == [
        "Paid: 300.00 RUB", "Method: card", "Reference: R-1", "Paid at the shop",
        f"Open in feedsvc: {PAGE}"]


# -- the calendar ---------------------------------------------------------------------------

def test_calendar_properties() -> None:
    lines = unfolded(build(make_feed().items[0], name="SIM cards", timezone="Europe/Moscow"))
    header = lines[:lines.index("BEGIN:VEVENT")]
    assert header[0] == "BEGIN:VCALENDAR"
    for expected in [
        "VERSION:2.0",
        f"PRODID:{ics.PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:SIM cards",
        "NAME:SIM cards",
        "X-WR-CALDESC:Renewal deadlines with reminders ahead of each due date",
        "X-WR-TIMEZONE:Europe/Moscow",
        "REFRESH-INTERVAL;VALUE=DURATION:PT3H",
        "X-PUBLISHED-TTL:PT3H",
    ]:
        assert expected in header
    assert lines[-1] == "END:VCALENDAR"
    names = [line.split(":")[0].split(";")[0] for line in header[1:]]
    assert len(names) == len(set(names)), "a calendar property appears twice"


@pytest.mark.parametrize("name", ["All renewals", "SIM cards", "保号卡 " * 30, "a;b,c\\d " * 20])
@pytest.mark.parametrize("locale", ["en", "zh-Hans"])
@pytest.mark.parametrize("stamp", [STAMP, dt.datetime(2031, 1, 2, 3, 4, 5, tzinfo=dt.UTC)])
def test_calendar_head_carries_its_name_and_last_change(name: str, locale: str,
                                                         stamp: dt.datetime) -> None:
    feed = make_feed(items=(), name=name, locale=locale, last_modified=stamp)
    data = ics.build_calendar(feed)
    escaped = ics.calendar_name(feed).replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    assert f"NAME:{escaped}" in unfolded(data)
    assert icalendar.Calendar.from_ical(data)["LAST-MODIFIED"].dt == stamp


def test_empty_feed_is_still_a_valid_calendar() -> None:
    data = ics.build_calendar(make_feed(items=()))
    calendar = icalendar.Calendar.from_ical(data)
    assert list(calendar.walk("VEVENT")) == []
    assert str(calendar["X-WR-CALNAME"]) == "All renewals"


# -- bytes ----------------------------------------------------------------------------------

LONG_CHINESE = ("香港储值卡保号续费提醒：中国移动香港 MySIM 年度保号套餐，"
                "请提前两周充值并保留收据。") * 6


def awkward_feed() -> bytes:
    item = make_item(title="保号卡 " + "😀" * 40, provider="中国移动香港",
                     notes=LONG_CHINESE + "\n" + "é" * 200 + "\n" + "a;b,c\\d " * 30,
                     bound_services=("微信", "支付宝", "Telegram"), grace_days=10)
    return build(item, reminder_events=True, locale="zh-Hans", name="我的保号卡" * 10)


def test_lines_end_with_crlf_only() -> None:
    data = awkward_feed()
    assert data.endswith(b"END:VCALENDAR\r\n")
    for line in data.split(b"\r\n")[:-1]:
        assert b"\r" not in line and b"\n" not in line


def test_physical_lines_fit_75_octets_and_hold_whole_characters() -> None:
    data = awkward_feed()
    lines = data.split(b"\r\n")[:-1]
    assert any(line.startswith(b" ") for line in lines), "the test feed should need folding"
    for line in lines:
        assert len(line) <= 75, line
        line.decode("utf-8")  # raises when folding split a character


def test_folding_round_trips_long_text() -> None:
    (due,) = by_uid_prefix(awkward_feed(), "due-")
    assert LONG_CHINESE in str(due["DESCRIPTION"])
    assert str(due["SUMMARY"]) == "续费：保号卡 " + "😀" * 40


def test_text_is_escaped() -> None:
    item = make_item(title="A;B,C\\D", notes="one\ntwo; three, four \\ five")
    lines = unfolded(build(item, name="x;y,z"))
    assert "SUMMARY:Renew A\\;B\\,C\\\\D" in lines
    assert "X-WR-CALNAME:x\\;y\\,z" in lines
    (description,) = [line for line in lines
                      if line.startswith("DESCRIPTION:Due")]
    assert "\\n\\none\\ntwo\\; three\\, four \\\\ five\\n\\n" in description


def test_a_literal_backslash_n_stays_as_written() -> None:
    item = make_item(title="C:\\New", notes="path C:\\Notes\\N1")
    data = build(item)
    assert "SUMMARY:Renew C:\\\\New" in unfolded(data)
    (due,) = parsed_events(data)
    assert str(due["SUMMARY"]) == "Renew C:\\New"
    assert "path C:\\Notes\\N1" in str(due["DESCRIPTION"])


def test_control_characters_are_dropped_and_line_breaks_normalised() -> None:
    item = make_item(title="MTS\r\nEND:VEVENT\x00\x1b[31m\tRussia",
                     notes="a\r\nb\rc\x00d\x07e\x7ff\x85g\u2028h\ti")
    data = build(item)
    assert not re.search(rb"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f]", data)
    assert data.split(b"\r\n").count(b"END:VEVENT") == 1
    (due,) = parsed_events(data)
    assert str(due["SUMMARY"]) == "Renew MTS END:VEVENT[31m Russia"
    assert "a\nb\ncdef\ng\nh\ti" in str(due["DESCRIPTION"])


def test_chinese_texts_with_zh_hans() -> None:
    renewal = views.RenewalView(id=5, renewed_on=dt.date(2026, 9, 4), amount="300.00",
                              currency="RUB")
    item = make_item(title="俄罗斯 MTS", provider="MTS", phone_number="+7 916 123 45 67",
                     grace_days=30, auto_renew=False, recent_renewals=(renewal,))
    data = build(item, locale="zh-Hans", reminder_events=True)
    lines = unfolded(data)
    assert "X-WR-CALDESC:续费截止日期，并在到期前提醒" in lines
    summaries = {str(e["UID"]).split("-")[0]: str(e["SUMMARY"]) for e in parsed_events(data)}
    assert summaries == {
        "due": "续费：俄罗斯 MTS",
        "grace": "俄罗斯 MTS 被回收前的最后一天",
        "lead": "续费：俄罗斯 MTS（3 天后到期）",
        "renewal": "已续费：俄罗斯 MTS",
    }
    (due,) = by_uid_prefix(data, "due-")
    assert [str(a["DESCRIPTION"]) for a in alarms_of(due)] == [
        "俄罗斯 MTS 将在 14 天后到期（2026-12-04）",
        "俄罗斯 MTS 将在 3 天后到期（2026-12-04）",
        "俄罗斯 MTS 今天到期",
    ]
    description = str(due["DESCRIPTION"])
    assert "到期日：2026-12-04" in description
    assert "运营商：MTS" in description
    assert "号码：•••• 4567" in description
    assert "Renew " not in data.decode() and "Due:" not in data.decode()


# -- stability ------------------------------------------------------------------------------

def test_building_twice_gives_identical_bytes() -> None:
    feed = make_feed(make_item(grace_days=30, provider="MTS"), make_item(id=8, title="TNT"),
                     reminder_events=True)
    assert ics.build_calendar(feed) == ics.build_calendar(feed)
    assert ics.build_calendar(feed) == ics.build_calendar(dataclasses.replace(feed))


def uids(data: bytes) -> list[str]:
    return [str(e["UID"]) for e in parsed_events(data)]


def test_uids_are_stable_for_the_same_item_and_cycle() -> None:
    before = uids(build(make_item(grace_days=30), reminder_events=True))
    edited = make_item(grace_days=30, title="MTS (main)", sequence=5,
                       last_modified=STAMP + dt.timedelta(days=2), notes="changed")
    assert uids(build(edited, reminder_events=True)) == before
    assert before == ["due-7-0@feedsvc", "grace-7-0@feedsvc", "lead-7-0-14@feedsvc",
                      "lead-7-0-3@feedsvc"]


def test_uids_differ_for_another_cycle_or_item() -> None:
    first = set(uids(build(make_item(grace_days=30), reminder_events=True)))
    next_cycle = set(uids(build(make_item(grace_days=30, cycle=41), reminder_events=True)))
    other_item = set(uids(build(make_item(id=8, grace_days=30), reminder_events=True)))
    assert first.isdisjoint(next_cycle)
    assert first.isdisjoint(other_item)
    assert next_cycle.isdisjoint(other_item)


def test_every_uid_in_a_feed_is_unique() -> None:
    renewals = (views.RenewalView(id=1, renewed_on=dt.date(2026, 1, 1)),)
    data = build(make_item(grace_days=3, recent_renewals=renewals),
                 make_item(id=8, grace_days=3, recent_renewals=(
                     views.RenewalView(id=2, renewed_on=dt.date(2026, 2, 1)),)),
                 reminder_events=True)
    found = uids(data)
    assert len(found) == len(set(found)) == 10


def test_dtstamp_and_last_modified_are_the_given_instant_never_now() -> None:
    past = dt.datetime(2020, 2, 29, 23, 59, 58, tzinfo=dt.UTC)
    data = build(make_item(last_modified=past, grace_days=5, sequence=9), last_modified=past,
                 reminder_events=True)
    lines = unfolded(data)
    stamps = [line for line in lines if line.startswith("DTSTAMP")]
    assert stamps == ["DTSTAMP:20200229T235958Z"] * 4
    assert [line for line in lines if line.startswith("LAST-MODIFIED")] == [
        "LAST-MODIFIED:20200229T235958Z"] * 5
    assert [line for line in lines if line.startswith("SEQUENCE")] == ["SEQUENCE:9"] * 4


def test_a_local_instant_is_written_in_utc() -> None:
    moscow = dt.datetime(2026, 11, 22, 11, 30, 15, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    lines = unfolded(build(make_item(last_modified=moscow)))
    assert "DTSTAMP:20261122T083015Z" in lines
