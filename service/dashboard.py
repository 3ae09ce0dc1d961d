"""The head of office's dashboard: files per step and overdue, work per officer, and per
step the SOP's standard time against the median actual time, for one month.

Every figure is one SQL aggregate (GROUP BY, window functions), never a Python loop
over a region's rows: the month's events are found through `ix_application_events_at`,
their files by primary key, a stay's start through the events' `application_id` index.
Times are wall-clock elapsed time (a step that waits over a weekend shows it).

A *stay* is one visit of a file to a step: it starts with the event that moved the
file there (its submission, a hand-over, a return) and ends with the event that moved
it on. A stay counts in the month it ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Select, and_, cast, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from licensing.catalog import Catalog, DayUnit, Duration, ProcedureStep
from storage.models import Application, ApplicationEvent, Staff

# Files still being worked: a decision taken but the permit not issued yet counts.
ACTIVE = ("open", "approved")
STAFF_ROLES_EXCLUDED = ("applicant", "system")


@dataclass(frozen=True)
class StepRow:
    profession: str  # slug
    step: ProcedureStep
    waiting: int  # active files at this step now
    overdue: int  # of those, past their deadline
    standard_minutes: float | None  # the SOP's time for the step, if published
    median_minutes: float | None  # the month's median stay, if any ended there
    stays: int  # stays that ended at this step in the month

    @property
    def over_standard(self) -> bool | None:
        if self.standard_minutes is None or self.median_minutes is None:
            return None
        return self.median_minutes > self.standard_minutes


@dataclass(frozen=True)
class OfficerRow:
    username: str
    full_name: str | None  # None for an account that no longer exists
    role: str
    actions: int  # control-card entries in the month
    files: int  # distinct files acted on
    handovers: int  # actions that moved a file to another step


@dataclass(frozen=True)
class FileStay:
    step: ProcedureStep
    entered: datetime
    left: datetime | None  # None: the file is still there
    minutes: float | None
    standard_minutes: float | None
    by: str | None  # who moved it on


@dataclass(frozen=True)
class Dashboard:
    region: str
    month: date  # its first day
    today: date
    steps: list[StepRow]
    officers: list[OfficerRow]
    total_waiting: int
    total_overdue: int


def standard_minutes(duration: Duration | None) -> float | None:
    """The SOP's time as minutes; a day as 24 hours, since actual times are wall-clock
    (a "1 hari kerja" step left on Friday afternoon and done on Monday shows as over)."""
    if duration is None:
        return None
    if duration.minutes is not None:
        return float(duration.minutes)
    if duration.days is not None:
        return float(duration.days * 24 * 60)
    return None


def duration_text(minutes: float | None) -> str:
    """Elapsed time as people say it: 35 menit, 2 jam 5 menit, 3 hari 4 jam."""
    if minutes is None:
        return "—"
    m = round(minutes)
    if m < 60:
        return f"{m} menit"
    hours, mins = divmod(m, 60)
    if hours < 24:
        return f"{hours} jam" + (f" {mins} menit" if mins else "")
    days, hours = divmod(hours, 24)
    return f"{days} hari" + (f" {hours} jam" if hours else "")


def standard_text(d: Duration | None) -> str:
    if d is None:
        return "—"
    if d.minutes is not None:
        return f"{d.minutes} menit"
    unit = "kerja" if d.unit is DayUnit.WORKING else "kalender"
    return f"{d.days} hari {unit}"


def month_bounds(month: date, tz: str) -> tuple[datetime, datetime]:
    """The month's first and the next month's first instant, local midnight, as UTC."""
    first = month.replace(day=1)
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    zone = ZoneInfo(tz)
    return (datetime.combine(first, time.min, zone).astimezone(UTC),
            datetime.combine(nxt, time.min, zone).astimezone(UTC))


def _seconds_between(dialect: str, later: ColumnElement[datetime],
                     earlier: ColumnElement[datetime]) -> ColumnElement[float]:
    if dialect == "postgresql":
        return cast(func.extract("epoch", later - earlier), Float)
    # julianday() is a float of days: round off its sub-millisecond noise.
    return cast(func.round((func.julianday(later) - func.julianday(earlier)) * 86400.0, 3),
                Float)


def _moves(ev: Any) -> ColumnElement[bool]:  # ApplicationEvent or an alias of it
    """An event that moved a file to another step (a submission has no from_step)."""
    return or_(ev.from_step.is_(None), ev.from_step != ev.to_step)


async def step_counts(session: AsyncSession, *, region: str,
                      today: date) -> dict[tuple[str, str], tuple[int, int]]:
    """(profession, step) -> (active files there, of which overdue)."""
    rows = (await session.execute(counts_statement(region=region, today=today))).all()
    return {(p, s): (n, late) for p, s, n, late in rows}


def counts_statement(*, region: str, today: date) -> Select[str, str, int, int]:
    # Answered from ix_applications_dashboard alone, reading active files only.
    return (select(Application.profession, Application.step_code, func.count(),
                   func.count().filter(Application.due_on < today))
            .where(Application.region == region, Application.status.in_(ACTIVE))
            .group_by(Application.profession, Application.step_code))


def _month_events(start: datetime, end: datetime) -> Any:
    """The month's events, read first through the time index (MATERIALIZED: neither
    planner may start from a region's files instead, whose count grows without end)."""
    e = ApplicationEvent
    return (select(e.id, e.application_id, e.at, e.actor, e.role, e.from_step, e.to_step)
            .where(e.at >= start, e.at < end)
            .cte("month_events").prefix_with("MATERIALIZED"))


