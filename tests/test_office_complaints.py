"""The complaint desk's pages (issue 7) over the real HTTP app: list and filters, the
ticket (grade confirmed or changed and recorded, resolution path, Metro's handling
steps, answer into the chat, the complainant's reply in the thread, close with the
"settled?" question, notices), the book with its CSV and the monthly report; every
refusal changes nothing; no page or export reveals an anonymous complainant."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from backoffice.app import PAGES
from bot.composition import App
from conversations.types import InboundEvent
from service import complaint_desk as desk
from storage.models import Applicant, Complaint, ComplaintMessage, OutboxMessage, StaffNotice
from tests.conftest import Clock
from tests.journeys import NAME, PHONE, run_script
from tests.office_client import Browser, make_staff
from tests.test_complaint_desk import file, get, last_message
from tests.test_permit_journey import submit

ANSWER = "Berkas Anda sudah kami periksa; izin terbit besok pagi."


async def desk_state(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a desk action could change."""
    async with app.sessions() as s:
        tickets = (await s.scalars(select(Complaint).order_by(Complaint.id))).all()
        thread = (await s.scalars(select(ComplaintMessage.id))).all()
        outbox = (await s.scalars(select(OutboxMessage.id))).all()
        notices = (await s.scalars(select(StaffNotice).order_by(StaffNotice.id))).all()
    return {
        "tickets": [(c.grade, c.level, c.level_due_on, c.status, c.resolution_path,
                     c.closed_at, c.settled) for c in tickets],
        "thread": [(i,) for i in thread], "outbox": [(i,) for i in outbox],
        "notices": [(n.id, n.read_at) for n in notices],
    }


async def officer(app: App, username: str = "siti.adu", role: str = "complaint_officer",
                  region: str = "pekanbaru") -> Browser:
    await make_staff(app, username, role, region)
    b = Browser(app)
    assert (await b.login(username)).status_code == 303
    return b


def thread_actions(html: str) -> list[str]:
    return re.findall(r'data-entry="([a-z_]+)"', html)


async def test_an_officer_works_a_ticket_from_the_pages(app: App, clock: Clock) -> None:
    ticket = await file(app, "budi", anonymous=False)
    page = f"/office/complaints/{ticket}"
    b = await officer(app)
    try:
        listing = await b.get("/office/complaints")
        assert f'data-ticket="{ticket}"' in listing.text and "Budi Santoso" in listing.text
        assert "Pengaduan baru" in listing.text  # the new-ticket notice for my role
        res = await b.get(page)
        assert 'data-proposed>Sedang<' in res.text and "data-confirmed" not in res.text
        assert 'data-form="answer"' not in res.text  # grade first

        # Change the proposal: the change is recorded in the thread.
        res = await b.post(f"{page}/grade", {"grade": "ringan"}, follow=True)
        assert "Bobot Ringan ditetapkan (usulan sistem: Sedang)" in res.text
        assert 'data-confirmed>Ringan<' in res.text
        assert "diubah dari Sedang menjadi Ringan (usulan sistem: Sedang)" in res.text
        assert "data-level-title>1 · Personil yang menangani" in res.text
        assert "data-level-due>2 Desember 2026<" in res.text  # 7 working days
        # ...and back to the proposal: recorded again.
        await b.post(f"{page}/grade", {"grade": "sedang"})
        c = await get(app, ticket)
        assert (c.grade, c.level) == ("sedang", 0)

        res = await b.post(f"{page}/path", {"resolution_path": "technical_or_agency"},
                           follow=True)
        assert 'data-path="technical_or_agency"' in res.text
        res = await b.post(f"{page}/answer", {"text": ANSWER}, follow=True)
        assert "Jawaban dikirim ke percakapan pengadu" in res.text
        msg = await last_message(app, "budi")
        assert ANSWER in msg.text and msg.choices[0].id == f"!kr:{ticket}"

        # The complainant's reply joins the thread shown on the page.
        await app.runtime.handle(channel="console", external_id="budi", platform_id="r1",
                                 event=InboundEvent.choose(f"!kr:{ticket}"))
        await app.runtime.handle(channel="console", external_id="budi", platform_id="r2",
                                 event=InboundEvent.message("Terima kasih, saya tunggu."))
        res = await b.get(page)
        assert "Terima kasih, saya tunggu." in res.text
        assert thread_actions(res.text) == ["filed", "grade", "grade", "path", "answer",
                                            "reply"]

        res = await b.post(f"{page}/close", {"resolution_path": "internal"}, follow=True)
        assert "Tiket ditutup" in res.text and 'data-status="closed"' in res.text
        ask = await last_message(app, "budi")
        assert [c.id for c in ask.choices] == [f"!ks:{ticket}:yes", f"!ks:{ticket}:no"]
        assert (await get(app, ticket)).resolution_path == "internal"

        # Filters.
        row = f'<tr data-ticket="{ticket}"'
        assert row in (await b.get("/office/complaints?status=closed")).text
        assert row not in (await b.get("/office/complaints?status=open")).text
        assert row in (await b.get("/office/complaints?grade=sedang&kind=complaint")).text
        assert row not in (await b.get("/office/complaints?grade=berat")).text
        assert row not in (await b.get("/office/complaints?level=1")).text
    finally:
        await b.http.aclose()


