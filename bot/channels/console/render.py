"""How the terminal shows an outgoing message: text, then numbered choices."""

from __future__ import annotations

from conversations.types import OutMessage


def render(message: OutMessage) -> str:
    lines = [message.text] if message.text else []
    if message.kind == "choices":
        lines += [f"  {i}. {c.label}" for i, c in enumerate(message.choices, start=1)]
    elif message.kind == "image":
        lines.insert(0, f"[gambar/image: {message.qr or message.filename or message.blob_sha256}]")
    elif message.kind == "document":
        lines.insert(0, f"[dokumen/document: {message.filename or message.blob_sha256}]")
    return "\n".join(lines)
