"""Complaint officers' side (issue 7): grading, escalation on deadlines, answers into the
chat, the complainant's reply in the thread, closing, and the complaint book."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from bot.composition import App
from conversations.types import InboundEvent, OutMessage
from licensing.complaints import escalation_rules
from service import complaint_desk as desk
from storage.models import Complaint, ComplaintMessage, OutboxMessage, StaffNotice
from tests.conftest import Clock
from tests.journeys import run_script

OFFICER = desk.Officer("siti.adu", "complaint_officer", "pekanbaru")
STORY = "Berkas saya sudah lewat batas waktu dan tidak ada kabar dari petugas."


async def file(app: App, user: str, *, anonymous: bool) -> str:
    identity = ["anonim"] if anonymous else ["Sertakan identitas saya", "Budi Santoso"]
    await run_script(app, user, ["halo", "1", "Pengaduan", "Pelayanan perizinan", "Pekanbaru",
                                 "Okupasi", "Waktu", STORY, "Tidak ada lagi", *identity,
                                 "Kirim"])
    async with app.sessions() as s:
        ticket = await s.scalar(select(Complaint.ticket_no).order_by(Complaint.id.desc()))
    assert ticket
    return ticket


async def get(app: App, ticket: str) -> Complaint:
    async with app.sessions() as s:
        c = await s.scalar(select(Complaint).where(Complaint.ticket_no == ticket))
    assert c is not None
    return c


async def last_message(app: App, user: str) -> OutMessage:
    async with app.sessions() as s:
        row = await s.scalar(select(OutboxMessage).where(OutboxMessage.chat_id == user)
                             .order_by(OutboxMessage.id.desc()))
    assert row is not None
    return OutMessage.from_payload(row.payload)


async def test_medium_complaint_escalates_when_its_level_is_overdue_then_is_answered(
    app: App, clock: Clock
) -> None:
    ticket = await file(app, "budi", anonymous=False)
    assert (await get(app, ticket)).proposed_grade == "sedang"
    kw = dict(catalog=app.catalog, calendar=app.calendar)
    await desk.confirm_grade(app.sessions, OFFICER, ticket_no=ticket, grade="sedang",
                             now=clock(), **kw)
    c = await get(app, ticket)
    levels = escalation_rules().levels("pekanbaru", "sedang")
    # Mon 23 Nov 2026 + 7 working days = Wed 2 Dec 2026.
    assert (c.grade, c.level, c.level_due_on) == ("sedang", 0, date(2026, 12, 2))

    clock.advance(days=9)  # Wed 2 Dec: the last day of level 0, not overdue yet
    assert await desk.escalate_overdue(app.sessions, now=clock(), **kw) == 0
    clock.advance(days=1)  # Thu 3 Dec: overdue -> level 1, the head of office
    assert await desk.escalate_overdue(app.sessions, now=clock(), **kw) == 1
    assert await desk.escalate_overdue(app.sessions, now=clock(), **kw) == 0
    c = await get(app, ticket)
    assert c.level == 1 and c.level_due_on == date(2026, 12, 14)
    async with app.sessions() as s:
        notices = (await s.scalars(select(StaffNotice).order_by(StaffNotice.id))).all()
    assert [(n.kind, n.role) for n in notices] == [
        ("complaint_new", "complaint_officer"), ("complaint_assigned", levels[0].role),
        ("complaint_escalated", levels[1].role)]

    # The answer goes to the chat with a reply button; the reply joins the thread.
    await desk.answer(app.sessions, OFFICER, ticket_no=ticket,
                      text="Berkas Anda sudah kami periksa dan izin terbit besok.", now=clock())
    msg = await last_message(app, "budi")
    assert "izin terbit besok" in msg.text and msg.choices[0].id == f"!kr:{ticket}"
    await app.runtime.handle(channel="console", external_id="budi", platform_id="r1",
                             event=InboundEvent.choose(f"!kr:{ticket}"))
    await app.runtime.handle(channel="console", external_id="budi", platform_id="r2",
                             event=InboundEvent.message("Terima kasih, saya tunggu besok."))
    assert (await get(app, ticket)).status == "open"  # the officer owes another answer

    await desk.answer(app.sessions, OFFICER, ticket_no=ticket,
                      text="Izin sudah terbit, silakan cek status.", now=clock())
    await desk.close(app.sessions, OFFICER, ticket_no=ticket, resolution_path="internal",
                     now=clock())
    ask = await last_message(app, "budi")
    assert [c.id for c in ask.choices] == [f"!ks:{ticket}:yes", f"!ks:{ticket}:no"]
    await app.runtime.handle(channel="console", external_id="budi", platform_id="r3",
                             event=InboundEvent.choose(f"!ks:{ticket}:yes"))
    c = await get(app, ticket)
    assert c.status == "closed" and c.settled is True and c.resolution_path == "internal"
    async with app.sessions() as s:
        thread = (await s.scalars(select(ComplaintMessage.action).where(
            ComplaintMessage.complaint_id == c.id).order_by(ComplaintMessage.id))).all()
    assert thread == ["filed", "grade", "escalate", "answer", "reply", "answer", "close",
                      "settled"]


async def test_grade_change_is_recorded_with_the_proposal(app: App, clock: Clock) -> None:
    ticket = await file(app, "x", anonymous=True)
    await desk.confirm_grade(app.sessions, OFFICER, ticket_no=ticket, grade="ringan",
                             catalog=app.catalog, calendar=app.calendar, now=clock())
    async with app.sessions() as s:
        entry = await s.scalar(select(ComplaintMessage).where(
            ComplaintMessage.action == "grade"))
    assert entry is not None
    # Structured, never a note to parse back: the grade set and the one it replaced.
    assert (entry.grade, entry.prev_grade, entry.level, entry.text) == (
        "ringan", "sedang", 0, None)


@pytest.mark.parametrize(("officer", "call", "message"), [
    (desk.Officer("o", "complaint_officer", "metro"), "grade", "no such ticket"),
    (desk.Officer("o", "front_office", "pekanbaru"), "grade", "only complaint officers"),
    (OFFICER, "answer_ungraded", "confirm the grade"),
    (OFFICER, "close_unanswered", "answer the complainant"),
    (OFFICER, "bad_grade", "grade must be one of"),
    (OFFICER, "short_answer", "an answer needs"),
])
async def test_refused_actions_change_nothing(app: App, clock: Clock,
                                              officer: desk.Officer, call: str,
                                              message: str) -> None:
    ticket = await file(app, "y", anonymous=True)
    before = await get(app, ticket)
    kw = dict(catalog=app.catalog, calendar=app.calendar, now=clock())
    with pytest.raises(desk.DeskError, match=message):
        if call == "grade":
            await desk.confirm_grade(app.sessions, officer, ticket_no=ticket, grade="ringan",
                                     **kw)
        elif call == "answer_ungraded":
            await desk.answer(app.sessions, officer, ticket_no=ticket,
                              text="Jawaban yang cukup panjang.", now=clock())
        elif call == "close_unanswered":
            await desk.close(app.sessions, officer, ticket_no=ticket,
                             resolution_path="internal", now=clock())
        elif call == "bad_grade":
            await desk.confirm_grade(app.sessions, officer, ticket_no=ticket, grade="parah",
                                     **kw)
        else:
            await desk.confirm_grade(app.sessions, officer, ticket_no=ticket, grade="ringan",
                                     **kw)
            before = await get(app, ticket)
            await desk.answer(app.sessions, officer, ticket_no=ticket, text="ok", now=clock())
    after = await get(app, ticket)
    assert (after.grade, after.status, after.level) == (before.grade, before.status,
                                                          before.level)


async def test_the_book_never_reveals_an_anonymous_complainant(app: App, clock: Clock) -> None:
    anon = await file(app, "62812000111", anonymous=True)
    named = await file(app, "62812000222", anonymous=False)
    rows = await desk.book(app.sessions, app.catalog, region="pekanbaru")
    assert {r.ticket_no: r.identity for r in rows} == {anon: "Anonim", named: "Budi Santoso"}
    text = desk.book_csv(rows)
    assert "62812000111" not in text and "62812000222" not in text
    assert text.splitlines()[0].startswith("tiket,tanggal,identitas")
    assert await desk.book(app.sessions, app.catalog, region="metro") == []
    report = await desk.monthly_report(app.sessions, app.catalog, region="pekanbaru",
                                       year=2026, month=11, today=clock().date())
    assert report.total == 2 and report.by_grade == {"sedang": 2}
    assert report.by_kind == {"complaint": 2}  # Pekanbaru publishes no suggestion rule


async def test_metro_handling_steps_are_recorded_by_name(app: App, clock: Clock) -> None:
    await run_script(app, "m", ["halo", "1", "/pengaduan", "Hal lain", "Metro",
                                "Sarana dan prasarana", "Ruang tunggu terlalu panas sekali.",
                                "Tidak ada lagi", "anonim", "Kirim"])
    async with app.sessions() as s:
        ticket = await s.scalar(select(Complaint.ticket_no))
    assert ticket
    officer = desk.Officer("m", "complaint_officer", "metro")
    await desk.record_step(app.sessions, officer, ticket_no=ticket, step=1,
                           note="mediasi dengan petugas loket", catalog=app.catalog,
                           now=clock())
    with pytest.raises(desk.DeskError):
        await desk.record_step(app.sessions, officer, ticket_no=ticket, step=9, note="x",
                               catalog=app.catalog, now=clock())
    async with app.sessions() as s:
        notes = (await s.scalars(select(ComplaintMessage.text).where(
            ComplaintMessage.action == "handling_step"))).all()
    assert notes == ["Mediasi: mediasi dengan petugas loket"]
