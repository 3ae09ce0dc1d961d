"""SQLite on the event loop thread: waiting for another connection's write lock must
never block the loop (the holder may be a coroutine on this same loop)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from storage import sqlite_inline
from storage.db import create_engine


async def test_a_writer_waits_for_another_connections_transaction_on_the_same_loop(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'two.db'}"
    first, second = create_engine(url), create_engine(url)  # two pools: two connections
    try:
        async with first.begin() as conn:
            await conn.execute(text("CREATE TABLE log (who TEXT)"))
        order: list[str] = []

        async def holder(started: asyncio.Event) -> None:
            async with first.begin() as conn:  # BEGIN IMMEDIATE: holds the write lock
                started.set()
                await asyncio.sleep(0.05)  # the other writer runs meanwhile, and waits
                await conn.execute(text("INSERT INTO log VALUES ('first')"))
                order.append("first")

        async def waiter(started: asyncio.Event) -> None:
            await started.wait()
            async with second.begin() as conn:
                await conn.execute(text("INSERT INTO log VALUES ('second')"))
                order.append("second")

        started = asyncio.Event()
        await asyncio.gather(holder(started), waiter(started))
        async with second.connect() as conn:
            rows = (await conn.execute(text("SELECT who FROM log ORDER BY rowid"))).all()
        assert order == ["first", "second"]
        assert [r[0] for r in rows] == ["first", "second"]
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_writer_gives_up_after_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = create_engine(f"sqlite+aiosqlite:///{path}")
    impatient = create_async_engine(
        f"sqlite+aiosqlite:///{path}", pool_size=1, max_overflow=0,
        async_creator=sqlite_inline.connector([str(path)], {}, busy_timeout_s=0.05))
    try:
        async with holder.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            with pytest.raises(OperationalError, match="locked"):
                async with impatient.connect() as other:
                    await other.exec_driver_sql("BEGIN IMMEDIATE")
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        async with impatient.connect() as other:
            assert (await other.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
    finally:
        await holder.dispose()
        await impatient.dispose()
