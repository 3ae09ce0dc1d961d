"""A turn's replies written claimed by this process's sending dispatcher (no claim
transaction), and when they must not be: something of the chat is unsent before them,
the turn's effects queued messages of their own, or the dispatcher is not sending."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.composition import App
from conversations.types import InboundEvent, OutMessage
from notifications import runner
from notifications.dispatcher import Delivery, SendResult, claim
from notifications.runner import Dispatcher
from service.outbox import enqueue_replies
from storage.models import OutboxMessage, OutboxStatus
from tests.conftest import Clock
from tests.test_dispatcher import ScriptedSender, _CountedClaims, _queue, _until

TURNS = ["/start", "halo", "menu", "bantuan", "/status"]  # one or two replies each


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> _CountedClaims:
    """The runner's claims, counted."""
    claims = _CountedClaims()
    monkeypatch.setattr(runner, "claim", claims)
    return claims


def _sending(app: App, sender: ScriptedSender) -> Dispatcher:
    d = Dispatcher(app.sessions, sender, rate_per_second=1000, per_chat_interval=0,
                   idle_poll=60, listen_poll=60, clock=app.runtime.clock)
    app.runtime.add_direct_sender(d)
    return d


async def _rows(app: App, chat: str) -> list[OutboxMessage]:
    async with app.sessions() as s:
        return list((await s.scalars(select(OutboxMessage).where(
            OutboxMessage.chat_id == chat).order_by(OutboxMessage.id))).all())


async def _turn(app: App, chat: str, n: int, text: str) -> list[OutMessage]:
    out = await app.runtime.handle(channel="fake", external_id=chat, platform_id=f"{chat}-{n}",
                                   event=InboundEvent.message(text))
    assert not out.duplicate
    return list(out.messages)


