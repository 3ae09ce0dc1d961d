"""The IKM (PermenPANRB 14/2017): a worked example by hand, the grade boundaries, the
Krejcie-Morgan sample size, validation and the profile breakdown."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from licensing.ikm import (
    GRADES,
    WEIGHT,
    compute_ikm,
    grade_for,
    krejcie_morgan,
    profile_breakdown,
    round2,
    sample_check,
)
from licensing.skm import ELEMENT_KEYS

K = ELEMENT_KEYS  # persyaratan, prosedur, waktu, biaya, produk, kompetensi, perilaku,
#                   pengaduan, sarana


def row(*answers: int) -> dict[str, int]:
    assert len(answers) == 9
    return dict(zip(K, answers, strict=True))


def test_worked_example_four_respondents() -> None:
    #              pers pros wakt biay prod komp peri peng sara
    responses = [
        row(4, 3, 3, 4, 3, 3, 4, 3, 2),
        row(3, 3, 2, 4, 3, 4, 4, 3, 3),
        row(4, 4, 3, 4, 4, 3, 3, 2, 3),
        row(3, 2, 3, 4, 3, 3, 4, 3, 3),
    ]
    # Sums per element: 14, 12, 11, 16, 13, 13, 15, 11, 11 over 4 respondents, so
    # NRR = 3.50, 3.00, 2.75, 4.00, 3.25, 3.25, 3.75, 2.75, 2.75.
    # Sum of NRR = 29.00; weighted (x 1/9) total = 29/9 = 3.2222...
    # IKM = 29/9 x 25 = 725/9 = 80.5555... -> 80.56 -> B "Baik" (76.61 <= 80.56 < 88.31).
    # (With the regulation's rounded weight 0.11 one would get 29 x 0.11 x 25 = 79.75:
    # that is why the weight is kept as exactly one ninth.)
    r = compute_ikm(responses)
    assert r.respondents == 4
    assert r.nrr == {
        "persyaratan": Decimal("3.50"),
        "prosedur": Decimal("3.00"),
        "waktu": Decimal("2.75"),
        "biaya": Decimal("4.00"),
        "produk": Decimal("3.25"),
        "kompetensi": Decimal("3.25"),
        "perilaku": Decimal("3.75"),
        "pengaduan": Decimal("2.75"),
        "sarana": Decimal("2.75"),
    }
    assert list(r.nrr) == list(K)
    assert r.weighted_nrr["persyaratan"] == Fraction(350, 100) / 9
    assert r.weighted_total == Fraction(29, 9)
    assert r.weighted_total_rounded == Decimal("3.22")
    assert r.ikm == Decimal("80.56")
    assert (r.grade.letter, r.grade.label) == ("B", "Baik")


def test_worked_example_rounding_per_element() -> None:
    # Three respondents: means are thirds, so each NRR is rounded before weighting.
    responses = [
        row(4, 4, 4, 4, 4, 4, 4, 4, 4),
        row(4, 4, 4, 4, 4, 4, 4, 4, 3),
        row(3, 4, 4, 4, 4, 4, 4, 4, 3),
    ]
    # persyaratan: 11/3 = 3.666... -> 3.67; sarana: 10/3 = 3.333... -> 3.33; others 4.00.
    # Sum = 3.67 + 7 x 4.00 + 3.33 = 35.00; IKM = 35/9 x 25 = 97.2222... -> 97.22 -> A.
    # (Without rounding the NRRs first: (11/3 + 28 + 10/3)/9 x 25 = 97.2222... as well;
    # the rounding matters in the boundary tests below.)
    r = compute_ikm(responses)
    assert r.nrr["persyaratan"] == Decimal("3.67")
    assert r.nrr["sarana"] == Decimal("3.33")
    assert r.weighted_total == Fraction(35, 9)
    assert r.ikm == Decimal("97.22")
    assert r.grade.letter == "A"


def test_all_fours_and_all_ones() -> None:
    assert compute_ikm([row(*[4] * 9)]).ikm == Decimal("100.00")
    low = compute_ikm([row(*[1] * 9)])
    assert low.ikm == Decimal("25.00")
    assert (low.grade.letter, low.grade.label) == ("D", "Tidak Baik")


def test_weight_is_exactly_one_ninth() -> None:
    assert Fraction(1, 9) == WEIGHT
    assert sum([WEIGHT] * 9) == 1


@pytest.mark.parametrize(
    ("ikm", "letter", "label"),
    [
        ("100.00", "A", "Sangat Baik"),
        ("88.31", "A", "Sangat Baik"),
        ("88.30", "B", "Baik"),
        ("76.61", "B", "Baik"),
        ("76.60", "C", "Kurang Baik"),
        ("65.00", "C", "Kurang Baik"),
        ("64.99", "D", "Tidak Baik"),
        ("25.00", "D", "Tidak Baik"),
    ],
)
def test_grade_boundaries(ikm: str, letter: str, label: str) -> None:
    g = grade_for(Decimal(ikm))
    assert (g.letter, g.label) == (letter, label)


def test_grade_reads_the_value_rounded_to_two_decimals() -> None:
    assert grade_for(Decimal("88.305")).letter == "A"  # 88.31
    assert grade_for(Decimal("88.30499")).letter == "B"  # 88.30
    assert grade_for(Decimal("64.995")).letter == "C"  # 65.00
    with pytest.raises(ValueError):
        grade_for(Decimal("24.99"))
    with pytest.raises(ValueError):
        grade_for(Decimal("100.01"))


def test_grades_table() -> None:
    assert [(g.letter, str(g.minimum)) for g in GRADES] == [
        ("A", "88.31"), ("B", "76.61"), ("C", "65.00"), ("D", "25.00"),
    ]


def _responses_with_nrr_sum(total_hundredths: int, n: int = 100) -> list[dict[str, int]]:
    """n respondents whose nine element means (2 decimals each) sum to total/100.

    With 100 respondents an element's mean is its answer total / 100, so any mean
    with two decimals is reachable: t hundredths = t // 100 for everyone, plus one
    for t % 100 of them.
    """
    per = [total_hundredths // 9] * 9
    for i in range(total_hundredths % 9):
        per[i] += 1
    cols: list[list[int]] = []
    for t in per:
        base, extra = divmod(t, 100)
        assert 1 <= base <= 4 and (base < 4 or extra == 0)
        cols.append([base + 1] * extra + [base] * (n - extra))
    return [dict(zip(K, answers, strict=True)) for answers in zip(*cols, strict=True)]


@pytest.mark.parametrize(
    ("nrr_sum", "ikm", "letter"),
    [
        # IKM = sum/9 x 25. The smallest sum of nine 2-decimal NRRs reaching each grade,
        # and the one just below it:
        (3179, "88.31", "A"),  # 31.79 / 9 x 25 = 88.3055... -> 88.31
        (3178, "88.28", "B"),  # 31.78 / 9 x 25 = 88.2777... -> 88.28
        (2758, "76.61", "B"),  # 27.58 / 9 x 25 = 76.6111... -> 76.61
        (2757, "76.58", "C"),  # 27.57 / 9 x 25 = 76.5833... -> 76.58
        (2340, "65.00", "C"),  # 23.40 / 9 x 25 = 65.0000    -> 65.00
        (2339, "64.97", "D"),  # 23.39 / 9 x 25 = 64.9722... -> 64.97
    ],
)
def test_grade_boundaries_from_answers(nrr_sum: int, ikm: str, letter: str) -> None:
    r = compute_ikm(_responses_with_nrr_sum(nrr_sum))
    assert sum(r.nrr.values()) == Decimal(nrr_sum).scaleb(-2)
    assert r.ikm == Decimal(ikm)
    assert r.grade.letter == letter


def test_round_half_up() -> None:
    assert round2(Fraction(725, 9)) == Decimal("80.56")
    assert round2(Fraction(2745, 1000)) == Decimal("2.75")  # float round() would give 2.74
    assert round2(Fraction(2744, 1000)) == Decimal("2.74")
    assert round2(7) == Decimal("7.00")


# Krejcie & Morgan (1970), Table 1: population N -> sample S, every row.
KM_TABLE = """
10 10, 15 14, 20 19, 25 24, 30 28, 35 32, 40 36, 45 40, 50 44, 55 48, 60 52, 65 56,
70 59, 75 63, 80 66, 85 70, 90 73, 95 76, 100 80, 110 86, 120 92, 130 97, 140 103,
150 108, 160 113, 170 118, 180 123, 190 127, 200 132, 210 136, 220 140, 230 144,
240 148, 250 152, 260 155, 270 159, 280 162, 290 165, 300 169, 320 175, 340 181,
360 186, 380 191, 400 196, 420 201, 440 205, 460 210, 480 214, 500 217, 550 226,
600 234, 650 242, 700 248, 750 254, 800 260, 850 265, 900 269, 950 274, 1000 278,
1100 285, 1200 291, 1300 297, 1400 302, 1500 306, 1600 310, 1700 313, 1800 317,
1900 320, 2000 322, 2200 327, 2400 331, 2600 335, 2800 338, 3000 341, 3500 346,
4000 351, 4500 354, 5000 357, 6000 361, 7000 364, 8000 367, 9000 368, 10000 370,
15000 375, 20000 377, 30000 379, 40000 380, 50000 381, 75000 382, 1000000 384
"""
KM_ROWS = [tuple(int(x) for x in cell.split()) for cell in KM_TABLE.split(",")]


def test_krejcie_morgan_brief_values() -> None:
    assert [krejcie_morgan(n) for n in (10, 100, 1000, 10000)] == [10, 80, 278, 370]


@pytest.mark.parametrize(("population", "sample"), KM_ROWS)
def test_krejcie_morgan_table(population: int, sample: int) -> None:
    # Rounded to the nearest whole number, as the table is: 15 -> 14.47 -> 14 and
    # 500 -> 217.47 -> 217 (rounding up would give 15 and 218).
    assert krejcie_morgan(population) == sample


def test_krejcie_morgan_small_populations() -> None:
    assert krejcie_morgan(0) == 0
    assert krejcie_morgan(1) == 1
    assert all(krejcie_morgan(n) <= n for n in range(0, 60))


def test_krejcie_morgan_rejects_bad_population() -> None:
    for bad in (-1, True):
        with pytest.raises(ValueError):
            krejcie_morgan(bad)


def test_sample_check() -> None:
    c = sample_check(respondents=75, population=100)
    assert (c.required, c.sufficient) == (80, False)
    assert sample_check(respondents=80, population=100).sufficient


@pytest.mark.parametrize(
    "bad",
    [
        {**row(*[3] * 9), "sarana": 5},
        {**row(*[3] * 9), "sarana": 0},
        {**row(*[3] * 9), "sarana": True},
        {**row(*[3] * 9), "sarana": "3"},
        {k: 3 for k in K if k != "biaya"},
        {**row(*[3] * 9), "kebersihan": 3},
    ],
)
def test_invalid_answers_raise(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        compute_ikm([row(*[4] * 9), bad])


def test_no_responses_raise() -> None:
    with pytest.raises(ValueError):
        compute_ikm([])


def test_profile_breakdown() -> None:
    profiles = [
        {"age": "25_34", "sex": "p", "education": "d1_d3", "occupation": "swasta"},
        {"age": "25_34", "sex": "l", "education": "d4_s1", "occupation": "pns"},
        {"age": "35_44", "sex": "p", "education": "d4_s1", "occupation": "swasta"},
    ]
    b = profile_breakdown(profiles)
    assert list(b) == ["age", "sex", "education", "occupation"]
    assert b["sex"] == {"l": 1, "p": 2}
    assert b["age"] == {"u25": 0, "25_34": 2, "35_44": 1, "45_54": 0, "55_up": 0}
    assert b["education"]["d4_s1"] == 2 and b["education"]["s3"] == 0
    assert b["occupation"] == {
        "pns": 1, "tni": 0, "polri": 0, "swasta": 2, "wirausaha": 0, "lainnya": 0,
    }
    with pytest.raises(ValueError):
        profile_breakdown([{**profiles[0], "sex": "x"}])
    with pytest.raises(ValueError):
        profile_breakdown([{"age": "25_34", "sex": "p", "education": "sma"}])
