"""Content checks for uploaded scans, on real files built with pypdf and Pillow.

The builders here are shared with tests/test_filestore.py.
"""

from __future__ import annotations

import io
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject

from licensing.catalog import FileKind
from licensing.scans import (
    MEDIA_TYPES,
    ScanInfo,
    ScanKind,
    ScanRejected,
    inspect_scan,
    make_inspector,
    sniff,
)

MAX_PIXELS = 40_000_000


# --- builders ---------------------------------------------------------------------


def make_pdf(pages: int = 1, *, padding: int = 0) -> bytes:
    """A real PDF with blank A4 pages; `padding` adds a stream object of that many bytes."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    if padding:
        stream = DecodedStreamObject()
        stream.set_data(b"\x00" * padding)
        # pypdf has no public way to add a loose object; referencing it from the
        # catalog under a private key keeps it in the written file.
        writer.root_object[NameObject("/IzinPadding")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_pdf_of_size(size: int) -> bytes:
    """A valid PDF of exactly `size` bytes (the padding stream is tuned to fit)."""
    padding = max(size - len(make_pdf(padding=1)), 1)
    for _ in range(5):
        data = make_pdf(padding=padding)
        if len(data) == size:
            return data
        padding += size - len(data)
    raise AssertionError("could not hit the exact size")


def make_encrypted_pdf(user_password: str = "") -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    # RC4 needs no optional crypto backend; an empty user password is the common
    # "opens freely, but restricted" case.
    writer.encrypt(user_password, "owner-secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_image(fmt: str, size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (180, 40, 40)).save(out, fmt)
    return out.getvalue()


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def make_png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR (valid CRC) claims width x height but carries almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + _png_chunk(b"IEND", b"")
    )


def make_png_from_rows(
    width: int, height: int, raw: bytes, *, colour: int = 2, interlace: int = 0
) -> bytes:
    """A PNG from already filtered rows (8-bit samples), split over two IDAT chunks."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, interlace)
    data = zlib.compress(raw)
    half = len(data) // 2
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", data[:half])
        + _png_chunk(b"IDAT", data[half:])
        + _png_chunk(b"IEND", b"")
    )


