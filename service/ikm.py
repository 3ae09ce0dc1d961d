"""The satisfaction index (IKM) of a period, region and service, from stored surveys."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from licensing.catalog import Catalog
from licensing.ikm import IkmResult, SampleCheck, compute_ikm, profile_breakdown, sample_check
from licensing.skm import load_skm
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


async def report(sessions: async_sessionmaker[AsyncSession], catalog: Catalog, *,
                 region: str, start: date, end: date,
                 profession: str | None = None) -> IkmReport:
    if end < start:
        raise ValueError("the period ends before it starts")
    lo, hi = _bounds(catalog, region, start, end)
    async with sessions() as session:
        q = select(SurveyResponse).where(SurveyResponse.region == region,
                                         SurveyResponse.submitted_at >= lo,
                                         SurveyResponse.submitted_at < hi)
        served = select(func.count()).select_from(Application).where(
            Application.region == region, Application.submitted_at >= lo,
            Application.submitted_at < hi)
        if profession:
            q = q.where(SurveyResponse.profession == profession)
            served = served.where(Application.profession == profession)
        rows = (await session.scalars(q.order_by(SurveyResponse.id))).all()
        population = int(await session.scalar(served) or 0)
    answers = [{k: int(v) for k, v in r.answers.items()} for r in rows]
    complete_profiles = [r.profile for r in rows if len(r.profile) == 4]
    return IkmReport(
        region=region, profession=profession, start=start, end=end,
        result=compute_ikm(answers) if answers else None,
        sample=sample_check(len(rows), population),
        profiles=profile_breakdown(complete_profiles),
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
