"""The office's procedure: each file sits at one catalog step; only that step's role in
the file's region may act on it, and only with the actions the step lists.

Rules read from the catalog (`ProcedureStep.actions`), nothing per region in code:

- A step's actions are done in the order listed. `site_visit` (a note) and `reject`
  (a decision) are optional and may come at any time; the last other action moves the
  file to the next office step (`CatalogEntry.next_office_step`). After the last office
  step the file moves to the following applicant step (collect, survey, download).
- `check_files` is done when every uploaded document is accepted. Rejections go to the
  applicant as one message; re-uploads come back to the same step.
- The receipt (tanda terima) is given when all files are accepted at a step that lists
  `receipt`, or where no office step lists it (Metro); where a later step lists it
  (Purwakarta's "tanda_terima") the officer gives it there. It starts the deadline when
  the catalog's `starts_on` is `files_complete`; `technical_complete` starts it at the
  `technical_review` (or, without one, the `recommend`) action.
- The decision is `approve` where the procedure has one, otherwise `sign` (Pekanbaru,
  Metro, Lubuklinggau): status "approved" and a pending permit (service.permits) in the
  same transaction. Later steps (signing after a decision, numbering) are recorded on
  the control card; the permit's number itself is given by service.permits when it is
  produced, and the `number` action records it (or that it will be given on issue).

Every function is keyword-only and runs one transaction; a refusal raises `OfficeError`
before anything is written. Every action appends one `ApplicationEvent` (the control
card); nothing here updates or deletes one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from conversations.i18n import Translator
from conversations.types import Choice, OutMessage
from conversations.vocab import Kind, cid
from licensing.calendar import WorkingCalendar
from licensing.catalog import Catalog, CatalogEntry, ProcedureStep, Role
from service.applications import start_clock
from service.outbox import PRIORITY_NOTICE, enqueue
from service.permits import request_permit
from storage.models import Applicant, Application, ApplicationDocument, ApplicationEvent, Permit

OPTIONAL = frozenset({"site_visit", "reject"})
NOTE_REQUIRED = frozenset({"reject", "site_visit", "technical_review", "recommend"})
RECOMMENDATIONS = {"setuju": "setuju (izin diberikan)", "tolak": "tolak (izin ditolak)"}
CLOSED = frozenset({"rejected", "withdrawn", "revoked"})
# Roles that see a NIK in full: the front office checks it against the KTP, the head of
# office signs for the person. Everyone else sees it masked.
NIK_ROLES = frozenset({Role.FRONT_OFFICE.value, Role.HEAD_OF_OFFICE.value})

ACTION_NAMES = {
    "check_files": "Pemeriksaan berkas", "receipt": "Tanda terima berkas",
    "technical_review": "Kajian teknis", "site_visit": "Catatan peninjauan lapangan",
    "recommend": "Rekomendasi teknis", "draft": "Draf izin disusun",
    "initial": "Paraf draf izin", "sign": "Tanda tangan", "approve": "Setujui permohonan",
    "reject": "Tolak permohonan", "number": "Penomoran izin", "hand_over": "Penyerahan berkas",
    "submit": "Permohonan diajukan", "resubmit": "Perbaikan berkas dikirim",
}


class OfficeError(Exception):
    """A refused office action; `code` says which rule, the message says why (Indonesian)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class Actor(Protocol):
    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def region(self) -> str: ...


def mask_nik(nik: str, role: str) -> str:
    if role in NIK_ROLES or len(nik) < 8:
        return nik
    return nik[:4] + "•" * (len(nik) - 8) + nik[-4:]


def required_actions(step: ProcedureStep) -> tuple[str, ...]:
    return tuple(a for a in step.actions if a not in OPTIONAL)


def completing_action(step: ProcedureStep) -> str | None:
    required = required_actions(step)
    return required[-1] if required else None


def decides_by_sign(entry: CatalogEntry) -> bool:
    return not any("approve" in s.actions for s in entry.office_steps)


def receipt_here(entry: CatalogEntry, step: ProcedureStep) -> bool:
    """Whether accepting every file at `step` is itself the receipt."""
    return "receipt" in step.actions or not any("receipt" in s.actions
                                                for s in entry.office_steps)


