"""Admin: the region's staff accounts; add one, deactivate or reactivate one, and the
positions (jabatan) and NIP each holds."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from backoffice.deps import AdminStaff, PartsDep
from backoffice.web import Denied, add_nav, base_path, render
from service.staff import (
    ALL_REGIONS,
    STAFF_ROLES,
    StaffError,
    add_staff,
    list_staff,
    positions_of,
    set_active,
    set_positions,
)

router = APIRouter()
add_nav("/staff", "Staf", ("admin",))


def _regions(parts: PartsDep, staff: AdminStaff) -> list[tuple[str, str]]:
    regions = [(r.slug, r.name) for r in parts.catalog.regions()]
    if staff.region == ALL_REGIONS:
        return [*regions, (ALL_REGIONS, "Semua wilayah (khusus admin)")]
    return [(s, n) for s, n in regions if s == staff.region]


async def _page(request: Request, parts: PartsDep, staff: AdminStaff, *, error: str = "",
                flash: str = "", status: int = 200) -> Response:
    members = await list_staff(parts.sessions, actor=staff)
    async with parts.sessions() as session:
        held = await positions_of(session, [m.id for m in members])
    return render(request, "staff.html", staff=staff, members=members, roles=STAFF_ROLES,
                  held=held, region_positions={m.region: parts.catalog.positions(m.region)
                                               for m in members if m.region != ALL_REGIONS},
                  regions=_regions(parts, staff), error=error, flash=flash, now=parts.now(),
                  status=status)


@router.get("/staff")
async def staff_list(request: Request, parts: PartsDep, staff: AdminStaff,
                     added: str = "") -> Response:
    return await _page(request, parts, staff,
                       flash=f"Akun {added} ditambahkan." if added else "")


@router.post("/staff")
async def staff_add(
    request: Request, parts: PartsDep, staff: AdminStaff, username: Annotated[str, Form()],
    full_name: Annotated[str, Form()], role: Annotated[str, Form()],
    region: Annotated[str, Form()], password: Annotated[str, Form()],
    nip: Annotated[str, Form()] = "",
) -> Response:
    if region not in {slug for slug, _ in _regions(parts, staff)}:
        raise Denied("Anda hanya dapat menambah staf di wilayah Anda sendiri.")
    try:
        added = await add_staff(parts.sessions, username=username, full_name=full_name,
                                role=role, region=region, password=password,
                                regions={r.slug for r in parts.catalog.regions()},
                                now=parts.now(), nip=nip or None)
    except StaffError as exc:
        return await _page(request, parts, staff, error=str(exc), status=400)
    return RedirectResponse(f"{base_path(request)}/staff?added={added.username}",
                            status_code=303)


@router.post("/staff/{staff_id}/active")
async def staff_active(request: Request, parts: PartsDep, staff: AdminStaff, staff_id: int,
                       active: Annotated[str, Form()]) -> Response:
    try:
        await set_active(parts.sessions, actor=staff, staff_id=staff_id, active=active == "1")
    except StaffError as exc:
        raise Denied(str(exc)) from exc
    return RedirectResponse(f"{base_path(request)}/staff", status_code=303)


@router.post("/staff/{staff_id}/positions")
async def staff_positions(request: Request, parts: PartsDep, staff: AdminStaff,
                          staff_id: int, nip: Annotated[str, Form()] = "") -> Response:
    """Replace the positions an account holds (checkboxes) and its NIP."""
    form = await request.form()
    chosen = [v for v in form.getlist("positions") if isinstance(v, str)]
    members = {m.id: m for m in await list_staff(parts.sessions, actor=staff)}
    member = members.get(staff_id)
    if member is None:
        raise Denied("Akun itu tidak ada di wilayah Anda.")
    try:
        await set_positions(parts.sessions, actor=staff, staff_id=staff_id, positions=chosen,
                            known_positions=parts.catalog.positions(member.region)
                            if member.region != ALL_REGIONS else (), nip=nip or None)
    except StaffError as exc:
        return await _page(request, parts, staff, error=str(exc), status=400)
    return RedirectResponse(f"{base_path(request)}/staff", status_code=303)
