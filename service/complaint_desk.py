"""Complaints on the office side: grade, answer, handling steps, close, escalate, the book.

Every officer action appends to the ticket's thread (`ComplaintMessage`, author =
staff username) and changes the ticket in the same transaction; an answer or a
closing question goes to the complainant's chat through the outbox. Anonymous
complainants stay anonymous here: nothing returned by this module carries their
name, chat id or number (`identity()` is the one place that decides).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.i18n import Translator
from conversations.types import Choice, OutMessage
from conversations.vocab import Kind
from conversations.vocab import cid as choice_id
from licensing.calendar import WorkingCalendar
from licensing.catalog import Catalog
from licensing.complaints import (
    CATEGORIES,
    GRADES,
    RESOLUTION_PATHS,
    ComplaintAction,
    escalation_rules,
)
from service.outbox import PRIORITY_NOTICE, enqueue
from storage.models import Applicant, Complaint, ComplaintMessage, StaffNotice

ANSWER_MIN, ANSWER_MAX = 10, 3000
REASON_MIN, REASON_MAX = 10, 1000
# Who may move a ticket up a level by hand: the officers handling it and the head of
# office (an admin manages accounts; other roles hold no level).
ESCALATE_ROLES = ("complaint_officer", "head_of_office")

# How staff read the stored vocabulary (pages and exports are Indonesian).
_id = Translator("id")
GRADE_NAMES = {"ringan": "Ringan", "sedang": "Sedang", "berat": "Berat"}
STATUS_NAMES = {"open": "Terbuka", "answered": "Dijawab", "closed": "Ditutup"}
KIND_NAMES = {"complaint": "Pengaduan", "suggestion": "Saran"}
PATH_NAMES = {"internal": "Internal (oleh unit layanan)",
              "technical_or_agency": "Bersama tim teknis / instansi lain",
              "apip": "Aparat Pengawas Internal Pemerintah (APIP)"}
CATEGORY_NAMES = {c: " ".join(_id(f"complaint.category_{c}").split()) for c in CATEGORIES}
SUGGESTION_REASONS = {"late": "diajukan lebih dari batas hari setelah layanan diterima",
                      "anonymous": "tanpa identitas pengadu",
                      "no_object": "tanpa objek pengaduan"}
ACTION_NAMES = {ComplaintAction.FILED: "Pengaduan masuk", ComplaintAction.REPLY: "Balasan pengadu",
                ComplaintAction.ANSWER: "Jawaban", ComplaintAction.GRADE: "Bobot ditetapkan",
                ComplaintAction.ESCALATE: "Naik tingkat",
                ComplaintAction.HANDLING_STEP: "Langkah penanganan",
                ComplaintAction.PATH: "Jalur penyelesaian", ComplaintAction.CLOSE: "Ditutup",
                ComplaintAction.SETTLED: "Pengadu: tuntas",
                ComplaintAction.UNSETTLED: "Pengadu: belum tuntas"}


class DeskError(Exception):
    """An officer action that cannot be done; the message says why.

    `code` (not_found, closed, wrong_role, wrong_order, bad_input) lets a page say it
    in Indonesian."""

    def __init__(self, message: str, code: str = "bad_input") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Officer:
    username: str
    role: str
    region: str


def identity(c: Complaint) -> str:
    """How a complainant is shown to staff: their given name, or "Anonim"."""
    if c.anonymous or not c.complainant_name:
        return "Anonim"
    return c.complainant_name


def _today(catalog: Catalog, region: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(catalog.region(region).timezone)).date()


async def _ticket(session: AsyncSession, officer: Officer, ticket_no: str) -> Complaint:
    c = await session.scalar(select(Complaint).where(Complaint.ticket_no == ticket_no)
                             .with_for_update())
    if c is None or c.region != officer.region:  # other regions' tickets do not exist here
        raise DeskError(f"{ticket_no}: no such ticket in your region", "not_found")
    return c


def _log(session: AsyncSession, c: Complaint, officer: Officer | None,
         action: ComplaintAction, text: str | None, now: datetime, *,
         level: int | None = None, grade: str | None = None,
         prev_grade: str | None = None) -> None:
    session.add(ComplaintMessage(
        complaint_id=c.id, at=now, author_kind="officer" if officer else "system",
        author=officer.username if officer else None, action=action.value, text=text,
        level=level, grade=grade, prev_grade=prev_grade))


async def notify_level(session: AsyncSession, c: Complaint, *, kind: str, now: datetime) -> None:
    """A notice for the people at the ticket's current level (once per level)."""
    grade = c.grade or c.proposed_grade
    if c.grade is None:
        levels_role = "complaint_officer"
        title = "Pengaduan baru"
    else:
        level = escalation_rules().levels(c.region, c.grade)[c.level]
        levels_role, title = level.role, level.title
    key = f"{kind}:{c.ticket_no}:{c.level}"
    try:
        async with session.begin_nested():
            session.add(StaffNotice(region=c.region, role=levels_role, kind=kind,
                                    ref=c.ticket_no, created_at=now, dedupe_key=key,
                                    text=f"{c.ticket_no} ({GRADE_NAMES[grade]}): {title}"))
    except IntegrityError:
        pass  # this level was already told


