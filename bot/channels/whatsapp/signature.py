"""Meta signs each webhook POST: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
body keyed with the app secret>`. Checked over the raw bytes, before any parsing."""

from __future__ import annotations

import hashlib
import hmac
from enum import Enum

PREFIX = "sha256="


class Verdict(Enum):
    OK = "ok"
    MISSING = "missing"
    WRONG = "wrong"


def sign(body: bytes, secret: str) -> str:
    """The header value Meta would send for `body` (also used by the tests)."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def check(body: bytes, header: str | None, secret: str) -> Verdict:
    if not header:
        return Verdict.MISSING
    if not header.startswith(PREFIX):
        return Verdict.WRONG
    expected = sign(body, secret)
    # Constant time: a byte-by-byte comparison would leak how much of a guess is right.
    if hmac.compare_digest(expected.encode(), header.strip().lower().encode()):
        return Verdict.OK
    return Verdict.WRONG
