"""One inbound message, start to finish, in one transaction.

Record the platform's message id (a repeat stops here), lock the conversation, load
its state, run the engine, apply its effects, save the state, write the replies to
the outbox, commit. Nothing reaches a platform from here: the dispatcher sends
from the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from conversations import engine
from conversations.types import (
    ApplicationView,
    Context,
    DocumentView,
    InboundEvent,
    OutMessage,
    PermitView,
    State,
)
from licensing.calendar import WorkingCalendar
from licensing.catalog import Catalog
from service.effects import RegistrationNumberTaken, apply_effects
from service.outbox import enqueue
from storage.filestore import StoredBlob
from storage.models import (
    Applicant,
    Application,
    Blob,
    Conversation,
    InboundMessage,
    Permit,
    SurveyResponse,
)

log = logging.getLogger(__name__)

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a counter


def random_code(length: int = 6) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


@dataclass(frozen=True)
class Outcome:
    duplicate: bool
    messages: tuple[OutMessage, ...] = ()
    applicant_id: int | None = None


@dataclass
class Runtime:
    """What handling an event needs besides the event: built once by the composition root."""

    sessions: async_sessionmaker[AsyncSession]
    catalog: Catalog
    calendar: WorkingCalendar
    max_upload_bytes: int = 10 * 1024 * 1024
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_code: Callable[[], str] = random_code

    def __post_init__(self) -> None:
        # Events of one chat run one at a time in this process (the row lock does it
        # across processes); different chats run in parallel.
        self._chat_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def chat_lock(self, key: str) -> asyncio.Lock:
        lock = self._chat_locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._chat_locks[key] = lock
        return lock

    async def record_pending(
        self, *, channel: str, platform_id: str, chat_key: str, payload: dict[str, Any]
    ) -> int | None:
        """Store a platform payload durably before the webhook answers 200.

        Returns the new row's id, or None when this platform id was seen before (the
        platform retried): either way the webhook may answer 200.
        """
        now = self.clock()
        async with self.sessions() as session:
            try:
                async with session.begin():
                    row = InboundMessage(channel=channel, platform_id=platform_id,
                                         chat_key=chat_key, payload=payload,
                                         status="pending", received_at=now)
                    session.add(row)
                    await session.flush()
                    return row.id
            except IntegrityError:
                if await _seen(session, channel, platform_id):
                    return None
                raise

    async def pending(self, channel: str, *, limit: int = 100) -> list[InboundMessage]:
        """Recorded payloads not handled yet, oldest first (also after a restart)."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(InboundMessage)
                .where(InboundMessage.channel == channel, InboundMessage.status == "pending")
                .order_by(InboundMessage.id).limit(limit)
            )
            return list(rows.all())

    async def mark_failed(self, inbound_id: int, error: str) -> None:
        """A payload that could not be handled: kept for a person to look at, not retried."""
        async with self.sessions() as session, session.begin():
            row = await session.get(InboundMessage, inbound_id)
            if row is not None and row.status == "pending":
                row.status = "failed"
                row.error = error[:2000]
                row.handled_at = self.clock()

    async def handle(
        self,
        *,
        channel: str,
        external_id: str,
        platform_id: str,
        event: InboundEvent,
        display_name: str | None = None,
        blob: StoredBlob | None = None,
        pending_id: int | None = None,
    ) -> Outcome:
        """Run one event. With `pending_id`, the payload was recorded by `record_pending`
        and this marks it handled in the same transaction (handled at most once)."""
        async with self.chat_lock(f"{channel}:{external_id}"):
            for _ in range(3):
                try:
                    return await self._handle(channel, external_id, platform_id, event,
                                              display_name, blob, pending_id)
                except RegistrationNumberTaken:
                    log.warning("registration number collision; running the event again")
            raise RuntimeError("three registration number collisions in a row")

    async def _handle(
        self,
        channel: str,
        external_id: str,
        platform_id: str,
        event: InboundEvent,
        display_name: str | None,
        blob: StoredBlob | None,
        pending_id: int | None,
    ) -> Outcome:
        now = self.clock()
        async with self.sessions() as session:
            try:
                async with session.begin():
                    if pending_id is not None:
                        recorded = await session.scalar(
                            select(InboundMessage).where(InboundMessage.id == pending_id)
                            .with_for_update())
                        if recorded is None or recorded.status != "pending":
                            return Outcome(duplicate=True)
                        recorded.status, recorded.handled_at = "done", now
                    else:
                        session.add(InboundMessage(
                            channel=channel, platform_id=platform_id,
                            chat_key=f"{channel}:{external_id}", status="done",
                            received_at=now, handled_at=now,
                        ))
                        await session.flush()
                    return await self._run(session, channel, external_id, event,
                                           display_name, blob, now)
            except IntegrityError:
                if await _seen(session, channel, platform_id):
                    return Outcome(duplicate=True)
                raise

    async def _run(
        self,
        session: AsyncSession,
        channel: str,
        external_id: str,
        event: InboundEvent,
        display_name: str | None,
        blob: StoredBlob | None,
        now: datetime,
    ) -> Outcome:
        applicant = await get_or_create_applicant(session, channel, external_id, now)
        applicant.last_inbound_at = now
        applicant.unreachable_at = None  # they just wrote to us
        if display_name and not applicant.display_name:
            applicant.display_name = display_name[:200]
        conv = await _locked_conversation(session, applicant.id, now)
        if blob is not None:
            await _record_blob(session, blob, now)

        ctx = Context(
            now=now,
            catalog=self.catalog,
            calendar=self.calendar,
            new_code=self.new_code,
            applications=await application_views(session, applicant.id, self.catalog),
            max_upload_bytes=self.max_upload_bytes,
        )
        result = engine.step(State.from_dict(conv.state), event, ctx)
        await apply_effects(session, applicant, result.effects, catalog=self.catalog,
                            calendar=self.calendar, now=now)
        conv.state = result.state.to_dict()
        conv.version += 1
        conv.updated_at = now
        for message in result.messages:
            enqueue(session, applicant, message, now=now)
        return Outcome(duplicate=False, messages=result.messages, applicant_id=applicant.id)


