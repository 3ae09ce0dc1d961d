"""One channel-neutral OutMessage as WhatsApp message bodies, within the Cloud API limits.

Navigation (Kembali, Menu: ids `nav:*`) never takes a reply button: the engine takes
the words "kembali"/"menu" at every step, so with buttons the footer says so, and in a
list the navigation rows come in a section of their own (rows cost no button). Up to 3
other choices: reply buttons (titles 20 characters). Up to 10: a list (row titles 24,
descriptions 72, button label 20). More: a numbered text menu; the engine takes a typed
number or label for the choices last offered. Titles are shortened at word boundaries,
keeping an identifier (a word with a digit, such as a registration number) whole.
Interactive bodies hold 1024 characters, texts 4096: longer text goes first as plain
text, split at paragraph or line breaks.
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
FOOTER_MAX, SECTION_TITLE_MAX = 60, 24
NAV_PREFIX = "nav:"  # Kembali / Menu, offered by the flows on most steps


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
    main = [c for c in choices if not c.id.startswith(NAV_PREFIX)]
    nav = [c for c in choices if c.id.startswith(NAV_PREFIX)]
    if not main:  # only navigation offered: it is the main action here
        main, nav = nav, []
    if len(main) > ROWS_MAX:
        menu = "\n".join(f"{i}. {c.label}" for i, c in enumerate(choices, start=1))
        full = "\n\n".join(x for x in (text, menu, t("whatsapp.menu_hint")) if x)
        return [_text(chunk) for chunk in split_text(full, TEXT_MAX)]
    parts, body = _lead(text or "…", INTERACTIVE_BODY_MAX)
    titles = [shorten(c.label, BUTTON_TITLE_MAX) for c in main]
    if len(main) <= BUTTONS_MAX and len(set(titles)) == len(titles):
        inter: dict[str, Any] = {
            "type": "button", "body": {"text": body},
            "action": {"buttons": [{"type": "reply", "reply": {"id": c.id, "title": title}}
                                   for c, title in zip(main, titles, strict=True)]}}
        if nav:
            inter["footer"] = {"text": shorten(_nav_hint(nav, t), FOOTER_MAX)}
        parts.append(Part({"type": "interactive", "interactive": inter}))
        return parts
    sections: list[dict[str, Any]] = [{"rows": [_row(c) for c in main]}]
    footer: str | None = None
    if nav and len(main) + len(nav) <= ROWS_MAX:
        sections[0]["title"] = shorten(t("whatsapp.section_choices"), SECTION_TITLE_MAX)
        sections.append({"title": shorten(t("whatsapp.section_nav"), SECTION_TITLE_MAX),
                         "rows": [_row(c) for c in nav]})
    elif nav:
        footer = shorten(_nav_hint(nav, t), FOOTER_MAX)
    inter = {"type": "list", "body": {"text": body},
             "action": {"button": shorten(t("whatsapp.list_button"), LIST_BUTTON_MAX),
                        "sections": sections}}
    if footer:
        inter["footer"] = {"text": footer}
    parts.append(Part({"type": "interactive", "interactive": inter}))
    return parts


def _row(c: Choice) -> dict[str, Any]:
    row: dict[str, Any] = {"id": c.id, "title": shorten(c.label, ROW_TITLE_MAX)}
    # A label cut to fit keeps its whole wording in the description.
    description = c.description or (c.label if row["title"] != c.label else None)
    if description:
        row["description"] = shorten(description, ROW_DESCRIPTION_MAX)
    return row


def _nav_hint(nav: list[Choice], t: Translator) -> str:
    """The words that stand in for navigation buttons ("kembali", "menu")."""
    ids = {c.id for c in nav}
    return t("whatsapp.nav_hint_back" if f"{NAV_PREFIX}back" in ids else "whatsapp.nav_hint_menu")


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


_TRAILING = " ,.;:-/(&+"


def shorten(text: str, limit: int) -> str:
    """Fit `text` in `limit` characters without cutting a word, marking a cut with '…'.

    Whole words are kept from the start; when that would drop an identifier (a word
    with a digit: "Permohonan MET-2612-BNSX7Q") the words leading up to it go instead.
    Only a single word longer than the limit is cut inside, at a '-', '/' or '.'.
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    words = text.split(" ")
    kept = _whole_words(words, limit - 1)
    dropped = words[len(kept):]
    ident = next((w for w in dropped if any(ch.isdigit() for ch in w)), None)
    if ident is not None and len(ident) <= limit:
        # The identifier and as many of the words before it as fit, cut from the left.
        end = words.index(ident) + 1
        tail: list[str] = []
        for w in reversed(words[:end]):
            if len(" ".join([w, *tail])) > limit - (1 if end < len(words) else 0):
                break
            tail.insert(0, w)
        if end == len(words):
            return " ".join(tail)
        return " ".join(tail).rstrip(_TRAILING) + "…"
    if kept:
        return " ".join(kept).rstrip(_TRAILING) + "…"
    head = words[0][: limit - 1]
    cut = max(head.rfind(ch) for ch in "-/.")
    return (head[:cut] if cut > 0 else head).rstrip(_TRAILING) + "…"


def _whole_words(words: list[str], limit: int) -> list[str]:
    kept: list[str] = []
    for w in words:
        if len(" ".join([*kept, w])) > limit:
            break
        kept.append(w)
    # A dangling joiner ("/", "&", "dan") reads as a cut: drop it too.
    while kept and (kept[-1] in {"/", "&", "+", "-", "dan", "atau", "and", "or"}):
        kept.pop()
    return kept


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
