"""The IKM summed by the database equals the IKM computed in Python from every stored
answer (the way service.ikm did it before issue 15), on a generated set of surveys:
several regions, services and months, incomplete profiles, both time-zone edges.

The report adds per-day totals (kept with each response, or rebuilt by migration 0017)
and the raw responses of the hours its local period cuts off the first and last UTC
days: both paths are compared with the Python computation."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select, update

from bot.composition import App
from bot.settings import Settings
from licensing.ikm import compute_ikm, profile_breakdown, sample_check
from licensing.skm import ELEMENT_KEYS, load_skm
from service import ikm
from storage.migrate import downgrade, upgrade_async
from storage.models import (
    Applicant,
    Application,
    SurveyDayProfile,
    SurveyDayTotal,
    SurveyResponse,
)


async def python_report(app: App, region: str, start: date, end: date,
                        profession: str | None) -> ikm.IkmReport:
    """The former implementation: every response as an ORM object, parsed in Python."""
    tz = ZoneInfo(app.catalog.region(region).timezone)
    lo = datetime.combine(start, time.min, tz).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time.min, tz).astimezone(UTC)
    async with app.sessions() as s:
        q = select(SurveyResponse).where(SurveyResponse.region == region,
                                         SurveyResponse.submitted_at >= lo,
                                         SurveyResponse.submitted_at < hi)
        apps = select(Application).where(Application.region == region,
                                         Application.submitted_at >= lo,
                                         Application.submitted_at < hi)
        if profession:
            q = q.where(SurveyResponse.profession == profession)
            apps = apps.where(Application.profession == profession)
        rows = (await s.scalars(q)).all()
        population = len((await s.scalars(apps)).all())
    answers = [{k: int(v) for k, v in r.answers.items()} for r in rows]
    return ikm.IkmReport(
        region=region, profession=profession, start=start, end=end,
        result=compute_ikm(answers) if answers else None,
        sample=sample_check(len(rows), population),
        profiles=profile_breakdown([r.profile for r in rows if len(r.profile) == 4]))


ENTRIES = [("purwakarta", "okupasi-terapis"), ("purwakarta", "perekam-medis"),
           ("metro", "okupasi-terapis"), ("pekanbaru", "okupasi-terapis")]
CASES = [("purwakarta", date(2026, 3, 1), date(2026, 3, 31), None),
         ("purwakarta", date(2026, 3, 1), date(2026, 5, 15), "perekam-medis"),
         ("purwakarta", date(2026, 3, 17), date(2026, 4, 2), None),
         ("metro", date(2026, 2, 1), date(2026, 4, 30), None),
         ("pekanbaru", date(2026, 3, 10), date(2026, 3, 10), "okupasi-terapis"),
         ("purwakarta", date(2026, 4, 1), date(2026, 4, 2), "okupasi-terapis"),
         ("metro", date(2025, 1, 1), date(2025, 12, 31), None)]


async def seed(app: App, count: int = 400) -> None:
    """Responses every hour of the clock around both midnights (UTC and WIB), most added
    as ORM objects (the flush keeps the totals), one in four as a bulk INSERT."""
    rnd = random.Random(2026)
    skm = load_skm()
    start = datetime(2026, 2, 28, 16, 0, tzinfo=UTC)  # near midnight in WIB/WITA
    bulk = []
    async with app.sessions() as s, s.begin():
        for i in range(count):
            region, profession = rnd.choice(ENTRIES)
            at = start + timedelta(hours=rnd.randint(0, 24 * 75))
            person = Applicant(channel="console", external_id=f"g{i}", lang="id",
                               created_at=at)
            s.add(person)
            await s.flush()
            a = Application(reg_no=f"G-{i:05d}", applicant_id=person.id, region=region,
                            profession=profession, full_name=f"P {i}", nik="3201",
                            phone="62", practice_place="RS", step_code="survei",
                            step_since=at, status="issued", submitted_at=at)
            s.add(a)
            await s.flush()
            if rnd.random() < 0.7:
                profile = {p.key: rnd.choice(p.option_keys) for p in skm.profile}
                if rnd.random() < 0.1:
                    profile.pop(rnd.choice(list(profile)))  # incomplete: not in the profile
                row = dict(application_id=a.id, region=region, profession=profession,
                           submitted_at=at, profile=profile,
                           answers={k: rnd.randint(1, 4) for k in ELEMENT_KEYS})
                if i % 4:
                    s.add(SurveyResponse(**row))
                else:
                    bulk.append(row)
        await s.execute(insert(SurveyResponse), bulk)


async def assert_sql_equals_python(app: App) -> int:
    respondents = 0
    for region, lo, hi, profession in CASES:
        expected = await python_report(app, region, lo, hi, profession)
        got = await ikm.report(app.sessions, app.catalog, region=region, start=lo, end=hi,
                               profession=profession)
        assert got == expected, (region, lo, hi, profession)
        assert ikm.report_csv(got) == ikm.report_csv(expected)
        respondents += got.result.respondents if got.result else 0
    return respondents


async def day_totals(app: App) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    async with app.sessions() as s:
        return ({tuple(r) for r in await s.execute(select(SurveyDayTotal.__table__))},
                {tuple(r) for r in await s.execute(select(SurveyDayProfile.__table__))})


async def test_sql_ikm_equals_the_python_ikm(app: App) -> None:
    await seed(app)
    assert await assert_sql_equals_python(app) > 100  # the cases are not all empty


async def test_totals_follow_deletes_and_equal_the_migrations_backfill(
        app: App, settings: Settings) -> None:
    await seed(app, 200)
    async with app.sessions() as s, s.begin():
        gone = (await s.scalars(select(SurveyResponse).order_by(SurveyResponse.id)
                                .limit(30))).all()
        for r in gone:
            await s.delete(r)
    async with app.sessions() as s:
        left = await s.scalar(select(func.count()).select_from(SurveyResponse))
        counted = await s.scalar(select(func.sum(SurveyDayTotal.respondents)))
    assert left == counted
    assert await assert_sql_equals_python(app) > 50
    kept = await day_totals(app)
    # Migration 0017 drops nothing it did not create and sums every stored response:
    # the same rows as the ones kept response by response (a deleted one leaves zeros).
    await app.engine.dispose()
    assert settings.database_url
    await asyncio.to_thread(downgrade, settings.database_url, "0016_indexes",
                            production=False)
    await upgrade_async(settings.database_url)
    rebuilt = await day_totals(app)
    assert rebuilt[0] == {t for t in kept[0] if t[3]}
    assert rebuilt[1] == {t for t in kept[1] if t[-1]}
    assert await assert_sql_equals_python(app) > 50


async def test_a_response_without_every_answer_is_refused_both_ways(app: App) -> None:
    await seed(app, 40)
    inside = datetime(2026, 3, 20, 5, 0, tzinfo=UTC)  # a whole UTC day of the period
    edge = datetime(2026, 3, 31, 20, 0, tzinfo=UTC)  # 1 April WIB: the period's last hours
    async with app.sessions() as s, s.begin():
        for n, at in enumerate((inside, edge)):
            person = Applicant(channel="console", external_id=f"m{n}", lang="id",
                               created_at=at)
            s.add(person)
            await s.flush()
            a = Application(reg_no=f"M-{n}", applicant_id=person.id, region="metro",
                            profession="okupasi-terapis", full_name="M", nik="3201",
                            phone="62", practice_place="RS", step_code="survei",
                            step_since=at, status="issued", submitted_at=at)
            s.add(a)
            await s.flush()
            answers = dict.fromkeys(ELEMENT_KEYS, 3)
            answers.pop("waktu")
            s.add(SurveyResponse(application_id=a.id, region="metro",
                                 profession="okupasi-terapis", submitted_at=at,
                                 profile={}, answers=answers))
    for lo, hi in ((date(2026, 3, 1), date(2026, 3, 25)), (date(2026, 4, 1), date(2026, 4, 1))):
        with pytest.raises(ValueError, match="missing answers"):
            await python_report(app, "metro", lo, hi, None)
        with pytest.raises(ValueError, match="1 stored survey response"):
            await ikm.report(app.sessions, app.catalog, region="metro", start=lo, end=hi)


async def test_a_stored_response_is_not_edited(app: App) -> None:
    await seed(app, 20)
    async with app.sessions() as s:
        r = (await s.scalars(select(SurveyResponse).limit(1))).one()
        r.answers = dict.fromkeys(ELEMENT_KEYS, 4)
        with pytest.raises(ValueError, match="not edited"):
            await s.commit()
    async with app.sessions() as s:
        with pytest.raises(ValueError, match="not edited"):
            await s.execute(update(SurveyResponse).values(profession="perekam-medis"))


@pytest.mark.parametrize("zone", ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", "UTC"])
def test_the_period_splits_into_whole_utc_days_and_edges(zone: str) -> None:
    tz = ZoneInfo(zone)
    for start, end in ((date(2026, 3, 1), date(2026, 3, 31)), (date(2026, 3, 5),
                                                                 date(2026, 3, 5))):
        lo = datetime.combine(start, time.min, tz).astimezone(UTC)
        hi = datetime.combine(end + timedelta(days=1), time.min, tz).astimezone(UTC)
        first, last, edges = ikm._split(lo, hi)
        whole = (datetime.combine(first, time.min, UTC), datetime.combine(last, time.min, UTC))
        # The pieces tile [lo, hi) exactly: no instant counted twice or left out.
        pieces = sorted([*edges, whole] if whole[0] < whole[1] else edges)
        assert pieces[0][0] == lo and pieces[-1][1] == hi
        assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
        assert all(a < b for a, b in pieces)