async def confirm_grade(sessions: async_sessionmaker[AsyncSession], officer: Officer, *,
                        ticket_no: str, grade: str, catalog: Catalog,
                        calendar: WorkingCalendar, now: datetime) -> Complaint:
    """Confirm the proposed grade or change it; starts the first level's clock."""
    if grade not in GRADES:
        raise DeskError(f"grade must be one of {', '.join(GRADES)}")
    if officer.role not in ("complaint_officer", "head_of_office", "admin"):
        raise DeskError("only complaint officers grade complaints", "wrong_role")
    async with sessions() as session, session.begin():
        c = await _ticket(session, officer, ticket_no)
        if c.status == "closed":
            raise DeskError(f"{ticket_no} is closed", "closed")
        before = c.grade or c.proposed_grade
        c.grade, c.level = grade, 0
        first = escalation_rules().levels(c.region, grade)[0]
        c.level_due_on = calendar.due_date(_today(catalog, c.region, now), first.days, "working")
        _log(session, c, officer, ComplaintAction.GRADE, None, now, level=0, grade=grade,
             prev_grade=before)
        await notify_level(session, c, kind="complaint_assigned", now=now)
        return c


async def answer(sessions: async_sessionmaker[AsyncSession], officer: Officer, *,
                 ticket_no: str, text: str, now: datetime) -> Complaint:
    """The officer's answer, sent to the complainant's chat with a reply button."""
    text = text.strip()
    if not ANSWER_MIN <= len(text) <= ANSWER_MAX:
        raise DeskError(f"an answer needs {ANSWER_MIN}-{ANSWER_MAX} characters")
    async with sessions() as session, session.begin():
        c = await _ticket(session, officer, ticket_no)
        if c.status == "closed":
            raise DeskError(f"{ticket_no} is closed", "closed")
        if c.grade is None:
            raise DeskError("confirm the grade before answering", "wrong_order")
        applicant = await session.get(Applicant, c.applicant_id)
        assert applicant is not None
        _log(session, c, officer, ComplaintAction.ANSWER, text, now)
        c.status = "answered"
        t = Translator(c.lang)
        enqueue(session, applicant, OutMessage(
            kind="choices", text=t("complaint.officer_answer", ticket=c.ticket_no, text=text),
            choices=(Choice(choice_id(Kind.COMPLAINT_ANSWER, c.ticket_no),
                            t("complaint.reply_button")),)),
            now=now, priority=PRIORITY_NOTICE, notification_type="complaint_answer")
        return c


