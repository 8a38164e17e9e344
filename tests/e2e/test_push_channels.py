"""A push channel added from the Reminders page on a phone, in both languages: the how-to
opened, a refused address first, then an ntfy channel with a name and a digest time, shown
masked; the digest time changed and cleared from its card. Every page is audited (axe, no
sideways scrolling, 44 px tap targets)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from e2e.helpers import LANGUAGES, PageAudit, Words, sign_up

pytestmark = pytest.mark.e2e

# A public address written as an IP literal: the service accepts it without a DNS look-up,
# and nothing is sent to it (no test is sent here).
HOST = "93.184.216.34"
SERVICES = "ntfy, Telegram, Gotify, Pushover, Discord, Bark, ServerChan, PushPlus, JSON webhook"


def submit(page: Any, scope: Any, name: str) -> None:
    """Click the submit button of ``scope`` whose name starts with ``name``; wait for the
    next page."""
    with page.expect_navigation():
        scope.get_by_role("button", name=re.compile("^" + re.escape(name))).click()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_push_channel_is_added_on_a_phone_and_its_digest_set(new_context: Any,
                                                                axe_source: str,
                                                                lang: str) -> None:
    t = Words(lang)
    audit = PageAudit("360", lang, axe_source)
    page = new_context("360", lang).new_page()
    sign_up(page, t, f"push-{lang}@example.com")
    page.goto("/reminders")
    audit.check(page, "push-reminders")

    # The how-to of a service is folded away until opened.
    telegram = page.locator("#howto-telegram")
    steps = telegram.locator("ol")
    assert not steps.is_visible()
    telegram.locator("summary").click()
    assert steps.is_visible()
    text = steps.inner_text()
    assert "tgram://BOT_TOKEN/CHAT_ID" in text
    assert t("Open a chat with your new bot and send it any message: a bot cannot write to "
             "you first.") in text
    audit.check(page, "push-howto")

    # An address of no accepted service: the services named, the address kept in its field.
    address = page.get_by_label(t("Channel address (Apprise URL)"))
    address.fill("file:///etc/passwd")
    submit(page, page.locator("form.push-form"), t("Add channel"))
    assert page.locator(".form-message").inner_text().strip() == t(
        "Only these services are accepted: %(services)s.", services=SERVICES)
    assert address.input_value() == "file:///etc/passwd"
    assert address.get_attribute("aria-invalid") == "true"
    audit.check(page, "push-refused")

    # An ntfy channel with a name and a daily digest.
    url = f"ntfys://{HOST}/renewals-{lang}-q7x2"
    masked = f"ntfys://{HOST}/r...2"
    address.fill(url)
    page.get_by_label(t("Name (optional)")).fill("我的手机" if lang == "zh" else "My phone")
    page.get_by_label(t("Daily digest at (optional)")).fill("07:30")
    submit(page, page.locator("form.push-form"), t("Add channel"))
    assert page.url.endswith("/reminders"), page.url
    assert page.locator(".flash-success").inner_text().strip() == t(
        "Added %(address)s: reminders go there from now on. “Send a test” shows whether they "
        "arrive.", address=masked)
    card = page.locator("li.channel", has=page.locator(".token-name", has_text=masked))
    assert t("Daily digest at %(time)s", time="07:30") in card.inner_text()
    assert url not in page.content()
    audit.check(page, "push-added")

    # The digest time changed from the card, then each reminder sent at once again.
    card.locator("summary").click()
    card.get_by_label(t("Daily digest at"), exact=True).fill("20:15")
    submit(page, card, t("Save"))
    assert page.locator(".flash-success").inner_text().strip() == t(
        "Reminders to %(address)s now come together in one daily digest at %(time)s.",
        address=masked, time="20:15")
    assert t("Daily digest at %(time)s", time="20:15") in card.inner_text()
    card.locator("summary").click()
    audit.check(page, "push-digest")
    submit(page, card, t("Each reminder at once"))
    assert t("Each reminder is sent at its time") in card.inner_text()
    assert url not in page.content()
    audit.check(page, "push-at-once")
    audit.assert_clean()
