"""The pre-check's vocabulary: what a requirement's document is, what can be wrong."""

from __future__ import annotations

from enum import StrEnum


class DocumentKind(StrEnum):
    """What a requirement's scan is, so the pre-check knows which fields to read."""

    KTP = "ktp"  # identity card: NIK and name
    STR = "str"  # registration certificate: number and validity
    IJAZAH = "ijazah"  # diploma: the profession
    LETTER = "letter"  # recommendation, health certificate, workplace statement
    PHOTO = "photo"  # pas foto: quality only, no page to find


class QualityFlag(StrEnum):
    BLURRED = "blurred"
    DARK = "dark"
    SMALL = "small"
    CUT_OFF = "cut_off"


class CheckStatus(StrEnum):
    AGREE = "agree"
    DISAGREE = "disagree"
    UNREAD = "unread"  # the field could not be read: no opinion
    WARN = "warn"  # read and consistent, but worth a word (expires early, old letter)
