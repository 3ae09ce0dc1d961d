"""How an outgoing message looks on Telegram: HTML text within 4096 characters, choices
as an inline keyboard, long lists paged.

Every text is escaped: templates carry applicant- and staff-supplied values (names,
places, complaint answers) and Telegram rejects or misrenders stray `<` and `&`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from conversations.types import Choice

MAX_TEXT = 4096
MAX_CAPTION = 1024
PAGE_SIZE = 8  # choices per page when a list is paged
UNPAGED_MAX = 12  # up to this many choices show at once (a chat screen holds them)
NAV_PREFIX = "nav:"  # Kembali / Menu: on every page, side by side in the last row
PAGE_PREFIX = "~pg:"  # callback data of a page turn: ~pg:<outbox id>:<page>; handled here


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Escaped chunks of at most `limit` characters, cut at line ends where possible.

    The cut is made on the raw text and measured escaped, so an entity (`&amp;`) is
    never split.
    """
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        piece = escape(line)
        if len(current) + len(piece) <= limit:
            current += piece
            continue
        if current:
            chunks.append(current)
            current = ""
        while len(piece) > limit:  # one line longer than a message: cut by characters
            head, line = _cut(line, limit)
            chunks.append(escape(head))
            piece = escape(line)
        current = piece
    if current or not chunks:
        chunks.append(current)
    return [c.rstrip("\n") or "." for c in chunks]


def _cut(line: str, limit: int) -> tuple[str, str]:
    """The longest head of `line` whose escaped form fits, preferring a space."""
    size, end = 0, 0
    for i, ch in enumerate(line):
        size += len(escape(ch))
        if size > limit:
            break
        end = i + 1
    space = line.rfind(" ", 0, end)
    if space > end // 2:
        end = space + 1
    return line[:end], line[end:]


def _split(choices: Sequence[Choice]) -> tuple[list[Choice], list[Choice]]:
    main = [c for c in choices if not c.id.startswith(NAV_PREFIX)]
    nav = [c for c in choices if c.id.startswith(NAV_PREFIX)]
    return main, nav


def page_count(choices: Sequence[Choice]) -> int:
    main, _ = _split(choices)
    if len(main) <= UNPAGED_MAX:
        return 1
    return -(-len(main) // PAGE_SIZE)


def keyboard(choices: Sequence[Choice], *, page: int = 0,
             outbox_id: int | None = None) -> InlineKeyboardMarkup:
    """One button per row (labels are long); callback data is the choice id itself.

    A long list is paged: every page keeps the navigation row (Kembali, Menu) and the
    page turns name the page they lead to; no button does nothing.
    """
    main, nav = _split(choices)
    pages = page_count(choices) if outbox_id is not None else 1
    page = min(max(page, 0), pages - 1)
    shown = main[page * PAGE_SIZE:(page + 1) * PAGE_SIZE] if pages > 1 else main
    rows = [[InlineKeyboardButton(text=c.label, callback_data=c.id)] for c in shown]
    if pages > 1:
        turn: list[InlineKeyboardButton] = []
        if page > 0:
            turn.append(InlineKeyboardButton(
                text=f"‹ {page}/{pages}", callback_data=f"{PAGE_PREFIX}{outbox_id}:{page - 1}"))
        if page < pages - 1:
            turn.append(InlineKeyboardButton(
                text=f"{page + 2}/{pages} ›",
                callback_data=f"{PAGE_PREFIX}{outbox_id}:{page + 1}"))
        rows.append(turn)
    if nav:
        rows.append([InlineKeyboardButton(text=c.label, callback_data=c.id) for c in nav])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def parse_page(data: str) -> tuple[int, int] | None:
    """(outbox id, page) of a page-turn button, or None."""
    if not data.startswith(PAGE_PREFIX):
        return None
    outbox, _, page = data[len(PAGE_PREFIX):].partition(":")
    if not (outbox.isdigit() and page.isdigit()):
        return None
    return int(outbox), int(page)