async def record_step(sessions: async_sessionmaker[AsyncSession], officer: Officer, *,
                      ticket_no: str, step: int, note: str, catalog: Catalog,
                      now: datetime) -> Complaint:
    """A handling step of the region's published procedure (e.g. Metro's mediation)."""
    async with sessions() as session, session.begin():
        c = await _ticket(session, officer, ticket_no)
        steps = catalog.entry_for_region(c.region).complaints.handling_steps
        if not 0 <= step < len(steps):
            raise DeskError("no such handling step in this region's standard")
        _log(session, c, officer, ComplaintAction.HANDLING_STEP,
             f"{steps[step]}: {note.strip()}", now)
        return c


async def close(sessions: async_sessionmaker[AsyncSession], officer: Officer, *,
                ticket_no: str, resolution_path: str, now: datetime) -> Complaint:
    """Close with the resolution path; the complainant is asked whether it is settled."""
    if resolution_path not in RESOLUTION_PATHS:
        raise DeskError(f"resolution path must be one of {', '.join(RESOLUTION_PATHS)}")
    async with sessions() as session, session.begin():
        c = await _ticket(session, officer, ticket_no)
        if c.status == "closed":
            raise DeskError(f"{ticket_no} is already closed", "closed")
        if not await session.scalar(select(ComplaintMessage.id).where(
                ComplaintMessage.complaint_id == c.id,
                ComplaintMessage.action == ComplaintAction.ANSWER.value)):
            raise DeskError("answer the complainant before closing", "wrong_order")
        applicant = await session.get(Applicant, c.applicant_id)
        assert applicant is not None
        c.status, c.closed_at, c.resolution_path, c.settled = "closed", now, resolution_path, None
        _log(session, c, officer, ComplaintAction.CLOSE, resolution_path, now)
        t = Translator(c.lang)
        enqueue(session, applicant, OutMessage(
            kind="choices", text=t("complaint.ask_settled", ticket=c.ticket_no),
            choices=(Choice(choice_id(Kind.COMPLAINT_SETTLED, c.ticket_no, "yes"),
                            t("complaint.settled_yes")),
                     Choice(choice_id(Kind.COMPLAINT_SETTLED, c.ticket_no, "no"),
                            t("complaint.settled_no")))),
            now=now, priority=PRIORITY_NOTICE, notification_type="complaint_closed")
        return c


async def escalate_overdue(sessions: async_sessionmaker[AsyncSession], *, catalog: Catalog,
                           calendar: WorkingCalendar, now: datetime) -> int:
    """Move every graded, unanswered ticket past its level's deadline up one level."""
    moved = 0
    async with sessions() as session:
        candidates = (await session.scalars(select(Complaint.id).where(
            Complaint.status == "open", Complaint.grade.is_not(None),
            Complaint.level_due_on.is_not(None)))).all()
    for cid in candidates:
        async with sessions() as session, session.begin():
            c = await session.get(Complaint, cid, with_for_update=True)
            if c is None or c.grade is None or c.level_due_on is None or c.status != "open":
                continue
            today = _today(catalog, c.region, now)
            if today <= c.level_due_on:
                continue
            levels = escalation_rules().levels(c.region, c.grade)
            if c.level + 1 >= len(levels):
                # The last level is overdue: say so once; there is nobody above it.
                await notify_level(session, c, kind="complaint_overdue", now=now)
                continue
            c.level += 1
            nxt = levels[c.level]
            c.level_due_on = calendar.due_date(today, nxt.days, "working")
            _log(session, c, None, ComplaintAction.ESCALATE, None, now, level=c.level,
                 grade=c.grade)
            await notify_level(session, c, kind="complaint_escalated", now=now)
            moved += 1
    return moved


