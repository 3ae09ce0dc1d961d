"""SQLite for the async engine without a thread hop per call.

aiosqlite runs every cursor call (cursor, execute, fetchall, close, commit...) on a
worker thread and wakes the event loop back through its self-pipe: four round trips
between threads per statement. On this project's small statements that hand-off, not
SQLite, was most of the database time (bench/journeys.py, BENCHMARKS.md). The objects
here have aiosqlite's shape, so SQLAlchemy's aiosqlite dialect drives them unchanged,
but each call runs `sqlite3` directly on the event loop thread: a statement here takes
tens of microseconds, less than the hand-off it replaces.

The price: a statement blocks the loop while it runs. That is fine for the OLTP
statements of chats and the outbox; a long report query on a big SQLite file would
stall the loop for its duration (production deployments of any size use PostgreSQL).
Waiting for another connection's write lock must never block the loop, since the
holder may be a coroutine on this same loop: SQLite's busy handler is off and
`BEGIN IMMEDIATE` (the only place a writer waits, see storage/db.py) is retried with
`asyncio.sleep` until the busy timeout has passed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

BUSY_FIRST_WAIT_S = 0.001
BUSY_MAX_WAIT_S = 0.05


def _is_busy(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "database is locked" in text or "database is busy" in text


class InlineCursor:
    """An aiosqlite.Cursor look-alike whose coroutines never suspend (but on busy)."""

    def __init__(self, conn: InlineConnection, cursor: sqlite3.Cursor) -> None:
        self._conn = conn
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        if sql.lstrip()[:15].upper() == "BEGIN IMMEDIATE":
            await self._conn.begin_immediate(self._cursor, sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _RunNow:
    """Stands in for aiosqlite's job queue (the dialect sets isolation_level through it)."""

    def put_nowait(self, job: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = job
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite does
            if future is not None and not future.done():
                future.set_exception(exc)
        else:
            if future is not None and not future.done():
                future.set_result(result)


class InlineConnection:
    """An aiosqlite.Connection look-alike over a `sqlite3.Connection` on the loop thread."""

    def __init__(self, conn: sqlite3.Connection, busy_timeout_s: float) -> None:
        self._connection: sqlite3.Connection | None = conn
        self._tx = _RunNow()
        self.busy_timeout_s = busy_timeout_s

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self, self._conn.cursor())

    async def begin_immediate(self, cursor: sqlite3.Cursor, sql: str) -> None:
        deadline = time.monotonic() + self.busy_timeout_s
        wait = BUSY_FIRST_WAIT_S
        while True:
            try:
                cursor.execute(sql)
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(wait)  # another connection writes: let it finish
            wait = min(wait * 2, BUSY_MAX_WAIT_S)

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        cursor = self.cursor()
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def stop(self) -> None:
        """What the dialect calls to terminate a connection: close it now."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def connector(
    args: Sequence[Any], kwargs: dict[str, Any], busy_timeout_s: float
) -> Callable[[], Any]:
    """An `async_creator` for create_async_engine: opens the file on the loop thread."""

    async def connect() -> InlineConnection:
        # timeout=0: SQLite's own busy handler would sleep on the loop thread.
        conn = sqlite3.connect(*args, **{**kwargs, "timeout": 0, "isolation_level": None,
                                         "check_same_thread": False})
        return InlineConnection(conn, busy_timeout_s)

    return connect
