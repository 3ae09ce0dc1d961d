"""The long-running outbox dispatcher of one channel, within the platform's limits.

- a global rate (token bucket: Telegram 30/s, WhatsApp 80/s by default);
- per-chat pacing (one message per `per_chat_interval` to the same chat), and a
  chat's messages go strictly in order;
- a retry-after from the platform delays only that chat, not the others;
- replies of live conversations are claimed before broadcasts (priority order).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.dispatcher import (
    Delivery,
    Sender,
    SendResult,
    claim,
    complete,
    complete_sent,
)
from service import metrics
from storage.models import OutboxMessage

log = logging.getLogger(__name__)


class TokenBucket:
    """`rate` sends per second on average, bursts of at most `burst`."""

    def __init__(self, rate: float, burst: float | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self.tokens = self.capacity
        self._monotonic = monotonic
        self._last = monotonic()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:
            while True:
                now = self._monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
                self._last = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sender: Sender,
        *,
        rate_per_second: float,
        per_chat_interval: float = 1.0,
        batch: int = 200,
        idle_poll: float = 0.2,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.sessions = sessions
        self.sender = sender
        # A small burst (a tenth of a second's worth): even spacing keeps every 1-second
        # window near the platform's limit (a full bucket would allow twice the rate in
        # the first second), while a late wake-up of the event loop is caught up.
        self.bucket = TokenBucket(rate_per_second, burst=max(1.0, rate_per_second / 10))
        self.per_chat_interval = per_chat_interval
        # At most half a second of sending per claim, so a reply queued behind a
        # broadcast waits for the next claim (replies first), not for a long batch.
        self.batch = max(1, min(batch, int(rate_per_second / 2)))
        self.idle_poll = idle_poll
        self.clock = clock
        self._last_sent: dict[str, float] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Tell the loop new rows are waiting (saves a poll interval for live replies)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and send until `stop`. The next batch is claimed while the current one is
        still sending, so the platform's rate is used while the database works; at most
        two batches are out, so a reply waits behind those two at most (a second's worth)."""
        out: deque[asyncio.Task[None]] = deque()
        try:
            while not stop.is_set():
                try:
                    rows = await claim(self.sessions, self.sender.channel, now=self.clock(),
                                       limit=self.batch)
                    metrics.heartbeat(f"dispatcher:{self.sender.channel}")
                except Exception:  # a database hiccup must not end the dispatcher
                    log.exception("dispatcher claim failed; retrying")
                    rows = []
                if rows:
                    out.append(asyncio.create_task(self._send_batch(rows)))
                    if len(out) >= 2:
                        await self._finish(out.popleft())
                    continue
                if out:  # its completion may make a chat's next row due
                    await self._finish(out.popleft())
                    continue
                self._wake.clear()
                waiter = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, stopper}, timeout=self.idle_poll,
                                   return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                stopper.cancel()
        finally:
            while out:
                await self._finish(out.popleft())

    @staticmethod
    async def _finish(task: asyncio.Task[None]) -> None:
        try:
            await task
        except Exception:
            log.exception("dispatcher batch failed; its rows are released when stale")

    async def run_once(self) -> int:
        """Claim one batch and send it; returns how many rows were attempted."""
        rows = await claim(self.sessions, self.sender.channel, now=self.clock(),
                           limit=self.batch)
        if not rows:
            return 0
        await self._send_batch(rows)
        return len(rows)

    async def _send_batch(self, rows: list[OutboxMessage]) -> None:
        by_chat: OrderedDict[str, list[OutboxMessage]] = OrderedDict()
        for row in rows:
            by_chat.setdefault(row.chat_id, []).append(row)
        sent: list[tuple[OutboxMessage, SendResult, datetime]] = []
        try:
            await asyncio.gather(*(self._send_chat(chat, chat_rows, sent)
                                   for chat, chat_rows in by_chat.items()))
        finally:
            # Until this commit the batch's rows stay `sending`: a process killed before
            # it sends them again after `stale_after` (at least once, never lost).
            await complete_sent(self.sessions, sent)

    async def drain(self, *, max_cycles: int = 10_000) -> None:
        """Send until nothing is due (tests and one-shot commands)."""
        for _ in range(max_cycles):
            if await self.run_once() == 0:
                return

    async def _send_chat(self, chat_id: str, rows: list[OutboxMessage],
                         sent: list[tuple[OutboxMessage, SendResult, datetime]]) -> None:
        for i, row in enumerate(rows):
            last = self._last_sent.get(chat_id)
            if last is not None:
                wait = self.per_chat_interval - (time.monotonic() - last)
                if wait > 0:
                    await asyncio.sleep(wait)
            await self.bucket.take()
            try:
                result = await self.sender.send(Delivery.of(row))
            except Exception as exc:  # a sender bug or network error: retry later
                log.warning("send to outbox row %s raised %s", row.id, type(exc).__name__)
                result = SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
            metrics.count_send(self.sender.channel, result)
            self._last_sent[chat_id] = time.monotonic()
            if result.ok:
                sent.append((row, result, self.clock()))
                continue
            await complete(self.sessions, row, result, now=self.clock())
            # Keep the chat's order: what follows waits until this one is through.
            await self._release(rows[i + 1:], result)
            return

    async def _release(self, rows: list[OutboxMessage], result: SendResult) -> None:
        if not rows:
            return
        ids = [r.id for r in rows]
        if result.unreachable:
            values: dict[str, object] = {"status": "unreachable", "last_error": result.error}
        else:
            delay = result.retry_after if result.retry_after is not None else 1.0
            values = {"status": "pending",
                      "next_attempt_at": self.clock() + timedelta(seconds=delay)}
        async with self.sessions() as session, session.begin():
            await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                                  .values(**values))
            # Attempts were counted at claim time; these were not attempted.
            await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                                  .values(attempts=OutboxMessage.attempts - 1))
