"""PostgreSQL's pool checks a connection only after it sat idle (storage/db.py).

A connection the server dropped while it waited in the pool is replaced before a
transaction meets it; a connection in steady use is not pinged (the ping was three round
trips per checkout).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine, is_sqlite


@pytest.fixture
def pg_url(db_url: str) -> str:
    if is_sqlite(db_url):
        pytest.skip("the idle ping is PostgreSQL's pool")
    return db_url


async def _pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_connection_dropped_while_idle_is_replaced_before_use(pg_url: str) -> None:
    engine = create_engine(pg_url, pool_size=1, idle_ping=0.2)
    other = create_engine(pg_url, pool_size=1)
    pings = 0
    real_ping = engine.dialect.do_ping

    def counted(dbapi_conn: Any) -> bool:
        nonlocal pings
        pings += 1
        return real_ping(dbapi_conn)

    engine.dialect.do_ping = counted  # type: ignore[method-assign,assignment]
    try:
        first = await _pid(engine)
        assert await _pid(engine) == first and pings == 0  # reused at once: no ping
        async with other.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.4)  # longer than idle_ping
        second = await _pid(engine)  # no error: the dead connection never reached us
        assert second != first and pings == 1
    finally:
        await engine.dispose()
        await other.dispose()
