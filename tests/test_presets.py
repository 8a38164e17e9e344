"""The carrier presets' data: every rule has a source, a date, both languages and a rule, and
a broken one is refused; applied to items, the rules renew as their carriers count."""

from __future__ import annotations

import copy
import json
import re
from importlib.resources import files
from typing import Any

import pycountry
import pytest
from pydantic import ValidationError

from feedsvc import carriers, presets

from helpers import Api

RAW: dict[str, Any] = json.loads(files("feedsvc").joinpath("presets.json").read_text("utf-8"))
IDS = [preset["id"] for preset in RAW["presets"]]
CJK = re.compile(r"[\u4e00-\u9fff]")


# The data file, as written

def test_the_data_file_has_presets_with_unique_ids() -> None:
    assert len(IDS) >= 10
    assert len(set(IDS)) == len(IDS)
    assert [preset.id for preset in presets.all_presets()] == IDS


@pytest.mark.parametrize("preset", presets.all_presets(), ids=IDS)
def test_every_preset_has_a_source_a_date_a_rule_and_both_languages(
    preset: presets.Preset
) -> None:
    assert preset.source.title.strip()
    assert re.fullmatch(r"https://[^\s/]+\.[a-z]{2,}(/\S*)?", preset.source.url)
    assert re.fullmatch(r"20\d\d-(0[1-9]|1[0-2])(-\d\d)?", preset.checked)
    assert preset.confidence in presets.CONFIDENCES
    assert preset.repeat is not None or preset.grace_days is not None
    english, chinese = preset.keeps_alive.en, preset.keeps_alive.zh_hans
    assert english.strip() and chinese.strip()
    assert CJK.search(chinese), "the Chinese text is not in Chinese"
    assert english != chinese
    assert pycountry.countries.get(alpha_2=preset.country) is not None
    assert (preset.country, preset.carrier) in carriers.providers(), \
        "the add form proposes every preset's carrier"


def test_every_preset_is_found_by_its_id_and_its_country() -> None:
    for preset in presets.all_presets():
        assert presets.get(preset.id) is preset
        assert preset in presets.of_country(preset.country)
    assert presets.get("no-such-carrier") is None
    assert presets.get(None) is None


# The same checks refuse a broken file: each variant of a good preset fails to load.

GOOD = next(preset for preset in RAW["presets"] if preset["id"] == "giffgaff")


