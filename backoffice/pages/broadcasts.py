"""Broadcasts: the log, compose (recipients + a Jinja2 text), preview for one real
recipient with the count, send, and a live progress page with pause / resume / cancel.

The work is `notifications/broadcasts.py`'s (which also enforces "more than one
recipient needs admin or head of office" and logs the sender); this page adds the
region rule: staff address only their own region's applicants, an admin with region
"*" any region.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import func, select

from backoffice.deps import CurrentStaff, PartsDep
from backoffice.parts import OfficeParts
from backoffice.web import Denied, add_nav, base_path, render, step_label
from notifications import broadcasts as bc
from service.staff import ALL_REGIONS, STAFF_ROLES, SignedIn
from storage.models import Application, Broadcast, OutboxMessage

log = logging.getLogger(__name__)
router = APIRouter()
add_nav("/broadcasts", "Siaran", STAFF_ROLES)

STATUS_NAMES = {"enqueuing": "sedang diantrekan", "active": "sedang dikirim",
                "paused": "dijeda", "cancelled": "dibatalkan", "done": "selesai"}
PLACEHOLDER_NOTES = {"name": "nama pemohon", "reg_no": "nomor registrasi",
                     "step": "tahap permohonan (nama yang tampil di chat)",
                     "deadline": "batas waktu penyelesaian"}
# The log shows at most this many (newest first); older ones stay in the table.
LOG_LIMIT = 200


@dataclass(frozen=True)
class Compose:
    """The compose form's fields, as typed (re-shown on every page of the flow)."""

    region: str = ""
    profession: str = ""
    step: str = ""
    open_only: bool = False
    reg_no: str = ""
    template: str = ""
    preview_reg_no: str = ""
    urgent: bool = False


def _compose_form(region: str, profession: str, step: str, open_only: str, reg_no: str,
                  template: str, preview_reg_no: str, urgent: str) -> Compose:
    return Compose(region=region.strip(), profession=profession.strip(), step=step.strip(),
                   open_only=open_only == "1", reg_no=reg_no.strip(), template=template,
                   preview_reg_no=preview_reg_no.strip(), urgent=urgent == "1")


# The compose fields on every POST; all optional (a region's staff have their region).
Field_ = Annotated[str, Form()]


def _all_regions(staff: SignedIn) -> bool:
    return staff.region == ALL_REGIONS


def _regions(parts: OfficeParts, staff: SignedIn) -> list[tuple[str, str]]:
    regions = [(r.slug, r.name) for r in parts.catalog.regions()]
    return regions if _all_regions(staff) else [(s, n) for s, n in regions
                                                if s == staff.region]


def _professions(parts: OfficeParts, staff: SignedIn) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for e in parts.catalog:
        if _all_regions(staff) or e.region.slug == staff.region:
            seen.setdefault(e.profession.slug, e.profession.name)
    return sorted(seen.items(), key=lambda p: p[1])


def _steps(parts: OfficeParts, staff: SignedIn) -> list[tuple[str, str]]:
    """Step codes of the region's procedures, each with the chat's name for it."""
    labels: dict[str, list[str]] = {}
    for e in parts.catalog:
        if not (_all_regions(staff) or e.region.slug == staff.region):
            continue
        for s in e.procedure:
            label = step_label(s)
            names = labels.setdefault(s.code, [])
            if label not in names:
                names.append(label)
    # Applicant steps are all "Proses" in the chat: the code tells them apart.
    return sorted(((code, f"{' / '.join(names)} · {code}") for code, names in labels.items()),
                  key=lambda c: c[1])


def _selection(parts: OfficeParts, staff: SignedIn, form: Compose) -> bc.Selection:
    """The service's Selection from the form, with the region rule; refuses (nothing
    changed) a region, profession or step this staff member cannot pick."""
    if _all_regions(staff):
        region = form.region or None
        if region is not None and region not in {s for s, _ in _regions(parts, staff)}:
            raise Denied(f"Wilayah {region!r} tidak dikenal.", status=400,
                         title="Isian belum lengkap")
    else:
        if form.region and form.region != staff.region:
            raise Denied("Anda hanya dapat mengirim siaran kepada pemohon di wilayah Anda "
                         f"sendiri ({staff.region}). Tidak ada yang dikirim.")
        region = staff.region
    if form.profession and form.profession not in {s for s, _ in _professions(parts, staff)}:
        raise Denied(f"Layanan {form.profession!r} tidak ada di wilayah ini.", status=400,
                     title="Isian belum lengkap")
    if form.step and form.step not in {s for s, _ in _steps(parts, staff)}:
        raise Denied(f"Tahap {form.step!r} tidak ada di wilayah ini.", status=400,
                     title="Isian belum lengkap")
    return bc.Selection(region=region, profession=form.profession or None,
                        step=form.step or None, open_only=form.open_only,
                        reg_no=form.reg_no or None)


