"""The files: my queue, search, one application (scans, actions, control card, exports)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from backoffice import labels
from backoffice.deps import CurrentStaff, PartsDep, SessionDep
from backoffice.web import ROLE_NAMES, Denied, add_nav, base_path, environment, render, step_label
from licensing.catalog import CatalogEntry, Role
from licensing.dates import format_datetime
from licensing.permit.render import html_to_pdf
from service import office, queue
from service.queue import QueueFilter, QueueSort
from service.staff import SignedIn
from storage.models import Application, ApplicationEvent, Blob

router = APIRouter()
FILE_ROLES = tuple(r.value for r in Role if r not in (Role.APPLICANT, Role.ADMIN))
add_nav("/queue", "Antrean saya", FILE_ROLES)
add_nav("/search", "Cari berkas", FILE_ROLES)
QUEUE_SORTS = ((QueueSort.WAITING.value, "Menunggu paling lama"),
               (QueueSort.DEADLINE.value, "Batas waktu terdekat"),
               (QueueSort.REG_NO.value, "Nomor registrasi"))


def _no_admin(staff: SignedIn) -> None:
    if staff.role == Role.ADMIN.value:
        raise Denied("Admin mengelola akun staf dan tidak membuka berkas permohonan.")


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError as exc:
        raise Denied("Tanggal harus berbentuk TTTT-BB-HH.", status=400,
                     title="Isian belum lengkap") from exc


@router.get("/queue", response_class=HTMLResponse)
async def my_queue(request: Request, parts: PartsDep, staff: CurrentStaff, db: SessionDep,
                   step: str = "", profession: str = "", overdue: str = "",
                   submitted_from: str = "", submitted_to: str = "", sort: str = "",
                   page: int = 1) -> Response:
    _no_admin(staff)
    try:
        order = QueueSort(sort) if sort else QueueSort.WAITING
    except ValueError as exc:
        raise Denied("Urutan tidak dikenal.", status=400, title="Isian belum lengkap") from exc
    want = QueueFilter(step=step or None, profession=profession or None,
                       overdue=bool(overdue), submitted_from=_day(submitted_from),
                       submitted_to=_day(submitted_to), sort=order, page=max(1, page))
    found = await queue.page(db, catalog=parts.catalog, calendar=parts.calendar, actor=staff,
                             now=parts.now(), want=want)
    services = [(e.profession.slug, e.profession.name) for e in parts.catalog
                if e.region.slug == staff.region]
    args = {k: v for k, v in request.query_params.items() if k != "page"}
    return render(request, "queue.html", staff=staff, rows=found.rows, found=found,
                  want=want, services=services, sorts=QUEUE_SORTS,
                  query=urlencode(args), labels=labels)


@router.get("/search", response_class=HTMLResponse)
async def search(request: Request, staff: CurrentStaff, db: SessionDep,
                 q: str = "") -> Response:
    _no_admin(staff)
    found = await office.search(db, actor=staff, text=q)
    rows = [{"app": a, "nik": office.mask_nik(a.nik, staff.role)} for a in found]
    return render(request, "search.html", staff=staff, q=q, rows=rows, labels=labels)


def _step_name(entry: CatalogEntry, code: str | None) -> str:
    if code is None:
        return "—"
    try:
        return step_label(entry.step(code))
    except KeyError:
        return code


def _position_title(entry: CatalogEntry, e: ApplicationEvent) -> str:
    slug = e.position
    if slug is None and e.from_step is not None and e.role != "applicant":
        try:
            slug = entry.step(e.from_step).position
        except KeyError:
            slug = None
    try:
        return entry.position(slug).title if slug else ""
    except KeyError:
        return slug or ""


def _card_rows(entry: CatalogEntry, events: list[ApplicationEvent],
               lang: str = "id") -> list[dict[str, str]]:
    tz = entry.region.timezone
    return [{"at": format_datetime(e.at, "id", tz),
             "actor": e.actor_name or ("Pemohon" if e.actor == "applicant" else e.actor),
             "username": e.actor, "nip": e.actor_nip or "",
             "position": _position_title(entry, e) or ROLE_NAMES.get(e.role, e.role),
             "action": labels.action(e.action, lang), "action_code": e.action,
             "from": _step_name(entry, e.from_step), "to": _step_name(entry, e.to_step),
             "note": e.note or ""} for e in events]


def combinations(entry: CatalogEntry) -> list[str]:
    """The region's allowances for one person in two positions, as the card states them."""
    return [f"{entry.position(m.positions[0]).title} + {entry.position(m.positions[1]).title}"
            f": {m.note}" for m in entry.may_combine]


