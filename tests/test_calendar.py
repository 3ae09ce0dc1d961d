"""Working-day calendar against real 2026 dates from the `holidays` package (0.109).

Facts relied on (ID, language "id"):
  PUBLIC:     Thu 19 Mar 2026 Hari Suci Nyepi, Sat 21 / Sun 22 Mar Idul Fitri (two days),
              Fri 3 Apr Wafat Yesus Kristus, Thu 25 Dec Natal.
  GOVERNMENT: cuti bersama Wed 18 Mar (Nyepi), Fri 20 / Mon 23 / Tue 24 Mar (Idul Fitri),
              Thu 24 Dec (Natal).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from licensing.calendar import DEFAULT_OVERRIDES, WorkingCalendar, default_calendar


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    return WorkingCalendar(None)


@pytest.fixture(scope="module")
def public_only() -> WorkingCalendar:
    return WorkingCalendar(None, include_collective_leave=False)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "overrides.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_package_facts_the_other_tests_rely_on(cal: WorkingCalendar) -> None:
    assert cal.holiday_name(date(2026, 3, 19)) == "Hari Suci Nyepi"
    assert cal.holiday_name(date(2026, 3, 21)) == "Hari Raya Idul Fitri"
    for cuti in (date(2026, 3, 18), date(2026, 3, 20), date(2026, 3, 23), date(2026, 3, 24)):
        name = cal.holiday_name(cuti)
        assert name is not None and name.startswith("Cuti Bersama"), cuti
    assert cal.holiday_name(date(2026, 3, 25)) is None


def test_weekend_skipping(cal: WorkingCalendar) -> None:
    friday = date(2025, 7, 18)  # ordinary week in July 2025, no holidays
    assert cal.add_working_days(friday, 1) == date(2025, 7, 21)  # Monday
    assert cal.add_working_days(friday, 5) == date(2025, 7, 25)
    assert not cal.is_working_day(date(2025, 7, 19))
    assert not cal.is_working_day(date(2025, 7, 20))
    assert cal.holiday_name(date(2025, 7, 19)) is None  # a weekend is not a holiday
    assert cal.working_days_between(friday, date(2025, 7, 21)) == 1
    assert cal.working_days_between(friday, date(2025, 7, 20)) == 0


def test_seven_working_days_across_idul_fitri_2026(cal: WorkingCalendar) -> None:
    # Start Fri 20 Mar 2026 (itself cuti bersama; the start day is never counted).
    # Hand count: Sat 21 / Sun 22 Idul Fitri + weekend, Mon 23 and Tue 24 cuti bersama,
    # then Wed 25 (1), Thu 26 (2), Fri 27 (3), Mon 30 (4), Tue 31 (5), Wed 1 Apr (6),
    # Thu 2 Apr (7).
    assert cal.due_date(date(2026, 3, 20), 7, "working") == date(2026, 4, 2)
    # Start Fri 13 Mar: Mon 16 (1), Tue 17 (2), Wed 18 cuti, Thu 19 Nyepi, Fri 20 cuti,
    # weekend/Idul Fitri, Mon 23 + Tue 24 cuti, Wed 25 (3), Thu 26 (4), Fri 27 (5),
    # Mon 30 (6), Tue 31 (7).
    assert cal.due_date(date(2026, 3, 13), 7, "working") == date(2026, 3, 31)
    assert cal.working_days_between(date(2026, 3, 13), date(2026, 3, 31)) == 7


def test_government_category_matters(cal: WorkingCalendar, public_only: WorkingCalendar) -> None:
    cuti = date(2026, 3, 23)  # Monday, cuti bersama Idul Fitri (GOVERNMENT only)
    assert not cal.is_working_day(cuti)
    assert public_only.is_working_day(cuti)
    assert public_only.holiday_name(cuti) is None
    # Without cuti bersama, Mon 23 (1) ... Tue 31 (7): two days earlier than with it.
    assert public_only.add_working_days(date(2026, 3, 20), 7) == date(2026, 3, 31)
    assert cal.add_working_days(date(2026, 3, 20), 7) == date(2026, 4, 2)


def test_override_add_and_remove(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "add:\n"
        '  - {date: 2026-07-15, name: "Cuti bersama tambahan"}\n'
        "remove:\n"
        '  - {date: 2026-03-24, reason: "dibatalkan"}\n',
    )
    cal = WorkingCalendar(path)
    assert not cal.is_working_day(date(2026, 7, 15))  # a Wednesday
    assert cal.holiday_name(date(2026, 7, 15)) == "Cuti bersama tambahan"
    assert cal.is_working_day(date(2026, 3, 24))
    assert cal.holiday_name(date(2026, 3, 24)) is None
    # Tue 24 Mar now counts: Tue 24 (1) ... Wed 1 Apr (6), Thu 2 Apr would be 7 -> 1 Apr.
    assert cal.add_working_days(date(2026, 3, 20), 7) == date(2026, 4, 1)
    # Weekdays around the added date: Tue 14 -> Thu 16 is one working day.
    assert cal.working_days_between(date(2026, 7, 14), date(2026, 7, 16)) == 1


def test_quoted_override_dates_are_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, "add:\n  - {date: '2026-07-15', name: X}\nremove: []\n")
    assert not WorkingCalendar(path).is_working_day(date(2026, 7, 15))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("add:\n  - {date: 2026-02-30, name: X}\n", "add[0]"),
        ("add:\n  - {date: 2026-07-15}\n", "add[0]"),
        ("add:\n  - {date: 2026-07-15, nama: X}\n", "add[0]"),
        ("remove:\n  - 2026-03-24\n", "remove[0]"),
        ("add:\n  - {date: 2026-07-15, name: X}\nremove:\n  - {date: 2026-07-15}\n", "remove[0]"),
        ("tambah: []\n", "tambah"),
        ("add: [\n", "invalid YAML"),
    ],
)
def test_invalid_override_file_names_the_file(tmp_path: Path, text: str, fragment: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        WorkingCalendar(path)
    assert str(path) in str(info.value)
    assert fragment in str(info.value)


def test_missing_override_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ValueError, match=r"nope\.yaml"):
        WorkingCalendar(path)


def test_bundled_override_file_loads() -> None:
    assert DEFAULT_OVERRIDES.exists()
    cal = default_calendar()
    assert cal is default_calendar()
    assert not cal.is_working_day(date(2026, 12, 24))  # cuti bersama Natal, from the package


def test_calendar_unit_ignores_holidays(cal: WorkingCalendar) -> None:
    start = date(2026, 3, 17)
    assert cal.due_date(start, 7, "calendar") == date(2026, 3, 24)
    assert cal.days_left(date(2026, 3, 20), date(2026, 3, 24), "calendar") == 4


def test_days_left(cal: WorkingCalendar) -> None:
    due = date(2026, 4, 2)
    assert cal.days_left(due, due, "working") == 0
    # Wed 25 (1), Thu 26 (2), Fri 27 (3), Mon 30 (4), Tue 31 (5), Wed 1 (6), Thu 2 (7).
    assert cal.days_left(date(2026, 3, 20), due, "working") == 7
    # Overdue: Good Friday 3 Apr and the weekend do not count; Mon 6 (1), Tue 7 (2).
    assert cal.days_left(date(2026, 4, 7), due, "working") == -2
    assert cal.days_left(date(2026, 4, 7), due, "calendar") == -5


def test_unknown_unit(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="unit"):
        cal.due_date(date(2026, 1, 5), 3, "hari")
    with pytest.raises(ValueError, match="unit"):
        cal.days_left(date(2026, 1, 5), date(2026, 1, 8), "weeks")


def test_between_matches_day_by_day_count(cal: WorkingCalendar) -> None:
    # The arithmetic count must agree with a naive loop, across a year boundary too.
    start = date(2025, 12, 1)
    for span in (0, 1, 6, 30, 45, 400):
        end = start + timedelta(days=span)
        naive = sum(1 for k in range(1, span + 1) if cal.is_working_day(start + timedelta(days=k)))
        assert cal.working_days_between(start, end) == naive
        assert cal.working_days_between(end, start) == -naive


def test_add_and_between_are_inverse(cal: WorkingCalendar) -> None:
    start = date(2026, 3, 16)
    for n in range(0, 40):
        assert cal.working_days_between(start, cal.add_working_days(start, n)) == n
    assert cal.add_working_days(date(2026, 3, 25), -1) == date(2026, 3, 17)
