"""Several real `izin serve` processes on one PostgreSQL database, behind a "load
balancer" that sends any update to any of them (each after the previous 200, as
Telegram does): every chat's conversation is the one a single process gives, every
update handled once; a kill -9 and a database outage lose and repeat nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage.models import InboundMessage, InboundStatus
from tests.conftest import PG_URL
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.telegram_api import FakeTelegram, document_update, text_update
from tests.serve_procs import (
    REG_NO,
    Db,
    Serve,
    post_all,
    serve_after_reference,
    standard_script,
    start_serve,
    until,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason="several processes need PostgreSQL "
                       "(IZIN_TEST_DATABASE_URL); SQLite is the single-process default"),
]


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram(per_chat_rate=1000, per_chat_burst=1000, global_rate=5000,
                              global_burst=5000).start()
    yield fake
    await fake.stop()


def _update(api: FakeTelegram, chat: int, line: str) -> dict[str, Any]:
    if line.startswith("/upload "):
        path = Path(line.split(" ", 1)[1])
        mime = "image/jpeg" if path.suffix in (".jpg", ".jpeg") else (
            "image/png" if path.suffix == ".png" else "application/pdf")
        return document_update(api, chat, path.read_bytes(), file_name=path.name,
                               mime_type=mime)
    return text_update(api, chat, line)


def _delivered_texts(api: FakeTelegram, chat: int) -> list[str]:
    return [REG_NO.sub("REG", t) for t in api.texts(chat)]


async def test_alternating_and_repeated_updates_match_one_process(
        tmp_path: Path, db_url: str, api: FakeTelegram, samples: dict[str, Path]) -> None:
    script = standard_script(samples)
    ref_chats, alt_chats, all_chats = [101, 102, 103], [201, 202, 203], [301, 302, 303]
    # Reference: the only process running gets and handles every update.
    serves = await serve_after_reference(tmp_path, db_url, api, [
        _update(api, chat, line) for line in script for chat in ref_chats], 3)
    db = Db(db_url)
    try:
        # Alternating: each update to the next process in turn (a chat's consecutive
        # updates land on different processes). Repeated: each update to all three.
        plan: list[tuple[dict[str, Any], list[Serve]]] = []
        turn = 0
        for line in script:
            for chat in alt_chats:
                plan.append((_update(api, chat, line), [serves[turn % 3]]))
                turn += 1
            for chat in all_chats:
                plan.append((_update(api, chat, line), serves))
        await post_all(plan)
        chats = ref_chats + alt_chats + all_chats
        await until(lambda: db.settled(chats, lambda c: len(api.delivered(c))), 180,
                    "all handled and sent")

        reference = await db.conversation(ref_chats[0])
        assert len(reference) > len(script)  # a whole journey, submitted
        assert any("REG" in p for p in reference)
        for chat in chats:
            assert await db.conversation(chat) == reference, chat
            # Every reply reached the chat once, in order.
            assert _delivered_texts(api, chat) == _delivered_texts(api, ref_chats[0]), chat
        # Every update recorded once and handled; none left over or dead.
        assert await db.statuses() == {"done": len(script) * len(chats)}
    finally:
        for serve in serves:
            await serve.stop()
        await db.close()


async def test_kill_9_mid_journey_resumes_within_seconds(
        tmp_path: Path, db_url: str, api: FakeTelegram, samples: dict[str, Path]) -> None:
    script = standard_script(samples)
    chats = [401, 402, 403, 404, 405, 406]
    db = Db(db_url)
    a = await start_serve(tmp_path, db_url, api, "a")
    b = await start_serve(tmp_path, db_url, api, "b")
    try:
        half = len(script) // 2
        # The first half to A, as fast as it answers; then A dies without a goodbye.
        await post_all([(_update(api, c, line), [a]) for line in script[:half]
                         for c in chats])
        a.kill()
        await a.proc.wait()
        # B carries on with the rest; the chats A held come to B once A's leases expire.
        await post_all([(_update(api, c, line), [b]) for line in script[half:half + 2]
                         for c in chats])
        took = await until(db.handled, 10, "B took over within 10 s")
        # A restarts, and the rest of the journey alternates between both again.
        a = await start_serve(tmp_path, db_url, api, "a2")
        plan = []
        for i, line in enumerate(script[half + 2:]):
            plan += [(_update(api, c, line), [(a, b)[(i + j) % 2]])
                     for j, c in enumerate(chats)]
        await post_all(plan)
        await until(db.handled, 60, "all handled after the restart")
        reference = await db.conversation(chats[0])
        assert any("REG" in p for p in reference), "the journeys were submitted"
        for chat in chats:
            # Nothing handled twice or skipped: the same conversation in every chat.
            assert await db.conversation(chat) == reference, chat
        assert await db.statuses() == {"done": len(script) * len(chats)}
        assert took < 10
    finally:
        await a.stop()
        await b.stop()
        await db.close()


async def test_a_database_outage_strands_nothing(
        tmp_path: Path, db_url: str, api: FakeTelegram) -> None:
    proxy = await TcpProxy.for_url(db_url).start()
    db = Db(db_url)  # the test's own view goes around the proxy
    serve = await start_serve(tmp_path, proxy.url(db_url), api, "outage")
    chats = list(range(501, 521))
    acknowledged: list[dict[str, Any]] = []
    try:
        for chat in chats:
            update = text_update(api, chat, "halo")
            assert await serve.post(update) == 200
            acknowledged.append(update)
        await proxy.cut()  # right after the last 200: some are surely not handled yet
        refused = 0
        for chat in chats:  # while the database is away: not stored, so not acknowledged
            update = text_update(api, chat, "1")
            status = await serve.post(update)
            assert status in (200, 503)
            if status == 200:
                acknowledged.append(update)
            else:
                refused += 1
        await asyncio.sleep(6)  # longer than a lease
        await proxy.restore()
        ids = {str(u["update_id"]) for u in acknowledged}

        async def all_handled() -> bool:
            async with db.sessions() as s:
                done = set((await s.scalars(select(InboundMessage.platform_id).where(
                    InboundMessage.status == InboundStatus.DONE))).all())
            return ids <= done

        await until(all_handled, 60, "every acknowledged update handled, no restart")
        assert refused > 0  # the outage was real
        # The process still serves: a new message of a chat is answered.
        before = len(api.delivered(chats[0]))
        assert await serve.post(text_update(api, chats[0], "menu")) == 200
        await until(lambda: len(api.delivered(chats[0])) > before, 30, "a later reply")
        assert "failed" not in await db.statuses()
    finally:
        await serve.stop()
        await proxy.cut()
        await db.close()