@dataclass(frozen=True)
class FileState:
    """Where a file stands at its current step: what is done, what may be done now."""

    entry: CatalogEntry
    step: ProcedureStep
    done: frozenset[str]
    available: tuple[str, ...]
    waiting_for_applicant: bool  # some documents are rejected and not yet replaced


def file_state(app: Application, entry: CatalogEntry,
               events: Sequence[ApplicationEvent]) -> FileState:
    step = entry.step(app.step_code)
    done = {e.action for e in events
            if e.from_step == step.code and e.at >= app.step_since and e.action in step.actions}
    docs = app.documents
    all_accepted = all(d.review == "accepted" for d in docs)
    done.discard("check_files")
    if all_accepted:
        done.add("check_files")
    waiting = any(d.review == "rejected" for d in docs) and not any(
        d.review == "pending" for d in docs)
    available: list[str] = []
    if step.role is not Role.APPLICANT and app.status not in CLOSED:
        blocked = False
        for a in step.actions:
            if a in OPTIONAL:
                continue
            if a not in done and not blocked:
                ready = not (a == "check_files" and waiting) and (
                    a != "receipt" or all_accepted)
                if ready:
                    available.append(a)
                blocked = True
        if completing_action(step) not in done or completing_action(step) is None:
            if "site_visit" in step.actions:
                available.append("site_visit")
            if "reject" in step.actions and app.status == "open":
                available.append("reject")
    return FileState(entry, step, frozenset(done), tuple(available), waiting)


# --- reading ------------------------------------------------------------------------


def _local_today(entry: CatalogEntry, now: datetime) -> date:
    return now.astimezone(ZoneInfo(entry.region.timezone)).date()


def days_left(app: Application, entry: CatalogEntry, calendar: WorkingCalendar,
              now: datetime) -> int | None:
    if app.due_on is None:
        return None
    return calendar.days_left(_local_today(entry, now), app.due_on, entry.deadline.unit.value)


async def load_file(session: AsyncSession, *, actor: Actor, reg_no: str,
                    lock: bool = False) -> Application:
    """The file, if it is in the actor's region: other regions' files do not exist here."""
    q = (select(Application).where(Application.reg_no == reg_no)
         .options(selectinload(Application.documents)))
    if lock:
        q = q.with_for_update()
    app = await session.scalar(q)
    if app is None or app.region != actor.region or actor.role == Role.ADMIN.value:
        raise OfficeError(f"Tidak ada permohonan {reg_no} di wilayah Anda.", code="not_found")
    return app


async def control_card(session: AsyncSession, application_id: int) -> list[ApplicationEvent]:
    return list((await session.scalars(
        select(ApplicationEvent).where(ApplicationEvent.application_id == application_id)
        .order_by(ApplicationEvent.id))).all())


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


async def queue(session: AsyncSession, *, catalog: Catalog, calendar: WorkingCalendar,
                actor: Actor, now: datetime) -> list[QueueRow]:
    """What waits at the actor's role's steps in their region, longest waiting first."""
    # Only the steps this role performs in this region (the index covers region, step).
    codes = {s.code for e in catalog if e.region.slug == actor.region
             for s in e.office_steps if s.role.value == actor.role}
    if not codes:
        return []
    # Plain columns and per-file document counts: no ORM objects for a long queue.
    counts = (select(ApplicationDocument.application_id.label("app_id"),
                     func.count().filter(ApplicationDocument.review == "rejected")
                     .label("rejected"),
                     func.count().filter(ApplicationDocument.review == "pending")
                     .label("pending"))
              .group_by(ApplicationDocument.application_id).subquery())
    found = (await session.execute(
        select(Application.id, Application.reg_no, Application.full_name,
               Application.profession, Application.step_code, Application.step_since,
               Application.submitted_at, Application.due_on, Application.status,
               func.coalesce(counts.c.rejected, 0), func.coalesce(counts.c.pending, 0))
        .outerjoin(counts, counts.c.app_id == Application.id)
        .where(Application.region == actor.region, Application.step_code.in_(codes),
               Application.status.not_in(CLOSED))
        .order_by(Application.step_since, Application.id))).all()
    rows = []
    for (app_id, reg_no, full_name, profession, step_code, step_since, submitted_at, due_on,
         status, rejected, pending) in found:
        entry = catalog.find(actor.region, profession)
        if entry is None:
            continue
        step = entry.step(step_code)
        if step.role.value != actor.role:
            continue
        if _next_step(entry, step.code) is None:
            # The procedure's very last step: once done, the file stays here, finished.
            app = await load_file(session, actor=actor, reg_no=reg_no)
            state = file_state(app, entry, await control_card(session, app_id))
            if completing_action(step) in state.done:
                continue
        left = (calendar.days_left(_local_today(entry, now), due_on,
                                   entry.deadline.unit.value) if due_on else None)
        rows.append(QueueRow(reg_no, full_name, entry.profession.name, step, step_since,
                             submitted_at, due_on, left, left is not None and left < 0,
                             bool(rejected) and not pending, status))
    # Files waiting on the applicant's corrections go last: nothing to do for them yet.
    return sorted(rows, key=lambda r: r.waiting_for_applicant)


