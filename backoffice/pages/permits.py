"""Permits of the region (issue 6): the list with verify links, revoking with a reason,
and the upload of a PDF signed elsewhere for an approved application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backoffice.deps import PartsDep, SessionDep, require_role
from backoffice.regions import region_choices, working_region
from backoffice.web import Denied, add_nav, base_path, render
from licensing.permit.signing import SignatureError
from service import permits
from service.staff import SignedIn
from storage.filestore import CHUNK_SIZE, UploadRejected
from storage.models import Permit

router = APIRouter()
PERMIT_ROLES = ("head_of_office", "admin")
PermitStaff = Annotated[SignedIn, require_role(*PERMIT_ROLES)]
add_nav("/permits", "Izin terbit", PERMIT_ROLES)

STATUSES = {"pending": "Menunggu tanda tangan", "issued": "Terbit", "revoked": "Dicabut"}
UPLOAD_REFUSALS = {"too_large": "Berkas terlalu besar.", "empty": "Berkas kosong."}


@router.get("/permits", response_class=HTMLResponse)
async def permit_list(request: Request, parts: PartsDep, staff: PermitStaff, db: SessionDep,
                      status: str = "", region: str = "", done: str = "") -> Response:
    where = working_region(parts, staff, region)
    rows = await permits.list_permits(db, region=where, status=status or None)
    return render(request, "permits.html", staff=staff, rows=rows, region=where,
                  regions=region_choices(parts, staff), chosen=status, statuses=STATUSES,
                  flash=done, max_mb=parts.files.max_bytes // (1024 * 1024))


def _back(request: Request, region: str, message: str) -> Response:
    return RedirectResponse(f"{base_path(request)}/permits?region={region}&done="
                            f"{quote(message)}", status_code=303)


@router.post("/permits/{permit_id}/revoke")
async def revoke(request: Request, parts: PartsDep, staff: PermitStaff, permit_id: int,
                 reason: Annotated[str, Form()] = "",
                 region: Annotated[str, Form()] = "") -> Response:
    where = working_region(parts, staff, region)
    async with parts.sessions() as db:  # closed before the revocation's own transaction
        permit = await db.get(Permit, permit_id)
    if permit is None or permit.region != where:
        raise Denied("Izin itu tidak ada di wilayah Anda.", status=404, title="Tidak ditemukan")
    if len(" ".join(reason.split())) < 5:
        raise Denied("Tulis alasan pencabutan (paling sedikit 5 huruf). Tidak ada yang "
                     "diubah.", status=400, title="Isian belum lengkap")
    try:
        done = await permits.revoke(parts.sessions, key=permit.verify_code, reason=reason,
                                    actor=staff.username, now=parts.now(), region=where)
    except permits.PermitError as exc:
        raise Denied("Hanya izin yang sudah terbit yang dapat dicabut. Tidak ada yang "
                     "diubah.", title="Tidak dapat dicabut") from exc
    return _back(request, where, f"Izin {done.number} dicabut; pemegang izin diberi tahu.")


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK_SIZE):
        yield chunk


@router.post("/permits/upload/{reg_no}")
async def upload_signed(request: Request, parts: PartsDep, staff: PermitStaff, reg_no: str,
                        pdf: Annotated[UploadFile, File()],
                        region: Annotated[str, Form()] = "") -> Response:
    where = working_region(parts, staff, region)
    try:
        info = await permits.attach_signed_upload(
            parts.sessions, files=parts.files, catalog=parts.catalog, reg_no=reg_no,
            region=where, chunks=_chunks(pdf), declared_size=pdf.size, actor=staff.username,
            now=parts.now())
    except permits.PermitError as exc:
        raise Denied(f"Tidak ada izin {reg_no} yang menunggu tanda tangan di wilayah Anda. "
                     "Tidak ada yang disimpan.", status=404, title="Tidak ditemukan") from exc
    except UploadRejected as exc:
        text = UPLOAD_REFUSALS.get(exc.code) or SignatureError.MESSAGES_ID.get(
            exc.code, "Berkas ini tidak dapat diterima.")
        raise Denied(f"{text} Unggah PDF yang sudah ditandatangani secara elektronik (mis. "
                     "oleh BSrE). Tidak ada yang disimpan.", status=400,
                     title="PDF ditolak") from exc
    finally:
        await pdf.close()
    signer = info.signer_cn or "tidak diketahui"
    return _back(request, where, f"PDF bertanda tangan untuk {reg_no} disimpan tanpa diubah "
                 f"(penanda tangan: {signer}{', TEST' if info.is_test else ''}); izin terbit.")