def numbering_text(entry: CatalogEntry) -> str:
    if entry.numbering.value == "at_step":
        step = next(s for s in entry.office_steps if "number" in s.actions)
        return f"Nomor izin diberikan pada tahap \"{step_label(step)}\"."
    return ("Nomor izin diberikan sistem saat tanda tangan elektronik: TTE memerlukan nomor "
            "di dalam dokumen sebelum ditandatangani.")


async def _file(db: SessionDep, parts: PartsDep, staff: SignedIn,
                reg_no: str) -> tuple[Application, CatalogEntry]:
    _no_admin(staff)
    app = await office.load_file(db, actor=staff, reg_no=reg_no)
    return app, parts.catalog.get(app.region, app.profession)


@router.get("/applications/{reg_no}", response_class=HTMLResponse)
async def application_page(request: Request, parts: PartsDep, staff: CurrentStaff,
                           db: SessionDep, reg_no: str, done: str = "") -> Response:
    app, entry = await _file(db, parts, staff, reg_no)
    events = await office.control_card(db, app.id)
    state = office.file_state(app, entry, events)
    mine = state.step.position in staff.positions
    shas = [d.blob_sha256 for d in app.documents]
    blobs = {b.sha256: b for b in (await db.scalars(
        select(Blob).where(Blob.sha256.in_(shas)))).all()} if shas else {}
    documents = [{"doc": d, "title": entry.requirement(d.requirement_code).title,
                  "media_type": blobs[d.blob_sha256].media_type if d.blob_sha256 in blobs
                  else ""} for d in app.documents]
    tz = ZoneInfo(entry.region.timezone)
    return_choices = [(code, "Pemohon (berkas diperbaiki)" if code == office.TO_APPLICANT
                       else f"{step_label(entry.step(code))} — "
                       f"{entry.step(code).performer}") for code in state.returns]
    return render(
        request, "application.html", staff=staff, app=app, entry=entry, state=state,
        mine=mine, documents=documents, card=_card_rows(entry, events, staff.lang),
        labels=labels, lang=staff.lang, return_choices=return_choices,
        to_applicant=office.TO_APPLICANT, combinations=combinations(entry),
        numbering=numbering_text(entry), notes=await office.notes(db, app.id),
        performer=(entry.position(state.step.position).title if state.step.position
                   else ""),
        nik=office.mask_nik(app.nik, staff.role),
        days_left=office.days_left(app, entry, parts.calendar, parts.now()),
        submitted=format_datetime(app.submitted_at, "id", entry.region.timezone),
        since=app.step_since.astimezone(tz), action_names=office.ACTION_NAMES,
        recommendations=office.RECOMMENDATIONS, flash=done,
        note_required=office.NOTE_REQUIRED)


def _back(request: Request, reg_no: str, message: str) -> Response:
    return RedirectResponse(f"{base_path(request)}/applications/{reg_no}?done={message}",
                            status_code=303)


def _decisions(form: FormData) -> dict[str, office.Decision]:
    out = {}
    for key, value in form.multi_items():
        if key.startswith("d_") and isinstance(value, str) and value:
            code = key[2:]
            reason = form.get(f"r_{code}")
            out[code] = office.Decision(value, reason if isinstance(reason, str) else "")
    return out


@router.post("/applications/{reg_no}/review")
async def review(request: Request, parts: PartsDep, staff: CurrentStaff, reg_no: str,
                 step: Annotated[str, Form()]) -> Response:
    _no_admin(staff)
    form = await request.form()
    result = await office.review_documents(
        parts.sessions, catalog=parts.catalog, calendar=parts.calendar, actor=staff,
        reg_no=reg_no, step=step, decisions=_decisions(form), now=parts.now())
    message = {"rejected": "Penolakan dikirim ke pemohon dalam satu pesan.",
               "accepted": "Semua berkas diterima; tanda terima dikirim ke pemohon.",
               "moved": "Semua berkas diterima; berkas pindah ke tahap berikutnya."}[result]
    return _back(request, reg_no, message)


