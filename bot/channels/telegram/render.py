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
PAGE_SIZE = 8  # buttons per page; more are paged with ‹ › buttons
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


def page_count(choices: Sequence[Choice]) -> int:
    return max(1, -(-len(choices) // PAGE_SIZE))


def keyboard(choices: Sequence[Choice], *, page: int = 0,
             outbox_id: int | None = None) -> InlineKeyboardMarkup:
    """One button per row (labels are long); callback data is the choice id itself."""
    pages = page_count(choices)
    page = min(max(page, 0), pages - 1)
    shown = choices[page * PAGE_SIZE:(page + 1) * PAGE_SIZE] if pages > 1 else choices
    rows = [[InlineKeyboardButton(text=c.label, callback_data=c.id)] for c in shown]
    if pages > 1 and outbox_id is not None:
        turn: list[InlineKeyboardButton] = []
        if page > 0:
            turn.append(InlineKeyboardButton(
                text="‹", callback_data=f"{PAGE_PREFIX}{outbox_id}:{page - 1}"))
        turn.append(InlineKeyboardButton(
            text=f"{page + 1}/{pages}", callback_data=f"{PAGE_PREFIX}{outbox_id}:{page}"))
        if page < pages - 1:
            turn.append(InlineKeyboardButton(
                text="›", callback_data=f"{PAGE_PREFIX}{outbox_id}:{page + 1}"))
        rows.append(turn)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def parse_page(data: str) -> tuple[int, int] | None:
    """(outbox id, page) of a page-turn button, or None."""
    if not data.startswith(PAGE_PREFIX):
        return None
    outbox, _, page = data[len(PAGE_PREFIX):].partition(":")
    if not (outbox.isdigit() and page.isdigit()):
        return None
    return int(outbox), int(page)
