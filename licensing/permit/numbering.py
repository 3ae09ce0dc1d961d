"""Per-region permit settings (`regions.yaml`) and permit numbers.

A permit number comes from the region's pattern, a running number and the issue date:
"503/{seq:04d}/{profession_code}/DPMPTSP/{roman_month}/{year}" with seq 12 on 21 July
2025 gives "503/0012/SIPOT/DPMPTSP/VII/2025". The running number itself is kept by
the caller (one counter per region and year, in the database).
"""

from __future__ import annotations

import string
from datetime import date
from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

REGIONS_FILE = Path(__file__).with_name("regions.yaml")

PATTERN_FIELDS = frozenset(
    {"seq", "year", "month", "day", "roman_month", "region_code", "profession_code"}
)
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=40)]


def roman_month(month: int) -> str:
    """1 -> "I", 7 -> "VII", 12 -> "XII"."""
    if not 1 <= month <= 12:
        raise ValueError(f"month must be 1-12, got {month}")
    return _ROMAN[month - 1]


def check_pattern(pattern: str) -> str:
    """A pattern uses only the known fields, plain (no attribute or index access)."""
    seen: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise ValueError(f"invalid permit number pattern {pattern!r}: {exc}") from exc
    for _literal, field, _spec, conversion in parsed:
        if field is None:
            continue
        if field not in PATTERN_FIELDS:
            raise ValueError(
                f"unknown field {{{field}}} in permit number pattern; "
                f"allowed: {', '.join(sorted(PATTERN_FIELDS))}"
            )
        if conversion is not None:
            raise ValueError(f"permit number pattern: no conversions (!{conversion}) allowed")
        seen.add(field)
    if "seq" not in seen:
        raise ValueError("permit number pattern must contain {seq}, or numbers repeat")
    # A trial run catches bad format specs ({seq:04q}) at load time.
    _format(pattern, seq=1, on=date(2025, 7, 21), region_code="XX", profession_code="X")
    return pattern


def _format(pattern: str, *, seq: int, on: date, region_code: str, profession_code: str) -> str:
    try:
        return pattern.format(
            seq=seq,
            year=on.year,
            month=on.month,
            day=on.day,
            roman_month=roman_month(on.month),
            region_code=region_code,
            profession_code=profession_code,
        )
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid permit number pattern {pattern!r}: {exc}") from exc


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Defaults(_Model):
    permit_number_pattern: str
    validity_years: int = Field(ge=1, le=20)
    profession_codes: dict[Slug, str] = {}

    @field_validator("permit_number_pattern")
    @classmethod
    def _pattern(cls, v: str) -> str:
        return check_pattern(v)


class RegionOverrides(_Model):
    place: str = Field(min_length=1)  # where the permit is signed: "Metro"
    letterhead: tuple[str, ...] = Field(min_length=1)
    signatory_title: str = Field(min_length=1)
    signatory_name: str | None = None
    permit_number_pattern: str | None = None
    validity_years: int | None = Field(default=None, ge=1, le=20)
    profession_codes: dict[Slug, str] = {}

    @field_validator("permit_number_pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        return None if v is None else check_pattern(v)


class RegionsFile(_Model):
    default: Defaults
    regions: dict[Slug, RegionOverrides]


class PermitSettings(_Model):
    """One region's permit settings, defaults applied."""

    region: str
    place: str
    letterhead: tuple[str, ...]
    signatory_title: str
    signatory_name: str | None
    permit_number_pattern: str
    validity_years: int
    profession_codes: dict[str, str]

    def profession_code(self, profession: str) -> str:
        try:
            return self.profession_codes[profession]
        except KeyError:
            raise KeyError(
                f"no permit code for profession {profession!r} in region {self.region!r}; "
                f"add it to profession_codes in {REGIONS_FILE.name}"
            ) from None


class PermitSettingsError(Exception):
    """regions.yaml is unreadable or invalid."""


def load_permit_settings(path: Path = REGIONS_FILE) -> dict[str, PermitSettings]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        data = RegionsFile.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise PermitSettingsError(f"{path}: cannot read: {exc}") from exc
    except ValidationError as exc:
        lines = [f"{path}: invalid permit settings"]
        for e in exc.errors():
            loc = ".".join(str(p) for p in e["loc"]) or "(file)"
            lines.append(f"  {loc}: {e['msg']}")
        raise PermitSettingsError("\n".join(lines)) from exc
    d = data.default
    return {
        slug: PermitSettings(
            region=slug,
            place=r.place,
            letterhead=r.letterhead,
            signatory_title=r.signatory_title,
            signatory_name=r.signatory_name,
            permit_number_pattern=r.permit_number_pattern or d.permit_number_pattern,
            validity_years=r.validity_years or d.validity_years,
            profession_codes={**d.profession_codes, **r.profession_codes},
        )
        for slug, r in data.regions.items()
    }


@cache
def _packaged() -> dict[str, PermitSettings]:
    return load_permit_settings(REGIONS_FILE)


def permit_settings(region: str) -> PermitSettings:
    """The packaged settings of one region (KeyError naming the file when absent)."""
    try:
        return _packaged()[region]
    except KeyError:
        raise KeyError(f"no permit settings for region {region!r} in {REGIONS_FILE.name}") from None


def permit_regions() -> tuple[str, ...]:
    return tuple(sorted(_packaged()))


def permit_number(settings: PermitSettings, *, profession: str, seq: int, on: date,
                  region_code: str) -> str:
    """The permit number for running number `seq` issued on `on`."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError(f"seq must be a positive integer, got {seq!r}")
    return _format(
        settings.permit_number_pattern,
        seq=seq,
        on=on,
        region_code=region_code,
        profession_code=settings.profession_code(profession),
    )
