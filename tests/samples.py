"""Real sample files made on the fly: a PDF with a page, a JPEG and a PNG photo."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject


def pdf_bytes(text: str = "scan") -> bytes:
    writer = PdfWriter()
    page = writer.add_blank_page(width=595, height=842)
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode())
    page[NameObject("/Contents")] = writer._add_object(stream)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def make_pdf(path: Path, text: str = "scan") -> Path:
    path.write_bytes(pdf_bytes(text))
    return path


def image_bytes(fmt: str, size: tuple[int, int] = (320, 240), color: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


def make_jpeg(path: Path, color: str = "red") -> Path:
    path.write_bytes(image_bytes("JPEG", color=color))
    return path


def make_png(path: Path, color: str = "blue") -> Path:
    path.write_bytes(image_bytes("PNG", color=color))
    return path
