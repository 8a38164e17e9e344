"""What a subscribed calendar sees when an item is renewed, undone and renewed again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import icalendar
import pytest
import vobject
from flask import Flask
from flask.testing import FlaskClient

from feedsvc import db, feeds, status
from feedsvc.models import User

from helpers import VALID_ITEM, Api

TODAY = dt.date(2027, 1, 19)
NOON = dt.datetime(2027, 1, 19, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Seen:
    """One VEVENT as the tests compare it."""

    uid: str
    summary: str
    start: dt.date
    end: dt.date
    triggers: tuple[str, ...]
    sequence: int


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(status, "utc_now", lambda: NOON)
    yield


@pytest.fixture
def feed_path(app: Flask, user: dict[str, Any]) -> str:
    """The path of the user's default feed."""
    with app.app_context(), db.new_session(app) as session:
        owner = session.get(User, user["id"])
        assert owner is not None
        feed = feeds.ensure_default_feed(session, owner, app.config["SECRET_KEY"])
        session.commit()
        return f"/feeds/{feeds.feed_token(app.config['SECRET_KEY'], feed.secret)}.ics"


def parse(data: bytes) -> list[Seen]:
    """The feed's events as icalendar reads them, checked against vobject's reading."""
    calendar = icalendar.Calendar.from_ical(data)
    events = []
    for event in calendar.walk("VEVENT"):
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert not isinstance(start, dt.datetime) and not isinstance(end, dt.datetime)
        events.append(Seen(
            uid=str(event["UID"]), summary=str(event["SUMMARY"]), start=start, end=end,
            triggers=tuple(alarm["TRIGGER"].to_ical().decode()
                           for alarm in event.walk("VALARM")),
            sequence=int(event["SEQUENCE"]),
        ))
    other = vobject.readOne(data.decode("utf-8"))
    assert sorted((e.uid.value, e.dtstart.value, e.summary.value,
                   len(e.contents.get("valarm", [])))
                  for e in other.vevent_list) == sorted(
        (e.uid, e.start, e.summary, len(e.triggers)) for e in events)
    uids = [e.uid for e in events]
    assert len(uids) == len(set(uids)), uids
    return events


def fetch(client: FlaskClient, path: str) -> list[Seen]:
    response = client.get(path)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/calendar"
    return parse(response.data)


def of_kind(events: list[Seen], kind: str, item_id: int) -> list[Seen]:
    """The item's events of one kind: ``due``, ``grace``, ``lead``."""
    return [e for e in events if e.uid.startswith(f"{kind}-{item_id}-")]


def renewal_events(events: list[Seen]) -> list[Seen]:
    return [e for e in events if e.uid.startswith("renewal-")]


def renew(api: Api, item_id: int, body: Any = None) -> dict[str, Any]:
    response = api.post(f"/api/v1/items/{item_id}/renewals", json=body)
    assert response.status_code == 201, response.json
    return response.json


def undo(api: Api, item_id: int) -> dict[str, Any]:
    response = api.delete(f"/api/v1/items/{item_id}/renewals/latest")
    assert response.status_code == 200, response.json
    return response.json


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def test_a_renewal_moves_the_due_event_and_adds_a_past_event(
    client: FlaskClient, api: Api, item: dict[str, Any], feed_path: str
) -> None:
    item_id = item["id"]
    before = fetch(client, feed_path)
    (due,) = of_kind(before, "due", item_id)
    assert (due.uid, due.start, due.end) == (f"due-{item_id}-0@feedsvc", day("2027-03-31"),
                                             day("2027-04-01"))
    assert due.triggers == ("-P13DT15H", "PT9H")
    (grace,) = of_kind(before, "grace", item_id)
    assert (grace.start, grace.triggers) == (day("2027-04-30"), ("PT9H",))
    assert renewal_events(before) == []

    renewal = renew(api, item_id)["renewal"]
    after = fetch(client, feed_path)
    (due_after,) = of_kind(after, "due", item_id)
    assert due_after.start == day("2027-06-30")
    assert due_after.uid == f"due-{item_id}-{renewal['id']}@feedsvc"
    assert due_after.uid != due.uid
    assert due_after.triggers == ("-P13DT15H", "PT9H")
    (grace_after,) = of_kind(after, "grace", item_id)
    assert grace_after.uid == f"grace-{item_id}-{renewal['id']}@feedsvc"
    assert (grace_after.start, grace_after.triggers) == (day("2027-07-30"), ("PT9H",))
    (past,) = renewal_events(after)
    assert past.uid == f"renewal-{renewal['id']}@feedsvc"
    assert past.summary == "Renewed MTS Russia"
    assert (past.start, past.end) == (TODAY, TODAY + dt.timedelta(days=1))
    assert past.triggers == ()
    assert {e.uid for e in after} == {due_after.uid, grace_after.uid, past.uid}


