"""The IKM summed by the database equals the IKM computed in Python from every stored
answer (the way service.ikm did it before issue 15), on a generated set of surveys:
several regions, services and months, incomplete profiles, both time-zone edges."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.composition import App
from licensing.ikm import compute_ikm, profile_breakdown, sample_check
from licensing.skm import ELEMENT_KEYS, load_skm
from service import ikm
from storage.models import Applicant, Application, SurveyResponse


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


async def test_sql_ikm_equals_the_python_ikm(app: App) -> None:
    rnd = random.Random(2026)
    skm = load_skm()
    entries = [("purwakarta", "okupasi-terapis"), ("purwakarta", "perekam-medis"),
               ("metro", "okupasi-terapis"), ("pekanbaru", "okupasi-terapis")]
    start = datetime(2026, 2, 28, 16, 0, tzinfo=UTC)  # near midnight in WIB/WITA
    async with app.sessions() as s, s.begin():
        for i in range(400):
            region, profession = rnd.choice(entries)
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
                s.add(SurveyResponse(application_id=a.id, region=region,
                                     profession=profession, submitted_at=at,
                                     profile=profile,
                                     answers={k: rnd.randint(1, 4) for k in ELEMENT_KEYS}))
    cases = [("purwakarta", date(2026, 3, 1), date(2026, 3, 31), None),
             ("purwakarta", date(2026, 3, 1), date(2026, 5, 15), "perekam-medis"),
             ("metro", date(2026, 2, 1), date(2026, 4, 30), None),
             ("pekanbaru", date(2026, 3, 10), date(2026, 3, 10), "okupasi-terapis"),
             ("metro", date(2025, 1, 1), date(2025, 12, 31), None)]
    respondents = 0
    for region, lo, hi, profession in cases:
        expected = await python_report(app, region, lo, hi, profession)
        got = await ikm.report(app.sessions, app.catalog, region=region, start=lo, end=hi,
                               profession=profession)
        assert got == expected
        assert ikm.report_csv(got) == ikm.report_csv(expected)
        respondents += got.result.respondents if got.result else 0
    assert respondents > 100  # the cases are not all empty
