"""The satisfaction index (IKM) of a period, region and service, from stored surveys."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Executable, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from licensing.catalog import Catalog
from licensing.ikm import IkmResult, SampleCheck, ikm_from_totals, sample_check
from licensing.skm import ELEMENT_KEYS, SCALE, load_skm
from storage.models import Application, SurveyDayProfile, SurveyDayTotal, SurveyResponse


@dataclass(frozen=True)
class IkmReport:
    region: str
    profession: str | None  # None: every service of the region
    start: date
    end: date  # inclusive
    result: IkmResult | None  # None when nobody answered in the period
    sample: SampleCheck
    profiles: dict[str, dict[str, int]]


def _bounds(catalog: Catalog, region: str, start: date, end: date) -> tuple[datetime, datetime]:
    """The period's first and last instant in the region's own time zone, as UTC."""
    tz = ZoneInfo(catalog.region(region).timezone)
    lo = datetime.combine(start, time.min, tz).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time.min, tz).astimezone(UTC)
    return lo, hi


def _answer(key: str) -> ColumnElement[int]:
    column: ColumnElement[int] = SurveyResponse.answers[key].as_integer()
    return column


def _profile(key: str) -> ColumnElement[str]:
    column: ColumnElement[str] = SurveyResponse.profile[key].as_string()
    return column


def _split(lo: datetime, hi: datetime) -> tuple[date, date, list[tuple[datetime, datetime]]]:
    """Split [lo, hi) into whole UTC days, from the first returned date up to (not
    including) the second, read from the per-day totals, and the hours left at either
    end, read from the responses themselves: a local period starts and ends mid-UTC-day
    (WIB: 17:00 UTC), and any zone's day boundaries are kept exactly."""
    first = datetime.combine(lo.date(), time.min, UTC)
    if first < lo:
        first += timedelta(days=1)
    last = datetime.combine(hi.date(), time.min, UTC)
    if last <= first:
        return first.date(), first.date(), [(lo, hi)]
    edges = [(a, b) for a, b in ((lo, first), (last, hi)) if a < b]
    return first.date(), last.date(), edges


async def report(sessions: async_sessionmaker[AsyncSession], catalog: Catalog, *,
                 region: str, start: date, end: date,
                 profession: str | None = None) -> IkmReport:
    """Summed from the per-day totals (one row per UTC day and service, kept with each
    response) plus the responses of the cut-off hours at both ends: the work grows with
    the days in the period, not with the people who answered."""
    if end < start:
        raise ValueError("the period ends before it starts")
    lo, hi = _bounds(catalog, region, start, end)
    skm = load_skm()
    keys = [p.key for p in skm.profile]
    first, last, edges = _split(lo, hi)
    served = select(func.count()).select_from(Application).where(
        Application.region == region, Application.submitted_at >= lo,
        Application.submitted_at < hi)
    days = [SurveyDayTotal.region == region, SurveyDayTotal.day >= first,
            SurveyDayTotal.day < last]
    profile_days = [SurveyDayProfile.region == region, SurveyDayProfile.day >= first,
                    SurveyDayProfile.day < last]
    if profession:
        served = served.where(Application.profession == profession)
        days.append(SurveyDayTotal.profession == profession)
        profile_days.append(SurveyDayProfile.profession == profession)
    day_sums = select(func.sum(SurveyDayTotal.respondents), func.sum(SurveyDayTotal.invalid),
                      *[func.sum(SurveyDayTotal.__table__.c[k]) for k in ELEMENT_KEYS]
                      ).where(*days)
    day_profiles = (select(SurveyDayProfile.question, SurveyDayProfile.option,
                           func.sum(SurveyDayProfile.respondents)).where(*profile_days)
                    .group_by(SurveyDayProfile.question, SurveyDayProfile.option))
    counts = {p.key: dict.fromkeys(p.option_keys, 0) for p in skm.profile}
    async with sessions() as session:
        n, bad, *totals = (await session.execute(day_sums)).one()
        respondents, invalid = int(n or 0), int(bad or 0)
        sums = [int(t or 0) for t in totals]
        for question, option, count in (await session.execute(day_profiles)).all():
            _count(counts, question, option, int(count))
        if edges:
            n, bad, *totals = (await session.execute(
                _edge_sums(region, profession, edges))).one()
            respondents, invalid = respondents + int(n or 0), invalid + int(bad or 0)
            sums = [a + int(b or 0) for a, b in zip(sums, totals, strict=True)]
            for *profile, count in (await session.execute(
                    _edge_profiles(region, profession, edges, keys))).all():
                for question, option in zip(keys, profile, strict=True):
                    _count(counts, question, option, int(count))
        population = int(await session.scalar(served) or 0)
    if invalid:
        raise ValueError(f"{invalid} stored survey response(s) lack an answer 1-4 per element")
    return IkmReport(
        region=region, profession=profession, start=start, end=end,
        result=ikm_from_totals(respondents, dict(zip(ELEMENT_KEYS, sums, strict=True)))
        if respondents else None,
        sample=sample_check(respondents, population),
        profiles=counts,
    )


