from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from licensing.dates import format_date, format_datetime, weekday_name


def test_format_date() -> None:
    assert format_date(date(2025, 7, 21), "id") == "21 Juli 2025"
    assert format_date(date(2025, 7, 21), "en") == "21 July 2025"
    assert format_date(date(2026, 3, 1), "id") == "1 Maret 2026"  # no leading zero


MONTHS_ID = [
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
]


@pytest.mark.parametrize(("month", "name"), list(enumerate(MONTHS_ID, start=1)))
def test_indonesian_month_names(month: int, name: str) -> None:
    assert format_date(date(2025, month, 5), "id") == f"5 {name} 2025"


def test_format_datetime_zones() -> None:
    utc = datetime(2025, 7, 21, 7, 5, tzinfo=UTC)
    assert format_datetime(utc, "id", "Asia/Jakarta") == "21 Juli 2025 14.05 WIB"
    assert format_datetime(utc, "en", "Asia/Jakarta") == "21 July 2025 14:05 WIB"
    assert format_datetime(utc, "id", "Asia/Makassar") == "21 Juli 2025 15.05 WITA"
    assert format_datetime(utc, "id", "Asia/Jayapura") == "21 Juli 2025 16.05 WIT"


def test_format_datetime_converts_the_date_too() -> None:
    # 20:30 UTC on 31 Dec is already New Year in Jakarta (UTC+7).
    late = datetime(2025, 12, 31, 20, 30, tzinfo=UTC)
    assert format_datetime(late, "id", "Asia/Jakarta") == "1 Januari 2026 03.30 WIB"
    wib = datetime(2025, 7, 21, 9, 0, tzinfo=timezone(timedelta(hours=7)))
    assert format_datetime(wib, "id", "Asia/Jakarta") == "21 Juli 2025 09.00 WIB"


def test_format_datetime_rejects_naive_and_unknown() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_datetime(datetime(2025, 7, 21, 14, 5), "id", "Asia/Jakarta")
    with pytest.raises(ValueError, match="time zone"):
        format_datetime(datetime(2025, 7, 21, tzinfo=UTC), "id", "Asia/Singapore")
    with pytest.raises(ValueError, match="language"):
        format_date(date(2025, 7, 21), "fr")


def test_weekday_names() -> None:
    monday = date(2025, 7, 21)
    names = [weekday_name(monday + timedelta(days=i), "id") for i in range(7)]
    assert names == ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]
    assert weekday_name(monday, "en") == "Monday"
    assert weekday_name(date(2025, 7, 27), "en") == "Sunday"
