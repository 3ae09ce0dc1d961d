"""Sending from the outbox: claim due rows, hand them to the channel's sender, record.

A claim is a lease: one statement moves due rows to `sending`, naming the dispatcher
(`claimed_by`) and how long the claim holds (`lease_until`); a live dispatcher renews
its leases (runner.py), so a dead one's rows are claimed again seconds after it
stopped renewing. The platform never confirmed those to us, so they are sent again:
at most once more, and only the ones that were on the wire. A completion counts only
while the claim is still the completer's.

On PostgreSQL claims of one channel are serialized by a transaction-scoped advisory lock:
each claim sees the previous one committed, so a chat's rows go strictly in order even
with several processes; SKIP LOCKED steps over rows another transaction is changing.
"""

from __future__ import annotations

import os
import secrets
import socket
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from conversations.types import OutMessage
from notifications.quiet_hours import quiet_until
from service.outbox import unsent
from storage.models import Applicant, OutboxMessage, OutboxStatus

MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class SendResult:
    ok: bool
    platform_message_id: str | None = None
    retry_after: float | None = None  # seconds the platform asked us to wait
    unreachable: bool = False  # blocked, deleted, not on the platform: stop trying
    error: str | None = None
    permanent: bool = False  # retrying cannot help (bad request)


class Claimed(Protocol):
    """A claimed outbox row as the claim returns it (a result row with every column of
    `outbox_messages`; an `OutboxMessage` reads the same)."""

    @property
    def id(self) -> int: ...
    @property
    def applicant_id(self) -> int: ...
    @property
    def chat_id(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def priority(self) -> int: ...
    @property
    def notification_type(self) -> str | None: ...
    @property
    def urgent(self) -> bool: ...
    @property
    def attempts(self) -> int: ...
    @property
    def claimed_by(self) -> str | None: ...
    @property
    def next_attempt_at(self) -> datetime: ...
    @property
    def quiet_tz(self) -> str | None: ...


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
    def of(row: Claimed) -> Delivery:
        return Delivery(outbox_id=row.id, applicant_id=row.applicant_id, chat_id=row.chat_id,
                        message=OutMessage.from_payload(row.payload), priority=row.priority,
                        notification_type=row.notification_type, urgent=row.urgent,
                        attempts=row.attempts)


class Sender(Protocol):
    channel: str

    async def send(self, delivery: Delivery) -> SendResult: ...


def backoff_seconds(attempts: int) -> float:
    return float(min(2 ** attempts, 300))


LEASE = timedelta(seconds=5)
_ANONYMOUS = "anonymous"  # claims made outside a Dispatcher (tests, one-shot commands)


def new_owner() -> str:
    """A claim token naming this dispatcher: host, process, and a random part (a restarted
    process with the same pid is someone else)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(6)}"


def lock_key(name: str) -> int:
    """A stable 32-bit key for a PostgreSQL advisory lock (per channel and purpose)."""
    return zlib.crc32(f"izin:{name}".encode())


_CLAIM_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def _claim_statement(pg: bool, applicant: bool) -> Any:
    o = cast(Table, OutboxMessage.__table__)
    e = aliased(OutboxMessage)
    now: Any = bindparam("now")
    # A chat's messages go in order: nothing is claimed while an earlier message of the
    # same chat is in flight (a live lease) or waiting for a retry-after. A waiting
    # broadcast or reminder (held for quiet hours, say) does not hold back a reply or an
    # urgent row. An expired lease is due again, like a pending row.
    live = (e.status == OutboxStatus.SENDING) & (e.lease_until >= now)
    # UNSENT as literal SQL in both WHEREs: it is the partial indexes' predicate, which a
    # planner matches only against the same text (a bound parameter would not match).
    waiting = ((e.status == OutboxStatus.PENDING) & (e.next_attempt_at > now)
               & (e.priority <= o.c.priority) & (e.urgent | ~o.c.urgent))
    blocked = (select(e.id).where(e.channel == o.c.channel, e.chat_id == o.c.chat_id,
                                  e.id < o.c.id, unsent(e.status), live | waiting).exists())
    due = (((o.c.status == OutboxStatus.PENDING) & (o.c.next_attempt_at <= now))
           | ((o.c.status == OutboxStatus.SENDING) & (o.c.lease_until < now)))
    pick = (select(o.c.id).where(o.c.channel == bindparam("v_channel"), unsent(o.c.status),
                                 due, ~blocked)
            .order_by(o.c.priority, o.c.id).limit(bindparam("limit")))
    if applicant:
        pick = pick.where(o.c.applicant_id == bindparam("v_applicant"))
    if pg:
        pick = pick.with_for_update(skip_locked=True)
    # Core, not the ORM: rows come back as plain named tuples (`Claimed`), without the
    # ORM's bulk-update machinery, which rebuilt the statement's cache key per claim.
    return (update(o).where(o.c.id.in_(pick.scalar_subquery()))
            .values(status=OutboxStatus.SENDING, claimed_by=bindparam("owner"),
                    lease_until=bindparam("until"), attempts=o.c.attempts + 1)
            .returning(*o.c))


_CLAIMS = {(pg, a): _claim_statement(pg, a) for pg in (False, True) for a in (False, True)}


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    channel: str,
    *,
    now: datetime,
    limit: int = 50,
    applicant_id: int | None = None,
    owner: str = _ANONYMOUS,
    lease: timedelta = LEASE,
    holds: list[datetime] | None = None,
    sent: Sequence[tuple[Claimed, SendResult, datetime]] = (),
) -> list[Claimed]:
    """Take up to `limit` due rows for sending, replies first, oldest first, leased to
    `owner` until `now + lease`. One UPDATE ... RETURNING (after the channel's advisory
    lock on PostgreSQL). Rows put back for quiet hours add their due time to `holds`.
    `sent`: successful sends recorded first, in the same transaction (one commit
    instead of two; a chat's next row is free once its earlier one is recorded)."""
    async with sessions() as session, session.begin():
        conn = await session.connection()
        if sent:
            await conn.execute(_RECORD_SENT, _sent_params(sent))
        pg = conn.dialect.name == "postgresql"
        if pg:
            await conn.execute(_CLAIM_LOCK, {"key": lock_key(f"claim:{channel}")})
        stmt = _CLAIMS[(pg, applicant_id is not None)]
        params: dict[str, Any] = {"now": now, "v_channel": channel, "limit": limit,
                                  "owner": owner, "until": now + lease}
        if applicant_id is not None:
            params["v_applicant"] = applicant_id
        rows: list[Claimed] = []
        while True:
            got = cast(list[Claimed], list((await conn.execute(stmt, params)).all()))
            kept = await _outside_quiet_hours(conn, got, now, holds)
            rows += kept
            if len(kept) == len(got) or len(rows) >= limit:
                break
            params["limit"] = limit - len(rows)  # held rows no longer match; fill up
        rows.sort(key=lambda r: (r.priority, r.id))
        return rows


_t = cast(Table, OutboxMessage.__table__)
_HOLD = (update(_t).where(_t.c.id == bindparam("row_id"))
         .values(status=OutboxStatus.PENDING, claimed_by=None, lease_until=None,
                 attempts=_t.c.attempts - 1, next_attempt_at=bindparam("until")))


async def _outside_quiet_hours(conn: AsyncConnection, rows: list[Claimed],
                               now: datetime, holds: list[datetime] | None = None,
                               ) -> list[Claimed]:
    """The claimed rows minus those in their recipient's quiet hours, which go back with
    `next_attempt_at` at 06:00 local: each such row is looked at once a night, and the
    claim stays one plain statement on both SQLite and PostgreSQL."""
    held: list[dict[str, Any]] = []
    kept = []
    for row in rows:
        until = quiet_until(now, row.quiet_tz) if not row.urgent and row.quiet_tz else None
        if until is None:
            kept.append(row)
        else:
            held.append({"row_id": row.id, "until": until})
    if held:
        await conn.execute(_HOLD, held)
        if holds is not None:
            holds.extend(h["until"] for h in held)
    return kept


_ours = (_t.c.id == bindparam("row_id")) & (_t.c.claimed_by == bindparam("claim")) & (
    _t.c.status == OutboxStatus.SENDING)
_RECORD_SENT = update(_t).where(_ours).values(
    status=OutboxStatus.SENT, sent_at=bindparam("at"), platform_message_id=bindparam("pmid"),
    last_error=None, lease_until=None)
_RECORD = update(_t).where(_ours).values(
    status=bindparam("v_status"), last_error=bindparam("v_error"),
    next_attempt_at=bindparam("v_next"), lease_until=None)
_RELEASE = update(_t).where(_ours).values(
    status=bindparam("v_status"), last_error=bindparam("v_error"),
    next_attempt_at=bindparam("v_next"), lease_until=None, attempts=_t.c.attempts - 1)
_a = cast(Table, Applicant.__table__)
_UNREACHABLE = update(_a).where(_a.c.id == bindparam("applicant")).values(
    unreachable_at=bindparam("at"))


def outcome(row: Claimed, result: SendResult, now: datetime) -> dict[str, Any]:
    """What a failed send leaves on its row (one UPDATE's parameters)."""
    if result.unreachable:
        status, nxt = OutboxStatus.UNREACHABLE, row.next_attempt_at
    elif result.permanent or row.attempts >= MAX_ATTEMPTS:
        status, nxt = OutboxStatus.FAILED, row.next_attempt_at
    else:
        wait = result.retry_after if result.retry_after is not None else backoff_seconds(
            row.attempts)
        status, nxt = OutboxStatus.PENDING, now + timedelta(seconds=wait)
    return {"row_id": row.id, "claim": row.claimed_by, "v_status": status,
            "v_error": result.error, "v_next": nxt}


async def complete(
    sessions: async_sessionmaker[AsyncSession],
    row: Claimed,
    result: SendResult,
    *,
    now: datetime,
) -> None:
    if result.ok:
        await complete_sent(sessions, [(row, result, now)])
        return
    async with sessions() as session, session.begin():
        await session.execute(_RECORD, outcome(row, result, now))
        if result.unreachable:
            await session.execute(_UNREACHABLE, {"applicant": row.applicant_id, "at": now})


async def complete_sent(
    sessions: async_sessionmaker[AsyncSession],
    done: Sequence[tuple[Claimed, SendResult, datetime]],
) -> None:
    """Record many successful sends: one executemany UPDATE, one commit per batch (keeps
    SQLite's single writer free)."""
    if not done:
        return
    # On the engine's connection, not a session: one statement needs no ORM session, and
    # this runs for nearly every message sent.
    async with _engine(sessions).begin() as conn:
        await conn.execute(_RECORD_SENT, _sent_params(done))


def _engine(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    return cast(AsyncEngine, sessions.kw["bind"])


def _sent_params(done: Sequence[tuple[Claimed, SendResult, datetime]]
                 ) -> list[dict[str, Any]]:
    return [{"row_id": row.id, "claim": row.claimed_by, "at": at,
             "pmid": result.platform_message_id} for row, result, at in done]


async def release(
    sessions: async_sessionmaker[AsyncSession],
    rows: Sequence[Claimed],
    *,
    at: datetime,
    unreachable: SendResult | None = None,
) -> None:
    """Give back claimed rows that were not attempted (a chat's later rows after a failure,
    or rows a dispatcher stopped before sending): due again at `at`, their attempt not
    counted; or all unreachable when the chat is."""
    if not rows:
        return
    status = OutboxStatus.UNREACHABLE if unreachable else OutboxStatus.PENDING
    error = unreachable.error if unreachable else None
    async with sessions() as session, session.begin():
        await session.execute(_RELEASE, [
            {"row_id": r.id, "claim": r.claimed_by, "v_status": status, "v_error": error,
             "v_next": at} for r in rows])


_RENEW = (update(_t)
          .where(_t.c.id.in_(bindparam("ids", expanding=True)),
                 _t.c.claimed_by == bindparam("owner"), _t.c.status == OutboxStatus.SENDING)
          .values(lease_until=bindparam("until")))


async def renew(sessions: async_sessionmaker[AsyncSession], ids: Sequence[int], *,
                owner: str, until: datetime) -> None:
    if ids:
        async with sessions() as session, session.begin():
            await session.execute(_RENEW, {"ids": list(ids), "owner": owner, "until": until})


def _next_due_statement() -> Any:
    o = OutboxMessage
    waiting = (select(func.min(o.next_attempt_at))
               .where(o.status == OutboxStatus.PENDING, o.channel == bindparam("channel"),
                      o.next_attempt_at > bindparam("now")).scalar_subquery())
    leased = (select(func.min(o.lease_until))
              .where(o.status == OutboxStatus.SENDING, o.channel == bindparam("channel"),
                     o.lease_until > bindparam("now"), o.claimed_by != bindparam("owner"))
              .scalar_subquery())
    return select(waiting, leased)


_NEXT_DUE = _next_due_statement()


async def next_due(sessions: async_sessionmaker[AsyncSession], channel: str, *,
                   now: datetime, owner: str) -> datetime | None:
    """When something of this channel becomes due without anyone writing: a retry-after
    or backoff ends, quiet hours end, or another dispatcher's lease expires."""
    async with sessions() as session:
        row = (await session.execute(_NEXT_DUE, {"channel": channel, "now": now,
                                                 "owner": owner})).one()
    times = [t for t in row if t is not None]
    return min(times) if times else None


async def deliver_once(
    sessions: async_sessionmaker[AsyncSession],
    sender: Sender,
    *,
    now: datetime,
    limit: int = 50,
    applicant_id: int | None = None,
) -> Sequence[tuple[Claimed, SendResult]]:
    """Claim and send one batch in order; used by the terminal chat and by tests."""
    rows = await claim(sessions, sender.channel, now=now, limit=limit,
                       applicant_id=applicant_id)
    done = []
    for row in rows:
        result = await sender.send(Delivery.of(row))
        await complete(sessions, row, result, now=now)
        done.append((row, result))
    return done