async def _serving(d: Dispatcher, counted: _CountedClaims) -> tuple[asyncio.Event,
                                                                     asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(d.run(stop))
    await _until(lambda: counted.calls >= 1)  # the claim at start found nothing
    return stop, task


async def test_a_turns_replies_are_sent_in_order_without_a_claim(
    app: App, counted: _CountedClaims
) -> None:
    sender = ScriptedSender()
    d = _sending(app, sender)
    stop, task = await _serving(d, counted)
    expected: list[str | None] = []
    for n, text in enumerate(TURNS):
        expected += [m.text for m in await _turn(app, "a", n, text)]
        want = len(expected)
        await _until(lambda want=want: len(sender.sent) == want)  # type: ignore[misc]
    stop.set()
    await task
    assert [t for _, t in sender.sent] == expected
    assert len(expected) > len(TURNS)  # turns of two replies (one multi-row insert) too
    assert counted.calls == 1  # none after the one at start: nothing was woken to claim
    rows = await _rows(app, "a")
    assert [(r.status, r.claimed_by, r.attempts) for r in rows] == [
        (OutboxStatus.SENT, d.owner, 1)] * len(expected)


async def test_replies_wait_behind_an_earlier_unsent_message_of_the_chat(
    app: App, clock: Clock, counted: _CountedClaims
) -> None:
    sender = ScriptedSender()
    d = _sending(app, sender)
    await _queue(app, clock, "a", ["notice"])
    # Another process holds the notice: it may still be on its way to the platform.
    taken = await claim(app.sessions, "fake", now=clock.now, owner="elsewhere",
                        lease=timedelta(seconds=30))
    assert [r.payload["text"] for r in taken] == ["notice"]
    stop, task = await _serving(d, counted)
    replies = await _turn(app, "a", 0, "halo")
    other = await _turn(app, "b", 0, "halo")  # another chat is not held back
    await _until(lambda: len(sender.sent) == len(other))
    await asyncio.sleep(0.2)
    stop.set()
    await task
    assert [c for c, _ in sender.sent] == ["b"] * len(other)
    rows = await _rows(app, "a")
    assert [(r.status, r.claimed_by) for r in rows[1:]] == [
        (OutboxStatus.PENDING, None)] * len(replies)


async def test_replies_after_the_dispatchers_own_sent_message_are_not_held_back(
    app: App, clock: Clock, counted: _CountedClaims
) -> None:
    sender = ScriptedSender()
    d = _sending(app, sender)
    d.record_every = 60  # its sends stay unwritten: still `sending` in the table
    stop, task = await _serving(d, counted)
    first = await _turn(app, "a", 0, "halo")
    await _until(lambda: len(sender.sent) == len(first))
    second = await _turn(app, "a", 1, "menu")
    await _until(lambda: len(sender.sent) == len(first) + len(second))
    assert counted.calls == 1
    stop.set()
    await task  # writes what it sent on the way out
    assert {r.status for r in await _rows(app, "a")} == {OutboxStatus.SENT}


async def test_a_dispatcher_that_is_not_sending_is_offered_nothing(
    app: App
) -> None:
    sender = ScriptedSender()
    d = _sending(app, sender)
    replies = await _turn(app, "a", 0, "halo")
    rows = await _rows(app, "a")
    assert [(r.status, r.claimed_by) for r in rows] == [
        (OutboxStatus.PENDING, None)] * len(replies)
    await d.drain()
    assert [t for _, t in sender.sent] == [m.text for m in replies]


async def test_replies_handed_to_a_dispatcher_that_stopped_are_given_back(
    app: App, counted: _CountedClaims
) -> None:
    sender = ScriptedSender()
    d = _sending(app, sender)
    stop, task = await _serving(d, counted)
    offer = d.offer()
    assert offer is not None
    await _turn(app, "a", 0, "/start")  # the chat and its applicant
    now = app.runtime.clock()
    applicant_id = (await _rows(app, "a"))[0].applicant_id
    async with app.sessions() as s, s.begin():
        conn = await s.connection()
        rows = await enqueue_replies(conn, applicant_id=applicant_id, channel="fake",
                                     chat_id="a", now=now, direct=offer,
                                     messages=[OutMessage(kind="text", text="late")])
    stop.set()
    await task
    sent_before = len(sender.sent)
    d.adopt(offer, rows)  # committed, but the dispatcher stopped meanwhile
    await _until(lambda: not d._direct)
    late = (await _rows(app, "a"))[-1]
    assert (late.status, late.lease_until, late.attempts) == (OutboxStatus.PENDING, None, 0)
    assert len(sender.sent) == sent_before
    await _sending(app, sender).drain()  # whoever sends next sends it
    assert sender.sent[-1] == ("a", "late")


async def test_replies_of_a_turn_with_effects_go_through_a_claim(
    app: App, counted: _CountedClaims
) -> None:
    """Effects may queue messages through the ORM before the replies' insert: the
    replies are then written pending and claimed behind them."""
    sender = ScriptedSender()
    d = _sending(app, sender)
    stop, task = await _serving(d, counted)
    await _turn(app, "a", 0, "/start")  # asks the language: no effect
    await _until(lambda: len(sender.sent) == 1)
    assert counted.calls == 1
    language = (await _rows(app, "a"))[0].payload["choices"][0]["id"]
    out = await app.runtime.handle(channel="fake", external_id="a", platform_id="a-1",
                                   event=InboundEvent.choose(language))  # an effect
    assert out.messages
    await _until(lambda: len(sender.sent) == 1 + len(out.messages))
    stop.set()
    await task
    assert counted.calls == 2
    assert [t for _, t in sender.sent[1:]] == [m.text for m in out.messages]


class HeldSender(ScriptedSender):
    """Holds every send until `go` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.go = asyncio.Event()
        self.waiting = 0

    async def send(self, delivery: Delivery) -> SendResult:
        self.waiting += 1
        await self.go.wait()
        return await super().send(delivery)


async def test_a_message_written_behind_replies_on_the_wire_is_sent_after_them(
    app: App, clock: Clock, counted: _CountedClaims
) -> None:
    """The claim its write wakes finds it held back by the replies (leased, in flight);
    once they are through it goes at once, not at the next sweep (60 s here)."""
    sender = HeldSender()
    d = _sending(app, sender)
    stop, task = await _serving(d, counted)
    replies = await _turn(app, "a", 0, "/start")
    await _until(lambda: sender.waiting == 1)  # the reply is on the wire
    await _queue(app, clock, "a", ["notice"])  # e.g. the office, in another process
    await _until(lambda: counted.calls == 2)  # woken: nothing it may take yet
    sender.go.set()
    await _until(lambda: len(sender.sent) == len(replies) + 1, seconds=5)
    stop.set()
    await task
    assert [t for _, t in sender.sent] == [m.text for m in replies] + ["notice"]
