"""Sending from the outbox: order per chat, priorities, retry-after, unreachable, crashes."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.composition import App
from conversations.types import OutMessage
from notifications import runner
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
    sender = ScriptedSender()
    for chat in "abcdefgh":
        await _queue(app, clock, chat, [f"{chat}-{i}" for i in range(5)])
    d1, d2 = _dispatcher(app, sender, clock), _dispatcher(app, sender, clock)
    await asyncio.gather(d1.drain(), d2.drain())
    assert len(sender.sent) == 40 and len(set(sender.sent)) == 40


# ---- the running loop: claims only when something can be found ----


class _CountedClaims:
    """Wraps the runner's `claim`, counting calls; `after` runs once after a claim."""

    def __init__(self) -> None:
        self.calls = 0
        self.after: Callable[[list[OutboxMessage]], Awaitable[None]] | None = None
        self._claim = runner.claim

    async def __call__(self, *args: Any, **kw: Any) -> list[OutboxMessage]:
        self.calls += 1
        rows: list[OutboxMessage] = await self._claim(*args, **kw)
        after, self.after = self.after, None
        if after is not None:
            await after(rows)
        return rows


async def _until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not reached in time")


def _running(app: App, sender: ScriptedSender, **kw: Any) -> Dispatcher:
    # A sweep far longer than the test: whatever is sent was found by a wake-up.
    return Dispatcher(app.sessions, sender, rate_per_second=1000, per_chat_interval=0,
                      idle_poll=60, listen_poll=60, clock=lambda: datetime.now(UTC), **kw)


async def test_the_sender_claims_once_per_written_reply(
    app: App, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = _CountedClaims()
    monkeypatch.setattr(runner, "claim", counted)
    sender = ScriptedSender()
    d = _running(app, sender)
    stop = asyncio.Event()
    task = asyncio.create_task(d.run(stop))
    await _until(lambda: counted.calls >= 1)  # the first claim at start finds nothing
    for i in range(10):  # a conversation: the next reply after the previous one arrived
        await _queue(app, clock, "a", [f"a-{i}"])
        await _until(lambda i=i: len(sender.sent) == i + 1)  # type: ignore[misc]
    await asyncio.sleep(0.2)  # an idle sender does not claim again
    stop.set()
    await task
    assert [t for _, t in sender.sent] == [f"a-{i}" for i in range(10)]
    # One claim per written reply plus the one at start (it used to claim again after
    # every batch and once more before going idle: about three per reply).
    assert counted.calls <= 11, counted.calls


async def test_a_row_written_during_an_empty_claim_is_not_left_for_the_sweep(
    app: App, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = _CountedClaims()
    monkeypatch.setattr(runner, "claim", counted)
    sender = ScriptedSender()

    async def write_behind_it(rows: list[OutboxMessage]) -> None:
        assert rows == []  # the claim saw nothing; the row commits before it returns
        await _queue(app, clock, "a", ["late"])

    counted.after = write_behind_it
    stop = asyncio.Event()
    task = asyncio.create_task(_running(app, sender).run(stop))
    await _until(lambda: sender.sent == [("a", "late")])  # not after the 60 s sweep
    stop.set()
    await task


async def test_a_retry_is_sent_when_due_without_a_wake(app: App, clock: Clock) -> None:
    sender = ScriptedSender()
    sender.script["a"] = [SendResult(ok=False, retry_after=0.3, error="429")]
    await _queue(app, clock, "a", ["a-1", "a-2"])
    stop = asyncio.Event()
    task = asyncio.create_task(_running(app, sender).run(stop))
    # Nothing is written after the 429: the sender learns the retry time itself.
    await _until(lambda: len(sender.sent) == 2)
    stop.set()
    await task
    assert [t for _, t in sender.sent] == ["a-1", "a-2"]


async def test_a_chats_next_row_held_back_by_a_batch_goes_when_the_batch_ends(
    app: App, clock: Clock
) -> None:
    """One row a claim (a slow rate), so the second claim runs while the first row is
    out and finds the chat's next row held back by it: nothing is written after that,
    yet the row goes as soon as the first is through (not at the 60 s sweep)."""
    sender = ScriptedSender()
    await _queue(app, clock, "a", ["a-1", "a-2", "a-3"])
    d = Dispatcher(app.sessions, sender, rate_per_second=2, per_chat_interval=0,
                   idle_poll=60, listen_poll=60, clock=lambda: datetime.now(UTC))
    assert d.batch == 1
    stop = asyncio.Event()
    task = asyncio.create_task(d.run(stop))
    await _until(lambda: len(sender.sent) == 3, seconds=10)
    stop.set()
    await task
    assert [t for _, t in sender.sent] == ["a-1", "a-2", "a-3"]
