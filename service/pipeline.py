"""One inbound pipeline for every channel: recorded payloads handled per chat, in the
platform's order, one at a time across any number of processes on one database.

- A chat is worked by the process holding its lease (`inbound_leases`): claimed with
  one upsert that succeeds only when the lease is free, expired or already ours, and
  renewed by a heartbeat while held. A process that dies loses its chats within
  `lease_seconds`; the others' sweep takes them over.
- The worker always takes the chat's first pending row in (`seq`, `id`) order, and
  `Runtime.handle` marks it handled in the conversation's own transaction with
  `WHERE status = 'pending'`: even two processes on one chat (a lease lost to a stall)
  never handle a row twice nor run a later row before an earlier one. A process that
  finds a chat held looks again when that lease would expire.
- Transient failures (database unreachable, connection reset, serialization failure,
  timeouts) are retried with backoff, forever; any other error is retried
  `max_attempts` times, then the row becomes a dead letter (`failed` + `error`) and
  the chat goes on with its next row.
- Wake-ups, not polling: a payload recorded in this process wakes its chat at once;
  on PostgreSQL other processes hear of it through LISTEN/NOTIFY. A sweep every
  `sweep_every` seconds (and on every (re)connection of the listener) finds what a
  notification missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Table, bindparam, delete, exists, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from conversations.types import InboundEvent
from service import metrics
from service.inbound import INBOUND_NOTIFY, ChatBusy, Runtime
from storage.filestore import StoredBlob
from storage.listen import listen
from storage.models import InboundLease, InboundMessage, InboundStatus

log = logging.getLogger(__name__)

T = TypeVar("T")


class Unhandleable(Exception):
    """The payload can never be handled: it becomes a dead letter with this reason."""


@dataclass(frozen=True)
class Recorded:
    """A recorded payload, as a channel adapter sees it."""

    id: int
    platform_id: str
    chat_key: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """What the conversation runs for one payload."""

    external_id: str
    event: InboundEvent
    display_name: str | None = None
    blob: StoredBlob | None = None
    sent_at: datetime | None = None  # by the platform's clock (WhatsApp's 24-hour window)


class ChannelAdapter(Protocol):
    """The channel-specific part: a recorded payload -> a turn (media downloaded)."""

    channel: str

    async def prepare(self, row: Recorded) -> Turn | None:
        """The turn to run, or None when the payload needs none (it is marked handled).
        Raises `Unhandleable` for a payload that can never be handled."""
        ...


def is_transient(exc: BaseException) -> bool:
    """Errors that go away by themselves: retried without counting an attempt."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError | TimeoutError | asyncio.TimeoutError
                      | sa_exc.TimeoutError):
            return True
        if isinstance(seen, sa_exc.DBAPIError):
            if seen.connection_invalidated:
                return True
            code = str(getattr(seen.orig, "sqlstate", None) or getattr(seen.orig, "pgcode", "")
                       or "")
            # 08 connection, 40 serialization/deadlock, 53 resources, 57 shutdown.
            if code[:2] in ("08", "40", "53", "57"):
                return True
            if isinstance(seen, sa_exc.OperationalError | sa_exc.InterfaceError):
                return True
        name = type(seen).__name__
        if name in ("ConnectionDoesNotExistError", "InterfaceError",
                    "CannotConnectNowError", "PostgresConnectionError"):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _wall() -> datetime:
    # Leases and backoff use the real time (tests move the runtime's clock by hand).
    return datetime.now(UTC)