async def search(session: AsyncSession, *, actor: Actor, text: str,
                 limit: int = 50) -> list[Application]:
    """By registration number, name (parts of either) or NIK (whole or its start)."""
    text = text.strip()
    if len(text) < 3:
        return []
    like = f"%{text.lower()}%"
    conditions: list[ColumnElement[bool]] = [Application.reg_no.ilike(like),
                                             Application.full_name.ilike(like)]
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) >= 6 and len(digits) == len(text.replace(" ", "")):
        conditions.append(Application.nik.startswith(digits))
    return list((await session.scalars(
        select(Application).where(Application.region == actor.region, or_(*conditions))
        .order_by(Application.submitted_at.desc()).limit(limit))).all())


# --- acting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    verdict: str  # accept | reject
    reason: str = ""


async def _authorized(session: AsyncSession, *, catalog: Catalog, actor: Actor, reg_no: str,
                      expected_step: str | None, action: str
                      ) -> tuple[Application, FileState, list[ApplicationEvent]]:
    app = await load_file(session, actor=actor, reg_no=reg_no, lock=True)
    entry = catalog.get(app.region, app.profession)
    events = await control_card(session, app.id)
    state = file_state(app, entry, events)
    step = state.step
    if app.status in CLOSED:
        raise OfficeError(f"Permohonan {reg_no} sudah ditutup ({app.status}).", code="closed")
    if expected_step is not None and expected_step != app.step_code:
        raise OfficeError("Berkas ini sudah berpindah tahap sejak halaman dibuka. Muat ulang "
                          "halaman.", code="wrong_step")
    if step.role is Role.APPLICANT:
        raise OfficeError("Berkas ini tidak sedang menunggu kantor.", code="wrong_step")
    if step.role.value != actor.role:
        raise OfficeError(f"Tahap ini dikerjakan oleh peran {step.role.value}, bukan "
                          f"{actor.role}.", code="wrong_role")
    if action not in step.actions:
        raise OfficeError(f"Tindakan \"{ACTION_NAMES.get(action, action)}\" tidak ada di tahap "
                          "ini menurut standar pelayanan.", code="wrong_step")
    if action not in state.available:
        why = ("berkas menunggu perbaikan dari pemohon" if state.waiting_for_applicant
               else "tindakan sebelumnya di tahap ini belum selesai, atau sudah dilakukan")
        raise OfficeError(f"\"{ACTION_NAMES.get(action, action)}\" belum dapat dilakukan: "
                          f"{why}.", code="wrong_step")
    return app, state, events


def _event(session: AsyncSession, app: Application, actor: Actor, action: str, *,
           to_step: str, note: str | None, now: datetime) -> None:
    session.add(ApplicationEvent(application_id=app.id, at=now, actor=actor.username,
                                 role=actor.role, action=action, from_step=app.step_code,
                                 to_step=to_step, note=note))


async def _tell(session: AsyncSession, app: Application, key: str, kind: str, *,
                now: datetime, choices: Sequence[Choice] = (), **params: Any) -> None:
    applicant = await session.get(Applicant, app.applicant_id)
    assert applicant is not None
    text = Translator(app.lang)(key, reg_no=app.reg_no, **params)
    message = (OutMessage(kind="choices", text=text, choices=tuple(choices)) if choices
               else OutMessage(kind="text", text=text))
    enqueue(session, applicant, message, now=now, priority=PRIORITY_NOTICE,
            notification_type=kind)


