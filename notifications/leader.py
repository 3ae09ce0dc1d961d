"""One active sender per channel on PostgreSQL: a session-level advisory lock held on a
dedicated connection, which also LISTENs for new outbox rows and renews the leases.

The lock belongs to the connection's session: when the holder dies (kill -9, a crash,
the host gone) PostgreSQL ends the session and grants the lock to the next process
waiting in `pg_advisory_lock`, at once. A waiting process re-asks every `lock_wait`
seconds (`lock_timeout`), so it also notices its own connection dying. The holder
learns of a lost connection from asyncpg's termination callback or a failed heartbeat,
and stops sending before another can take over (the new holder first waits a moment:
`Dispatcher.handover`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

# The server gives up on a silent client after ~9 s (idle 5 s, then 2 probes 2 s apart),
# which ends its session and frees the lock for another process.
KEEPALIVE = {"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2",
             "tcp_keepalives_count": "2", "application_name": "izin-dispatcher"}
NOTIFY_CHANNEL = "izin_outbox"


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


class Leadership:
    """The dedicated connection of a dispatcher that holds (or waits for) the lock."""

    def __init__(self, dsn: str, key: int, *, on_notify: Callable[[str], None],
                 lock_wait: float = 5.0, timeout: float = 5.0,
                 on_waiting: Callable[[], None] = lambda: None) -> None:
        self.dsn = dsn
        # Called every `lock_wait` s while another process holds the lock: a standby
        # sender is alive too (readiness reads it as the loop's heartbeat).
        self.on_waiting = on_waiting
        self.key = key
        self.on_notify = on_notify
        self.lock_wait = lock_wait
        self.timeout = timeout
        self.conn: asyncpg.Connection | None = None
        self.lost = asyncio.Event()

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Connect and wait for the lock; False when `stop` came first. Raises on
        connection errors (the caller backs off and tries again)."""
        self.lost = asyncio.Event()
        conn = await asyncpg.connect(self.dsn, server_settings=KEEPALIVE,
                                     timeout=self.timeout)
        self.conn = conn
        conn.add_termination_listener(lambda _c: self.lost.set())
        await conn.execute(f"SET lock_timeout = '{int(self.lock_wait * 1000)}ms'")
        while not stop.is_set():
            lock = asyncio.ensure_future(conn.execute("SELECT pg_advisory_lock($1)", self.key))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({lock, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not lock.done():
                lock.cancel()
                with contextlib.suppress(BaseException):
                    await lock
                return False
            try:
                lock.result()
            except asyncpg.LockNotAvailableError:  # lock_timeout: still waiting; alive?
                if self.lost.is_set():
                    raise ConnectionError("lock connection lost") from None
                self.on_waiting()
                continue
            await conn.execute("SET lock_timeout = 0")
            await conn.add_listener(NOTIFY_CHANNEL, self._notified)
            return True
        return False

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.on_notify(payload)

    async def execute(self, query: str, *args: Any) -> None:
        """A statement on the lock's connection (lease renewal, heartbeat); any failure
        means the lock may be gone: marked lost, then raised."""
        if self.conn is None or self.lost.is_set():
            raise ConnectionError("no lock connection")
        try:
            await asyncio.wait_for(self.conn.execute(query, *args), self.timeout)
        except BaseException:
            self.lost.set()
            raise

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        self.lost.set()
        if conn is None:
            return
        try:  # closing the session releases the lock and the LISTEN
            await asyncio.wait_for(conn.close(), 2)
        except BaseException:  # dead already; never block shutdown on it
            conn.terminate()
