"""Quiet hours: non-urgent rows wait from 21:00 to 06:00 in the recipient's zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.composition import App
from conversations.types import OutMessage
from notifications.dispatcher import deliver_once
from notifications.quiet_hours import quiet_until
from service.inbound import get_or_create_applicant
from service.outbox import PRIORITY_BULK, PRIORITY_REPLY, enqueue
from storage.models import OutboxMessage
from tests.conftest import Clock
from tests.rate_fake import RateLimitedFake

ZONES = ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura")
# (local time, quiet?)
EDGES = (((20, 59), False), ((21, 0), True), ((5, 59), True), ((6, 0), False))


def _at(tz: str, hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 24, hour, minute, tzinfo=ZoneInfo(tz)).astimezone(UTC)


@pytest.mark.parametrize("tz", ZONES)
def test_quiet_until_at_the_edges(tz: str) -> None:
    for (h, m), quiet in EDGES:
        until = quiet_until(_at(tz, h, m), tz)
        assert (until is not None) == quiet, (tz, h, m)
        if until is not None:
            local = until.astimezone(ZoneInfo(tz))
            assert (local.hour, local.minute) == (6, 0)
            assert timedelta(0) < until - _at(tz, h, m) <= timedelta(hours=9)


async def _queue(app: App, clock: Clock, chat: str, tz: str, *, urgent: bool,
                 priority: int = PRIORITY_BULK, text: str = "bulk") -> int:
    async with app.sessions() as s, s.begin():
        a = await get_or_create_applicant(s, "fake", chat, clock.now)
        row = enqueue(s, a, OutMessage(kind="text", text=text), now=clock.now,
                      priority=priority, urgent=urgent, quiet_tz=tz,
                      notification_type="broadcast")
        await s.flush()
        return row.id


@pytest.mark.parametrize("tz", ZONES)
async def test_held_in_quiet_hours_in_each_zone_and_urgent_passes(app: App, clock: Clock,
                                                                  tz: str) -> None:
    sender = RateLimitedFake(per_second=1000, per_chat_interval=0)
    for n, ((h, m), quiet) in enumerate(EDGES):
        clock.now = _at(tz, h, m)
        row = await _queue(app, clock, f"q{n}", tz, urgent=False)
        urgent = await _queue(app, clock, f"u{n}", tz, urgent=True)
        await deliver_once(app.sessions, sender, now=clock.now)
        assert (row in sender.delivered) == (not quiet), (tz, h, m)
        assert urgent in sender.delivered
        if quiet:
            async with app.sessions() as s:
                held = await s.get(OutboxMessage, row)
                assert held is not None and held.status == "pending"
                local = held.next_attempt_at.astimezone(ZoneInfo(tz))
                assert (local.hour, local.minute) == (6, 0)
            # At 06:00 local it goes.
            clock.now = held.next_attempt_at
            await deliver_once(app.sessions, sender, now=clock.now)
            assert row in sender.delivered


async def test_a_held_broadcast_row_does_not_hold_back_the_chats_reply(app: App,
                                                                       clock: Clock) -> None:
    sender = RateLimitedFake(per_second=1000, per_chat_interval=0)
    clock.now = _at("Asia/Jakarta", 22, 30)
    bulk = await _queue(app, clock, "same", "Asia/Jakarta", urgent=False)
    reply = await _queue(app, clock, "same", "Asia/Jakarta", urgent=True,
                         priority=PRIORITY_REPLY, text="reply")
    later_bulk = await _queue(app, clock, "same", "Asia/Jakarta", urgent=False)
    await deliver_once(app.sessions, sender, now=clock.now)
    await deliver_once(app.sessions, sender, now=clock.now)
    assert list(sender.delivered) == [reply]
    clock.now = _at("Asia/Jakarta", 6, 0) + timedelta(days=1)
    await deliver_once(app.sessions, sender, now=clock.now)
    assert list(sender.delivered) == [reply, bulk, later_bulk]
    async with app.sessions() as s:
        assert set((await s.scalars(select(OutboxMessage.status))).all()) == {"sent"}