async def escalate(sessions: async_sessionmaker[AsyncSession], officer: Officer, *,
                   ticket_no: str, reason: str, catalog: Catalog, calendar: WorkingCalendar,
                   now: datetime) -> Complaint:
    """Move a ticket up one level by hand, before its deadline, with the officer's reason
    (the overdue clock does the same on its own); that level's people are told."""
    reason = " ".join(reason.split())
    if officer.role not in ESCALATE_ROLES:
        raise DeskError("only complaint officers and the head of office escalate",
                        "wrong_role")
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise DeskError(f"a reason needs {REASON_MIN}-{REASON_MAX} characters")
    async with sessions() as session, session.begin():
        c = await _ticket(session, officer, ticket_no)
        if c.status == "closed":
            raise DeskError(f"{ticket_no} is closed", "closed")
        if c.grade is None:
            raise DeskError("confirm the grade before escalating", "wrong_order")
        levels = escalation_rules().levels(c.region, c.grade)
        if c.level + 1 >= len(levels):
            raise DeskError("the ticket is at its chain's last level", "last_level")
        c.level += 1
        c.level_due_on = calendar.due_date(_today(catalog, c.region, now),
                                           levels[c.level].days, "working")
        _log(session, c, officer, ComplaintAction.ESCALATE, reason, now, level=c.level,
             grade=c.grade)
        await notify_level(session, c, kind="complaint_escalated", now=now)
        return c


# --- the complaint book ---------------------------------------------------------------


@dataclass(frozen=True)
class BookRow:
    ticket_no: str
    filed_on: date
    identity: str  # name or "Anonim": never a chat id or number
    kind: str  # complaint | suggestion
    category: str
    grade: str  # the confirmed grade, else the proposal
    proposed: bool  # `grade` is still the system's proposal
    level: int  # 0-based index into the grade's chain
    level_title: str  # who holds it ("" until graded)
    status: str
    due_on: date
    closed_on: date | None


async def book(sessions: async_sessionmaker[AsyncSession], catalog: Catalog, *, region: str,
               start: date | None = None, end: date | None = None, status: str | None = None,
               grade: str | None = None, kind: str | None = None) -> list[BookRow]:
    tz = ZoneInfo(catalog.region(region).timezone)
    q = select(Complaint).where(Complaint.region == region)
    if start:
        q = q.where(Complaint.filed_at >= datetime.combine(start, time.min, tz).astimezone(UTC))
    if end:
        q = q.where(Complaint.filed_at < datetime.combine(end + timedelta(days=1), time.min,
                                                          tz).astimezone(UTC))
    if status:
        q = q.where(Complaint.status == status)
    if grade:
        q = q.where(Complaint.grade == grade)
    if kind:
        q = q.where(Complaint.kind == kind)
    async with sessions() as session:
        rows = (await session.scalars(q.order_by(Complaint.filed_at, Complaint.id))).all()
    return [BookRow(
        ticket_no=c.ticket_no, filed_on=c.filed_at.astimezone(tz).date(), identity=identity(c),
        kind=c.kind, category=c.category,
        grade=c.grade or c.proposed_grade, proposed=c.grade is None, level=c.level,
        level_title=_level_title(c), status=c.status,
        due_on=c.due_on, closed_on=c.closed_at.astimezone(tz).date() if c.closed_at else None,
    ) for c in rows]


BOOK_COLUMNS = ("tiket", "tanggal", "identitas", "jenis", "kategori", "bobot", "tingkat",
                "status", "batas_jawab", "ditutup")


def grade_text(r: BookRow) -> str:
    name = GRADE_NAMES.get(r.grade, r.grade)
    return f"{name} (usulan)" if r.proposed else name


def level_text(r: BookRow) -> str:
    """Levels as people count them (the first is 1), with who holds the ticket."""
    return f"{r.level + 1} · {r.level_title}" if r.level_title else "belum dibobot"


