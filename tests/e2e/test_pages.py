"""Every page, in both languages, on a phone and on a laptop: a full-page screenshot, an axe
accessibility audit (WCAG 2.1 A and AA), no sideways scrolling, and 44 px tap targets on
the phone. The screenshots land in test-output/screenshots/<width>/<lang>-<page>.png for a
person to look at."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from feedsvc.actions import RENEW, SNOOZE, make_token

from e2e.helpers import (
    BROWSER_LOCALES,
    E2E_SECRET_KEY,
    LANGUAGES,
    PASSWORD,
    WIDTHS,
    PageAudit,
    Words,
)

pytestmark = pytest.mark.e2e

GOOD_CSV = ("title,due_date,provider,country,repeat_every,repeat_unit,bound_services\r\n"
            "MTS Russia,2027-03-31,MTS,RU,3,month,Sberbank;Telegram\r\n"
            "香港 CSL 储值卡,2027-01-15,CSL,HK,,,\r\n").encode("utf-8-sig")
BAD_CSV = (b"title,due_date,country,grace_days\r\n"
           b"Good one,2027-03-31,RU,\r\n"
           b",2027-01-15,HK,\r\n"
           b"Bad date,2027-02-30,XX,400\r\n")


def sample_items(lang: str, today: dt.date) -> list[dict[str, Any]]:
    """Items in every status, with long and short titles, as the API takes them."""
    zh = lang == "zh"

    def day(offset: int) -> str:
        return (today + dt.timedelta(days=offset)).isoformat()

    return [
        {"title": "MTS 俄罗斯号码" if zh else "MTS Russia", "provider": "MTS", "country": "RU",
         "phone_number": "+7 916 123 45 67", "due_date": day(5),
         "repeat": {"every": 3, "unit": "month", "from": "schedule"}, "grace_days": 30,
         "price": {"amount": "300.00", "currency": "RUB"},
         "bound_services": ["Sberbank", "Telegram"],
         "notes": "在 App 里充值。" if zh else "Top up in the app."},
        {"title": "摩纳哥电信" if zh else "Monaco Telecom", "provider": "Monaco Telecom",
         "country": "MC", "due_date": day(-3),
         "repeat": {"every": 1, "unit": "month", "from": "schedule"}},
        {"title": "香港 CSL 储值卡" if zh else "CSL Hong Kong prepaid", "provider": "CSL",
         "country": "HK", "phone_number": "+852 5123 4567", "due_date": day(-10),
         "grace_days": 60, "repeat": {"every": 180, "unit": "day", "from": "renewal"}},
        {"title": ("黑山 One 预付卡（名字很长，用来看看手机上的换行是否正常）" if zh
                   else "One Montenegro prepaid card with a rather long name that has to wrap"),
         "provider": "One Montenegro", "country": "ME", "due_date": day(45),
         "repeat": {"every": 1, "unit": "year", "from": "schedule"},
         "price": {"amount": "10.00", "currency": "EUR"}},
        {"title": "example.org 域名" if zh else "example.org domain", "category": "domain",
         "due_date": day(200), "repeat": {"every": 1, "unit": "year", "from": "schedule"},
         "auto_renew": True},
        {"title": "旧的 Beeline 号码" if zh else "Old Beeline number", "provider": "Beeline",
         "country": "RU", "due_date": day(-100), "grace_days": 30},
        {"title": "护照" if zh else "Passport", "category": "document", "due_date": day(300)},
        {"title": "已停用的 TNT 卡" if zh else "Retired TNT card", "provider": "TNT",
         "country": "PH", "due_date": day(20), "archived": True},
    ]


def submit(page: Any, name: str, t: Words) -> None:
    """Click the submit button called ``name`` and wait for the next page."""
    with page.expect_navigation():
        page.get_by_role("button", name=t(name), exact=True).click()


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_is_accessible_and_fits(new_context: Any, axe_source: str, live_server: str,
                                           width: str, lang: str) -> None:
    t = Words(lang)
    audit = PageAudit(width, lang, axe_source)
    context = new_context(width, lang)
    page = context.new_page()
    email = f"pages-{lang}-{width}@example.com"

    # A visitor: sign up (with a mistake first), log out, log in (with a mistake first).
    page.goto("/signup")
    audit.check(page, "signup")
    page.get_by_label(t("E-mail address")).fill("not-an-address")
    page.get_by_label(t("Password"), exact=True).fill("short")
    page.get_by_label(t("Password again")).fill("different")
    page.locator("form.form").evaluate("form => form.noValidate = true")
    submit(page, "Create account", t)
    # The e-mail address, the password and its confirmation.
    assert page.locator(".field-error").count() == 3
    audit.check(page, "signup-errors")
    page.get_by_label(t("E-mail address")).fill(email)
    page.get_by_label(t("Password"), exact=True).fill(PASSWORD)
    page.get_by_label(t("Password again")).fill(PASSWORD)
    submit(page, "Create account", t)
    page.wait_for_url("/login")
    audit.check(page, "login-after-signup")
    page.get_by_label(t("E-mail address")).fill(email)
    page.get_by_label(t("Password")).fill(PASSWORD)
    submit(page, "Log in", t)
    page.wait_for_url("/")
    audit.check(page, "items-empty")

    submit(page, "Log out", t)
    audit.check(page, "login")
    page.goto("/password/forgot")
    audit.check(page, "password-forgot")
    page.get_by_label(t("E-mail address")).fill(email)
    submit(page, "Send me a link", t)
    audit.check(page, "password-forgot-sent")
    page.goto("/login")
    page.get_by_label(t("E-mail address")).fill(email)
    page.get_by_label(t("Password")).fill("wrong password")
    submit(page, "Log in", t)
    audit.check(page, "login-errors")
    page.get_by_label(t("Password")).fill(PASSWORD)
    submit(page, "Log in", t)
    page.wait_for_url("/")

    # An API token, to fill the account quickly through the API.
    page.goto("/tokens")
    page.get_by_label(t("Name"), exact=True).fill("backup script")
    submit(page, "Create token", t)
    audit.check(page, "tokens")
    token = page.locator("#new-token").inner_text().strip()
    api_headers = {"Authorization": f"Bearer {token}"}

    # The add form, and the same form with the server's errors next to their fields.
    page.goto("/items/new")
    audit.check(page, "item-new")
    page.get_by_label(t("Title"), exact=True).fill("MTS")
    page.get_by_label(t("Due date"), exact=True).fill("2027-03-31")
    page.get_by_label(t("Grace period in days (optional)")).fill("abc")
    page.get_by_label(t("Amount")).fill("12,5x")
    page.get_by_label(t("Use my default alarms")).uncheck()
    page.locator("#f-alarms-0-days_before").fill("999")
    page.locator("#f-alarms-0-at").fill("09:00")
    submit(page, "Save", t)
    assert page.locator("[aria-invalid=true]").count() >= 3
    audit.check(page, "item-new-errors")

    today = dt.datetime.now(ZoneInfo(BROWSER_LOCALES[lang]["timezone_id"])).date()
    ids = []
    for item in sample_items(lang, today):
        answer = context.request.post("/api/v1/items", data=item, headers=api_headers)
        assert answer.status == 201, answer.text()
        ids.append(answer.json()["id"])
    repeating, once, archived = ids[0], ids[6], ids[7]

    page.goto("/")
    audit.check(page, "items")
    card = page.locator("li.item").filter(has=page.locator(f"a[href='/items/{repeating}']"))
    with page.expect_navigation():
        card.get_by_role("button", name=re.compile("^" + re.escape(t("Renewed")))).click()
    audit.check(page, "items-renewed")

    page.goto(f"/items/{repeating}")
    audit.check(page, "item-edit")
    page.get_by_label(t("Title"), exact=True).fill("")
    page.locator("form.form").evaluate("form => form.noValidate = true")
    submit(page, "Save", t)
    audit.check(page, "item-edit-errors")

    page.goto(f"/items/{repeating}/renew")
    audit.check(page, "item-renew")
    page.get_by_label(t("Amount")).fill("abc")
    submit(page, "Record renewal", t)
    audit.check(page, "item-renew-errors")
    page.goto(f"/items/{once}/renew")
    audit.check(page, "item-renew-once")
    page.goto(f"/items/{repeating}/renewals/undo")
    audit.check(page, "renewal-undo")
    page.goto(f"/items/{once}/renewals/undo")
    audit.check(page, "renewal-undo-none")
    page.goto(f"/items/{repeating}/delete")
    audit.check(page, "item-delete")
    page.goto("/archived")
    audit.check(page, "items-archived")
    page.goto(f"/items/{archived}")
    audit.check(page, "item-edit-archived")

    # Calendars: the list with two of them, a new one (with a mistake first), edit, rotate,
    # delete.
    page.goto("/calendars/new")
    audit.check(page, "calendar-new")
    page.get_by_label(t("Name"), exact=True).fill(" ")
    submit(page, "Create calendar", t)
    audit.check(page, "calendar-new-errors")
    page.get_by_label(t("Name"), exact=True).fill("只有 SIM 卡" if lang == "zh" else "SIM cards only")
    page.locator("#f-categories-sim").check()
    page.get_by_label(t("Add reminder events")).check()
    submit(page, "Create calendar", t)
    audit.check(page, "calendars")
    edit = page.locator("li.calendar").last.get_by_role(
        "link", name=re.compile("^" + re.escape(t("Edit"))))
    feed_path = str(edit.get_attribute("href"))
    assert re.fullmatch(r"/calendars/\d+", feed_path), feed_path
    page.goto(feed_path)
    audit.check(page, "calendar-edit")
    page.goto(feed_path + "/rotate")
    audit.check(page, "calendar-rotate")
    page.goto(feed_path + "/delete")
    audit.check(page, "calendar-delete")

    # Settings (with a mistake), password, account deletion.
    page.goto("/settings")
    audit.check(page, "settings")
    page.locator("#f-default_alarms-0-days_before").fill("999")
    submit(page, "Save settings", t)
    audit.check(page, "settings-errors")
    page.goto("/settings/password")
    audit.check(page, "settings-password")
    page.get_by_label(t("Current password")).fill("wrong password")
    page.get_by_label(t("New password"), exact=True).fill("new password 1")
    page.get_by_label(t("New password again")).fill("new password 2")
    submit(page, "Change password", t)
    audit.check(page, "settings-password-errors")
    page.goto("/settings/delete")
    audit.check(page, "settings-delete")

    # The CSV import: the page, a good file's preview, a bad file's problems.
    page.goto("/items/import")
    audit.check(page, "import")
    for name, data in (("import-good", GOOD_CSV), ("import-bad", BAD_CSV)):
        page.goto("/items/import")
        page.get_by_label(t("CSV file or Wallos export")).set_input_files(
            {"name": f"{name}.csv", "mimeType": "text/csv", "buffer": data})
        submit(page, "Check the file", t)
        audit.check(page, name)

    # Reminders: the account's address (not yet confirmed), a second one added, an item's
    # deliveries; an action link's page, its result with Undo; the unsubscribe page.
    page.goto("/reminders")
    audit.check(page, "reminders")
    page.get_by_label(t("E-mail address")).fill(f"second-{lang}-{width}@example.com")
    submit(page, "Add address", t)
    audit.check(page, "reminders-added")
    item = context.request.get(f"/api/v1/items/{repeating}", headers=api_headers).json()
    due = dt.date.fromisoformat(item["due_date"])
    for action in (RENEW, SNOOZE):
        page.goto("/act/" + make_token(E2E_SECRET_KEY, action, repeating, due))
        audit.check(page, f"act-{action}")
    page.goto("/act/" + make_token(E2E_SECRET_KEY, RENEW, repeating, due))
    submit(page, "I renewed it", t)
    audit.check(page, "act-renewed")
    page.goto("/act/" + make_token(E2E_SECRET_KEY, RENEW, repeating, due))
    audit.check(page, "act-already-renewed")
    page.goto("/act/not-a-token")
    audit.check(page, "act-bad-token")
    page.goto(f"/items/{repeating}")
    audit.check(page, "item-edit-with-deliveries")
    page.goto("/unsubscribe/not-a-token")
    audit.check(page, "unsubscribe-bad-token")
    page.goto("/settings/email")
    audit.check(page, "settings-email")

    page.goto("/items/999999")
    audit.check(page, "error-404")
    page.goto("/no-such-page")
    audit.check(page, "error-404-page")

    audit.assert_clean()
