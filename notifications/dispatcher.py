"""Sending from the outbox: claim due rows, hand them to the channel's sender, record.

A row is claimed (pending -> sending) in its own short transaction before the platform
is called, and completed after, so two dispatchers never send the same row. A row left
in `sending` by a process that died is released after `stale_after` and sent again:
the platform never confirmed it to us.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from conversations.types import OutMessage
from notifications.quiet_hours import quiet_until
from storage.models import Applicant, OutboxMessage

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class SendResult:
    ok: bool
    platform_message_id: str | None = None
    retry_after: float | None = None  # seconds the platform asked us to wait
    unreachable: bool = False  # blocked, deleted, not on the platform: stop trying
    error: str | None = None
    permanent: bool = False  # retrying cannot help (bad request)


@dataclass(frozen=True)
class Delivery:
    """One outbox row as a sender sees it: the message plus what the row says about it.

    Senders need more than the text: WhatsApp picks a template outside the 24-hour
    window by `notification_type`, and may fall back to one on error 131047.
    """

    outbox_id: int
    applicant_id: int
    chat_id: str
    message: OutMessage
    priority: int = 0
    notification_type: str | None = None
    urgent: bool = True
    attempts: int = 1

    @staticmethod
    def of(row: OutboxMessage) -> Delivery:
        return Delivery(outbox_id=row.id, applicant_id=row.applicant_id, chat_id=row.chat_id,
                        message=OutMessage.from_payload(row.payload), priority=row.priority,
                        notification_type=row.notification_type, urgent=row.urgent,
                        attempts=row.attempts)


class Sender(Protocol):
    channel: str

    async def send(self, delivery: Delivery) -> SendResult: ...


def backoff_seconds(attempts: int) -> float:
    return float(min(2 ** attempts, 300))


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    channel: str,
    *,
    now: datetime,
    limit: int = 50,
    applicant_id: int | None = None,
    stale_after: timedelta = timedelta(minutes=5),
) -> list[OutboxMessage]:
    """Take up to `limit` due rows for sending, replies first, oldest first."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "sending",
                   OutboxMessage.next_attempt_at < now - stale_after,
                   OutboxMessage.channel == channel)
            .values(status="pending")
        )
        earlier = aliased(OutboxMessage)
        # A chat's messages go in order: nothing is claimed while an earlier message of
        # the same chat is in flight or waiting for a retry-after. A waiting broadcast or
        # reminder (held for quiet hours, say) does not hold back a reply or an urgent row.
        waiting = ((earlier.status == "pending") & (earlier.next_attempt_at > now)
                   & (earlier.priority <= OutboxMessage.priority)
                   & (earlier.urgent | ~OutboxMessage.urgent))
        blocked = (
            select(earlier.id)
            .where(earlier.channel == OutboxMessage.channel,
                   earlier.chat_id == OutboxMessage.chat_id,
                   earlier.id < OutboxMessage.id,
                   (earlier.status == "sending") | waiting)
            .exists()
        )
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.channel == channel,
                   OutboxMessage.next_attempt_at <= now, ~blocked)
            .order_by(OutboxMessage.priority, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if applicant_id is not None:
            stmt = stmt.where(OutboxMessage.applicant_id == applicant_id)
        rows = await _claimable(session, stmt, now)
        for row in rows:
            row.status = "sending"
            row.attempts += 1
            row.next_attempt_at = now  # marks when the claim was made
        return rows


async def _claimable(session: AsyncSession, stmt: Select[Any],
                     now: datetime) -> list[OutboxMessage]:
    """The selected rows minus those in their recipient's quiet hours, which are moved to
    06:00 local instead: each such row is looked at once a night, so the claim query
    stays a plain index scan on both SQLite and PostgreSQL."""
    while True:
        rows: list[OutboxMessage] = list((await session.scalars(stmt)).all())
        held = False
        for row in rows:
            if not row.urgent and row.quiet_tz:
                until = quiet_until(now, row.quiet_tz)
                if until is not None:
                    row.next_attempt_at = until
                    held = True
        if not held:
            return rows
        await session.flush()  # held rows no longer match; fill the batch again


async def complete(
    sessions: async_sessionmaker[AsyncSession],
    row: OutboxMessage,
    result: SendResult,
    *,
    now: datetime,
) -> None:
    async with sessions() as session, session.begin():
        values: dict[str, object]
        if result.ok:
            values = {"status": "sent", "sent_at": now,
                      "platform_message_id": result.platform_message_id, "last_error": None}
        elif result.unreachable:
            values = {"status": "unreachable", "last_error": result.error}
            await session.execute(
                update(Applicant).where(Applicant.id == row.applicant_id)
                .values(unreachable_at=now)
            )
        elif result.permanent or row.attempts >= MAX_ATTEMPTS:
            values = {"status": "failed", "last_error": result.error}
        else:
            wait = result.retry_after if result.retry_after is not None else backoff_seconds(
                row.attempts)
            values = {"status": "pending", "last_error": result.error,
                      "next_attempt_at": now + timedelta(seconds=wait)}
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id)
                              .values(**values))


async def complete_sent(
    sessions: async_sessionmaker[AsyncSession],
    done: Sequence[tuple[OutboxMessage, SendResult, datetime]],
) -> None:
    """Record many successful sends in one transaction (the runner's batches: one commit
    per batch instead of one per message keeps SQLite's single writer free)."""
    if not done:
        return
    async with sessions() as session, session.begin():
        for row, result, at in done:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row.id)
                .values(status="sent", sent_at=at,
                        platform_message_id=result.platform_message_id, last_error=None))


async def deliver_once(
    sessions: async_sessionmaker[AsyncSession],
    sender: Sender,
    *,
    now: datetime,
    limit: int = 50,
    applicant_id: int | None = None,
) -> Sequence[tuple[OutboxMessage, SendResult]]:
    """Claim and send one batch in order; used by the terminal chat and by tests."""
    rows = await claim(sessions, sender.channel, now=now, limit=limit,
                       applicant_id=applicant_id)
    done = []
    for row in rows:
        result = await sender.send(Delivery.of(row))
        await complete(sessions, row, result, now=now)
        done.append((row, result))
    return done
