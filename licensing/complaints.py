"""Complaint rules: what is a complaint and what a suggestion, and a proposed grade.

The rules come from the region's published standard (catalog `complaints`) and from
`complaint_rules.yaml` (grading keywords an office can change); nothing is hard-coded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
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


_WORD = re.compile(r"[0-9a-z]+")
# Indonesian affixes, longest first. A nasal prefix swallows the stem's first letter
# (menyuap = meN + suap, memungut = meN + pungut): the second item puts it back.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("meny", "s"), ("meng", "k"), ("peny", "s"), ("peng", "k"), ("mem", "p"), ("men", "t"),
    ("pem", "p"), ("pen", "t"), ("meng", ""), ("peng", ""), ("mem", ""), ("men", ""),
    ("pem", ""), ("pen", ""), ("memper", ""), ("diper", ""), ("ber", ""), ("ter", ""),
    ("per", ""), ("me", ""), ("pe", ""), ("di", ""), ("ke", ""), ("se", ""),
)
_SUFFIXES = ("nya", "lah", "kah", "pun", "kan", "an", "i", "ku", "mu")
_MIN_STEM = 3


def tokens(text: str) -> list[str]:
    """Lower-case words; a hyphen or any punctuation separates (AC-nya -> ac, nya)."""
    return _WORD.findall(text.lower())


def _unsuffixed(word: str) -> set[str]:
    out = {word}
    for _ in range(2):  # at most two suffixes: -kan + -nya, -an + -nya
        for w in list(out):
            for suffix in _SUFFIXES:
                if w.endswith(suffix) and len(w) - len(suffix) >= _MIN_STEM:
                    out.add(w[: -len(suffix)])
    return out


@cache
def word_forms(word: str) -> frozenset[str]:
    """The word and the stems it may carry under Indonesian prefixes and suffixes.

    Only whole affixes are removed, so a stem never comes from the middle of a word:
    "ruang" yields no "uang", "calon" no "calo" (but "percaloan" and "calonya" do)."""
    forms = set(_unsuffixed(word))
    for w in list(forms):
        for prefix, restore in _PREFIXES:
            if w.startswith(prefix) and len(w) - len(prefix) + len(restore) >= _MIN_STEM:
                forms |= _unsuffixed(restore + w[len(prefix):])
    return frozenset(forms)


def _phrase_in(phrase: tuple[str, ...], words: list[frozenset[str]]) -> bool:
    n = len(phrase)
    return any(all(phrase[j] in words[i + j] for j in range(n))
               for i in range(len(words) - n + 1))


def matched_keywords(text: str, keywords: tuple[str, ...]) -> list[str]:
    """The keywords (words or phrases) present in `text` as whole words, affixes allowed."""
    words = [word_forms(t) for t in tokens(text)]
    return [k for k in keywords if _phrase_in(tuple(tokens(k)), words)]


def propose_grade(
    text: str, category: str, *, alleges_money_or_misconduct: bool,
    rules: GradingRules | None = None,
) -> str:
    """A proposal for the complaint officer, who confirms or changes it."""
    rules = rules or grading_rules()
    if alleges_money_or_misconduct:
        return rules.money_or_misconduct
    for grade in ("berat", "sedang"):
        rule: _GradeRule = getattr(rules, grade)
        if category in rule.categories or matched_keywords(text, rule.keywords):
            return grade
    return "ringan"


def is_filed_on(now: datetime, tz: str) -> date:
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(tz)).date()


# --- escalation ---------------------------------------------------------------------

ESCALATION_FILE = Path(__file__).with_name("complaint_escalation.yaml")
RESOLUTION_PATHS = ("internal", "technical_or_agency", "apip")


class ComplaintAction(StrEnum):
    """What one entry of a ticket's thread records (`ComplaintMessage.action`)."""

    FILED = "filed"
    REPLY = "reply"
    ANSWER = "answer"
    GRADE = "grade"  # grade = the confirmed grade, prev_grade = what it was (or proposed)
    ESCALATE = "escalate"  # level = the new level; text = the officer's reason if by hand
    HANDLING_STEP = "handling_step"
    PATH = "path"
    CLOSE = "close"
    SETTLED = "settled"
    UNSETTLED = "unsettled"


class EscalationLevel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    role: str
    title: str
    days: int  # working days this level has before the next one takes over
    # The published sentence this level is carried from (shown to the officer).
    basis: str | None = None


class _RegionLevels(BaseModel):
    """A region's chains: per grade, or one chain for every grade (`all`) where the
    region's standard does not grade complaints (Purwakarta, Metro)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str | None = None  # the seed file the chains are carried from
    all: tuple[EscalationLevel, ...] | None = None
    ringan: tuple[EscalationLevel, ...] | None = None
    sedang: tuple[EscalationLevel, ...] | None = None
    berat: tuple[EscalationLevel, ...] | None = None


class _GradeLevels(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ringan: tuple[EscalationLevel, ...]
    sedang: tuple[EscalationLevel, ...]
    berat: tuple[EscalationLevel, ...]


class EscalationRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    default: _GradeLevels
    regions: dict[str, _RegionLevels] = {}

    def levels(self, region: str, grade: str) -> tuple[EscalationLevel, ...]:
        if grade not in GRADES:
            raise ValueError(f"unknown grade {grade!r}")
        own = self.regions.get(region)
        if own is not None:
            chain: tuple[EscalationLevel, ...] | None = getattr(own, grade) or own.all
            if chain:
                return chain
        default: tuple[EscalationLevel, ...] = getattr(self.default, grade)
        return default


@cache
def escalation_rules(path: Path = ESCALATION_FILE) -> EscalationRules:
    return EscalationRules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
