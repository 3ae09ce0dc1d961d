"""Every refusal of the console: wrong role, wrong region, wrong step, missing CSRF
token, expired session, admin, bad input, closed file. Each gives a clear page and
leaves the database exactly as it was."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi.routing import APIRoute

from backoffice.app import PAGES
from bot.composition import App
from tests.conftest import Clock
from tests.office_client import Browser, make_staff
from tests.office_flow import Office, application, snapshot, step_of, username
from tests.test_permit_journey import submit


async def refused(app: App, before: object, res: httpx.Response, status: int,
                  text: str) -> None:
    assert res.status_code == status, (res.status_code, res.text[-500:])
    assert text in res.text, res.text[-800:]
    assert await snapshot(app) == before


async def test_refusals_change_nothing(app: App, clock: Clock, samples: dict[str, Path]) -> None:
    reg_no = await submit(app, "pwk-user", "purwakarta", "okupasi-terapis", samples)
    await make_staff(app, "fo.pku", "front_office", "pekanbaru")
    await make_staff(app, "admin.pwk", "admin", "purwakarta")
    accept_all = {f"d_{c}": "accept" for c in
                  ("ijazah", "str", "surat_sehat", "tempat_kerja", "rekomendasi_op", "pas_foto")}
    review = f"/office/applications/{reg_no}/review"
    act = f"/office/applications/{reg_no}/act"
    async with Office(app, "purwakarta") as office, Browser(app) as other, \
            Browser(app) as admin:
        await other.login("fo.pku")
        await admin.login("admin.pwk")
        step = step_of((await office.page("front_office", reg_no)).text)
        assert step == "pemeriksaan_berkas"
        before = await snapshot(app)

        # Not the step's position: the verifier (and the head) cannot check files.
        await office.page("verifier", reg_no)
        res = await office["verifier"].post(review, {"step": step, **accept_all})
        await refused(app, before, res, 403, "Bukan jabatan Anda")
        await office.page("head_of_office", reg_no)
        res = await office["head_of_office"].post(act, {"step": step, "action": "approve",
                                                        "note": "ok"})
        await refused(app, before, res, 403, "dikerjakan oleh Petugas; akun Anda tidak "
                      "memegang jabatan itu")

        # Wrong region: Pekanbaru's front office does not see Purwakarta's file at all.
        await other.get("/office/queue")
        res = await other.post(review, {"step": step, **accept_all})
        await refused(app, before, res, 404, f"Tidak ada permohonan {reg_no} di wilayah Anda")
        for path in ("", "/documents/ijazah", "/card.csv", "/card.pdf"):
            res = await other.http.get(f"/office/applications/{reg_no}{path}")
            await refused(app, before, res, 404, "Tidak ditemukan")
        assert reg_no not in (await other.get("/office/queue")).text
        found = await other.get(f"/office/search?q={reg_no}")
        assert "Tidak ada berkas yang cocok di wilayah Anda" in found.text
        assert f"/applications/{reg_no}" not in found.text

        # Wrong step: an action this step does not list, and a page opened at another step.
        await office.page("front_office", reg_no)
        res = await office["front_office"].post(act, {"step": step, "action": "receipt"})
        await refused(app, before, res, 403, "tidak ada di tahap ini")
        res = await office["front_office"].post(review, {"step": "tanda_terima",
                                                         **accept_all})
        await refused(app, before, res, 403, "sudah berpindah tahap")

        # Bad input: a rejection without a reason, a document left undecided.
        res = await office["front_office"].post(review, {"step": step, **accept_all,
                                                         "d_str": "reject", "r_str": ""})
        await refused(app, before, res, 400, "Tulis alasan penolakan")
        partial = dict(accept_all)
        partial.pop("d_str")
        res = await office["front_office"].post(review, {"step": step, **partial})
        await refused(app, before, res, 400, "Putuskan setiap berkas")

        # Missing or forged CSRF token.
        res = await office["front_office"].post(review, {"step": step, **accept_all},
                                                csrf=None)
        await refused(app, before, res, 403, "token keamanan (CSRF)")
        res = await office["front_office"].post(review, {"step": step, **accept_all},
                                                csrf="x" * 43)
        await refused(app, before, res, 403, "token keamanan (CSRF)")

        # Admins manage accounts, not files.
        res = await admin.http.get(f"/office/applications/{reg_no}")
        await refused(app, before, res, 403, "Admin mengelola akun staf")
        res = await admin.post(review, {"step": step, **accept_all})
        await refused(app, before, res, 403, "Admin mengelola akun staf")

        # Not signed in: to the login page, also for the scans.
        async with Browser(app) as anonymous:
            res = await anonymous.http.get(f"/office/applications/{reg_no}/documents/ijazah")
            assert res.status_code == 303 and "/office/login" in res.headers["location"]
            res = await anonymous.http.post(review, data={"step": step, **accept_all})
            await refused(app, before, res, 303, "")

        # Expired session: to the login page, nothing done.
        clock.advance(hours=8, minutes=1)
        res = await office["front_office"].post(review, {"step": step, **accept_all})
        await refused(app, before, res, 303, "")
        assert "/office/login?expired=1" in res.headers["location"]
        assert (await application(app, reg_no)).step_code == "pemeriksaan_berkas"


async def test_a_closed_file_takes_no_more_actions(app: App, samples: dict[str, Path]) -> None:
    reg_no = await submit(app, "lg-user", "lubuklinggau", "okupasi-terapis", samples)
    async with Office(app, "lubuklinggau") as office:
        # Lubuklinggau's front office may refuse the file at the counter (its catalog says so).
        res = await office.act("front_office", reg_no, "reject", "Berkas bukan milik pemohon")
        assert res.status_code == 303
        before = await snapshot(app)
        page = await office.page("front_office", reg_no)
        res = await office["front_office"].post(
            f"/office/applications/{reg_no}/act",
            {"step": step_of(page.text), "action": "reject", "note": "lagi"})
        await refused(app, before, res, 403, "sudah ditutup")


def test_the_control_card_has_no_edit_or_delete_route() -> None:
    routes = [r for page in PAGES for r in page.router.routes if isinstance(r, APIRoute)]
    assert all(r.methods <= {"GET", "POST", "HEAD"} for r in routes)
    posts = sorted(r.path for r in routes if "POST" in r.methods)
    assert posts == ["/applications/{reg_no}/act", "/applications/{reg_no}/notes",
                     "/applications/{reg_no}/return", "/applications/{reg_no}/review",
                     "/broadcasts", "/broadcasts/preview", "/broadcasts/{broadcast_id}/cancel",
                     "/broadcasts/{broadcast_id}/pause", "/broadcasts/{broadcast_id}/resume",
                     "/complaints/notices/{notice_id}/read", "/complaints/{ticket_no}/answer",
                     "/complaints/{ticket_no}/close", "/complaints/{ticket_no}/escalate",
                     "/complaints/{ticket_no}/grade",
                     "/complaints/{ticket_no}/path", "/complaints/{ticket_no}/step",
                     "/login", "/logout", "/ops/{kind}/{row_id}/{action}",
                     "/permits/upload/{reg_no}",
                     "/permits/{permit_id}/revoke", "/staff", "/staff/{staff_id}/active",
                     "/staff/{staff_id}/positions"]


async def test_an_officer_of_another_role_sees_but_cannot_act(
    app: App, samples: dict[str, Path]
) -> None:
    reg_no = await submit(app, "pku-user", "pekanbaru", "okupasi-terapis", samples)
    async with Office(app, "pekanbaru") as office:
        page = await office.page("verifier", reg_no)
        assert 'data-form="' not in page.text
        assert "Tahap ini dikerjakan oleh Front Office" in page.text
        assert username("verifier", "pekanbaru")
