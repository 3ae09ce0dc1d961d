"""The pre-check's files for one scan: the cleaned PDF and each original photo.

The results themselves are shown on the file's page (templates/precheck_result.html);
these routes only serve the blobs, to the same staff who may open the file.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from backoffice.deps import CurrentStaff, PartsDep, SessionDep
from backoffice.web import Denied
from licensing.catalog import Role
from service import office
from storage.models import Blob

router = APIRouter()
_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
_EXT = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


async def _blob(parts: PartsDep, staff: CurrentStaff, db: SessionDep, reg_no: str, code: str,
                which: int | None) -> tuple[Blob, str]:
    if staff.role == Role.ADMIN.value:
        raise Denied("Admin mengelola akun staf dan tidak membuka berkas permohonan.")
    app = await office.load_file(db, actor=staff, reg_no=reg_no)  # refuses other regions
    doc = next((d for d in app.documents if d.requirement_code == code), None)
    pre = (doc.precheck or {}) if doc is not None else {}
    sources = pre.get("sources") or []
    if which is None:
        sha, name = pre.get("pdf"), f"{reg_no}-{code}-rapi"
    else:
        sha = sources[which - 1] if 1 <= which <= len(sources) else None
        name = f"{reg_no}-{code}-asli-{which}"
    blob = await db.get(Blob, sha) if isinstance(sha, str) else None
    if blob is None or not parts.files.exists(blob.sha256):
        raise Denied("Berkas itu tidak ada.", status=404, title="Tidak ditemukan")
    return blob, f"{name}.{_EXT.get(blob.media_type, 'bin')}"


def _send(parts: PartsDep, blob: Blob, filename: str) -> Response:
    return FileResponse(parts.files.path_for(blob.sha256), media_type=blob.media_type,
                        filename=filename, content_disposition_type="inline", headers=_HEADERS)


@router.get("/applications/{reg_no}/documents/{code}/clean.pdf")
async def clean_pdf(parts: PartsDep, staff: CurrentStaff, db: SessionDep, reg_no: str,
                    code: str) -> Response:
    blob, name = await _blob(parts, staff, db, reg_no, code, None)
    return _send(parts, blob, name)


@router.get("/applications/{reg_no}/documents/{code}/original/{page}")
async def original(parts: PartsDep, staff: CurrentStaff, db: SessionDep, reg_no: str,
                   code: str, page: int) -> Response:
    blob, name = await _blob(parts, staff, db, reg_no, code, page)
    return _send(parts, blob, name)
