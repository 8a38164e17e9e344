"""Carrier presets: the keep-alive rule of each SIM carrier whose rule has a source.

The facts are data, in ``presets.json`` beside this module: what keeps the number alive (in
both languages), the repeat rule, the grace period before recycling, a minimum top-up where
known, the source, how sure it is and when it was checked. They are read and checked once;
a preset without a source, a date, a rule or either language stops the start. Carriers
without a sourced rule stay plain suggestions (``feedsvc.carriers``).
"""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from feedsvc.schemas import Country, Price, Repeat

CONFIDENCES = ("official", "third-party", "unclear")


class Texts(BaseModel):
    """A text in both languages the service speaks."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    en: Annotated[str, Field(min_length=3)]
    zh_hans: Annotated[str, Field(min_length=2, alias="zh-Hans")]

    def said(self, locale: str) -> str:
        return self.zh_hans if locale == "zh-Hans" else self.en


class Source(BaseModel):
    """Where a rule comes from: what the page is, and its address."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=3)]
    url: Annotated[str, Field(pattern=r"^https://[^\s/]+\.[^\s]+$")]


class Preset(BaseModel):
    """One carrier's keep-alive rule (the API's ``Carrier``)."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=40)]
    carrier: Annotated[str, Field(min_length=1, max_length=100)]
    country: Country
    keeps_alive: Texts = Field(description="What keeps the number alive")
    repeat: Repeat | None = Field(description="How often it must be done; null when only "
                                              "the grace period is known")
    grace_days: int | None = Field(ge=0, le=365, description="Days before recycling")
    min_top_up: Price | None
    source: Source
    confidence: Literal["official", "third-party", "unclear"] = Field(
        description="official: the carrier's own page or staff; third-party: a reputable "
                    "third party; unclear: dated or conflicting, never applied silently")
    checked: Annotated[str, Field(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])(-[0-3][0-9])?$")]

    @model_validator(mode="after")
    def _has_a_rule(self) -> Preset:
        if self.repeat is None and self.grace_days is None:
            raise ValueError("a preset needs a repeat rule or a grace period")
        return self


class Presets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    about: str
    presets: list[Preset]

    @model_validator(mode="after")
    def _unique(self) -> Presets:
        ids = [preset.id for preset in self.presets]
        if len(set(ids)) != len(ids):
            raise ValueError("preset ids must be unique")
        return self


class CarrierList(BaseModel):
    """What ``GET /api/v1/carriers`` answers: every preset, in the data file's order."""

    carriers: list[Preset]


def parse(text: str) -> list[Preset]:
    """The presets a data file holds; pydantic's ``ValidationError`` names what is wrong."""
    return Presets.model_validate(json.loads(text)).presets


@functools.cache
def all_presets() -> tuple[Preset, ...]:
    """Every preset, in the data file's order."""
    return tuple(parse(files("feedsvc").joinpath("presets.json").read_text("utf-8")))


@functools.cache
def by_id() -> dict[str, Preset]:
    return {preset.id: preset for preset in all_presets()}


def get(preset_id: str | None) -> Preset | None:
    """The preset with that id, or None."""
    return None if preset_id is None else by_id().get(preset_id)


def of_country(country: str | None) -> list[Preset]:
    """The presets of a country (ISO 3166-1 code)."""
    return [preset for preset in all_presets() if preset.country == country]