async def _seen(session: AsyncSession, channel: str, platform_id: str) -> bool:
    found = await session.scalar(
        select(InboundMessage.id).where(
            InboundMessage.channel == channel, InboundMessage.platform_id == platform_id
        )
    )
    return found is not None


async def get_or_create_applicant(
    session: AsyncSession, channel: str, external_id: str, now: datetime
) -> Applicant:
    stmt = select(Applicant).where(
        Applicant.channel == channel, Applicant.external_id == external_id
    )
    applicant = await session.scalar(stmt)
    if applicant is None:
        applicant = Applicant(channel=channel, external_id=external_id, created_at=now,
                              lang="id")
        session.add(applicant)
        await session.flush()
    return applicant


async def _locked_conversation(
    session: AsyncSession, applicant_id: int, now: datetime
) -> Conversation:
    conv = await session.scalar(
        select(Conversation).where(Conversation.applicant_id == applicant_id).with_for_update()
    )
    if conv is None:
        conv = Conversation(applicant_id=applicant_id, state=State().to_dict(), version=0,
                            updated_at=now)
        session.add(conv)
        await session.flush()
    return conv


async def _record_blob(session: AsyncSession, blob: StoredBlob, now: datetime) -> None:
    """Record a stored file once. Two chats may upload the same bytes at the same moment
    (the store is content-addressed), so the insert must tolerate the other's row:
    a check-then-insert raced on PostgreSQL (found by bench/journeys.py)."""
    values = dict(sha256=blob.sha256, size=blob.size, kind=blob.kind,
                  media_type=blob.media_type, pages=blob.pages, width=blob.width,
                  height=blob.height, created_at=now)
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(insert(Blob).values(**values).on_conflict_do_nothing(
        index_elements=["sha256"]))


async def application_views(
    session: AsyncSession, applicant_id: int, catalog: Catalog | None = None
) -> tuple[ApplicationView, ...]:
    apps = (await session.scalars(
        select(Application)
        .where(Application.applicant_id == applicant_id)
        .options(selectinload(Application.documents))
        .order_by(Application.id)
    )).all()
    permits: dict[int, PermitView] = {}
    decided = [a.id for a in apps if a.status not in ("open", "rejected")]
    if decided:  # only files past approval can have a permit or a survey
        surveyed = set((await session.scalars(select(SurveyResponse.application_id).where(
            SurveyResponse.application_id.in_(decided)))).all())
        for p in (await session.scalars(select(Permit).where(
                Permit.application_id.in_(decided)))).all():
            entry = catalog.find(p.region, p.profession) if catalog else None
            permits[p.application_id] = PermitView(
                status=p.status, number=p.number, blob_sha256=p.blob_sha256,
                survey_required=entry.survey_before_download if entry else True,
                survey_done=p.application_id in surveyed, delivered=p.delivered_at is not None)
    return tuple(
        ApplicationView(
            reg_no=a.reg_no, region=a.region, profession=a.profession, step_code=a.step_code,
            step_since=a.step_since, status=a.status, submitted_at=a.submitted_at,
            clock_started_on=a.clock_started_on, due_on=a.due_on,
            documents=tuple(DocumentView(d.requirement_code, d.review, d.review_reason)
                            for d in a.documents),
            permit=permits.get(a.id),
        )
        for a in apps
    )