async def test_notices_are_marked_read_for_my_role(app: App, clock: Clock) -> None:
    ticket = await file(app, "budi", anonymous=False)
    b = await officer(app)
    try:
        res = await b.get(f"/office/complaints/{ticket}")
        ids = re.findall(r'data-notice="(\d+)"', res.text)
        assert len(ids) == 1
        res = await b.post(f"/office/complaints/notices/{ids[0]}/read", {}, follow=True)
        assert "data-read" in res.text and "sudah dibaca" in res.text
        assert "Pengaduan baru" not in (await b.get("/office/complaints")).text  # unread only
    finally:
        await b.http.aclose()


async def test_escalation_shows_on_the_pages_and_the_overdue_filter(app: App,
                                                                    clock: Clock) -> None:
    ticket = await file(app, "budi", anonymous=False)
    b = await officer(app)
    kadis = await officer(app, "kadis.pku", "head_of_office")
    try:
        await b.get(f"/office/complaints/{ticket}")
        await b.post(f"/office/complaints/{ticket}/grade", {"grade": "sedang"})
        row = f'<tr data-ticket="{ticket}"'
        assert row not in (await b.get("/office/complaints?overdue=1")).text
        clock.advance(days=10)  # Thu 3 Dec: level 0 (due Wed 2 Dec) is overdue
        await b.login("siti.adu")  # the 8-hour sessions ended meanwhile
        await kadis.login("kadis.pku")
        assert row in (await b.get("/office/complaints?overdue=1")).text
        assert await desk.escalate_overdue(app.sessions, catalog=app.catalog,
                                           calendar=app.calendar, now=clock()) == 1
        res = await kadis.get(f"/office/complaints/{ticket}")
        assert "data-level-title>2 · Kepala DPMPTSP<" in res.text
        assert "Naik tingkat" in res.text and "ke tingkat 2: Kepala DPMPTSP" in res.text
        assert f"{ticket} (Sedang): Kepala DPMPTSP" in res.text  # the head's notice
        assert row in (await b.get("/office/complaints?level=1")).text
    finally:
        await b.http.aclose()
        await kadis.http.aclose()


async def test_metro_handling_steps_from_the_page(app: App, clock: Clock) -> None:
    await run_script(app, "m", ["halo", "1", "/pengaduan", "Hal lain", "Metro",
                                "Sarana dan prasarana", "Ruang tunggu terlalu panas sekali.",
                                "Tidak ada lagi", "anonim", "Kirim"])
    async with app.sessions() as s:
        ticket = await s.scalar(select(Complaint.ticket_no))
    b = await officer(app, "adu.metro", region="metro")
    try:
        res = await b.get(f"/office/complaints/{ticket}")
        steps = re.findall(r'<option value="(\d)">\d\. ([^<]+)</option>', res.text)
        assert [name for _, name in steps] == ["Verifikasi aduan", "Mediasi",
                                               "Koordinasi dan cek lokasi",
                                               "Penyelesaian/Sanksi"]
        res = await b.post(f"/office/complaints/{ticket}/step",
                           {"step": "1", "note": "mediasi dengan petugas loket"}, follow=True)
        assert "Mediasi: mediasi dengan petugas loket" in res.text
        res = await b.post(f"/office/complaints/{ticket}/step", {"step": "9", "note": "x"})
        assert res.status_code == 400 and "no such handling step" in res.text
    finally:
        await b.http.aclose()


