"""The country and carrier picker of the add form."""

from __future__ import annotations

import re
from typing import Any

import pycountry
from flask.testing import FlaskClient

from feedsvc import carriers

from helpers import signed_in


def test_every_proposed_country_is_a_real_iso_code() -> None:
    for code in (*carriers.COMMON_COUNTRIES, *carriers.CARRIERS):
        assert pycountry.countries.get(alpha_2=code) is not None, code


def test_the_spec_carriers_are_proposed() -> None:
    proposed = set(carriers.providers())
    for pair in [("RU", "MTS"), ("RU", "MegaFon"), ("RU", "Beeline"), ("RU", "Tele2"),
                 ("HK", "CSL"), ("ME", "One Montenegro"), ("MC", "Monaco Telecom"),
                 ("PH", "TNT"), ("GB", "giffgaff")]:
        assert pair in proposed


def test_common_countries_come_first_then_the_rest_as_given() -> None:
    ordered = carriers.common_first([("AD", "Andorra"), ("HK", "Hong Kong"), ("RU", "Russia")])
    assert ordered == [("RU", "Russia"), ("HK", "Hong Kong"), ("AD", "Andorra")]


def test_the_add_form_proposes_countries_and_carriers_with_sim_and_default_alarms(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    page = signed_in(client, user).get("/items/new")
    countries = re.findall(r'<option value="(\w\w)">', page.text.split('id="countries"')[1])
    assert countries[:5] == ["RU", "HK", "ME", "MC", "PH"]
    assert len(countries) > 200
    assert 'list="providers"' in page.text
    assert '<option value="MegaFon" data-country="RU">' in page.text
    values = page.form("/items/new").fields
    assert values["category"] == "sim"
    assert values["use_default_alarms"] == "on"


def test_a_provider_that_is_not_proposed_can_still_be_saved(
    client: FlaskClient, user: dict[str, Any]
) -> None:
    browser = signed_in(client, user)
    page = browser.submit("/items/new", {"title": "Local SIM", "due_date": "2027-05-01",
                                         "provider": "Tiny Carrier", "country": "ad"},
                          action="/items/new")
    assert page.status == 302
    assert "Tiny Carrier" in browser.get("/").text
