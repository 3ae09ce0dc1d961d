"""The WhatsApp sender: one outbox Delivery -> Cloud API calls -> SendResult.

Inside the 24-hour window (since the applicant's last inbound message) the message goes
free-form, rendered within the limits (render.py). Outside it, or after the platform
answered 131047 for this row, it goes as the approved template for its notification
type (templates.yaml); without one it fails for good, and no free-form send is tried.

Platform errors: 131047 -> the template; 131026 -> unreachable; 130429 / 131056 (rate
limits) -> retry after a backoff; 5xx and network errors -> retry. A delivery rendered as
several parts (long text, or text before a menu) remembers which parts were accepted, so
a retry does not send them twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.whatsapp import CHANNEL
from bot.channels.whatsapp.graph import GraphClient, GraphError
from bot.channels.whatsapp.render import MediaRef, Part, render
from bot.channels.whatsapp.templates import Templates
from licensing.qrcode import qr_png
from notifications.dispatcher import Delivery, SendResult
from storage.filestore import FileStore
from storage.models import Applicant, OutboxMessage

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
OUTSIDE_WINDOW = 131047
UNDELIVERABLE = 131026
RATE_LIMITS = {130429, 131056, 80007}  # throughput, pair rate, account rate
TRANSIENT = {1, 2, 4, 131000, 131016}  # "try again later" codes
MEDIA_TTL = timedelta(days=25)  # uploaded media ids live 30 days


def rate_limit_backoff(attempts: int) -> float:
    """Seconds to wait after a rate-limit answer: doubling, capped, with jitter so the
    rows refused together do not come back together."""
    return min(2.0 ** max(attempts - 1, 0), 120.0) + random.uniform(0, 1)


@dataclass(frozen=True)
class _Recipient:
    lang: str | None
    last_inbound_at: datetime | None
    platform_error: str | None


class WhatsAppSender:
    channel = CHANNEL

    def __init__(self, *, client: GraphClient, sessions: async_sessionmaker[AsyncSession],
                 files: FileStore, templates: Templates,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self.sessions = sessions
        self.files = files
        self.templates = templates
        self.clock = clock
        self._accepted_parts: dict[int, tuple[int, str]] = {}  # outbox id -> (n, last wamid)
        self._media_ids: dict[str, tuple[str, datetime]] = {}
        self._refusals: dict[int, int] = {}  # outbox id -> rate-limit refusals so far

    async def send(self, delivery: Delivery) -> SendResult:
        who = await self._recipient(delivery.outbox_id)
        now = self.clock()
        inside = (who.last_inbound_at is not None and now - who.last_inbound_at < WINDOW
                  and not (who.platform_error or "").startswith(str(OUTSIDE_WINDOW)))
        if not inside:
            return await self._send_template(delivery, who)
        try:
            wamid = await self._send_parts(delivery, render(delivery.message, who.lang))
        except GraphError as exc:
            if exc.code == OUTSIDE_WINDOW:  # our clock and theirs disagree: use the template
                return await self._send_template(delivery, who)
            return await self._failure(exc, delivery)
        except httpx.TransportError as exc:
            return SendResult(ok=False, error=f"network: {type(exc).__name__}")
        return SendResult(ok=True, platform_message_id=wamid)

    async def _send_parts(self, delivery: Delivery, parts: list[Part]) -> str:
        done, wamid = self._accepted_parts.get(delivery.outbox_id, (0, ""))
        for i, part in enumerate(parts):
            if i < done:
                continue
            body = dict(part.body)
            if part.media is not None:
                kind = part.media.kind
                body[kind] = {**body[kind], "id": await self._media_id(part.media)}
            wamid = await self.client.send({"to": delivery.chat_id, **body})
            self._accepted_parts[delivery.outbox_id] = (i + 1, wamid)
        self._accepted_parts.pop(delivery.outbox_id, None)
        self._refusals.pop(delivery.outbox_id, None)
        return wamid

    async def _send_template(self, delivery: Delivery, who: _Recipient) -> SendResult:
        message = delivery.message
        spec = self.templates.find(delivery.notification_type, message.kind)
        if spec is None:
            what = delivery.notification_type or "a reply"
            return SendResult(ok=False, permanent=True, error=(
                f"outside the 24-hour window and no approved template for {what} "
                f"({message.kind}); not sent"))
        try:
            media_id = None
            if spec.header and (message.blob_sha256 or message.qr):
                media_id = await self._media_id(MediaRef(
                    kind=spec.header, blob_sha256=message.blob_sha256, qr=message.qr,
                    filename=message.filename, media_type=message.media_type))
            body = self.templates.build(spec, message, who.lang, media_id)
            wamid = await self.client.send({"to": delivery.chat_id, **body})
        except GraphError as exc:
            if exc.code == OUTSIDE_WINDOW:
                return SendResult(ok=False, permanent=True, error=exc.describe())
            return await self._failure(exc, delivery)
        except httpx.TransportError as exc:
            return SendResult(ok=False, error=f"network: {type(exc).__name__}")
        async with self.sessions() as session, session.begin():
            await session.execute(update(OutboxMessage).where(
                OutboxMessage.id == delivery.outbox_id).values(template_name=spec.name))
        self._accepted_parts.pop(delivery.outbox_id, None)
        self._refusals.pop(delivery.outbox_id, None)
        return SendResult(ok=True, platform_message_id=wamid)

    async def _failure(self, exc: GraphError, delivery: Delivery) -> SendResult:
        result = self._classify(exc, delivery)
        if result.permanent or result.unreachable:  # no retry will come for these parts
            self._accepted_parts.pop(delivery.outbox_id, None)
            self._refusals.pop(delivery.outbox_id, None)
        if exc.code in RATE_LIMITS:
            # A refusal for our pace is no attempt at the message: a long storm must not
            # use up the row's attempts and lose it (the claim counted one; undo it).
            async with self.sessions() as session, session.begin():
                await session.execute(update(OutboxMessage).where(
                    OutboxMessage.id == delivery.outbox_id, OutboxMessage.attempts > 0)
                    .values(attempts=OutboxMessage.attempts - 1))
        return result

    def _classify(self, exc: GraphError, delivery: Delivery) -> SendResult:
        error = exc.describe()
        if exc.code == UNDELIVERABLE:
            return SendResult(ok=False, unreachable=True, error=error)
        if exc.code in RATE_LIMITS:
            refusals = self._refusals.get(delivery.outbox_id, 0) + 1
            self._refusals[delivery.outbox_id] = refusals
            return SendResult(ok=False, retry_after=rate_limit_backoff(refusals), error=error)
        if exc.http_status >= 500 or exc.code in TRANSIENT or exc.http_status == 429:
            return SendResult(ok=False, error=error)  # the dispatcher's backoff
        return SendResult(ok=False, permanent=True, error=error)

    async def _media_id(self, ref: MediaRef) -> str:
        """Upload once per content (ids stay valid for 30 days); streamed from the store."""
        key = f"qr:{ref.qr}" if ref.qr else f"blob:{ref.blob_sha256}"
        cached = self._media_ids.get(key)
        now = self.clock()
        if cached and now - cached[1] < MEDIA_TTL:
            return cached[0]
        if ref.qr:
            data = await asyncio.to_thread(qr_png, ref.qr)
            media_id = await self.client.upload(data, filename="qr.png", media_type="image/png")
        else:
            assert ref.blob_sha256 is not None
            media_type = ref.media_type or ("application/pdf" if ref.kind == "document"
                                            else "image/jpeg")
            fh = await asyncio.to_thread(self.files.open, ref.blob_sha256)
            try:
                media_id = await self.client.upload(
                    fh, filename=ref.filename or ref.blob_sha256[:16], media_type=media_type)
            finally:
                fh.close()
        self._media_ids[key] = (media_id, now)
        return media_id

    async def _recipient(self, outbox_id: int) -> _Recipient:
        async with self.sessions() as session:
            row = (await session.execute(
                select(Applicant.lang, Applicant.last_inbound_at, OutboxMessage.platform_error)
                .join(Applicant, Applicant.id == OutboxMessage.applicant_id)
                .where(OutboxMessage.id == outbox_id))).first()
        if row is None:
            return _Recipient(None, None, None)
        return _Recipient(row[0], row[1], row[2])
