"""Console pages: the queue (oldest first, days left, overdue), search with NIK masked
by role, scans streamed with their media type, and the control card as CSV and PDF."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from pypdf import PdfReader

from bot.composition import App
from tests.conftest import Clock
from tests.journeys import NAME, NIK
from tests.office_flow import Office, application, username
from tests.test_permit_journey import submit


async def test_queue_oldest_first_with_days_left_and_overdue_marked(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    first = await submit(app, "u1", "pekanbaru", "okupasi-terapis", samples)
    clock.advance(hours=2)
    second = await submit(app, "u2", "pekanbaru", "okupasi-terapis", samples)
    async with Office(app, "pekanbaru") as office:
        page = await office["front_office"].get("/office/queue")
        order = re.findall(r'data-reg-no="([^"]+)"', page.text)
        assert order == [first, second]
        assert (await office["back_office"].get("/office/queue")).text.count("data-reg-no") == 0
        # Both accepted: the clock runs (2 working days, due Wednesday 25 November).
        for reg_no in (first, second):
            page = await office.page("front_office", reg_no)
            codes = re.findall(r'name="d_([a-z0-9_]+)"', page.text)
            await office.review("front_office", reg_no, {c: "accept" for c in codes})
        page = await office["back_office"].get("/office/queue")
        assert re.findall(r'data-reg-no="([^"]+)"', page.text) == [first, second]
        assert "2 hari" in page.text and "data-overdue" not in page.text
        clock.advance(days=3)  # Thursday 26 November: one working day late
        await office["back_office"].login(username("back_office", "pekanbaru"))
        page = await office["back_office"].get("/office/queue")
        assert page.text.count("data-overdue") == 2 and "terlambat 1 hari" in page.text
        detail = await office.page("back_office", first)
        assert "terlambat 1 hari" in detail.text


async def test_search_by_number_name_or_nik_with_nik_masked_by_role(
    app: App, samples: dict[str, Path]
) -> None:
    reg_no = await submit(app, "u1", "purwakarta", "okupasi-terapis", samples)
    masked = NIK[:4] + "•" * 8 + NIK[-4:]
    async with Office(app, "purwakarta") as office:
        for q in (reg_no, reg_no[-6:].lower(), NAME.split()[1].lower(), NIK, NIK[:8]):
            page = await office["front_office"].get(f"/office/search?q={q}")
            assert f"/applications/{reg_no}" in page.text, q
        assert f"data-nik>{NIK}<" in (await office["front_office"].get(
            f"/office/search?q={reg_no}")).text
        assert f"data-nik>{NIK}<" in (await office["head_of_office"].get(
            f"/office/search?q={reg_no}")).text
        for role in ("verifier", "technical_team", "back_office"):
            page = await office[role].get(f"/office/search?q={NIK}")  # found by NIK...
            assert f"data-nik>{masked}<" in page.text  # ...but shown masked
            page = await office[role].get(f"/office/search?q={reg_no}")
            assert f"data-nik>{masked}<" in page.text and NIK not in page.text
            detail = await office.page(role, reg_no)
            assert masked in detail.text and NIK not in detail.text
        page = await office["front_office"].get("/office/search?q=Budi Santoso")
        assert "Tidak ada berkas yang cocok" in page.text


async def test_scans_are_streamed_with_their_media_type(
    app: App, samples: dict[str, Path]
) -> None:
    reg_no = await submit(app, "u1", "pekanbaru", "okupasi-terapis", samples)
    async with Office(app, "pekanbaru") as office:
        page = await office.page("front_office", reg_no)
        links = re.findall(rf'href="(/office/applications/{reg_no}/documents/[a-z_0-9]+)"',
                           page.text)
        assert len(links) == 9
        seen = set()
        for link in links:
            res = await office["front_office"].get(link)
            assert res.status_code == 200
            kind = res.headers["content-type"]
            seen.add(kind)
            assert res.headers["content-disposition"].startswith("inline")
            assert res.headers["x-content-type-options"] == "nosniff"
            magic = {"application/pdf": b"%PDF", "image/jpeg": b"\xff\xd8",
                     "image/png": b"\x89PNG"}[kind]
            assert res.content.startswith(magic)
        assert seen == {"application/pdf", "image/jpeg", "image/png"}
        first = samples["pdf"].read_bytes()
        res = await office["verifier"].get(links[0])
        assert res.content == first  # any role of the region may look
        res = await office["front_office"].get(f"/office/applications/{reg_no}/documents/nope")
        assert res.status_code == 404


async def test_control_card_exports_as_csv_and_pdf(app: App, samples: dict[str, Path]) -> None:
    reg_no = await submit(app, "u1", "purwakarta", "okupasi-terapis", samples)
    async with Office(app, "purwakarta") as office:
        page = await office.page("front_office", reg_no)
        codes = re.findall(r'name="d_([a-z0-9_]+)"', page.text)
        await office.review("front_office", reg_no, {c: "accept" for c in codes})
        await office.act("front_office", reg_no, "receipt", "Tanda terima no. 12")
        res = await office["technical_team"].get(f"/office/applications/{reg_no}/card.csv")
        assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(res.text)))
        assert rows[0] == ["Waktu", "Petugas", "NIP", "Nama pengguna", "Jabatan", "Tindakan",
                           "Dari tahap", "Ke tahap", "Catatan"]
        assert [r[5] for r in rows[1:]] == ["Permohonan diajukan", "Pemeriksaan berkas",
                                            "Tanda terima berkas"]
        assert rows[3][3] == "front-office.purwakarta" and rows[3][8] == "Tanda terima no. 12"
        assert rows[3][1] == "Petugas Front-Office" and rows[3][4] == "Petugas"
        assert len(rows[3][2]) == 18 and rows[3][2].isdigit()
        assert rows[3][6] == "Tanda terima berkas — Petugas"
        assert rows[3][7] == "Kajian teknis — Tim Teknis"
        assert rows[1][0] == "23 November 2026 09.00 WIB"
        res = await office["technical_team"].get(f"/office/applications/{reg_no}/card.pdf")
        assert res.status_code == 200 and res.content.startswith(b"%PDF-")
        text = " ".join(" ".join(p.extract_text().split())
                        for p in PdfReader(io.BytesIO(res.content)).pages)
        assert reg_no in text and "Tanda terima no. 12" in text
    assert (await application(app, reg_no)).step_code == "kajian_teknis"
