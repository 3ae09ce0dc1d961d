"""Codes for the public verify page /verify/<code>.

18 random bytes (144 bits) from the OS's CSPRNG, URL-safe base64: 24 characters of
[A-Za-z0-9_-]. Not guessable, not derived from the permit number or the applicant.
"""

from __future__ import annotations

import re
import secrets

CODE_BYTES = 18
CODE_LENGTH = 24  # base64 of 18 bytes, no padding
_CODE = re.compile(r"^[A-Za-z0-9_-]{24}$")


def new_verify_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def is_verify_code(text: str) -> bool:
    """The shape of a code (for rejecting junk before a database look-up)."""
    return bool(_CODE.fullmatch(text))


def verify_url(base_url: str, code: str) -> str:
    """ "https://izin.example.go.id" + code -> "https://izin.example.go.id/verify/<code>" """
    if not is_verify_code(code):
        raise ValueError("not a verify code")
    return f"{base_url.rstrip('/')}/verify/{code}"
