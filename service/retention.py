"""Personal data kept no longer than needed: raw platform payloads (applicants type
their NIK into chats) are cleared once handled and older than the retention period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import null, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import InboundMessage, InboundStatus


async def purge_payloads(sessions: async_sessionmaker[AsyncSession], *,
                         before: datetime) -> int:
    """Clear the payload of every inbound row received before `before` that is no longer
    waiting to be handled; returns how many were cleared. The row itself (platform id,
    status, reason) stays: it keeps repeats out and the failure visible."""
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(InboundMessage)
            .where(InboundMessage.received_at < before,
                   InboundMessage.status != InboundStatus.PENDING,
                   InboundMessage.payload.is_not(None))
            .values(payload=null()))  # SQL NULL (None would store JSON null)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
