"""The inbound pipeline on its own: order per chat, retries of transient failures, dead
letters that do not block a chat, leases, and WhatsApp's reorder window."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.composition import App
from bot.settings import Settings
from conversations.types import InboundEvent
from service.pipeline import InboundPipeline, Recorded, Turn, Unhandleable, is_transient
from storage.models import Applicant, Conversation, InboundLease, InboundMessage
from tests.conftest import Clock
from tests.fakes import graph_api as wa
from tests.fakes.whatsapp_harness import Harness, harness


class Script:
    """A channel adapter whose payload says what to do: {"text": ...} runs a turn,
    {"fail": n} raises a transient error n times first, {"bug": true} always raises,
    {"bad": true} is unhandleable."""

    channel = "test"

    def __init__(self) -> None:
        self.failures: dict[int, int] = {}
        self.seen: list[str] = []

    async def prepare(self, row: Recorded) -> Turn | None:
        p = row.payload
        if p.get("bad"):
            raise Unhandleable("not a message")
        if p.get("bug"):
            raise ValueError("a bug in the channel")
        if self.failures.get(row.id, 0) < int(p.get("fail", 0)):
            self.failures[row.id] = self.failures.get(row.id, 0) + 1
            raise OperationalError("SELECT 1", {}, ConnectionResetError("reset by peer"))
        self.seen.append(str(p["text"]))
        return Turn(row.chat_key.split(":", 1)[1], InboundEvent.message(str(p["text"])))


async def _record(app: App, chat: str, seq: int, **payload: object) -> int:
    rid = await app.runtime.record_pending(channel="test", platform_id=f"{chat}-{seq}",
                                           chat_key=f"test:{chat}", payload=dict(payload),
                                           seq=seq)
    assert rid is not None
    return rid


async def _rows(app: App) -> dict[str, InboundMessage]:
    async with app.sessions() as s:
        return {r.platform_id: r for r in (await s.scalars(select(InboundMessage))).all()}


def test_what_counts_as_transient() -> None:
    assert is_transient(OperationalError("x", {}, ConnectionResetError()))
    assert is_transient(ConnectionRefusedError())
    assert is_transient(TimeoutError())
    assert not is_transient(ValueError("bug"))
    assert not is_transient(KeyError("x"))


async def test_platform_order_not_arrival_order(app: App) -> None:
    adapter = Script()
    for seq in (3, 1, 2):  # recorded out of order, before anyone works the chat
        await _record(app, "a", seq, text=f"m{seq}")
    await InboundPipeline(app.runtime, adapter).drain()
    assert adapter.seen == ["m1", "m2", "m3"]


async def test_transient_failures_are_retried_until_handled(app: App) -> None:
    adapter = Script()
    await _record(app, "a", 1, text="halo", fail=3)
    await _record(app, "a", 2, text="1")
    pipeline = InboundPipeline(app.runtime, adapter, retry_base=0.01, max_attempts=2)
    await pipeline.drain()
    rows = await _rows(app)
    assert {r.status for r in rows.values()} == {"done"}
    assert rows["a-1"].attempts == 0  # transient failures use up no attempt
    assert adapter.seen == ["halo", "1"] and pipeline.dead == 0


async def test_a_dead_letter_never_blocks_the_chat(app: App) -> None:
    adapter = Script()
    await _record(app, "a", 1, bug=True)
    await _record(app, "a", 2, bad=True)
    await _record(app, "a", 3, text="halo")
    pipeline = InboundPipeline(app.runtime, adapter, retry_base=0.01, max_attempts=3)
    await pipeline.drain()
    rows = await _rows(app)
    assert (rows["a-1"].status, rows["a-1"].attempts) == ("failed", 2)
    assert "ValueError: a bug in the channel" in (rows["a-1"].error or "")
    assert (rows["a-2"].status, rows["a-2"].error) == ("failed", "not a message")
    assert rows["a-3"].status == "done" and adapter.seen == ["halo"]
    assert pipeline.dead == 2


async def test_a_chat_held_by_a_live_process_waits_and_a_dead_ones_is_taken_over(
        app: App) -> None:
    adapter = Script()
    await _record(app, "a", 1, text="halo")
    async with app.sessions() as s, s.begin():
        s.add(InboundLease(chat_key="test:a", owner="other-process",
                           expires_at=datetime.now(UTC) + timedelta(seconds=1.5)))
    pipeline = InboundPipeline(app.runtime, adapter)
    await pipeline.drain()
    assert adapter.seen == []  # the other process holds the chat
    stop = asyncio.Event()
    runner = asyncio.create_task(pipeline.run(stop))
    try:
        for _ in range(100):  # its lease expires: taken over then, not at a sweep
            if adapter.seen:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await runner
    assert adapter.seen == ["halo"]
    async with app.sessions() as s:
        assert (await s.scalars(select(InboundLease))).all() == []  # released


async def test_a_new_chat_raced_in_two_workers_is_no_duplicate(app: App) -> None:
    a = await _record(app, "new", 1, text="halo")
    b = await _record(app, "new", 2, text="1")
    outs = await asyncio.gather(*(
        app.runtime.handle(channel="test", external_id="new", platform_id=f"new-{n}",
                           event=InboundEvent.message(t), pending_id=rid)
        for n, t, rid in ((1, "halo", a), (2, "1", b))))
    assert [o.duplicate for o in outs] == [False, False]
    async with app.sessions() as s:
        assert len((await s.scalars(select(Applicant))).all()) == 1
        conv = await s.scalar(select(Conversation))
    assert conv is not None and conv.version == 2


# ---- WhatsApp: a message in a later webhook with an earlier timestamp ----

@pytest.fixture(params=[1.0, 0.0], ids=["window", "no-window"])
async def wa_h(request: pytest.FixtureRequest, settings: Settings, clock: Clock
               ) -> AsyncIterator[Harness]:
    async with harness(settings, clock, whatsapp_reorder_window=request.param) as h:
        yield h


async def test_whatsapp_reorder_window(wa_h: Harness, clock: Clock) -> None:
    wa_id = "6281211110000"
    now = int(clock.now.timestamp())
    stop = asyncio.Event()
    runner = asyncio.create_task(wa_h.worker.run(stop))
    try:
        # "2" (English) was sent after "halo" but its webhook came first; "halo"
        # follows 0.3 s later, inside the window.
        await wa_h.send(wa_id, wa.text("2"), ts=now)
        await asyncio.sleep(0.3)
        await wa_h.send(wa_id, wa.text("halo"), ts=now - 1)
        for _ in range(100):
            async with wa_h.app.sessions() as s:
                left = (await s.scalars(select(InboundMessage).where(
                    InboundMessage.status == "pending"))).all()
            if not left:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await runner
    async with wa_h.app.sessions() as s:
        conv = await s.scalar(select(Conversation))
    assert conv is not None
    if wa_h.app.settings.whatsapp_reorder_window:
        assert conv.state["lang"] == "en"  # halo, then the language question's answer
    else:
        assert conv.state["lang"] != "en"  # arrival order: "2" meant nothing yet