def _without(path: str) -> Any:
    def change(preset: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = preset
        for name in parents:
            target = target[name]
        del target[last]
    return change


def _set(path: str, value: Any) -> Any:
    def change(preset: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = preset
        for name in parents:
            target = target[name]
        target[last] = value
    return change


BROKEN = [
    # the change, and what the error names
    pytest.param(_without("source"), "source", id="no-source"),
    pytest.param(_without("source.url"), "source.url", id="no-source-url"),
    pytest.param(_set("source.title", ""), "source.title", id="empty-source-title"),
    pytest.param(_set("source.url", "http://community.giffgaff.com/"), "source.url",
                 id="source-not-https"),
    pytest.param(_set("source.url", "https://"), "source.url", id="source-no-host"),
    pytest.param(_without("checked"), "checked", id="no-date"),
    pytest.param(_set("checked", "December 2026"), "checked", id="date-in-words"),
    pytest.param(_set("checked", "2026-13"), "checked", id="no-such-month"),
    pytest.param(_set("confidence", "probably"), "confidence", id="bad-confidence"),
    pytest.param(_without("confidence"), "confidence", id="no-confidence"),
    pytest.param(_without("keeps_alive.zh-Hans"), "keeps_alive.zh-Hans", id="no-chinese"),
    pytest.param(_set("keeps_alive.zh-Hans", ""), "keeps_alive.zh-Hans", id="empty-chinese"),
    pytest.param(_without("keeps_alive.en"), "keeps_alive.en", id="no-english"),
    pytest.param(_set("keeps_alive", {"en": "A top-up", "zh-Hans": "充值", "ru": "x"}),
                 "keeps_alive.ru", id="unknown-language"),
    pytest.param(lambda preset: preset.update(repeat=None, grace_days=None),
                 "a repeat rule or a grace period", id="no-rule"),
    pytest.param(_set("repeat", {"every": 0, "unit": "month", "from": "renewal"}),
                 "repeat.every", id="repeat-every-0"),
    pytest.param(_set("repeat", {"every": 6, "unit": "fortnight", "from": "renewal"}),
                 "repeat.unit", id="repeat-bad-unit"),
    pytest.param(_set("grace_days", 400), "grace_days", id="grace-over-a-year"),
    pytest.param(_set("country", "XX"), "country", id="unknown-country"),
    pytest.param(_set("id", "Giff Gaff"), "id", id="id-not-a-slug"),
    pytest.param(_set("min_top_up", {"amount": "3", "currency": "EURO"}),
                 "min_top_up.currency", id="bad-currency"),
    pytest.param(_set("hint", "extra"), "hint", id="unknown-field"),
]


def _file(*items: dict[str, Any]) -> str:
    return json.dumps({"about": RAW["about"], "presets": list(items)}, ensure_ascii=False)


def test_the_good_preset_the_variants_start_from_loads() -> None:
    [preset] = presets.parse(_file(copy.deepcopy(GOOD)))
    assert preset.id == "giffgaff"


@pytest.mark.parametrize(("change", "named"), BROKEN)
def test_a_broken_preset_is_refused(change: Any, named: str) -> None:
    broken = copy.deepcopy(GOOD)
    change(broken)
    with pytest.raises(ValidationError) as refused:
        presets.parse(_file(broken))
    assert named in str(refused.value)


def test_two_presets_with_one_id_are_refused() -> None:
    with pytest.raises(ValidationError, match="unique"):
        presets.parse(_file(copy.deepcopy(GOOD), copy.deepcopy(GOOD)))


# Presets applied to items, renewed: a rule counted from the renewal moves from the day of
# the renewal, one counted from the schedule from the old due date; grace-only rules leave
# the due date to the person.

RENEWALS = [
    # preset, due date, renewed on, due date given with the renewal, new due date
    pytest.param("giffgaff", "2025-03-31", "2025-03-10", None, "2025-09-10",
                 id="giffgaff-6-months-from-an-early-renewal"),
    pytest.param("giffgaff", "2025-03-31", "2025-04-02", None, "2025-10-02",
                 id="giffgaff-6-months-from-a-late-renewal"),
    pytest.param("ee", "2025-03-31", "2025-03-10", None, "2025-09-05",
                 id="ee-179-days-from-the-renewal"),
    pytest.param("us-mobile", "2025-03-31", "2025-03-10", None, "2025-04-30",
                 id="us-mobile-monthly-from-the-due-date"),
    pytest.param("us-mobile", "2025-03-31", "2025-04-02", None, "2025-04-30",
                 id="us-mobile-late-renewal-keeps-the-schedule"),
    pytest.param("elisa-ee", "2025-01-31", "2025-01-31", None, "2025-08-31",
                 id="elisa-7-months-from-the-renewal"),
    pytest.param("monaco-telecom", "2025-03-31", "2025-03-10", "2025-09-30", "2025-09-30",
                 id="monaco-grace-only-takes-the-date-given"),
]


def preset_item(preset: presets.Preset, due_date: str) -> dict[str, Any]:
    """An item as the form's "Apply this rule" fills it in, in the API's shape."""
    return {
        "title": f"{preset.carrier} SIM", "provider": preset.carrier, "carrier": preset.id,
        "country": preset.country, "due_date": due_date, "grace_days": preset.grace_days,
        "repeat": None if preset.repeat is None else preset.repeat.model_dump(by_alias=True),
    }


@pytest.mark.parametrize(("preset_id", "due", "renewed_on", "given", "expected"), RENEWALS)
def test_a_preset_applied_to_an_item_renews_as_its_carrier_counts(
    api: Api, preset_id: str, due: str, renewed_on: str, given: str | None, expected: str
) -> None:
    preset = presets.get(preset_id)
    assert preset is not None
    created = api.post("/api/v1/items", json=preset_item(preset, due))
    assert created.status_code == 201, created.json
    path = f"/api/v1/items/{created.json['id']}/renewals"
    renewal: dict[str, Any] = {"renewed_on": renewed_on}
    if given is not None:
        renewal["due_date"] = given
    answer = api.post(path, json=renewal)
    assert answer.status_code == 201, answer.json
    item = answer.json["item"]
    assert item["due_date"] == expected
    assert answer.json["renewal"]["due_before"] == due
    assert (item["carrier"], item["grace_days"]) == (preset.id, preset.grace_days)


def test_a_grace_only_preset_asks_for_the_next_due_date(api: Api) -> None:
    preset = presets.get("monaco-telecom")
    assert preset is not None and preset.repeat is None
    created = api.post("/api/v1/items", json=preset_item(preset, "2025-03-31"))
    answer = api.post(f"/api/v1/items/{created.json['id']}/renewals",
                      json={"renewed_on": "2025-03-10"})
    assert answer.status_code == 422, answer.json
    assert "due_date" in answer.json["error"]["fields"]
