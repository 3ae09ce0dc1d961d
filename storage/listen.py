"""PostgreSQL LISTEN on a connection of its own, reconnected after an outage.

Notifications are hints, never the record: every time the connection is (re)made,
`on_connect` runs so the caller sweeps for what it may have missed while deaf.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL (postgresql+asyncpg://...) as a DSN asyncpg takes."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(url: str, channel: str, on_payload: Callable[[str], None],
                 on_connect: Callable[[], None], stop: asyncio.Event, *,
                 on_lost: Callable[[], None] | None = None, retry_max: float = 2.0) -> None:
    """LISTEN `channel` until `stop`; each notification's payload goes to `on_payload`.
    `on_lost` runs when a connection that was listening is gone (deaf until the next
    `on_connect`)."""
    dsn = asyncpg_dsn(url)
    pause = 0.1
    while not stop.is_set():
        conn: Any = None
        lost = asyncio.Event()
        listening = False
        try:
            conn = await asyncio.wait_for(asyncpg.connect(dsn), timeout=5)
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            await conn.add_listener(channel, lambda _c, _pid, _ch, payload: on_payload(payload))
            pause = 0.1
            listening = True
            on_connect()
            await _first(stop.wait(), lost.wait())
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("LISTEN %s: %s; reconnecting", channel, type(exc).__name__)
        finally:
            if listening and on_lost is not None:
                on_lost()
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), timeout=2)
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            pause = min(pause * 2, retry_max)


async def _first(*aws: Any) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
