"""Which uploaded scans the office accepts: PDF, JPEG and PNG, judged by content.

The type comes from the magic bytes and is confirmed by a real parse; a file name or
a declared MIME type is never consulted. Checks read from an open binary file so a
large upload is never held in memory: pypdf reads objects on demand from the file,
JPEGs are decoded at 1/8 scale (draft mode) and image dimensions are checked from
the header before any pixel is decoded.
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image
from pypdf import PdfReader
from pypdf.errors import DependencyError

from licensing.catalog import FileKind

ScanKind = FileKind  # the catalog's kinds are the scan kinds; one enum, one set of values

MEDIA_TYPES: dict[FileKind, str] = {
    FileKind.PDF: "application/pdf",
    FileKind.JPEG: "image/jpeg",
    FileKind.PNG: "image/png",
}

_PDF_MAGIC = b"%PDF-"
_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HEAD_SIZE = 8  # enough bytes for sniff() to decide
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # where `-m licensing.scans` imports

# Reason codes, shared with storage.filestore.UploadRejected.
UNSUPPORTED_TYPE = "unsupported_type"
TOO_LARGE = "too_large"
EMPTY = "empty"
PDF_BROKEN = "pdf_broken"
PDF_ENCRYPTED = "pdf_encrypted"
IMAGE_BROKEN = "image_broken"
IMAGE_TOO_LARGE = "image_too_large"


class ScanRejected(Exception):
    """The scan is refused; `code` says why (one of the reason codes above)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class ScanInfo:
    kind: FileKind
    pages: int | None
    width: int | None
    height: int | None

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.kind]


def sniff(head: bytes) -> FileKind | None:
    """The kind named by the file's first bytes, or None for anything else."""
    if head.startswith(_PDF_MAGIC):
        return FileKind.PDF
    if head.startswith(_JPEG_MAGIC):
        return FileKind.JPEG
    if head.startswith(_PNG_MAGIC):
        return FileKind.PNG
    return None


def inspect_scan(fileobj: BinaryIO, *, max_pixels: int) -> ScanInfo:
    """Parse the whole file and describe it, or raise ScanRejected.

    Blocking (it parses and decodes); async callers run it in a thread.
    """
    fileobj.seek(0)
    head = fileobj.read(HEAD_SIZE)
    if not head:
        raise ScanRejected(EMPTY)
    kind = sniff(head)
    fileobj.seek(0)
    if kind is FileKind.PDF:
        return _inspect_pdf(fileobj)
    if kind is FileKind.JPEG or kind is FileKind.PNG:
        return _inspect_image(fileobj, kind, max_pixels)
    raise ScanRejected(UNSUPPORTED_TYPE)


def make_inspector(max_pixels: int = 40_000_000) -> Callable[[BinaryIO], ScanInfo]:
    """The checker storage.filestore.FileStore takes, with the pixel limit bound."""

    def inspector(fileobj: BinaryIO) -> ScanInfo:
        return inspect_scan(fileobj, max_pixels=max_pixels)

    return inspector


def _inspect_pdf(fileobj: BinaryIO) -> ScanInfo:
    # An open file, not a path: given a path pypdf reads the whole file into memory.
    try:
        reader = PdfReader(fileobj, strict=False)
    except DependencyError as exc:
        # Raised only when decrypting needs the optional AES backend: it is encrypted.
        raise ScanRejected(PDF_ENCRYPTED, str(exc)) from exc
    except Exception as exc:  # pypdf raises many types on malformed input
        raise ScanRejected(PDF_BROKEN, str(exc)) from exc
    # The rule refuses every encrypted file, also those with an empty user password
    # that any viewer opens (permission restrictions only).
    if reader.is_encrypted:
        raise ScanRejected(PDF_ENCRYPTED)
    try:
        pages = len(reader.pages)
        for page in reader.pages:
            # Resolving each page dictionary and its box proves the page tree is real;
            # content streams stay unread, so a large scan costs no memory here.
            _ = page.mediabox.width
    except Exception as exc:
        raise ScanRejected(PDF_BROKEN, str(exc)) from exc
    if pages == 0:
        raise ScanRejected(PDF_BROKEN, "no pages")
    return ScanInfo(kind=FileKind.PDF, pages=pages, width=None, height=None)


