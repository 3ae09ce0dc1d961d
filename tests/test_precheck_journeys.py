"""The document pre-check in the chat (terminal channel, real process pool, Tesseract):
a skewed photo becomes a clean PDF, a KTP whose NIK differs from the typed one draws
the note, two photos make one two-page PDF, a crash of the pre-check loses nothing."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.composition import App
from bot.settings import Settings
from conversations.flows.apply import conditions_of
from licensing.precheck import ocr
from service import precheck as service_precheck
from storage.models import Conversation, OutboxMessage, Precheck
from tests.journeys import DATA_LINES, NIK, run_script
from tests.precheck_corpus import sample

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not ocr.available(), reason="tesseract-ocr-ind not installed")]


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, _env_file=None,  # type: ignore[call-arg]
                    precheck=True)


def _start(app: App, data: list[str] | None = None) -> list[str]:
    entry = app.catalog.get("lubuklinggau", "okupasi-terapis")  # the KTP is its first scan
    return ["halo", "1", "Ajukan", entry.region.name, entry.profession.name, "Mulai",
            *(data or DATA_LINES), *["Tidak"] * len(conditions_of(entry))]


async def _notices(app: App) -> list[str]:
    async with app.sessions() as s:
        rows = (await s.scalars(select(OutboxMessage).where(
            OutboxMessage.notification_type == "precheck").order_by(OutboxMessage.id))).all()
    return [r.payload["text"] for r in rows]


async def _latest(app: App) -> Precheck:
    async with app.sessions() as s:
        row = await s.scalar(select(Precheck).order_by(Precheck.id.desc()).limit(1))
    assert row is not None
    return row


def _pdf(app: App, sha: str | None) -> PdfReader:
    assert sha is not None
    return PdfReader(io.BytesIO(app.files.path_for(sha).read_bytes()))


async def test_skewed_ktp_becomes_a_clean_pdf_and_a_different_nik_draws_the_note(
        app: App, tmp_path: Path) -> None:
    assert app.prechecker is not None
    photo = sample("ktp", "degraded", 11)  # perspective, rotation, shadow, JPEG noise
    assert photo.fields["nik"] != NIK  # the applicant typed another NIK
    path = tmp_path / "ktp.jpg"
    path.write_bytes(photo.image)
    out = await run_script(app, "pc1", [*_start(app), f"/upload {path}"])
    assert "Foto halaman 1" in out and "hasilnya menyusul" in out  # confirmed at once
    assert await _notices(app) == []  # the result is not part of the turn

    assert await app.prechecker.run_pending() == 1
    row = await _latest(app)
    assert row.status == "done" and row.result is not None
    assert row.result["fields"]["nik"] == photo.fields["nik"]
    notes = await _notices(app)
    assert len(notes) == 1 and "NIK pada foto KTP berbeda" in notes[0]
    # The clean PDF: one page, the card alone, across: its 85.6 x 54 mm shape (within
    # what a strong perspective leaves), not the 4:3 photo's.
    page = _pdf(app, row.pdf_sha256).pages[0]
    ratio = float(page.mediabox.width) / float(page.mediabox.height)
    assert abs(ratio / (85.6 / 54) - 1) < 0.15 and abs(ratio - 4 / 3) > 0.15


async def test_two_photos_make_one_two_page_pdf_and_the_office_gets_it(
        app: App, tmp_path: Path) -> None:
    assert app.prechecker is not None
    front = sample("ktp", "clean", 12)
    nik = front.fields["nik"]
    data = [front.fields["name"].title(), nik, *DATA_LINES[2:]]
    first, second = tmp_path / "front.jpg", tmp_path / "back.jpg"
    first.write_bytes(front.image)
    second.write_bytes(sample("letter", "clean", 12).image)  # "the back"
    await run_script(app, "pc2", [*_start(app, data), f"/upload {first}"])
    assert await app.prechecker.run_pending() == 1
    notes = await _notices(app)
    assert "Jelas terbaca" in notes[-1] and "NIK" not in notes[-1]  # typed NIK agrees

    out = await run_script(app, "pc2", ["Tambah halaman", f"/upload {second}"])
    assert "Kirim foto halaman 2" in out and "Foto halaman 2" in out
    assert await app.prechecker.run_pending() == 1
    row = await _latest(app)
    assert len(row.sources) == 2 and len(_pdf(app, row.pdf_sha256).pages) == 2



def _crash(*_: object) -> dict[str, object]:
    os._exit(3)  # a worker dying mid-page (out of memory, a segfault in a library)


async def test_a_crashed_precheck_keeps_the_upload(app: App, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert app.prechecker is not None
    monkeypatch.setattr(service_precheck, "_run_in_worker", _crash)
    path = tmp_path / "ktp.jpg"
    path.write_bytes(sample("ktp", "clean", 13).image)
    out = await run_script(app, "pc3", [*_start(app), f"/upload {path}"])
    assert "Diterima" in out
    for _ in range(service_precheck.MAX_ATTEMPTS):
        await app.prechecker.run_pending()
    row = await _latest(app)
    assert row.status == "failed" and row.result is None
    assert await _notices(app) == []
    # The scan is in the draft all the same.
    async with app.sessions() as s:
        state = await s.scalar(select(Conversation.state))
    assert state is not None and state["data"]["draft"]["scans"]["ktp"] == row.sources[0]
