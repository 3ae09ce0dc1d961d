"""The complaint desk (issue 7): tickets with filters, one ticket (thread, grade,
escalation, resolution path, Metro's handling steps, answer, close, my notices), the
complaint book with its CSV and the monthly report.

For complaint officers, heads of office and admins of the region; no other role's
staff are named by the escalation chains (their levels are complaint officers, heads
of division, who have no account role, and heads of office), so other roles are
refused. No page here ever shows an anonymous complainant's name, chat id, number or
applicant id: everything comes from `service.complaint_desk`, which never returns them.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backoffice.deps import PartsDep, require_role
from backoffice.regions import region_choices, working_region
from backoffice.web import Denied, add_nav, base_path, render
from licensing.complaints import GRADES, RESOLUTION_PATHS, ComplaintAction
from service import complaint_desk as desk
from service.staff import SignedIn

router = APIRouter()
DeskStaff = Annotated[SignedIn, require_role(*desk.DESK_ROLES)]
add_nav("/complaints", "Pengaduan", desk.DESK_ROLES)
add_nav("/complaint-book", "Buku pengaduan", desk.DESK_ROLES)

GRADE_NAMES, STATUS_NAMES, KIND_NAMES = desk.GRADE_NAMES, desk.STATUS_NAMES, desk.KIND_NAMES
PATH_NAMES, CATEGORY_NAMES, ACTION_NAMES = desk.PATH_NAMES, desk.CATEGORY_NAMES, desk.ACTION_NAMES
# The service's refusal codes: (HTTP status, title, what to tell the officer).
REFUSALS = {"not_found": (404, "Tidak ditemukan", "Tiket itu tidak ada di wilayah Anda."),
            "closed": (403, "Tiket sudah ditutup", "Tiket ini sudah ditutup."),
            "wrong_role": (403, "Bukan peran Anda", "Peran Anda tidak menetapkan bobot."),
            "wrong_order": (403, "Belum waktunya", ""),
            "last_level": (403, "Tingkat terakhir",
                           "Tiket sudah di tingkat terakhir rantai penanganannya."),
            "bad_input": (400, "Isian belum lengkap", "")}
ORDER_HINTS = {"confirm the grade before answering": "Tetapkan bobot sebelum menjawab.",
               "confirm the grade before escalating": "Tetapkan bobot sebelum menaikkan "
                                                      "tingkat.",
               "answer the complainant before closing": "Jawab pengadu sebelum menutup.",
               "only complaint officers and the head of office escalate":
                   "Hanya petugas pengaduan dan kepala dinas yang menaikkan tingkat."}


def thread_text(m: desk.ThreadEntry, v: desk.TicketView) -> str:
    """One thread entry as officers read it, from its structured fields."""
    if m.action == ComplaintAction.ESCALATE and m.level is not None:
        title = v.levels[m.level][1] if m.level < len(v.levels) else ""
        head = f"ke tingkat {m.level + 1}: {title}"
        return f"{head} — alasan: {m.text}" if m.text else f"{head} (batas waktu terlewati)"
    if m.action == ComplaintAction.GRADE and m.grade:
        new = GRADE_NAMES.get(m.grade, m.grade)
        proposed = GRADE_NAMES.get(v.row.proposed_grade, v.row.proposed_grade)
        if m.prev_grade in (None, m.grade):
            return f"bobot {new} dikonfirmasi (usulan sistem: {proposed})"
        return (f"diubah dari {GRADE_NAMES.get(m.prev_grade or '', m.prev_grade)} menjadi "
                f"{new} (usulan sistem: {proposed})")
    if m.action in (ComplaintAction.PATH, ComplaintAction.CLOSE) and m.text:
        return PATH_NAMES.get(m.text, m.text)
    return m.text or ""


NAMES: dict[str, Any] = dict(
    grade_names=GRADE_NAMES, status_names=STATUS_NAMES, kind_names=KIND_NAMES,
    path_names=PATH_NAMES, category_names=CATEGORY_NAMES, action_names=ACTION_NAMES,
    suggestion_reasons=desk.SUGGESTION_REASONS, thread_text=thread_text,
    grade_text=desk.grade_text, level_text=desk.level_text,
    escalate_roles=desk.ESCALATE_ROLES)


def _refuse(exc: desk.DeskError) -> Denied:
    status, title, text = REFUSALS.get(exc.code, (403, "Tidak diizinkan", ""))
    detail = ORDER_HINTS.get(str(exc), text or str(exc))
    return Denied(f"{detail} Tidak ada yang diubah.", status=status, title=title)


def _officer(parts: PartsDep, staff: SignedIn, region: str) -> desk.Officer:
    return desk.Officer(staff.username, staff.role, working_region(parts, staff, region))


def _today(parts: PartsDep, region: str) -> date:
    return parts.now().astimezone(ZoneInfo(parts.catalog.region(region).timezone)).date()


# --- the list -------------------------------------------------------------------------


@router.get("/complaints", response_class=HTMLResponse)
async def ticket_list(request: Request, parts: PartsDep, staff: DeskStaff, region: str = "",
                      status: str = "", grade: str = "", kind: str = "", level: str = "",
                      overdue: str = "") -> Response:
    where = working_region(parts, staff, region)
    lvl = int(level) if level.isdigit() else None
    rows = await desk.tickets(parts.sessions, parts.catalog, region=where, now=parts.now(),
                              status=status or None, grade=grade or None, kind=kind or None,
                              level=lvl, overdue=overdue == "1")
    mine = await desk.notices(parts.sessions, region=where, role=staff.role, unread_only=True)
    return render(request, "complaints.html", staff=staff, rows=rows, region=where,
                  region_name=parts.catalog.region(where).name,
                  regions=region_choices(parts, staff), notices=mine,
                  f={"status": status, "grade": grade, "kind": kind, "level": level,
                     "overdue": overdue}, grades=GRADES, **NAMES)


# --- the book (before /complaints/{ticket_no}) ----------------------------------------


def _dates(start: str, end: str) -> tuple[date | None, date | None]:
    try:
        return (date.fromisoformat(start) if start else None,
                date.fromisoformat(end) if end else None)
    except ValueError as exc:
        raise Denied("Tanggal harus berbentuk TTTT-BB-HH.", status=400,
                     title="Isian belum lengkap") from exc


async def _book(parts: PartsDep, staff: SignedIn, region: str, start: str, end: str,
                status: str, grade: str, kind: str) -> tuple[str, list[desk.BookRow]]:
    where = working_region(parts, staff, region)
    lo, hi = _dates(start, end)
    rows = await desk.book(parts.sessions, parts.catalog, region=where, start=lo, end=hi,
                           status=status or None, grade=grade or None, kind=kind or None)
    return where, rows


@router.get("/complaint-book", response_class=HTMLResponse)
async def book_page(request: Request, parts: PartsDep, staff: DeskStaff, region: str = "",
                    start: str = "", end: str = "", status: str = "", grade: str = "",
                    kind: str = "") -> Response:
    where, rows = await _book(parts, staff, region, start, end, status, grade, kind)
    today = _today(parts, where)
    return render(request, "complaint_book.html", staff=staff, rows=rows, region=where,
                  regions=region_choices(parts, staff), query=request.url.query,
                  f={"start": start, "end": end, "status": status, "grade": grade,
                     "kind": kind}, grades=GRADES, month=f"{today:%Y-%m}",
                  region_name=parts.catalog.region(where).name, **NAMES)


@router.get("/complaint-book.csv")
async def book_csv(parts: PartsDep, staff: DeskStaff, region: str = "", start: str = "",
                   end: str = "", status: str = "", grade: str = "",
                   kind: str = "") -> Response:
    where, rows = await _book(parts, staff, region, start, end, status, grade, kind)
    return Response(desk.book_csv(rows), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="buku-pengaduan-{where}.csv"',
        "Cache-Control": "private, no-store"})


@router.get("/complaint-report", response_class=HTMLResponse)
async def monthly(request: Request, parts: PartsDep, staff: DeskStaff, region: str = "",
                  month: str = "") -> Response:
    where = working_region(parts, staff, region)
    today = _today(parts, where)
    try:
        first = date.fromisoformat(f"{month}-01") if month else today.replace(day=1)
    except ValueError as exc:
        raise Denied("Bulan harus berbentuk TTTT-BB.", status=400,
                     title="Isian belum lengkap") from exc
    report = await desk.monthly_report(parts.sessions, parts.catalog, region=where,
                                       year=first.year, month=first.month, today=today)
    return render(request, "complaint_report.html", staff=staff, report=report,
                  region=where, regions=region_choices(parts, staff),
                  region_name=parts.catalog.region(where).name, month=f"{first:%Y-%m}",
                  **NAMES)


# --- one ticket -----------------------------------------------------------------------


@router.get("/complaints/{ticket_no}", response_class=HTMLResponse)
async def ticket_page(request: Request, parts: PartsDep, staff: DeskStaff, ticket_no: str,
                      region: str = "", done: str = "") -> Response:
    where = working_region(parts, staff, region)
    try:
        view = await desk.ticket_view(parts.sessions, parts.catalog, region=where,
                                      ticket_no=ticket_no, now=parts.now())
    except desk.DeskError as exc:
        raise _refuse(exc) from exc
    mine = await desk.notices(parts.sessions, region=where, role=staff.role, ref=ticket_no)
    found = parts.catalog.find(where, view.profession) if view.profession else None
    return render(request, "complaint.html", staff=staff, v=view, c=view.row, region=where,
                  profession_name=found.profession.name if found else (view.profession or ""),
                  notices=mine, flash=done, grades=GRADES, paths=RESOLUTION_PATHS,
                  tz=parts.catalog.region(where).timezone, **NAMES)


def _back(request: Request, ticket_no: str, region: str, message: str) -> Response:
    return RedirectResponse(f"{base_path(request)}/complaints/{ticket_no}?region={region}"
                            f"&done={quote(message)}", status_code=303)


@router.post("/complaints/{ticket_no}/grade")
async def grade(request: Request, parts: PartsDep, staff: DeskStaff, ticket_no: str,
                grade: Annotated[str, Form()], region: Annotated[str, Form()] = "") -> Response:
    officer = _officer(parts, staff, region)
    try:
        c = await desk.confirm_grade(parts.sessions, officer, ticket_no=ticket_no, grade=grade,
                                     catalog=parts.catalog, calendar=parts.calendar,
                                     now=parts.now())
    except desk.DeskError as exc:
        raise _refuse(exc) from exc
    return _back(request, ticket_no, officer.region,
                 f"Bobot {GRADE_NAMES[grade]} ditetapkan (usulan sistem: "
                 f"{GRADE_NAMES.get(c.proposed_grade, c.proposed_grade)}).")


@router.post("/complaints/{ticket_no}/escalate")
async def escalate(request: Request, parts: PartsDep, staff: DeskStaff, ticket_no: str,
                   reason: Annotated[str, Form()] = "",
                   region: Annotated[str, Form()] = "") -> Response:
    officer = _officer(parts, staff, region)
    try:
        c = await desk.escalate(parts.sessions, officer, ticket_no=ticket_no, reason=reason,
                                catalog=parts.catalog, calendar=parts.calendar,
                                now=parts.now())
    except desk.DeskError as exc:
        if exc.code == "bad_input":
            raise Denied(f"Alasan harus {desk.REASON_MIN}–{desk.REASON_MAX} huruf. Tidak ada "
                         "yang diubah.", status=400, title="Isian belum lengkap") from exc
        raise _refuse(exc) from exc
    return _back(request, ticket_no, officer.region,
                 f"Tiket dinaikkan ke tingkat {c.level + 1}.")


@router.post("/complaints/{ticket_no}/path")
async def path(request: Request, parts: PartsDep, staff: DeskStaff, ticket_no: str,
               resolution_path: Annotated[str, Form()],
               region: Annotated[str, Form()] = "") -> Response:
    officer = _officer(parts, staff, region)
    try:
        await desk.choose_path(parts.sessions, officer, ticket_no=ticket_no,
                               resolution_path=resolution_path, now=parts.now())
    except desk.DeskError as exc:
        raise _refuse(exc) from exc
    return _back(request, ticket_no, officer.region,
                 f"Jalur penyelesaian: {PATH_NAMES[resolution_path]}.")


@router.post("/complaints/{ticket_no}/step")
async def handling_step(request: Request, parts: PartsDep, staff: DeskStaff, ticket_no: str,
                        step: Annotated[int, Form()], note: Annotated[str, Form()] = "",
                        region: Annotated[str, Form()] = "") -> Response:
    officer = _officer(parts, staff, region)
    try:
        await desk.record_step(parts.sessions, officer, ticket_no=ticket_no, step=step,
                               note=note, catalog=parts.catalog, now=parts.now())
    except desk.DeskError as exc:
        raise _refuse(exc) from exc
    return _back(request, ticket_no, officer.region, "Langkah penanganan dicatat.")


@router.post("/complaints/{ticket_no}/answer")
async def answer(request: Request, parts: PartsDep, staff: DeskStaff, ticket_no: str,
                 text: Annotated[str, Form()] = "",
                 region: Annotated[str, Form()] = "") -> Response:
    officer = _officer(parts, staff, region)
    if not desk.ANSWER_MIN <= len(text.strip()) <= desk.ANSWER_MAX:
        raise Denied(f"Jawaban harus {desk.ANSWER_MIN}–{desk.ANSWER_MAX} huruf. Tidak ada "
                     "yang diubah.", status=400, title="Isian belum lengkap")
    try:
        await desk.answer(parts.sessions, officer, ticket_no=ticket_no, text=text,
                          now=parts.now())
    except desk.DeskError as exc:
        raise _refuse(exc) from exc
    return _back(request, ticket_no, officer.region, "Jawaban dikirim ke percakapan pengadu.")


@router.post("/complaints/{ticket_no}/close")
async def close(request: Request, parts: PartsDep, staff: DeskStaff, ticket_no: str,
                resolution_path: Annotated[str, Form()],
                region: Annotated[str, Form()] = "") -> Response:
    officer = _officer(parts, staff, region)
    try:
        await desk.close(parts.sessions, officer, ticket_no=ticket_no,
                         resolution_path=resolution_path, now=parts.now())
    except desk.DeskError as exc:
        raise _refuse(exc) from exc
    return _back(request, ticket_no, officer.region,
                 "Tiket ditutup; pengadu ditanya apakah masalahnya sudah tuntas.")


@router.post("/complaints/notices/{notice_id}/read")
async def notice_read(request: Request, parts: PartsDep, staff: DeskStaff, notice_id: int,
                      region: Annotated[str, Form()] = "",
                      back: Annotated[str, Form()] = "") -> Response:
    officer = _officer(parts, staff, region)
    try:
        n = await desk.mark_read(parts.sessions, officer, notice_id=notice_id, now=parts.now())
    except desk.DeskError as exc:
        raise _refuse(exc) from exc
    if back == "list":
        return RedirectResponse(f"{base_path(request)}/complaints?region={officer.region}",
                                status_code=303)
    return _back(request, n.ref, officer.region, "Pemberitahuan ditandai sudah dibaca.")
