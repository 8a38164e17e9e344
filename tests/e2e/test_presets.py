"""The carrier preset on the item form in a real browser, on a 360 px phone, in both
languages, with and without JavaScript: choose a country and a carrier, see its rule with the
source and how sure it is, apply it (the fields filled in, still editable), save, and find the
rule on the item page. An unclear rule is marked and not applied until its box is ticked."""

from __future__ import annotations

import re
from typing import Any

import pytest

from feedsvc import presets

from e2e.helpers import HTML_LANG, LANGUAGES, PageAudit, Words, sign_up

pytestmark = pytest.mark.e2e

WIDTH = "360"


def sent_forms(page: Any) -> list[str]:
    """Records the paths of the forms the page posts from now on."""
    posted: list[str] = []
    page.on("request", lambda request: posted.append(request.url)
            if request.method == "POST" else None)
    return posted


def press(page: Any, button: Any, javascript: bool) -> None:
    """Click a rule's button: in the page with JavaScript, a round trip without."""
    if javascript:
        button.click()
    else:
        with page.expect_navigation():
            button.click()


def fields(page: Any) -> dict[str, str]:
    """The controls a rule fills in, as they stand."""
    return {name: page.locator(f"#f-{name.replace('.', '-')}").input_value()
            for name in ("carrier", "provider", "country", "repeat.every", "repeat.unit",
                         "repeat.from", "grace_days")}


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_choose_a_carrier_see_its_rule_apply_it_and_save(
    new_context: Any, axe_source: str, lang: str, javascript: bool
) -> None:
    t = Words(lang)
    locale = HTML_LANG[lang]
    mode = "js" if javascript else "nojs"
    # axe waits on timers that never run without JavaScript: its run on the same markup
    # with JavaScript covers both; the layout checks run in each.
    audit = PageAudit(WIDTH, lang, axe_source if javascript else None)
    page = new_context(WIDTH, lang, java_script_enabled=javascript).new_page()
    sign_up(page, t, f"presets-{mode}-{lang}@example.com")
    giffgaff = presets.get("giffgaff")
    assert giffgaff is not None

    page.goto("/items/new")
    title = "giffgaff 英国" if lang == "zh" else "giffgaff UK"
    page.get_by_label(t("Title"), exact=True).fill(title)
    page.get_by_label(t("Due date"), exact=True).fill("2027-03-31")
    page.get_by_label(t("Country (optional)")).fill("GB")
    carrier = page.get_by_label(t("Carrier (optional)"))
    if javascript:
        # The country narrows the list to its carriers.
        assert carrier.locator("option").evaluate_all("options => options.map(o => o.value)") \
            == ["", "giffgaff", "ee", "vodafone-uk", "three-uk"]
    rule = page.locator("#preset-giffgaff")
    assert not rule.is_visible()
    posted = sent_forms(page)
    carrier.select_option("giffgaff")
    if not javascript:
        press(page, page.get_by_role("button", name=t("Show the rule")), javascript)
        assert page.url.endswith("/items/new#carrier-rule")
    # The rule in a sentence, what keeps the number alive, its source and how sure it is.
    assert rule.is_visible()
    text = rule.inner_text()
    assert giffgaff.keeps_alive.said(locale) in text
    assert t("Official: the carrier's own page or staff") in text
    assert t.n("%(num)d month", "%(num)d months", 6) in text
    source = rule.get_by_role("link", name=re.compile(re.escape(giffgaff.source.title)))
    assert source.get_attribute("href") == giffgaff.source.url
    assert source.get_attribute("target") == "_blank"
    audit.check(page, f"preset-{mode}-rule")

    press(page, rule.get_by_role("button", name=t("Apply this rule")), javascript)
    assert fields(page) == {"carrier": "giffgaff", "provider": "giffgaff", "country": "GB",
                            "repeat.every": "6", "repeat.unit": "month",
                            "repeat.from": "renewal", "grace_days": ""}
    assert page.locator("#preset-status").inner_text() == t(
        "Rule filled in below: check the fields, change what you like, and save.")
    assert page.get_by_label(t("Title"), exact=True).input_value() == title
    # With JavaScript no round trip; without, "Show the rule" and "Apply" were one each.
    assert len(posted) == (0 if javascript else 2), posted
    audit.check(page, f"preset-{mode}-applied")

    # Still a form: a field changed after applying is saved as typed.
    page.get_by_label(t("Grace period in days (optional)")).fill("30")
    with page.expect_navigation():
        page.get_by_role("button", name=t("Save"), exact=True).click()
    page.wait_for_url("/")
    with page.expect_navigation():
        page.locator(".item-title", has_text=title).click()
    section = page.locator("section.keep-alive")
    assert section.is_visible()
    assert giffgaff.keeps_alive.said(locale) in section.inner_text()
    assert section.get_by_role("link").get_attribute("href") == giffgaff.source.url
    assert t("Official: the carrier's own page or staff") in section.inner_text()
    assert page.locator("#f-grace_days").input_value() == "30"
    assert page.locator("#f-carrier").input_value() == "giffgaff"
    audit.check(page, f"preset-{mode}-item")

    # An unclear rule: marked, and applied only once its box is ticked. Title and due date
    # stay empty: the rule's buttons work before the required fields are filled in.
    mts = presets.get("mts")
    assert mts is not None
    page.goto("/items/new")
    page.get_by_label(t("Country (optional)")).fill("RU")
    page.get_by_label(t("Carrier (optional)")).select_option("mts")
    rule = page.locator("#preset-mts")
    if not javascript:
        press(page, page.get_by_role("button", name=t("Show the rule")), javascript)
    assert rule.locator(".preset-warning").inner_text() == t(
        "Unclear: dated or conflicting sources — check before relying on it")
    assert mts.keeps_alive.said(locale) in rule.inner_text()
    press(page, rule.get_by_role("button", name=t("Apply this rule")), javascript)
    assert rule.locator(".confirm-error").inner_text().endswith(t(
        "This rule is unclear: tick the box to apply it anyway."))
    assert fields(page)["repeat.unit"] == ""
    assert fields(page)["provider"] == ""
    audit.check(page, f"preset-{mode}-unclear-refused")
    rule.get_by_label(t("I have checked this rule myself: apply it anyway")).check()
    press(page, rule.get_by_role("button", name=t("Apply this rule")), javascript)
    assert (fields(page)["repeat.every"], fields(page)["repeat.unit"]) == ("183", "day")
    assert not rule.locator(".confirm-error").is_visible()
    audit.assert_clean()
