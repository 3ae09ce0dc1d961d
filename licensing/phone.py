"""Indonesian phone numbers, normalized to E.164 digits without "+" (as WhatsApp uses them)."""

from __future__ import annotations

import re

COUNTRY_CODE = "62"

# Punctuation people type between digit groups; "+" is handled separately.
_SEPARATORS = re.compile(r"[\s\-.()/]")
# "+62 (0)812..." - the trunk 0 is sometimes written after the country code.
_PARENTHESIZED_TRUNK = re.compile(r"^\+?(?:00)?62\s*\(0\)")


class PhoneError(ValueError):
    """Not an Indonesian mobile or landline number."""


def normalize_phone(text: str) -> str:
    """Normalize "081234567890", "+62 812-3456-7890", "6281234567890" to "6281234567890".

    The national significant number (after 62, without the trunk 0) must be 8-13
    digits and start with 2-9; mobile numbers (8xx) must be 9-12 digits.
    """
    raw = _PARENTHESIZED_TRUNK.sub("620", text.strip())
    compact = _SEPARATORS.sub("", raw)
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not digits or not (digits.isascii() and digits.isdigit()):
        raise PhoneError("a phone number may contain only digits, spaces, dashes and a leading +")

    if plus:
        if not digits.startswith(COUNTRY_CODE):
            raise PhoneError("only Indonesian (+62) numbers are accepted")
        national = digits[len(COUNTRY_CODE) :]
    elif digits.startswith("00"):
        if not digits.startswith("00" + COUNTRY_CODE):
            raise PhoneError("only Indonesian (+62) numbers are accepted")
        national = digits[2 + len(COUNTRY_CODE) :]
    elif digits.startswith(COUNTRY_CODE):
        national = digits[len(COUNTRY_CODE) :]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        # Bare "812..." could as well be a foreign number missing its "+".
        raise PhoneError("start the number with 0 or +62")

    if national.startswith("0"):
        national = national[1:]  # "+62 0812..." / "62 (0)21...": drop the stray trunk 0
    if not national or national[0] in "01":
        raise PhoneError("not an Indonesian mobile or landline number")
    if not 8 <= len(national) <= 13:
        raise PhoneError("an Indonesian number has 8-13 digits after the country code")
    if national.startswith("8") and not 9 <= len(national) <= 12:
        raise PhoneError("an Indonesian mobile number has 10-13 digits starting with 08")
    return COUNTRY_CODE + national