def _may_send_to_many(staff: SignedIn) -> bool:
    return staff.role in bc.MAY_SEND_TO_MANY


def _describe(selection: dict[str, Any], parts: OfficeParts) -> str:
    """A selection in words, for the log."""
    parts_ = []
    region = selection.get("region")
    if region:
        try:
            parts_.append(parts.catalog.region(region).name)
        except KeyError:
            parts_.append(region)
    else:
        parts_.append("semua wilayah")
    if selection.get("profession"):
        parts_.append(f"layanan {selection['profession']}")
    if selection.get("step"):
        parts_.append(f"tahap {selection['step']}")
    if selection.get("open_only"):
        parts_.append("permohonan terbuka")
    if selection.get("reg_no"):
        parts_.append(f"no. registrasi {selection['reg_no']}")
    return " · ".join(parts_)


def _form_page(request: Request, parts: OfficeParts, staff: SignedIn, form: Compose, *,
               error: str = "", shown: bc.Preview | None = None,
               count: bc.RecipientCount | None = None, status: int = 200) -> Response:
    return render(request, "broadcast_new.html", staff=staff, form=form, error=error,
                  shown=shown, count=count, regions=_regions(parts, staff),
                  all_regions=_all_regions(staff), professions=_professions(parts, staff),
                  steps=_steps(parts, staff), placeholders=PLACEHOLDER_NOTES,
                  many=_may_send_to_many(staff), status=status)


# --- the log ------------------------------------------------------------------------


# SQLite's pool has one connection: each read is its own short session, never held
# while a service function opens another.


async def _visible(parts: OfficeParts, staff: SignedIn) -> list[Broadcast]:
    async with parts.sessions() as db:
        rows = (await db.scalars(select(Broadcast).order_by(Broadcast.id.desc())
                                 .limit(LOG_LIMIT))).all()
    # The region is inside the selection's JSON: filtered here, portable across databases.
    return [b for b in rows if _all_regions(staff) or b.selection.get("region") == staff.region]


async def _load(parts: OfficeParts, staff: SignedIn, broadcast_id: int) -> Broadcast:
    async with parts.sessions() as db:
        b = await db.get(Broadcast, broadcast_id)
    if b is None or not (_all_regions(staff) or b.selection.get("region") == staff.region):
        # Another region's broadcast is "not found", never shown.
        raise Denied("Siaran itu tidak ada.", status=404, title="Tidak ditemukan")
    return b


@router.get("/broadcasts")
async def broadcast_log(request: Request, parts: PartsDep, staff: CurrentStaff) -> Response:
    shown = await _visible(parts, staff)
    counts: dict[int, dict[str, int]] = {}
    if shown:
        async with parts.sessions() as db:
            found = (await db.execute(
                select(OutboxMessage.broadcast_id, OutboxMessage.status, func.count())
                .where(OutboxMessage.broadcast_id.in_([b.id for b in shown]))
                .group_by(OutboxMessage.broadcast_id, OutboxMessage.status))).all()
        for bid, status, n in found:
            if bid is not None:
                counts.setdefault(int(bid), {})[str(status)] = int(n)
    rows = []
    for b in shown:
        c = counts.get(b.id, {})
        pending = c.get("pending", 0) + c.get("sending", 0)
        status = b.status
        if status == "active" and pending == 0 and c.get("held", 0) == 0:
            status = "done"
        rows.append({"b": b, "status": status, "selection": _describe(b.selection, parts),
                     "sent": c.get("sent", 0), "pending": pending + c.get("held", 0),
                     "failed": c.get("failed", 0),
                     "unreachable": c.get("unreachable", 0) + b.skipped_unreachable})
    return render(request, "broadcasts.html", staff=staff, rows=rows,
                  status_names=STATUS_NAMES, tz=_tz(parts, staff))


def _tz(parts: OfficeParts, staff: SignedIn) -> str:
    try:
        return parts.catalog.region(staff.region).timezone
    except KeyError:
        return "Asia/Jakarta"