def book_csv(rows: list[BookRow]) -> str:
    """The book as the office reads it: Indonesian names, never stored codes."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(BOOK_COLUMNS)
    for r in rows:
        w.writerow([r.ticket_no, r.filed_on.isoformat(), r.identity,
                    KIND_NAMES.get(r.kind, r.kind), CATEGORY_NAMES.get(r.category, r.category),
                    grade_text(r), level_text(r), STATUS_NAMES.get(r.status, r.status),
                    r.due_on.isoformat(), r.closed_on.isoformat() if r.closed_on else ""])
    return out.getvalue()


@dataclass(frozen=True)
class MonthlyReport:
    region: str
    month: date  # first day
    total: int
    by_kind: dict[str, int]
    by_grade: dict[str, int]
    by_category: dict[str, int]
    by_status: dict[str, int]
    answered_late: int  # closed after their answer deadline, or still open past it
    rows: list[BookRow]


async def monthly_report(sessions: async_sessionmaker[AsyncSession], catalog: Catalog, *,
                         region: str, year: int, month: int, today: date) -> MonthlyReport:
    """The monthly report the head of office receives (Pekanbaru's standard)."""
    first = date(year, month, 1)
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1))
    rows = await book(sessions, catalog, region=region, start=first, end=last)
    late = sum(1 for r in rows if (r.closed_on or today) > r.due_on)
    return MonthlyReport(
        region=region, month=first, total=len(rows),
        by_kind=dict(Counter(r.kind for r in rows)),
        by_grade=dict(Counter(r.grade for r in rows)),
        by_category=dict(Counter(r.category for r in rows)),
        by_status=dict(Counter(r.status for r in rows)),
        answered_late=late, rows=rows)


# --- the desk's pages: tickets, one ticket, the resolution path, notices -------------

DESK_ROLES = ("complaint_officer", "head_of_office", "admin")


@dataclass(frozen=True)
class TicketRow:
    ticket_no: str
    filed_at: datetime
    identity: str  # name or "Anonim"
    kind: str
    category: str
    proposed_grade: str
    grade: str | None
    level: int
    level_title: str  # who holds the ticket now ("" until it is graded)
    level_due_on: date | None
    due_on: date
    status: str
    overdue: bool


def _level_title(c: Complaint) -> str:
    if c.grade is None:
        return ""
    levels = escalation_rules().levels(c.region, c.grade)
    return levels[min(c.level, len(levels) - 1)].title


def _overdue(c: Complaint, today: date) -> bool:
    if c.status == "closed":
        return False
    return today > c.due_on or (c.level_due_on is not None and today > c.level_due_on)


def _row(c: Complaint, today: date) -> TicketRow:
    return TicketRow(ticket_no=c.ticket_no, filed_at=c.filed_at, identity=identity(c),
                     kind=c.kind, category=c.category, proposed_grade=c.proposed_grade,
                     grade=c.grade, level=c.level, level_title=_level_title(c),
                     level_due_on=c.level_due_on, due_on=c.due_on, status=c.status,
                     overdue=_overdue(c, today))


async def tickets(sessions: async_sessionmaker[AsyncSession], catalog: Catalog, *,
                  region: str, now: datetime, status: str | None = None,
                  grade: str | None = None, kind: str | None = None,
                  level: int | None = None, overdue: bool = False,
                  limit: int = 500) -> list[TicketRow]:
    """The desk's list, newest first; `grade="none"` for tickets not graded yet."""
    q = select(Complaint).where(Complaint.region == region)
    if status:
        q = q.where(Complaint.status == status)
    if grade == "none":
        q = q.where(Complaint.grade.is_(None))
    elif grade:
        q = q.where(Complaint.grade == grade)
    if kind:
        q = q.where(Complaint.kind == kind)
    if level is not None:
        q = q.where(Complaint.level == level)
    async with sessions() as session:
        found = (await session.scalars(q.order_by(Complaint.filed_at.desc(),
                                                  Complaint.id.desc()).limit(limit))).all()
    today = _today(catalog, region, now)
    rows = [_row(c, today) for c in found]
    return [r for r in rows if r.overdue] if overdue else rows


@dataclass(frozen=True)
class ThreadEntry:
    at: datetime
    author_kind: str  # complainant | officer | system
    author: str | None  # staff username; never the complainant's name or number
    action: str  # a ComplaintAction value
    text: str | None
    attachments: int
    level: int | None = None  # escalate: the level it moved to (0-based)
    grade: str | None = None  # grade: the grade set
    prev_grade: str | None = None  # grade: the grade before (or the proposal)


