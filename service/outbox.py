"""Writing to the outbox: every message to an applicant goes through here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from conversations.types import OutMessage
from storage.models import Applicant, OutboxMessage

PRIORITY_REPLY = 0  # a live conversation's reply goes before anything else
PRIORITY_NOTICE = 5  # a step change in the applicant's file
PRIORITY_BULK = 9  # broadcasts and reminders


def enqueue(
    session: AsyncSession,
    applicant: Applicant,
    message: OutMessage,
    *,
    now: datetime,
    priority: int = PRIORITY_REPLY,
    dedupe_key: str | None = None,
    notification_type: str | None = None,
    urgent: bool = True,
    quiet_tz: str | None = None,
    broadcast_id: int | None = None,
) -> OutboxMessage:
    """Queue one message. `quiet_tz` (the recipient's region zone) subjects a non-urgent
    row to quiet hours there. A message with choices also becomes the chat's current
    choices, so a number typed after it means one of them (the engine takes them in)."""
    if message.kind == "choices" and message.choices:
        applicant.notice_choices = {
            "token": uuid.uuid4().hex,
            "choices": [[c.id, c.label] for c in message.choices],
        }
    row = OutboxMessage(
        applicant_id=applicant.id,
        channel=applicant.channel,
        chat_id=applicant.external_id,
        payload=message.to_payload(),
        priority=priority,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        dedupe_key=dedupe_key,
        notification_type=notification_type,
        urgent=urgent,
        quiet_tz=quiet_tz,
        broadcast_id=broadcast_id,
    )
    session.add(row)
    return row


async def enqueue_replies(
    conn: AsyncConnection,
    *,
    applicant_id: int,
    channel: str,
    chat_id: str,
    messages: Sequence[OutMessage],
    now: datetime,
) -> None:
    """A turn's replies in one statement (executemany), in order: the hot path of every
    inbound event, where an ORM flush of each row cost more than the insert."""
    if not messages:
        return
    await conn.execute(_INSERT_REPLY, [
        {"v_applicant_id": applicant_id, "v_channel": channel, "v_chat_id": chat_id,
         "v_payload": m.to_payload(), "now": now}
        for m in messages
    ])


_outbox = cast(Table, OutboxMessage.__table__)
_INSERT_REPLY = insert(_outbox).values(
    applicant_id=bindparam("v_applicant_id"), channel=bindparam("v_channel"),
    chat_id=bindparam("v_chat_id"), payload=bindparam("v_payload"), priority=PRIORITY_REPLY,
    status="pending", attempts=0, next_attempt_at=bindparam("now"),
    created_at=bindparam("now"), urgent=True,
)
