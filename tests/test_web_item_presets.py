"""The carrier preset on the item form without JavaScript: choose a carrier, "Show the rule"
(the form comes back with the rule, nothing saved), "Apply this rule" (the fields filled in,
still editable), save; unclear rules need a tick; the item page shows the rule."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale

from feedsvc import presets
from feedsvc.web import keepalive

from helpers import Api, Browser, Page, make_user, signed_in

NEW = "/items/new"
# What a person types before choosing the carrier.
TYPED = {"title": "My giffgaff SIM", "due_date": "2027-03-31", "country": "GB"}


@pytest.fixture
def browser(client: FlaskClient, user: dict[str, Any]) -> Browser:
    return signed_in(client, user)


def send(browser: Browser, page: Page, path: str, changes: dict[str, str]) -> Page:
    """Send the form of ``page`` as it stands, with ``changes`` (a button's name and value
    among them), as a browser would."""
    return Page(browser.client.post(path, data={**page.form(path).fields, **changes}))


def block(page: Page, preset_id: str) -> str:
    """The HTML of a preset's rule block on the form, up to its Apply button."""
    found = re.search(rf'<div class="preset [^"]*" id="preset-{preset_id}".*?name="apply_rule"',
                      page.text, re.DOTALL)
    assert found, f"no block for {preset_id}"
    return found.group(0)


def shown(page: Page) -> list[str]:
    """The ids of the preset blocks the page shows (the others are ``hidden``)."""
    return [ident.removeprefix("preset-") for ident, attrs in page.by_id.items()
            if ident.startswith("preset-") and "data-preset" in attrs and "hidden" not in attrs]


def in_locale(app: Flask, locale: str, preset_id: str) -> keepalive.Rule:
    """The preset as a reader of ``locale`` sees it."""
    preset = presets.get(preset_id)
    assert preset is not None
    with app.test_request_context(), force_locale(
            "zh_Hans" if locale == "zh-Hans" else "en"):
        return keepalive.rule(preset)


@pytest.mark.parametrize("locale", ["en", "zh-Hans"])
def test_show_the_rule_then_apply_it_then_save_keeps_the_carrier(
    app: Flask, client: FlaskClient, locale: str
) -> None:
    account = make_user(app, f"{locale}@example.com", locale=locale)
    browser = signed_in(client, account)
    api = Api(client, account["token"])
    page = browser.get(NEW)
    assert shown(page) == []

    # Step two: the rule, in the reader's language, with its source; nothing saved.
    page = send(browser, page, NEW, {**TYPED, "carrier": "giffgaff", "show_rule": "1"})
    assert page.status == 200, page.text
    assert f'<html lang="{locale}">' in page.text
    assert shown(page) == ["giffgaff"]
    rule = in_locale(app, locale, "giffgaff")
    text = html.unescape(block(page, "giffgaff"))
    preset = rule.preset
    assert preset.keeps_alive.said(locale) in text
    assert rule.sentence in text and rule.confidence in text and rule.checked in text
    assert f'href="{preset.source.url}" target="_blank" rel="noopener noreferrer"' in text
    assert preset.source.title in text
    if locale == "zh-Hans":
        assert "个月" in rule.sentence and preset.keeps_alive.en not in text
    else:
        assert rule.sentence.startswith("Repeats every 6 months, counted from the day it is "
                                        "renewed.")
    assert page.values(NEW)["repeat.unit"] == ""
    assert api.get("/api/v1/items").json["items"] == []

    # Apply: the fields are filled in, still a form to change and save.
    page = send(browser, page, NEW, {"apply_rule": "giffgaff"})
    assert page.status == 200, page.text
    values = page.values(NEW)
    assert {name: values[name] for name in (
        "carrier", "provider", "country", "repeat.every", "repeat.unit", "repeat.from",
        "grace_days", "title")} == {
        "carrier": "giffgaff", "provider": "giffgaff", "country": "GB", "repeat.every": "6",
        "repeat.unit": "month", "repeat.from": "renewal", "grace_days": "",
        "title": "My giffgaff SIM"}
    assert page.texts["preset-status"]
    assert api.get("/api/v1/items").json["items"] == []

    # A field changed after applying stays as typed; saving keeps the carrier.
    saved = send(browser, page, NEW, {"repeat.every": "5"})
    assert saved.status == 302, saved.text
    [item] = api.get("/api/v1/items").json["items"]
    assert (item["carrier"], item["provider"], item["country"], item["repeat"]) == (
        "giffgaff", "giffgaff", "GB", {"every": 5, "unit": "month", "from": "renewal"})