# --- compose, preview, send ----------------------------------------------------------


@router.get("/broadcasts/new")
async def broadcast_new(request: Request, parts: PartsDep, staff: CurrentStaff,
                        reg_no: str = "") -> Response:
    return _form_page(request, parts, staff, Compose(
        region="" if _all_regions(staff) else staff.region, reg_no=reg_no,
        open_only=not reg_no and _may_send_to_many(staff),
        template="Halo {{ name }}, permohonan {{ reg_no }} sedang di tahap {{ step }} "
                 "(batas waktu {{ deadline }})."))


async def _preview_for(parts: OfficeParts, selection: bc.Selection,
                       form: Compose) -> bc.Preview:
    applicant_id = None
    if form.preview_reg_no:
        async with parts.sessions() as db:
            applicant_id = await db.scalar(select(Application.applicant_id).where(
                Application.reg_no == form.preview_reg_no))
        if applicant_id is None:
            raise bc.BroadcastError(f"no application {form.preview_reg_no}")
    return await bc.preview(parts.sessions, parts.catalog, selection=selection,
                            template=form.template, applicant_id=applicant_id)


@router.post("/broadcasts/preview")
async def broadcast_preview(
    request: Request, parts: PartsDep, staff: CurrentStaff,
    region: Field_ = "", profession: Field_ = "", step: Field_ = "",
    open_only: Field_ = "", reg_no: Field_ = "", template: Field_ = "",
    preview_reg_no: Field_ = "", urgent: Field_ = "",
) -> Response:
    """Nothing is written: the count and the text as one real recipient reads it."""
    form = _compose_form(region, profession, step, open_only, reg_no, template,
                         preview_reg_no, urgent)
    selection = _selection(parts, staff, form)
    try:
        count = await bc.count_recipients(parts.sessions, selection)
    except bc.BroadcastError as exc:
        return _form_page(request, parts, staff, form, error=_why(exc), status=400)
    try:
        shown = await _preview_for(parts, selection, form)
    except bc.BroadcastError as exc:
        return _form_page(request, parts, staff, form, error=_why(exc), count=count,
                          status=400)
    return _form_page(request, parts, staff, form, shown=shown, count=count)


def _why(exc: Exception) -> str:
    """The service's reason, in front of a sentence staff can act on."""
    text = str(exc)
    if text.startswith("template error"):
        return f"Templat pesan salah: {text.removeprefix('template error: ')}"
    if "no reachable recipient" in text or "no recipient" in text:
        return "Tidak ada penerima yang cocok dengan pilihan ini."
    if text.startswith("no application"):
        return f"Nomor registrasi untuk pratinjau tidak ditemukan ({text[15:]})."
    if text.startswith("choose recipients"):
        return "Pilih penerima: wilayah, layanan, tahap, permohonan terbuka, atau satu " \
               "nomor registrasi."
    return f"Pesan belum dapat dikirim: {text}"


async def _enqueue(parts: OfficeParts, broadcast_id: int, now: datetime) -> None:
    """After the response: queue every recipient in chunks. If the process stops
    half-way, `bot/jobs.py` (resume_enqueues) finishes it; nothing is queued twice."""
    try:
        await bc.enqueue_all(parts.sessions, parts.catalog, broadcast_id, now=now)
    except Exception:
        log.exception("broadcast %s: enqueue stopped; the jobs loop resumes it", broadcast_id)


@router.post("/broadcasts")
async def broadcast_send(
    request: Request, parts: PartsDep, staff: CurrentStaff, tasks: BackgroundTasks,
    region: Field_ = "", profession: Field_ = "", step: Field_ = "",
    open_only: Field_ = "", reg_no: Field_ = "", template: Field_ = "",
    preview_reg_no: Field_ = "", urgent: Field_ = "",
) -> Response:
    form = _compose_form(region, profession, step, open_only, reg_no, template,
                         preview_reg_no, urgent)
    selection = _selection(parts, staff, form)
    now = parts.now()
    try:
        count = await bc.count_recipients(parts.sessions, selection)
        if count.total > 1 and not _may_send_to_many(staff):
            # Checked here too so the page can say why; the service refuses it anyway.
            raise bc.BroadcastDenied("many")
        broadcast_id = await bc.create_broadcast(
            parts.sessions, parts.catalog, selection=selection, template=form.template,
            sender_username=staff.username, sender_role=staff.role, now=now,
            urgent=form.urgent and _may_send_to_many(staff), enqueue=False)
    except bc.BroadcastDenied as exc:
        raise Denied("Hanya admin dan kepala dinas yang boleh mengirim siaran kepada lebih "
                     "dari satu orang. Pilih satu penerima dengan nomor registrasinya. "
                     "Tidak ada yang dikirim.", title="Siaran tidak dikirim") from exc
    except bc.BroadcastError as exc:
        return _form_page(request, parts, staff, form, error=_why(exc), status=400)
    tasks.add_task(_enqueue, parts, broadcast_id, now)
    return RedirectResponse(f"{base_path(request)}/broadcasts/{broadcast_id}?sent=1",
                            status_code=303)