async def test_book_csv_and_monthly_report(app: App, clock: Clock) -> None:
    named = await file(app, "62812000222", anonymous=False)
    b = await officer(app, "kadis.pku", "head_of_office")
    try:
        res = await b.get("/office/complaint-book")
        assert f'data-ticket="{named}"' in res.text and "Budi Santoso" in res.text
        assert "Sedang (usulan)" in res.text
        csv_ = await b.get("/office/complaint-book.csv")
        assert csv_.headers["content-type"].startswith("text/csv")
        # Indonesian values, never the stored codes or a 0-based level.
        row = csv_.text.splitlines()[1].split(",")
        assert row[3:8] == ["Pengaduan", "Jangka waktu", "Sedang (usulan)",
                            "belum dibobot", "Terbuka"], row
        for code in ("complaint", "time", "sedang", "open", "tingkat 0"):
            assert code not in row
        assert csv_.text == desk.book_csv(await desk.book(app.sessions, app.catalog,
                                                          region="pekanbaru"))
        assert named in (await b.get("/office/complaint-book.csv?kind=complaint")).text
        assert named not in (await b.get("/office/complaint-book.csv?status=closed")).text
        assert named not in (await b.get("/office/complaint-book?start=2026-12-01")).text
        report = await b.get("/office/complaint-report?month=2026-11")
        assert 'data-total="1"' in report.text and "Budi Santoso" in report.text
        assert 'data-total="0"' in (await b.get("/office/complaint-report?month=2026-10")).text
        bad = await b.get("/office/complaint-book?start=kemarin")
        assert bad.status_code == 400
    finally:
        await b.http.aclose()


