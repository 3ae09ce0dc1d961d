"""What the office prints or downloads for one file (issue 16): the receipt (tanda
terima), the routing slip (lembar kendali: the SOP's steps with who received and handed
the file on, and room for each officer's paraf), and the issued permit itself.

Same rule as the file page: staff of the file's region only (another region's file is
"not found"), never an admin. PDFs are Jinja2 templates rendered by WeasyPrint
(`licensing.permit.render.html_to_pdf`, no network), off the event loop.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from sqlalchemy import select

from backoffice.deps import CurrentStaff, PartsDep, SessionDep
from backoffice.web import ROLE_NAMES, Denied, environment, step_label
from licensing.catalog import CatalogEntry, Role
from licensing.dates import format_date, format_datetime
from licensing.permit.render import html_to_pdf
from service import dashboard as dash
from service import office
from service.staff import SignedIn
from storage.models import Application, ApplicationEvent, Blob, Permit, Staff

router = APIRouter()

STATUS_NAMES = {"open": "Dalam proses", "approved": "Disetujui", "issued": "Izin terbit",
                "rejected": "Ditolak", "withdrawn": "Dibatalkan", "revoked": "Dicabut"}
REVIEW_NAMES = {"pending": "Belum diperiksa", "accepted": "Diterima", "rejected": "Ditolak"}


async def _file(db: SessionDep, parts: PartsDep, staff: SignedIn,
                reg_no: str) -> tuple[Application, CatalogEntry]:
    if staff.role == Role.ADMIN.value:
        raise Denied("Admin mengelola akun staf dan tidak membuka berkas permohonan.")
    app = await office.load_file(db, actor=staff, reg_no=reg_no)
    return app, parts.catalog.get(app.region, app.profession)


async def _render(template: str, filename: str, **context: object) -> Response:
    html = environment().get_template(template).render(**context)
    pdf = await asyncio.to_thread(html_to_pdf, html)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{filename}"',
        "Cache-Control": "private, no-store"})


async def _receiver(db: SessionDep, app: Application, entry: CatalogEntry) -> str | None:
    """Who received the files: the officer who last acted at the step that gives the
    receipt (the first office step listing it, else the first office step)."""
    steps = entry.office_steps
    at = next((s.code for s in steps if "receipt" in s.actions), steps[0].code)
    found = (await db.execute(
        select(ApplicationEvent.actor, Staff.full_name)
        .outerjoin(Staff, Staff.username == ApplicationEvent.actor)
        .where(ApplicationEvent.application_id == app.id,
               ApplicationEvent.from_step == at,
               ApplicationEvent.action.in_(("check_files", "receipt")))
        .order_by(ApplicationEvent.id.desc()).limit(1))).first()
    if found is None:
        return None
    return found[1] or found[0]


@router.get("/applications/{reg_no}/receipt.pdf")
async def receipt(parts: PartsDep, staff: CurrentStaff, db: SessionDep,
                  reg_no: str) -> Response:
    """Tanda terima: what was handed in, when the clock started, when it is due."""
    app, entry = await _file(db, parts, staff, reg_no)
    tz = entry.region.timezone
    receiver = await _receiver(db, app, entry)
    documents = [{"title": entry.requirement(d.requirement_code).title,
                  "uploaded": format_datetime(d.uploaded_at, "id", tz),
                  "review": REVIEW_NAMES.get(d.review, d.review)} for d in app.documents]
    return await _render(
        "receipt_pdf.html", f"tanda-terima-{reg_no}.pdf", app=app, entry=entry,
        documents=documents, nik=office.mask_nik(app.nik, staff.role),
        submitted=format_datetime(app.submitted_at, "id", tz),
        complete_on=format_date(app.clock_started_on, "id") if app.clock_started_on else None,
        due_on=format_date(app.due_on, "id") if app.due_on else None,
        status=STATUS_NAMES.get(app.status, app.status), staff=staff, receiver=receiver,
        printed=format_datetime(parts.now(), "id", tz))


@router.get("/applications/{reg_no}/routing.pdf")
async def routing_slip(parts: PartsDep, staff: CurrentStaff, db: SessionDep,
                       reg_no: str) -> Response:
    """Lembar kendali: each SOP step, its performer and standard time, when the file
    reached it and left it, and who handed it on; a blank column for the paraf."""
    app, entry = await _file(db, parts, staff, reg_no)
    tz = entry.region.timezone
    stays = await dash.file_times(db, parts.catalog, application=app, now=parts.now())
    last = {s.step.code: s for s in stays}  # a returned file: its latest visit per step
    actors = {s.by for s in stays if s.by}
    names = {u: n for u, n in (await db.execute(select(Staff.username, Staff.full_name)
                                                .where(Staff.username.in_(actors)))).all()}
    rows = []
    for i, step in enumerate(entry.procedure, start=1):
        s = last.get(step.code)
        rows.append({
            "no": i, "step": step_label(step),
            "performer": step.performer or ROLE_NAMES.get(step.role.value, step.role.value),
            "standard": dash.standard_text(step.duration),
            "entered": format_datetime(s.entered, "id", tz) if s else "",
            "left": format_datetime(s.left, "id", tz) if s and s.left else "",
            "by": (f"{names[s.by]} ({s.by})" if s.by in names else s.by)
            if s and s.by else ""})
    return await _render("routing_pdf.html", f"lembar-kendali-{reg_no}.pdf", app=app,
                         entry=entry, rows=rows, status=STATUS_NAMES.get(app.status,
                                                                         app.status),
                         printed=format_datetime(parts.now(), "id", tz))


@router.get("/applications/{reg_no}/permit.pdf")
async def permit_pdf(parts: PartsDep, staff: CurrentStaff, db: SessionDep,
                     reg_no: str) -> Response:
    """The issued permit's signed PDF, byte for byte as the applicant received it."""
    app, _ = await _file(db, parts, staff, reg_no)
    permit = await db.scalar(select(Permit).where(Permit.application_id == app.id))
    if permit is None or permit.blob_sha256 is None:
        raise Denied("Izin untuk berkas ini belum terbit.", status=404,
                     title="Tidak ditemukan")
    if permit.status == "revoked":
        raise Denied("Izin ini sudah dicabut; salinannya tidak diberikan lagi.",
                     title="Izin dicabut")
    blob = await db.get(Blob, permit.blob_sha256)
    if blob is None or not parts.files.exists(blob.sha256):
        raise Denied("Berkas izin tidak ditemukan di penyimpanan.", status=404,
                     title="Tidak ditemukan")
    safe = (permit.number or reg_no).replace("/", "-").replace('"', "")
    return FileResponse(parts.files.path_for(blob.sha256), media_type="application/pdf",
                        filename=f"izin-{safe}.pdf", content_disposition_type="attachment",
                        headers={"Cache-Control": "private, no-store",
                                 "X-Content-Type-Options": "nosniff"})