def test_the_form_lists_every_preset_by_country_the_chosen_country_first(
    browser: Browser
) -> None:
    page = browser.get(NEW)
    picker = page.text.split('id="f-carrier"')[1].split("</select>")[0]
    groups = re.findall(r'<optgroup label="[^"]*" data-country="(\w\w)">', picker)
    assert set(groups) == {preset.country for preset in presets.all_presets()}
    assert re.findall(r'<option value="([\w-]*)"', picker) == [""] + [
        preset.id for code in groups for preset in presets.of_country(code)]
    assert "MTS (unclear rule)" in picker
    again = send(browser, page, NEW, {**TYPED, "country": "ru", "show_rule": "1"})
    picker = again.text.split('id="f-carrier"')[1]
    assert re.findall(r'data-country="(\w\w)"', picker)[0] == "RU"


def test_what_the_page_hands_to_javascript_is_what_the_server_applies(
    browser: Browser
) -> None:
    """The apply button fills in the same fields with JavaScript (data-fill) as without."""
    page = browser.get(NEW)
    for preset in presets.all_presets():
        if preset.confidence == "unclear":
            continue
        fill = json.loads(page.by_id[f"preset-{preset.id}"]["data-fill"])
        applied = send(browser, page, NEW, {**TYPED, "country": "", "apply_rule": preset.id}
                       ).values(NEW)
        assert {name: applied[name] for name in fill} == fill, preset.id
        assert applied["provider"] == page.by_id[f"preset-{preset.id}"]["data-provider"]


def test_applying_keeps_a_typed_provider_and_fills_the_grace_period(browser: Browser) -> None:
    page = send(browser, browser.get(NEW), NEW,
                {**TYPED, "provider": "EE pay as you go", "grace_days": "10",
                 "apply_rule": "ee"})
    values = page.values(NEW)
    assert (values["provider"], values["grace_days"], values["repeat.every"],
            values["repeat.unit"], values["repeat.from"]) == (
        "EE pay as you go", "94", "179", "day", "renewal")


def test_a_grace_only_rule_leaves_the_repeat_as_typed(browser: Browser, api: Api) -> None:
    page = send(browser, browser.get(NEW), NEW,
                {**TYPED, "country": "", "repeat.every": "1", "repeat.unit": "year",
                 "repeat.from": "schedule", "apply_rule": "monaco-telecom"})
    values = page.values(NEW)
    assert (values["country"], values["grace_days"], values["repeat.every"],
            values["repeat.unit"]) == ("MC", "182", "1", "year")
    assert send(browser, page, NEW, {}).status == 302
    [item] = api.get("/api/v1/items").json["items"]
    assert (item["carrier"], item["grace_days"], item["repeat"]["unit"]) == (
        "monaco-telecom", 182, "year")


@pytest.mark.parametrize("locale", ["en", "zh-Hans"])
def test_an_unclear_rule_is_marked_and_applied_only_with_the_tick(
    app: Flask, client: FlaskClient, locale: str
) -> None:
    browser = signed_in(client, make_user(app, f"{locale}@example.com", locale=locale))
    page = send(browser, browser.get(NEW), NEW,
                {**TYPED, "country": "RU", "carrier": "mts", "show_rule": "1"})
    rule = in_locale(app, locale, "mts")
    assert f'<p class="preset-warning">{html.escape(rule.confidence)}</p>' in block(page, "mts")
    assert 'name="confirm_unclear" value="mts" type="checkbox"' in block(page, "mts")

    refused = send(browser, page, NEW, {"apply_rule": "mts"})
    assert refused.status == 422
    assert shown(refused) == ["mts"]
    assert refused.texts["f-confirm-mts-error"]
    assert refused.by_id["f-confirm-mts"]["aria-invalid"] == "true"
    values = refused.values(NEW)
    assert (values["repeat.unit"], values["grace_days"], values["provider"]) == ("", "", "")

    applied = send(browser, refused, NEW, {"apply_rule": "mts", "confirm_unclear": "mts"})
    assert applied.status == 200
    values = applied.values(NEW)
    assert (values["repeat.every"], values["repeat.unit"], values["carrier"]) == (
        "183", "day", "mts")


def test_a_tick_for_another_unclear_rule_does_not_count(browser: Browser) -> None:
    page = send(browser, browser.get(NEW), NEW,
                {**TYPED, "apply_rule": "mts", "confirm_unclear": "google-voice"})
    assert page.status == 422
    assert page.values(NEW)["repeat.unit"] == ""


def test_choosing_an_unclear_carrier_without_applying_fills_in_nothing(
    browser: Browser, api: Api
) -> None:
    page = browser.submit(NEW, {**TYPED, "country": "RU", "carrier": "mts"})
    assert page.status == 302, page.text
    [item] = api.get("/api/v1/items").json["items"]
    assert (item["carrier"], item["repeat"], item["grace_days"]) == ("mts", None, None)