def median_statement(dialect: str, *, region: str, start: datetime,
                     end: datetime) -> Select[Any]:
    """(profession, step, median seconds, stays) for stays ending in [start, end)."""
    leave = _month_events(start, end)
    enter = aliased(ApplicationEvent, name="enter")
    entered_at = (select(func.max(enter.at))
                  .where(enter.application_id == leave.c.application_id,
                         enter.id < leave.c.id, enter.to_step == leave.c.from_step,
                         _moves(enter))
                  .scalar_subquery())
    stays = (select(Application.profession.label("profession"),
                    leave.c.from_step.label("step"), leave.c.at.label("left_at"),
                    entered_at.label("entered_at"))
             .join(Application, Application.id == leave.c.application_id)
             .where(Application.region == region, leave.c.from_step.is_not(None),
                    leave.c.from_step != leave.c.to_step)
             # Computed once per stay (a subquery would be flattened and the correlated
             # lookup repeated for each use of its result).
             .cte("stays").prefix_with("MATERIALIZED"))
    seconds = _seconds_between(dialect, stays.c.left_at, stays.c.entered_at)
    ranked = (select(stays.c.profession, stays.c.step, seconds.label("seconds"),
                     func.row_number().over(partition_by=(stays.c.profession, stays.c.step),
                                            order_by=seconds).label("rn"),
                     func.count().over(partition_by=(stays.c.profession, stays.c.step))
                     .label("n"))
              .where(stays.c.entered_at.is_not(None))
              .subquery("ranked"))
    # The median: the middle row, or the mean of the two middle rows.
    lo = (ranked.c.n + 1) // 2
    hi = (ranked.c.n + 2) // 2
    return (select(ranked.c.profession, ranked.c.step, func.avg(ranked.c.seconds),
                   func.max(ranked.c.n))
            .where(or_(ranked.c.rn == lo, ranked.c.rn == hi))
            .group_by(ranked.c.profession, ranked.c.step))


async def median_stays(session: AsyncSession, *, region: str, start: datetime,
                       end: datetime) -> dict[tuple[str, str], tuple[float, int]]:
    """(profession, step) -> (median minutes, number of stays) for stays ending in
    [start, end)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # The correlated lookup's estimated cost makes PostgreSQL JIT-compile the query:
        # ~2 s of compiling for well under 1 s of work (EXPLAIN ANALYZE, 100k files).
        await session.execute(text("SET LOCAL jit = off"))
    q = median_statement(dialect, region=region, start=start, end=end)
    rows = (await session.execute(q)).all()
    return {(p, s): (float(sec) / 60.0, int(n)) for p, s, sec, n in rows}


def officer_statement(*, region: str, start: datetime, end: datetime) -> Select[Any]:
    e = _month_events(start, end)
    return (select(e.c.actor, e.c.role, Staff.full_name, func.count(),
                   func.count(e.c.application_id.distinct()),
                   func.count().filter(and_(e.c.from_step.is_not(None),
                                            e.c.from_step != e.c.to_step)))
            .join(Application, Application.id == e.c.application_id)
            .outerjoin(Staff, Staff.username == e.c.actor)
            .where(Application.region == region, e.c.role.not_in(STAFF_ROLES_EXCLUDED))
            .group_by(e.c.actor, e.c.role, Staff.full_name)
            .order_by(func.count().desc(), e.c.actor))


async def officer_work(session: AsyncSession, *, region: str, start: datetime,
                       end: datetime) -> list[OfficerRow]:
    rows = (await session.execute(officer_statement(region=region, start=start,
                                                    end=end))).all()
    return [OfficerRow(actor, name, role, n, files, moves)
            for actor, role, name, n, files, moves in rows]


async def dashboard(session: AsyncSession, catalog: Catalog, *, region: str, month: date,
                    now: datetime) -> Dashboard:
    tz = catalog.region(region).timezone
    today = now.astimezone(ZoneInfo(tz)).date()
    start, end = month_bounds(month, tz)
    counts = await step_counts(session, region=region, today=today)
    medians = await median_stays(session, region=region, start=start, end=end)
    steps: list[StepRow] = []
    for entry in catalog:
        if entry.region.slug != region:
            continue
        prof = entry.profession.slug
        for step in entry.procedure:
            waiting, late = counts.get((prof, step.code), (0, 0))
            median, n = medians.get((prof, step.code), (None, 0))
            steps.append(StepRow(prof, step, waiting, late, standard_minutes(step.duration),
                                 median, n))
    return Dashboard(region=region, month=month.replace(day=1), today=today, steps=steps,
                     officers=await officer_work(session, region=region, start=start,
                                                 end=end),
                     total_waiting=sum(n for n, _ in counts.values()),
                     total_overdue=sum(late for _, late in counts.values()))


async def file_times(session: AsyncSession, catalog: Catalog, *, application: Application,
                     now: datetime) -> list[FileStay]:
    """One file's stays, step by step (a handful of events: read in full)."""
    entry = catalog.get(application.region, application.profession)
    events = (await session.scalars(select(ApplicationEvent).where(
        ApplicationEvent.application_id == application.id).order_by(ApplicationEvent.id))).all()
    stays: list[FileStay] = []
    current: tuple[str, datetime] | None = None
    for ev in events:
        moved = ev.from_step is None or ev.from_step != ev.to_step
        if not moved or ev.to_step is None:
            continue
        if current is not None:
            code, since = current
            stays.append(_stay(entry.step(code), since, ev.at, ev.actor))
        current = (ev.to_step, ev.at)
    if current is not None:
        code, since = current
        stays.append(_stay(entry.step(code), since, None, None))
    return stays


def _stay(step: ProcedureStep, entered: datetime, left: datetime | None,
          by: str | None) -> FileStay:
    minutes = (left - entered).total_seconds() / 60.0 if left is not None else None
    return FileStay(step, entered, left, minutes, standard_minutes(step.duration), by)

