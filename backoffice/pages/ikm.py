"""The satisfaction index of the region (issue 6): the table per element, a bar chart
per element (inline SVG, no script), the respondents' profile, the Krejcie-Morgan
sample check, and the CSV that `izin ikm report --csv` prints."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from backoffice.deps import CurrentStaff, PartsDep
from backoffice.regions import region_choices, working_region
from backoffice.web import Denied, add_nav, render
from licensing.ikm import GRADES
from licensing.skm import load_skm
from service import ikm
from service.staff import SignedIn

router = APIRouter()
add_nav("/ikm", "IKM")


def _period(parts: PartsDep, region: str, start: str, end: str) -> tuple[date, date]:
    """The asked period, by default from 1 January to today in the region's time zone."""
    today = parts.now().astimezone(ZoneInfo(parts.catalog.region(region).timezone)).date()
    try:
        lo = date.fromisoformat(start) if start else date(today.year, 1, 1)
        hi = date.fromisoformat(end) if end else today
    except ValueError as exc:
        raise Denied("Tanggal harus berbentuk TTTT-BB-HH.", status=400,
                     title="Isian belum lengkap") from exc
    if hi < lo:
        raise Denied("Periode berakhir sebelum dimulai.", status=400,
                     title="Isian belum lengkap")
    return lo, hi


async def _report(parts: PartsDep, staff: SignedIn, region: str, start: str, end: str,
                  profession: str) -> ikm.IkmReport:
    where = working_region(parts, staff, region)
    services = {e.profession.slug for e in parts.catalog if e.region.slug == where}
    if profession and profession not in services:
        raise Denied(f"Layanan tidak dikenal di wilayah ini: {profession}.", status=404,
                     title="Tidak ditemukan")
    lo, hi = _period(parts, where, start, end)
    return await ikm.report(parts.readers, parts.catalog, region=where, start=lo, end=hi,
                            profession=profession or None)


@router.get("/ikm", response_class=HTMLResponse)
async def ikm_page(request: Request, parts: PartsDep, staff: CurrentStaff, region: str = "",
                   start: str = "", end: str = "", profession: str = "") -> Response:
    rep = await _report(parts, staff, region, start, end, profession)
    services = [(e.profession.slug, e.profession.name) for e in parts.catalog
                if e.region.slug == rep.region]
    return render(request, "ikm.html", staff=staff, rep=rep, rows=ikm.table(rep),
                  skm=load_skm(), grades=GRADES, regions=region_choices(parts, staff),
                  region_name=parts.catalog.region(rep.region).name, services=services,
                  query=request.url.query)


@router.get("/ikm.csv")
async def ikm_csv(parts: PartsDep, staff: CurrentStaff, region: str = "", start: str = "",
                  end: str = "", profession: str = "") -> Response:
    rep = await _report(parts, staff, region, start, end, profession)
    name = f"ikm-{rep.region}-{rep.start}-{rep.end}.csv"
    return Response(ikm.report_csv(rep), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store"})
