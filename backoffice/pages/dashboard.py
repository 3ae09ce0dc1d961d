"""The dashboard (issue 16) for the head of office and admins: files per step and
overdue, work per officer, per step the SOP's standard time against the month's median
actual time, and one file's times step by step (`?reg_no=`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from backoffice.deps import PartsDep, SessionDep, require_role
from backoffice.regions import region_choices, working_region
from backoffice.web import Denied, add_nav, render
from licensing.dates import format_date
from service import dashboard as dash
from service.staff import SignedIn
from storage.models import Application

router = APIRouter()
DASHBOARD_ROLES = ("head_of_office", "admin")
Boss = Annotated[SignedIn, require_role(*DASHBOARD_ROLES)]
add_nav("/dashboard", "Dasbor", DASHBOARD_ROLES)


def _month(parts: PartsDep, region: str, month: str) -> date:
    today = parts.now().astimezone(ZoneInfo(parts.catalog.region(region).timezone)).date()
    try:
        return date.fromisoformat(f"{month}-01") if month else today.replace(day=1)
    except ValueError as exc:
        raise Denied("Bulan harus berbentuk TTTT-BB.", status=400,
                     title="Isian belum lengkap") from exc


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request, parts: PartsDep, staff: Boss, db: SessionDep,
                         region: str = "", month: str = "", reg_no: str = "") -> Response:
    where = working_region(parts, staff, region)
    first = _month(parts, where, month)
    board = await dash.dashboard(db, parts.catalog, region=where, month=first,
                                 now=parts.now())
    stays: list[dash.FileStay] | None = None
    app = None
    if reg_no.strip():
        if staff.role == "admin":
            raise Denied("Admin mengelola akun staf dan tidak membuka berkas permohonan.")
        app = await db.scalar(select(Application).where(
            Application.reg_no == reg_no.strip(), Application.region == where))
        if app is None:  # another region's file does not exist here
            raise Denied(f"Tidak ada permohonan {reg_no.strip()} di wilayah ini.",
                         status=404, title="Tidak ditemukan")
        stays = await dash.file_times(db, parts.catalog, application=app, now=parts.now())
    professions = {e.profession.slug: e.profession.name for e in parts.catalog
                   if e.region.slug == where}
    return render(request, "dashboard.html", staff=staff, board=board, region=where,
                  regions=region_choices(parts, staff), month=f"{first:%Y-%m}",
                  month_name=format_date(first, "id").split(" ", 1)[1],
                  region_name=parts.catalog.region(where).name, professions=professions,
                  app=app, stays=stays, reg_no=reg_no.strip(),
                  tz=parts.catalog.region(where).timezone,
                  duration_text=dash.duration_text, standard_text=dash.standard_text)
