"""Handles recorded updates: one chat's updates in order, different chats in parallel.

Webhook and polling both record an update (`Runtime.record_pending`) and then `submit`
it here; the worker also sweeps the table for pending rows (at start: those left by a
process that stopped; then every `idle_poll` seconds) so nothing recorded is missed.
Per chat the updates run one after another in a task of its own; tasks are kept in a
set so they are not garbage-collected while running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, Update
from sqlalchemy import update

from bot.channels.telegram import CHANNEL
from bot.channels.telegram.inbound import Downloader, chat_of, parse
from bot.channels.telegram.render import keyboard, parse_page, split_text
from conversations.types import InboundEvent, OutMessage
from service import metrics
from service.inbound import Runtime
from storage.models import InboundMessage, OutboxMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pending:
    """One recorded update waiting to be handled."""

    id: int
    platform_id: str
    chat_key: str
    update: Update

    @staticmethod
    def of(row: InboundMessage) -> Pending:
        return Pending(row.id, row.platform_id, row.chat_key, parse(row.payload or {}))


class UpdateWorker:
    def __init__(self, runtime: Runtime, bot: Bot, downloader: Downloader, *,
                 on_handled: Callable[[], None] = lambda: None,
                 idle_poll: float = 1.0) -> None:
        self.runtime = runtime
        self.bot = bot
        self.downloader = downloader
        self.on_handled = on_handled
        self.idle_poll = idle_poll
        self._queues: dict[str, deque[Pending]] = {}
        self._queued: set[int] = set()
        # Ids finished lately: a pending() read that started before their commit may
        # still list them, and they must not be queued again.
        self._recent: dict[int, None] = {}  # insertion-ordered, bounded
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.handled = 0

    def wake(self) -> None:
        """Sweep the table for pending rows now."""
        self._wake.set()

    def submit(self, item: Pending) -> None:
        """Queue an update just recorded (no second read of the table)."""
        if item.id in self._queued or item.id in self._recent:
            return
        self._queued.add(item.id)
        queue = self._queues.get(item.chat_key)
        if queue is None:
            queue = self._queues[item.chat_key] = deque()
            task = asyncio.create_task(self._drain(item.chat_key, queue))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        queue.append(item)

    async def run(self, stop: asyncio.Event) -> None:
        # Stopping wakes the loop at once rather than after the idle poll.
        stopper = asyncio.create_task(stop.wait())
        stopper.add_done_callback(lambda _: self._wake.set())
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self.take_pending()
                    metrics.heartbeat("inbound:telegram")
                except Exception:  # a database hiccup must not end the worker
                    log.exception("reading pending telegram updates failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_poll)
        finally:
            stopper.cancel()
            await self.idle()

    async def take_pending(self) -> int:
        """Queue every pending row not queued yet; returns how many were new."""
        rows = await self.runtime.pending(CHANNEL, limit=500)
        new = 0
        for row in rows:
            if row.id in self._queued or row.id in self._recent:
                continue
            new += 1
            try:
                item = Pending.of(row)
            except ValueError as exc:  # not an update we can read: keep it for a person
                await self.runtime.mark_failed(row.id, f"unreadable update: {exc}")
                continue
            self.submit(item)
        return new

    async def idle(self) -> None:
        """Wait for every running chat task (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _drain(self, key: str, queue: deque[Pending]) -> None:
        try:
            while queue:
                row = queue[0]
                try:
                    await self.process(row)
                except Exception as exc:  # one bad update must not block its chat forever
                    log.exception("telegram update %s failed", row.platform_id)
                    await self.runtime.mark_failed(row.id, f"{type(exc).__name__}: {exc}")
                finally:
                    queue.popleft()
                    self._recent[row.id] = None
                    if len(self._recent) > 5000:
                        del self._recent[next(iter(self._recent))]
                    self._queued.discard(row.id)
        finally:
            self._queues.pop(key, None)

    async def process(self, row: Pending) -> None:
        update_ = row.update
        chat_id = chat_of(update_)
        if chat_id is None:
            await self._mark_done(row.id)
            return
        blob = None
        name: str | None = None
        cq = update_.callback_query
        if cq is not None:
            await self._answer(cq)
            page = parse_page(cq.data or "")
            if page is not None:
                await self._turn_page(cq, chat_id, *page)
                await self._mark_done(row.id)
                return
            event = InboundEvent.choose(cq.data or "")
            name = cq.from_user.full_name
        elif update_.message is not None:
            event, blob = await self.downloader.event_of(update_.message)
            sender = update_.message.from_user
            name = sender.full_name if sender else None
        else:  # pragma: no cover - chat_of returned None above
            return
        await self.runtime.handle(channel=CHANNEL, external_id=str(chat_id),
                                  platform_id=row.platform_id, event=event,
                                  display_name=name, blob=blob, pending_id=row.id)
        self.handled += 1
        self.on_handled()

    async def _answer(self, cq: CallbackQuery) -> None:
        # Stops the client's spinner; a late or repeated answer is refused, harmlessly.
        try:
            await self.bot.answer_callback_query(cq.id)
        except TelegramAPIError as exc:
            log.info("answerCallbackQuery: %s", exc.message)

    async def _turn_page(self, cq: CallbackQuery, chat_id: int, outbox_id: int,
                         page: int) -> None:
        """Show another page of a long list: the list is the outbox row's own message."""
        async with self.runtime.sessions() as session:
            row = await session.get(OutboxMessage, outbox_id)
        if row is None or row.channel != CHANNEL or row.chat_id != str(chat_id):
            return
        message = OutMessage.from_payload(row.payload)
        if cq.message is None or not message.choices:
            return
        try:
            await self.bot.edit_message_text(
                chat_id=chat_id, message_id=cq.message.message_id,
                text=split_text(message.text)[-1], parse_mode="HTML",
                reply_markup=keyboard(message.choices, page=page, outbox_id=outbox_id))
        except TelegramAPIError as exc:  # "message is not modified" and the like
            log.info("editMessageText: %s", exc.message)

    async def _mark_done(self, inbound_id: int) -> None:
        async with self.runtime.sessions() as session, session.begin():
            await session.execute(
                update(InboundMessage).where(InboundMessage.id == inbound_id,
                                             InboundMessage.status == "pending")
                .values(status="done", handled_at=self.runtime.clock()))
