"""One inbound message, start to finish, in one transaction.

Record the platform's message id (a repeat stops here), lock the conversation, load
its state, run the engine, apply its effects, save the state, write the replies to
the outbox, commit. Nothing reaches a platform from here: the dispatcher sends
from the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import JSON, Table, bindparam, case, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from conversations import engine
from conversations.types import (
    ApplicationView,
    Context,
    DocumentView,
    InboundEvent,
    NoticeChoices,
    OutMessage,
    PermitView,
    State,
)
from licensing.calendar import WorkingCalendar
from licensing.catalog import Catalog
from service import metrics
from service.effects import RegistrationNumberTaken, apply_effects
from service.logctx import set_context as set_log_context
from service.outbox import CHAT_UNSENT, DirectClaim, DirectSender, enqueue_replies
from storage.filestore import FileStore, StoredBlob
from storage.models import (
    Applicant,
    Application,
    Blob,
    Conversation,
    InboundLease,
    InboundMessage,
    InboundStatus,
    Permit,
    SurveyResponse,
)

log = logging.getLogger(__name__)

INBOUND_NOTIFY = "izin_inbound"  # PostgreSQL NOTIFY channel: payload "<channel> <chat_key>"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a counter


def random_code(length: int = 6) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


class _Raced(Exception):
    """A unique key taken by a concurrent transaction: the event runs again."""


class ChatBusy(Exception):
    """A turn offered `only_if_free` found its chat taken or rows waiting: nothing
    was written; the payload is to be recorded and handled in order instead."""


@dataclass(frozen=True)
class Outcome:
    duplicate: bool
    messages: tuple[OutMessage, ...] = ()
    applicant_id: int | None = None
    discarded: str | None = None  # the sha256 of a file nobody asked for, not kept
    # Replies written claimed under this offer, for its dispatcher once committed.
    direct: tuple[DirectClaim, list[Any]] | None = None


@dataclass
class Runtime:
    """What handling an event needs besides the event: built once by the composition root."""

    sessions: async_sessionmaker[AsyncSession]
    catalog: Catalog
    calendar: WorkingCalendar
    max_upload_bytes: int = 10 * 1024 * 1024
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_code: Callable[[], str] = random_code
    # The document pre-check (IZIN_PRECHECK): photos become pages and are queued; the
    # hook wakes the runner after a file event's transaction committed.
    precheck: bool = False
    on_file_handled: Callable[[], None] | None = None
    files: FileStore | None = None  # to remove a file nobody asked for

    def __post_init__(self) -> None:
        # Events of one chat run one at a time in this process: an optimisation only;
        # order across processes is the pipeline's chat lease and the row locks
        # (service/pipeline.py). Different chats run in parallel.
        self._chat_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._listeners: list[Callable[[str, str], None]] = []
        self._direct: dict[str, DirectSender] = {}

    def add_direct_sender(self, sender: DirectSender) -> None:
        """The channel's dispatcher in this process: while it sends, a turn's replies are
        written claimed by it and handed over at commit (service/outbox.py)."""
        self._direct[sender.channel] = sender

    def chat_lock(self, key: str) -> asyncio.Lock:
        lock = self._chat_locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._chat_locks[key] = lock
        return lock

    def add_inbound_listener(self, listener: Callable[[str, str], None]) -> None:
        """Called with (channel, chat_key) after a payload is recorded in this process
        (other processes hear of it through PostgreSQL's NOTIFY, see service/pipeline.py)."""
        self._listeners.append(listener)

    def remove_inbound_listener(self, listener: Callable[[str, str], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    async def record_pending(
        self, *, channel: str, platform_id: str, chat_key: str, payload: dict[str, Any],
        seq: int = 0, hold: float = 0.0,
    ) -> int | None:
        """Store a platform payload durably before the webhook answers 200.

        `seq` orders a chat's payloads (the platform's order); `hold` seconds keep it
        waiting for an earlier one still on its way (a reorder window). Returns the new
        row's id, or None when this platform id was seen before (the platform retried):
        either way the webhook may answer 200.
        """
        now = self.clock()
        async with self.sessions() as session:
            try:
                async with session.begin():
                    row = InboundMessage(
                        channel=channel, platform_id=platform_id, chat_key=chat_key,
                        payload=payload, status=InboundStatus.PENDING, received_at=now,
                        seq=seq, attempts=0,
                        not_before=(datetime.now(UTC) + timedelta(seconds=hold)
                                    if hold > 0 else None))
                    session.add(row)
                    await session.flush()
                    if session.get_bind().dialect.name == "postgresql":
                        # Delivered at commit to every process LISTENing (no polling).
                        await session.execute(_NOTIFY, {"v_key": f"{channel} {chat_key}"})
                    row_id = row.id
                metrics.UPDATES_RECEIVED.labels(channel).inc()
            except IntegrityError:
                if await _seen(session, channel, platform_id):
                    return None
                raise
        for listener in list(self._listeners):
            listener(channel, chat_key)
        return row_id

    async def record_dead(
        self, *, channel: str, platform_id: str, chat_key: str,
        payload: dict[str, Any] | None, error: str,
    ) -> None:
        """Keep an authentic payload that can never be handled (a dead letter), once."""
        now = self.clock()
        async with self.sessions() as session, session.begin():
            conn = await session.connection()
            await conn.execute(_RECORD_DEAD[conn.dialect.name == "postgresql"], {
                "v_channel": channel, "v_platform_id": platform_id[:128],
                "v_chat_key": chat_key[:64], "v_payload": payload, "v_error": error[:2000],
                "now": now})

    async def pending(self, channel: str, *, limit: int = 100) -> list[InboundMessage]:
        """Recorded payloads not handled yet, oldest first (also after a restart)."""
        async with self.sessions() as session:
            rows = await session.scalars(
                select(InboundMessage)
                .where(InboundMessage.channel == channel,
                       InboundMessage.status == InboundStatus.PENDING)
                .order_by(InboundMessage.id).limit(limit)
            )
            return list(rows.all())

    async def mark_failed(self, inbound_id: int, error: str) -> None:
        """A payload that can never be handled: a dead letter for a person to look at."""
        async with self.sessions() as session, session.begin():
            row = await session.get(InboundMessage, inbound_id)
            if row is not None and row.status == InboundStatus.PENDING:
                row.status = InboundStatus.FAILED
                row.error = error[:2000]
                row.handled_at = self.clock()
                metrics.UPDATES_DEAD_LETTERED.labels(row.channel).inc()

    async def mark_done(self, inbound_id: int) -> None:
        """A payload that needed no turn (nothing for the conversation in it)."""
        async with self.sessions() as session, session.begin():
            await session.execute(_MARK_HANDLED, {"row_id": inbound_id, "now": self.clock()})

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
        sent_at: datetime | None = None,
        only_if_free: bool = False,
    ) -> Outcome:
        """Run one event. With `pending_id`, the payload was recorded by `record_pending`
        and this marks it handled in the same transaction (handled at most once).
        Without, the platform id is recorded as handled in that transaction; with a
        `only_if_free`, only when no worker holds the chat's lease and none of its rows is
        pending (else `ChatBusy`, nothing written): the webhook's own turn, in order.

        `sent_at`: when the person sent it, by the platform's clock (WhatsApp's 24-hour
        window runs from there, not from when a redelivery reached us)."""
        set_log_context(channel=channel, chat_key=f"{channel}:{external_id}")
        lock = self.chat_lock(f"{channel}:{external_id}")
        if only_if_free and lock.locked():
            raise ChatBusy  # worked in this process right now: do not queue behind it
        async with lock:
            for _ in range(3):
                try:
                    with metrics.timed_handle(channel, received=pending_id is None) as done:
                        outcome = done(await self._handle(
                            channel, external_id, platform_id, event, display_name, blob,
                            pending_id, sent_at, only_if_free))
                    if outcome.direct is not None:
                        self._direct[channel].adopt(*outcome.direct)
                    if outcome.discarded is not None:
                        await self._remove_file(outcome.discarded)
                    elif event.kind == "file" and self.on_file_handled is not None:
                        self.on_file_handled()
                    return outcome
                except RegistrationNumberTaken:
                    log.warning("registration number collision; running the event again")
                except _Raced:
                    log.info("another process created this chat meanwhile; running again")
            raise RuntimeError("three collisions in a row")

    async def _handle(
        self,
        channel: str,
        external_id: str,
        platform_id: str,
        event: InboundEvent,
        display_name: str | None,
        blob: StoredBlob | None,
        pending_id: int | None,
        sent_at: datetime | None = None,
        only_if_free: bool = False,
    ) -> Outcome:
        now = self.clock()
        async with self.sessions() as session:
            try:
                async with session.begin():
                    conn = await session.connection()
                    if pending_id is not None:
                        # The row lock of this UPDATE makes a second handler wait, then
                        # find the row done: handled at most once.
                        marked = await conn.execute(_MARK_HANDLED, {
                            "row_id": pending_id, "now": now})
                        if marked.rowcount == 0:
                            return Outcome(duplicate=True)
                        return await self._run(session, conn, channel, external_id, event,
                                               display_name, blob, now, sent_at)
                    return await self._record_and_run(
                        session, conn, channel, external_id, platform_id, event,
                        display_name, blob, now, sent_at, only_if_free)
            except IntegrityError as exc:
                # A new chat created by another process at the same moment is not a
                # duplicate: run the event again (it finds the chat then).
                if pending_id is not None:
                    if await _status(session, pending_id) != InboundStatus.PENDING:
                        return Outcome(duplicate=True)
                    raise _Raced from exc
                if await _seen(session, channel, platform_id):
                    return Outcome(duplicate=True)
                raise _Raced from exc

    async def _record_and_run(
        self, session: AsyncSession, conn: AsyncConnection, channel: str, external_id: str,
        platform_id: str, event: InboundEvent, display_name: str | None,
        blob: StoredBlob | None, now: datetime, sent_at: datetime | None,
        only_if_free: bool = False,
    ) -> Outcome:
        # A repeated platform id inserts nothing: no exception, no rollback.
        recorded = await conn.execute(_RECORD[conn.dialect.name == "postgresql"], {
            "v_channel": channel, "v_platform_id": platform_id,
            "v_chat_key": f"{channel}:{external_id}", "now": now})
        if recorded.rowcount == 0:
            return Outcome(duplicate=True)
        return await self._run(session, conn, channel, external_id, event, display_name,
                               blob, now, sent_at, only_if_free)

    async def _run(
        self,
        session: AsyncSession,
        conn: AsyncConnection,
        channel: str,
        external_id: str,
        event: InboundEvent,
        display_name: str | None,
        blob: StoredBlob | None,
        now: datetime,
        sent_at: datetime | None = None,
        only_if_free: bool = False,
    ) -> Outcome:
        # The hot path runs prebuilt Core statements on the session's connection: the
        # ORM's unit of work and building statements per call cost more CPU than the
        # engine and SQLite together (bench/journeys.py, BENCHMARKS.md).
        row = (await conn.execute(_LOAD_CHAT, {"channel": channel,
                                               "external_id": external_id})).first()
        if row is None:  # first message of this chat
            applicant = await get_or_create_applicant(session, channel, external_id, now)
            conv = await _locked_conversation(session, applicant.id, now)
            applicant_id, name, state, notice = (applicant.id, applicant.display_name,
                                                 conv.state, applicant.notice_choices)
        else:
            applicant_id, name, state, notice = row
        seen = min(sent_at, now) if sent_at is not None else now
        named = bool(display_name and not name)
        params: dict[str, Any] = {"row_id": applicant_id, "seen": seen}
        if named:
            params["v_name"] = (display_name or "")[:200]
        if only_if_free:
            # Asked after the chat's row lock (_LOAD_CHAT or its creation): a worker that
            # leased the chat or a row recorded before this statement is seen here, and
            # anything later waits for the lock, so it runs after this turn.
            params.update(v_key=f"{channel}:{external_id}", v_wall=datetime.now(UTC))
        sender = self._direct.get(channel)
        direct = sender.offer() if sender is not None else None
        if direct is not None:
            # Also after the lock: a message of this chat written meanwhile is seen.
            params.update(v_out_channel=channel, v_out_chat=external_id,
                          v_out_sent=list(direct.sent))
        touched = (await conn.execute(_TOUCH[named, only_if_free, direct is not None],
                                      params)).one()
        if only_if_free and touched[1]:
            raise ChatBusy(f"{channel}:{external_id}")  # rolls back the whole turn
        if direct is not None and touched[-1]:
            direct = None  # an earlier message waits: the replies queue behind it
        has_apps = bool(touched[0])
        new_blob = blob is not None and await _record_blob(conn, blob, now)

        ctx = Context(
            now=now,
            catalog=self.catalog,
            calendar=self.calendar,
            new_code=self.new_code,
            applications=(await application_views(session, applicant_id, self.catalog)
                          if has_apps else ()),
            max_upload_bytes=self.max_upload_bytes,
            precheck=self.precheck,
            notice=_notice(notice),
        )
        result = engine.step(State.from_dict(state), event, ctx)
        if result.effects:  # rare (language, submit...): through the ORM, as elsewhere
            direct = None  # they may queue messages of their own, which go first
            applicant = await session.get_one(Applicant, applicant_id)
            await apply_effects(session, applicant, result.effects, catalog=self.catalog,
                                calendar=self.calendar, now=now)
            await session.flush()
        await conn.execute(_SAVE_STATE, {"row_id": applicant_id, "now": now,
                                         "v_state": _state_row(result.state)})
        claimed = await enqueue_replies(conn, applicant_id=applicant_id, channel=channel,
                                        chat_id=external_id, messages=result.messages,
                                        now=now, direct=direct)
        handed = (direct, claimed) if direct is not None and claimed else None
        if new_blob and blob is not None and not result.file_kept:
            # Nobody asked for it and nobody else had these bytes: do not keep them.
            await conn.execute(_DELETE_BLOB, {"v_sha256": blob.sha256})
            return Outcome(duplicate=False, messages=result.messages,
                           applicant_id=applicant_id, discarded=blob.sha256, direct=handed)
        return Outcome(duplicate=False, messages=result.messages, applicant_id=applicant_id,
                       direct=handed)

    async def _remove_file(self, sha256: str) -> None:
        """Remove a file the committed event forgot, unless another chat recorded the
        same bytes meanwhile (the store is content-addressed)."""
        if self.files is None:
            return
        async with self.sessions() as session:
            if await session.scalar(select(Blob.sha256).where(Blob.sha256 == sha256)):
                return
        self.files.remove(sha256)


def _notice(raw: dict[str, Any] | None) -> NoticeChoices | None:
    if not raw or not raw.get("token"):
        return None
    return NoticeChoices(token=str(raw["token"]),
                         choices=tuple((str(c[0]), str(c[1])) for c in raw.get("choices", ())))


def _state_row(state: State) -> dict[str, Any]:
    """The state as stored. Shallow: it is serialised to JSON at once, so the deep copy
    of State.to_dict (dataclasses.asdict) would be thrown away."""
    return {f.name: getattr(state, f.name) for f in fields(State)}


# The hot path's statements, built once (SQLAlchemy then reuses their compiled form).
_inbound = cast(Table, InboundMessage.__table__)
_RECORD = tuple(
    insert_(_inbound).values(
        channel=bindparam("v_channel"), platform_id=bindparam("v_platform_id"),
        chat_key=bindparam("v_chat_key"), status=InboundStatus.DONE,
        received_at=bindparam("now"), handled_at=bindparam("now"),
    ).on_conflict_do_nothing(index_elements=["channel", "platform_id"])
    for insert_ in (sqlite_insert, pg_insert)  # indexed by "is PostgreSQL"
)
_RECORD_DEAD = tuple(
    insert_(_inbound).values(
        channel=bindparam("v_channel"), platform_id=bindparam("v_platform_id"),
        chat_key=bindparam("v_chat_key"), payload=bindparam("v_payload", type_=JSON),
        status=InboundStatus.FAILED, error=bindparam("v_error"),
        received_at=bindparam("now"), handled_at=bindparam("now"),
    ).on_conflict_do_nothing(index_elements=["channel", "platform_id"])
    for insert_ in (sqlite_insert, pg_insert)
)
_NOTIFY = select(func.pg_notify(INBOUND_NOTIFY, bindparam("v_key")))
_MARK_HANDLED = (
    update(_inbound)
    .where(_inbound.c.id == bindparam("row_id"), _inbound.c.status == InboundStatus.PENDING)
    .values(status=InboundStatus.DONE, handled_at=bindparam("now"))
)
# Applicant and its conversation, row-locked on PostgreSQL (SQLite's BEGIN IMMEDIATE
# serialises writers), in one round trip.
_LOAD_CHAT = (
    select(Applicant.id, Applicant.display_name, Conversation.state, Applicant.notice_choices)
    .join(Conversation, Conversation.applicant_id == Applicant.id)
    .where(Applicant.channel == bindparam("channel"),
           Applicant.external_id == bindparam("external_id"))
    .with_for_update(of=Conversation)
)
_applicants = cast(Table, Applicant.__table__)
# The touch returns whether any application exists: most turns (all before the first
# submission) then read no applications or documents. Asked here, after the lock, not
# in _LOAD_CHAT: on PostgreSQL a statement that waited for the lock still sees what
# was committed before it started, and a submission from another process may have
# committed while it waited.
_leases = cast(Table, InboundLease.__table__)
# The chat is not free while any worker holds its lease or any of its rows is pending.
_CHAT_TAKEN = or_(
    select(_inbound.c.id).where(_inbound.c.chat_key == bindparam("v_key"),
                                _inbound.c.status == InboundStatus.PENDING).exists(),
    select(_leases.c.chat_key).where(_leases.c.chat_key == bindparam("v_key"),
                                     _leases.c.expires_at >= bindparam("v_wall")).exists())


def _touch(named: bool, gated: bool, direct: bool) -> Any:
    stmt = (
        update(_applicants).where(_applicants.c.id == bindparam("row_id"))
        # The latest message the person sent: a late redelivery never moves it back.
        .values(last_inbound_at=case(
            (or_(_applicants.c.last_inbound_at.is_(None),
                 _applicants.c.last_inbound_at < bindparam("seen")), bindparam("seen")),
            else_=_applicants.c.last_inbound_at),
            unreachable_at=None)  # they wrote to us
        # By the parameter, not correlated: SQLite's RETURNING drops table names, and a
        # bare "id" inside the subquery would be the application's own.
        .returning(select(Application.id)
                   .where(Application.applicant_id == bindparam("row_id")).exists(),
                   *([_CHAT_TAKEN] if gated else []), *([CHAT_UNSENT] if direct else [])))
    return stmt.values(display_name=bindparam("v_name")) if named else stmt


# By (display name given, only if free, replies offered to a dispatcher).
_TOUCH = {(n, g, d): _touch(n, g, d) for n in (False, True) for g in (False, True)
          for d in (False, True)}
_conversations = cast(Table, Conversation.__table__)
_SAVE_STATE = (
    update(_conversations).where(_conversations.c.applicant_id == bindparam("row_id"))
    .values(state=bindparam("v_state"), version=_conversations.c.version + 1,
            updated_at=bindparam("now"))
)


async def _status(session: AsyncSession, inbound_id: int) -> str | None:
    return await session.scalar(select(InboundMessage.status)
                                .where(InboundMessage.id == inbound_id))


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


async def _record_blob(conn: AsyncConnection, blob: StoredBlob, now: datetime) -> bool:
    """Record a stored file once; True when this event is the first to have it. Two
    chats may upload the same bytes at the same moment (the store is content-addressed),
    so the insert must tolerate the other's row: a check-then-insert raced on PostgreSQL
    (found by bench/journeys.py)."""
    inserted = await conn.execute(_RECORD_BLOB[conn.dialect.name == "postgresql"], {
        "v_sha256": blob.sha256, "v_size": blob.size, "v_kind": blob.kind,
        "v_media_type": blob.media_type, "v_pages": blob.pages, "v_width": blob.width,
        "v_height": blob.height, "now": now})
    return inserted.rowcount == 1


_blobs = cast(Table, Blob.__table__)
_DELETE_BLOB = delete(_blobs).where(_blobs.c.sha256 == bindparam("v_sha256"))
_RECORD_BLOB = tuple(
    insert_(_blobs).values(
        sha256=bindparam("v_sha256"), size=bindparam("v_size"), kind=bindparam("v_kind"),
        media_type=bindparam("v_media_type"), pages=bindparam("v_pages"),
        width=bindparam("v_width"), height=bindparam("v_height"),
        created_at=bindparam("now"),
    ).on_conflict_do_nothing(index_elements=["sha256"])
    for insert_ in (sqlite_insert, pg_insert)  # indexed by "is PostgreSQL"
)


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
            permit=permits.get(a.id), full_name=a.full_name,
        )
        for a in apps
    )