async def test_anonymous_complainants_never_appear_on_any_page_or_export(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    user = "62812000111"
    reg_no = await submit(app, user, "pekanbaru", "okupasi-terapis", samples)
    await run_script(app, user, ["menu", "/pengaduan", f"Permohonan {reg_no}", "Waktu",
                                 "Berkas saya sudah lewat batas waktu tanpa kabar.",
                                 "Tidak ada lagi", "anonim", "Kirim"])
    named = await file(app, "62812000222", anonymous=False)
    async with app.sessions() as s:
        anon = await s.scalar(select(Complaint).where(Complaint.anonymous.is_(True)))
        applicant = await s.scalar(select(Applicant).where(Applicant.external_id == user))
    assert anon is not None and applicant is not None and anon.reg_no == reg_no
    b = await officer(app, "kadis.pku", "head_of_office")
    try:
        page = f"/office/complaints/{anon.ticket_no}"
        await b.get(page)
        await b.post(f"{page}/grade", {"grade": "sedang"})
        await b.post(f"{page}/answer", {"text": ANSWER})
        await app.runtime.handle(channel="console", external_id=user, platform_id="a1",
                                 event=InboundEvent.choose(f"!kr:{anon.ticket_no}"))
        await app.runtime.handle(channel="console", external_id=user, platform_id="a2",
                                 event=InboundEvent.message("Baik, terima kasih."))
        await b.get(page)
        await b.post(f"{page}/close", {"resolution_path": "apip"})
        paths = ["/office/complaints", "/office/complaints?overdue=1", page,
                 f"/office/complaints/{named}", "/office/complaint-book",
                 "/office/complaint-book.csv", "/office/complaint-report?month=2026-11",
                 "/office/complaint-book.csv?status=closed"]
        seen = ""
        for path in paths:
            res = await b.get(path)
            assert res.status_code == 200, path
            seen += res.text
            if path == page:
                assert "data-identity>Anonim<" in res.text
                assert "Baik, terima kasih." in res.text  # the reply is shown, not who sent it
        for secret in (NAME, user, PHONE, PHONE.replace(" ", ""), reg_no,
                       f"/applicants/{applicant.id}"):
            assert secret not in seen, secret
        assert "Budi Santoso" in seen  # a named complainant keeps the name
    finally:
        await b.http.aclose()


async def test_refusals_change_nothing(app: App, clock: Clock) -> None:
    ticket = await file(app, "budi", anonymous=False)
    page = f"/office/complaints/{ticket}"
    b = await officer(app)
    fo = await officer(app, "fo.pku", "front_office")
    metro = await officer(app, "adu.metro", region="metro")
    try:
        await b.get(page)
        before = await desk_state(app)

        async def refused(res: httpx.Response, status: int, text: str) -> None:
            assert res.status_code == status, (res.status_code, res.text[-600:])
            assert text in res.text, res.text[-600:]
            assert await desk_state(app) == before

        # Order: no answer before a grade, no close before an answer.
        await refused(await b.post(f"{page}/answer", {"text": ANSWER}), 403,
                      "Tetapkan bobot sebelum menjawab")
        await refused(await b.post(f"{page}/close", {"resolution_path": "internal"}), 403,
                      "Jawab pengadu sebelum menutup")
        # Bad input.
        await refused(await b.post(f"{page}/grade", {"grade": "parah"}), 400,
                      "grade must be one of")
        await refused(await b.post(f"{page}/path", {"resolution_path": "dukun"}), 400,
                      "Isian belum lengkap")
        await refused(await b.post(f"{page}/step", {"step": "7", "note": "x"}), 400,
                      "no such handling step")
        await refused(await b.post(f"{page}/answer", {"text": "ok"}), 400,
                      "Jawaban harus 10–3000 huruf")
        # Missing or forged CSRF token.
        for csrf in (None, "forged"):
            await refused(await b.post(f"{page}/grade", {"grade": "ringan"}, csrf=csrf), 403,
                          "token keamanan (CSRF)")
        # Wrong role: a front-office account sees none of the desk.
        for path in ("/office/complaints", page, "/office/complaint-book",
                     "/office/complaint-book.csv", "/office/complaint-report"):
            await refused(await fo.http.get(path), 403, "Halaman ini hanya untuk peran")
        await fo.get("/office/ikm")
        await refused(await fo.post(f"{page}/grade", {"grade": "ringan"}), 403,
                      "Halaman ini hanya untuk peran")
        # Other region: the ticket does not exist for Metro's officer.
        await metro.get("/office/complaints")
        await refused(await metro.http.get(page), 404, "Tiket itu tidak ada di wilayah Anda")
        for action, data in (("grade", {"grade": "ringan"}), ("answer", {"text": ANSWER}),
                             ("path", {"resolution_path": "internal"}),
                             ("close", {"resolution_path": "internal"})):
            await refused(await metro.post(f"{page}/{action}", data), 404,
                          "Tiket itu tidak ada di wilayah Anda")
        assert ticket not in (await metro.get("/office/complaints")).text
        assert ticket not in (await metro.get("/office/complaint-book.csv")).text
        async with app.sessions() as s:
            notice = await s.scalar(select(StaffNotice.id))
        await refused(await metro.post(f"/office/complaints/notices/{notice}/read", {}), 404,
                      "Tidak ditemukan")
        # A closed ticket takes no more actions.
        await b.post(f"{page}/grade", {"grade": "sedang"})
        await b.post(f"{page}/answer", {"text": ANSWER})
        await b.post(f"{page}/close", {"resolution_path": "internal"})
        before = await desk_state(app)
        await refused(await b.post(f"{page}/answer", {"text": ANSWER}), 403,
                      "Tiket ini sudah ditutup")
        await refused(await b.post(f"{page}/grade", {"grade": "berat"}), 403,
                      "Tiket ini sudah ditutup")
    finally:
        for x in (b, fo, metro):
            await x.http.aclose()


def test_every_desk_post_route_is_under_the_csrf_test() -> None:
    posts = {r.path for p in PAGES for r in p.router.routes if "POST" in getattr(r, "methods", ())}
    assert {"/complaints/{ticket_no}/grade", "/complaints/{ticket_no}/answer",
            "/complaints/{ticket_no}/close", "/complaints/{ticket_no}/path",
            "/complaints/{ticket_no}/step", "/complaints/notices/{notice_id}/read",
            "/permits/{permit_id}/revoke", "/permits/upload/{reg_no}"} <= posts