class InboundPipeline:
    def __init__(self, runtime: Runtime, adapter: ChannelAdapter, *,
                 lease_seconds: float = 5.0, sweep_every: float = 10.0,
                 listen_sweep_every: float = 30.0,
                 max_attempts: int = 3, retry_base: float = 0.2, retry_max: float = 5.0,
                 max_chats: int = 64, listen_url: str | None = None) -> None:
        self.runtime = runtime
        self.adapter = adapter
        self.channel = adapter.channel
        self.lease = timedelta(seconds=lease_seconds)
        self.sweep_every = sweep_every
        # With LISTEN every new row notifies, and each (re)connect sweeps for what was
        # missed while deaf: the regular sweep is only a safety net then.
        self.listen_sweep_every = max(sweep_every, listen_sweep_every)
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.listen_url = listen_url
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.handled = 0
        self.dead = 0
        self._limit = asyncio.Semaphore(max_chats)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._woken: set[str] = set()
        self._sweep = True
        self._next_sweep: float | None = None  # loop time a held lease expires
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._postgres = runtime.sessions.kw["bind"].dialect.name == "postgresql"
        self._listening = False  # LISTEN is up: NOTIFY reports this process's rows too
        runtime.add_inbound_listener(self._recorded_here)

    # ---- wake-ups ----
    def _recorded(self, channel: str, chat_key: str) -> None:
        if channel == self.channel:
            self.wake(chat_key)

    def _recorded_here(self, channel: str, chat_key: str) -> None:
        # While LISTEN is up the NOTIFY of the same row follows at once: one wake per
        # row, not two (the second would claim the chat again to find it empty).
        if not self._listening:
            self._recorded(channel, chat_key)

    def _notified(self, payload: str) -> None:
        channel, _, chat_key = payload.partition(" ")
        self._recorded(channel, chat_key)

    def _listen_up(self) -> None:
        self._listening = True
        self.wake()  # sweep for what was recorded while deaf

    def _listen_lost(self) -> None:
        self._listening = False

    def wake(self, chat_key: str | None = None) -> None:
        """Work this chat now (None: sweep the table)."""
        if chat_key is None:
            self._sweep = True
        else:
            self._woken.add(chat_key)
        self._wake.set()

    # ---- running ----
    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: work woken chats, sweep now and then, renew held leases."""
        self._stop = stop
        helpers = [asyncio.create_task(self._heartbeat(stop))]
        if self._postgres and self.listen_url:
            helpers.append(asyncio.create_task(listen(
                self.listen_url, INBOUND_NOTIFY, self._notified, self._listen_up, stop,
                on_lost=self._listen_lost)))
        stopper = asyncio.create_task(stop.wait())
        stopper.add_done_callback(lambda _: self._wake.set())
        loop = asyncio.get_running_loop()
        regular = loop.time()
        every = (self.listen_sweep_every if self._postgres and self.listen_url
                 else self.sweep_every)
        try:
            while not stop.is_set():
                # At least once per sweep: readiness reads it as this loop's pulse.
                metrics.heartbeat(f"inbound:{self.channel}")
                self._wake.clear()
                now = loop.time()
                due = self._next_sweep is not None and now >= self._next_sweep
                if self._sweep or due or now >= regular:
                    self._sweep = False
                    self._next_sweep = None
                    regular = now + every
                    try:
                        self._woken |= set(await self._due_chats())
                    except Exception as exc:  # the database may be away
                        log.warning("inbound sweep failed (%s); retrying",
                                    type(exc).__name__)
                        regular = loop.time() + min(self.sweep_every, 1.0)
                woken, self._woken = self._woken, set()
                for key in woken:
                    self._start(key)
                until = min(regular, self._next_sweep or regular)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, until - loop.time()))
        finally:
            stopper.cancel()
            self.runtime.remove_inbound_listener(self._recorded_here)
            await self.idle()
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def drain(self) -> None:
        """Handle everything pending now, in this process (tests, one-shot commands)."""
        for _ in range(1000):
            keys = await self._due_chats()
            if not keys and not self._tasks:
                return
            for key in keys:
                self._start(key)
            await self.idle()

    async def idle(self) -> None:
        """Wait for every running chat task."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def _start(self, key: str) -> None:
        if key in self._tasks:
            self._again.add(key)  # it re-checks the table before it ends
            return
        task = asyncio.create_task(self._chat(key))
        self._tasks[key] = task
        task.add_done_callback(lambda t, k=key: self._done(k, t))  # type: ignore[misc]

    def _done(self, key: str, task: asyncio.Task[None]) -> None:
        self._tasks.pop(key, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("inbound chat task ended", exc_info=task.exception())
            self._sweep = True  # never silently: the sweep picks the chat up again
            self._wake.set()
        if key in self._again:
            self._again.discard(key)
            if not self._stop.is_set():
                self._start(key)

    # ---- one chat ----
    async def _chat(self, key: str) -> None:
        async with self._limit:
            while not self._stop.is_set():
                self._again.discard(key)
                try:
                    more = await self._work(key)
                except BaseException:
                    with contextlib.suppress(Exception):  # else it expires
                        await self._release_and_check(key)
                    raise
                # Released, then looked again (in the same transaction): a row recorded
                # while the lease was still held (its process's claim failed) is not
                # left behind.
                if not more or self._stop.is_set():
                    return

    async def _work(self, key: str) -> bool:
        """Claim the chat and handle its rows in order, then release it; True when rows
        came after the release (work it again). False also when it was not claimed."""
        failures = 0
        claim = True
        while not self._stop.is_set():
            found = await self._retrying(partial(self._first_pending, key, claim))
            if found is None:
                return False  # the lease is another's (or was lost)
            claim = False
            if isinstance(found, bool):
                return found  # nothing pending: released in that transaction
            row, not_before, attempts = found
            wait = (not_before - _wall()).total_seconds() if not_before else 0.0
            if wait > 0:  # a reorder window or a backoff: an earlier row may still come
                await self._pause(min(wait, 0.25))
                continue
            try:
                await self._handle(row)
                failures = 0
            except Exception as exc:
                if is_transient(exc):
                    failures += 1
                    log.warning("inbound %s: %s; retrying", row.id, type(exc).__name__)
                    await self._pause(self._backoff(failures))
                    continue
                await self._retrying(partial(self._failed, row, attempts + 1, exc))
        return await self._retrying(partial(self._release_and_check, key))

    async def handle_now(self, platform_id: str, turn: Turn) -> bool:
        """Run a turn in the caller's own request (the webhook's) when its chat is free,
        in one transaction: the platform id recorded as handled, the chat locked and
        found free (no worker's lease, no pending row), the turn run. Four transactions
        fewer than recording the payload for a worker. False when the chat is being
        worked or has rows waiting (nothing was written): record the payload then, and
        it is handled in order."""
        key = f"{self.channel}:{turn.external_id}"
        if key in self._tasks:
            return False
        try:
            await self.runtime.handle(
                channel=self.channel, external_id=turn.external_id, platform_id=platform_id,
                event=turn.event, display_name=turn.display_name, blob=turn.blob,
                sent_at=turn.sent_at, only_if_free=True)
        except ChatBusy:
            return False
        self.handled += 1
        return True

    async def _handle(self, row: Recorded) -> None:
        try:
            turn = await self.adapter.prepare(row)
        except Unhandleable as exc:
            await self._retrying(partial(self.runtime.mark_failed, row.id, str(exc)))
            self.dead += 1
            return
        if turn is None:
            await self.runtime.mark_done(row.id)
        else:
            await self.runtime.handle(
                channel=self.channel, external_id=turn.external_id,
                platform_id=row.platform_id, event=turn.event,
                display_name=turn.display_name, blob=turn.blob, pending_id=row.id,
                sent_at=turn.sent_at)
        self.handled += 1

    async def _failed(self, row: Recorded, attempts: int, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        if attempts >= self.max_attempts:
            log.error("inbound %s is a dead letter after %d attempts: %s", row.id,
                      attempts, type(exc).__name__, exc_info=exc)
            await self.runtime.mark_failed(row.id, reason)
            self.dead += 1
            return
        log.warning("inbound %s failed (%s); attempt %d of %d", row.id,
                    type(exc).__name__, attempts, self.max_attempts)
        async with self.runtime.sessions() as session, session.begin():
            await session.execute(
                update(InboundMessage).where(InboundMessage.id == row.id,
                                             InboundMessage.status == InboundStatus.PENDING)
                .values(attempts=attempts, error=reason[:2000],
                        not_before=_wall() + timedelta(seconds=self._backoff(attempts))))

    def _backoff(self, n: int) -> float:
        return float(min(self.retry_max, self.retry_base * 2 ** max(0, n - 1)))

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _retrying(self, op: Callable[[], Awaitable[T]]) -> T:
        """Run a bookkeeping step until it works (the database may be away a while)."""
        failures = 0
        while True:
            try:
                return await op()
            except Exception as exc:
                failures += 1
                level = logging.WARNING if is_transient(exc) else logging.ERROR
                log.log(level, "inbound bookkeeping failed (%s); retrying",
                        type(exc).__name__, exc_info=level == logging.ERROR)
                if self._stop.is_set() and failures > 3:
                    raise
                await asyncio.sleep(self._backoff(failures))

    # ---- the table ----
    async def _release_and_check(self, key: str) -> bool:
        """Give the chat up; True when it still has pending rows."""
        async with self.runtime.sessions() as session, session.begin():
            await session.execute(_RELEASE, {"v_key": key, "v_owner": self.owner})
            return bool(await session.scalar(_HAS_PENDING, {"v_key": key}))

    async def _first_pending(self, key: str, claim: bool
                             ) -> tuple[Recorded, datetime | None, int] | bool | None:
        """Claim (or renew) the chat's lease and read its first pending row, in one
        transaction. None: the lease is another's. With no pending row the lease is
        released in the same transaction, then the chat looked at once more: a bool,
        whether rows came meanwhile."""
        now = _wall()
        async with self.runtime.sessions() as session, session.begin():
            conn = await session.connection()
            params = {"v_key": key, "v_owner": self.owner, "v_expires": now + self.lease,
                      "v_now": now}
            if claim:
                ours = (await conn.execute(_CLAIM[self._postgres], params)).first() is not None
            else:
                ours = (await conn.execute(_RENEW_ONE, params)).rowcount > 0
            if not ours:
                held = await conn.scalar(_LEASE_EXPIRY, {"v_key": key})
                if held is not None:
                    self._recheck_at(held)  # taken over then if its owner has died
                return None
            found = (await conn.execute(_FIRST_PENDING, {"v_key": key})).first()
            if found is None:
                await conn.execute(_RELEASE, {"v_key": key, "v_owner": self.owner})
                return bool(await conn.scalar(_HAS_PENDING, {"v_key": key}))
        payload = found.payload if isinstance(found.payload, dict) else {}
        return (Recorded(found.id, found.platform_id, key, payload), found.not_before,
                found.attempts)

    async def _due_chats(self) -> list[str]:
        """Chats with pending rows nobody live works; a chat another process holds is
        looked at again the moment its lease would expire (a dead owner's chats are
        taken over then, not at the next sweep)."""
        now = _wall()
        async with self.runtime.sessions() as session:
            rows = (await session.execute(_PENDING_CHATS, {"v_channel": self.channel})).all()
        due = []
        for key, owner, expires_at in rows:
            if owner is None or owner == self.owner or expires_at < now:
                if key not in self._tasks:
                    due.append(key)
            else:
                self._recheck_at(expires_at)
        return due

    def _recheck_at(self, when: datetime) -> None:
        at = asyncio.get_running_loop().time() + (when - _wall()).total_seconds() + 0.05
        if self._next_sweep is None or at < self._next_sweep:
            self._next_sweep = at
            self._wake.set()

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        """Renew the leases of chats being worked, a few times per lease."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.lease.total_seconds() / 3)
            if not self._tasks:
                continue
            try:
                async with self.runtime.sessions() as session, session.begin():
                    await session.execute(_RENEW_ALL, {"v_owner": self.owner,
                                                       "v_expires": _wall() + self.lease})
            except Exception as exc:  # the leases then expire, by design
                log.warning("renewing inbound leases failed (%s)", type(exc).__name__)


# Prebuilt statements.
_leases = cast(Table, InboundLease.__table__)
_inbound = cast(Table, InboundMessage.__table__)
_CLAIM = tuple(
    (lambda ins: ins.on_conflict_do_update(
        index_elements=["chat_key"],
        set_={"owner": ins.excluded.owner, "expires_at": ins.excluded.expires_at},
        where=(_leases.c.owner == ins.excluded.owner)
        | (_leases.c.expires_at < bindparam("v_now")),
    ).returning(_leases.c.chat_key))(
        insert_(_leases).values(chat_key=bindparam("v_key"), owner=bindparam("v_owner"),
                                expires_at=bindparam("v_expires")))
    for insert_ in (sqlite_insert, pg_insert)  # indexed by "is PostgreSQL"
)
_LEASE_EXPIRY = select(_leases.c.expires_at).where(_leases.c.chat_key == bindparam("v_key"))
_RELEASE = delete(_leases).where(_leases.c.chat_key == bindparam("v_key"),
                                 _leases.c.owner == bindparam("v_owner"))
_RENEW_ONE = (update(_leases).where(_leases.c.chat_key == bindparam("v_key"),
                                    _leases.c.owner == bindparam("v_owner"))
              .values(expires_at=bindparam("v_expires")))
_RENEW_ALL = (update(_leases).where(_leases.c.owner == bindparam("v_owner"))
              .values(expires_at=bindparam("v_expires")))
_PENDING = _inbound.c.status == InboundStatus.PENDING
_HAS_PENDING = select(exists().where(_inbound.c.chat_key == bindparam("v_key"), _PENDING))
_FIRST_PENDING = (
    select(_inbound.c.id, _inbound.c.platform_id, _inbound.c.payload, _inbound.c.not_before,
           _inbound.c.attempts)
    .where(_inbound.c.chat_key == bindparam("v_key"), _PENDING)
    .order_by(_inbound.c.seq, _inbound.c.id).limit(1)
)
# Chats with pending rows, and who holds each (if anyone).
_PENDING_CHATS = (
    select(_inbound.c.chat_key, _leases.c.owner, _leases.c.expires_at).distinct()
    .select_from(_inbound.outerjoin(_leases, _leases.c.chat_key == _inbound.c.chat_key))
    .where(_inbound.c.channel == bindparam("v_channel"), _PENDING)
    .limit(1000)
)
