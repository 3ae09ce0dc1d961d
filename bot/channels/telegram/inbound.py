"""A recorded Telegram update -> an InboundEvent for the engine (and a stored file).

Files: the largest size of a photo, or the document; refused before any download when
Telegram says it is over the bot download limit (20 MB) or over our own limit; else
streamed from getFile's path into the file store chunk by chunk, never held whole.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import Message, Update
from aiohttp import ClientError

from conversations.types import InboundEvent
from storage.filestore import FileStore, StoredBlob, UploadRejected

log = logging.getLogger(__name__)

BOT_DOWNLOAD_LIMIT = 20 * 1024 * 1024  # Bot API getFile limit
ALLOWED_UPDATES = ["message", "callback_query"]
_UNSUPPORTED_MEDIA = ("video", "audio", "voice", "video_note", "animation", "sticker")


def chat_of(update: Update) -> int | None:
    """The chat an update belongs to, for the updates the channel handles."""
    if update.message is not None:
        return update.message.chat.id
    cq = update.callback_query
    if cq is not None:
        if cq.message is not None:
            return cq.message.chat.id
        return cq.from_user.id
    return None


def parse(payload: dict[str, Any]) -> Update:
    return Update.model_validate(payload)


def to_payload(update: Update) -> dict[str, Any]:
    """What is stored: the update as Telegram sent it (aliases such as `from` kept)."""
    return update.model_dump(mode="json", exclude_none=True, by_alias=True)


def event_without_download(message: Message) -> InboundEvent | None:
    """The event of a message that carries no file to fetch (text, or a kind of media
    we refuse unseen); None for a document or a photo."""
    if message.document is not None or message.photo:
        return None
    if any(getattr(message, kind) is not None for kind in _UNSUPPORTED_MEDIA):
        return InboundEvent.upload_rejected("unsupported_type")
    return InboundEvent.message(message.text or message.caption or "")


@dataclass(frozen=True)
class Downloader:
    bot: Bot
    files: FileStore

    async def event_of(self, message: Message) -> tuple[InboundEvent, StoredBlob | None]:
        event = event_without_download(message)
        if event is not None:
            return event, None
        if message.document is not None:
            return await self._file(message.document.file_id, message.document.file_size)
        assert message.photo
        # Telegram lists sizes smallest first; take the largest by pixels.
        best = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return await self._file(best.file_id, best.file_size)

    async def _file(self, file_id: str, size: int | None
                    ) -> tuple[InboundEvent, StoredBlob | None]:
        if size is not None and size > self.files.max_bytes:
            return InboundEvent.upload_rejected("too_large",
                                                limit_mb=_mb(self.files.max_bytes)), None
        if size is not None and size > BOT_DOWNLOAD_LIMIT:
            return _too_big_for_telegram(), None
        try:
            info = await self.bot.get_file(file_id)
        except TelegramBadRequest as exc:
            if "too big" in exc.message.lower():
                return _too_big_for_telegram(), None
            log.warning("getFile refused: %s", exc.message)
            return InboundEvent.upload_rejected("download_failed"), None
        except TelegramAPIError as exc:
            log.warning("getFile failed: %s", type(exc).__name__)
            return InboundEvent.upload_rejected("download_failed"), None
        if not info.file_path:
            return InboundEvent.upload_rejected("download_failed"), None
        declared = info.file_size if info.file_size is not None else size
        try:
            blob = await self.files.ingest(self._stream(info.file_path), declared_size=declared)
        except UploadRejected as exc:
            params = {"limit_mb": _mb(exc.limit)} if exc.code == "too_large" else {}
            return InboundEvent.upload_rejected(exc.code, **params), None
        except (ClientError, TimeoutError, TelegramAPIError) as exc:
            log.warning("file download failed: %s", type(exc).__name__)
            return InboundEvent.upload_rejected("download_failed"), None
        return InboundEvent.upload(blob.sha256, blob.kind, blob.size), blob

    async def _stream(self, file_path: str) -> AsyncIterator[bytes]:
        url = self.bot.session.api.file_url(self.bot.token, file_path)
        async for chunk in self.bot.session.stream_content(url=url, timeout=120):
            yield chunk


def _too_big_for_telegram() -> InboundEvent:
    return InboundEvent.upload_rejected("too_large_telegram", limit_mb=_mb(BOT_DOWNLOAD_LIMIT))


def _mb(limit: int | None) -> str:
    if not limit:
        return "?"
    mb = limit / (1024 * 1024)
    return f"{mb:.0f}" if mb == int(mb) else f"{mb:.1f}"
