"""Dates and times as Indonesians write them ("21 Juli 2025 14.05 WIB").

Hand-written tables instead of the `locale` module: locales are process-global and
often not installed in containers.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

_MONTHS: dict[str, tuple[str, ...]] = {
    "id": (
        "Januari", "Februari", "Maret", "April", "Mei", "Juni",
        "Juli", "Agustus", "September", "Oktober", "November", "Desember",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June",
        "July", "August", "September", "October", "November", "December",
    ),
}

# Indexed by date.weekday(): Monday first.
_WEEKDAYS: dict[str, tuple[str, ...]] = {
    "id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}

# Fixed labels rather than tzname(): the abbreviation must not depend on tzdata's version.
TIMEZONE_LABELS: dict[str, str] = {
    "Asia/Jakarta": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}

# Indonesian writes times with a dot (14.05).
_TIME_SEPARATOR = {"id": ".", "en": ":"}


def _check_lang(lang: str) -> None:
    if lang not in _MONTHS:
        raise ValueError(f"unsupported language {lang!r}; expected one of {sorted(_MONTHS)}")


def format_date(d: date, lang: str) -> str:
    """Format as "21 Juli 2025" (id) or "21 July 2025" (en)."""
    _check_lang(lang)
    return f"{d.day} {_MONTHS[lang][d.month - 1]} {d.year}"


def format_datetime(dt: datetime, lang: str, tz: str) -> str:
    """Format as "21 Juli 2025 14.05 WIB" (id) or "21 July 2025 14:05 WIB" (en) in zone `tz`.

    `dt` must be timezone-aware: a naive value could be UTC or local time, and guessing
    wrong shifts the displayed time by hours.
    """
    _check_lang(lang)
    label = TIMEZONE_LABELS.get(tz)
    if label is None:
        raise ValueError(f"unsupported time zone {tz!r}; expected one of {sorted(TIMEZONE_LABELS)}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("format_datetime needs a timezone-aware datetime")
    local = dt.astimezone(ZoneInfo(tz))
    sep = _TIME_SEPARATOR[lang]
    return f"{format_date(local.date(), lang)} {local.hour:02d}{sep}{local.minute:02d} {label}"


def weekday_name(d: date, lang: str) -> str:
    """Day name: "Senin" ... "Minggu" (id), "Monday" ... "Sunday" (en)."""
    _check_lang(lang)
    return _WEEKDAYS[lang][d.weekday()]
