"""Waiting for the first of several events (a wake-up, a stop) with a timeout."""

from __future__ import annotations

import asyncio


async def wait_any(*events: asyncio.Event, seconds: float | None = None) -> None:
    """Until one of `events` is set or `seconds` pass."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
