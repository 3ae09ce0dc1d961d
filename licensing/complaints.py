"""Complaint rules: what is a complaint and what a suggestion, and a proposed grade.

The rules come from the region's published standard (catalog `complaints`) and from
`complaint_rules.yaml` (grading keywords an office can change); nothing is hard-coded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from licensing.catalog import Complaints, DayUnit, Duration

RULES_FILE = Path(__file__).with_name("complaint_rules.yaml")

# The components of a service standard a complaint can be about (PermenPANRB 15/2014).
CATEGORIES = ("requirements", "procedure", "time", "cost", "product", "facilities",
              "staff_competence", "staff_conduct", "other")
GRADES = ("ringan", "sedang", "berat")
DEFAULT_ANSWER_WITHIN = Duration(days=14, unit=DayUnit.WORKING)

Kind = Literal["complaint", "suggestion"]


@dataclass(frozen=True)
class Classification:
    kind: Kind
    reason: str | None  # "late" | "anonymous" | "no_object" when a suggestion


def classify(
    rules: Complaints,
    *,
    filed_on: date,
    service_received_on: date | None,
    anonymous: bool,
    has_object: bool,
) -> Classification:
    """Apply the region's published rules, in the order the standard lists them."""
    if rules.no_object_is_suggestion and not has_object:
        return Classification("suggestion", "no_object")
    if rules.anonymous_is_suggestion and anonymous:
        return Classification("suggestion", "anonymous")
    # "paling lambat 30 hari kalender": day 30 is still in time, day 31 is late.
    if (rules.suggestion_after_days is not None and service_received_on is not None
            and (filed_on - service_received_on).days > rules.suggestion_after_days):
        return Classification("suggestion", "late")
    return Classification("complaint", None)


def answer_within(rules: Complaints) -> Duration:
    return rules.answer_within or DEFAULT_ANSWER_WITHIN


class _GradeRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    keywords: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


class GradingRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Checked from the heaviest grade down; the first that matches is proposed.
    berat: _GradeRule
    sedang: _GradeRule
    money_or_misconduct: Literal["sedang", "berat"] = "berat"


@cache
def grading_rules(path: Path = RULES_FILE) -> GradingRules:
    return GradingRules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def propose_grade(
    text: str, category: str, *, alleges_money_or_misconduct: bool,
    rules: GradingRules | None = None,
) -> str:
    """A proposal for the complaint officer, who confirms or changes it."""
    rules = rules or grading_rules()
    if alleges_money_or_misconduct:
        return rules.money_or_misconduct
    lowered = text.lower()
    for grade in ("berat", "sedang"):
        rule: _GradeRule = getattr(rules, grade)
        if category in rule.categories or any(k in lowered for k in rule.keywords):
            return grade
    return "ringan"


def is_filed_on(now: datetime, tz: str) -> date:
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(tz)).date()


# --- escalation ---------------------------------------------------------------------

ESCALATION_FILE = Path(__file__).with_name("complaint_escalation.yaml")
RESOLUTION_PATHS = ("internal", "technical_or_agency", "apip")


class EscalationLevel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    role: str
    title: str
    days: int  # working days this level has before the next one takes over


class _GradeLevels(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ringan: tuple[EscalationLevel, ...]
    sedang: tuple[EscalationLevel, ...]
    berat: tuple[EscalationLevel, ...]


class EscalationRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    default: _GradeLevels
    regions: dict[str, _GradeLevels] = {}

    def levels(self, region: str, grade: str) -> tuple[EscalationLevel, ...]:
        if grade not in GRADES:
            raise ValueError(f"unknown grade {grade!r}")
        chain: tuple[EscalationLevel, ...] = getattr(
            self.regions.get(region, self.default), grade)
        return chain


@cache
def escalation_rules(path: Path = ESCALATION_FILE) -> EscalationRules:
    return EscalationRules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