def _inspect_image(fileobj: BinaryIO, kind: FileKind, max_pixels: int) -> ScanInfo:
    pil_format = "JPEG" if kind is FileKind.JPEG else "PNG"
    try:
        # Image.open reads only the header; restricting the format stops Pillow from
        # trying other decoders on a file that merely starts like a JPEG or PNG.
        with Image.open(fileobj, formats=[pil_format]) as im:
            width, height = im.size
            if width <= 0 or height <= 0:
                raise ScanRejected(IMAGE_BROKEN, "zero dimension")
            if width * height > max_pixels:
                raise ScanRejected(IMAGE_TOO_LARGE, f"{width}x{height}")
            progressive = kind is FileKind.JPEG and bool(
                im.info.get("progressive") or im.info.get("progression"))
            if kind is FileKind.JPEG and not progressive:
                _decode_jpeg_draft(im)
        if progressive:
            _decode_apart(fileobj)
        if kind is FileKind.PNG:
            # Pillow can only decode a PNG into a full-size bitmap (up to 4 bytes a
            # pixel); inflating the data stream ourselves proves the same things in
            # constant memory.
            _check_png_data(fileobj)
    except ScanRejected:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow's own guard fires inside Image.open for absurd headers.
        raise ScanRejected(IMAGE_TOO_LARGE, str(exc)) from exc
    except Exception as exc:
        # Corrupt data surfaces as UnidentifiedImageError, OSError ("truncated"),
        # SyntaxError, EOFError, struct.error... depending on where the plugin fails.
        raise ScanRejected(IMAGE_BROKEN, str(exc)) from exc
    return ScanInfo(kind=kind, pages=None, width=width, height=height)


def _decode_jpeg_draft(im: Image.Image) -> None:
    # Decode at the smallest DCT scale (1/8): the whole entropy-coded stream is still
    # parsed, at 1/64 of the pixel memory.
    im.draft(None, (1, 1))
    im.load()


_CHILD_MEMORY = 1024 * 1024 * 1024  # address-space cap of the decoding child


def _decode_apart(fileobj: BinaryIO) -> None:
    """Decode a progressive JPEG in a short-lived child process.

    libjpeg keeps every DCT coefficient of a progressive image (about 3 bytes a pixel,
    45 MB for 15 MP) even for a 1/8-scale draft; in a child that memory is returned the
    moment it exits and never grows the server. Phones write baseline JPEGs, so the
    ~0.2 s start of a Python child is paid rarely. Blocking: runs in the caller's thread.
    """
    fileobj.seek(0)
    feed: dict[str, Any]
    try:
        fd = fileobj.fileno()
        # The child reads the descriptor itself: rewind it, not just Python's buffer.
        os.lseek(fd, 0, os.SEEK_SET)
        feed = {"stdin": fd}
    except (AttributeError, OSError, ValueError):
        feed = {"input": fileobj.read()}  # an in-memory file (tests): piped
    try:
        done = subprocess.run(
            [sys.executable, "-m", "licensing.scans", "--decode-jpeg"], **feed,
            capture_output=True, timeout=120, check=False, cwd=_PACKAGE_ROOT)
    except subprocess.TimeoutExpired as exc:
        raise ScanRejected(IMAGE_BROKEN, "decoding took too long") from exc
    if done.returncode != 0:
        raise ScanRejected(IMAGE_BROKEN, done.stderr.decode(errors="replace")[-300:].strip())


