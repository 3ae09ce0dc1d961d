"""Every reminder with a controllable clock: before N days nothing, at N days one,
later still one; texts in both languages; officers get staff notices."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select, update

from bot.composition import App
from conversations.types import InboundEvent
from licensing.complaints import escalation_rules
from notifications import reminders
from storage.models import (
    Applicant,
    Application,
    ApplicationDocument,
    ApplicationEvent,
    Blob,
    Complaint,
    Conversation,
    OutboxMessage,
    Permit,
    StaffNotice,
)
from tests.conftest import Clock
from tests.notify_data import add_applicants

APPLY_PWK = ["halo", "1", "Ajukan", "Purwakarta", "Okupasi", "Mulai"]


async def _keys(app: App, model: type[OutboxMessage] | type[StaffNotice],
                prefix: str) -> list[str]:
    async with app.sessions() as s:
        keys = (await s.scalars(select(model.dedupe_key).where(
            model.dedupe_key.like(f"{prefix}%")).order_by(model.id))).all()
    return [k for k in keys if k is not None]


async def _run(app: App, clock: Clock) -> dict[str, int]:
    return await reminders.run(app.sessions, app.catalog, now=clock.now)


async def test_scans_missing_counts_from_the_draft_started_in_the_chat(
        app: App, clock: Clock) -> None:
    for n, text in enumerate(APPLY_PWK):
        await app.runtime.handle(channel="console", external_id="u1", platform_id=f"p{n}",
                                 event=InboundEvent.message(text))
    async with app.sessions() as s:
        conv = await s.scalar(select(Conversation))
        assert conv is not None
        assert conv.state["data"]["draft"]["started_at"] == clock.now.isoformat()
    clock.advance(days=2, hours=23)
    assert (await _run(app, clock))["scans_missing"] == 0
    clock.advance(hours=1)
    assert (await _run(app, clock))["scans_missing"] == 1
    clock.advance(days=1)
    assert (await _run(app, clock))["scans_missing"] == 0
    keys = await _keys(app, OutboxMessage, "reminder:scans_missing:")
    assert len(keys) == 1 and keys[0].endswith(":3")
    async with app.sessions() as s:
        row = await s.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == keys[0]))
        assert row is not None
        assert (row.priority, row.urgent, row.quiet_tz) == (9, False, "Asia/Jakarta")
        assert "belum lengkap" in row.payload["text"] and "ijazah" in row.payload["text"].lower()
    clock.advance(days=4)  # day 7: the second configured occasion, once
    assert (await _run(app, clock))["scans_missing"] == 1
    assert (await _run(app, clock))["scans_missing"] == 0
    assert len(await _keys(app, OutboxMessage, "reminder:scans_missing:")) == 2


async def _rejected_document(app: App, clock: Clock, lang: str = "id") -> int:
    [aid] = await add_applicants(app.sessions, 1, now=clock.now, lang=lang)
    async with app.sessions() as s, s.begin():
        s.add(Blob(sha256="a" * 64, size=10, kind="pdf", media_type="application/pdf",
                   created_at=clock.now))
        application = await s.scalar(select(Application).where(Application.applicant_id == aid))
        assert application is not None
        doc = ApplicationDocument(application_id=application.id, requirement_code="ijazah",
                                  blob_sha256="a" * 64, review="rejected",
                                  review_reason="buram", uploaded_at=clock.now)
        s.add(doc)
        clock.advance(days=1)  # rejected a day after the upload
        s.add(ApplicationEvent(application_id=application.id, at=clock.now, actor="fo",
                               role="front_office", action="reject_document",
                               from_step=None, to_step=None, note="ijazah"))
        await s.flush()
        return doc.id


async def test_rejected_file_not_replaced(app: App, clock: Clock) -> None:
    doc_id = await _rejected_document(app, clock, lang="en")
    clock.advance(days=2, hours=23)
    assert (await _run(app, clock))["document_rejected"] == 0
    clock.advance(hours=1)
    assert (await _run(app, clock))["document_rejected"] == 1
    clock.advance(hours=12)
    assert (await _run(app, clock))["document_rejected"] == 0
    async with app.sessions() as s:
        row = await s.scalar(select(OutboxMessage).where(
            OutboxMessage.notification_type == "reminder_document_rejected"))
        assert row is not None and "was rejected" in row.payload["text"]
        assert "buram" in row.payload["text"]
        # Replaced: the upload makes it pending; no reminder any more.
        await s.execute(update(ApplicationDocument).where(ApplicationDocument.id == doc_id)
                        .values(review="pending"))
        await s.commit()
    clock.advance(days=5)
    assert (await _run(app, clock))["document_rejected"] == 0


async def _issued_permit(app: App, clock: Clock, valid_until: date) -> int:
    [aid] = await add_applicants(app.sessions, 1, now=clock.now, status="issued")
    async with app.sessions() as s, s.begin():
        application = await s.scalar(select(Application).where(Application.applicant_id == aid))
        assert application is not None
        permit = Permit(application_id=application.id, region="purwakarta",
                        profession="okupasi-terapis", status="issued", year=2021, seq=1,
                        number="503/1/SIP-OT/2021", verify_code="V1", holder_name="Nama 0",
                        issue_date=valid_until - timedelta(days=5 * 365),
                        valid_until=valid_until, created_at=clock.now, issued_at=clock.now,
                        delivered_at=clock.now)
        s.add(permit)
        await s.flush()
        return permit.id


async def test_permit_expiring_90_30_7_days_before(app: App, clock: Clock) -> None:
    today = date(2026, 11, 23)  # the clock's date in WIB
    await _issued_permit(app, clock, today + timedelta(days=91))
    assert (await _run(app, clock))["permit_expiring"] == 0
    expected = []
    start = clock.now
    for days in (90, 30, 7):
        clock.now = start + timedelta(days=91 - days)
        assert (await _run(app, clock))["permit_expiring"] == 1
        clock.advance(days=1)
        assert (await _run(app, clock))["permit_expiring"] == 0
        expected.append(f"reminder:permit_expiring:1:{days}")
    assert await _keys(app, OutboxMessage, "reminder:permit_expiring:") == expected
    async with app.sessions() as s:
        texts = (await s.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.id))).all()
    assert "berlaku sampai 22 Februari 2027 (7 hari lagi)" in texts[-1]["text"]


async def test_permit_reminder_after_30_days_goes_through_the_same_run(app: App,
                                                                       clock: Clock) -> None:
    pid = await _issued_permit(app, clock, date(2031, 11, 1))
    async with app.sessions() as s, s.begin():
        await s.execute(update(Permit).where(Permit.id == pid).values(delivered_at=None))
    clock.advance(days=29, hours=23)
    assert (await _run(app, clock))["permit_reminders"] == 0
    clock.advance(hours=1)
    assert (await _run(app, clock))["permit_reminders"] == 1
    clock.advance(days=3)
    assert (await _run(app, clock))["permit_reminders"] == 0
    async with app.sessions() as s:
        row = await s.scalar(select(OutboxMessage).where(
            OutboxMessage.dedupe_key == f"permit-reminder:{pid}"))
        assert row is not None and row.quiet_tz == "Asia/Jakarta" and not row.urgent


async def test_application_deadline_to_the_role_of_the_current_step(app: App,
                                                                    clock: Clock) -> None:
    # Due in 4 days (WIB), at the technical team's step.
    await add_applicants(app.sessions, 1, now=clock.now, step_code="kajian_teknis",
                         due_on=date(2026, 11, 27))
    await add_applicants(app.sessions, 1, now=clock.now, prefix="x", step_code="survei",
                         due_on=date(2026, 11, 27))  # the applicant's turn: no notice
    clock.advance(days=1)
    assert (await _run(app, clock))["application_deadlines"] == 0
    clock.advance(days=1)  # 2 days left
    assert (await _run(app, clock))["application_deadlines"] == 1
    clock.advance(days=2)  # due today: the same "about to pass" occasion
    assert (await _run(app, clock))["application_deadlines"] == 0
    clock.advance(days=1)  # passed
    assert (await _run(app, clock))["application_deadlines"] == 1
    clock.advance(days=10)
    assert (await _run(app, clock))["application_deadlines"] == 0
    async with app.sessions() as s:
        notices = (await s.scalars(select(StaffNotice).order_by(StaffNotice.id))).all()
    assert [(n.region, n.role, n.kind, n.ref) for n in notices] == [
        ("purwakarta", "technical_team", "deadline_due", "PWK-c0"),
        ("purwakarta", "technical_team", "deadline_passed", "PWK-c0")]


async def test_complaint_deadline_to_the_current_level(app: App, clock: Clock) -> None:
    [aid] = await add_applicants(app.sessions, 1, now=clock.now)
    async with app.sessions() as s, s.begin():
        s.add(Complaint(ticket_no="ADU-1", applicant_id=aid, region="purwakarta",
                        about="service", category="layanan", kind="complaint",
                        anonymous=True, lang="id", proposed_grade="sedang", grade="sedang",
                        level=0, status="open", filed_at=clock.now,
                        due_on=date(2026, 12, 10), level_due_on=date(2026, 11, 25)))
    assert (await _run(app, clock))["complaint_deadlines"] == 0  # 2 days left, window is 1
    clock.advance(days=1)
    assert (await _run(app, clock))["complaint_deadlines"] == 1
    assert (await _run(app, clock))["complaint_deadlines"] == 0
    async with app.sessions() as s:
        n = await s.scalar(select(StaffNotice))
        # The current level's role in Purwakarta's own chain (internal resolution first).
        role = escalation_rules().levels("purwakarta", "sedang")[0].role
        assert role == "complaint_officer"
        assert n is not None and (n.role, n.kind, n.ref) == (role, "complaint_due_due", "ADU-1")


async def test_unreachable_applicants_get_no_reminder(app: App, clock: Clock) -> None:
    await _rejected_document(app, clock)
    async with app.sessions() as s, s.begin():
        await s.execute(update(Applicant).values(unreachable_at=clock.now))
    clock.advance(days=10)
    assert (await _run(app, clock))["document_rejected"] == 0
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
