"""Reminders the system sends on its own, once per occasion (`bot/jobs.py` runs them).

Each kind is configured in notifications/reminders.yaml (days, template key). "Once"
holds across restarts and processes because every reminder is an INSERT … ON CONFLICT
DO NOTHING on a dedupe key naming (kind, object, occasion): the outbox row for an
applicant, a StaffNotice for officers (staff have no chat accounts).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.flows.apply import applicable_uploads
from conversations.i18n import Translator
from conversations.types import OutMessage
from licensing.catalog import Catalog, Role
from licensing.complaints import escalation_rules
from notifications.once import insert_once
from service import permits
from service.outbox import PRIORITY_BULK
from storage.models import (
    Applicant,
    Application,
    ApplicationDocument,
    ApplicationEvent,
    Complaint,
    Conversation,
    OutboxMessage,
    Permit,
    StaffNotice,
)

log = logging.getLogger(__name__)

CONFIG_FILE = Path(__file__).with_name("reminders.yaml")
PAGE = 1000


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AfterDays(_Cfg):
    days: tuple[int, ...] = Field(min_length=1)
    template: str


class PermitUndelivered(_Cfg):
    days: int = Field(ge=1)


class BeforeDays(_Cfg):
    days_before: tuple[int, ...] = Field(min_length=1)
    template: str


class Deadline(_Cfg):
    days_before: tuple[int, ...] = ()
    overdue: bool = True


class ReminderConfig(_Cfg):
    scans_missing: AfterDays
    document_rejected: AfterDays
    permit_undelivered: PermitUndelivered
    permit_expiring: BeforeDays
    application_deadline: Deadline
    complaint_deadline: Deadline

    @staticmethod
    def load(path: Path | None = None) -> ReminderConfig:
        data = yaml.safe_load((path or CONFIG_FILE).read_text(encoding="utf-8"))
        return ReminderConfig.model_validate(data)


def _reached(age_days: int, thresholds: tuple[int, ...]) -> int | None:
    """The largest threshold `age_days` has reached (one occasion, not all of them)."""
    reached = [d for d in thresholds if age_days >= d]
    return max(reached) if reached else None


def _ahead(days_left: int, thresholds: tuple[int, ...]) -> int | None:
    """The smallest "N days before" window `days_left` is in."""
    inside = [d for d in thresholds if 0 <= days_left <= d]
    return min(inside) if inside else None


@dataclass
class _Run:
    sessions: async_sessionmaker[AsyncSession]
    catalog: Catalog
    config: ReminderConfig
    now: datetime

    def __post_init__(self) -> None:
        self.zones: dict[str, str] = {r.slug: r.timezone for r in self.catalog.regions()}

    def today(self, region: str) -> date:
        return self.now.astimezone(ZoneInfo(self.zones.get(region, "Asia/Jakarta"))).date()

    def outbox_row(self, applicant: Applicant, text: str, *, key: str, kind: str,
                   region: str | None) -> dict[str, Any]:
        return dict(applicant_id=applicant.id, channel=applicant.channel,
                    chat_id=applicant.external_id,
                    payload=OutMessage(kind="text", text=text).to_payload(),
                    priority=PRIORITY_BULK, status="pending", attempts=0,
                    next_attempt_at=self.now, created_at=self.now, dedupe_key=key,
                    notification_type=f"reminder_{kind}", urgent=False,
                    quiet_tz=self.zones.get(region or ""))

    async def insert(self, model: Any, rows: list[dict[str, Any]]) -> int:
        if not rows:
            return 0
        async with self.sessions() as session, session.begin():
            return await insert_once(session, model, rows)

    # --- applicants ----------------------------------------------------------------

    async def scans_missing(self) -> int:
        cfg = self.config.scans_missing
        rows: list[dict[str, Any]] = []
        last = 0
        while True:
            async with self.sessions() as session:
                page = (await session.execute(
                    select(Conversation.applicant_id, Conversation.state, Applicant)
                    .join(Applicant, Applicant.id == Conversation.applicant_id)
                    .where(Conversation.applicant_id > last, Applicant.unreachable_at.is_(None))
                    .order_by(Conversation.applicant_id).limit(PAGE))).all()
            if not page:
                break
            last = page[-1][0]
            for applicant_id, state, applicant in page:
                row = self._scans_missing_one(applicant_id, state or {}, applicant, cfg)
                if row is not None:
                    rows.append(row)
        return await self.insert(OutboxMessage, rows)

    def _scans_missing_one(self, applicant_id: int, state: dict[str, Any],
                           applicant: Applicant, cfg: AfterDays) -> dict[str, Any] | None:
        draft = (state.get("data") or {}).get("draft") or {}
        started = draft.get("started_at")
        entry = self.catalog.find(draft.get("region", ""), draft.get("profession", ""))
        if not started or entry is None:
            return None
        age = (self.now - datetime.fromisoformat(started)).days
        days = _reached(age, cfg.days)
        if days is None:
            return None
        scans = draft.get("scans") or {}
        missing = [r.title for r in applicable_uploads(entry, draft.get("conditions") or {})
                   if r.code not in scans]
        if not missing:
            return None
        text = Translator(state.get("lang") or applicant.lang)(
            cfg.template, service=entry.service, days=days, missing=missing)
        return self.outbox_row(applicant, text, kind="scans_missing", region=entry.region.slug,
                               key=f"reminder:scans_missing:{applicant_id}:{started}:{days}")

    async def document_rejected(self) -> int:
        cfg = self.config.document_rejected
        async with self.sessions() as session:
            last_event = (select(ApplicationEvent.application_id,
                                 func.max(ApplicationEvent.at).label("at"))
                          .group_by(ApplicationEvent.application_id).subquery())
            found = (await session.execute(
                select(ApplicationDocument, Application, Applicant, last_event.c.at)
                .join(Application, Application.id == ApplicationDocument.application_id)
                .join(Applicant, Applicant.id == Application.applicant_id)
                .outerjoin(last_event, last_event.c.application_id == Application.id)
                .where(ApplicationDocument.review == "rejected",
                       Application.status == "open",
                       Applicant.unreachable_at.is_(None)))).all()
        rows = []
        for doc, application, applicant, event_at in found:
            # The rejection is an office action on the control card; the card's latest
            # entry (or the upload, if later) is when the file was sent back.
            since = max(doc.uploaded_at, event_at) if event_at else doc.uploaded_at
            days = _reached((self.now - since).days, cfg.days)
            if days is None:
                continue
            entry = self.catalog.find(application.region, application.profession)
            title = next((r.title for r in entry.requirements
                          if r.code == doc.requirement_code), doc.requirement_code) \
                if entry else doc.requirement_code
            text = Translator(application.lang)(cfg.template, reg_no=application.reg_no,
                                                title=title, reason=doc.review_reason or "",
                                                days=days)
            rows.append(self.outbox_row(
                applicant, text, kind="document_rejected", region=application.region,
                key=f"reminder:document_rejected:{doc.id}:{doc.blob_sha256[:16]}:{days}"))
        return await self.insert(OutboxMessage, rows)

    async def permit_expiring(self) -> int:
        cfg = self.config.permit_expiring
        horizon = self.now.date() + timedelta(days=max(cfg.days_before) + 1)
        async with self.sessions() as session:
            found = (await session.execute(
                select(Permit, Application, Applicant)
                .join(Application, Application.id == Permit.application_id)
                .join(Applicant, Applicant.id == Application.applicant_id)
                .where(Permit.status == "issued", Permit.valid_until.is_not(None),
                       Permit.valid_until <= horizon,
                       Applicant.unreachable_at.is_(None)))).all()
        rows = []
        for permit, application, applicant in found:
            assert permit.valid_until is not None
            left = (permit.valid_until - self.today(permit.region)).days
            days = _ahead(left, cfg.days_before)
            if days is None:
                continue
            text = Translator(application.lang)(cfg.template, number=permit.number,
                                                valid_until=permit.valid_until, days=left)
            rows.append(self.outbox_row(applicant, text, kind="permit_expiring",
                                        region=permit.region,
                                        key=f"reminder:permit_expiring:{permit.id}:{days}"))
        return await self.insert(OutboxMessage, rows)

    # --- officers ------------------------------------------------------------------

    def _deadline_occasion(self, cfg: Deadline, due: date, today: date) -> str | None:
        if today > due:
            return "passed" if cfg.overdue else None
        days = _ahead((due - today).days, cfg.days_before)
        return f"due_in_{days}" if days is not None else None

    async def application_deadlines(self) -> int:
        cfg = self.config.application_deadline
        async with self.sessions() as session:
            apps = (await session.scalars(select(Application).where(
                Application.status == "open", Application.due_on.is_not(None)))).all()
        rows = []
        for a in apps:
            assert a.due_on is not None
            occasion = self._deadline_occasion(cfg, a.due_on, self.today(a.region))
            entry = self.catalog.find(a.region, a.profession)
            if occasion is None or entry is None:
                continue
            try:
                role = entry.step(a.step_code).role
            except KeyError:
                continue
            if role == Role.APPLICANT:
                continue  # the applicant's turn: nobody in the office holds it
            when = "sudah lewat" if occasion == "passed" else f"tinggal {occasion[7:]} hari"
            rows.append(dict(
                region=a.region, role=role.value, kind=f"deadline_{occasion.split('_')[0]}",
                ref=a.reg_no, created_at=self.now,
                text=f"{a.reg_no}: batas waktu {a.due_on.isoformat()} {when} "
                     f"(tahap {a.step_code})",
                dedupe_key=f"reminder:app_deadline:{a.id}:{a.step_code}:{a.due_on}:{occasion}"))
        return await self.insert(StaffNotice, rows)

    async def complaint_deadlines(self) -> int:
        cfg = self.config.complaint_deadline
        rules = escalation_rules()
        async with self.sessions() as session:
            found = (await session.scalars(select(Complaint).where(
                Complaint.status == "open"))).all()
        rows = []
        for c in found:
            due = c.level_due_on or c.due_on
            occasion = self._deadline_occasion(cfg, due, self.today(c.region))
            if occasion is None:
                continue
            role = "complaint_officer"
            if c.grade is not None:
                levels = rules.levels(c.region, c.grade)
                role = levels[min(c.level, len(levels) - 1)].role
            when = "sudah lewat" if occasion == "passed" else f"tinggal {occasion[7:]} hari"
            rows.append(dict(
                region=c.region, role=role, kind=f"complaint_due_{occasion.split('_')[0]}",
                ref=c.ticket_no, created_at=self.now,
                text=f"Pengaduan {c.ticket_no}: batas waktu {due.isoformat()} {when}",
                dedupe_key=f"reminder:complaint_deadline:{c.id}:{c.level}:{due}:{occasion}"))
        return await self.insert(StaffNotice, rows)


async def run(sessions: async_sessionmaker[AsyncSession], catalog: Catalog, *,
              now: datetime, config: ReminderConfig | None = None) -> dict[str, int]:
    """One pass over every reminder kind; returns how many were queued of each."""
    r = _Run(sessions, catalog, config or ReminderConfig.load(), now)
    done = {
        "scans_missing": await r.scans_missing(),
        "document_rejected": await r.document_rejected(),
        "permit_reminders": await permits.remind_undelivered(
            sessions, now=now, after=timedelta(days=r.config.permit_undelivered.days),
            timezones=r.zones),
        "permit_expiring": await r.permit_expiring(),
        "application_deadlines": await r.application_deadlines(),
        "complaint_deadlines": await r.complaint_deadlines(),
    }
    return done
