"""The satisfaction index (IKM) of a period, region and service, from stored surveys."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from licensing.catalog import Catalog
from licensing.ikm import IkmResult, SampleCheck, ikm_from_totals, profile_counts, sample_check
from licensing.skm import ELEMENT_KEYS, SCALE, load_skm
from storage.models import Application, SurveyResponse


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


async def report(sessions: async_sessionmaker[AsyncSession], catalog: Catalog, *,
                 region: str, start: date, end: date,
                 profession: str | None = None) -> IkmReport:
    """Summed and grouped by the database (index on region, submitted_at): one row of
    sums and one row per distinct profile come back, however many people answered."""
    if end < start:
        raise ValueError("the period ends before it starts")
    lo, hi = _bounds(catalog, region, start, end)
    skm = load_skm()
    period = [SurveyResponse.region == region, SurveyResponse.submitted_at >= lo,
              SurveyResponse.submitted_at < hi]
    served = select(func.count()).select_from(Application).where(
        Application.region == region, Application.submitted_at >= lo,
        Application.submitted_at < hi)
    if profession:
        period.append(SurveyResponse.profession == profession)
        served = served.where(Application.profession == profession)
    # Each answer is read out of the JSON once per row (the subquery; OFFSET 0 keeps
    # PostgreSQL from folding it into the sums and reading every key twice).
    per_row = (select(*[_answer(k).label(k) for k in ELEMENT_KEYS]).where(*period)
               .offset(0).subquery())
    answers = [per_row.c[k] for k in ELEMENT_KEYS]
    # An answer missing or outside 1-4 is counted, and refused as compute_ikm does.
    invalid = func.sum(case((and_(*[a.between(SCALE[0], SCALE[-1]) for a in answers]), 0),
                            else_=1))
    sums = select(func.count(), invalid, *[func.sum(a) for a in answers])
    keys = [p.key for p in skm.profile]
    per_profile = (select(*[_profile(k).label(k) for k in keys]).where(*period)
                   .offset(0).subquery())
    profile = [per_profile.c[k] for k in keys]
    # Only complete profiles are counted (a respondent may have skipped a question).
    groups = (select(*profile, func.count()).where(*[p.is_not(None) for p in profile])
              .group_by(*profile))
    async with sessions() as session:
        n, bad, *totals = (await session.execute(sums)).one()
        grouped = (await session.execute(groups)).all()
        population = int(await session.scalar(served) or 0)
    respondents = int(n or 0)
    if bad:
        raise ValueError(f"{bad} stored survey response(s) lack an answer 1-4 per element")
    return IkmReport(
        region=region, profession=profession, start=start, end=end,
        result=ikm_from_totals(respondents, {k: int(t) for k, t in zip(ELEMENT_KEYS, totals,
                                                                        strict=True)})
        if respondents else None,
        sample=sample_check(respondents, population),
        profiles=profile_counts([(dict(zip(keys, row[:-1], strict=True)), int(row[-1]))
                                 for row in grouped]),
    )


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
