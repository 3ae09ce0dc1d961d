"""The officer's queue: filtered, sorted and paged in the database.

Work proportional to the page, not to the table: the region/step index narrows the
files, the database sorts and cuts one page (LIMIT/OFFSET on an indexed order), and the
per-file document counts are asked for the page's rows only. Whose work a file is
lives in one small function, `whose_work`, so the rule can change (positions) in one
place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from licensing.calendar import WorkingCalendar
from licensing.catalog import Catalog, CatalogEntry, ProcedureStep
from storage.models import Application, ApplicationDocument, ApplicationEvent

PAGE_SIZE = 50
CLOSED = ("rejected", "withdrawn", "revoked")


class Actor(Protocol):
    @property
    def role(self) -> str: ...
    @property
    def region(self) -> str: ...


class QueueSort(StrEnum):
    WAITING = "waiting"  # longest at its step first
    DEADLINE = "deadline"  # nearest due date first; files without one last
    REG_NO = "reg_no"


@dataclass(frozen=True)
class QueueFilter:
    step: str | None = None
    profession: str | None = None
    overdue: bool = False
    submitted_from: date | None = None  # in the region's time zone, inclusive
    submitted_to: date | None = None
    sort: QueueSort = QueueSort.WAITING
    page: int = 1  # 1-based


@dataclass(frozen=True)
class QueueRow:
    reg_no: str
    full_name: str
    profession: str
    step: ProcedureStep
    step_since: datetime
    submitted_at: datetime
    due_on: date | None
    days_left: int | None
    overdue: bool
    waiting_for_applicant: bool
    status: str


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    page: int
    has_next: bool
    # (code, step) of every step this actor works on in the region: the step filter.
    steps: list[ProcedureStep] = field(default_factory=list)


def my_steps(catalog: Catalog, actor: Actor) -> dict[str, list[ProcedureStep]]:
    """Per profession of the actor's region, the office steps performed by a position
    the actor holds (the standard names each step's position, as its SOP does)."""
    held: frozenset[str] = frozenset(getattr(actor, "positions", ()))
    out: dict[str, list[ProcedureStep]] = {}
    for entry in catalog:
        if entry.region.slug != actor.region:
            continue
        steps = [s for s in entry.office_steps if s.position in held]
        if steps:
            out[entry.profession.slug] = steps
    return out


def whose_work(steps: Mapping[str, list[ProcedureStep]]) -> ColumnElement[bool]:
    """The files at a step the actor performs: (profession, step) pairs from the catalog.
    The one place that decides whose work a file is (the region is added by the caller)."""
    if not steps:
        return false()
    return or_(*[and_(Application.profession == profession,
                      Application.step_code.in_([s.code for s in codes]))
                 for profession, codes in steps.items()])


def _finished_at_last_step(catalog: Catalog, region: str) -> ColumnElement[bool] | None:
    """A file at the procedure's very last step whose completing action is recorded
    stays there, finished: not work. Only those steps pay for the lookup."""
    ends: list[ColumnElement[bool]] = []
    for entry in catalog:
        if entry.region.slug != region or not entry.procedure:
            continue
        last = entry.procedure[-1]
        required = [a for a in last.actions if a not in ("site_visit", "reject")]
        if last in entry.office_steps and required:
            ends.append(and_(
                Application.profession == entry.profession.slug,
                Application.step_code == last.code,
                exists().where(ApplicationEvent.application_id == Application.id,
                               ApplicationEvent.from_step == last.code,
                               ApplicationEvent.action == required[-1],
                               ApplicationEvent.at >= Application.step_since)))
    return or_(*ends) if ends else None


def _instant(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tz).astimezone(UTC)


def local_today(catalog: Catalog, region: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(catalog.region(region).timezone)).date()


async def page(session: AsyncSession, *, catalog: Catalog, calendar: WorkingCalendar,
               actor: Actor, now: datetime, want: QueueFilter = QueueFilter(),
               size: int = PAGE_SIZE) -> QueuePage:
    steps = my_steps(catalog, actor)
    all_steps = list({s.code: s for ss in steps.values() for s in ss}.values())
    if want.profession:
        steps = {p: s for p, s in steps.items() if p == want.profession}
    if want.step:
        steps = {p: [s for s in ss if s.code == want.step] for p, ss in steps.items()}
        steps = {p: ss for p, ss in steps.items() if ss}
    if not steps:
        return QueuePage([], 1, False, all_steps)
    region = actor.region
    tz = ZoneInfo(catalog.region(region).timezone)
    today = now.astimezone(tz).date()
    where: list[ColumnElement[bool]] = [Application.region == region, whose_work(steps),
                                        Application.status.not_in(CLOSED)]
    finished = _finished_at_last_step(catalog, region)
    if finished is not None:
        where.append(~finished)
    if want.overdue:
        # Overdue = the due date has passed in the region (days left below zero).
        where.append(Application.due_on < today)
    if want.submitted_from:
        where.append(Application.submitted_at >= _instant(want.submitted_from, tz))
    if want.submitted_to:
        where.append(Application.submitted_at
                     < _instant(want.submitted_to + timedelta(days=1), tz))
    # The officer's files first (region/step index), then sort and cut the page. The
    # OFFSET 0 fence keeps PostgreSQL from walking a whole-table index in the sort's
    # order instead (reg_no's unique index, filtering 50,000 rows for a month's files).
    mine = (select(Application.id, Application.reg_no, Application.full_name,
                   Application.profession, Application.step_code, Application.step_since,
                   Application.submitted_at, Application.due_on, Application.status)
            .where(*where).offset(0).subquery())
    orders: dict[QueueSort, list[Any]] = {
        QueueSort.WAITING: [mine.c.step_since, mine.c.id],
        QueueSort.DEADLINE: [mine.c.due_on.is_(None), mine.c.due_on, mine.c.step_since,
                             mine.c.id],
        QueueSort.REG_NO: [mine.c.reg_no],
    }
    number = max(1, want.page)
    found = (await session.execute(
        select(mine).order_by(*orders[want.sort]).offset((number - 1) * size)
        .limit(size + 1))).all()
    has_next = len(found) > size
    found = found[:size]
    counts = await _document_counts(session, [r[0] for r in found])
    rows = []
    for (app_id, reg_no, full_name, profession, step_code, step_since, submitted_at, due_on,
         status) in found:
        entry: CatalogEntry | None = catalog.find(region, profession)
        if entry is None:
            continue
        left = (calendar.days_left(today, due_on, entry.deadline.unit.value)
                if due_on else None)
        rejected, pending = counts.get(app_id, (0, 0))
        rows.append(QueueRow(reg_no, full_name, entry.profession.name, entry.step(step_code),
                             step_since, submitted_at, due_on, left,
                             left is not None and left < 0, bool(rejected) and not pending,
                             status))
    return QueuePage(rows, number, has_next, all_steps)


async def _document_counts(session: AsyncSession,
                           app_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Rejected and pending scans of the page's files only (the documents' unique index
    on application_id, requirement_code serves it)."""
    if not app_ids:
        return {}
    doc = ApplicationDocument
    result = await session.execute(
        select(doc.application_id,
               func.count().filter(doc.review == "rejected"),
               func.count().filter(doc.review == "pending"))
        .where(doc.application_id.in_(app_ids)).group_by(doc.application_id))
    return {a: (int(r), int(p)) for a, r, p in result.all()}
