"""New and escalated complaints reach the staff's Telegram chat, once each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.composition import App
from storage.models import StaffNotice
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_user import open_bench


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram().start()
    yield fake
    await fake.stop()


async def test_complaint_notices_are_posted_once(app: App, api: FakeTelegram) -> None:
    app.runtime.clock = lambda: datetime.now(UTC)
    now = datetime.now(UTC)
    async with app.sessions() as session, session.begin():
        session.add_all([
            StaffNotice(region="metro", role="front_office", kind="complaint_new",
                        ref="ADU-2026-0001", text="ADU-2026-0001 (B): <Loket> lambat",
                        created_at=now, dedupe_key="complaint_new:ADU-2026-0001:1"),
            StaffNotice(region="metro", role="head_of_office", kind="complaint_escalated",
                        ref="ADU-2026-0001", text="ADU-2026-0001 (B): naik ke level 2",
                        created_at=now, dedupe_key="complaint_escalated:ADU-2026-0001:2"),
            StaffNotice(region="metro", role="front_office", kind="other", ref="X",
                        text="not for the chat", created_at=now, dedupe_key="other:X"),
        ])
    bench = await open_bench(app, api, "polling")
    bench.channel.staff_chat_id, bench.channel.staff_every = "-100777", 0.05
    stop = bench.stop
    bench.channel._spawn(bench.channel.post_staff(stop))
    try:
        for _ in range(200):
            if len(api.calls("sendMessage", chat_id="-100777")) >= 2:
                break
            await _tick()
        await _tick(0.3)  # more rounds pass: nothing is posted twice
    finally:
        await bench.close()
    posted = api.calls("sendMessage", chat_id="-100777")
    assert len(posted) == 2
    assert "Pengaduan baru" in posted[0].params["text"]
    assert "&lt;Loket&gt;" in posted[0].params["text"]
    assert "http://127.0.0.1:8000/office/complaints/ADU-2026-0001" in posted[0].params["text"]
    assert "naik level" in posted[1].params["text"]
    async with app.sessions() as session:
        rows = (await session.scalars(select(StaffNotice).order_by(StaffNotice.id))).all()
    assert [r.telegram_sent_at is not None for r in rows] == [True, True, False]


async def _tick(seconds: float = 0.02) -> None:
    import asyncio

    await asyncio.sleep(seconds)