@dataclass(frozen=True)
class TicketView:
    """One ticket for an officer: no chat id, number or applicant id, ever."""

    row: TicketRow
    region: str
    profession: str | None
    reg_no: str | None
    about: str
    suggestion_reason: str | None
    resolution_path: str | None
    settled: bool | None
    closed_at: datetime | None
    answered: bool
    thread: list[ThreadEntry]
    levels: list[tuple[str, str, int]]  # (role, title, days) of the ticket's grade
    bases: list[str | None]  # per level, the published sentence it is carried from
    handling_steps: list[str]  # the region's published steps (Metro), else empty


async def ticket_view(sessions: async_sessionmaker[AsyncSession], catalog: Catalog, *,
                      region: str, ticket_no: str, now: datetime) -> TicketView:
    async with sessions() as session:
        c = await session.scalar(select(Complaint).where(Complaint.ticket_no == ticket_no,
                                                         Complaint.region == region))
        if c is None:
            raise DeskError(f"{ticket_no}: no such ticket in your region", "not_found")
        messages = (await session.scalars(select(ComplaintMessage).where(
            ComplaintMessage.complaint_id == c.id).order_by(ComplaintMessage.id))).all()
    thread = [ThreadEntry(at=m.at, author_kind=m.author_kind,
                          author=m.author if m.author_kind == "officer" else None,
                          action=m.action, text=m.text,
                          attachments=len((m.attachments or {}).get("sha256", [])),
                          level=m.level, grade=m.grade, prev_grade=m.prev_grade)
              for m in messages]
    grade = c.grade or c.proposed_grade
    return TicketView(
        row=_row(c, _today(catalog, region, now)), region=c.region, profession=c.profession,
        # An application's number leads to its holder: not shown for anonymous tickets.
        reg_no=None if c.anonymous else c.reg_no, about=c.about,
        suggestion_reason=c.suggestion_reason,
        resolution_path=c.resolution_path, settled=c.settled, closed_at=c.closed_at,
        answered=any(m.action == ComplaintAction.ANSWER.value for m in messages), thread=thread,
        levels=[(lv.role, lv.title, lv.days)
                for lv in escalation_rules().levels(c.region, grade)],
        bases=[lv.basis for lv in escalation_rules().levels(c.region, grade)],
        handling_steps=list(catalog.entry_for_region(c.region).complaints.handling_steps))


async def choose_path(sessions: async_sessionmaker[AsyncSession], officer: Officer, *,
                      ticket_no: str, resolution_path: str, now: datetime) -> Complaint:
    """Record how the ticket is being resolved (internal, technical team/agency, APIP)."""
    if resolution_path not in RESOLUTION_PATHS:
        raise DeskError(f"resolution path must be one of {', '.join(RESOLUTION_PATHS)}")
    async with sessions() as session, session.begin():
        c = await _ticket(session, officer, ticket_no)
        if c.status == "closed":
            raise DeskError(f"{ticket_no} is closed", "closed")
        c.resolution_path = resolution_path
        _log(session, c, officer, ComplaintAction.PATH, resolution_path, now)
        return c


async def notices(sessions: async_sessionmaker[AsyncSession], *, region: str, role: str,
                  unread_only: bool = False, ref: str | None = None,
                  limit: int = 100) -> list[StaffNotice]:
    """The staff notices for a role of a region (an admin sees every role's)."""
    q = select(StaffNotice).where(StaffNotice.region == region)
    if role != "admin":
        q = q.where(StaffNotice.role == role)
    if unread_only:
        q = q.where(StaffNotice.read_at.is_(None))
    if ref:
        q = q.where(StaffNotice.ref == ref)
    async with sessions() as session:
        return list((await session.scalars(q.order_by(StaffNotice.id.desc())
                                           .limit(limit))).all())


async def mark_read(sessions: async_sessionmaker[AsyncSession], officer: Officer, *,
                    notice_id: int, now: datetime) -> StaffNotice:
    async with sessions() as session, session.begin():
        n = await session.get(StaffNotice, notice_id, with_for_update=True)
        if n is None or n.region != officer.region or (
                officer.role != "admin" and n.role != officer.role):
            raise DeskError("no such notice for your role", "not_found")
        if n.read_at is None:
            n.read_at = now
        return n