# --- one broadcast: progress, pause, resume, cancel ----------------------------------


def _progress_json(p: bc.Progress) -> dict[str, Any]:
    data = asdict(p)
    total = p.sent + p.pending + p.held + p.failed + p.unreachable + p.cancelled
    data.update(finished=p.finished, total=total,
                done=p.sent + p.failed + p.unreachable + p.cancelled,
                status_name=STATUS_NAMES.get(p.status, p.status))
    return data


@router.get("/broadcasts/{broadcast_id}")
async def broadcast_page(request: Request, parts: PartsDep, staff: CurrentStaff,
                         broadcast_id: int, sent: int = 0,
                         done: str = "") -> Response:
    b = await _load(parts, staff, broadcast_id)
    p = _progress_json(await bc.progress(parts.sessions, broadcast_id))
    flash = done or ("Siaran dicatat; pesan sedang diantrekan dan dikirim." if sent else "")
    return render(request, "broadcast.html", staff=staff, b=b, p=p, flash=flash,
                  selection=_describe(b.selection, parts), tz=_tz(parts, staff),
                  manage=_may_manage(staff, b))


@router.get("/broadcasts/{broadcast_id}/progress")
async def broadcast_progress(parts: PartsDep, staff: CurrentStaff,
                             broadcast_id: int) -> Response:
    await _load(parts, staff, broadcast_id)
    p = await bc.progress(parts.sessions, broadcast_id)
    return JSONResponse(_progress_json(p), headers={"Cache-Control": "no-store"})


def _may_manage(staff: SignedIn, b: Broadcast) -> bool:
    return _may_send_to_many(staff) or staff.username == b.sender_username


async def _change(request: Request, parts: OfficeParts, staff: SignedIn,
                  broadcast_id: int, what: str) -> Response:
    b = await _load(parts, staff, broadcast_id)
    if not _may_manage(staff, b):
        raise Denied("Hanya pengirimnya, admin, atau kepala dinas yang boleh menjeda, "
                     "melanjutkan, atau membatalkan siaran ini. Tidak ada yang diubah.")
    action = {"pause": bc.pause, "resume": bc.resume, "cancel": bc.cancel}[what]
    try:
        n = await action(parts.sessions, broadcast_id, now=parts.now())
    except bc.BroadcastError as exc:
        raise Denied(f"Siaran ini sudah {STATUS_NAMES.get(b.status, b.status)}. Tidak ada "
                     "yang diubah.", status=409, title="Tidak dapat diubah") from exc
    message = {"pause": f"Siaran dijeda; {n} pesan ditahan.",
               "resume": f"Siaran dilanjutkan; {n} pesan dikirim lagi.",
               "cancel": f"Siaran dibatalkan; {n} pesan tidak jadi dikirim."}[what]
    log.info("broadcast %s: %s by %s (%s)", broadcast_id, what, staff.username, staff.role)
    return RedirectResponse(f"{base_path(request)}/broadcasts/{broadcast_id}?done={message}",
                            status_code=303)


@router.post("/broadcasts/{broadcast_id}/pause")
async def broadcast_pause(request: Request, parts: PartsDep, staff: CurrentStaff,
                          broadcast_id: int) -> Response:
    return await _change(request, parts, staff, broadcast_id, "pause")


@router.post("/broadcasts/{broadcast_id}/resume")
async def broadcast_resume(request: Request, parts: PartsDep, staff: CurrentStaff,
                           broadcast_id: int) -> Response:
    return await _change(request, parts, staff, broadcast_id, "resume")


@router.post("/broadcasts/{broadcast_id}/cancel")
async def broadcast_cancel(request: Request, parts: PartsDep, staff: CurrentStaff,
                           broadcast_id: int) -> Response:
    return await _change(request, parts, staff, broadcast_id, "cancel")