def make_interlaced_png(image: Image.Image) -> bytes:
    """Adam7 by hand (Pillow cannot write interlaced PNGs); every row uses filter 0."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4)]
    passes += [(1, 0, 2, 2), (0, 1, 1, 2)]
    raw = bytearray()
    for x0, y0, dx, dy in passes:
        for y in range(y0, height, dy):
            row = bytearray(b"\x00")
            for x in range(x0, width, dx):
                row += bytes(rgb.getpixel((x, y)))  # type: ignore[arg-type]
            if len(row) > 1:
                raw += row
    return make_png_from_rows(width, height, bytes(raw), interlace=1)


def make_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("ijazah.pdf", make_pdf())
    return out.getvalue()


GOOD: dict[str, tuple[bytes, FileKind]] = {
    "pdf": (make_pdf(), FileKind.PDF),
    "jpeg": (make_image("JPEG"), FileKind.JPEG),
    "png": (make_image("PNG"), FileKind.PNG),
}

BAD: dict[str, tuple[bytes, str]] = {
    "zip_named_pdf": (make_zip(), "unsupported_type"),
    "text_named_pdf": (b"Surat Tanda Registrasi\nNo. 123\n", "unsupported_type"),
    "gif": (make_image("GIF"), "unsupported_type"),
    "empty": (b"", "empty"),
    "pdf_truncated": (make_pdf()[:200], "pdf_broken"),
    "pdf_garbage": (b"%PDF-1.7\n" + bytes(range(256)) * 40, "pdf_broken"),
    "pdf_no_pages": (make_pdf(pages=0), "pdf_broken"),
    "pdf_encrypted_empty_password": (make_encrypted_pdf(""), "pdf_encrypted"),
    "pdf_encrypted_password": (make_encrypted_pdf("rahasia"), "pdf_encrypted"),
    "jpeg_truncated": (make_image("JPEG")[:300], "image_broken"),
    "jpeg_garbage": (b"\xff\xd8\xff" + b"\x00" * 4000, "image_broken"),
    "png_truncated": (make_image("PNG")[:60], "image_broken"),
    "png_bomb": (make_png_header_only(100_000, 100_000), "image_too_large"),
}


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- sniff ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOOD))
def test_sniff_recognises_accepted_kinds(name: str) -> None:
    data, kind = GOOD[name]
    assert sniff(data[:8]) is kind


@pytest.mark.parametrize(
    "head", [b"", b"%PD", b"PK\x03\x04", b"GIF89a", b"hello wo", b" %PDF-1.7", b"\x89PNG"]
)
def test_sniff_refuses_everything_else(head: bytes) -> None:
    assert sniff(head) is None


def test_scan_kind_values_match_catalog() -> None:
    assert {k.value for k in ScanKind} == {k.value for k in FileKind} == {"pdf", "jpeg", "png"}
    assert MEDIA_TYPES == {
        FileKind.PDF: "application/pdf",
        FileKind.JPEG: "image/jpeg",
        FileKind.PNG: "image/png",
    }


# --- inspect_scan -----------------------------------------------------------------


def test_inspect_pdf(tmp_path: Path) -> None:
    path = _write(tmp_path, "scan.bin", make_pdf(pages=3))
    with path.open("rb") as fh:
        info = inspect_scan(fh, max_pixels=MAX_PIXELS)
    assert info == ScanInfo(kind=FileKind.PDF, pages=3, width=None, height=None)
    assert info.media_type == "application/pdf"


@pytest.mark.parametrize(("fmt", "kind"), [("JPEG", FileKind.JPEG), ("PNG", FileKind.PNG)])
def test_inspect_image(tmp_path: Path, fmt: str, kind: FileKind) -> None:
    path = _write(tmp_path, "scan.pdf", make_image(fmt, (1200, 900)))  # the name is ignored
    with path.open("rb") as fh:
        info = inspect_scan(fh, max_pixels=MAX_PIXELS)
    assert info == ScanInfo(kind=kind, pages=None, width=1200, height=900)
    assert info.media_type == MEDIA_TYPES[kind]


@pytest.mark.parametrize("name", sorted(BAD))
def test_inspect_refuses(tmp_path: Path, name: str) -> None:
    data, code = BAD[name]
    path = _write(tmp_path, f"{name}.pdf", data)
    with path.open("rb") as fh, pytest.raises(ScanRejected) as caught:
        inspect_scan(fh, max_pixels=MAX_PIXELS)
    assert caught.value.code == code


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
@pytest.mark.parametrize("size", [(1, 1), (13, 7), (1, 300), (300, 1)])
def test_png_modes_and_odd_sizes(mode: str, size: tuple[int, int]) -> None:
    image = Image.effect_noise(size, 64).convert("I" if mode == "I;16" else mode)
    out = io.BytesIO()
    image.convert(mode).save(out, "PNG")
    info = inspect_scan(io.BytesIO(out.getvalue()), max_pixels=MAX_PIXELS)
    assert (info.width, info.height) == size


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (5, 3), (33, 17), (8, 1), (1, 8)])
def test_interlaced_png(size: tuple[int, int]) -> None:
    image = Image.effect_noise(size, 64).convert("RGB")
    data = make_interlaced_png(image)
    with Image.open(io.BytesIO(data)) as decoded:  # the builder itself is right
        assert decoded.convert("RGB").tobytes() == image.tobytes()
    info = inspect_scan(io.BytesIO(data), max_pixels=MAX_PIXELS)
    assert (info.width, info.height) == size


def _corrupt_png(data: bytes, offset_in_idat: int, value: int) -> bytes:
    """Change one byte of the first IDAT payload and repair its CRC."""
    out = bytearray(data)
    tag = out.index(b"IDAT")
    (length,) = struct.unpack(">I", out[tag - 4 : tag])
    out[tag + 4 + offset_in_idat] = value
    out[tag + 4 + length : tag + 8 + length] = struct.pack(
        ">I", zlib.crc32(out[tag : tag + 4 + length])
    )
    return bytes(out)


@pytest.mark.parametrize(
    ("width", "height", "raw", "why"),
    [
        (4, 2, b"\x00" + b"\x01" * 12 + b"\x07" + b"\x01" * 12, "filter type 7"),
        (4, 2, b"\x00" + b"\x01" * 12, "rows missing"),
        (4, 1, b"\x00" + b"\x01" * 12 + b"\x00" * 13, "rows left over"),
    ],
)
def test_png_bad_image_data(width: int, height: int, raw: bytes, why: str) -> None:
    data = make_png_from_rows(width, height, raw)
    with pytest.raises(ScanRejected) as caught:
        inspect_scan(io.BytesIO(data), max_pixels=MAX_PIXELS)
    assert caught.value.code == "image_broken", why


def test_png_checksums_are_checked() -> None:
    good = make_png_from_rows(4, 2, b"\x00" + b"\x01" * 12 + b"\x00" + b"\x01" * 12)
    assert inspect_scan(io.BytesIO(good), max_pixels=MAX_PIXELS).width == 4
    tag = good.index(b"IDAT")
    bad_crc = good[: tag + 4] + bytes([good[tag + 4] ^ 1]) + good[tag + 5 :]
    bad_deflate = _corrupt_png(good, 4, good[tag + 8] ^ 0x40)  # deflate data, CRC repaired
    for data in (bad_crc, bad_deflate):
        with pytest.raises(ScanRejected) as caught:
            inspect_scan(io.BytesIO(data), max_pixels=MAX_PIXELS)
        assert caught.value.code == "image_broken"


def test_tall_thin_png_is_checked_quickly() -> None:
    # 4 million one-pixel rows: the row walk must not be a Python loop per row.
    height = 4_000_000
    data = make_png_from_rows(1, height, b"\x00\x7f" * height, colour=0)
    started = time.perf_counter()
    assert inspect_scan(io.BytesIO(data), max_pixels=MAX_PIXELS).height == height
    assert time.perf_counter() - started < 5


def test_pixel_limit_is_checked_from_the_header_before_decoding(tmp_path: Path) -> None:
    # 48 MP is under Pillow's own bomb guard and the IDAT is a stub: decoding it would
    # say "image_broken", so "image_too_large" proves the header was checked first.
    path = _write(tmp_path, "big.png", make_png_header_only(8000, 6000))
    with path.open("rb") as fh, pytest.raises(ScanRejected) as caught:
        inspect_scan(fh, max_pixels=MAX_PIXELS)
    assert caught.value.code == "image_too_large"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_pixel_limit_applies_to_real_images(tmp_path: Path, fmt: str) -> None:
    path = _write(tmp_path, "photo", make_image(fmt, (400, 300)))
    with path.open("rb") as fh:
        assert inspect_scan(fh, max_pixels=400 * 300).width == 400  # the limit is inclusive
        with pytest.raises(ScanRejected) as caught:
            inspect_scan(fh, max_pixels=400 * 300 - 1)
    assert caught.value.code == "image_too_large"


def test_make_inspector_binds_the_pixel_limit(tmp_path: Path) -> None:
    path = _write(tmp_path, "photo", make_image("PNG", (100, 100)))
    with path.open("rb") as fh:
        assert make_inspector(10_000)(fh).kind is FileKind.PNG
        with pytest.raises(ScanRejected):
            make_inspector(9_999)(fh)


def test_padded_pdf_builder_hits_exact_size() -> None:
    data = make_pdf_of_size(300_000)
    assert len(data) == 300_000
    info = inspect_scan(io.BytesIO(data), max_pixels=MAX_PIXELS)
    assert info.pages == 1


# --- progressive JPEG: decoded in a child process (issue 15) ------------------------


def _progressive_jpeg(size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(out, "JPEG", progressive=True,
                                                    quality=90)
    return out.getvalue()


def test_progressive_jpeg_is_accepted_from_a_file_and_from_memory(tmp_path: Path) -> None:
    data = _progressive_jpeg()
    path = _write(tmp_path, "p.jpg", data)
    with path.open("rb") as fh:
        assert inspect_scan(fh, max_pixels=MAX_PIXELS) == ScanInfo(
            kind=FileKind.JPEG, pages=None, width=640, height=480)
    assert inspect_scan(io.BytesIO(data), max_pixels=MAX_PIXELS).width == 640


def test_truncated_progressive_jpeg_is_refused_by_the_child(tmp_path: Path) -> None:
    data = _progressive_jpeg()
    # The header is intact (size known), the scans stop halfway: only a decode sees it.
    path = _write(tmp_path, "p.jpg", data[: len(data) // 2])
    with path.open("rb") as fh, pytest.raises(ScanRejected) as caught:
        inspect_scan(fh, max_pixels=MAX_PIXELS)
    assert caught.value.code == "image_broken"
