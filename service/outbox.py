"""Writing to the outbox: every message to an applicant goes through here."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, event, insert, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from conversations.types import OutMessage
from storage.models import Applicant, OutboxMessage, OutboxStatus

PRIORITY_REPLY = 0  # a live conversation's reply goes before anything else
PRIORITY_NOTICE = 5  # a step change in the applicant's file
PRIORITY_BULK = 9  # broadcasts and reminders


class Written:
    """In-process wake-up of the dispatchers when outbox rows are written: on SQLite the
    only one (one process); on PostgreSQL a trigger's NOTIFY also reaches other processes.
    A wake-up before the commit is harmless: the dispatcher finds nothing and waits for
    the next (SQLite's single connection even makes its claim wait for that commit)."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def notify(self) -> None:
        for listener in list(self._listeners):
            listener()


written = Written()
_WRITTEN = "izin.outbox_written"


def mark_written(session: AsyncSession) -> None:
    """Wake the dispatchers when this session commits (rows written by ORM or Core)."""
    session.info[_WRITTEN] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_WRITTEN, False):
        written.notify()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


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
        status=OutboxStatus.PENDING,
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
    mark_written(session)
    return row


@dataclass(frozen=True)
class DirectClaim:
    """A dispatcher of this process that sends now, offering to take a turn's replies as
    they are written: inserted already claimed by it (no claim transaction, no wake-up)
    and handed to it once the turn commits."""

    owner: str
    lease: timedelta
    # Its rows sent whose success is not written yet: they no longer hold a chat back.
    sent: tuple[int, ...]
    offered_at: float  # monotonic: the lease counts from here
    mark: int = 0  # the dispatcher's own note of when it offered


class DirectSender(Protocol):
    channel: str

    def offer(self) -> DirectClaim | None:
        """A claim to write the replies under, or None (not sending now)."""
        ...

    def adopt(self, claim: DirectClaim, rows: Sequence[Any]) -> None:
        """Send these committed rows, written under `claim` (all of the outbox's columns)."""
        ...


async def enqueue_replies(
    conn: AsyncConnection,
    *,
    applicant_id: int,
    channel: str,
    chat_id: str,
    messages: Sequence[OutMessage],
    now: datetime,
    direct: DirectClaim | None = None,
) -> list[Any]:
    """A turn's replies in one statement (executemany), in order: the hot path of every
    inbound event, where an ORM flush of each row cost more than the insert. With a
    `direct` claim (the caller found nothing of the chat's unsent before them) they are
    written claimed, and returned for `DirectSender.adopt` after the commit."""
    if not messages:
        return []
    params = [{"v_applicant_id": applicant_id, "v_channel": channel, "v_chat_id": chat_id,
               "v_payload": m.to_payload(), "now": now} for m in messages]
    if direct is None:
        await conn.execute(_INSERT_REPLY, params)
        written.notify()  # the caller commits next, holding the connection until then
        return []
    for p in params:
        # A name bound twice in one row breaks RETURNING's multi-row VALUES on asyncpg.
        p.update(v_owner=direct.owner, v_until=now + direct.lease, v_created=now)
    return list((await conn.execute(_INSERT_CLAIMED, params)).all())


def unsent(status: Any) -> Any:
    """Status pending or sending, as the literal text of the outbox's partial indexes'
    predicate (a planner matches only the same text; a bound parameter would not)."""
    return status.in_([literal_column(f"'{s}'") for s in (OutboxStatus.PENDING,
                                                          OutboxStatus.SENDING)])


_outbox = cast(Table, OutboxMessage.__table__)
_INSERT_REPLY = insert(_outbox).values(
    applicant_id=bindparam("v_applicant_id"), channel=bindparam("v_channel"),
    chat_id=bindparam("v_chat_id"), payload=bindparam("v_payload"), priority=PRIORITY_REPLY,
    status=OutboxStatus.PENDING, attempts=0, next_attempt_at=bindparam("now"),
    created_at=bindparam("now"), urgent=True,
)
# Claimed as the dispatcher's claim leaves a row (attempts counted); PostgreSQL's
# NOTIFY trigger fires for pending rows only, so nobody else is woken for these.
_INSERT_CLAIMED = (
    insert(_outbox).values(
        applicant_id=bindparam("v_applicant_id"), channel=bindparam("v_channel"),
        chat_id=bindparam("v_chat_id"), payload=bindparam("v_payload"),
        priority=PRIORITY_REPLY, status=OutboxStatus.SENDING, attempts=1,
        claimed_by=bindparam("v_owner"), lease_until=bindparam("v_until"),
        next_attempt_at=bindparam("now"), created_at=bindparam("v_created"), urgent=True)
    .returning(*_outbox.c, sort_by_parameter_order=True)
)
# Whether the chat has a message not sent yet, other than the offering dispatcher's
# sent ones: replies written claimed would overtake it.
CHAT_UNSENT = (
    select(_outbox.c.id)
    .where(_outbox.c.channel == bindparam("v_out_channel"),
           _outbox.c.chat_id == bindparam("v_out_chat"), unsent(_outbox.c.status),
           _outbox.c.id.not_in(bindparam("v_out_sent", expanding=True)))
    .exists()
)
