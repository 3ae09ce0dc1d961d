"""The office's procedure: each file sits at one catalog step; only staff of the file's
region holding that step's position may act on it, and only with the actions the step
lists. One person never acts in two positions on one file unless the standard's
`may_combine` allows that pair (shown on the card). Every office step may return the
file to an earlier step's performer, or documents to the applicant, with a reason.

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
  Metro, Lubuklinggau): status "approved" and a held pending permit (service.permits)
  in the same transaction. The number is given where the standard says (`numbering`):
  by the `number` action at its step, or, where the e-signature needs it, by the system
  as the signing step is done. The permit is released for producing only at the
  procedure's last `sign`/`number` action, so nothing is issued before its step.

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

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from conversations.i18n import Translator
from conversations.types import Choice, OutMessage
from conversations.vocab import Kind, cid
from licensing.calendar import WorkingCalendar
from licensing.catalog import Action, Catalog, CatalogEntry, Numbering, ProcedureStep, Role
from service.applications import start_clock
from service.outbox import PRIORITY_NOTICE, enqueue
from service.permits import assign_number, request_permit
from storage.models import (
    Applicant,
    Application,
    ApplicationDocument,
    ApplicationEvent,
    ApplicationNote,
    Staff,
    StaffPosition,
)

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
    "return": "Dikembalikan",
}
TO_APPLICANT = "applicant"  # a return's target: documents back to the applicant


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
    # Where the step may send the file back: earlier steps' codes (another performer)
    # and/or TO_APPLICANT (documents). Empty when the file is not at a working step.
    returns: tuple[str, ...] = ()


def check_step(entry: CatalogEntry, code: str) -> ProcedureStep | None:
    """The step that checks documents, at or before `code` (where re-uploads go)."""
    found = None
    for s in entry.office_steps:
        if "check_files" in s.actions:
            found = s
        if s.code == code:
            return found
    return found


def return_targets(entry: CatalogEntry, step: ProcedureStep) -> tuple[str, ...]:
    """Earlier office steps of another position, then the applicant (documents)."""
    earlier: list[str] = []
    for s in entry.office_steps:
        if s.code == step.code:
            break
        if s.position != step.position:
            earlier.append(s.code)
    applicant = (TO_APPLICANT,) if check_step(entry, step.code) is not None else ()
    return (*earlier, *applicant)


def file_state(app: Application, entry: CatalogEntry,
               events: Sequence[ApplicationEvent]) -> FileState:
    step = entry.step(app.step_code)
    # What was done here since the file last arrived (by id: a return and the redone
    # work can share a timestamp).
    arrived = max((i for i, e in enumerate(events)
                   if e.to_step == step.code and e.from_step != step.code), default=-1)
    done = {e.action for e in events[arrived + 1:]
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
    returns: tuple[str, ...] = ()
    if (step.role is not Role.APPLICANT and app.status not in CLOSED
            and not (_next_step(entry, step.code) is None
                     and completing_action(step) in done)):
        returns = return_targets(entry, step)
        if waiting:  # the applicant already has documents to fix
            returns = tuple(r for r in returns if r != TO_APPLICANT)
    return FileState(entry, step, frozenset(done), tuple(available), waiting, returns)


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


# The officer's queue (filters, sorting, paging): service/queue.py.


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


@dataclass(frozen=True)
class Acting:
    """Who acts, as the control card records it: the account and the position used."""

    username: str
    role: str
    full_name: str
    nip: str | None
    position: str | None


async def _acting(session: AsyncSession, actor: Actor, entry: CatalogEntry,
                  step: ProcedureStep, events: Sequence[ApplicationEvent]) -> Acting:
    """The position check and the segregation of duties, from the database (not from the
    browser session, so a position taken away counts at once)."""
    staff = await session.scalar(select(Staff).where(Staff.username == actor.username,
                                                     Staff.active.is_(True)))
    if staff is None:
        raise OfficeError("Akun ini tidak aktif.", code="wrong_position")
    held = set((await session.scalars(select(StaffPosition.position).where(
        StaffPosition.staff_id == staff.id))).all())
    assert step.position is not None  # office steps name one (catalog check)
    title = entry.position(step.position).title
    if step.position not in held:
        raise OfficeError(f"Tahap ini dikerjakan oleh {title}; akun Anda tidak memegang "
                          "jabatan itu.", code="wrong_position")
    for e in events:
        if e.actor != actor.username or e.from_step is None:
            continue
        other = _position_at(entry, e.from_step) if e.position is None else e.position
        if other is None or entry.may_combine_note(other, step.position) is not None:
            continue
        raise OfficeError(
            f"Anda sudah bertindak sebagai {entry.position(other).title} pada berkas ini. "
            f"Menurut SOP, {title} dikerjakan oleh petugas lain.", code="same_person")
    return Acting(staff.username, staff.role, staff.full_name, staff.nip, step.position)


def _position_at(entry: CatalogEntry, code: str) -> str | None:
    """The position of an office step (None for the applicant's steps)."""
    try:
        step = entry.step(code)
    except KeyError:
        return None
    return step.position if step.role is not Role.APPLICANT else None


async def _authorized(session: AsyncSession, *, catalog: Catalog, actor: Actor, reg_no: str,
                      expected_step: str | None, action: str
                      ) -> tuple[Application, FileState, list[ApplicationEvent], Acting]:
    app = await load_file(session, actor=actor, reg_no=reg_no, lock=True)
    entry = catalog.get(app.region, app.profession)
    events = await control_card(session, app.id)
    state = file_state(app, entry, events)
    step = state.step
    if app.status in CLOSED:
        raise OfficeError(f"Permohonan {reg_no} sudah ditutup.", code="closed")
    if expected_step is not None and expected_step != app.step_code:
        raise OfficeError("Berkas ini sudah berpindah tahap sejak halaman dibuka. Muat ulang "
                          "halaman.", code="wrong_step")
    if step.role is Role.APPLICANT:
        raise OfficeError("Berkas ini tidak sedang menunggu kantor.", code="wrong_step")
    who = await _acting(session, actor, entry, step, events)
    if action == Action.RETURN:
        if not state.returns:
            raise OfficeError("Berkas ini tidak dapat dikembalikan dari tahap ini.",
                              code="wrong_step")
        return app, state, events, who
    if action not in step.actions:
        raise OfficeError(f"Tindakan \"{ACTION_NAMES.get(action, action)}\" tidak ada di tahap "
                          "ini menurut standar pelayanan.", code="wrong_step")
    if action not in state.available:
        why = ("berkas menunggu perbaikan dari pemohon" if state.waiting_for_applicant
               else "tindakan sebelumnya di tahap ini belum selesai, atau sudah dilakukan")
        raise OfficeError(f"\"{ACTION_NAMES.get(action, action)}\" belum dapat dilakukan: "
                          f"{why}.", code="wrong_step")
    return app, state, events, who


def _event(session: AsyncSession, app: Application, who: Acting, action: str, *,
           to_step: str, note: str | None, now: datetime) -> None:
    session.add(ApplicationEvent(application_id=app.id, at=now, actor=who.username,
                                 role=who.role, action=action, from_step=app.step_code,
                                 to_step=to_step, note=note, actor_name=who.full_name,
                                 actor_nip=who.nip, position=who.position))


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


def _receipt_given(app: Application, entry: CatalogEntry,
                   events: Sequence[ApplicationEvent]) -> bool:
    """A file returned to its check step gets no second receipt (nor a second clock)."""
    return any(e.action == Action.RECEIPT for e in events) or (
        entry.deadline.starts_on == "files_complete" and app.clock_started_on is not None)


async def _receipt(session: AsyncSession, app: Application, entry: CatalogEntry,
                   calendar: WorkingCalendar, now: datetime) -> None:
    _start_clock(app, entry, calendar, "files_complete", now)
    await _tell(session, app, "office.receipt", "receipt", now=now,
                **_deadline(app, entry, calendar, now))


async def _advance(session: AsyncSession, app: Application, entry: CatalogEntry,
                   calendar: WorkingCalendar, who: Acting, action: str, note: str | None,
                   now: datetime, *, approved: bool = False) -> None:
    step = entry.step(app.step_code)
    nxt = _next_step(entry, step.code)
    to = nxt.code if nxt is not None else step.code
    _event(session, app, who, action, to_step=to, note=note, now=now)
    next_label = (_label(nxt, app.lang) if nxt is not None and nxt.role is not Role.APPLICANT
                  else None)
    if approved:
        await _tell(session, app, "office.approved", "decision", now=now, next=next_label)
    else:
        await _tell(session, app, "office.step_change", "step_change", now=now,
                    done=_label(step, app.lang), next=next_label,
                    **_deadline(app, entry, calendar, now))
    app.step_code, app.step_since = to, now


def release_point(entry: CatalogEntry) -> tuple[str, str]:
    """(step, action): the procedure's last `sign`/`number`; the permit is produced only
    once it is done, so nothing is issued before the step the SOP gives it."""
    found: tuple[str, str] | None = None
    for s in entry.office_steps:
        for a in s.actions:
            if a in (Action.SIGN, Action.NUMBER):
                found = (s.code, a.value)
    assert found is not None  # every standard has a head-of-office step that signs
    return found


async def review_documents(
    sessions: async_sessionmaker[AsyncSession], *, catalog: Catalog,
    calendar: WorkingCalendar, actor: Actor, reg_no: str, step: str | None,
    decisions: Mapping[str, Decision], now: datetime,
) -> str:
    """Accept or reject each document waiting to be checked. Returns "rejected" (sent
    back to the applicant), "accepted" (all complete) or "moved" (and the file moved on)."""
    async with sessions() as session, session.begin():
        app, state, events, who = await _authorized(
            session, catalog=catalog, actor=actor, reg_no=reg_no, expected_step=step,
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
            _event(session, app, who, "check_files", to_step=app.step_code, note=note,
                   now=now)
            await _tell_rejected(session, app, items, now)
            return "rejected"
        here = state.step
        done_by = completing_action(here)
        given = _receipt_given(app, entry, events)
        give_receipt = receipt_here(entry, here) and not given
        if done_by == "check_files":
            if give_receipt:
                await _receipt(session, app, entry, calendar, now)
            await _advance(session, app, entry, calendar, who, "check_files",
                           "Semua berkas diterima" + (" — tanda terima diberikan"
                                                      if give_receipt else ""), now)
            return "moved"
        _event(session, app, who, "check_files", to_step=app.step_code,
               note="Semua berkas diterima", now=now)
        if not give_receipt:
            return "accepted"
        await _receipt(session, app, entry, calendar, now)
        if done_by == "receipt":
            await _advance(session, app, entry, calendar, who, "receipt",
                           "Tanda terima diberikan", now)
            return "moved"
        if "receipt" in here.actions:  # recorded, so the step does not offer it again
            _event(session, app, who, "receipt", to_step=app.step_code,
                   note="Tanda terima diberikan", now=now)
        return "accepted"


async def _tell_rejected(session: AsyncSession, app: Application,
                         items: Sequence[Mapping[str, str]], now: datetime) -> None:
    t = Translator(app.lang)
    await _tell(session, app, "office.documents_rejected", "documents_rejected",
                now=now, items=items,
                choices=[Choice(cid(Kind.FIX, app.reg_no),
                                t("office.fix_button", reg_no=app.reg_no))])


async def act(
    sessions: async_sessionmaker[AsyncSession], *, catalog: Catalog,
    calendar: WorkingCalendar, actor: Actor, reg_no: str, step: str | None, action: str,
    note: str = "", recommendation: str | None = None, now: datetime,
) -> str:
    """Any other action of the current step. Returns the step the file is at afterwards."""
    if action in ("check_files", Action.RETURN):
        raise OfficeError("Tindakan ini memakai formulirnya sendiri.", code="bad_input")
    for _attempt in range(3):  # two officers numbering at once: the loser retries
        try:
            return await _act(sessions, catalog=catalog, calendar=calendar, actor=actor,
                              reg_no=reg_no, step=step, action=action, note=note,
                              recommendation=recommendation, now=now)
        except IntegrityError:
            if action not in (Action.NUMBER, Action.SIGN):
                raise
    raise OfficeError("Nomor izin sedang dipakai petugas lain; coba lagi.", code="conflict")


async def _act(
    sessions: async_sessionmaker[AsyncSession], *, catalog: Catalog,
    calendar: WorkingCalendar, actor: Actor, reg_no: str, step: str | None, action: str,
    note: str, recommendation: str | None, now: datetime,
) -> str:
    note = note.strip()
    async with sessions() as session, session.begin():
        app, state, events, who = await _authorized(
            session, catalog=catalog, actor=actor, reg_no=reg_no, expected_step=step,
            action=action)
        entry, here = state.entry, state.step
        if action in NOTE_REQUIRED and len(note) < 3:
            raise OfficeError("Isi catatan atau alasan tindakan ini.", code="bad_input")
        if action == "recommend":
            if recommendation not in RECOMMENDATIONS:
                raise OfficeError("Pilih rekomendasi: setuju atau tolak.", code="bad_input")
            note = f"Rekomendasi {RECOMMENDATIONS[recommendation]}: {note}"

        if action == "reject":
            app.status, app.decided_at, app.decision_note = "rejected", now, note
            _event(session, app, who, "reject", to_step=app.step_code, note=note, now=now)
            await _tell(session, app, "office.rejected", "decision", now=now, reasons=note)
            return app.step_code

        approving = action == "approve" or (action == "sign" and decides_by_sign(entry)
                                            and app.status == "open")
        if action == "receipt" and not _receipt_given(app, entry, events):
            await _receipt(session, app, entry, calendar, now)
        if action == "technical_review" or (action == "recommend"
                                            and "technical_review" not in here.actions):
            _start_clock(app, entry, calendar, "technical_complete", now)
        releases = release_point(entry) == (here.code, action)
        if approving:
            app.status, app.decided_at = "approved", now
            app.decision_note = note or None
        if approving or action in (Action.NUMBER, Action.SIGN):
            permit = await request_permit(session, app, now=now, ready=False)
            numbered_here = action == Action.NUMBER or (
                action == Action.SIGN and entry.numbering is Numbering.BEFORE_SIGNING
                and releases)
            if numbered_here:
                number = await assign_number(session, permit, entry, now)
                what = (f"Nomor izin {number}" if action == Action.NUMBER else
                        f"Nomor izin {number} diberikan sistem sebelum tanda tangan "
                        "elektronik (TTE memerlukan nomor)")
                note = what + (f" — {note}" if note else "")
            if releases:
                permit.ready = True

        if action == completing_action(here):
            await _advance(session, app, entry, calendar, who, action, note or None, now,
                           approved=approving)
        else:
            _event(session, app, who, action, to_step=app.step_code, note=note or None,
                   now=now)
            if approving:
                await _tell(session, app, "office.approved", "decision", now=now, next=None)
        return app.step_code


async def return_file(
    sessions: async_sessionmaker[AsyncSession], *, catalog: Catalog, actor: Actor,
    reg_no: str, step: str | None, to: str, reason: str, documents: Sequence[str] = (),
    now: datetime,
) -> str:
    """Send the file back from its current step: to an earlier step's performer, or
    (`to=TO_APPLICANT`) the named documents to the applicant, who is told why. Back at a
    check step the scans are decided again. Returns the step the file is at afterwards."""
    reason = reason.strip()
    async with sessions() as session, session.begin():
        app, state, _, who = await _authorized(
            session, catalog=catalog, actor=actor, reg_no=reg_no, expected_step=step,
            action=Action.RETURN)
        entry = state.entry
        if to not in state.returns:
            raise OfficeError("Pilih tahap sebelumnya (petugas lain) atau pemohon.",
                              code="bad_input")
        if len(reason) < 3:
            raise OfficeError("Tulis alasan pengembalian.", code="bad_input")
        if to == TO_APPLICANT:
            chosen = [d for d in app.documents if d.requirement_code in set(documents)
                      and d.review != "rejected"]
            if not chosen or len(chosen) != len(set(documents)):
                raise OfficeError("Pilih berkas yang harus diperbaiki pemohon.",
                                  code="bad_input")
            target = check_step(entry, app.step_code)
            assert target is not None  # TO_APPLICANT is offered only with one
            for d in chosen:
                d.review, d.review_reason = "rejected", reason
            items = [{"title": entry.requirement(d.requirement_code).title, "reason": reason}
                     for d in chosen]
            note = "Kepada pemohon: " + "; ".join(i["title"] for i in items) + f" — {reason}"
            _event(session, app, who, Action.RETURN, to_step=target.code, note=note, now=now)
            await _tell_rejected(session, app, items, now)
        else:
            target = entry.step(to)
            if "check_files" in target.actions:  # the check is done again, scan by scan
                for d in app.documents:
                    if d.review == "accepted":
                        d.review = "pending"
            assert target.position is not None
            _event(session, app, who, Action.RETURN, to_step=target.code,
                   note=f"Kepada {entry.position(target.position).title}: {reason}", now=now)
            await _tell(session, app, "office.returned", "step_change", now=now,
                        step=_label(target, app.lang))
        app.step_code, app.step_since = target.code, now
        return app.step_code


# --- internal notes -------------------------------------------------------------------


async def add_note(sessions: async_sessionmaker[AsyncSession], *, actor: Actor,
                   reg_no: str, text: str, now: datetime) -> None:
    """A staff-only note beside the card: never sent, never on the applicant's side."""
    text = text.strip()
    if not 3 <= len(text) <= 2000:
        raise OfficeError("Catatan internal: 3 sampai 2000 karakter.", code="bad_input")
    async with sessions() as session, session.begin():
        app = await load_file(session, actor=actor, reg_no=reg_no)
        staff = await session.scalar(select(Staff).where(Staff.username == actor.username))
        assert staff is not None
        session.add(ApplicationNote(application_id=app.id, at=now, author=staff.username,
                                    author_name=staff.full_name, text=text))


async def notes(session: AsyncSession, application_id: int) -> list[ApplicationNote]:
    return list((await session.scalars(
        select(ApplicationNote).where(ApplicationNote.application_id == application_id)
        .order_by(ApplicationNote.id))).all())
