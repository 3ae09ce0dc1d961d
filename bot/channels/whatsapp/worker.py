"""WhatsApp's part of the inbound pipeline (service/pipeline.py), and the loop that
applies kept status webhooks to the outbox.

A document or image is fetched as the Cloud API asks: GET /{media-id} for a short-lived
URL, then that URL with the bearer token, streamed into the file store, where the usual
upload rules judge it.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.channels.whatsapp import CHANNEL, statuses
from bot.channels.whatsapp.graph import GraphClient, GraphError
from bot.channels.whatsapp.payloads import Media, NumberChange, content
from bot.composition import App
from conversations.types import InboundEvent
from service.number_change import move_number
from service.pipeline import InboundPipeline, Recorded, Turn, Unhandleable
from service.wakeups import wait_any
from storage.filestore import CHUNK_SIZE, StoredBlob, UploadRejected

log = logging.getLogger(__name__)

UNSUPPORTED_MEDIA = {"audio", "video", "sticker"}
DOWNLOAD_TRIES = 3
STATUS_SWEEP = 10.0  # seconds: statuses whose message's wamid became known meanwhile

_workers: weakref.WeakSet[InboundWorker] = weakref.WeakSet()


def wake_workers() -> None:
    """Statuses were recorded: apply them now rather than at the next sweep."""
    for worker in list(_workers):
        worker.wake()


class InboundWorker:
    """The channel adapter (`prepare`) plus the pipeline and the status loop it runs."""

    channel = CHANNEL

    def __init__(self, app: App, client: GraphClient, *, sweep_every: float = 10.0,
                 retry_pause: float = 0.5) -> None:
        self.app = app
        self.client = client
        self.retry_pause = retry_pause
        self.pipeline = InboundPipeline(app.runtime, self, sweep_every=sweep_every,
                                        listen_url=app.settings.db_url)
        self._wake = asyncio.Event()
        self._marks: set[asyncio.Task[None]] = set()
        _workers.add(self)

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(self.pipeline.run(stop), self._statuses(stop))

    async def _statuses(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                await statuses.apply_pending(self.app.sessions, now=self.app.runtime.clock())
            except Exception as exc:  # the database may be away; next round
                log.warning("applying whatsapp statuses failed (%s)", type(exc).__name__)
            await wait_any(self._wake, stop, seconds=STATUS_SWEEP)

    async def drain(self) -> None:
        """Handle what is pending, then apply statuses (tests, one-shot commands)."""
        await self.pipeline.drain()
        await statuses.apply_pending(self.app.sessions, now=self.app.runtime.clock())

    async def prepare(self, row: Recorded) -> Turn | None:
        payload = row.payload
        wa_id = payload.get("wa_id")
        message = payload.get("message")
        if not isinstance(wa_id, str) or not wa_id or not isinstance(message, dict):
            raise Unhandleable("not a recorded WhatsApp message")
        kind, value = content(message)
        if kind == "number_change" and isinstance(value, NumberChange):
            # Nothing for the conversation: the pipeline marks the row handled.
            await move_number(self.app.sessions, channel=CHANNEL, old=wa_id, new=value.new,
                              inbound_id=None, now=self.app.runtime.clock())
            return None
        self.mark_read(row.platform_id)
        blob: StoredBlob | None = None
        if kind == "text":
            event = InboundEvent.message(str(value))
        elif kind == "choice":
            event = InboundEvent.choose(str(value))
        elif kind == "media" and isinstance(value, Media):
            event, blob = await self._download(value)
        elif str(message.get("type")) in UNSUPPORTED_MEDIA:
            event = InboundEvent.upload_rejected("unsupported_type")
        else:
            event = InboundEvent.message("")
        name = payload.get("name")
        sent = _int(payload.get("timestamp"))
        return Turn(wa_id, event, display_name=name if isinstance(name, str) else None,
                    blob=blob, sent_at=datetime.fromtimestamp(sent, UTC) if sent else None)

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
