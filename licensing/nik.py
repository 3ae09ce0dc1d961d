"""Structural check of the Indonesian NIK (Nomor Induk Kependudukan).

Layout: PP KK CC DDMMYY SSSS - province, regency/city, district, birth date (day + 40
for women), serial. This catches typos and swapped fields; it cannot prove that
Dukcapil actually issued the number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

NikErrorCode = Literal["format", "province", "region", "birth_date", "serial"]

# Dukcapil/Kemendagri province codes. 93-96 are the Papua provinces created in 2022
# (Papua Selatan, Papua Tengah, Papua Pegunungan, Papua Barat Daya); NIKs issued
# earlier there keep 91/92, because a NIK never changes.
PROVINCE_CODES: frozenset[str] = frozenset(
    {
        "11", "12", "13", "14", "15", "16", "17", "18", "19", "21",  # Sumatra, Kepri
        "31", "32", "33", "34", "35", "36",  # Java
        "51", "52", "53",  # Bali, Nusa Tenggara
        "61", "62", "63", "64", "65",  # Kalimantan
        "71", "72", "73", "74", "75", "76",  # Sulawesi
        "81", "82",  # Maluku
        "91", "92", "93", "94", "95", "96",  # Papua
    }
)

_SEPARATORS = re.compile(r"[\s.\-]")
_FEMALE_DAY_OFFSET = 40


class NikError(ValueError):
    """Invalid NIK; `code` says which part is wrong (for a localized message)."""

    def __init__(self, code: NikErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: NikErrorCode = code


@dataclass(frozen=True)
class NikInfo:
    nik: str  # 16 digits, separators removed
    province_code: str
    sex: Literal["F", "M"]
    birth_date: date


def parse_nik(text: str, *, today: date) -> NikInfo:
    """Validate a NIK and decode it; raises NikError with the first failing part."""
    nik = _SEPARATORS.sub("", text)
    # isascii: str.isdigit also accepts e.g. Arabic-Indic digits.
    if len(nik) != 16 or not (nik.isascii() and nik.isdigit()):
        raise NikError("format", "a NIK has exactly 16 digits")

    province = nik[0:2]
    if province not in PROVINCE_CODES:
        raise NikError("province", f"unknown province code {province}")
    if nik[2:4] == "00" or nik[4:6] == "00":
        raise NikError("region", "regency/city and district codes cannot be 00")

    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    sex: Literal["F", "M"] = "M"
    if day > _FEMALE_DAY_OFFSET:
        sex = "F"
        day -= _FEMALE_DAY_OFFSET
    birth = _birth_date(day, month, yy, today)
    if birth is None:
        raise NikError("birth_date", f"birth date {nik[6:12]} does not exist")

    if nik[12:16] == "0000":
        raise NikError("serial", "serial number cannot be 0000")
    return NikInfo(nik=nik, province_code=province, sex=sex, birth_date=birth)


def _birth_date(day: int, month: int, yy: int, today: date) -> date | None:
    """Most recent existing date DD-MM-(19|20)YY that is not after `today`."""
    # Day 32-40 is neither a male nor a female encoding; date() rejects it anyway.
    for century in (2000, 1900):
        try:
            candidate = date(century + yy, month, day)
        except ValueError:
            continue  # e.g. 29-02-00 exists in 2000 but not 1900
        if candidate <= today:
            return candidate
    return None


def mask_nik(nik: str) -> str:
    """Mask for display/logs: "3201**********01" (first 4 and last 2 digits kept).

    Never raises, since it runs on log paths; too-short input is masked entirely.
    """
    digits = _SEPARATORS.sub("", nik)
    if len(digits) <= 6:
        return "*" * len(digits)
    return digits[:4] + "*" * (len(digits) - 6) + digits[-2:]
