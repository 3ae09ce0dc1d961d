"""Sending from the outbox: order per chat, priorities, retry-after, unreachable, crashes."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from bot.composition import App
from conversations.types import OutMessage
from notifications.dispatcher import Delivery, SendResult, claim
from notifications.runner import Dispatcher
from service.inbound import get_or_create_applicant
from service.outbox import PRIORITY_BULK, enqueue
from storage.models import Applicant, OutboxMessage
from tests.conftest import Clock


class ScriptedSender:
    """Answers each send from a per-chat script of results (default: success)."""

    channel = "fake"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.script: dict[str, list[SendResult]] = defaultdict(list)

    async def send(self, delivery: Delivery) -> SendResult:
        chat_id, message = delivery.chat_id, delivery.message
        if self.script[chat_id]:
            result = self.script[chat_id].pop(0)
            if not result.ok:
                return result
        self.sent.append((chat_id, message.text))
        return SendResult(ok=True, platform_message_id=f"m{len(self.sent)}")


async def _queue(app: App, clock: Clock, chat: str, texts: list[str], priority: int = 0) -> None:
    async with app.sessions() as s, s.begin():
        applicant = await get_or_create_applicant(s, "fake", chat, clock.now)
        for t in texts:
            enqueue(s, applicant, OutMessage(kind="text", text=t), now=clock.now,
                    priority=priority)


def _dispatcher(app: App, sender: ScriptedSender, clock: Clock) -> Dispatcher:
    return Dispatcher(app.sessions, sender, rate_per_second=1000, per_chat_interval=0,
                      clock=clock)


async def _statuses(app: App) -> dict[str, str]:
    async with app.sessions() as s:
        rows = (await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        return {r.payload["text"]: r.status for r in rows}


async def test_order_per_chat_and_replies_before_bulk(app: App, clock: Clock) -> None:
    sender = ScriptedSender()
    await _queue(app, clock, "b", ["bulk-1", "bulk-2"], priority=PRIORITY_BULK)
    await _queue(app, clock, "a", ["a-1", "a-2", "a-3"])
    await _dispatcher(app, sender, clock).drain()
    assert [t for c, t in sender.sent if c == "a"] == ["a-1", "a-2", "a-3"]
    assert [t for c, t in sender.sent if c == "b"] == ["bulk-1", "bulk-2"]
    assert sender.sent.index(("a", "a-1")) < sender.sent.index(("b", "bulk-1"))
    assert set((await _statuses(app)).values()) == {"sent"}


async def test_retry_after_delays_only_that_chat_and_loses_nothing(
    app: App, clock: Clock
) -> None:
    sender = ScriptedSender()
    sender.script["a"] = [SendResult(ok=False, retry_after=30, error="429")]
    await _queue(app, clock, "a", ["a-1", "a-2"])
    await _queue(app, clock, "b", ["b-1", "b-2"])
    d = _dispatcher(app, sender, clock)
    await d.drain()
    assert [t for _, t in sender.sent] == ["b-1", "b-2"]  # b went on, a waits
    clock.advance(seconds=29)
    await d.drain()
    assert len(sender.sent) == 2
    clock.advance(seconds=2)
    await d.drain()
    assert [t for c, t in sender.sent if c == "a"] == ["a-1", "a-2"]  # in order, once each
    assert len(sender.sent) == 4


async def test_blocked_chat_is_marked_unreachable_not_retried(app: App, clock: Clock) -> None:
    sender = ScriptedSender()
    sender.script["a"] = [SendResult(ok=False, unreachable=True, error="403 blocked")]
    await _queue(app, clock, "a", ["a-1", "a-2"])
    d = _dispatcher(app, sender, clock)
    await d.drain()
    clock.advance(hours=1)
    await d.drain()
    assert sender.sent == []
    assert await _statuses(app) == {"a-1": "unreachable", "a-2": "unreachable"}
    async with app.sessions() as s:
        applicant = await s.scalar(select(Applicant).where(Applicant.external_id == "a"))
        assert applicant is not None and applicant.unreachable_at is not None


async def test_server_errors_back_off_then_succeed(app: App, clock: Clock) -> None:
    sender = ScriptedSender()
    sender.script["a"] = [SendResult(ok=False, error="502"), SendResult(ok=False, error="503")]
    await _queue(app, clock, "a", ["a-1"])
    d = _dispatcher(app, sender, clock)
    await d.drain()
    clock.advance(seconds=2)  # first backoff: 2 s
    await d.drain()
    assert sender.sent == []
    clock.advance(seconds=4)  # second backoff: 4 s
    await d.drain()
    assert sender.sent == [("a", "a-1")]


async def test_a_row_left_sending_by_a_dead_process_is_sent_again_later(
    app: App, clock: Clock
) -> None:
    await _queue(app, clock, "a", ["a-1"])
    claimed = await claim(app.sessions, "fake", now=clock.now)  # ...then the process dies
    assert [r.payload["text"] for r in claimed] == ["a-1"]
    sender = ScriptedSender()
    d = _dispatcher(app, sender, clock)
    await d.drain()
    assert sender.sent == []  # not yet: it may still be in flight elsewhere
    clock.advance(minutes=6)
    await d.drain()
    assert sender.sent == [("a", "a-1")]


async def test_two_dispatchers_never_send_a_row_twice(app: App, clock: Clock) -> None:
    import asyncio

    sender = ScriptedSender()
    for chat in "abcdefgh":
        await _queue(app, clock, chat, [f"{chat}-{i}" for i in range(5)])
    d1, d2 = _dispatcher(app, sender, clock), _dispatcher(app, sender, clock)
    await asyncio.gather(d1.drain(), d2.drain())
    assert len(sender.sent) == 40 and len(set(sender.sent)) == 40
