"""How the terminal shows an outgoing message: text, then numbered choices."""

from __future__ import annotations

from pathlib import Path

from conversations.types import OutMessage


def render(message: OutMessage, saved: Path | None = None) -> str:
    lines = [message.text] if message.text else []
    if message.kind == "choices":
        lines += [f"  {i}. {c.label}" for i, c in enumerate(message.choices, start=1)]
    elif message.kind in ("image", "document"):
        what = "gambar/image" if message.kind == "image" else "dokumen/document"
        name = message.filename or (f"QR {message.qr}" if message.qr else message.blob_sha256)
        where = f" → disimpan/saved: {saved}" if saved else ""
        lines.insert(0, f"[{what}: {name}]{where}")
    return "\n".join(lines)
