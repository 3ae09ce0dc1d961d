"""A WhatsApp user changed their number: the applicant, their conversation and their
unsent replies move to the new number (the platform tells us in a `system` message).

Nothing is answered: the person wrote nothing, and the next message from the new number
finds the same applicant, application and dialogue where they left them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Applicant, InboundMessage, InboundStatus, OutboxMessage

log = logging.getLogger(__name__)


async def move_number(sessions: async_sessionmaker[AsyncSession], *, channel: str,
                      old: str, new: str, inbound_id: int | None, now: datetime) -> bool:
    """Move the applicant on `old` to `new`; True when moved. When `new` already has an
    applicant of its own (they wrote from it first), both are kept as they are: merging
    two people's records is a person's decision. Marks the system message handled."""
    moved = False
    async with sessions() as session, session.begin():
        if inbound_id is not None:
            done = await session.execute(
                update(InboundMessage)
                .where(InboundMessage.id == inbound_id,
                       InboundMessage.status == InboundStatus.PENDING)
                .values(status=InboundStatus.DONE, handled_at=now))
            # Handled already (another worker, a redelivery).
            if cast(CursorResult[Any], done).rowcount == 0:
                return False
        applicant = await session.scalar(select(Applicant).where(
            Applicant.channel == channel, Applicant.external_id == old).with_for_update())
        taken = await session.scalar(select(Applicant.id).where(
            Applicant.channel == channel, Applicant.external_id == new))
        if applicant is not None and taken is None and new and new != old:
            applicant.external_id = new
            applicant.unreachable_at = None
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.channel == channel, OutboxMessage.chat_id == old,
                       OutboxMessage.status.in_(("pending", "held")))
                .values(chat_id=new))
            moved = True
        elif applicant is not None:
            log.warning("number change of applicant %s not applied: the new number "
                        "already has an applicant", applicant.id)
    return moved
