"""Printables from the file page (issue 16): the receipt (tanda terima) and the routing
slip (lembar kendali) as PDFs carrying the registration number and the applicant's
name (read back with pypdf), and the issued permit downloaded byte for byte; each only
for staff of the file's region, never an admin."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import select

from bot.composition import App
from bot.jobs import run_once
from service import permits
from storage.models import Application, Permit
from tests.conftest import Clock
from tests.journeys import NAME
from tests.office_client import Browser, make_staff
from tests.office_flow import Office, snapshot
from tests.test_permit_journey import submit


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


async def test_receipt_routing_slip_and_permit_download(app: App, clock: Clock,
                                                        samples: dict[str, Path]) -> None:
    reg_no = await submit(app, "pku-print", "pekanbaru", "okupasi-terapis", samples)
    entry = app.catalog.get("pekanbaru", "okupasi-terapis")
    async with Office(app, "pekanbaru") as office:
        fo = office["front_office"]
        page = await fo.get(f"/office/applications/{reg_no}")
        assert "receipt.pdf" in page.text and "routing.pdf" in page.text
        assert "data-permit-download" not in page.text  # nothing issued yet
        # Before the check: the receipt says the files are still being checked.
        res = await fo.get(f"/office/applications/{reg_no}/receipt.pdf")
        assert res.status_code == 200 and res.headers["content-type"] == "application/pdf"
        text = pdf_text(res.content)
        assert reg_no in text and NAME in text and "TANDA TERIMA" in text
        assert "belum (berkas masih diperiksa)" in text
        before = await snapshot(app)
        assert (await fo.get(f"/office/applications/{reg_no}/permit.pdf")).status_code == 404
        assert await snapshot(app) == before

        clock.advance(minutes=30)
        await office.walk(entry, reg_no)
        await run_once(app, now=clock())  # numbers, renders, signs and issues the permit

        res = await fo.get(f"/office/applications/{reg_no}/receipt.pdf")
        text = pdf_text(res.content)
        assert reg_no in text and NAME in text and "Diterima" in text
        assert "belum (berkas masih diperiksa)" not in text
        # Received by the front officer who checked the files, printed by this one.
        assert "Petugas penerima, Petugas Front-Office" in text
        res = await fo.get(f"/office/applications/{reg_no}/routing.pdf")
        assert res.status_code == 200
        text = pdf_text(res.content)
        assert reg_no in text and NAME in text and "Lembar Kendali" in text
        for performer in ("JF Analis Kebijakan Ahli Muda", "Sekretaris", "Kepala Dinas"):
            assert performer in text
        assert "35 menit" in text  # the SOP's standard time for the check
        assert "Petugas Back-Office (back-" in text  # who handed it on (name, username)

        page = await fo.get(f"/office/applications/{reg_no}")
        assert "data-permit-download" in page.text
        res = await fo.get(f"/office/applications/{reg_no}/permit.pdf")
        assert res.status_code == 200 and res.content.startswith(b"%PDF")
        async with app.sessions() as s:
            permit = await s.scalar(select(Permit).join(
                Application, Application.id == Permit.application_id).where(
                Application.reg_no == reg_no))
        assert permit is not None and permit.status == "issued"
        assert hashlib.sha256(res.content).hexdigest() == permit.blob_sha256
        assert "attachment" in res.headers["content-disposition"]

        # A revoked permit is not handed out again; nothing changes by asking.
        assert permit.number is not None
        await permits.revoke(app.sessions, key=permit.number, reason="Data STR tidak sah",
                             actor="kadis", now=clock(), region="pekanbaru")
        before = await snapshot(app)
        res = await fo.get(f"/office/applications/{reg_no}/permit.pdf")
        assert res.status_code == 403 and "dicabut" in res.text
        assert await snapshot(app) == before


async def test_other_regions_and_admins_get_nothing(app: App, clock: Clock,
                                                    samples: dict[str, Path]) -> None:
    reg_no = await submit(app, "pku-print2", "pekanbaru", "okupasi-terapis", samples)
    await make_staff(app, "fo.metro", "front_office", "metro")
    await make_staff(app, "admin.all", "admin", "*")
    async with Browser(app) as metro, Browser(app) as admin:
        assert (await metro.login("fo.metro")).status_code == 303
        assert (await admin.login("admin.all")).status_code == 303
        before = await snapshot(app)
        for doc in ("receipt.pdf", "routing.pdf", "permit.pdf"):
            res = await metro.get(f"/office/applications/{reg_no}/{doc}")
            assert res.status_code == 404 and reg_no not in res.text.replace(
                f"permohonan {reg_no}", "")
            assert (await admin.get(f"/office/applications/{reg_no}/{doc}")).status_code == 403
        assert await snapshot(app) == before
