"""The outbox's sender for Telegram: one Delivery -> the Bot API calls that show it.

Bot API answers map to what the dispatcher does next: 429 -> retry after the
`parameters.retry_after` it names; 403 (blocked, deactivated) -> unreachable; other
4xx -> permanent; 5xx and network errors -> retry with backoff.

A message may take several calls (a text over 4096 characters, a caption too long for
a document). The parts already confirmed are remembered per outbox row, so a retry
sends only what the platform has not confirmed (in this process: after a restart a
half-sent long message is sent whole again).
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, FSInputFile, InputFile, Message

from bot.channels.telegram import CHANNEL
from bot.channels.telegram.render import MAX_CAPTION, escape, keyboard, split_text
from conversations.types import OutMessage
from licensing.qrcode import qr_png
from notifications.dispatcher import Delivery, SendResult
from storage.filestore import FileStore

log = logging.getLogger(__name__)
PARSE_MODE = "HTML"


class TelegramSender:
    channel = CHANNEL

    def __init__(self, bot: Bot, files: FileStore) -> None:
        self.bot = bot
        self.files = files
        self._done: dict[int, int] = {}  # outbox id -> parts confirmed so far

    async def send(self, delivery: Delivery) -> SendResult:
        try:
            parts = self.parts(delivery.message, delivery.outbox_id)
        except (OSError, ValueError) as exc:  # blob missing, QR too long: cannot send
            return SendResult(ok=False, permanent=True, error=f"{type(exc).__name__}: {exc}")
        start = self._done.get(delivery.outbox_id, 0)
        last: Message | None = None
        try:
            for i in range(start, len(parts)):
                method, kwargs = parts[i]
                last = await getattr(self.bot, method)(chat_id=int(delivery.chat_id), **kwargs)
                self._done[delivery.outbox_id] = i + 1
        except TelegramAPIError as exc:
            result = result_of(exc)
            if result.permanent or result.unreachable:  # no retry will come for this row
                self._done.pop(delivery.outbox_id, None)
            return result
        self._done.pop(delivery.outbox_id, None)
        return SendResult(ok=True, platform_message_id=str(last.message_id) if last else None)

    def parts(self, message: OutMessage, outbox_id: int) -> list[tuple[str, dict[str, Any]]]:
        """The Bot API calls for one message, in order: (bot method, arguments)."""
        if message.kind in ("document", "image"):
            return self._media(message)
        chunks = split_text(message.text)
        calls: list[tuple[str, dict[str, Any]]] = [
            ("send_message", {"text": c, "parse_mode": PARSE_MODE}) for c in chunks]
        if message.kind == "choices" and message.choices:
            calls[-1][1]["reply_markup"] = keyboard(message.choices, outbox_id=outbox_id)
        return calls

    def _media(self, message: OutMessage) -> list[tuple[str, dict[str, Any]]]:
        upload: InputFile
        if message.qr:
            upload = BufferedInputFile(qr_png(message.qr), filename="qr.png")
        elif message.blob_sha256:
            path = self.files.path_for(message.blob_sha256)
            if not path.is_file():
                raise FileNotFoundError(f"blob {message.blob_sha256[:12]} is not in the store")
            upload = FSInputFile(path, filename=message.filename or _default_name(message))
        else:
            raise ValueError("a document or image message without a file")
        calls: list[tuple[str, dict[str, Any]]] = []
        caption: str | None = None
        if message.text:
            escaped = escape(message.text)
            if len(escaped) <= MAX_CAPTION:
                caption = escaped
            else:  # too long for a caption: the text goes first, on its own
                calls += [("send_message", {"text": c, "parse_mode": PARSE_MODE})
                          for c in split_text(message.text)]
        as_photo = message.kind == "image" and (message.qr is not None or (
            message.media_type or "").startswith(("image/jpeg", "image/png")))
        method, field = ("send_photo", "photo") if as_photo else ("send_document", "document")
        media: dict[str, Any] = {field: upload}
        if caption:
            media |= {"caption": caption, "parse_mode": PARSE_MODE}
        calls.append((method, media))
        return calls


def _default_name(message: OutMessage) -> str:
    if message.media_type == "application/pdf":
        return "dokumen.pdf"
    return "berkas.png" if message.media_type == "image/png" else "berkas"


def result_of(exc: TelegramAPIError) -> SendResult:
    error = f"{type(exc).__name__}: {exc.message}"[:500]
    if isinstance(exc, TelegramRetryAfter):
        return SendResult(ok=False, retry_after=float(exc.retry_after), error=error)
    if isinstance(exc, TelegramForbiddenError):
        return SendResult(ok=False, unreachable=True, error=error)
    if isinstance(exc, TelegramServerError | TelegramNetworkError | TelegramUnauthorizedError):
        # A wrong token or a server outage: retrying with backoff may help.
        return SendResult(ok=False, error=error)
    if isinstance(exc, TelegramBadRequest | TelegramNotFound):
        return SendResult(ok=False, permanent=True, error=error)
    return SendResult(ok=False, error=error)
