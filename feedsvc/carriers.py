"""What the add form proposes: the countries and carriers people keep numbers with.

Only proposals: any country code and any provider name can still be typed. Carriers with a
keep-alive rule (``feedsvc.presets``) are proposed too.
"""

from __future__ import annotations

from collections.abc import Iterable

from feedsvc import presets

# Countries whose numbers are commonly kept alive, most common first.
COMMON_COUNTRIES = ("RU", "HK", "ME", "MC", "PH", "GB", "US", "MO", "TH", "MY", "SG", "JP",
                    "KR", "DE", "FR", "NL", "EE", "KZ")

CARRIERS: dict[str, tuple[str, ...]] = {
    "RU": ("MTS", "MegaFon", "Beeline", "Tele2", "Yota"),
    "HK": ("China Mobile Hong Kong", "CSL", "SmarTone", "3 Hong Kong", "1O1O", "Club SIM"),
    "ME": ("One Montenegro", "Crnogorski Telekom", "m:tel"),
    "MC": ("Monaco Telecom",),
    "PH": ("TNT", "Smart", "Globe", "DITO"),
    "GB": ("giffgaff", "Three UK", "Lebara", "Vodafone UK", "EE", "O2 UK"),
    "US": ("Ultra Mobile", "US Mobile", "T-Mobile", "Tello", "Google Voice"),
    "MO": ("CTM", "China Telecom Macau", "3 Macau"),
    "TH": ("AIS", "True", "dtac"),
    "MY": ("Maxis", "CelcomDigi", "U Mobile"),
    "SG": ("Singtel", "StarHub", "M1"),
    "JP": ("Rakuten Mobile", "povo", "docomo"),
    "KR": ("SK Telecom", "KT", "LG U+"),
    "DE": ("Telekom", "Vodafone", "O2 Germany"),
    "FR": ("Orange", "Free Mobile", "SFR", "Bouygues Telecom"),
    "NL": ("Lebara NL", "Vodafone NL", "KPN"),
    "EE": ("Telia", "Elisa", "Tele2 Estonia"),
    "KZ": ("Kcell", "Beeline Kazakhstan", "Tele2 Kazakhstan"),
}


def common_first(countries: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(code, name)`` pairs with the common number-keeping countries first, in that order."""
    rank = {code: index for index, code in enumerate(COMMON_COUNTRIES)}
    pairs = list(countries)
    return sorted(pairs, key=lambda pair: rank.get(pair[0], len(rank)))


def providers() -> list[tuple[str, str]]:
    """Every proposed ``(country code, carrier)``, common countries first; a preset's carrier
    that the lists above lack comes after its country's."""
    proposed = {code: list(names) for code, names in CARRIERS.items()}
    for preset in presets.all_presets():
        names = proposed.setdefault(preset.country, [])
        if preset.carrier not in names:
            names.append(preset.carrier)
    return [(code, name) for code, names in proposed.items() for name in names]
