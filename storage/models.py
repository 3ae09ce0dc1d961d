"""SQLAlchemy 2 models: the durable record of chats, applications and the outbox.

Every table is created by Alembic migrations (storage/migrations); this module is the
single description they are generated from.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    relationship,
)
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores them without a zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware values")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Integer primary keys: BIGINT on PostgreSQL, INTEGER (rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON, datetime: UTCDateTime()
    }


class Applicant(Base):
    """One person on one channel (a Telegram chat, a WhatsApp number, a terminal user)."""

    __tablename__ = "applicants"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(200))
    lang: Mapped[str] = mapped_column(String(5), default="id")
    created_at: Mapped[datetime]
    last_inbound_at: Mapped[datetime | None]
    # Set when the platform says the person blocked us or cannot be reached.
    unreachable_at: Mapped[datetime | None]
    # {"token", "choices": [[id, label], ...]} of the last notice with choices queued for
    # this chat: a number typed after it means these (conversations.types.NoticeChoices).
    notice_choices: Mapped[dict[str, Any] | None]


class Conversation(Base):
    """The dialogue state of one applicant; locked while an event is handled."""

    __tablename__ = "conversations"

    applicant_id: Mapped[int] = mapped_column(
        ForeignKey("applicants.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


def _one_of(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class InboundStatus(StrEnum):
    """Where a recorded inbound payload stands (the stored strings)."""

    PENDING = "pending"  # recorded, not handled yet
    DONE = "done"  # handled: committed with the conversation's new state
    FAILED = "failed"  # dead letter: can never be handled; the reason is in `error`
    DISCARDED = "discarded"  # a dead letter an operator set aside (`izin ops discard`)


class InboundMessage(Base):
    """Every inbound platform message, recorded once: a repeated platform id is ignored.

    Per chat, pending rows are handled in (`seq`, `id`) order: `seq` is the platform's
    order (Telegram update_id, WhatsApp timestamp), `id` the arrival."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("channel", "platform_id"),
        Index("ix_inbound_pending", "status", "id"),
        Index("ix_inbound_chat", "chat_key", "status", "seq", "id"),
        CheckConstraint(_one_of("status", InboundStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    platform_id: Mapped[str] = mapped_column(String(128))
    chat_key: Mapped[str] = mapped_column(String(64))  # per-chat ordering key
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default=InboundStatus.DONE)
    received_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Not handled before this time: a reorder window, or the backoff after a failure.
    not_before: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class InboundLease(Base):
    """Which process works a chat's inbound rows now (one at a time per chat, across
    processes); a live owner renews `expires_at`, a dead one loses the chat."""

    __tablename__ = "inbound_leases"

    chat_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]


class OutboxStatus(StrEnum):
    """Where an outbox row is; the stored strings are these values."""

    PENDING = "pending"  # waiting to be claimed (when `next_attempt_at` has come)
    SENDING = "sending"  # claimed: leased by `claimed_by` until `lease_until`
    SENT = "sent"
    FAILED = "failed"  # a permanent error or out of attempts
    UNREACHABLE = "unreachable"  # blocked, deleted, not on the platform
    CANCELLED = "cancelled"  # its broadcast was cancelled
    HELD = "held"  # its broadcast is paused


# Rows the sender may still claim (pending or sending), as the partial indexes say it.
UNSENT = f"status IN ('{OutboxStatus.PENDING}', '{OutboxStatus.SENDING}')"


