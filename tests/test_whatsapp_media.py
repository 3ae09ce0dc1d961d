"""Media both ways: inbound by id then bearer download, judged by the upload rules;
outbound documents and QR images uploaded (multipart) and sent by media id; a menu
longer than a list can hold, answered by typing its number."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bot.settings import Settings
from conversations.types import OutMessage
from licensing.catalog import STANDARDS_DIR
from service.inbound import get_or_create_applicant
from service.outbox import PRIORITY_NOTICE, enqueue
from storage.models import Blob, OutboxMessage
from tests.conftest import Clock
from tests.fakes import graph_api as wa
from tests.fakes.whatsapp_harness import Harness, harness

WA_ID = "6281234567890"


@pytest.fixture
async def wa_h(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    async with harness(settings, clock) as h:
        yield h


async def _to_upload_step(h: Harness) -> None:
    """An applicant past the data questions, at the first upload."""
    from tests.journeys import DATA_LINES

    for line in ["halo", "1", "Ajukan", "Purwakarta", "Okupasi", "Mulai", *DATA_LINES]:
        await h.say(WA_ID, line)


async def _blobs(h: Harness) -> int:
    async with h.app.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(Blob)) or 0)


async def test_a_file_that_is_not_a_scan_is_refused_and_not_kept(
    wa_h: Harness, tmp_path: Path
) -> None:
    await _to_upload_step(wa_h)
    data = b"MZ\x90\x00 definitely not a pdf" * 10
    media_id = wa_h.graph.add_media(data, "application/pdf")
    await wa_h.send(WA_ID, wa.document(media_id, "ijazah.pdf", data))
    await wa_h.run()
    assert "Jenis berkas itu tidak diterima" in wa_h.graph.to(WA_ID)[-2].text
    assert await _blobs(wa_h) == 0
    files = [p for p in (wa_h.app.settings.files_dir).rglob("*") if p.is_file()]
    assert files == []


async def test_a_declared_size_over_the_limit_is_refused_before_downloading(
    settings: Settings, clock: Clock, samples: dict[str, Path]
) -> None:
    async with harness(settings, clock, max_upload_mb=0.0004) as h:
        await _to_upload_step(h)
        data = samples["pdf"].read_bytes()
        assert len(data) > 0.0004 * 1024 * 1024
        await h.send(WA_ID, wa.document(h.graph.add_media(data, "application/pdf"),
                                        "ijazah.pdf", data))
        await h.run()
        assert "terlalu besar" in h.graph.to(WA_ID)[-2].text
        assert not [p for _, p in h.graph.requests if p.startswith("/download/")]
        assert await _blobs(h) == 0


async def test_media_that_cannot_be_fetched_asks_for_it_again(wa_h: Harness) -> None:
    await _to_upload_step(wa_h)
    await wa_h.send(WA_ID, wa.image("media-gone", b"x"))
    await wa_h.run()
    assert "tidak dapat diunduh" in wa_h.graph.to(WA_ID)[-2].text


async def test_the_download_needs_the_bearer_token(wa_h: Harness) -> None:
    import httpx

    media_id = wa_h.graph.add_media(b"%PDF-1.4", "application/pdf")
    async with httpx.AsyncClient() as anonymous:
        resp = await anonymous.get(f"{wa_h.graph.base}/download/{media_id}")
    assert resp.status_code == 401


async def _stored_pdf(h: Harness, samples: dict[str, Path]) -> str:
    blob = await h.app.files.ingest_path(samples["pdf"])
    return blob.sha256


async def _enqueue(h: Harness, clock: Clock, message: OutMessage,
                   notification_type: str | None = "permit_ready") -> int:
    async with h.app.sessions() as s, s.begin():
        applicant = await get_or_create_applicant(s, "whatsapp", WA_ID, clock.now)
        row = enqueue(s, applicant, message, now=clock.now, priority=PRIORITY_NOTICE,
                      notification_type=notification_type)
        await s.flush()
        return row.id


async def test_a_document_is_uploaded_and_sent_by_media_id(
    wa_h: Harness, clock: Clock, samples: dict[str, Path]
) -> None:
    await wa_h.send(WA_ID, wa.text("halo"))
    await wa_h.run()
    sha = await _stored_pdf(wa_h, samples)
    doc = OutMessage(kind="document", text="Izin Anda", blob_sha256=sha,
                     filename="izin-PWK-1.pdf", media_type="application/pdf")
    await _enqueue(wa_h, clock, doc)
    await _enqueue(wa_h, clock, doc)  # the same file again: uploaded once
    await wa_h.dispatcher.drain()
    docs = [s for s in wa_h.graph.to(WA_ID) if s.type == "document"]
    assert len(docs) == 2
    media_id = docs[0].body["document"]["id"]
    assert docs[0].body["document"] == {"id": media_id, "caption": "Izin Anda",
                                        "filename": "izin-PWK-1.pdf"}
    assert list(wa_h.graph.uploads) == [media_id]
    data, media_type, filename = wa_h.graph.uploads[media_id]
    assert data == samples["pdf"].read_bytes()
    assert (media_type, filename) == ("application/pdf", "izin-PWK-1.pdf")


async def test_outside_the_window_the_document_goes_in_a_template_header(
    wa_h: Harness, clock: Clock, samples: dict[str, Path]
) -> None:
    await wa_h.send(WA_ID, wa.text("halo"))
    await wa_h.run()
    clock.advance(days=2)
    sha = await _stored_pdf(wa_h, samples)
    await _enqueue(wa_h, clock, OutMessage(kind="document", text="Izin Anda", blob_sha256=sha,
                                           filename="izin.pdf", media_type="application/pdf"))
    await wa_h.dispatcher.drain()
    template = wa_h.graph.to(WA_ID)[-1].body["template"]
    assert template["name"] == "izin_dokumen"
    header = template["components"][0]
    media_id = header["parameters"][0]["document"]["id"]
    assert header == {"type": "header", "parameters": [
        {"type": "document", "document": {"id": media_id, "filename": "izin.pdf"}}]}
    assert wa_h.graph.uploads[media_id][0] == samples["pdf"].read_bytes()


async def test_a_qr_image_is_drawn_and_uploaded(wa_h: Harness, clock: Clock) -> None:
    await wa_h.send(WA_ID, wa.text("halo"))
    await wa_h.run()
    rid = await _enqueue(wa_h, clock, OutMessage(kind="image", text="Kode QR",
                                                 qr="PWK-2611-W00001"), None)
    await wa_h.dispatcher.drain()
    image = wa_h.graph.to(WA_ID)[-1]
    assert image.type == "image" and image.body["image"]["caption"] == "Kode QR"
    data, media_type, _ = wa_h.graph.uploads[image.body["image"]["id"]]
    assert media_type == "image/png" and data.startswith(b"\x89PNG")
    async with wa_h.app.sessions() as s:
        row = await s.get(OutboxMessage, rid)
        assert row is not None and row.status == "sent"


def _many_regions(tmp_path: Path, extra: int) -> Path:
    root = tmp_path / "standards"
    shutil.copytree(STANDARDS_DIR, root)
    seed = yaml.safe_load((STANDARDS_DIR / "metro" / "okupasi-terapis.yaml").read_text())
    for n in range(1, extra + 1):
        seed["region"] = {**seed["region"], "slug": f"uji-{n:02d}", "name": f"Kota Uji {n:02d}",
                          "code": "UJ" + "ABCDEFGHIJ"[n]}
        (root / f"uji-{n:02d}").mkdir()
        (root / f"uji-{n:02d}" / "okupasi-terapis.yaml").write_text(
            yaml.safe_dump(seed, allow_unicode=True))
    return root


async def test_a_menu_longer_than_a_list_is_numbered_and_takes_a_typed_number(
    settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    async with harness(settings, clock, catalog_dir=_many_regions(tmp_path, 9)) as h:
        for line in ["halo", "1"]:
            await h.say(WA_ID, line)
        (menu,) = await h.say(WA_ID, "Ajukan")
        assert menu.type == "text"  # 13 regions + 2 ways back: more than a list's 10 rows
        numbered = [line for line in menu.text.splitlines() if line[:1].isdigit()]
        assert len(numbered) > 10
        number = next(line.split(".")[0] for line in numbered if "Kota Uji 07" in line)
        assert int(number) > 10
        (reply,) = await h.say(WA_ID, number)
        assert "Kota Uji 07" in reply.text


async def test_a_voice_note_is_answered_with_the_accepted_types(wa_h: Harness) -> None:
    await _to_upload_step(wa_h)
    await wa_h.send(WA_ID, {"type": "audio", "audio": {"id": "a1", "mime_type": "audio/ogg",
                                                      "voice": True}})
    await wa_h.run()
    assert "Jenis berkas itu tidak diterima" in wa_h.graph.to(WA_ID)[-2].text
    assert not [p for _, p in wa_h.graph.requests if p.endswith("/a1")]
