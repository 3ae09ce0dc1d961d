"""Status webhooks (sent, delivered, read, failed) recorded against the outbox.

They arrive late, twice, and out of order: a "read" may come before its "delivered",
and a "sent" before the dispatcher has written the wamid to the row. So each is first
kept (`record`, unique per wamid and status), then applied when its row is known
(`apply_pending`); a status never moves a row backwards. A `failed` one after the send
was accepted is handled like the error would have been: 131047 puts the row back to go
as a template, 131026 marks the applicant unreachable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.whatsapp import CHANNEL
from bot.channels.whatsapp.payloads import Status
from bot.channels.whatsapp.sender import OUTSIDE_WINDOW, UNDELIVERABLE
from storage.models import Applicant, OutboxMessage, WhatsAppStatus

RANK = {"sent": 1, "delivered": 2, "read": 3}
KEEP_UNMATCHED = timedelta(days=7)  # a status whose message we never learn of


async def record(sessions: async_sessionmaker[AsyncSession], statuses: Sequence[Status], *,
                 now: datetime) -> None:
    if not statuses:
        return
    async with sessions() as session, session.begin():
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        for s in statuses:
            await session.execute(insert(WhatsAppStatus).values(
                wamid=s.wamid, status=s.status, at=s.at, recipient=s.recipient,
                error_code=s.error_code, error=(s.error or None) and s.error[:2000],
                received_at=now).on_conflict_do_nothing(index_elements=["wamid", "status"]))


async def apply_pending(sessions: async_sessionmaker[AsyncSession], *, now: datetime,
                        limit: int = 500) -> int:
    """Apply kept statuses whose message is known; returns how many were applied."""
    async with sessions() as session, session.begin():
        waiting = list((await session.scalars(
            select(WhatsAppStatus).where(WhatsAppStatus.applied_at.is_(None))
            .order_by(WhatsAppStatus.id).limit(limit))).all())
        if not waiting:
            return 0
        rows = {r.platform_message_id: r for r in (await session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.channel == CHANNEL,
                OutboxMessage.platform_message_id.in_({s.wamid for s in waiting}))
            .with_for_update())).all()}
        applied = 0
        # Within a batch, the platform's own order (timestamp, then our rank) decides.
        for s in sorted(waiting, key=lambda s: (s.at, RANK.get(s.status, 4), s.id)):
            row = rows.get(s.wamid)
            if row is None:
                if s.received_at < now - KEEP_UNMATCHED:
                    s.applied_at = now  # give up on it, but keep the record
                continue
            await _apply(session, row, s, now)
            s.applied_at = now
            applied += 1
        return applied


async def _apply(session: AsyncSession, row: OutboxMessage, s: WhatsAppStatus,
                 now: datetime) -> None:
    current = RANK.get(row.platform_status or "", 0)
    if s.status in RANK:
        if s.status in ("delivered", "read") and row.delivered_at is None:
            row.delivered_at = s.at  # a read implies delivered (Meta may skip that webhook)
        if s.status == "read" and row.read_at is None:
            row.read_at = s.at
        if RANK[s.status] > current:
            row.platform_status = s.status
        return
    # failed
    row.platform_error = f"{s.error_code}: {s.error or 'failed'}"
    if current >= RANK["delivered"]:
        return  # it reached the phone; a late failure (another device) changes nothing
    row.platform_status = "failed"
    if row.status != "sent":
        return
    if s.error_code == OUTSIDE_WINDOW and row.template_name is None:
        # Accepted, then refused for the window: send it again, as its template.
        row.status, row.next_attempt_at, row.platform_status = "pending", now, None
        row.platform_message_id = None
    elif s.error_code == UNDELIVERABLE:
        row.status, row.last_error = "unreachable", row.platform_error
        await session.execute(update(Applicant).where(Applicant.id == row.applicant_id)
                              .values(unreachable_at=now))
    else:
        row.status, row.last_error = "failed", row.platform_error