def _label(step: ProcedureStep | None, lang: str) -> str | None:
    if step is None:
        return None
    return " ".join(Translator(lang)("steps.label", step=step).split())


def _deadline(app: Application, entry: CatalogEntry, calendar: WorkingCalendar,
              now: datetime) -> dict[str, Any]:
    return {"due_on": app.due_on, "days_left": days_left(app, entry, calendar, now),
            "unit": entry.deadline.unit.value}


def _next_step(entry: CatalogEntry, code: str) -> ProcedureStep | None:
    """The next office step; after the last one, the applicant step that follows."""
    nxt = entry.next_office_step(code)
    if nxt is not None:
        return nxt
    codes = [s.code for s in entry.procedure]
    i = codes.index(code)
    return entry.procedure[i + 1] if i + 1 < len(codes) else None


def _start_clock(app: Application, entry: CatalogEntry, calendar: WorkingCalendar,
                 rule: str, now: datetime) -> bool:
    if app.clock_started_on is None and entry.deadline.starts_on == rule:
        start_clock(app, entry, calendar, now=now)
        return True
    return False


async def _receipt(session: AsyncSession, app: Application, entry: CatalogEntry,
                   calendar: WorkingCalendar, now: datetime) -> None:
    _start_clock(app, entry, calendar, "files_complete", now)
    await _tell(session, app, "office.receipt", "receipt", now=now,
                **_deadline(app, entry, calendar, now))


async def _advance(session: AsyncSession, app: Application, entry: CatalogEntry,
                   calendar: WorkingCalendar, actor: Actor, action: str, note: str | None,
                   now: datetime, *, approved: bool = False) -> None:
    step = entry.step(app.step_code)
    nxt = _next_step(entry, step.code)
    to = nxt.code if nxt is not None else step.code
    _event(session, app, actor, action, to_step=to, note=note, now=now)
    next_label = (_label(nxt, app.lang) if nxt is not None and nxt.role is not Role.APPLICANT
                  else None)
    if approved:
        await _tell(session, app, "office.approved", "decision", now=now, next=next_label)
    else:
        await _tell(session, app, "office.step_change", "step_change", now=now,
                    done=_label(step, app.lang), next=next_label,
                    **_deadline(app, entry, calendar, now))
    app.step_code, app.step_since = to, now


async def review_documents(
    sessions: async_sessionmaker[AsyncSession], *, catalog: Catalog,
    calendar: WorkingCalendar, actor: Actor, reg_no: str, step: str | None,
    decisions: Mapping[str, Decision], now: datetime,
) -> str:
    """Accept or reject each document waiting to be checked. Returns "rejected" (sent
    back to the applicant), "accepted" (all complete) or "moved" (and the file moved on)."""
    async with sessions() as session, session.begin():
        app, state, _ = await _authorized(session, catalog=catalog, actor=actor,
                                          reg_no=reg_no, expected_step=step,
                                          action="check_files")
        entry = state.entry
        pending = [d for d in app.documents if d.review == "pending"]
        unknown = set(decisions) - {d.requirement_code for d in app.documents}
        if unknown:
            raise OfficeError(f"Persyaratan tidak dikenal: {', '.join(sorted(unknown))}.",
                              code="bad_input")
        missing = [entry.requirement(d.requirement_code).title for d in pending
                   if d.requirement_code not in decisions]
        if missing:
            raise OfficeError("Putuskan setiap berkas (terima atau tolak): "
                              + "; ".join(missing) + ".", code="bad_input")
        rejected: list[tuple[ApplicationDocument, str]] = []
        for d in pending:
            verdict = decisions[d.requirement_code]
            if verdict.verdict == "reject":
                reason = verdict.reason.strip()
                if len(reason) < 3:
                    raise OfficeError(f"Tulis alasan penolakan untuk "
                                      f"{entry.requirement(d.requirement_code).title}.",
                                      code="bad_input")
                rejected.append((d, reason))
            elif verdict.verdict != "accept":
                raise OfficeError("Keputusan berkas harus terima atau tolak.", code="bad_input")
        for d in pending:
            verdict = decisions[d.requirement_code]
            d.review = "rejected" if verdict.verdict == "reject" else "accepted"
            d.review_reason = verdict.reason.strip() if d.review == "rejected" else None
        if rejected:
            items = [{"title": entry.requirement(d.requirement_code).title, "reason": r}
                     for d, r in rejected]
            note = "Ditolak: " + "; ".join(f"{i['title']} — {i['reason']}" for i in items)
            _event(session, app, actor, "check_files", to_step=app.step_code, note=note,
                   now=now)
            t = Translator(app.lang)
            await _tell(session, app, "office.documents_rejected", "documents_rejected",
                        now=now, items=items,
                        choices=[Choice(cid(Kind.FIX, app.reg_no),
                                        t("office.fix_button", reg_no=app.reg_no))])
            return "rejected"
        here = state.step
        done_by = completing_action(here)
        give_receipt = receipt_here(entry, here)
        if done_by == "check_files":
            if give_receipt:
                await _receipt(session, app, entry, calendar, now)
            await _advance(session, app, entry, calendar, actor, "check_files",
                           "Semua berkas diterima" + (" — tanda terima diberikan"
                                                      if give_receipt else ""), now)
            return "moved"
        _event(session, app, actor, "check_files", to_step=app.step_code,
               note="Semua berkas diterima", now=now)
        if not give_receipt:
            return "accepted"
        await _receipt(session, app, entry, calendar, now)
        if done_by == "receipt":
            await _advance(session, app, entry, calendar, actor, "receipt",
                           "Tanda terima diberikan", now)
            return "moved"
        if "receipt" in here.actions:  # recorded, so the step does not offer it again
            _event(session, app, actor, "receipt", to_step=app.step_code,
                   note="Tanda terima diberikan", now=now)
        return "accepted"


