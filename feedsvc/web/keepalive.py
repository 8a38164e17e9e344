"""Carrier presets on the item pages: a preset's rule in words, the carrier picker's
groups, and a preset applied to the item form (the facts are in ``feedsvc.presets``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from babel.dates import format_skeleton
from babel.numbers import format_currency

from feedsvc import carriers, presets
from feedsvc.presets import Preset
from feedsvc.web.forms import Values, countries
from feedsvc.web.i18n import _, format_day, get_locale, html_lang, ngettext, period_words


@dataclass(frozen=True)
class Rule:
    """A preset as the pages show it, in the reader's language."""

    preset: Preset
    country: str  # the country's name
    label: str  # the carrier as the picker lists it
    sentence: str  # "Repeats every 6 months, counted from … Grace period: …"
    keeps_alive: str
    confidence: str
    checked: str  # "Checked Dec 2026"
    fields: Values  # the form controls that applying it sets

    @property
    def unclear(self) -> bool:
        return self.preset.confidence == "unclear"


@dataclass(frozen=True)
class CarrierGroup:
    """The presets of one country, as an ``<optgroup>`` of the carrier picker."""

    country: str
    name: str
    rules: list[Rule]


def rule_sentence(preset: Preset) -> str:
    """How often, how long the grace period is, and the least top-up, in sentences."""
    parts = []
    if preset.repeat is not None:
        period = period_words(preset.repeat.every, preset.repeat.unit)
        # The same words as the repeat rule on the renewal page.
        if preset.repeat.from_ == "renewal":
            parts.append(_("Repeats every %(period)s, counted from the day it is renewed.",
                           period=period))
        else:
            parts.append(_("Repeats every %(period)s, counted from the previous due date.",
                           period=period))
    if preset.grace_days is None:
        parts.append(_("Grace period: not known."))
    else:
        parts.append(ngettext("Grace period: %(num)d day before the number is recycled.",
                              "Grace period: %(num)d days before the number is recycled.",
                              preset.grace_days))
    if preset.min_top_up is not None:
        amount = format_currency(preset.min_top_up.amount, preset.min_top_up.currency,
                                 locale=get_locale())
        parts.append(_("Minimum top-up: %(amount)s.", amount=amount))
    # Chinese sentences end in a full-width stop and need no space between them.
    return ("" if html_lang() == "zh-Hans" else " ").join(parts)


def _checked(preset: Preset) -> str:
    """When the rule was checked: "Checked Dec 2026" (the data gives a month, or a day)."""
    if len(preset.checked) == len("2026-12"):
        month = dt.date.fromisoformat(preset.checked + "-01")
        return _("Checked %(date)s", date=format_skeleton("yMMM", month, locale=get_locale()))
    return _("Checked %(date)s", date=format_day(dt.date.fromisoformat(preset.checked)))


def _confidence(preset: Preset) -> str:
    return {
        "official": _("Official: the carrier's own page or staff"),
        "third-party": _("Third-party: a reputable source other than the carrier"),
        "unclear": _("Unclear: dated or conflicting sources — check before relying on it"),
    }[preset.confidence]


def preset_fields(preset: Preset) -> Values:
    """The form controls that applying a preset sets; what it does not know is left alone."""
    fields: Values = {"carrier": preset.id, "country": preset.country}
    if preset.repeat is not None:
        fields.update({"repeat.every": str(preset.repeat.every),
                       "repeat.unit": preset.repeat.unit, "repeat.from": preset.repeat.from_})
    if preset.grace_days is not None:
        fields["grace_days"] = str(preset.grace_days)
    return fields


def apply_preset(values: Values, preset: Preset) -> Values:
    """The form's values with the preset's rule filled in, the carrier as the provider when
    none was typed; every field stays editable."""
    applied = {**values, **preset_fields(preset)}
    if not values.get("provider", "").strip():
        applied["provider"] = preset.carrier
    return applied


def rule(preset: Preset, country_names: dict[str, str] | None = None) -> Rule:
    """A preset in the reader's words."""
    names = country_names if country_names is not None else dict(countries())
    label = (_("%(carrier)s (unclear rule)", carrier=preset.carrier)
             if preset.confidence == "unclear" else preset.carrier)
    return Rule(preset=preset, country=names.get(preset.country, preset.country), label=label,
                sentence=rule_sentence(preset), keeps_alive=preset.keeps_alive.said(html_lang()),
                confidence=_confidence(preset), checked=_checked(preset),
                fields=preset_fields(preset))


def item_rule(carrier: str | None) -> Rule | None:
    """The rule of the preset an item follows, or None."""
    preset = presets.get(carrier)
    return None if preset is None else rule(preset)


def carrier_groups(country: str | None) -> list[CarrierGroup]:
    """Every preset by country: ``country``'s first, then the common number-keeping ones."""
    names = dict(countries())
    grouped: dict[str, list[Rule]] = {}
    for preset in presets.all_presets():
        grouped.setdefault(preset.country, []).append(rule(preset, names))
    order = carriers.common_first((code, names.get(code, code)) for code in grouped)
    chosen = (country or "").strip().upper()
    order.sort(key=lambda pair: pair[0] != chosen)
    return [CarrierGroup(code, name, grouped[code]) for code, name in order]
