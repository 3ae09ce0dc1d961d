"""The queue page at size (issue 16): filters (step, service, overdue, submission
dates), sorting (waiting longest, deadline, registration number) and paging, through
the real HTTP app; only the officer's steps and region ever show."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlalchemy import insert

from bot.composition import App
from storage.models import Applicant, Application, ApplicationDocument, Blob
from tests.conftest import Clock
from tests.office_client import Browser, make_staff

ROWS = re.compile(r'data-reg-no="([^"]+)"')


async def seed(app: App, clock: Clock) -> dict[str, dict[str, object]]:
    """70 Purwakarta files at the front office's two steps (both services), 5 at the
    technical team's step, 5 in Metro; every 7th overdue, one file with a rejected scan."""
    now = clock()
    files: dict[str, dict[str, object]] = {}
    async with app.sessions() as s, s.begin():
        await s.execute(insert(Blob).values(sha256="0" * 64, size=1, kind="pdf",
                                            media_type="application/pdf", created_at=now))
        for i in range(80):
            region = "metro" if i >= 75 else "purwakarta"
            step = ("kajian_teknis" if 70 <= i < 75 else
                    "pemeriksaan_berkas" if i % 2 else "tanda_terima")
            if region == "metro":
                step = app.catalog.get("metro", "okupasi-terapis").office_steps[0].code
            profession = "perekam-medis" if i % 3 == 0 else "okupasi-terapis"
            if region == "metro":
                profession = "okupasi-terapis"
            person = Applicant(channel="console", external_id=f"q{i}", lang="id",
                               created_at=now)
            s.add(person)
            await s.flush()
            since = now - timedelta(hours=200 - i)  # file 0 waits longest
            due = (now.date() - timedelta(days=3)) if i % 7 == 0 else (
                now.date() + timedelta(days=30 - i % 20))
            reg_no = f"PWK-26-{(i * 37) % 1000:04d}"
            app_row = Application(
                reg_no=reg_no, applicant_id=person.id, region=region, profession=profession,
                full_name=f"Pemohon {i}", nik="3201000000000001", phone="62", lang="id",
                practice_place="RS", step_code=step, step_since=since, status="open",
                submitted_at=since, due_on=due)
            s.add(app_row)
            await s.flush()
            s.add(ApplicationDocument(application_id=app_row.id, requirement_code="ijazah",
                                      blob_sha256="0" * 64, uploaded_at=since,
                                      review="rejected" if i == 1 else "accepted"))
            files[reg_no] = {"i": i, "step": step, "profession": profession, "due": due,
                             "since": since, "region": region}
    return files


async def shown(b: Browser, query: str = "") -> list[str]:
    page = await b.get(f"/office/queue{query}")
    assert page.status_code == 200, page.text
    return ROWS.findall(page.text)


async def test_queue_filters_sorts_and_pages(app: App, clock: Clock) -> None:
    files = await seed(app, clock)
    mine = {r for r, f in files.items()
            if f["region"] == "purwakarta" and f["step"] != "kajian_teknis"}
    await make_staff(app, "fo.pwk", "front_office", "purwakarta")
    async with Browser(app) as b:
        await b.login("fo.pwk")
        first = await b.get("/office/queue")
        one = ROWS.findall(first.text)
        assert len(one) == 50 and 'rel="next"' in first.text
        two = await shown(b, "?page=2")
        assert len(two) == 20 and set(one) | set(two) == mine
        # Waiting longest first, across pages.
        order = [files[r]["since"] for r in one + two]
        assert order == sorted(order)
        assert "menunggu perbaikan pemohon" in first.text  # file 1: a rejected scan

        overdue = await shown(b, "?overdue=1")
        assert set(overdue) == {r for r in mine if files[r]["i"] % 7 == 0}
        by_deadline = await shown(b, "?sort=deadline&page=1")
        dues = [files[r]["due"] for r in by_deadline]
        assert dues == sorted(dues) and len(by_deadline) == 50
        by_number = await shown(b, "?sort=reg_no") + await shown(b, "?sort=reg_no&page=2")
        assert by_number == sorted(mine)

        step = await shown(b, "?step=tanda_terima&profession=perekam-medis")
        assert step and set(step) == {r for r in mine if files[r]["step"] == "tanda_terima"
                                      and files[r]["profession"] == "perekam-medis"}
        day = files[by_number[0]]["since"]
        assert isinstance(day, type(clock()))
        local = (day + timedelta(hours=7)).date()  # Purwakarta is WIB, UTC+7
        dated = await shown(b, f"?submitted_from={local}&submitted_to={local}")
        assert dated and all(
            (files[r]["since"] + timedelta(hours=7)).date() == local  # type: ignore[operator]
            for r in dated)
        assert (await b.get("/office/queue?submitted_from=kemarin")).status_code == 400
        assert (await b.get("/office/queue?sort=acak")).status_code == 400
        assert await shown(b, "?step=kajian_teknis") == []  # another role's step


async def test_pages_read_without_the_writer_connection(app: App, clock: Clock) -> None:
    """SQLite has one pooled writer connection; a page render must not wait for it."""
    if app.read_engine is None:
        return  # PostgreSQL: one pool serves both
    await seed(app, clock)
    await make_staff(app, "fo.pwk", "front_office", "purwakarta")
    async with Browser(app) as b:
        await b.login("fo.pwk")
        async with app.sessions() as writer, writer.begin():
            # The writer is taken (BEGIN IMMEDIATE) and a row is written, uncommitted.
            await writer.execute(insert(Blob).values(sha256="1" * 64, size=1, kind="pdf",
                                                     media_type="application/pdf",
                                                     created_at=clock()))
            page = await asyncio.wait_for(b.get("/office/queue"), timeout=10)
            assert page.status_code == 200 and len(ROWS.findall(page.text)) == 50
            ikm_page = await asyncio.wait_for(b.get("/office/ikm"), timeout=10)
            assert ikm_page.status_code == 200
