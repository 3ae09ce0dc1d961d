"""The published complaint rules and the grade proposals, table-driven."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from licensing.catalog import Catalog
from licensing.complaints import answer_within, classify, propose_grade

CATALOG = Catalog.load()
PWK = CATALOG.get("purwakarta", "okupasi-terapis").complaints
PKU = CATALOG.get("pekanbaru", "okupasi-terapis").complaints
RECEIVED = date(2026, 10, 1)


@pytest.mark.parametrize(("days", "kind"), [(0, "complaint"), (29, "complaint"),
                                            (30, "complaint"), (31, "suggestion")])
def test_thirty_calendar_days_after_the_service(days: int, kind: str) -> None:
    result = classify(PWK, filed_on=RECEIVED + timedelta(days=days),
                      service_received_on=RECEIVED, anonymous=False, has_object=True)
    assert result.kind == kind
    assert result.reason == (None if kind == "complaint" else "late")


@pytest.mark.parametrize(("anonymous", "has_object", "kind", "reason"), [
    (False, True, "complaint", None),
    (True, True, "suggestion", "anonymous"),
    (False, False, "suggestion", "no_object"),
])
def test_identity_and_object_rules_of_purwakarta(
    anonymous: bool, has_object: bool, kind: str, reason: str | None
) -> None:
    result = classify(PWK, filed_on=RECEIVED, service_received_on=RECEIVED,
                      anonymous=anonymous, has_object=has_object)
    assert (result.kind, result.reason) == (kind, reason)


def test_regions_without_those_rules_keep_complaints() -> None:
    late = classify(PKU, filed_on=RECEIVED + timedelta(days=90), service_received_on=RECEIVED,
                    anonymous=True, has_object=False)
    assert late.kind == "complaint"


def test_answer_deadline_from_the_standard_or_the_default() -> None:
    assert (answer_within(PWK).days, answer_within(PWK).unit.value) == (14, "working")
    assert answer_within(PKU).days == 14  # not published there: the 14 working days default


@pytest.mark.parametrize(("text", "category", "money", "grade"), [
    ("Petugas ramah, hanya ingin bertanya jam buka.", "other", False, "ringan"),
    ("Izin saya terlambat dua minggu.", "procedure", False, "sedang"),
    ("Antrian panjang sekali.", "time", False, "sedang"),  # the category alone
    ("Saya diminta uang pelicin oleh oknum.", "staff_conduct", False, "berat"),
    ("Ada biaya tambahan.", "cost", True, "berat"),
])
def test_grade_proposals(text: str, category: str, money: bool, grade: str) -> None:
    assert propose_grade(text, category, alleges_money_or_misconduct=money) == grade
