"""One channel-neutral OutMessage as WhatsApp message bodies, within the Cloud API limits.

Up to 3 choices: reply buttons (titles 20 characters). Up to 10: a list (row titles 24,
descriptions 72, button label 20). More: a numbered text menu; the engine takes a typed
number or label for the choices last offered. Interactive bodies hold 1024 characters,
texts 4096: longer text goes first as plain text, split at paragraph or line breaks.
Media parts name what to upload (`Part.media`); the sender turns that into a media id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conversations.i18n import Translator
from conversations.types import Choice, OutMessage

TEXT_MAX = 4096
INTERACTIVE_BODY_MAX = 1024
CAPTION_MAX = 1024
BUTTONS_MAX, BUTTON_TITLE_MAX = 3, 20
ROWS_MAX, ROW_TITLE_MAX, ROW_DESCRIPTION_MAX, LIST_BUTTON_MAX = 10, 24, 72, 20


@dataclass(frozen=True)
class MediaRef:
    """What to upload: a stored blob, or the text of a QR code to draw."""

    kind: str  # document | image
    blob_sha256: str | None = None
    qr: str | None = None
    filename: str | None = None
    media_type: str | None = None


@dataclass(frozen=True)
class Part:
    body: dict[str, Any]  # the message without messaging_product / to
    media: MediaRef | None = None  # body[kind]["id"] is filled in by the sender


def render(message: OutMessage, lang: str | None) -> list[Part]:
    t = Translator(lang)
    if message.kind == "choices" and message.choices:
        return _choices(message.text, list(message.choices), t)
    if message.kind in ("document", "image") and (message.blob_sha256 or message.qr):
        return _media(message)
    return [_text(chunk) for chunk in split_text(message.text or "…", TEXT_MAX)]


def _text(body: str) -> Part:
    return Part({"type": "text", "text": {"body": body, "preview_url": False}})


def _lead(text: str, limit: int) -> tuple[list[Part], str]:
    """Text parts to send before a message whose own text may hold only `limit`."""
    chunks = split_text(text, limit)
    if len(chunks) == 1:
        return [], chunks[0]
    before = "\n\n".join(chunks[:-1])
    return [_text(c) for c in split_text(before, TEXT_MAX)], chunks[-1]


def _choices(text: str, choices: list[Choice], t: Translator) -> list[Part]:
    if len(choices) > ROWS_MAX:
        menu = "\n".join(f"{i}. {c.label}" for i, c in enumerate(choices, start=1))
        full = "\n\n".join(x for x in (text, menu, t("whatsapp.menu_hint")) if x)
        return [_text(chunk) for chunk in split_text(full, TEXT_MAX)]
    parts, body = _lead(text or "…", INTERACTIVE_BODY_MAX)
    titles = [shorten(c.label, BUTTON_TITLE_MAX) for c in choices]
    if len(choices) <= BUTTONS_MAX and len(set(titles)) == len(titles):
        parts.append(Part({"type": "interactive", "interactive": {
            "type": "button", "body": {"text": body},
            "action": {"buttons": [{"type": "reply", "reply": {"id": c.id, "title": title}}
                                   for c, title in zip(choices, titles, strict=True)]}}}))
        return parts
    rows = []
    for c in choices:
        row: dict[str, Any] = {"id": c.id, "title": shorten(c.label, ROW_TITLE_MAX)}
        # A label cut to fit keeps its whole wording in the description.
        description = c.description or (c.label if row["title"] != c.label else None)
        if description:
            row["description"] = shorten(description, ROW_DESCRIPTION_MAX)
        rows.append(row)
    parts.append(Part({"type": "interactive", "interactive": {
        "type": "list", "body": {"text": body},
        "action": {"button": shorten(t("whatsapp.list_button"), LIST_BUTTON_MAX),
                   "sections": [{"rows": rows}]}}}))
    return parts


def _media(message: OutMessage) -> list[Part]:
    kind = message.kind
    parts, caption = _lead(message.text, CAPTION_MAX) if message.text else ([], "")
    ref = MediaRef(kind=kind, blob_sha256=message.blob_sha256, qr=message.qr,
                   filename=message.filename, media_type=message.media_type)
    inner: dict[str, Any] = {}
    if caption:
        inner["caption"] = caption
    if kind == "document" and message.filename:
        inner["filename"] = message.filename
    parts.append(Part({"type": kind, kind: inner}, media=ref))
    return parts


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary when one is near the end, marking the cut with '…'."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip(" ,.;:-") + "…"


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at a paragraph, line or word break."""
    text = text.strip()
    pieces: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), -1)
        if cut < limit // 2:
            cut = window.rfind("\n")
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text or not pieces:
        pieces.append(text)
    return pieces
