"""The long-running outbox dispatcher of one channel, within the platform's limits.

- a global rate (token bucket: Telegram 30/s, WhatsApp 80/s by default);
- per-chat pacing (one message per `per_chat_interval` to the same chat), and a
  chat's messages go strictly in order;
- a retry-after from the platform delays only that chat, not the others;
- replies of live conversations are claimed before broadcasts (priority order);
- on PostgreSQL one process per channel sends (notifications/leader.py), so the rate
  and the pacing hold for the token or number whatever the number of processes;
- claims are leases, renewed every `renew_every` s while held; nothing is sent on a
  lease that may have lapsed; results the database could not take are kept and written
  when it is back (before anything new is claimed), so no row waits behind a stale claim;
- no polling: it sleeps until a row is written (in-process signal; NOTIFY on
  PostgreSQL), the next retry is due, or a slow safety sweep (`idle_poll`; `listen_poll`
  while the sender's LISTEN connection is up, since then every new row notifies).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from notifications.dispatcher import (
    Claimed,
    Delivery,
    Sender,
    SendResult,
    claim,
    complete,
    complete_sent,
    lock_key,
    new_owner,
    next_due,
    release,
    renew,
)
from notifications.leader import Leadership, asyncpg_dsn
from service import metrics
from service.outbox import DirectClaim, written

log = logging.getLogger(__name__)

_RENEW_SQL = ("UPDATE outbox SET lease_until = $1 WHERE id = ANY($2::bigint[]) "
              "AND claimed_by = $3 AND status = 'sending'")


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


_Write = Callable[[], Awaitable[None]]


@dataclass
class _Result:
    """A result to write: a success (written together with the successes queued next to
    it: one executemany, one commit) or another statement (failure, release)."""

    rows: list[Claimed]
    write: _Write | None = None
    sent: tuple[SendResult, datetime] | None = None


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sender: Sender,
        *,
        rate_per_second: float,
        per_chat_interval: float = 1.0,
        batch: int = 200,
        idle_poll: float = 5.0,
        listen_poll: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease: float = 5.0,
        renew_every: float = 1.0,
        elect: bool | None = None,
    ) -> None:
        self.sessions = sessions
        self.sender = sender
        self.channel = sender.channel
        # A small burst (a tenth of a second's worth): even spacing keeps every 1-second
        # window near the platform's limit (a full bucket would allow twice the rate in
        # the first second), while a late wake-up of the event loop is caught up.
        self.bucket = TokenBucket(rate_per_second, burst=max(1.0, rate_per_second / 10))
        self.per_chat_interval = per_chat_interval
        # At most half a second of sending per claim, so a reply queued behind a
        # broadcast waits for the next claim (replies first), not for a long batch.
        self.batch = max(1, min(batch, int(rate_per_second / 2)))
        self.idle_poll = idle_poll  # the safety sweep when nothing wakes it
        self.listen_poll = max(idle_poll, listen_poll)  # ... when NOTIFY wakes it
        self.clock = clock
        self.lease = timedelta(seconds=lease)
        self.renew_every = renew_every
        # Sends stop this long before a lease could lapse (a late renewal, a slow loop).
        self._margin = min(1.5, lease / 3)
        # A new sending process waits this long first: the previous one's last sends
        # leave the platform's per-chat and per-second windows.
        self.handover = max(1.0, per_chat_interval)
        self.owner = new_owner()
        engine = sessions.kw.get("bind")
        pg = isinstance(engine, AsyncEngine) and engine.dialect.name == "postgresql"
        self._dsn = (asyncpg_dsn(engine.url.render_as_string(hide_password=False))
                     if pg and elect is not False and isinstance(engine, AsyncEngine)
                     else None)
        self._leader: Leadership | None = None
        self._last_sent: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._held: dict[int, Claimed] = {}  # claimed, result not yet written
        self._valid_until = 0.0  # monotonic: our leases certainly hold until then
        self._records: deque[_Result] = deque()
        self._settling = asyncio.Lock()
        self.record_every = 0.05
        self._recorder: asyncio.Task[None] | None = None
        self._lock_seen = 0.0  # monotonic: the lock's connection last answered
        self._due_unknown = True  # whether to ask the database for the next due time
        self._due_at: datetime | None = None
        self._serving = False  # claiming and sending now: replies may be written ours
        self._wakes = 0  # wake-ups so far (did one come while adopted replies went out?)
        self._direct: set[asyncio.Task[None]] = set()  # sending adopted replies
        # A chat's sends, one at a time in this process: a claimed batch's and adopted
        # replies' (the claim alone keeps order only among claimed rows).
        self._chat_turns: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())

    def wake(self) -> None:
        """Tell the loop new rows are waiting."""
        self._poke()

    def _poke(self) -> None:
        self._wakes += 1
        self._wake.set()

    # ---- replies written claimed (service/outbox.py DirectClaim) ----
    def offer(self) -> DirectClaim | None:
        """While this dispatcher sends, a turn may write its replies claimed by it."""
        if not self._serving or not self._active():
            return None
        sent = tuple(r.rows[0].id for r in self._records if r.sent is not None)
        return DirectClaim(self.owner, self.lease, sent, time.monotonic(), self._wakes)

    def adopt(self, claim: DirectClaim, rows: Sequence[Claimed]) -> None:
        """Send replies a committed turn wrote under `claim`, as if claimed here: held and
        renewed, their results written like any other's. A dispatcher that stopped
        meanwhile gives them back (due now, for whoever sends next)."""
        rows = list(rows)
        if not self._serving:
            task = asyncio.create_task(self._record(rows, functools.partial(
                release, self.sessions, rows, at=self.clock())))
        else:
            valid = claim.offered_at + self.lease.total_seconds() - self._margin
            self._valid_until = min(self._valid_until, valid) if self._held else valid
            for row in rows:
                self._held[row.id] = row
            task = asyncio.create_task(self._send_adopted(rows, claim.mark))
        self._direct.add(task)
        task.add_done_callback(self._direct.discard)

    async def _send_adopted(self, rows: list[Claimed], mark: int) -> None:
        await self._send_batch(rows)
        if self._wakes != mark:
            # A claim meanwhile may have found a row of these chats held back by these
            # (a message written elsewhere, behind the replies): claim again, which
            # first writes what was sent, so that row is free now.
            self._wake.set()

    def _written(self) -> None:
        # While the lock's connection LISTENs, the trigger's NOTIFY reports the same
        # write a moment later: one wake per write, not two (each would cost a claim).
        if self._leader is None:
            self._poke()

    def _notified(self, channel: str) -> None:
        if channel == self.channel:
            self._poke()

    # ---- running ----
    async def run(self, stop: asyncio.Event) -> None:
        """Claim and send until `stop`; on PostgreSQL only while this process holds the
        channel's sender lock (waiting for it otherwise)."""
        unsubscribe = written.subscribe(self._written)
        try:
            if self._dsn is None:
                await self._serve(stop)
            else:
                await self._run_elected(stop, self._dsn)
        finally:
            unsubscribe()
            if self._recorder is not None:
                self._recorder.cancel()
            with contextlib.suppress(Exception):
                await self._settle()

    async def _run_elected(self, stop: asyncio.Event, dsn: str) -> None:
        failures = 0
        while not stop.is_set():
            self._beat()
            leader = Leadership(dsn, lock_key(f"send:{self.channel}"),
                                on_notify=self._notified, on_waiting=self._beat)
            try:
                await self._settle()  # what an earlier term sent is written first
                if not await leader.acquire(stop):
                    return
                log.info("outbox %s: this process sends (%s)", self.channel, self.owner)
                self._leader = leader
                await _sleep(stop, self.handover)
                await self._serve(stop)
                if not leader.lost.is_set():
                    return
                raise ConnectionError("the sender lock's connection was lost")
            except Exception as exc:  # the database away (raw or wrapped by SQLAlchemy)
                failures += 1
                wait = min(0.25 * 2 ** failures, 5.0)
                log.warning("outbox %s: database unavailable (%s: %s); retrying in %.1f s",
                            self.channel, type(exc).__name__, exc, wait)
                await _sleep(stop, wait)
            else:
                failures = 0
            finally:
                self._leader = None
                await leader.close()

    def _beat(self) -> None:
        """The loop is alive (also while another process holds the sender lock)."""
        metrics.heartbeat(f"dispatcher:{self.channel}")

    def _active(self) -> bool:
        return self._leader is None or not self._leader.lost.is_set()

    def _sweep_every(self) -> float:
        return self.idle_poll if self._leader is None else self.listen_poll

    async def _check_lock(self) -> None:
        """After a quiet spell (no renewal for `idle_poll`), prove the lock's connection
        still answers before claiming: a silently dropped one would otherwise be noticed
        only at the next idle heartbeat, while another process may hold the lock."""
        if self._leader is not None and time.monotonic() - self._lock_seen > self.idle_poll:
            await self._leader.execute("SELECT 1")
            self._lock_seen = time.monotonic()

    def _may_send(self) -> bool:
        return self._active() and time.monotonic() < self._valid_until

    async def _serve(self, stop: asyncio.Event) -> None:
        """Claim and send while active. A claim runs only when it can find something: a
        row was written (wake), a full batch suggests more is due, a batch finished after
        a claim ran while it was out (a chat's next row waits for its earlier one), or a
        known time came (retry, quiet hours, another's lease). The next batch is claimed
        while the current one is still sending, so the platform's rate is used while the
        database works; at most two batches are out, so a reply waits behind those two
        at most (a second's worth)."""
        out: deque[asyncio.Task[None]] = deque()
        renewing = asyncio.create_task(self._renew_forever())
        failures = 0
        need_claim = True
        # A claim ran while a batch was out: a chat's later rows were held back by that
        # batch's (in flight), so claim again when it ends.
        behind = False
        self._due_unknown = True  # ask the database when something becomes due
        self._serving = True
        try:
            while not stop.is_set() and self._active():
                if need_claim or self._wake.is_set():
                    behind = behind or bool(out)
                    self._wake.clear()  # before the claim: a row written during it wakes us
                    try:
                        await self._check_lock()
                        rows = await self._claim()
                        self._beat()
                    except Exception as exc:  # the database is away: back off, keep the loop
                        failures += 1
                        wait = min(0.1 * 2 ** failures, 5.0)
                        log.warning("outbox %s: claim failed (%s); retrying in %.1f s",
                                    self.channel, type(exc).__name__, wait)
                        self._beat()
                        await _sleep(stop, wait)
                        need_claim = True
                        continue
                    failures = 0
                    need_claim = len(rows) >= self.batch
                    if rows:
                        out.append(asyncio.create_task(self._send_batch(rows)))
                        if len(out) >= 2:
                            await self._finish(out.popleft())
                            need_claim, behind = need_claim or behind, False
                        continue
                if out:  # wait for a write or for the oldest batch to finish
                    await self._idle(stop, None, out[0])
                    if out[0].done():
                        await self._finish(out.popleft())
                        need_claim, behind = need_claim or behind, False
                    continue
                await self._idle(stop, await self._idle_for())
                if not self._wake.is_set():  # a due time or the sweep: claim, ask again
                    self._due_at, self._due_unknown = None, True
                need_claim = True
        finally:
            self._serving = False
            while out:
                await self._finish(out.popleft())
            while self._direct:
                await self._finish(self._direct.pop())
            await self._keep(None)  # what was sent is recorded before the loop ends
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _claim(self) -> list[Claimed]:
        """Claim, after writing the kept results: successes in the claim's own
        transaction when nothing else is kept before them (the common case)."""
        started = time.monotonic()
        holds: list[datetime] = []
        async with self._settling:
            if any(r.sent is None for r in self._records):
                await self._settle_locked()
            done = _leading_successes(self._records)
            rows = await claim(self.sessions, self.channel, now=self.clock(),
                               limit=self.batch, owner=self.owner, lease=self.lease,
                               holds=holds, sent=done)
            self._written_results(len(done))
        if holds:  # rows put back for quiet hours: due again when those end
            self._later(min(holds))
        if rows:
            valid = started + self.lease.total_seconds() - self._margin
            self._valid_until = min(self._valid_until, valid) if self._held else valid
            for row in rows:
                self._held[row.id] = row
        return rows

    async def _idle_for(self) -> float:
        """Until the next known due time or the safety sweep. The database is asked only
        when it may know a time this process does not: at start, after a failure or a
        quiet-hours hold wrote a later time, and at each sweep (rows are always written
        due now, so a wake covers them)."""
        sweep = self._sweep_every()
        if self._due_unknown:
            try:
                due = await next_due(self.sessions, self.channel, now=self.clock(),
                                     owner=self.owner)
            except Exception:  # the next claim reports it
                return 1.0
            self._due_unknown = False
            self._due_at = due
        if self._due_at is None:
            return sweep
        return min(sweep, max(0.05, (self._due_at - self.clock()).total_seconds()))

    def _later(self, at: datetime) -> None:
        """A row of ours becomes due at `at` (a retry, a hold): wake for it."""
        if self._due_at is None or at < self._due_at:
            self._due_at = at

    async def _idle(self, stop: asyncio.Event, seconds: float | None,
                    batch: asyncio.Task[None] | None = None) -> None:
        """Wait for a wake, `stop`, a lost lock, `batch` ending or `seconds`; the wake
        flag is left set (the caller clears it before its claim)."""
        self._beat()
        if self._wake.is_set():
            return
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._wake.wait()),
                                            asyncio.ensure_future(stop.wait())]
        if self._leader is not None:
            waits.append(asyncio.ensure_future(self._leader.lost.wait()))
        mine = list(waits)
        if batch is not None:
            waits.append(batch)
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for w in mine:
            w.cancel()

    async def _renew_forever(self) -> None:
        """Renew the held leases every `renew_every` s (on PostgreSQL on the lock's
        connection: it also proves the lock is still ours); a heartbeat when idle."""
        beat = time.monotonic()
        while True:
            await asyncio.sleep(self.renew_every)
            ids = list(self._held)
            if not ids and time.monotonic() - beat < self._sweep_every():
                continue
            started = beat = time.monotonic()
            until = self.clock() + self.lease
            try:
                if self._leader is not None:
                    await self._leader.execute(_RENEW_SQL, until, ids, self.owner)
                    self._lock_seen = time.monotonic()
                elif ids:
                    await renew(self.sessions, ids, owner=self.owner, until=until)
            except Exception as exc:  # sends stop when the lease may lapse
                log.warning("outbox %s: renewing leases failed (%s)", self.channel,
                            type(exc).__name__)
                continue
            if self._held:
                self._valid_until = started + self.lease.total_seconds() - self._margin

    @staticmethod
    async def _finish(task: asyncio.Task[None]) -> None:
        try:
            await task
        except Exception:
            log.exception("dispatcher batch failed; its rows are claimed again when their "
                          "leases expire")

    # ---- one-shot ----
    async def run_once(self) -> int:
        """Claim one batch and send it; returns how many rows were attempted."""
        await self._settle()
        rows = await self._claim()
        if not rows:
            return 0
        await self._send_batch(rows)
        await self._keep(None)
        return len(rows)

    async def drain(self, *, max_cycles: int = 10_000) -> None:
        """Send until nothing is due (tests and one-shot commands)."""
        for _ in range(max_cycles):
            if await self.run_once() == 0:
                return

    # ---- sending ----
    async def _send_batch(self, rows: list[Claimed]) -> None:
        by_chat: OrderedDict[str, list[Claimed]] = OrderedDict()
        for row in rows:
            by_chat.setdefault(row.chat_id, []).append(row)
        # The successes are written by the next claim (its transaction) or within
        # `record_every`, whichever comes first; failures were written as they came.
        await asyncio.gather(*(self._send_chat(chat, chat_rows)
                               for chat, chat_rows in by_chat.items()))

    async def _send_chat(self, chat_id: str, rows: list[Claimed]) -> None:
        turn = self._chat_turns.get(chat_id)
        if turn is None:
            turn = self._chat_turns[chat_id] = asyncio.Lock()
        async with turn:
            await self._send_chat_rows(chat_id, rows)

    async def _send_chat_rows(self, chat_id: str, rows: list[Claimed]) -> None:
        for i, row in enumerate(rows):
            last = self._last_sent.get(chat_id)
            if last is not None:
                wait = self.per_chat_interval - (time.monotonic() - last)
                if wait > 0:
                    await asyncio.sleep(wait)
            await self.bucket.take()
            if not self._may_send():  # the lease may have lapsed: another may send these
                self._due_unknown = True
                rest = rows[i:]
                await self._record(rest, functools.partial(
                    release, self.sessions, rest, at=self.clock()))
                return
            try:
                result = await self.sender.send(Delivery.of(row))
            except Exception as exc:  # a sender bug or network error: retry later
                log.warning("send to outbox row %s raised %s", row.id, type(exc).__name__)
                result = SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
            metrics.count_send(self.sender.channel, result)
            self._last_sent[chat_id] = time.monotonic()
            if result.ok:
                # Written within `record_every` (with the other successes of that
                # moment: one commit), so a kill leaves unrecorded only what was on
                # the wire or about to be committed.
                self._records.append(_Result([row], sent=(result, self.clock())))
                self._record_soon()
                continue
            now = self.clock()
            self._due_unknown = True  # a retry time was written: the idle wait asks
            await self._record([row], functools.partial(
                complete, self.sessions, row, result, now=now))
            # Keep the chat's order: what follows waits until this one is through.
            rest = rows[i + 1:]
            delay = result.retry_after if result.retry_after is not None else 1.0
            await self._record(rest, functools.partial(
                release, self.sessions, rest, at=now + timedelta(seconds=delay),
                unreachable=result if result.unreachable else None))
            return

    # ---- writing results ----
    async def _record(self, rows: Sequence[Claimed], write: _Write) -> None:
        if rows:
            await self._keep(_Result(list(rows), write=write))

    def _record_soon(self) -> None:
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_later())

    async def _record_later(self) -> None:
        await asyncio.sleep(self.record_every)
        await self._keep(None)

    async def _keep(self, result: _Result | None) -> None:
        """Write a result (and any kept before it) now if the database takes it, else keep
        it for `_settle` (the rows stay leased to us meanwhile)."""
        if result is not None:
            self._records.append(result)
        try:
            await self._settle()
        except Exception as exc:  # kept; written when the database is back
            log.warning("outbox %s: recording results failed (%s); %d kept for later",
                        self.channel, type(exc).__name__, len(self._records))

    async def _settle(self) -> None:
        """Write the kept results, oldest first; raises while the database is away."""
        async with self._settling:
            await self._settle_locked()

    async def _settle_locked(self) -> None:
        while self._records:
            first = self._records[0]
            if first.sent is None:
                assert first.write is not None
                await first.write()
                self._written_results(1)
            else:  # the successes queued in a row: one statement, one commit
                done = _leading_successes(self._records)
                await complete_sent(self.sessions, done)
                self._written_results(len(done))

    def _written_results(self, count: int) -> None:
        """The oldest `count` kept results are in the database: forget them."""
        for _ in range(count):
            for row in self._records.popleft().rows:
                self._held.pop(row.id, None)


def _leading_successes(records: Iterable[_Result]
                       ) -> list[tuple[Claimed, SendResult, datetime]]:
    """The successes at the head of the kept results, as `complete_sent` takes them."""
    return [(r.rows[0], *r.sent) for r in itertools.takewhile(
        lambda r: r.sent is not None, records) if r.sent is not None]


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