async def act(
    sessions: async_sessionmaker[AsyncSession], *, catalog: Catalog,
    calendar: WorkingCalendar, actor: Actor, reg_no: str, step: str | None, action: str,
    note: str = "", recommendation: str | None = None, now: datetime,
) -> str:
    """Any other action of the current step. Returns the step the file is at afterwards."""
    if action == "check_files":
        raise OfficeError("Pemeriksaan berkas memakai formulir berkas.", code="bad_input")
    note = note.strip()
    async with sessions() as session, session.begin():
        app, state, _ = await _authorized(session, catalog=catalog, actor=actor,
                                          reg_no=reg_no, expected_step=step, action=action)
        entry, here = state.entry, state.step
        if action in NOTE_REQUIRED and len(note) < 3:
            raise OfficeError("Isi catatan atau alasan tindakan ini.", code="bad_input")
        if action == "recommend":
            if recommendation not in RECOMMENDATIONS:
                raise OfficeError("Pilih rekomendasi: setuju atau tolak.", code="bad_input")
            note = f"Rekomendasi {RECOMMENDATIONS[recommendation]}: {note}"

        if action == "reject":
            app.status, app.decided_at, app.decision_note = "rejected", now, note
            _event(session, app, actor, "reject", to_step=app.step_code, note=note, now=now)
            await _tell(session, app, "office.rejected", "decision", now=now, reasons=note)
            return app.step_code

        approving = action == "approve" or (action == "sign" and decides_by_sign(entry)
                                            and app.status == "open")
        if action == "receipt":
            await _receipt(session, app, entry, calendar, now)
        if action == "technical_review" or (action == "recommend"
                                            and "technical_review" not in here.actions):
            _start_clock(app, entry, calendar, "technical_complete", now)
        if action == "number":
            number = await session.scalar(select(Permit.number).where(
                Permit.application_id == app.id))
            note = (f"Nomor izin {number}" if number else
                    "Nomor izin diberikan oleh sistem saat izin diterbitkan") + (
                f" — {note}" if note else "")
        if approving:
            app.status, app.decided_at = "approved", now
            app.decision_note = note or None
            await request_permit(session, app, now=now)

        if action == completing_action(here):
            await _advance(session, app, entry, calendar, actor, action, note or None, now,
                           approved=approving)
        else:
            _event(session, app, actor, action, to_step=app.step_code, note=note or None,
                   now=now)
            if approving:
                await _tell(session, app, "office.approved", "decision", now=now, next=None)
        return app.step_code
