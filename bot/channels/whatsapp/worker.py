"""Handles recorded WhatsApp messages: per chat in order, chats in parallel.

A document or image is fetched as the Cloud API asks: GET /{media-id} for a short-lived
URL, then that URL with the bearer token, streamed into the file store, where the usual
upload rules judge it. The worker also applies kept status webhooks to the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.channels.whatsapp import CHANNEL, statuses
from bot.channels.whatsapp.graph import GraphClient, GraphError
from bot.channels.whatsapp.payloads import Media, NumberChange, content
from bot.composition import App
from conversations.types import InboundEvent
from service.number_change import move_number
from storage.filestore import CHUNK_SIZE, StoredBlob, UploadRejected
from storage.models import InboundMessage

log = logging.getLogger(__name__)

UNSUPPORTED_MEDIA = {"audio", "video", "sticker"}
DOWNLOAD_TRIES = 3

_workers: weakref.WeakSet[InboundWorker] = weakref.WeakSet()


def wake_workers() -> None:
    """New rows were recorded: save the workers in this process a poll interval."""
    for worker in list(_workers):
        worker.wake()


class InboundWorker:
    def __init__(self, app: App, client: GraphClient, *,
                 on_handled: Callable[[], None] | None = None, idle_poll: float = 0.5,
                 retry_pause: float = 0.5) -> None:
        self.app = app
        self.client = client
        self.on_handled = on_handled
        self.idle_poll = idle_poll
        self.retry_pause = retry_pause
        self._wake = asyncio.Event()
        self._marks: set[asyncio.Task[None]] = set()
        _workers.add(self)

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:  # a database hiccup must not end the worker
                log.exception("whatsapp worker cycle failed; retrying")
                done = 0
            if done == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.idle_poll)

    async def run_once(self) -> int:
        """Handle what is pending, then apply statuses; returns how much was done."""
        rows = await self.app.runtime.pending(CHANNEL, limit=200)
        by_chat: OrderedDict[str, list[InboundMessage]] = OrderedDict()
        for row in rows:
            by_chat.setdefault(row.chat_key, []).append(row)
        await asyncio.gather(*(self._chat(chat_rows) for chat_rows in by_chat.values()))
        applied = await statuses.apply_pending(self.app.sessions, now=self.app.runtime.clock())
        if rows and self.on_handled is not None:
            self.on_handled()
        return len(rows) + applied

    async def drain(self, max_cycles: int = 100) -> None:
        for _ in range(max_cycles):
            if await self.run_once() == 0:
                return

    async def _chat(self, rows: list[InboundMessage]) -> None:
        # WhatsApp may deliver a chat's messages out of order: what is waiting together
        # goes in the order the applicant sent it.
        rows.sort(key=lambda r: (int((r.payload or {}).get("timestamp") or 0), r.id))
        for row in rows:
            try:
                await self.handle_row(row)
            except Exception as exc:
                log.exception("whatsapp message %s could not be handled", row.id)
                await self.app.runtime.mark_failed(row.id, f"{type(exc).__name__}: {exc}")

    async def handle_row(self, row: InboundMessage) -> None:
        payload: dict[str, Any] = row.payload or {}
        message: dict[str, Any] = payload.get("message") or {}
        kind, value = content(message)
        if kind == "number_change" and isinstance(value, NumberChange):
            await move_number(self.app.sessions, channel=CHANNEL,
                              old=str(payload.get("wa_id")), new=value.new,
                              inbound_id=row.id, now=self.app.runtime.clock())
            return
        self.mark_read(row.platform_id)
        blob: StoredBlob | None = None
        if kind == "text":
            event = InboundEvent.message(str(value))
        elif kind == "choice":
            event = InboundEvent.choose(str(value))
        elif kind == "media" and isinstance(value, Media):
            event, blob = await self._download(value)
        elif message.get("type") in UNSUPPORTED_MEDIA:
            event = InboundEvent.upload_rejected("unsupported_type")
        else:
            event = InboundEvent.message("")
        sent = _int(payload.get("timestamp"))
        await self.app.runtime.handle(
            channel=CHANNEL, external_id=str(payload.get("wa_id")), platform_id=row.platform_id,
            event=event, display_name=payload.get("name"), blob=blob, pending_id=row.id,
            sent_at=datetime.fromtimestamp(sent, UTC) if sent else None)

    def mark_read(self, wamid: str) -> None:
        """Blue ticks and the typing indicator while the reply is prepared; in the
        background and best effort: a refusal never holds up the reply."""
        task = asyncio.create_task(self._mark_read(wamid))
        self._marks.add(task)
        task.add_done_callback(self._marks.discard)

    async def wait_marks(self) -> None:
        """Until the read receipts in flight are sent (tests, shutdown)."""
        if self._marks:
            await asyncio.gather(*list(self._marks), return_exceptions=True)

    async def _mark_read(self, wamid: str) -> None:
        try:
            await self.client.mark_read(wamid)
        except (GraphError, httpx.HTTPError) as exc:
            log.info("mark as read refused: %s", type(exc).__name__)

    async def _download(self, media: Media) -> tuple[InboundEvent, StoredBlob | None]:
        for attempt in range(DOWNLOAD_TRIES):
            try:
                info = await self.client.media_info(media.id)
                declared = _int(info.get("file_size"))
                # Opened on the store's first pull: a declared size over the limit is
                # refused without downloading a byte.
                blob = await self.app.files.ingest(self._bytes(str(info["url"])),
                                                   declared_size=declared)
                return InboundEvent.upload(blob.sha256, blob.kind, blob.size), blob
            except UploadRejected as exc:
                params = {"limit_mb": _mb(exc.limit)} if exc.code == "too_large" else {}
                return InboundEvent.upload_rejected(exc.code, **params), None
            except (GraphError, httpx.HTTPError, KeyError) as exc:
                log.warning("media %s: download attempt %d failed: %s", media.id,
                            attempt + 1, type(exc).__name__)
                await asyncio.sleep(self.retry_pause * 2 ** attempt)
        return InboundEvent.upload_rejected("download_failed"), None


    async def _bytes(self, url: str) -> AsyncIterator[bytes]:
        async with self.client.download(url) as resp:
            async for chunk in resp.aiter_bytes(CHUNK_SIZE):
                yield chunk


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _mb(limit: int | None) -> str:
    if not limit:
        return "?"
    mb = limit / (1024 * 1024)
    return f"{mb:.0f}" if mb == int(mb) else f"{mb:.1f}"
