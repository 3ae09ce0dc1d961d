"""The dashboard (issue 16) against a scenario computed by hand: files per step and
overdue, the month's median stay per step against the SOP's standard, work per
officer, one file's times; the month's edges in the region's time zone; who may see it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, text

from bot.composition import App
from service import dashboard as dash
from storage.models import Applicant, Application, ApplicationEvent
from tests.conftest import Clock
from tests.office_client import Browser, make_staff

REGION = "pekanbaru"
PROF = "okupasi-terapis"


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# (from_step, to_step, action, actor, role, time) per file; None = a submission.
SUBMIT = ("applicant", "applicant")
FILES: dict[str, dict[str, object]] = {
    # A: checked in 20 minutes by fo.a; waits at blanko, due 25 Nov.
    "PKU-A": {"step": "blanko", "status": "open", "due": date(2026, 11, 25), "events": [
        (None, "pemeriksaan_berkas", "submit", *SUBMIT, at(2, 1)),
        ("pemeriksaan_berkas", "blanko", "check_files", "fo.a", "front_office", at(2, 1, 20)),
    ]},
    # B: a rejection and a re-upload stay at the same step (240 minutes in all), then
    # the draft in 30 minutes; overdue since 10 Nov.
    "PKU-B": {"step": "paraf_ahli_muda", "status": "open", "due": date(2026, 11, 10),
              "events": [
        (None, "pemeriksaan_berkas", "submit", *SUBMIT, at(3, 2)),
        ("pemeriksaan_berkas", "pemeriksaan_berkas", "check_files", "fo.b", "front_office",
         at(3, 2, 10)),
        ("pemeriksaan_berkas", "pemeriksaan_berkas", "resubmit", *SUBMIT, at(3, 5)),
        ("pemeriksaan_berkas", "blanko", "check_files", "fo.b", "front_office", at(3, 6)),
        ("blanko", "paraf_ahli_muda", "draft", "bo.c", "back_office", at(3, 6, 30)),
    ]},
    # C: submitted 31 Oct 23:00 UTC = 1 Nov 06:00 WIB; 60 and 10 minutes.
    "PKU-C": {"step": "paraf_ahli_muda", "status": "approved", "due": date(2026, 11, 30),
              "events": [
        (None, "pemeriksaan_berkas", "submit", *SUBMIT, at(31, 23, month=10)),
        ("pemeriksaan_berkas", "blanko", "check_files", "fo.a", "front_office", at(1, 0)),
        ("blanko", "paraf_ahli_muda", "draft", "bo.c", "back_office", at(1, 0, 10)),
    ]},
    # D: checked 30 Nov 17:30 UTC = 1 Dec 00:30 WIB: December's, not November's.
    "PKU-D": {"step": "blanko", "status": "open", "due": None, "events": [
        (None, "pemeriksaan_berkas", "submit", *SUBMIT, at(30, 16)),
        ("pemeriksaan_berkas", "blanko", "check_files", "fo.a", "front_office", at(30, 17, 30)),
    ]},
    # Finished or closed files are not waiting anywhere.
    "PKU-E": {"step": "pemeriksaan_berkas", "status": "rejected", "due": date(2026, 11, 5),
              "events": [(None, "pemeriksaan_berkas", "submit", *SUBMIT, at(4, 1))]},
    "PKU-F": {"step": "penerimaan_izin", "status": "issued", "due": date(2026, 11, 6),
              "events": []},
}


async def seed(app: App) -> None:
    now = at(1, 0)
    async with app.sessions() as s, s.begin():
        person = Applicant(channel="console", external_id="dash", created_at=now)
        s.add(person)
        await s.flush()
        for reg_no, f in FILES.items():
            a = Application(reg_no=reg_no, applicant_id=person.id, region=REGION,
                            profession=PROF, full_name=f"Pemohon {reg_no[-1]}",
                            nik="1471010101900001", phone="6281200000000",
                            practice_place="RS Uji", lang="id", step_code=f["step"],
                            step_since=now, status=f["status"], submitted_at=now,
                            due_on=f["due"])
            s.add(a)
            await s.flush()
            for frm, to, action, actor, role, when in f["events"]:  # type: ignore[attr-defined]
                s.add(ApplicationEvent(application_id=a.id, at=when, actor=actor, role=role,
                                       action=action, from_step=frm, to_step=to))
    for username, role, name in (("fo.a", "front_office", "Ani Front"),
                                 ("fo.b", "front_office", "Budi Front"),
                                 ("bo.c", "back_office", "Citra Back")):
        await make_staff(app, username, role, REGION, name=name)


async def test_the_numbers_match_the_hand_computation(app: App, clock: Clock) -> None:
    await seed(app)
    async with app.sessions() as s:
        board = await dash.dashboard(s, app.catalog, region=REGION, month=date(2026, 11, 1),
                                     now=clock())
        dec = await dash.dashboard(s, app.catalog, region=REGION, month=date(2026, 12, 1),
                                   now=clock())
        b = await s.scalar(select(Application).where(Application.reg_no == "PKU-B"))
        assert b is not None
        stays = await dash.file_times(s, app.catalog, application=b, now=clock())
    steps = {r.step.code: r for r in board.steps}
    # Waiting now (today 23 Nov): blanko A, D; paraf_ahli_muda B (overdue), C.
    assert (steps["blanko"].waiting, steps["blanko"].overdue) == (2, 0)
    assert (steps["paraf_ahli_muda"].waiting, steps["paraf_ahli_muda"].overdue) == (2, 1)
    assert steps["pemeriksaan_berkas"].waiting == 0
    assert (board.total_waiting, board.total_overdue) == (4, 1)
    # November's stays at the check: 20, 240, 60 minutes -> median 60 (standard 35).
    check = steps["pemeriksaan_berkas"]
    assert (check.median_minutes, check.stays, check.standard_minutes) == (60.0, 3, 35.0)
    assert check.over_standard is True
    # At the draft: 30 and 10 minutes -> median 20 (standard 3).
    assert (steps["blanko"].median_minutes, steps["blanko"].stays) == (20.0, 2)
    assert steps["paraf_ahli_muda"].median_minutes is None
    assert steps["paraf_ahli_muda"].standard_minutes == 5.0
    assert steps["tanda_tangan"].standard_minutes == 24 * 60.0  # "1 hari"
    # December holds D's check only: 90 minutes.
    dec_check = {r.step.code: r for r in dec.steps}["pemeriksaan_berkas"]
    assert (dec_check.median_minutes, dec_check.stays) == (90.0, 1)
    # Work per officer in November (applicants' submissions are not staff work).
    work = {o.username: (o.full_name, o.role, o.actions, o.files, o.handovers)
            for o in board.officers}
    assert work == {"fo.a": ("Ani Front", "front_office", 2, 2, 2),
                    "fo.b": ("Budi Front", "front_office", 2, 1, 1),
                    "bo.c": ("Citra Back", "back_office", 2, 2, 2)}
    assert [o.username for o in dec.officers] == ["fo.a"]
    # One file, step by step.
    assert [(x.step.code, x.minutes, x.by) for x in stays] == [
        ("pemeriksaan_berkas", 240.0, "fo.b"), ("blanko", 30.0, "bo.c"),
        ("paraf_ahli_muda", None, None)]


async def test_the_page_for_the_head_of_office_and_admins_only(app: App, clock: Clock) -> None:
    await seed(app)
    await make_staff(app, "kadis.pku", "head_of_office", REGION)
    await make_staff(app, "kadis.metro", "head_of_office", "metro")
    await make_staff(app, "admin.all", "admin", "*")
    async with Browser(app) as boss, Browser(app) as admin, Browser(app) as metro, \
            Browser(app) as clerk:
        for b, user in ((boss, "kadis.pku"), (admin, "admin.all"), (metro, "kadis.metro"),
                        (clerk, "fo.a")):
            assert (await b.login(user)).status_code == 303
        res = await boss.get("/office/dashboard?month=2026-11&reg_no=PKU-B")
        assert res.status_code == 200
        html = res.text
        assert ('data-step="pemeriksaan_berkas" data-waiting="0" data-overdue="0" '
                'data-median="60.0" data-stays="3"') in html
        assert "1 jam" in html and "35 menit" in html and "melebihi standar" in html
        assert 'data-officer="fo.a" data-actions="2" data-files="2" data-handovers="2"' in html
        assert "Ani Front" in html
        assert 'data-stay="pemeriksaan_berkas" data-minutes="240.0"' in html
        assert "4 jam" in html and "data-total-overdue>1<" in html
        # An admin of every region picks it; sees the numbers, opens no file.
        res = await admin.get("/office/dashboard?region=pekanbaru&month=2026-11")
        assert res.status_code == 200 and 'data-median="60.0"' in res.text
        assert (await admin.get(
            "/office/dashboard?region=pekanbaru&reg_no=PKU-B")).status_code == 403
        # Another region's head sees their own region; this file is not found there.
        res = await metro.get("/office/dashboard?month=2026-11")
        assert res.status_code == 200 and 'data-median="60.0"' not in res.text
        assert (await metro.get("/office/dashboard?reg_no=PKU-B")).status_code == 404
        # Other roles have no dashboard, and the bad month is a clear refusal.
        assert (await clerk.get("/office/dashboard")).status_code == 403
        assert (await boss.get("/office/dashboard?month=kemarin")).status_code == 400


async def test_the_months_queries_start_from_the_events_time_index(app: App) -> None:
    """SQLite's plan: the month's events through ix_application_events_at, files by
    primary key, a stay's start through the events' application index; no full scan
    of the events table (PostgreSQL's planner may pick differently on tiny tables)."""
    if app.settings.database_url.startswith("postgresql"):
        return
    start, end = dash.month_bounds(date(2026, 11, 1), "Asia/Jakarta")
    for q in (dash.median_statement("sqlite", region=REGION, start=start, end=end),
              dash.officer_statement(region=REGION, start=start, end=end)):
        compiled = q.compile(compile_kwargs={"literal_binds": True})
        async with app.sessions() as s:
            plan = " | ".join(str(row[-1]) for row in (await s.execute(
                text(f"EXPLAIN QUERY PLAN {compiled}"))).all())
        assert "SEARCH application_events USING INDEX ix_application_events_at" in plan, plan
        assert "SCAN application_events" not in plan, plan
        assert "SCAN applications" not in plan and "ix_applications_region" not in plan, plan
    compiled = dash.counts_statement(region=REGION, today=date(2026, 11, 23)).compile(
        compile_kwargs={"literal_binds": True})
    async with app.sessions() as s:
        plan = " | ".join(str(row[-1]) for row in (await s.execute(
            text(f"EXPLAIN QUERY PLAN {compiled}"))).all())
    assert "USING COVERING INDEX ix_applications_dashboard" in plan, plan


async def test_a_returned_file_counts_each_visit_to_a_step(app: App, clock: Clock) -> None:
    """A return (to an earlier step) ends a stay like any hand-over; the step it goes
    back to gets a second stay, timed from the return."""
    async with app.sessions() as s, s.begin():
        person = Applicant(channel="console", external_id="ret", created_at=at(1, 0, month=10))
        s.add(person)
        await s.flush()
        a = Application(reg_no="PKU-G", applicant_id=person.id, region=REGION, profession=PROF,
                        full_name="Pemohon G", nik="1471010101900001", phone="62812",
                        practice_place="RS", lang="id", step_code="paraf_ahli_muda",
                        step_since=at(5, 5, month=10), status="open",
                        submitted_at=at(5, 0, month=10), due_on=None)
        s.add(a)
        await s.flush()
        for frm, to, action, actor, minute in [
                (None, "pemeriksaan_berkas", "submit", "applicant", 0),
                ("pemeriksaan_berkas", "blanko", "check_files", "fo.a", 30),
                ("blanko", "paraf_ahli_muda", "draft", "bo.c", 40),  # 10 min
                ("paraf_ahli_muda", "blanko", "return", "ver.a", 100),  # 60 min
                ("blanko", "paraf_ahli_muda", "draft", "bo.c", 130)]:  # 30 min
            s.add(ApplicationEvent(application_id=a.id,
                                   at=at(5, 0, month=10) + timedelta(minutes=minute),
                                   actor=actor, role="staff" if actor != "applicant"
                                   else "applicant", action=action, from_step=frm,
                                   to_step=to))
    async with app.sessions() as s:
        board = await dash.dashboard(s, app.catalog, region=REGION, month=date(2026, 10, 1),
                                     now=clock())
        stays = await dash.file_times(s, app.catalog, application=a, now=clock())
    steps = {r.step.code: r for r in board.steps}
    assert (steps["blanko"].median_minutes, steps["blanko"].stays) == (20.0, 2)
    assert (steps["paraf_ahli_muda"].median_minutes,
            steps["paraf_ahli_muda"].stays) == (60.0, 1)
    assert [(x.step.code, x.minutes) for x in stays] == [
        ("pemeriksaan_berkas", 30.0), ("blanko", 10.0), ("paraf_ahli_muda", 60.0),
        ("blanko", 30.0), ("paraf_ahli_muda", None)]