def _count(counts: dict[str, dict[str, int]], question: str, option: str, n: int) -> None:
    """Add n respondents to a profile answer; one the questionnaire lacks is refused, as
    licensing.ikm.profile_counts refuses it (a counter of zero is no respondent)."""
    if n == 0:
        return
    if question not in counts:
        raise ValueError(f"unknown profile question {question!r}")
    if option not in counts[question]:
        raise ValueError(f"{question}: unknown option {option!r}")
    counts[question][option] += n


def _edge_where(region: str, profession: str | None,
                edges: list[tuple[datetime, datetime]]) -> list[ColumnElement[bool]]:
    at = SurveyResponse.submitted_at
    where = [SurveyResponse.region == region,
             or_(*[and_(at >= a, at < b) for a, b in edges])]
    if profession:
        where.append(SurveyResponse.profession == profession)
    return where


def _edge_sums(region: str, profession: str | None,
               edges: list[tuple[datetime, datetime]]) -> Executable:
    """Count, invalid answers and per-element sums of the responses in `edges`: the
    rules of service.survey_totals.survey_totals_rows (and of compute_ikm) in SQL."""
    # Each answer is read out of the JSON once per row (the subquery; OFFSET 0 keeps
    # PostgreSQL from folding it into the sums and reading every key twice).
    per_row = (select(*[_answer(k).label(k) for k in ELEMENT_KEYS])
               .where(*_edge_where(region, profession, edges)).offset(0).subquery())
    answers = [per_row.c[k] for k in ELEMENT_KEYS]
    valid = and_(*[a.between(SCALE[0], SCALE[-1]) for a in answers])
    return select(func.count(), func.sum(case((valid, 0), else_=1)),
                  *[func.sum(case((valid, a), else_=0)) for a in answers])


def _edge_profiles(region: str, profession: str | None,
                   edges: list[tuple[datetime, datetime]], keys: list[str]) -> Executable:
    """Respondents per complete profile in `edges` (a skipped question: not counted)."""
    per_row = (select(*[_profile(k).label(k) for k in keys])
               .where(*_edge_where(region, profession, edges)).offset(0).subquery())
    profile = [per_row.c[k] for k in keys]
    return (select(*profile, func.count()).where(*[p.is_not(None) for p in profile])
            .group_by(*profile))


# --- the table, shared by `izin ikm report` and the back office's IKM page ----------


@dataclass(frozen=True)
class ElementRow:
    key: str
    number: int  # U1..U9, the questionnaire's order
    name: str
    nrr: Decimal | None  # None when nobody answered
    weighted: Fraction | None  # nrr x 1/9, exact


def table(rep: IkmReport) -> list[ElementRow]:
    """One row per SKM element, in the regulation's order."""
    skm = load_skm()
    r = rep.result
    return [ElementRow(key=e.key, number=e.number, name=e.name("id"),
                       nrr=r.nrr[e.key] if r else None,
                       weighted=r.weighted_nrr[e.key] if r else None) for e in skm.elements]


def report_csv(rep: IkmReport) -> str:
    """The CSV of `izin ikm report --csv` and of the back office's export (the same bytes)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["element", "name", "nrr"])
    for row in table(rep):
        w.writerow([row.key, row.name, "" if row.nrr is None else row.nrr])
    w.writerow(["ikm", "", rep.result.ikm if rep.result else ""])
    return out.getvalue()
