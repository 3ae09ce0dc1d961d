"""The satisfaction index (IKM) of PermenPANRB 14/2017, and the survey's sample size.

For one period, region and service:

- NRR per element: the mean of that element's answers (1-4), rounded to 2 decimals;
- weighted NRR: each element's NRR times the weight 1/9 (exactly: one ninth, kept as a
  `Fraction`; the regulation's "0,11" is that ninth written to two places), summed;
- IKM: the weighted sum times 25 (the 1-4 scale converted to 25-100), rounded to 2
  decimals;
- grade from the IKM: A "Sangat Baik" from 88.31, B "Baik" from 76.61, C "Kurang Baik"
  from 65.00, D "Tidak Baik" below.

Rounding is half up (as one rounds by hand), done exactly on fractions: no float ever
touches a score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from licensing.skm import ELEMENT_KEYS, SCALE, Questionnaire, load_skm

WEIGHT = Fraction(1, 9)  # each of the nine elements weighs the same
SCALE_FACTOR = 25  # NRR 1-4 -> IKM 25-100


@dataclass(frozen=True)
class Grade:
    letter: str  # "A" .. "D"
    label: str  # "Sangat Baik" .. "Tidak Baik" (the regulation's words)
    label_en: str
    minimum: Decimal  # the lowest IKM with this grade


GRADES: tuple[Grade, ...] = (
    Grade("A", "Sangat Baik", "Very good", Decimal("88.31")),
    Grade("B", "Baik", "Good", Decimal("76.61")),
    Grade("C", "Kurang Baik", "Poor", Decimal("65.00")),
    Grade("D", "Tidak Baik", "Very poor", Decimal("25.00")),
)


def round2(value: Fraction | Decimal | int) -> Decimal:
    """Round half up to 2 decimals, exactly: 80.555... -> 80.56, 2.745 -> 2.75."""
    q = Fraction(value) * 100
    n = math.floor(q + Fraction(1, 2)) if q >= 0 else -math.floor(-q + Fraction(1, 2))
    return Decimal(n).scaleb(-2)


def grade_for(ikm: Decimal | Fraction | int) -> Grade:
    """The grade of an IKM value (rounded to 2 decimals first, as the grade is read)."""
    value = round2(ikm)
    if not Decimal(25) <= value <= Decimal(100):
        raise ValueError(f"an IKM lies between 25 and 100, got {value}")
    for g in GRADES:
        if value >= g.minimum:
            return g
    raise AssertionError("unreachable: the lowest grade starts at 25")


@dataclass(frozen=True)
class IkmResult:
    respondents: int
    nrr: dict[str, Decimal]  # per element key, 2 decimals, in ELEMENT_KEYS order
    weighted_nrr: dict[str, Fraction]  # nrr x 1/9, exact
    weighted_total: Fraction  # the sum of weighted_nrr, exact (1-4)
    ikm: Decimal  # weighted_total x 25, 2 decimals (25-100)
    grade: Grade

    @property
    def weighted_total_rounded(self) -> Decimal:
        """For display (the regulation's tables print it to 2 places)."""
        return round2(self.weighted_total)


def validate_response(response: Mapping[str, int]) -> dict[str, int]:
    """One respondent's answers: exactly the nine element keys, each 1-4."""
    missing = [k for k in ELEMENT_KEYS if k not in response]
    if missing:
        raise ValueError(f"missing answers for element(s): {', '.join(missing)}")
    extra = sorted(set(response) - set(ELEMENT_KEYS))
    if extra:
        raise ValueError(f"unknown element(s): {', '.join(extra)}")
    out: dict[str, int] = {}
    for key in ELEMENT_KEYS:
        v = response[key]
        if isinstance(v, bool) or not isinstance(v, int) or v not in SCALE:
            raise ValueError(f"{key}: answer must be an integer 1-4, got {v!r}")
        out[key] = v
    return out


def compute_ikm(responses: Sequence[Mapping[str, int]]) -> IkmResult:
    """The IKM of a set of completed questionnaires (answers keyed by element)."""
    if not responses:
        raise ValueError("no responses: the IKM needs at least one respondent")
    checked = [validate_response(r) for r in responses]
    return ikm_from_totals(len(checked), {k: sum(r[k] for r in checked) for k in ELEMENT_KEYS})


def ikm_from_totals(respondents: int, totals: Mapping[str, int]) -> IkmResult:
    """The IKM from each element's sum of answers over `respondents` valid answer sets
    (what a database sums up for a whole period: the same result as `compute_ikm`)."""
    if respondents <= 0:
        raise ValueError("no responses: the IKM needs at least one respondent")
    n = respondents
    nrr = {k: round2(Fraction(totals[k], n)) for k in ELEMENT_KEYS}
    weighted = {k: Fraction(v) * WEIGHT for k, v in nrr.items()}
    total = sum(weighted.values(), Fraction(0))
    ikm = round2(total * SCALE_FACTOR)
    return IkmResult(
        respondents=n,
        nrr=nrr,
        weighted_nrr=weighted,
        weighted_total=total,
        ikm=ikm,
        grade=grade_for(ikm),
    )


# Krejcie & Morgan (1970): chi-square for 1 degree of freedom at 95%, P = 0.5, d = 0.05.
_CHI2 = Fraction("3.841")
_P = Fraction(1, 2)
_D = Fraction("0.05")


def krejcie_morgan(population: int) -> int:
    """Required sample size s = X²NP(1-P) / (d²(N-1) + X²P(1-P)), rounded to nearest.

    Rounded half up to the nearest whole respondent, not up: that is how the published
    table (Krejcie & Morgan 1970, reprinted in PermenPANRB 14/2017) was made. Rounding
    up agrees at 10 -> 10, 100 -> 80, 1000 -> 278, 10000 -> 370 but not at 15 -> 14,
    150 -> 108 or 500 -> 217; nearest agrees with all 82 rows (tested).
    """
    if isinstance(population, bool) or not isinstance(population, int) or population < 0:
        raise ValueError(f"population must be a non-negative integer, got {population!r}")
    if population == 0:
        return 0
    pq = _P * (1 - _P)
    s = (_CHI2 * population * pq) / (_D**2 * (population - 1) + _CHI2 * pq)
    return min(population, math.floor(s + Fraction(1, 2)))


@dataclass(frozen=True)
class SampleCheck:
    respondents: int
    population: int  # applicants served in the period
    required: int  # Krejcie-Morgan sample size for that population

    @property
    def sufficient(self) -> bool:
        return self.respondents >= self.required


def sample_check(respondents: int, population: int) -> SampleCheck:
    """Respondents against the sample size the period's applicant count calls for."""
    if respondents < 0:
        raise ValueError("respondents must not be negative")
    return SampleCheck(respondents, population, krejcie_morgan(population))


def profile_breakdown(
    profiles: Sequence[Mapping[str, str]], questionnaire: Questionnaire | None = None
) -> dict[str, dict[str, int]]:
    """Count respondents per profile option: {"sex": {"l": 3, "p": 5}, ...}.

    Every question and option appears (zeros included) in the questionnaire's order.
    An unknown question or option, or a missing answer, raises ValueError.
    """
    return profile_counts([(p, 1) for p in profiles], questionnaire)


def profile_counts(
    groups: Sequence[tuple[Mapping[str, str], int]], questionnaire: Questionnaire | None = None
) -> dict[str, dict[str, int]]:
    """`profile_breakdown` of profiles given with how many respondents share each (what
    a GROUP BY returns); errors name the group's position."""
    q = questionnaire or load_skm()
    counts = {p.key: dict.fromkeys(p.option_keys, 0) for p in q.profile}
    for i, (profile, weight) in enumerate(groups):
        extra = sorted(set(profile) - set(counts))
        if extra:
            raise ValueError(f"respondent {i + 1}: unknown profile question(s) {', '.join(extra)}")
        for key, options in counts.items():
            if key not in profile:
                raise ValueError(f"respondent {i + 1}: missing profile answer {key!r}")
            value = profile[key]
            if value not in options:
                raise ValueError(f"respondent {i + 1}: {key}: unknown option {value!r}")
            options[value] += weight
    return counts
