"""Bad uploads through the terminal chat: a clear answer, and nothing stored anywhere."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfWriter
from sqlalchemy import func, select

from bot.composition import App
from storage.models import Blob
from tests.journeys import DATA_LINES, run_script

START = ["halo", "1", "Ajukan", "Purwakarta", "Okupasi", "Mulai", *DATA_LINES]


def _encrypted_pdf() -> bytes:
    w = PdfWriter()
    w.add_blank_page(width=200, height=200)
    w.encrypt("rahasia")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def _png_bomb() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))


BAD = {
    "empty": (b"", "kosong"),
    "text named .pdf": (b"hello, this is not a pdf\n" * 10, "Jenis berkas itu tidak diterima"),
    "zip": (b"PK\x03\x04" + b"\x00" * 100, "Jenis berkas itu tidak diterima"),
    "broken pdf": (b"%PDF-1.7\n1 0 obj <<>> garbage", "PDF itu rusak"),
    "encrypted pdf": (_encrypted_pdf(), "dilindungi kata sandi"),
    "broken jpeg": (b"\xff\xd8\xff\xe0" + b"\x13" * 500, "Gambar itu rusak"),
    "pixel bomb": (_png_bomb(), "Resolusi gambar itu terlalu besar"),
}


def _stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize("name", sorted(BAD))
async def test_bad_upload_is_refused_and_nothing_is_stored(
    app: App, tmp_path: Path, name: str
) -> None:
    content, message = BAD[name]
    bad = tmp_path / "upload.pdf"  # the name claims PDF whatever the content
    bad.write_bytes(content)
    out = await run_script(app, "u1", [*START, f"/upload {bad}"])
    reply = out.rsplit(f"> /upload {bad}", 1)[1]
    assert message in reply and "Tidak ada yang disimpan" in reply
    assert "⬜ Scan fotokopi ijazah yang dilegalisir" in reply  # still missing
    assert _stored_files(app.settings.files_dir) == []
    async with app.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Blob)) == 0


async def test_oversized_upload_is_refused_with_the_limit(
    app: App, tmp_path: Path, samples: dict[str, Path]
) -> None:
    app.files.max_bytes = 1000  # lower the limit for the test
    big = samples["jpeg"]
    assert big.stat().st_size > 1000
    out = await run_script(app, "u2", [*START, f"/upload {big}"])
    assert "terlalu besar" in out.rsplit("> /upload", 1)[1]
    assert _stored_files(app.settings.files_dir) == []


async def test_a_good_upload_is_stored_once_under_its_hash(
    app: App, samples: dict[str, Path]
) -> None:
    import hashlib

    out = await run_script(app, "u3", [*START, f"/upload {samples['pdf']}"])
    assert "✅ Diterima: Scan fotokopi ijazah yang dilegalisir" in out
    digest = hashlib.sha256(samples["pdf"].read_bytes()).hexdigest()
    files = _stored_files(app.settings.files_dir)
    root = app.settings.files_dir
    assert [p.name for p in files if p.relative_to(root).parts[0] != "tmp"] == [digest]
    assert "scan.pdf" not in {p.name for p in files}
