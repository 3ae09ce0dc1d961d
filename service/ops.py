"""Failures kept for a person, and what an operator may do with them.

Three kinds: `inbound` (an update that could not be handled: status failed), `outbox`
(a message the platform refused for good or after every attempt: status failed) and
`permit` (an approved permit whose rendering or signing failed: pending with an error;
the jobs keep retrying it). Retry puts a row back in its queue; discard takes it out
for good (an inbound payload is cleared too). Permits are never discarded: an approval
stands; revoke it or upload one signed elsewhere. Every action adds an `OpsAudit` row
in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import null, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.logctx import mask_nik
from storage.models import (
    Application,
    InboundMessage,
    InboundStatus,
    OpsAudit,
    OutboxMessage,
    OutboxStatus,
    Permit,
)


class Kind(StrEnum):
    inbound = "inbound"
    outbox = "outbox"
    permit = "permit"


class Action(StrEnum):
    retry = "retry"
    discard = "discard"


class OpsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # not_found | not_failed | not_allowed


@dataclass(frozen=True)
class Failure:
    kind: Kind
    id: int
    channel: str
    at: datetime | None
    reason: str
    ref: str  # chat key, chat id or registration number: what it is about


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    kind: str
    target_id: int
    detail: str | None


async def failures(sessions: async_sessionmaker[AsyncSession], *, kind: Kind | None = None,
                   limit: int = 200) -> list[Failure]:
    """Failed rows, newest first per kind, with their reasons (NIKs masked)."""
    found: list[Failure] = []
    async with sessions() as session:
        if kind in (None, Kind.inbound):
            for m in (await session.scalars(
                    select(InboundMessage).where(InboundMessage.status == InboundStatus.FAILED)
                    .order_by(InboundMessage.id.desc()).limit(limit))).all():
                found.append(Failure(Kind.inbound, m.id, m.channel, m.handled_at or m.received_at,
                                     mask_nik(m.error or "(no reason recorded)"), m.chat_key))
        if kind in (None, Kind.outbox):
            for o in (await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
                    .order_by(OutboxMessage.id.desc()).limit(limit))).all():
                found.append(Failure(Kind.outbox, o.id, o.channel, o.next_attempt_at,
                                     mask_nik(o.last_error or o.platform_error
                                              or "(no reason recorded)"),
                                     f"{o.channel}:{o.chat_id}"))
        if kind in (None, Kind.permit):
            rows = (await session.execute(
                select(Permit, Application.reg_no)
                .join(Application, Application.id == Permit.application_id)
                .where(Permit.status == "pending", Permit.last_error.is_not(None))
                .order_by(Permit.id.desc()).limit(limit))).all()
            for p, reg_no in rows:
                found.append(Failure(Kind.permit, p.id, "-", p.created_at,
                                     mask_nik(p.last_error or ""), reg_no))
    return found


async def act(sessions: async_sessionmaker[AsyncSession], *, kind: Kind, row_id: int,
              action: Action, actor: str, now: datetime) -> str:
    """Retry or discard one failed row and audit it; returns what was done, in words."""
    async with sessions() as session, session.begin():
        if kind is Kind.inbound:
            m = await session.get(InboundMessage, row_id, with_for_update=True)
            if m is None:
                raise OpsError("not_found", f"no inbound row {row_id}")
            if m.status != InboundStatus.FAILED:
                raise OpsError("not_failed", f"inbound row {row_id} is {m.status}, not failed")
            reason = m.error
            if action is Action.retry:
                if m.payload is None:
                    raise OpsError("not_allowed", f"inbound row {row_id} has no payload left "
                                   "(purged after the retention period): discard it")
                m.status, m.error, m.handled_at = InboundStatus.PENDING, None, None
                done = f"inbound row {row_id} queued again"
            else:
                m.status, m.payload = InboundStatus.DISCARDED, null()
                done = f"inbound row {row_id} discarded"
        elif kind is Kind.outbox:
            o = await session.get(OutboxMessage, row_id, with_for_update=True)
            if o is None:
                raise OpsError("not_found", f"no outbox row {row_id}")
            if o.status != OutboxStatus.FAILED:
                raise OpsError("not_failed", f"outbox row {row_id} is {o.status}, not failed")
            reason = o.last_error
            if action is Action.retry:
                o.status, o.attempts, o.next_attempt_at = OutboxStatus.PENDING, 0, now
                done = f"outbox row {row_id} queued again"
            else:
                o.status = OutboxStatus.CANCELLED
                done = f"outbox row {row_id} discarded"
        else:
            p = await session.get(Permit, row_id, with_for_update=True)
            if p is None:
                raise OpsError("not_found", f"no permit {row_id}")
            if p.status != "pending" or p.last_error is None:
                raise OpsError("not_failed", f"permit {row_id} has no failed signing")
            if action is Action.discard:
                raise OpsError("not_allowed", "a permit is never discarded: revoke it, or "
                               "upload one signed elsewhere")
            reason = p.last_error
            p.last_error = None  # the permit job produces it on its next round
            done = f"permit {row_id} will be produced again"
        session.add(OpsAudit(at=now, actor=actor[:120], action=action.value, kind=kind.value,
                             target_id=row_id, detail=mask_nik(reason) if reason else None))
    return done


async def audit_log(sessions: async_sessionmaker[AsyncSession], *,
                    limit: int = 100) -> list[AuditEntry]:
    async with sessions() as session:
        rows = (await session.scalars(
            select(OpsAudit).order_by(OpsAudit.id.desc()).limit(limit))).all()
    return [AuditEntry(r.at, r.actor, r.action, r.kind, r.target_id, r.detail) for r in rows]
