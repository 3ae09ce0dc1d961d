"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
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
    """
    if not is_sqlite(url):
        return create_async_engine(url, echo=echo, pool_pre_ping=True)

    engine = create_async_engine(url, echo=echo, connect_args={"isolation_level": None},
                                 pool_size=1, max_overflow=0, pool_timeout=60)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
