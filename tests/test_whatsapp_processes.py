"""Several real `izin serve` processes with the WhatsApp channel on one PostgreSQL
database, signed webhooks posted to any of them: every chat's conversation is the one a
single process gives, a message Meta delivers to every process at once is handled once,
every reply reaches the fake Graph API once, and the number's limits hold in sum."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_URL
from tests.fakes import graph_api as wa
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.whatsapp_harness import upload
from tests.serve_procs import REG_NO, Db, serve_after_reference, standard_script, until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason="several processes need PostgreSQL "
                       "(IZIN_TEST_DATABASE_URL); SQLite is the single-process default"),
]

# The number's limits, as the processes are told and the fake enforces them (130429 /
# 131056 refusals): low enough that the replies of these chats are paced by them, so
# two processes sending at once would show in `refused`.
RATE, INTERVAL = 10, 0.25
LIMITS = {"IZIN_WHATSAPP_RATE_PER_SECOND": str(RATE),
          "IZIN_WHATSAPP_PER_CHAT_INTERVAL": str(INTERVAL)}


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphAPI]:
    fake = FakeGraphAPI(limit_per_second=RATE, limit_burst=RATE,
                        per_recipient_interval=INTERVAL)
    await fake.start()
    yield fake
    await fake.stop()


def _journey(graph: FakeGraphAPI, wa_id: str, script: list[str]) -> list[dict[str, Any]]:
    """The chat's webhooks, one message each, typed a second apart and ending now: the
    timestamps order them (the pipeline's `seq`), and the last ones are still within the
    reorder window when they arrive, so they are held across processes too."""
    now = int(time.time())
    bodies = []
    for i, line in enumerate(script):
        message = (upload(graph, Path(line.split(" ", 1)[1])) if line.startswith("/upload ")
                   else wa.text(line))
        bodies.append(wa.inbound(wa_id, message, ts=now - len(script) + 1 + i))
    return bodies


def _received(graph: FakeGraphAPI, wa_id: str) -> list[str]:
    """What the person read, in order: kind, text and choices offered."""
    return [REG_NO.sub("REG", f"{s.type}: {s.text} {s.options()}") for s in graph.to(wa_id)]


async def test_alternating_and_redelivered_messages_match_one_process(
        tmp_path: Path, db_url: str, graph: FakeGraphAPI, samples: dict[str, Path]) -> None:
    script = standard_script(samples)
    ref, alternating, everywhere = "6281100000101", ["6281100000201", "6281100000202"], [
        "6281100000301", "6281100000302"]
    chats = [ref, *alternating, *everywhere]
    # Reference: the only process running handles the whole journey.
    serves = await serve_after_reference(tmp_path, db_url, graph, _journey(graph, ref, script),
                                         3, **LIMITS)
    db = Db(db_url)
    try:
        # Alternating: each message to the next process in turn. Redelivered: each
        # message to all three at once (the same wamid three times, as Meta retries).
        journeys = {c: _journey(graph, c, script) for c in alternating + everywhere}
        turn = 0
        for i in range(len(script)):
            for chat in alternating:
                assert await serves[turn % 3].post(journeys[chat][i]) == 200
                turn += 1
            for chat in everywhere:
                assert await asyncio.gather(*(s.post(journeys[chat][i]) for s in serves)
                                            ) == [200] * 3
        await until(lambda: db.settled(chats, lambda c: len(graph.to(str(c)))), 120,
                    "all handled and sent")

        reference = await db.conversation(ref)
        assert len(reference) > len(script)  # a whole journey, submitted
        assert any("REG" in p for p in reference)
        for chat in chats:
            assert await db.conversation(chat) == reference, chat
            # Every reply reached the person once, in order.
            assert len(graph.to(chat)) == len(reference), chat
            assert _received(graph, chat) == _received(graph, ref), chat
        # Every message recorded once and handled; none left over or dead.
        assert await db.statuses() == {"done": len(script) * len(chats)}
        # The number's throughput and per-recipient limits, as the platform saw them.
        assert graph.refused == []
    finally:
        for serve in serves:
            await serve.stop()
        await db.close()
