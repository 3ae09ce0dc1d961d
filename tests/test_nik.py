from __future__ import annotations

from datetime import date

import pytest

from licensing.nik import NikError, NikInfo, mask_nik, parse_nik

TODAY = date(2025, 7, 21)


def test_valid_male() -> None:
    # 32 West Java, 01 regency, 01 district, 17-01-90, serial 0001.
    assert parse_nik("3201011701900001", today=TODAY) == NikInfo(
        nik="3201011701900001", province_code="32", sex="M", birth_date=date(1990, 1, 17)
    )


def test_valid_female_day_plus_40() -> None:
    info = parse_nik("3201015701900001", today=TODAY)  # 57 - 40 = 17
    assert info.sex == "F"
    assert info.birth_date == date(1990, 1, 17)


def test_female_day_71_is_the_31st() -> None:
    assert parse_nik("3201017101900001", today=TODAY).birth_date == date(1990, 1, 31)


def test_new_papua_province_code() -> None:
    assert parse_nik("9501011701900001", today=TODAY).province_code == "95"


def test_separators_stripped() -> None:
    assert parse_nik(" 3201.0117-0190 0001 ", today=TODAY).nik == "3201011701900001"


@pytest.mark.parametrize(
    ("yymmdd_part", "expected"),
    [
        ("170105", date(2005, 1, 17)),  # 2005 is in the past -> 20YY
        ("170130", date(1930, 1, 17)),  # 2030 would be in the future -> 19YY
        ("210725", date(2025, 7, 21)),  # born today is still not in the future
        ("220725", date(1925, 7, 22)),  # tomorrow in 2025 -> 1925
        ("290200", date(2000, 2, 29)),  # exists only in 2000, not 1900
    ],
)
def test_century_choice(yymmdd_part: str, expected: date) -> None:
    assert parse_nik(f"320101{yymmdd_part}0001", today=TODAY).birth_date == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("320101170190000", "format"),  # 15 digits
        ("32010117019000011", "format"),  # 17 digits
        ("32010117O1900001", "format"),  # letter O
        ("", "format"),
        ("320101170190000\u0661", "format"),  # Arabic-Indic digit one
        ("2001011701900001", "province"),
        ("9701011701900001", "province"),
        ("3200011701900001", "region"),
        ("3201001701900001", "region"),
    ],
)
def test_error_codes(text: str, code: str) -> None:
    with pytest.raises(NikError) as info:
        parse_nik(text, today=TODAY)
    assert info.value.code == code
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "birth",
    [
        "310290",  # 31 February
        "300290",  # 30 February
        "290290",  # 29 February 1990 / 2090 - neither is a leap year
        "001190",  # day 00
        "351190",  # day 35: neither male (<=31) nor female (41-71)
        "721190",  # female day 72 -> 32
        "170090",  # month 00
        "171390",  # month 13
        "711190",  # female 31 November
    ],
)
def test_birth_date_errors(birth: str) -> None:
    with pytest.raises(NikError) as info:
        parse_nik(f"320101{birth}0001", today=TODAY)
    assert info.value.code == "birth_date"


def test_serial_error() -> None:
    with pytest.raises(NikError) as info:
        parse_nik("3201011701900000", today=TODAY)
    assert info.value.code == "serial"


def test_mask() -> None:
    assert mask_nik("3201011701900001") == "3201**********01"
    assert mask_nik("3201.0117.0190.0001") == "3201**********01"
    assert mask_nik("123") == "***"
