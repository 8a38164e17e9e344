"""The first visit, end to end in a real browser: sign up, add a SIM card, renew it, undo,
subscribe, and rotate the calendar address; on a phone and on a laptop, in Chinese and in
English."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from feedsvc.feed import events
from feedsvc.repeat import add_months
from feedsvc.texts import DEFAULT_FEED_NAME

from e2e.helpers import (
    BROWSER_LOCALES,
    HTML_LANG,
    LANGUAGES,
    PASSWORD,
    WIDTHS,
    PageAudit,
    Words,
    sign_up,
)

pytestmark = pytest.mark.e2e


def today_in(zone: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(zone)).date()


def due_in_list(page: Any, title: str) -> str:
    """The ISO due date the item list shows for ``title``."""
    card = page.locator("li.item", has=page.locator(".item-title", has_text=title))
    return str(card.locator(".item-due time").get_attribute("datetime"))


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_first_visit_from_sign_up_to_a_rotated_calendar(new_context: Any, live_server: str,
                                                        width: str, lang: str) -> None:
    t = Words(lang)
    audit = PageAudit(width, lang)
    context = new_context(width, lang, permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    zone = BROWSER_LOCALES[lang]["timezone_id"]

    # Sign up: the page speaks the browser's language and proposes its time zone.
    page.goto("/signup")
    assert page.locator("html").get_attribute("lang") == HTML_LANG[lang]
    assert page.get_by_role("heading", level=1).inner_text() == t("Create an account")
    assert page.locator("#f-locale").input_value() == {"zh": "zh-Hans", "en": "en"}[lang]
    assert page.locator("#f-timezone").input_value() == zone
    audit.check_layout(page, "journey-signup")
    page.get_by_label(t("E-mail address")).fill(f"journey-{lang}-{width}@example.com")
    page.get_by_label(t("Password"), exact=True).fill(PASSWORD)
    page.get_by_label(t("Password again")).fill(PASSWORD)
    page.get_by_role("button", name=t("Create account")).click()

    # Sign-up answers every address alike (taken or not): log in with what was chosen.
    page.wait_for_url("/login")
    expect_flash(page, t("Your account is ready: log in with your e-mail address and "
                         "password."))
    audit.check_layout(page, "journey-login")
    page.get_by_label(t("E-mail address")).fill(f"journey-{lang}-{width}@example.com")
    page.get_by_label(t("Password")).fill(PASSWORD)
    page.get_by_role("button", name=t("Log in")).click()

    page.wait_for_url("/")
    assert page.get_by_role("heading", level=1).inner_text() == t("Your items")
    audit.check_layout(page, "journey-empty-list")

    # Add a SIM card with the picker: a country, then one of the carriers it proposes.
    page.get_by_role("link", name=t("Add item")).click()
    page.wait_for_url("/items/new")
    assert page.get_by_role("heading", level=1).inner_text() == t("Add an item")
    assert page.locator("#f-category").input_value() == "sim"
    assert page.locator("#f-repeat-every").input_value() == "1"
    assert page.locator("#f-repeat-from").input_value() == "schedule"
    assert page.locator("#f-use_default_alarms").is_checked()
    separator = "；" if lang == "zh" else "; "
    defaults = t("Your defaults: %(alarms)s.", alarms=separator.join([
        t.n("%(num)d day before at %(at)s", "%(num)d days before at %(at)s", 14, at="09:00"),
        t.n("%(num)d day before at %(at)s", "%(num)d days before at %(at)s", 3, at="09:00"),
        t("on the day at %(at)s", at="09:00")]))
    assert page.locator("#f-use_default_alarms-hint").inner_text() == defaults
    audit.check_layout(page, "journey-add-form")

    country = page.get_by_label(t("Country (optional)"))
    country.fill("ru")
    proposals = page.locator("#providers option").evaluate_all(
        "options => options.map(o => [o.value, o.dataset.country])")
    russian = [name for name, code in proposals if code == "RU"]
    assert russian and [name for name, _ in proposals[:len(russian)]] == russian, (
        "the chosen country's carriers come first")
    carrier = russian[0]
    country.fill("HK")
    assert page.locator("#providers option").first.get_attribute("data-country") == "HK"
    country.fill("RU")
    page.get_by_label(t("Provider (optional)")).fill(carrier)

    today = today_in(zone)
    due = today + dt.timedelta(days=10)
    title = f"{carrier} {'俄罗斯' if lang == 'zh' else 'Russia'}"
    page.get_by_label(t("Title"), exact=True).fill(title)
    page.get_by_label(t("Due date"), exact=True).fill(due.isoformat())
    page.get_by_label(t("Every"), exact=True).fill("3")
    page.get_by_label(t("Unit"), exact=True).select_option("month")
    page.get_by_role("button", name=t("Save"), exact=True).click()

    # The list: under "next 30 days", with the days left.
    page.wait_for_url("/")
    expect_flash(page, t("Added “%(title)s”.", title=title))
    group = page.locator("section.item-group", has=page.locator(".item-title",
                                                                 has_text=title))
    assert group.locator("h2").inner_text().startswith(
        t.n("Next %(num)d day", "Next %(num)d days", 30))
    card = group.locator("li.item", has=page.locator(".item-title", has_text=title))
    assert card.locator(".days-left").inner_text() == t.n("in %(num)d day", "in %(num)d days",
                                                          10)
    meta = card.locator(".item-meta").inner_text()
    assert carrier in meta and "RU" in meta
    assert due_in_list(page, title) == due.isoformat()
    audit.check_layout(page, "journey-list")

    # Mark it renewed: the due date moves on by the repeat rule, three months.
    with page.expect_navigation():  # from the list back to the list
        card.get_by_role("button", name=re.compile("^" + re.escape(t("Renewed")))).click()
    renewed_due = add_months(due, 3)
    assert due_in_list(page, title) == renewed_due.isoformat()
    flash = page.locator(".flash-success")
    assert t("%(title)s renewed: next due %(due)s", title=title,
             due=t.day(renewed_due)) in flash.inner_text()
    audit.check_layout(page, "journey-renewed")

    # Undo it from the message: the due date comes back.
    flash.get_by_role("link", name=t("Undo")).click()
    page.wait_for_url(re.compile(r"/items/\d+/renewals/undo$"))
    audit.check_layout(page, "journey-undo")
    page.get_by_role("button", name=t("Undo renewal")).click()
    page.wait_for_url("/")
    assert due_in_list(page, title) == due.isoformat()

    # The calendars page: copy the address.
    page.get_by_role("navigation").get_by_role("link", name=t("Calendars")).click()
    page.wait_for_url("/calendars")
    audit.check_layout(page, "journey-calendars")
    assert page.locator(".calendar-name").first.inner_text() == events.text(
        HTML_LANG[lang], DEFAULT_FEED_NAME)
    address = page.locator("textarea.feed-url").first
    old_url = address.input_value()
    assert old_url.startswith(live_server + "/feeds/") and old_url.endswith(".ics")
    page.locator("button.copy-button").first.click()
    status = page.locator(".copy-status").first
    status.filter(has_text=t("Copied.")).wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()") == old_url

    first = context.request.get(old_url)
    assert first.status == 200
    assert first.headers["content-type"] == "text/calendar; charset=utf-8"
    assert title in first.text()

    # A new address: the old one is gone (410), the new one serves the calendar.
    page.get_by_role("link", name=re.compile("^" + re.escape(t("New address")))).first.click()
    page.wait_for_url(re.compile(r"/calendars/\d+/rotate$"))
    audit.check_layout(page, "journey-rotate")
    page.get_by_role("button", name=t("Give it a new address")).click()
    page.wait_for_url(re.compile(r"/calendars(#feed-\d+)?$"))
    new_url = page.locator("textarea.feed-url").first.input_value()
    assert new_url != old_url and new_url.startswith(live_server + "/feeds/")
    assert context.request.get(old_url).status == 410
    fresh = context.request.get(new_url)
    assert fresh.status == 200
    assert fresh.headers["content-type"] == "text/calendar; charset=utf-8"
    assert "BEGIN:VCALENDAR" in fresh.text() and title in fresh.text()

    assert not audit.problems, "\n".join(audit.problems)


def expect_flash(page: Any, text: str) -> None:
    flashes = page.locator(".flash").all_inner_texts()
    assert any(text in flash for flash in flashes), flashes


@pytest.mark.parametrize("width", WIDTHS)
def test_the_pages_work_without_javascript(new_context: Any, width: str) -> None:
    t = Words("en")
    page = new_context(width, "en", java_script_enabled=False).new_page()
    sign_up(page, t, f"no-script-{width}@example.com")
    page.goto("/items/new")
    page.get_by_label(t("Title"), exact=True).fill("Monaco Telecom")
    page.get_by_label(t("Country (optional)")).fill("MC")
    page.get_by_label(t("Provider (optional)")).fill("Monaco Telecom")
    page.get_by_label(t("Due date"), exact=True).fill("2027-03-31")
    page.get_by_label(t("Unit"), exact=True).select_option("month")
    with page.expect_navigation():
        page.get_by_role("button", name=t("Save"), exact=True).click()
    assert due_in_list(page, "Monaco Telecom") == "2027-03-31"
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("^" + re.escape(t("Renewed")))).click()
    assert due_in_list(page, "Monaco Telecom") == "2027-04-30"

    # The address is there to select and copy by hand; the Copy button needs JavaScript.
    page.goto("/calendars")
    assert page.locator("textarea.feed-url").first.input_value().endswith(".ics")
    assert not page.locator("button.copy-button").first.is_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= (
        page.evaluate("() => document.documentElement.clientWidth"))
