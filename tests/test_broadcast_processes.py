"""A dispatcher process killed (SIGKILL) in the middle of a broadcast; a new one
finishes the rest. Only rows the dead process had in flight (claimed, possibly sent,
not recorded) may reach a chat again: the platform never confirmed them to us."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.composition import App
from notifications import broadcasts as bc
from storage.models import OutboxMessage
from tests.conftest import Clock
from tests.notify_data import add_applicants
from tests.processes import delivered, worker

N = 600


@pytest.mark.slow
async def test_killed_dispatcher_restarted_finishes_the_broadcast(
        app: App, clock: Clock, db_url: str, tmp_path: Path) -> None:
    await add_applicants(app.sessions, N, now=clock.now)
    bid = await bc.create_broadcast(app.sessions, app.catalog,
                                    selection=bc.Selection(open_only=True),
                                    template="Halo {{ name }}", sender_username="admin",
                                    sender_role="admin", now=clock.now)
    log = tmp_path / "delivered.log"
    first = worker(db_url, log, clock.now, "--rate", "100")
    deadline = time.monotonic() + 120
    while len(delivered(log)) < N // 4:
        assert first.poll() is None, first.communicate()[1][-3000:]
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    async with app.sessions() as s:
        in_flight = set((await s.scalars(select(OutboxMessage.id).where(
            OutboxMessage.status == "sending"))).all())
    before = Counter(delivered(log))
    assert 0 < len(before) < N
    # Restarted "later" than the dead process's claims: its in-flight rows are stale.
    second = worker(db_url, log, clock.now, "--rate", "100", "--shift",
                    str(timedelta(minutes=6).total_seconds()))
    out, err = second.communicate(timeout=180)
    assert second.returncode == 0, err[-3000:]
    assert "too_many=0" in out
    prog = await bc.progress(app.sessions, bid)
    assert (prog.sent, prog.pending, prog.status) == (N, 0, "done")
    counts = Counter(delivered(log))
    assert len(counts) == N
    twice = {oid for oid, n in counts.items() if n > 1}
    assert twice <= in_flight and all(n <= 2 for n in counts.values())
    # Everything the dead process had recorded as sent was not sent again.
    async with app.sessions() as s:
        rows = {r.id: r for r in (await s.scalars(select(OutboxMessage))).all()}
    assert all(counts[oid] == 1 for oid in before if oid not in in_flight)
    assert len(rows) == N
