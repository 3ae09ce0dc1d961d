"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import sqlite_inline

SQLITE_BUSY_TIMEOUT_MS = 10_000
IDLE_PING_SECONDS = 1.0  # see _ping_after_idle


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10,
                  idle_ping: float = IDLE_PING_SECONDS) -> AsyncEngine:
    """An async engine; on SQLite: WAL, a busy timeout and write transactions from BEGIN.

    SQLite's deferred transactions fail at once with "database is locked" when a reader
    tries to become a writer while another connection writes; the busy timeout cannot
    help there. Starting every transaction with BEGIN IMMEDIATE makes writers queue on
    the busy timeout instead. PostgreSQL keeps its defaults.

    Inside one process, writers queue on a single pooled connection instead: SQLite
    allows one writer at a time anyway, and its busy handler waits by sleeping (up to
    100 ms a try), which gave p99 latencies over a second with ten concurrent chats
    (bench/journeys.py). The pool's queue wakes the next writer as soon as the
    connection is free. Other processes on the same file still meet the busy timeout.

    That connection runs SQLite on the event loop thread (storage/sqlite_inline.py)
    instead of aiosqlite's worker thread, and waits for other processes' write locks
    with asyncio.sleep instead of SQLite's sleeping busy handler.

    synchronous=NORMAL in WAL mode: a commit survives the process crashing (it is in
    the WAL file the moment COMMIT returns) but the last transactions before a power
    loss or an OS crash may be rolled back; the database itself never corrupts.
    """
    if not is_sqlite(url):
        # A fixed pool on PostgreSQL: overflow connections were opened and closed per
        # request under load (a TLS attempt and a handshake each). Nothing holds two
        # connections at once (SQLite's single writer would have shown it).
        # LIFO: the connections in use stay warm and the rest idle (then get pinged).
        engine = create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=0,
                                     pool_timeout=60, pool_use_lifo=True)
        _ping_after_idle(engine, idle_ping)
        return engine

    args, kwargs = _sqlite_connect_args(make_url(url))
    engine = create_async_engine(
        url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=60,
        async_creator=sqlite_inline.connector(args, kwargs, SQLITE_BUSY_TIMEOUT_MS / 1000),
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _ping_after_idle(engine: AsyncEngine, idle: float) -> None:
    """Check a pooled connection before use only when it sat unused for `idle` seconds.

    SQLAlchemy's pool_pre_ping checks every checkout, and asyncpg's ping is three round
    trips (BEGIN, `;`, ROLLBACK): 8% of the server's CPU per webhook update under load
    (py-spy, bench/webhook_ratio.py). A connection used a moment ago is as good as the
    statement it just ran; one that waited through an outage is replaced here before a
    transaction meets it. A connection that dies in between fails its statement, and
    SQLAlchemy then retires every connection checked out before that moment, so the
    next request gets fresh ones (the webhook's caller retries on the 500)."""
    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["izin_idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("izin_idle_since")
        if since is None or time.monotonic() - since < idle:
            return  # just connected, or in use a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as err:  # the driver's own error: the connection is gone
            raise exc.DisconnectionError(str(err)) from err
        if not alive:
            raise exc.DisconnectionError("ping failed")  # the pool connects anew


def create_read_engine(url: str) -> AsyncEngine | None:
    """On SQLite, a second engine for pages and reports that only read: its own
    connections (WAL lets them read while the writer writes), `query_only`, no BEGIN
    IMMEDIATE, so a page render or a report never waits for, or holds, the single
    writer connection. None on PostgreSQL (its pool serves both)."""
    if not is_sqlite(url):
        return None
    args, kwargs = _sqlite_connect_args(make_url(url))
    engine = create_async_engine(
        url, pool_size=2, max_overflow=0, pool_timeout=60,
        async_creator=sqlite_inline.connector(args, kwargs, SQLITE_BUSY_TIMEOUT_MS / 1000),
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA query_only=ON")
        cur.close()

    return engine


def _sqlite_connect_args(url: URL) -> tuple[list[Any], dict[str, Any]]:
    """The file name and options SQLAlchemy's SQLite dialect reads from the URL."""
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    args, kwargs = SQLiteDialect_pysqlite().create_connect_args(url)
    return list(args), dict(kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