class OutboxMessage(Base):
    """A message to an applicant, written in the same transaction as what caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "priority", "next_attempt_at"),
        Index("ix_outbox_chat", "channel", "chat_id", "id"),
        Index("ix_outbox_broadcast", "broadcast_id", "status"),
        # The claim reads only rows not yet sent: without these it walked every row the
        # channel ever sent (SQLite) or each chat's whole history (the in-order check).
        # The claim's WHERE repeats UNSENT word for word, so both planners can use them.
        Index("ix_outbox_unsent_due", "channel", "priority", "id",
              sqlite_where=text(UNSENT), postgresql_where=text(UNSENT)),
        Index("ix_outbox_unsent_chat", "channel", "chat_id", "id",
              sqlite_where=text(UNSENT), postgresql_where=text(UNSENT)),
        UniqueConstraint("dedupe_key"),
        CheckConstraint(_one_of("status", OutboxStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]  # one outgoing message, channel-neutral
    # 0 = live conversation reply, higher = broadcasts / reminders (sent after replies)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12), default=OutboxStatus.PENDING)  # OutboxStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    # The lease of a `sending` row: which dispatcher holds it, and until when. A live
    # dispatcher renews its leases; a dead one's expire and the rows are claimed again.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    platform_message_id: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    # "Once per occasion" notifications carry a key; the unique index enforces it.
    dedupe_key: Mapped[str | None] = mapped_column(String(160))
    notification_type: Mapped[str | None] = mapped_column(String(40))
    urgent: Mapped[bool] = mapped_column(Boolean, default=True)
    # What the platform reported after accepting the message (WhatsApp status webhooks):
    # sent | delivered | read | failed; never moved backwards by a late webhook.
    platform_status: Mapped[str | None] = mapped_column(String(12))
    platform_error: Mapped[str | None] = mapped_column(Text)  # "131047: Re-engagement..."
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    # The approved template it went out as (outside WhatsApp's 24-hour window).
    template_name: Mapped[str | None] = mapped_column(String(120))
    # The recipient's IANA zone for quiet hours (non-urgent rows wait for 06:00 there);
    # None: no quiet hours (replies).
    quiet_tz: Mapped[str | None] = mapped_column(String(40))
    broadcast_id: Mapped[int | None] = mapped_column(BigId)  # the Broadcast it belongs to


class Broadcast(Base):
    """One staff broadcast, and the log of who sent it to whom (the selection).

    Its outbox rows are written in chunks (`cursor` = the last applicant id queued), so
    an interrupted enqueue resumes where it stopped; dedupe keys make a repeat harmless.
    """

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime]
    sender_username: Mapped[str] = mapped_column(String(120))
    sender_role: Mapped[str] = mapped_column(String(24))
    selection: Mapped[dict[str, Any]]  # region, profession, step, open_only, reg_no
    template: Mapped[str] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    # enqueuing | active | paused | cancelled
    status: Mapped[str] = mapped_column(String(12), default="enqueuing")
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    skipped_unreachable: Mapped[int] = mapped_column(Integer, default=0)
    enqueued_at: Mapped[datetime | None]  # every recipient is in the outbox
    cancelled_at: Mapped[datetime | None]


class BroadcastRecipient(Base):
    """A broadcast's audience, selected once when queuing starts (one INSERT … SELECT);
    its chunks then walk this table by applicant id instead of re-running the selection."""

    __tablename__ = "broadcast_recipients"

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True)
    applicant_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(BigId)


class Blob(Base):
    """A stored file (scan, permit), content-addressed; the bytes live in the file store."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))
    media_type: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    created_at: Mapped[datetime]


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (
        Index("ix_applications_region_step", "region", "step_code"),
        # Every chat turn asks whether the applicant has any application.
        Index("ix_applications_applicant_id", "applicant_id"),
        # The queue's default order (longest waiting first) within a region's steps.
        Index("ix_applications_queue", "region", "step_code", "step_since", "id"),
        # Search's newest-first order and the IKM's applicants-in-period count.
        Index("ix_applications_region_submitted", "region", "submitted_at"),
        # The dashboard's counts per step: active files only, index-only.
        Index("ix_applications_dashboard", "region", "status", "profession",
              "step_code", "due_on"),
        # Search by part of a name or registration number: trigram indexes on
        # PostgreSQL (ILIKE '%..%'); plain indexes elsewhere (SQLite stays a LIKE).
        Index("ix_applications_full_name_trgm", "full_name", postgresql_using="gin",
              postgresql_ops={"full_name": "gin_trgm_ops"}),
        Index("ix_applications_reg_no_trgm", "reg_no", postgresql_using="gin",
              postgresql_ops={"reg_no": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reg_no: Mapped[str] = mapped_column(String(32), unique=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id"))
    region: Mapped[str] = mapped_column(String(40))
    profession: Mapped[str] = mapped_column(String(40))
    full_name: Mapped[str] = mapped_column(String(200))
    nik: Mapped[str] = mapped_column(String(16))
    phone: Mapped[str] = mapped_column(String(20))
    practice_place: Mapped[str] = mapped_column(String(300))
    # The registration number of the applicant's STR (printed on the permit).
    str_number: Mapped[str | None] = mapped_column(String(40))
    lang: Mapped[str] = mapped_column(String(5), default="id")
    # Where the file sits in the region's procedure (a step code from the catalog).
    step_code: Mapped[str] = mapped_column(String(24))
    step_since: Mapped[datetime]
    # open | approved | rejected | issued | withdrawn
    status: Mapped[str] = mapped_column(String(12), default="open")
    submitted_at: Mapped[datetime]
    clock_started_on: Mapped[date | None] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)

    documents: Mapped[list[ApplicationDocument]] = relationship(
        back_populates="application", order_by="ApplicationDocument.id"
    )


class ApplicationDocument(Base):
    """The current scan for one requirement of one application."""

    __tablename__ = "application_documents"
    __table_args__ = (UniqueConstraint("application_id", "requirement_code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE")
    )
    requirement_code: Mapped[str] = mapped_column(String(24))
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    # pending (not yet checked) | accepted | rejected
    review: Mapped[str] = mapped_column(String(10), default="pending")
    review_reason: Mapped[str | None] = mapped_column(Text)
    uploaded_at: Mapped[datetime]
    # The pre-check's result for this scan (licensing/precheck/pipeline.py: quality,
    # fields read, checks, the cleaned PDF and the original pages). Personal data:
    # shown only to staff who may open the file, never logged.
    precheck: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    application: Mapped[Application] = relationship(back_populates="documents")


class Precheck(Base):
    """One pre-check of one requirement's photos, queued by the chat and run by the
    pool in service/precheck.py; kept whether or not the draft is ever submitted, so
    the submission (or a late result) can attach it to the document."""

    __tablename__ = "prechecks"
    __table_args__ = (Index("ix_prechecks_status", "status", "id"),
                      Index("ix_prechecks_applicant", "applicant_id", "requirement_code"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id", ondelete="CASCADE"))
    requirement_code: Mapped[str] = mapped_column(String(24))
    sources: Mapped[list[str]] = mapped_column(JSON)  # the original pages' blobs, in order
    # What to compare with (typed NIK, name, STR...): personal data, never logged.
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10))  # service.precheck.Status
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    pdf_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class ApplicationEvent(Base):
    """The control card (kartu kendali): append-only, one row per action."""

    __tablename__ = "application_events"
    # The dashboard reads one month of events across a region's files.
    __table_args__ = (Index("ix_application_events_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))  # staff username, "applicant", "system"
    role: Mapped[str] = mapped_column(String(24))
    action: Mapped[str] = mapped_column(String(24))
    from_step: Mapped[str | None] = mapped_column(String(24))
    to_step: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)
    # Who acted, as the card prints it (kept as it was then), and in which position.
    actor_name: Mapped[str | None] = mapped_column(String(120))
    actor_nip: Mapped[str | None] = mapped_column(String(18))
    position: Mapped[str | None] = mapped_column(String(24))


class ApplicationNote(Base):
    """A staff-only note on a file (never sent to the applicant), beside the card."""

    __tablename__ = "application_notes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(40))  # staff username
    author_name: Mapped[str] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)


class Complaint(Base):
    """A complaint or suggestion filed from a chat; its thread is ComplaintMessage."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_region_status", "region", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_no: Mapped[str] = mapped_column(String(32), unique=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id"))
    region: Mapped[str] = mapped_column(String(40))
    profession: Mapped[str | None] = mapped_column(String(40))
    reg_no: Mapped[str | None] = mapped_column(String(32))
    about: Mapped[str] = mapped_column(String(12))  # application | service | none
    category: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(12))  # complaint | suggestion
    suggestion_reason: Mapped[str | None] = mapped_column(String(12))
    anonymous: Mapped[bool] = mapped_column(Boolean)
    complainant_name: Mapped[str | None] = mapped_column(String(120))
    lang: Mapped[str] = mapped_column(String(5))
    proposed_grade: Mapped[str] = mapped_column(String(8))
    grade: Mapped[str | None] = mapped_column(String(8))  # set when an officer confirms
    level: Mapped[int] = mapped_column(Integer, default=0)  # escalation level index
    # open | answered | closed
    status: Mapped[str] = mapped_column(String(10), default="open")
    settled: Mapped[bool | None] = mapped_column(Boolean)
    resolution_path: Mapped[str | None] = mapped_column(String(24))
    filed_at: Mapped[datetime]
    due_on: Mapped[date] = mapped_column(Date)
    level_due_on: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None]


class ComplaintMessage(Base):
    """The ticket's thread: the complaint, officers' answers, replies; and its audit."""

    __tablename__ = "complaint_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    # complainant | officer | system (grade changes, escalations: recorded, not sent)
    author_kind: Mapped[str] = mapped_column(String(12))
    author: Mapped[str | None] = mapped_column(String(120))  # staff username; never a name
    # A `licensing.complaints.ComplaintAction`: filed, reply, answer, grade, escalate...
    action: Mapped[str] = mapped_column(String(24))
    text: Mapped[str | None] = mapped_column(Text)  # message, note, or escalation reason
    attachments: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Structured facts of system entries, never parsed back from `text`: the level an
    # escalation moved to; the grade set and the one it replaced (or the proposal).
    level: Mapped[int | None]
    grade: Mapped[str | None] = mapped_column(String(8))
    prev_grade: Mapped[str | None] = mapped_column(String(8))


class Permit(Base):
    """The practice permit of one approved application.

    `pending` rows are written in the approval's transaction and turned into a signed
    PDF by `service.permits.produce_pending`, so an approval is never lost to a failed
    render. The number's running part is unique per region and year.
    """

    __tablename__ = "permits"
    # Numbers are the office's own: unique within a region (patterns need not name it).
    __table_args__ = (UniqueConstraint("region", "year", "seq", name="uq_permits_region_seq"),
                      UniqueConstraint("region", "number", name="uq_permits_region_number"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    region: Mapped[str] = mapped_column(String(40))
    profession: Mapped[str] = mapped_column(String(40))
    # pending | issued | revoked
    status: Mapped[str] = mapped_column(String(10), default="pending")
    year: Mapped[int | None]
    seq: Mapped[int | None]
    number: Mapped[str | None] = mapped_column(String(80))
    verify_code: Mapped[str] = mapped_column(String(40), unique=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    issue_date: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    # office (signed here with the office's certificate) | uploaded (signed elsewhere)
    source: Mapped[str | None] = mapped_column(String(10))
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    blob_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    created_at: Mapped[datetime]
    issued_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]  # the signed PDF went into the chat
    reminded_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(120))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    # False while the procedure still owes a step before the permit may be produced
    # (Pekanbaru numbers it after the Kepala Dinas signs).
    ready: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


SURVEY_JSON = JSON().with_variant(JSONB(), "postgresql")


class SurveyResponse(Base):
    """One completed satisfaction survey (SKM), answers keyed by element, not position."""

    __tablename__ = "survey_responses"
    __table_args__ = (Index("ix_survey_region_at", "region", "submitted_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    region: Mapped[str] = mapped_column(String(40))
    profession: Mapped[str] = mapped_column(String(40))
    submitted_at: Mapped[datetime]
    # JSONB on PostgreSQL: the IKM sums answers in SQL, and `->>` on plain JSON parses
    # the text again for every key of every row (3 s for 20,000 responses; 0.1 s as JSONB).
    profile: Mapped[dict[str, Any]] = mapped_column(SURVEY_JSON)  # question -> option key
    answers: Mapped[dict[str, Any]] = mapped_column(SURVEY_JSON)  # element key -> 1..4


class SurveyDayTotal(Base):
    """The surveys of one region, service and UTC day, summed: what the IKM report adds up
    instead of reading every response (issue 15). Kept by `service.survey_totals` in the
    same flush as each SurveyResponse (service/survey_totals.py); filled from existing
    responses by 0017.

    UTC days, not the office's: the writer needs no catalog, and the report reads the
    raw responses for the hours a local period cuts off its first and last UTC day."""

    __tablename__ = "survey_day_totals"

    region: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    profession: Mapped[str] = mapped_column(String(40), primary_key=True)
    respondents: Mapped[int] = mapped_column(Integer)
    invalid: Mapped[int] = mapped_column(Integer)  # lacking an answer 1-4 for some element
    # Each element's sum of answers over the valid responses (licensing.skm.ELEMENT_KEYS).
    persyaratan: Mapped[int] = mapped_column(Integer)
    prosedur: Mapped[int] = mapped_column(Integer)
    waktu: Mapped[int] = mapped_column(Integer)
    biaya: Mapped[int] = mapped_column(Integer)
    produk: Mapped[int] = mapped_column(Integer)
    kompetensi: Mapped[int] = mapped_column(Integer)
    perilaku: Mapped[int] = mapped_column(Integer)
    pengaduan: Mapped[int] = mapped_column(Integer)
    sarana: Mapped[int] = mapped_column(Integer)


class SurveyDayProfile(Base):
    """Respondents per profile answer for one region, service and UTC day; only complete
    profiles (every PROFILE_KEYS question answered) count, as in the report."""

    __tablename__ = "survey_day_profiles"

    region: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    profession: Mapped[str] = mapped_column(String(40), primary_key=True)
    question: Mapped[str] = mapped_column(String(24), primary_key=True)
    option: Mapped[str] = mapped_column(String(40), primary_key=True)
    respondents: Mapped[int] = mapped_column(Integer)


class StaffNotice(Base):
    """Something staff of one role in one region must see (an escalated complaint...).

    Shown in the back office; `dedupe_key` makes "notify once per occasion" hold across
    processes and restarts.
    """

    __tablename__ = "staff_notices"
    __table_args__ = (Index("ix_staff_notices_region_role", "region", "role"),
                      UniqueConstraint("dedupe_key"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    region: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(24))  # complaint_new | complaint_escalated
    ref: Mapped[str] = mapped_column(String(40))  # ticket or registration number
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    dedupe_key: Mapped[str] = mapped_column(String(160))
    # When it was posted to the staff's Telegram chat (IZIN_TELEGRAM_STAFF_CHAT_ID).
    telegram_sent_at: Mapped[datetime | None]


class Staff(Base):
    """A back-office account. `region` is a region slug, or "*" for a region-wide admin.

    `role` is a `licensing.catalog.Role` value other than `applicant`.
    """

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(24))
    region: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]
    nip: Mapped[str | None] = mapped_column(String(18))  # Nomor Induk Pegawai, on the card
    lang: Mapped[str] = mapped_column(String(5), default="id", server_default="id")


class StaffPosition(Base):
    """A position (catalog `positions` slug of the staff member's region) an account holds."""

    __tablename__ = "staff_positions"
    __table_args__ = (UniqueConstraint("staff_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"),
                                          index=True)
    position: Mapped[str] = mapped_column(String(24))


class StaffSession(Base):
    """A signed-in browser. Only the SHA-256 of the cookie's token is stored."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"),
                                          index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class WhatsAppStatus(Base):
    """A status webhook (sent, delivered, read, failed) for one outgoing message.

    Kept as it arrives, then applied to the outbox row with the same platform id; one
    can arrive before the sender has recorded that id, so unapplied ones wait here.
    """

    __tablename__ = "whatsapp_statuses"
    __table_args__ = (UniqueConstraint("wamid", "status", name="uq_whatsapp_statuses_wamid"),
                      Index("ix_whatsapp_statuses_pending", "applied_at", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    wamid: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(12))  # sent | delivered | read | failed
    at: Mapped[datetime]  # the platform's timestamp
    recipient: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    applied_at: Mapped[datetime | None]


class OpsAudit(Base):
    """One operator action on a failure (retry, discard), from `izin ops` or the office's
    Operasi page: who, when, what, and why. Rows are only ever added."""

    __tablename__ = "ops_audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))  # staff username, or "cli:<user>"
    action: Mapped[str] = mapped_column(String(16))  # retry | discard
    kind: Mapped[str] = mapped_column(String(16))  # inbound | outbox | permit
    target_id: Mapped[int] = mapped_column(BigInteger)
    detail: Mapped[str | None] = mapped_column(Text)  # the row's reason at the time
