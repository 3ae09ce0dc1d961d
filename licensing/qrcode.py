"""QR codes (e.g. the permit verification link) as PNG or SVG, via segno."""

from __future__ import annotations

import io

import segno

ERROR_LEVEL = "m"  # ~15% damage tolerance: survives a printed, folded, stamped page
BORDER = 4  # the quiet zone the QR standard requires


def _make(data: str) -> segno.QRCode:
    if not data:
        raise ValueError("QR code data must not be empty")
    # boost_error=False keeps the level exactly M, so output is predictable;
    # micro=False because many phone scanners cannot read Micro QR.
    return segno.make(data, error=ERROR_LEVEL, boost_error=False, micro=False)


def qr_png(data: str, *, scale: int = 6) -> bytes:
    """PNG bytes; `scale` is pixels per module. Too much data raises ValueError."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    out = io.BytesIO()
    _make(data).save(out, kind="png", scale=scale, border=BORDER)
    return out.getvalue()


def qr_svg(data: str) -> str:
    """Standalone SVG document without an XML declaration, so it also embeds in HTML."""
    out = io.BytesIO()
    _make(data).save(out, kind="svg", border=BORDER, xmldecl=False)
    return out.getvalue().decode("utf-8")
