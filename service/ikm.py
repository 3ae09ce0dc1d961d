"""The satisfaction index (IKM) of a period, region and service, from stored surveys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from licensing.catalog import Catalog
from licensing.ikm import IkmResult, SampleCheck, compute_ikm, profile_breakdown, sample_check
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
