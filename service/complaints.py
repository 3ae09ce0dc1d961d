"""Complaints on the service side: filing from the chat, replies, settling."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conversations.types import ComplaintReply, ComplaintSettled, FileComplaint
from licensing.complaints import ComplaintAction, propose_grade
from service.complaint_desk import notify_level
from storage.models import Applicant, Complaint, ComplaintMessage

# Words that, in the complainant's own text, allege money changing hands or misconduct.
_MONEY_OR_MISCONDUCT = ("uang", "bayar", "pungli", "suap", "money", "paid", "bribe")


async def file_complaint(
    session: AsyncSession, applicant: Applicant, e: FileComplaint, *, now: datetime
) -> Complaint:
    alleges = any(w in e.text.lower() for w in _MONEY_OR_MISCONDUCT)
    complaint = Complaint(
        ticket_no=e.ticket_no, applicant_id=applicant.id, region=e.region,
        profession=e.profession, reg_no=e.reg_no, about=e.about, category=e.category,
        kind=e.kind, suggestion_reason=e.suggestion_reason, anonymous=e.anonymous,
        complainant_name=None if e.anonymous else e.name, lang=e.lang,
        proposed_grade=propose_grade(e.text, e.category, alleges_money_or_misconduct=alleges),
        level=0, status="open", filed_at=now, due_on=e.due_on,
    )
    session.add(complaint)
    await session.flush()
    session.add(ComplaintMessage(
        complaint_id=complaint.id, at=now, author_kind="complainant", author=None,
        action=ComplaintAction.FILED.value, text=e.text,
        attachments={"sha256": list(e.attachments)} if e.attachments else None,
    ))
    await notify_level(session, complaint, kind="complaint_new", now=now)
    return complaint


async def _own(session: AsyncSession, applicant: Applicant, ticket_no: str) -> Complaint | None:
    # Only the complainant's own tickets: a forged button cannot touch someone else's.
    return await session.scalar(select(Complaint).where(
        Complaint.ticket_no == ticket_no, Complaint.applicant_id == applicant.id))


async def reply(
    session: AsyncSession, applicant: Applicant, e: ComplaintReply, *, now: datetime
) -> None:
    complaint = await _own(session, applicant, e.ticket_no)
    if complaint is None:
        return
    session.add(ComplaintMessage(complaint_id=complaint.id, at=now, author_kind="complainant",
                                 action=ComplaintAction.REPLY.value, text=e.text))
    if complaint.status == "answered":
        complaint.status = "open"  # the officer owes another answer


async def settle(
    session: AsyncSession, applicant: Applicant, e: ComplaintSettled, *, now: datetime
) -> None:
    complaint = await _own(session, applicant, e.ticket_no)
    if complaint is None or (complaint.status == "closed" and complaint.settled is not None):
        return
    complaint.settled = e.settled
    if e.settled:
        complaint.status, complaint.closed_at = "closed", now
    else:
        complaint.status, complaint.closed_at = "open", None
    session.add(ComplaintMessage(complaint_id=complaint.id, at=now, author_kind="complainant",
                                 action=(ComplaintAction.SETTLED if e.settled
                                         else ComplaintAction.UNSETTLED).value))
