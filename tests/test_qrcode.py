from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
import segno
from PIL import Image

from licensing.qrcode import qr_png, qr_svg

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DATA = "https://izin.example.go.id/verifikasi/SIP-2025-000123"


def test_png_opens_with_pillow() -> None:
    png = qr_png(DATA)
    assert png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG"
        width, height = img.size
    symbol = segno.make(DATA, error="m", boost_error=False, micro=False)
    side = symbol.symbol_size(scale=6, border=4)
    assert (width, height) == side


def test_png_pixels_match_the_symbol() -> None:
    # Without a decoder, check the rendering: every module's pixel block has the
    # colour of the symbol's matrix, with a 4-module quiet zone around it.
    scale = 3
    symbol = segno.make(DATA, error="m", boost_error=False, micro=False)
    assert symbol.error == "M"
    with Image.open(io.BytesIO(qr_png(DATA, scale=scale))) as img:
        gray = img.convert("L")
        for row, bits in enumerate(symbol.matrix):
            for col, dark in enumerate(bits):
                x, y = (col + 4) * scale + 1, (row + 4) * scale + 1
                assert (gray.getpixel((x, y)) == 0) == bool(dark), (row, col)
        assert gray.getpixel((1, 1)) == 255  # quiet zone


def test_svg() -> None:
    svg = qr_svg(DATA)
    assert svg.startswith("<svg")
    assert 'xmlns="http://www.w3.org/2000/svg"' in svg


def test_rejects_empty_and_bad_scale() -> None:
    with pytest.raises(ValueError):
        qr_png("")
    with pytest.raises(ValueError):
        qr_svg("")
    with pytest.raises(ValueError):
        qr_png(DATA, scale=0)


def test_too_much_data_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        qr_png("x" * 5000)


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbarimg is not installed")
def test_png_round_trips_through_zbarimg(tmp_path: Path) -> None:
    path = tmp_path / "qr.png"
    path.write_bytes(qr_png(DATA))
    result = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert result.stdout.strip() == DATA