def test_the_item_page_shows_what_keeps_the_number_alive_and_where_that_comes_from(
    browser: Browser, api: Api
) -> None:
    giffgaff = api.post("/api/v1/items", json={**TYPED, "carrier": "giffgaff"}).json
    page = browser.get(f"/items/{giffgaff['id']}")
    section = page.text.split('<section class="keep-alive"')[1].split("</section>")[0]
    preset = presets.get("giffgaff")
    assert preset is not None
    assert preset.keeps_alive.en in html.unescape(section)
    assert f'<a href="{preset.source.url}" target="_blank"' in section
    assert "Official: the carrier&#39;s own page or staff" in section
    assert "Checked Dec 2026" in section
    assert "preset-warning" not in section
    assert page.values()["carrier"] == "giffgaff"
    assert shown(page) == []  # the form's copy opens on request

    mts = api.post("/api/v1/items", json={**TYPED, "carrier": "mts"}).json
    section = browser.get(f"/items/{mts['id']}").text.split('class="keep-alive"')[1]
    assert ("Unclear: dated or conflicting sources — check before relying on it"
            in section.split("</section>")[0])

    plain = api.post("/api/v1/items", json=TYPED).json
    assert 'class="keep-alive"' not in browser.get(f"/items/{plain['id']}").text


@pytest.mark.parametrize("locale", ["en", "zh-Hans"])
def test_the_item_page_says_it_in_the_readers_language(
    app: Flask, client: FlaskClient, locale: str
) -> None:
    account = make_user(app, f"{locale}@example.com", locale=locale)
    api = Api(client, account["token"])
    item = api.post("/api/v1/items", json={**TYPED, "carrier": "elisa-ee"}).json
    text = html.unescape(signed_in(client, account).get(f"/items/{item['id']}").text)
    section = text.split('class="keep-alive"')[1].split("</section>")[0]
    rule = in_locale(app, locale, "elisa-ee")
    assert rule.preset.keeps_alive.said(locale) in section
    assert rule.sentence in section and rule.checked in section


def test_choosing_none_forgets_the_carrier(browser: Browser, api: Api) -> None:
    item = api.post("/api/v1/items", json={**TYPED, "carrier": "giffgaff"}).json
    page = browser.submit(f"/items/{item['id']}", {"carrier": ""})
    assert page.status == 302, page.text
    assert api.get(f"/api/v1/items/{item['id']}").json["carrier"] is None


def test_the_rule_buttons_on_the_item_page_save_nothing(browser: Browser, api: Api) -> None:
    item = api.post("/api/v1/items", json={**TYPED, "carrier": "giffgaff"}).json
    path = f"/items/{item['id']}"
    page = browser.get(path)
    for changes in ({"carrier": "ee", "show_rule": "1"}, {"apply_rule": "ee"}):
        answer = send(browser, page, path, changes)
        assert answer.status == 200, answer.text
        assert shown(answer) == ["ee"]
    assert answer.values(path)["grace_days"] == "94"
    assert api.get(f"/api/v1/items/{item['id']}").json == item
    assert send(browser, answer, path, {}).status == 302
    stored = api.get(f"/api/v1/items/{item['id']}").json
    assert (stored["carrier"], stored["grace_days"]) == ("ee", 94)


def test_enter_in_a_field_saves_rather_than_showing_a_rule(browser: Browser) -> None:
    """A browser sends the form with its first submit button when Enter is pressed in a
    field; that one must be a plain Save, not a rule's button."""
    page = browser.get(NEW)
    form = page.text.split('<form method="post" class="form"')[1]
    first = re.search(r"<button[^>]*>", form)
    assert first and 'type="submit"' in first.group(0) and "name=" not in first.group(0)


BAD_CARRIERS = ["nope", "GIFFGAFF", "giff gaff", "<script>x</script>", "x" * 300, "保号卡",
                "mts\x00"]


@pytest.mark.parametrize("carrier", BAD_CARRIERS)
@pytest.mark.parametrize("button", [{}, {"show_rule": "1"}, {"apply_rule": None}],
                         ids=["save", "show-rule", "apply"])
def test_a_carrier_that_is_no_preset_is_a_form_error(
    browser: Browser, api: Api, carrier: str, button: dict[str, str | None]
) -> None:
    page = browser.get(NEW)
    changes = {**TYPED, "carrier": carrier}
    if "apply_rule" in button:
        changes = {**TYPED, "apply_rule": carrier}
    elif button:
        changes.update({name: value for name, value in button.items() if value})
    answer = send(browser, page, NEW, changes)
    assert answer.status == 422, answer.text
    assert answer.error("carrier")
    assert answer.control("carrier")["aria-invalid"] == "true"
    assert "<script>x</script>" not in answer.text
    assert api.get("/api/v1/items").json["items"] == []


@pytest.mark.parametrize("button", [{"show_rule": "1"}, {"apply_rule": "giffgaff"}])
def test_the_rule_buttons_need_the_forms_csrf_token(
    browser: Browser, button: dict[str, str]
) -> None:
    page = browser.get(NEW)
    data = {**page.form(NEW).fields, **TYPED, "carrier": "giffgaff", **button}
    del data["csrf_token"]
    assert browser.client.post(NEW, data=data).status_code == 400
