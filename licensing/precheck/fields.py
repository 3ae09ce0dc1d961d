"""Fields read from OCR text, and how they compare with what the applicant typed.

Pure text work: OCR output in, values out. Digits that OCR commonly mistakes for
letters in a number field (O for 0, l for 1...) are mapped back only inside fields
that must be numeric.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from datetime import date

from licensing.precheck.kinds import CheckStatus

MONTHS = ("januari", "februari", "maret", "april", "mei", "juni", "juli", "agustus",
          "september", "oktober", "november", "desember")
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1",
                                   "i": "1", "|": "1", "!": "1", "L": "1", "Z": "2", "z": "2",
                                   "S": "5", "s": "5", "B": "8", "G": "6", "b": "6", "T": "7",
                                   "?": "7", "g": "9", "q": "9", "A": "4"})


def digits_of(text: str) -> str:
    """The digits of a numeric field, look-alike letters mapped to digits."""
    return re.sub(r"\D", "", text.translate(_DIGIT_LOOKALIKES))


def fold(text: str) -> str:
    """Upper case, accents and punctuation dropped, spaces collapsed: for comparing."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^A-Za-z0-9 ]", " ", text).upper().split())


def similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, fold(a), fold(b)).ratio()


def nik_candidates(text: str) -> list[str]:
    """16-digit runs in the text, after mapping look-alikes, in reading order."""
    found = []
    for run in re.findall(r"[0-9OoDQIl|!LZzSsBGbT?gqA ]{16,40}", text):
        digits = digits_of(run.replace(" ", ""))
        if len(digits) == 16:
            found.append(digits)
    return found


def plausible_nik(nik: str) -> bool:
    """Shape of an NIK: region code, a birth date (day + 40 for women), a serial."""
    if not re.fullmatch(r"\d{16}", nik):
        return False
    day, month = int(nik[6:8]), int(nik[8:10])
    day = day - 40 if day > 40 else day
    return 1 <= day <= 31 and 1 <= month <= 12 and nik[12:] != "0000"


def label_value(lines: list[str], label: str, cutoff: float = 0.75) -> str | None:
    """The text after `label` (and a colon) on the line that starts with it."""
    for line in lines:
        head, sep, rest = line.partition(":")
        if sep and similar(head, label) >= cutoff and rest.strip():
            return rest.strip()
    return None


_DATE = re.compile(r"(\d{1,2})\s*[-./ ]?\s*([A-Za-z]{3,10})\s*[-./ ]?\s*((?:19|20)\d{2})")


def _month(word: str) -> int | None:
    match = difflib.get_close_matches(word.lower(), MONTHS, n=1, cutoff=0.7)
    return MONTHS.index(match[0]) + 1 if match else None


def parse_date(text: str) -> date | None:
    """The first Indonesian date in words ("12 Agustus 2029") in the text."""
    for day, month_word, year in _DATE.findall(text):
        month = _month(month_word)
        if month is None:
            continue
        try:
            return date(int(year), month, int(day))
        except ValueError:
            continue
    return None


def last_date(text: str) -> date | None:
    """The last date in words in the text: a letter's date is at its end."""
    found = None
    for m in _DATE.finditer(text):
        d = parse_date(m.group(0))
        if d is not None:
            found = d
    return found


_LIFETIME = re.compile(r"seumur\s*hid", re.IGNORECASE)
_UNTIL = re.compile(r"berlaku\s*(?:sampai|hingga|s\.?\s*d\.?)\s*(?:dengan)?\s*(.{0,40})",
                    re.IGNORECASE)


def validity(text: str) -> str | None:
    """ISO date the STR is valid until, "lifetime", or None when not found."""
    for m in _UNTIL.finditer(text):
        d = parse_date(m.group(1))
        if d is not None:
            return d.isoformat()
    if _LIFETIME.search(text):
        return "lifetime"
    return None


def str_number(lines: list[str]) -> str | None:
    """The number on the line that names it (Nomor STR / No. STR / Nomor)."""
    for line in lines:
        head, sep, rest = line.partition(":")
        if not sep:
            continue
        h = fold(head)
        if "STR" in h or similar(h, "NOMOR STR") >= 0.7 or h in {"NOMOR", "NO"}:
            value = normalise_str(rest)
            if sum(ch.isdigit() for ch in value) >= 6:
                return value
    return None


def normalise_str(text: str) -> str:
    """Upper case, no spaces: how two spellings of one STR number are compared."""
    return re.sub(r"\s+", "", text.strip().upper()).strip(".:,;")


def profession_in(text: str, names: list[str]) -> str | None:
    """Which of the profession names the text mentions (by the stems of its words:
    "Okupasi Terapi" on a diploma names "Okupasi Terapis")."""
    folded = fold(text)
    for name in names:
        stems = [w[:6] for w in fold(name).split() if len(w) >= 4]
        if stems and all(s in folded for s in stems):
            return name
    return None


def letterhead(lines: list[str]) -> str | None:
    """A letter's issuer: its first line in capitals with at least two words."""
    for line in lines[:6]:
        words = [w for w in fold(line).split() if len(w) > 1]
        letters = [ch for ch in line if ch.isalpha()]
        if len(words) >= 2 and letters and sum(ch.isupper() for ch in letters) / len(
                letters) > 0.8:
            return " ".join(words)
    return None


def compare(read: str | None, typed: str | None, *, exact: bool) -> CheckStatus:
    if not read or not typed:
        return CheckStatus.UNREAD
    if exact:
        return CheckStatus.AGREE if read == typed else CheckStatus.DISAGREE
    return CheckStatus.AGREE if similar(read, typed) >= 0.8 else CheckStatus.DISAGREE
