"""The permits page (issue 6) over the real HTTP app: the region's permits with their
verify links, revoking with a reason, and a PDF signed elsewhere uploaded for an
approved application (streamed, its signature checked before anything is kept)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from bot.composition import App
from bot.jobs import run_once
from licensing.permit.signing import make_dev_certificate, sign_pdf
from storage.models import Blob, OutboxMessage, Permit
from tests.conftest import Clock
from tests.office_client import Browser, make_staff
from tests.samples import pdf_bytes
from tests.test_permit_journey import approve, outbox_for, submit


def stored_files(app: App) -> set[Path]:
    return {p for p in app.files.root.rglob("*") if p.is_file() and "tmp" not in p.parts}


async def permit_state(app: App) -> dict[str, Any]:
    async with app.sessions() as s:
        permits = (await s.scalars(select(Permit).order_by(Permit.id))).all()
        blobs = (await s.scalars(select(Blob.sha256))).all()
        outbox = (await s.scalars(select(OutboxMessage.id))).all()
    return {"permits": [(p.status, p.number, p.blob_sha256, p.revoked_at, p.revoke_reason)
                        for p in permits],
            "blobs": sorted(blobs), "outbox": list(outbox), "files": stored_files(app)}


async def head(app: App, username: str = "kadis.pku", region: str = "pekanbaru",
               role: str = "head_of_office") -> Browser:
    await make_staff(app, username, role, region)
    b = Browser(app)
    assert (await b.login(username)).status_code == 303
    return b


async def upload(b: Browser, reg_no: str, pdf: bytes, *, csrf: str | None = "auto"
                 ) -> httpx.Response:
    data = {} if csrf is None else {"csrf": b.csrf if csrf == "auto" else csrf}
    return await b.http.post(f"/office/permits/upload/{reg_no}", data=data,
                             files={"pdf": ("izin.pdf", pdf, "application/pdf")})


def signed_elsewhere(tmp_path: Path) -> bytes:
    p12 = tmp_path / "bsre.p12"
    make_dev_certificate(p12, b"pw", "Penanda tangan BSrE")
    return sign_pdf(pdf_bytes("izin dari luar"), p12, b"pw", reason="Disetujui",
                    location="Pekanbaru", test=False)


async def test_list_revoke_and_upload(app: App, clock: Clock, samples: dict[str, Path],
                                      tmp_path: Path) -> None:
    issued_reg = await submit(app, "pku-a", "pekanbaru", "okupasi-terapis", samples)
    await approve(app, issued_reg)
    await run_once(app, now=clock())
    pending_reg = await submit(app, "pku-b", "pekanbaru", "okupasi-terapis", samples)
    await approve(app, pending_reg)
    async with app.sessions() as s:
        issued, pending = (await s.scalars(select(Permit).order_by(Permit.id))).all()
    b = await head(app)
    try:
        res = await b.get("/office/permits")
        assert res.status_code == 200
        assert f'href="/verify/{issued.verify_code}"' in res.text and issued.number
        assert issued.number in res.text
        assert f'action="/office/permits/upload/{pending_reg}"' in res.text
        assert f'/verify/{pending.verify_code}' not in res.text  # not valid yet
        only = await b.get("/office/permits?status=pending")
        assert pending_reg in only.text and issued_reg not in only.text

        # Revoke with a reason: the verify page says so and the holder is told.
        res = await b.post(f"/office/permits/{issued.id}/revoke",
                           {"reason": "STR tidak berlaku lagi"}, follow=True)
        assert f"Izin {issued.number} dicabut" in res.text
        assert 'data-status="revoked"' in res.text and "STR tidak berlaku lagi" in res.text
        verify = await b.http.get(f"/verify/{issued.verify_code}")
        assert 'data-status="revoked"' in verify.text
        assert "STR tidak berlaku lagi" in (await outbox_for(app, "pku-a"))[-1].text

        # A PDF without a signature: a clear page, nothing stored, still pending.
        await b.get("/office/permits")
        before = await permit_state(app)
        res = await upload(b, pending_reg, pdf_bytes("belum ditandatangani"))
        assert res.status_code == 400 and "PDF ditolak" in res.text
        assert "tidak memiliki tanda tangan elektronik" in res.text
        assert await permit_state(app) == before
        res = await upload(b, pending_reg, b"bukan pdf sama sekali")
        assert res.status_code == 400 and "Berkas ini bukan PDF" in res.text
        assert await permit_state(app) == before
        assert not list((app.files.root / "tmp").glob("*"))  # no temp left either

        # Signed elsewhere: stored byte for byte, the permit issued.
        signed = await asyncio.to_thread(signed_elsewhere, tmp_path)
        res = await upload(b, pending_reg, signed)
        assert res.status_code == 303, res.text
        res = await b.get(res.headers["location"])
        assert "disimpan tanpa diubah (penanda tangan: Penanda tangan BSrE)" in res.text
        async with app.sessions() as s:
            p = await s.get(Permit, pending.id)
        assert p is not None and p.status == "issued" and p.source == "uploaded"
        assert app.files.path_for(p.blob_sha256 or "").read_bytes() == signed
        assert f'href="/verify/{p.verify_code}"' in res.text
        sent = await outbox_for(app, "pku-b")
        assert [m.kind for m in sent[-2:]] == ["text", "document"]
    finally:
        await b.http.aclose()


async def test_refusals_change_nothing(app: App, clock: Clock, samples: dict[str, Path],
                                       tmp_path: Path) -> None:
    issued_reg = await submit(app, "pku-a", "pekanbaru", "okupasi-terapis", samples)
    await approve(app, issued_reg)
    await run_once(app, now=clock())
    pending_reg = await submit(app, "pku-b", "pekanbaru", "okupasi-terapis", samples)
    await approve(app, pending_reg)
    async with app.sessions() as s:
        issued, pending = (await s.scalars(select(Permit).order_by(Permit.id))).all()
    signed = await asyncio.to_thread(signed_elsewhere, tmp_path)
    b = await head(app)
    fo = await head(app, "fo.pku", role="front_office")
    metro = await head(app, "kadis.metro", "metro")
    admin = await head(app, "admin.pku", role="admin")
    try:
        for x in (b, fo, metro):
            await x.get("/office/ikm")  # a page for everyone: a CSRF token
        before = await permit_state(app)

        async def refused(res: httpx.Response, status: int, text: str) -> None:
            assert res.status_code == status, (res.status_code, res.text[-600:])
            assert text in res.text, res.text[-600:]
            assert await permit_state(app) == before

        revoke = f"/office/permits/{issued.id}/revoke"
        reason = {"reason": "STR tidak berlaku lagi"}
        # Wrong role.
        await refused(await fo.http.get("/office/permits"), 403, "Halaman ini hanya untuk")
        await refused(await fo.post(revoke, reason), 403, "Halaman ini hanya untuk")
        await refused(await upload(fo, pending_reg, signed), 403, "Halaman ini hanya untuk")
        # Other region: neither listed nor touchable.
        listing = await metro.get("/office/permits")
        assert issued_reg not in listing.text and pending_reg not in listing.text
        await refused(await metro.post(revoke, reason), 404, "tidak ada di wilayah Anda")
        await refused(await upload(metro, pending_reg, signed), 404,
                      "menunggu tanda tangan di wilayah Anda")
        # Missing or forged CSRF token.
        for csrf in (None, "forged"):
            await refused(await b.post(revoke, reason, csrf=csrf), 403, "token keamanan")
            await refused(await upload(b, pending_reg, signed, csrf=csrf), 403,
                          "token keamanan")
        # Bad input and wrong state.
        await b.get("/office/permits")
        await refused(await b.post(revoke, {"reason": "x"}), 400, "alasan pencabutan")
        await refused(await b.post(f"/office/permits/{pending.id}/revoke", reason), 403,
                      "Hanya izin yang sudah terbit")
        await refused(await upload(b, issued_reg, signed), 404, "menunggu tanda tangan")
        await refused(await b.post("/office/permits/999/revoke", reason), 404,
                      "tidak ada di wilayah Anda")
        # The region's admin may act (and sees the list).
        assert issued_reg in (await admin.get("/office/permits")).text
    finally:
        for x in (b, fo, metro, admin):
            await x.http.aclose()


async def test_a_region_wide_admin_chooses_the_region(app: App, clock: Clock,
                                                      samples: dict[str, Path]) -> None:
    reg = await submit(app, "pku-a", "pekanbaru", "okupasi-terapis", samples)
    await approve(app, reg)
    b = await head(app, "admin", "*", role="admin")
    try:
        page = await b.get("/office/permits")
        assert reg not in page.text  # the first region (not Pekanbaru) by default
        options = re.findall(r'<option value="([a-z]+)"', page.text)
        assert "pekanbaru" in options and "metro" in options
        assert reg in (await b.get("/office/permits?region=pekanbaru")).text
        assert (await b.get("/office/permits?region=atlantis")).status_code == 404
    finally:
        await b.http.aclose()