def test_undo_brings_back_the_original_events_and_a_new_renewal_gets_new_uids(
    client: FlaskClient, api: Api, item: dict[str, Any], feed_path: str
) -> None:
    item_id = item["id"]
    before = fetch(client, feed_path)
    renew(api, item_id)
    after_first = fetch(client, feed_path)

    undo(api, item_id)
    after_undo = fetch(client, feed_path)
    assert [(e.uid, e.summary, e.start, e.end, e.triggers) for e in after_undo] == [
        (e.uid, e.summary, e.start, e.end, e.triggers) for e in before]
    for old, new in zip(before, after_undo, strict=True):
        assert new.sequence >= old.sequence

    used = {e.uid for e in before + after_first}
    again = renew(api, item_id)
    assert again["item"]["due_date"] == "2027-06-30"
    after_again = fetch(client, feed_path)
    (due,) = of_kind(after_again, "due", item_id)
    (grace,) = of_kind(after_again, "grace", item_id)
    (past,) = renewal_events(after_again)
    assert due.start == day("2027-06-30")
    # A cycle undone is gone for good: its UIDs are never handed to another renewal.
    assert {due.uid, grace.uid, past.uid}.isdisjoint(used), (due.uid, grace.uid, past.uid)


def test_several_renewals_leave_one_due_event_and_one_past_event_each(
    client: FlaskClient, api: Api, item: dict[str, Any], feed_path: str
) -> None:
    item_id = item["id"]
    ids = [renew(api, item_id, {"amount": str(100 * n)})["renewal"]["id"] for n in (1, 2, 3)]
    events = fetch(client, feed_path)
    (due,) = of_kind(events, "due", item_id)
    assert (due.uid, due.start) == (f"due-{item_id}-{ids[-1]}@feedsvc", day("2027-12-31"))
    (grace,) = of_kind(events, "grace", item_id)
    assert (grace.uid, grace.start) == (f"grace-{item_id}-{ids[-1]}@feedsvc", day("2028-01-30"))
    assert sorted(e.uid for e in renewal_events(events)) == sorted(
        f"renewal-{i}@feedsvc" for i in ids)

    undo(api, item_id)
    events = fetch(client, feed_path)
    (due,) = of_kind(events, "due", item_id)
    assert (due.uid, due.start) == (f"due-{item_id}-{ids[-2]}@feedsvc", day("2027-09-30"))
    assert sorted(e.uid for e in renewal_events(events)) == sorted(
        f"renewal-{i}@feedsvc" for i in ids[:2])


def test_lead_events_follow_the_new_cycle(
    client: FlaskClient, api: Api, item: dict[str, Any], feed_path: str
) -> None:
    google = feed_path.removesuffix(".ics") + "/google.ics"
    item_id = item["id"]
    before = of_kind(fetch(client, google), "lead", item_id)
    assert [(e.uid, e.start) for e in before] == [(f"lead-{item_id}-0-14@feedsvc",
                                                   day("2027-03-17"))]
    renewal = renew(api, item_id)["renewal"]
    after = of_kind(fetch(client, google), "lead", item_id)
    assert [(e.uid, e.start) for e in after] == [
        (f"lead-{item_id}-{renewal['id']}-14@feedsvc", day("2027-06-16"))]


def test_an_item_without_grace_has_no_grace_event_in_either_cycle(
    client: FlaskClient, api: Api, feed_path: str
) -> None:
    created = api.post("/api/v1/items", json={**VALID_ITEM, "grace_days": None})
    item_id = created.json["id"]
    assert of_kind(fetch(client, feed_path), "grace", item_id) == []
    renew(api, item_id)
    events = fetch(client, feed_path)
    assert of_kind(events, "grace", item_id) == []
    assert len(of_kind(events, "due", item_id)) == 1


def test_renewing_one_item_leaves_the_others_events_alone(
    client: FlaskClient, api: Api, item: dict[str, Any], feed_path: str
) -> None:
    other = api.post("/api/v1/items", json={**VALID_ITEM, "title": "HK card", "repeat": None,
                                            "due_date": "2027-02-01"}).json
    before = [(e.uid, e.start) for e in fetch(client, feed_path)
              if e.uid.startswith((f"due-{other['id']}-", f"grace-{other['id']}-"))]
    renew(api, item["id"])
    after = [(e.uid, e.start) for e in fetch(client, feed_path)
             if e.uid.startswith((f"due-{other['id']}-", f"grace-{other['id']}-"))]
    assert after == before == [(f"due-{other['id']}-0@feedsvc", day("2027-02-01")),
                               (f"grace-{other['id']}-0@feedsvc", day("2027-03-03"))]


def test_only_renewals_of_the_last_12_months_appear(
    client: FlaskClient, api: Api, item: dict[str, Any], feed_path: str
) -> None:
    old = renew(api, item["id"], {"renewed_on": "2025-11-01"})["renewal"]
    recent = renew(api, item["id"], {"renewed_on": "2026-03-01"})["renewal"]
    latest = renew(api, item["id"], {"renewed_on": TODAY.isoformat()})["renewal"]
    shown = {e.uid: e.start for e in renewal_events(fetch(client, feed_path))}
    assert shown == {f"renewal-{recent['id']}@feedsvc": day("2026-03-01"),
                     f"renewal-{latest['id']}@feedsvc": TODAY}
    assert f"renewal-{old['id']}@feedsvc" not in shown


def test_the_feed_changes_its_etag_on_renewal_and_undo(
    client: FlaskClient, api: Api, item: dict[str, Any], feed_path: str
) -> None:
    first = client.get(feed_path)
    renew(api, item["id"])
    second = client.get(feed_path)
    assert second.headers["ETag"] != first.headers["ETag"]
    stale = client.get(feed_path, headers={"If-None-Match": first.headers["ETag"]})
    assert stale.status_code == 200
    undo(api, item["id"])
    third = client.get(feed_path)
    assert third.headers["ETag"] != second.headers["ETag"]