def _child_decode_jpeg() -> int:
    """The child's side of `_decode_apart`: the JPEG on stdin, exit status 0 when whole."""
    with contextlib.suppress(ValueError, OSError):  # a cap the platform refuses: go on
        resource.setrlimit(resource.RLIMIT_AS, (_CHILD_MEMORY, _CHILD_MEMORY))
    try:
        with Image.open(io.BytesIO(sys.stdin.buffer.read()), formats=["JPEG"]) as im:
            _decode_jpeg_draft(im)
    except Exception as exc:  # the parent maps any failure to image_broken
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type
# Adam7 passes: (x start, y start, x step, y step)
_ADAM7: tuple[tuple[int, int, int, int], ...] = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_READ_SIZE = 64 * 1024


def _png_row_sizes(header: bytes) -> list[tuple[int, int]]:
    """(rows, bytes per row including the filter byte) for each pass of the image."""
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    bits = _PNG_CHANNELS[colour] * depth
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    sizes = []
    for x0, y0, dx, dy in passes:
        cols, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if cols > 0 and rows > 0:
            sizes.append((rows, 1 + -(-(cols * bits) // 8)))
    return sizes


class _PngRows:
    """Follows the inflated image data: every row must start with a filter type 0-4,
    and the data must fill the rows exactly."""

    def __init__(self, header: bytes) -> None:
        self._passes = _png_row_sizes(header)[::-1]  # a stack of (rows, row size)
        self._rows = 0  # rows of the current pass not yet started
        self._size = 0
        self._left = 0  # bytes still to come of the row in progress

    def feed(self, data: bytes) -> None:
        pos, end = 0, len(data)
        while pos < end:
            if self._left:
                take = min(self._left, end - pos)
                self._left -= take
                pos += take
                continue
            if not self._rows:
                if not self._passes:
                    raise ScanRejected(IMAGE_BROKEN, "more data than pixels")
                self._rows, self._size = self._passes.pop()
            # The filter bytes of all rows starting in this buffer, in one C-level
            # slice: a per-row Python loop would crawl on a 1-pixel-wide, 40M-row image.
            filters = data[pos : pos + self._rows * self._size : self._size]
            if max(filters) > 4:
                raise ScanRejected(IMAGE_BROKEN, "bad row filter type")
            self._rows -= len(filters)
            pos += len(filters) * self._size
            if pos > end:
                self._left, pos = pos - end, end

    def complete(self) -> bool:
        return not (self._left or self._rows or self._passes)


def _check_png_data(fileobj: BinaryIO) -> None:
    """Walk every chunk checking its CRC, and inflate the image data in bounded pieces
    checking its length and each row's filter type. Raises ScanRejected."""
    fileobj.seek(len(_PNG_MAGIC))
    inflater = zlib.decompressobj()
    rows: _PngRows | None = None
    while True:
        head = fileobj.read(8)
        if len(head) < 8:
            raise ScanRejected(IMAGE_BROKEN, "truncated before IEND")
        length, tag = struct.unpack(">I4s", head)
        crc = zlib.crc32(tag)
        left = length
        while left:
            piece = fileobj.read(min(left, _READ_SIZE))
            if not piece:
                raise ScanRejected(IMAGE_BROKEN, f"truncated in {tag!r}")
            left -= len(piece)
            crc = zlib.crc32(piece, crc)
            if tag == b"IHDR":
                rows = _PngRows(piece[:13])  # Pillow has already validated the header
            elif tag == b"IDAT" and rows is not None:
                data = piece
                while data:
                    rows.feed(inflater.decompress(data, _READ_SIZE))  # bounded output
                    data = inflater.unconsumed_tail
        if fileobj.read(4) != struct.pack(">I", crc):
            raise ScanRejected(IMAGE_BROKEN, f"bad CRC in {tag!r}")
        if tag == b"IEND":
            break
    # Output held back by the size bound comes out once the input has run dry.
    while rows is not None and not inflater.eof and (out := inflater.decompress(b"", _READ_SIZE)):
        rows.feed(out)
    # eof: the zlib stream ended and its Adler-32 matched; complete: no pixel missing.
    if rows is None or not inflater.eof or not rows.complete():
        raise ScanRejected(IMAGE_BROKEN, "image data incomplete")


if __name__ == "__main__" and sys.argv[1:] == ["--decode-jpeg"]:
    sys.exit(_child_decode_jpeg())
