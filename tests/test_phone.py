from __future__ import annotations

import pytest

from licensing.phone import PhoneError, normalize_phone


@pytest.mark.parametrize(
    "text",
    [
        "081234567890",
        "+62 812-3456-7890",
        "6281234567890",
        "+6281234567890",
        "0812.3456.7890",
        "(0812) 3456 7890",
        "0062 812 3456 7890",
        "+62 (0)812 3456 7890",
        "+62 0812 3456 7890",
        "  081234567890\n",
    ],
)
def test_mobile_formats(text: str) -> None:
    assert normalize_phone(text) == "6281234567890"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(021) 1234-5678", "622112345678"),  # Jakarta landline
        ("+62 274 512345", "62274512345"),  # Yogyakarta, 8-digit national number
        ("0812345678", "62812345678"),  # old 10-digit mobile
        ("0812-3456-78901", "62812345678901"),  # 13-digit mobile (12 national digits)
    ],
)
def test_other_valid_numbers(text: str, expected: str) -> None:
    assert normalize_phone(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "+1 415 555 0100",  # not Indonesia
        "0065 6123 4567",  # Singapore via 00
        "81234567890",  # no trunk 0 / country code
        "0812-3456-789O",  # letter O
        "0812+34567890",  # plus in the middle
        "0123456789",  # national number starting with 1
        "021 12345",  # too short (7 national digits)
        "0812345678901234",  # too long
        "08123456",  # mobile too short (7 national digits)
        "+62",
        "phone: 081234567890",
    ],
)
def test_rejected(text: str) -> None:
    with pytest.raises(PhoneError):
        normalize_phone(text)


def test_mobile_upper_bound() -> None:
    with pytest.raises(PhoneError):
        normalize_phone("08123456789012")  # 13 national digits: too long for a mobile


def test_phone_error_is_value_error() -> None:
    assert issubclass(PhoneError, ValueError)
