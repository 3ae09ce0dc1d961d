"""Admin (region-wide): failures kept for a person, with retry and discard (`izin ops`'s
page; both call service/ops.py, which audits every action)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from backoffice.deps import AdminStaff, PartsDep
from backoffice.web import Denied, add_nav, base_path, render
from service.ops import Action, Kind, OpsError, act, audit_log, failures
from service.staff import ALL_REGIONS, SignedIn

router = APIRouter()
add_nav("/ops", "Operasi", ("admin",))

KIND_NAMES = {Kind.inbound: "Pesan masuk gagal", Kind.outbox: "Kiriman gagal",
              Kind.permit: "Penandatanganan izin gagal"}


def _region_wide(staff: SignedIn) -> None:
    # Failed rows are not tied to one region (a chat's first messages name none).
    if staff.region != ALL_REGIONS:
        raise Denied("Halaman operasi hanya untuk admin seluruh wilayah (*).")


@router.get("/ops")
async def ops_page(request: Request, parts: PartsDep, staff: AdminStaff,
                   done: str = "") -> Response:
    _region_wide(staff)
    rows = await failures(parts.sessions)
    audit = await audit_log(parts.sessions, limit=50)
    return render(request, "ops.html", staff=staff, rows=rows, audit=audit, flash=done,
                  kind_names=KIND_NAMES)


@router.post("/ops/{kind}/{row_id}/{action}")
async def ops_act(request: Request, parts: PartsDep, staff: AdminStaff, kind: str,
                  row_id: int, action: str) -> Response:
    _region_wide(staff)
    if kind not in Kind.__members__ or action not in Action.__members__:
        raise Denied("Tindakan tidak dikenal.", status=404)
    try:
        done = await act(parts.sessions, kind=Kind(kind), row_id=row_id, action=Action(action),
                         actor=staff.username, now=parts.now())
    except OpsError as exc:
        raise Denied(f"{exc}. Tidak ada yang diubah.",
                     status=404 if exc.code == "not_found" else 403) from exc
    return RedirectResponse(f"{base_path(request)}/ops?done={quote(done)}", status_code=303)