@router.post("/applications/{reg_no}/act")
async def act(request: Request, parts: PartsDep, staff: CurrentStaff, reg_no: str,
              step: Annotated[str, Form()], action: Annotated[str, Form()],
              note: Annotated[str, Form()] = "",
              recommendation: Annotated[str, Form()] = "") -> Response:
    _no_admin(staff)
    await office.act(parts.sessions, catalog=parts.catalog, calendar=parts.calendar,
                     actor=staff, reg_no=reg_no, step=step, action=action, note=note,
                     recommendation=recommendation or None, now=parts.now())
    return _back(request, reg_no, f"Tercatat: {labels.action(action, staff.lang)}.")


@router.post("/applications/{reg_no}/return")
async def return_file(request: Request, parts: PartsDep, staff: CurrentStaff, reg_no: str,
                      step: Annotated[str, Form()], to: Annotated[str, Form()] = "",
                      reason: Annotated[str, Form()] = "") -> Response:
    _no_admin(staff)
    form = await request.form()
    documents = [v for v in form.getlist("documents") if isinstance(v, str)]
    await office.return_file(parts.sessions, catalog=parts.catalog, actor=staff,
                             reg_no=reg_no, step=step, to=to, reason=reason,
                             documents=documents, now=parts.now())
    return _back(request, reg_no, "Berkas dikembalikan.")


@router.post("/applications/{reg_no}/notes")
async def add_note(request: Request, parts: PartsDep, staff: CurrentStaff, reg_no: str,
                   text: Annotated[str, Form()] = "") -> Response:
    _no_admin(staff)
    await office.add_note(parts.sessions, actor=staff, reg_no=reg_no, text=text,
                          now=parts.now())
    return _back(request, reg_no, "Catatan internal disimpan.")


@router.get("/applications/{reg_no}/documents/{code}")
async def document(parts: PartsDep, staff: CurrentStaff, db: SessionDep, reg_no: str,
                   code: str) -> Response:
    """The scan itself, shown in the browser; only to staff of the file's region."""
    app, _ = await _file(db, parts, staff, reg_no)
    doc = next((d for d in app.documents if d.requirement_code == code), None)
    blob = await db.get(Blob, doc.blob_sha256) if doc is not None else None
    if doc is None or blob is None or not parts.files.exists(blob.sha256):
        raise Denied("Berkas itu tidak ada.", status=404, title="Tidak ditemukan")
    ext = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}.get(
        blob.media_type, "bin")
    return FileResponse(parts.files.path_for(blob.sha256), media_type=blob.media_type,
                        filename=f"{reg_no}-{code}.{ext}", content_disposition_type="inline",
                        headers={"Cache-Control": "private, no-store",
                                 "X-Content-Type-Options": "nosniff",
                                 # shown beside its checklist line, in the file's own page
                                 "X-Frame-Options": "SAMEORIGIN",
                                 "Content-Security-Policy": "frame-ancestors 'self'"})


CARD_COLUMNS = ("Waktu", "Petugas", "NIP", "Nama pengguna", "Jabatan", "Tindakan",
                "Dari tahap", "Ke tahap", "Catatan")


@router.get("/applications/{reg_no}/card.csv")
async def card_csv(parts: PartsDep, staff: CurrentStaff, db: SessionDep,
                   reg_no: str) -> Response:
    app, entry = await _file(db, parts, staff, reg_no)
    rows = _card_rows(entry, await office.control_card(db, app.id))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CARD_COLUMNS)
    for r in rows:
        writer.writerow([r["at"], r["actor"], r["nip"], r["username"], r["position"],
                         r["action"], r["from"], r["to"], r["note"]])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="kartu-kendali-{reg_no}.csv"',
        "Cache-Control": "private, no-store"})


@router.get("/applications/{reg_no}/card.pdf")
async def card_pdf(parts: PartsDep, staff: CurrentStaff, db: SessionDep,
                   reg_no: str) -> Response:
    app, entry = await _file(db, parts, staff, reg_no)
    rows = _card_rows(entry, await office.control_card(db, app.id))
    html = environment().get_template("card_pdf.html").render(
        app=app, entry=entry, rows=rows, columns=CARD_COLUMNS,
        status=labels.status(app.status), combinations=combinations(entry),
        numbering=numbering_text(entry),
        printed=format_datetime(parts.now(), "id", entry.region.timezone))
    pdf = await asyncio.to_thread(html_to_pdf, html)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="kartu-kendali-{reg_no}.pdf"',
        "Cache-Control": "private, no-store"})
