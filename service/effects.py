"""Carrying out what the engine decided, inside the event's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from conversations.types import (
    ComplaintReply,
    ComplaintSettled,
    Effect,
    FileComplaint,
    PermitDelivered,
    RequestPrecheck,
    ResubmitDocuments,
    SetLanguage,
    SubmitApplication,
    SubmitSurvey,
)
from licensing.calendar import WorkingCalendar
from licensing.catalog import Catalog
from service import complaints, permits, precheck
from storage.models import Applicant, Application, ApplicationDocument, ApplicationEvent

CONDITION_NAMES = {"renewal": "Perpanjangan", "foreign_graduate": "Lulusan luar negeri"}


class RegistrationNumberTaken(Exception):
    """The random part of a registration number collided; the event is run again."""


async def apply_effects(
    session: AsyncSession,
    applicant: Applicant,
    effects: Sequence[Effect],
    *,
    catalog: Catalog,
    calendar: WorkingCalendar,
    now: datetime,
) -> None:
    for effect in effects:
        if isinstance(effect, SetLanguage):
            applicant.lang = effect.lang
        elif isinstance(effect, SubmitApplication):
            await _submit(session, applicant, effect, catalog=catalog, now=now)
        elif isinstance(effect, ResubmitDocuments):
            await _resubmit(session, applicant, effect, now=now)
        elif isinstance(effect, FileComplaint):
            await complaints.file_complaint(session, applicant, effect, now=now)
        elif isinstance(effect, ComplaintReply):
            await complaints.reply(session, applicant, effect, now=now)
        elif isinstance(effect, ComplaintSettled):
            await complaints.settle(session, applicant, effect, now=now)
        elif isinstance(effect, SubmitSurvey):
            await permits.record_survey(session, applicant, effect, now=now)
        elif isinstance(effect, PermitDelivered):
            await permits.mark_delivered(session, applicant, effect, now=now)
        elif isinstance(effect, RequestPrecheck):
            await precheck.queue(session, applicant, effect, now=now)
        else:  # a new effect nobody carries out would silently lose what the person did
            raise TypeError(f"unhandled effect {type(effect).__name__}")


async def _submit(
    session: AsyncSession,
    applicant: Applicant,
    e: SubmitApplication,
    *,
    catalog: Catalog,
    now: datetime,
) -> None:
    if await session.scalar(select(Application.id).where(Application.reg_no == e.reg_no)):
        raise RegistrationNumberTaken(e.reg_no)
    entry = catalog.get(e.region, e.profession)
    first = entry.next_office_step(None)
    assert first is not None  # the schema guarantees a head-of-office step
    app = Application(
        reg_no=e.reg_no, applicant_id=applicant.id, region=e.region,
        profession=e.profession, full_name=e.full_name, nik=e.nik, phone=e.phone,
        practice_place=e.practice_place, str_number=e.str_number, lang=e.lang, step_code=first.code,
        step_since=now, status="open", submitted_at=now,
    )
    session.add(app)
    await session.flush()
    documents = [ApplicationDocument(application_id=app.id, requirement_code=code,
                                     blob_sha256=sha, review="pending", uploaded_at=now)
                 for code, sha in e.scans.items()]
    session.add_all(documents)
    await precheck.attach_on_submit(session, applicant.id, documents)
    session.add(ApplicationEvent(
        application_id=app.id, at=now, actor="applicant", role="applicant", action="submit",
        from_step=None, to_step=first.code,
        # For the card, in Indonesian ("Perpanjangan: tidak"), never "renewal=tidak".
        note="; ".join(f"{CONDITION_NAMES.get(k, k)}: {'ya' if v else 'tidak'}"
                       for k, v in e.conditions.items()) or None,
    ))


async def _resubmit(
    session: AsyncSession, applicant: Applicant, e: ResubmitDocuments, *, now: datetime
) -> None:
    app = await session.scalar(
        select(Application)
        .where(Application.reg_no == e.reg_no, Application.applicant_id == applicant.id)
        .options(selectinload(Application.documents))
    )
    if app is None:
        return  # not theirs: the engine only offers their own, so nothing to do
    replaced = []
    for doc in app.documents:
        if doc.requirement_code in e.scans and doc.review == "rejected":
            doc.blob_sha256 = e.scans[doc.requirement_code]
            doc.review = "pending"
            doc.review_reason = None
            doc.uploaded_at = now
            replaced.append(doc.requirement_code)
    session.add(ApplicationEvent(
        application_id=app.id, at=now, actor="applicant", role="applicant",
        action="resubmit", from_step=app.step_code, to_step=app.step_code,
        note=", ".join(replaced),
    ))
