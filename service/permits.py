"""The permit after approval: numbered, rendered, signed, announced, delivered, revoked.

An approval only writes a `pending` permit in its own transaction (`request_permit`),
so it can never be lost to a failed render. `produce_pending` then works in three
short steps, keeping the slow part (WeasyPrint and pyHanko, about a second) outside
any transaction: (1) give the permit its number and dates and commit, (2) render and
sign, store the PDF, (3) mark it issued and tell the applicant. A crash between the
steps leaves a pending permit that already has its number: the next run renders it
again under the same number.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.i18n import Translator
from conversations.types import Choice, OutMessage, PermitDelivered, SubmitSurvey
from conversations.vocab import Kind, cid
from licensing.catalog import Catalog, CatalogEntry
from licensing.ikm import validate_response
from licensing.permit.numbering import permit_number, permit_settings
from licensing.permit.render import permit_data, render_permit_pdf, valid_until
from licensing.permit.signing import SignatureInfo, check_signed_pdf, sign_pdf
from licensing.permit.verify_code import new_verify_code, verify_url
from licensing.skm import load_skm
from service.outbox import PRIORITY_BULK, PRIORITY_NOTICE, enqueue
from storage.filestore import FileStore
from storage.models import (
    Applicant,
    Application,
    ApplicationEvent,
    Blob,
    Permit,
    SurveyResponse,
)

log = logging.getLogger(__name__)

REMIND_AFTER = timedelta(days=30)


class PermitError(Exception):
    """A permit action that cannot be done; the message says why, for staff."""


@dataclass(frozen=True)
class Signer:
    """How this office signs: its PKCS#12 file, and whether it is a test certificate."""

    p12_path: Path
    password: bytes
    test: bool
    base_url: str  # public address of the verify page


# --- approval hands over --------------------------------------------------------------


async def request_permit(session: AsyncSession, application: Application, *,
                         now: datetime, ready: bool = True) -> Permit:
    """Called in the approval's transaction: the permit to produce (idempotent).
    `ready=False` holds it until the procedure's last permit step (`release`)."""
    existing = await session.scalar(
        select(Permit).where(Permit.application_id == application.id))
    if existing is not None:
        return existing
    permit = Permit(application_id=application.id, region=application.region,
                    profession=application.profession, status="pending",
                    verify_code=new_verify_code(), holder_name=application.full_name,
                    created_at=now, test=False, ready=ready)
    session.add(permit)
    await session.flush()
    return permit


# --- producing ------------------------------------------------------------------------


def _local_today(entry: CatalogEntry, now: datetime) -> date:
    return now.astimezone(ZoneInfo(entry.region.timezone)).date()


async def _number(session: AsyncSession, permit: Permit, entry: CatalogEntry,
                  now: datetime) -> None:
    """Step 1: the next running number of the region and year, and the dates."""
    issue = _local_today(entry, now)
    top = await session.scalar(select(func.max(Permit.seq)).where(
        Permit.region == permit.region, Permit.year == issue.year))
    seq = (top or 0) + 1
    settings = permit_settings(permit.region)
    permit.year, permit.seq, permit.issue_date = issue.year, seq, issue
    permit.valid_until = valid_until(issue, settings.validity_years)
    permit.number = permit_number(settings, profession=permit.profession, seq=seq, on=issue,
                                  region_code=entry.region.code)


async def assign_number(session: AsyncSession, permit: Permit, entry: CatalogEntry,
                        now: datetime) -> str:
    """The office's numbering step (or the signing step, where the e-signature needs the
    number): the permit gets its number now, in the caller's transaction."""
    if permit.number is None:
        await _number(session, permit, entry, now)
    assert permit.number is not None
    return permit.number


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def store_pdf(files: FileStore, session: AsyncSession, pdf: bytes,
                    now: datetime) -> str:
    blob = await files.ingest(_bytes(pdf), declared_size=len(pdf))
    if await session.get(Blob, blob.sha256) is None:
        session.add(Blob(sha256=blob.sha256, size=blob.size, kind=blob.kind,
                         media_type=blob.media_type, pages=blob.pages, created_at=now))
        await session.flush()
    return blob.sha256


async def any_to_produce(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Whether a permit waits to be rendered and signed (one indexed look)."""
    async with sessions() as session:
        return await session.scalar(select(Permit.id).where(
            Permit.status == "pending", Permit.ready.is_(True)).limit(1)) is not None


async def produce_pending(
    sessions: async_sessionmaker[AsyncSession],
    *,
    catalog: Catalog,
    files: FileStore,
    signer: Signer,
    now: datetime,
    limit: int = 20,
) -> int:
    """Render, sign and announce pending permits; returns how many were issued."""
    async with sessions() as session:
        ids = (await session.scalars(select(Permit.id).where(
            Permit.status == "pending", Permit.ready.is_(True))
            .order_by(Permit.id).limit(limit))).all()
    issued = 0
    for permit_id in ids:
        try:
            if await _produce_one(sessions, permit_id, catalog=catalog, files=files,
                                  signer=signer, now=now):
                issued += 1
        except Exception as exc:  # one bad permit must not stop the others
            log.exception("permit %s could not be produced", permit_id)
            async with sessions() as session, session.begin():
                permit = await session.get(Permit, permit_id)
                if permit is not None:
                    permit.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    return issued


async def _produce_one(sessions: async_sessionmaker[AsyncSession], permit_id: int, *,
                       catalog: Catalog, files: FileStore, signer: Signer,
                       now: datetime) -> bool:
    for _attempt in range(3):  # two offices' processes may race for a number
        try:
            async with sessions() as session, session.begin():
                permit = await session.get(Permit, permit_id, with_for_update=True)
                if permit is None or permit.status != "pending" or not permit.ready:
                    return False
                application = await session.get(Application, permit.application_id)
                assert application is not None
                entry = catalog.get(application.region, application.profession)
                if permit.number is None:
                    await _number(session, permit, entry, now)
                data = permit_data(
                    entry, number=permit.number or "", holder_name=application.full_name,
                    str_number=application.str_number or "-",
                    place_of_practice=application.practice_place,
                    issue_date=permit.issue_date or _local_today(entry, now),
                    verify_url=verify_url(signer.base_url, permit.verify_code),
                    test=signer.test,
                )
            break
        except IntegrityError:
            continue
    else:
        raise PermitError("no free permit number after three tries")

    unsigned = await asyncio.to_thread(render_permit_pdf, data)
    signed = await asyncio.to_thread(
        sign_pdf, unsigned, signer.p12_path, signer.password,
        reason=f"Surat Izin Praktik {data.number}", location=data.place_of_signing,
        test=signer.test)

    async with sessions() as session, session.begin():
        permit = await session.get(Permit, permit_id, with_for_update=True)
        if permit is None or permit.status != "pending":
            return False
        sha = await store_pdf(files, session, signed, now)
        await _issue(session, permit, sha, source="office", test=signer.test,
                     catalog=catalog, now=now, actor="system")
    return True


async def _issue(session: AsyncSession, permit: Permit, sha256: str, *, source: str,
                 test: bool, catalog: Catalog, now: datetime, actor: str) -> None:
    """Step 3: issued, the application closed, the applicant told (one transaction)."""
    application = await session.get(Application, permit.application_id)
    assert application is not None
    applicant = await session.get(Applicant, application.applicant_id)
    assert applicant is not None
    entry = catalog.get(application.region, application.profession)
    permit.status, permit.blob_sha256, permit.source, permit.test = "issued", sha256, source, test
    permit.issued_at, permit.last_error = now, None
    from_step = application.step_code
    application.status, application.step_since = "issued", now
    session.add(ApplicationEvent(application_id=application.id, at=now, actor=actor,
                                 role="system" if actor == "system" else "head_of_office",
                                 action="permit_issued", from_step=from_step,
                                 to_step=from_step, note=permit.number))
    t = Translator(application.lang)
    if entry.survey_before_download:
        enqueue(session, applicant, OutMessage(
            kind="choices", text=t("survey.ready_with_survey", reg_no=application.reg_no,
                                   number=permit.number),
            choices=(Choice(cid(Kind.SURVEY, application.reg_no), t("survey.start_survey")),)),
            now=now, priority=PRIORITY_NOTICE, notification_type="permit_ready")
        return
    enqueue(session, applicant, OutMessage(
        kind="text", text=t("survey.ready", reg_no=application.reg_no, number=permit.number)),
        now=now, priority=PRIORITY_NOTICE, notification_type="permit_ready")
    enqueue(session, applicant, permit_document(t, application.reg_no, permit),
            now=now, priority=PRIORITY_NOTICE, notification_type="permit_ready")
    permit.delivered_at = now


def permit_document(t: Translator, reg_no: str, permit: Permit) -> OutMessage:
    return OutMessage(kind="document",
                      text=t("survey.permit_caption", reg_no=reg_no, number=permit.number),
                      blob_sha256=permit.blob_sha256, filename=f"izin-{reg_no}.pdf",
                      media_type="application/pdf")


async def attach_signed_pdf(
    sessions: async_sessionmaker[AsyncSession],
    *,
    files: FileStore,
    catalog: Catalog,
    reg_no: str,
    pdf: bytes,
    actor: str,
    now: datetime,
    trust_roots: Sequence[bytes] = (),
) -> SignatureInfo:
    """A PDF signed elsewhere (e.g. the national e-signature service) becomes the permit.

    It must carry an intact signature over the whole file; it is stored byte for byte.
    Raises SignatureError (bad PDF or signature) or PermitError (no pending permit).
    """
    info = await asyncio.to_thread(check_signed_pdf, pdf, trust_roots=trust_roots)
    async with sessions() as session, session.begin():
        permit = await _pending_for_upload(session, reg_no, region=None)
        sha = await store_pdf(files, session, pdf, now)
        await _attach(session, permit, sha, info, catalog=catalog, actor=actor, now=now)
    return info


async def attach_signed_upload(
    sessions: async_sessionmaker[AsyncSession],
    *,
    files: FileStore,
    catalog: Catalog,
    reg_no: str,
    region: str,
    chunks: AsyncIterable[bytes],
    declared_size: int | None,
    actor: str,
    now: datetime,
    trust_roots: Sequence[bytes] = (),
) -> SignatureInfo:
    """The back office's upload of a PDF signed elsewhere, streamed into the file store.

    The signature is checked on the streamed temp file before it is kept, so a PDF
    without a valid signature leaves nothing behind (UploadRejected with the
    SignatureError's code, or "too_large"/"empty"). Only a permit of `region`.
    """
    async with sessions() as session:
        await _pending_for_upload(session, reg_no, region=region)  # refuse before streaming
    found: list[SignatureInfo] = []

    def inspect(fh: BinaryIO) -> _SignedPdf:
        found.append(check_signed_pdf(fh.read(), trust_roots=trust_roots))
        return _SignedPdf()

    checking = FileStore(files.root, max_bytes=files.max_bytes, inspector=inspect)
    blob = await checking.ingest(chunks, declared_size=declared_size)
    async with sessions() as session, session.begin():
        permit = await _pending_for_upload(session, reg_no, region=region)
        if await session.get(Blob, blob.sha256) is None:
            session.add(Blob(sha256=blob.sha256, size=blob.size, kind=blob.kind,
                             media_type=blob.media_type, pages=blob.pages, created_at=now))
            await session.flush()
        await _attach(session, permit, blob.sha256, found[0], catalog=catalog, actor=actor,
                      now=now)
    return found[0]


@dataclass(frozen=True)
class _SignedPdf:
    """What the file store records of an accepted signed PDF."""

    kind: str = "pdf"
    media_type: str = "application/pdf"
    pages: int | None = None
    width: int | None = None
    height: int | None = None


async def _pending_for_upload(session: AsyncSession, reg_no: str, *,
                              region: str | None) -> Permit:
    q = select(Permit).join(Application, Permit.application_id == Application.id).where(
        Application.reg_no == reg_no)
    if region is not None:
        q = q.where(Application.region == region)
    permit = await session.scalar(q.with_for_update())
    if permit is None or permit.status != "pending":
        raise PermitError(f"{reg_no}: no permit waiting for a signature")
    if not permit.ready:  # the procedure still owes its signing or numbering step
        raise PermitError(f"{reg_no}: the procedure's last permit step is not done yet")
    return permit


async def _attach(session: AsyncSession, permit: Permit, sha: str, info: SignatureInfo, *,
                  catalog: Catalog, actor: str, now: datetime) -> None:
    application = await session.get(Application, permit.application_id)
    assert application is not None
    entry = catalog.get(application.region, application.profession)
    if permit.number is None:
        await _number(session, permit, entry, now)
    await _issue(session, permit, sha, source="uploaded", test=info.is_test,
                 catalog=catalog, now=now, actor=actor)


@dataclass(frozen=True)
class PermitRow:
    """One permit as the office's list shows it."""

    permit: Permit
    reg_no: str
    applicant_name: str


async def list_permits(session: AsyncSession, *, region: str, status: str | None = None,
                       limit: int = 500) -> list[PermitRow]:
    q = (select(Permit, Application.reg_no, Application.full_name)
         .join(Application, Permit.application_id == Application.id)
         .where(Permit.region == region))
    if status:
        q = q.where(Permit.status == status)
    rows = (await session.execute(q.order_by(Permit.id.desc()).limit(limit))).all()
    return [PermitRow(permit=p, reg_no=r, applicant_name=n) for p, r, n in rows]


# --- in the chat ----------------------------------------------------------------------


async def _own_permit(session: AsyncSession, applicant: Applicant,
                      reg_no: str) -> tuple[Application, Permit] | None:
    row = (await session.execute(
        select(Application, Permit).join(Permit, Permit.application_id == Application.id)
        .where(Application.reg_no == reg_no, Application.applicant_id == applicant.id))).first()
    return None if row is None else (row[0], row[1])


async def record_survey(session: AsyncSession, applicant: Applicant, e: SubmitSurvey, *,
                        now: datetime) -> None:
    own = await _own_permit(session, applicant, e.reg_no)
    if own is None:
        return  # not theirs, or no permit: nothing to attach the survey to
    application, _permit = own
    answers = validate_response(e.answers)
    skm = load_skm()
    profile = {q.key: e.profile[q.key] for q in skm.profile
               if e.profile.get(q.key) in q.option_keys}
    exists = await session.scalar(select(SurveyResponse.id).where(
        SurveyResponse.application_id == application.id))
    if exists is None:
        session.add(SurveyResponse(application_id=application.id, region=application.region,
                                   profession=application.profession, submitted_at=now,
                                   profile=profile, answers=answers))
        await session.flush()


async def mark_delivered(session: AsyncSession, applicant: Applicant, e: PermitDelivered, *,
                         now: datetime) -> None:
    own = await _own_permit(session, applicant, e.reg_no)
    if own is not None and own[1].delivered_at is None:
        own[1].delivered_at = now


# --- revocation, verification, reminders ----------------------------------------------


async def revoke(sessions: async_sessionmaker[AsyncSession], *, key: str, reason: str,
                 actor: str, now: datetime, region: str | None = None) -> Permit:
    """Revoke by permit number or verify code; the holder is told in their chat.

    `region`: only that region's permits (the back office); None: any (the CLI).
    """
    reason = " ".join(reason.split())
    if len(reason) < 5:
        raise PermitError("a revocation needs a reason (at least 5 characters)")
    async with sessions() as session, session.begin():
        q = select(Permit).where((Permit.number == key) | (Permit.verify_code == key))
        if region is not None:
            q = q.where(Permit.region == region)
        found = (await session.scalars(q.with_for_update())).all()
        if len(found) > 1:  # the same number in two regions
            raise PermitError(f"{key}: several regions use this number; give the verify code")
        permit = found[0] if found else None
        if permit is None or permit.status != "issued":
            raise PermitError(f"{key}: no issued permit with this number or code")
        application = await session.get(Application, permit.application_id)
        assert application is not None
        applicant = await session.get(Applicant, application.applicant_id)
        assert applicant is not None
        permit.status, permit.revoked_at = "revoked", now
        permit.revoked_by, permit.revoke_reason = actor, reason
        application.status, application.step_since = "revoked", now
        session.add(ApplicationEvent(application_id=application.id, at=now, actor=actor,
                                     role="head_of_office", action="permit_revoked",
                                     from_step=application.step_code,
                                     to_step=application.step_code, note=reason))
        t = Translator(application.lang)
        enqueue(session, applicant, OutMessage(kind="text", text=t(
            "survey.revoked", reg_no=application.reg_no, number=permit.number, reason=reason)),
            now=now, priority=PRIORITY_NOTICE, notification_type="permit_revoked")
        return permit


@dataclass(frozen=True)
class Verification:
    """What the public verify page may show: no NIK, no contact data."""

    status: str  # valid | revoked | expired
    number: str
    holder_name: str
    profession: str
    region: str
    office: str
    issue_date: date
    valid_until: date
    revoked_at: datetime | None
    test: bool


async def verify(sessions: async_sessionmaker[AsyncSession], catalog: Catalog, code: str,
                 *, today: date) -> Verification | None:
    async with sessions() as session:
        permit = await session.scalar(select(Permit).where(Permit.verify_code == code))
    if permit is None or permit.status == "pending" or permit.number is None:
        return None
    assert permit.issue_date is not None and permit.valid_until is not None
    entry = catalog.find(permit.region, permit.profession)
    status = ("revoked" if permit.status == "revoked"
              else "expired" if today > permit.valid_until else "valid")
    return Verification(
        status=status, number=permit.number, holder_name=permit.holder_name,
        profession=entry.profession.name if entry else permit.profession,
        region=entry.region.name if entry else permit.region,
        office=entry.region.office if entry else "",
        issue_date=permit.issue_date, valid_until=permit.valid_until,
        revoked_at=permit.revoked_at, test=permit.test)


async def remind_undelivered(sessions: async_sessionmaker[AsyncSession], *,
                             now: datetime, after: timedelta = REMIND_AFTER,
                             timezones: dict[str, str] | None = None) -> int:
    """One reminder for a permit issued 30+ days ago and still not received.

    Once per permit, even with several processes: the outbox's unique dedupe key
    refuses a second reminder, and `reminded_at` spares the attempt next time.
    """
    sent = 0
    async with sessions() as session:
        ids = (await session.scalars(select(Permit.id).where(
            Permit.status == "issued", Permit.delivered_at.is_(None),
            Permit.reminded_at.is_(None), Permit.issued_at <= now - after))).all()
    for permit_id in ids:
        try:
            async with sessions() as session, session.begin():
                permit = await session.get(Permit, permit_id, with_for_update=True)
                if permit is None or permit.reminded_at is not None:
                    continue
                application = await session.get(Application, permit.application_id)
                assert application is not None
                applicant = await session.get(Applicant, application.applicant_id)
                assert applicant is not None
                t = Translator(application.lang)
                enqueue(session, applicant, OutMessage(
                    kind="choices",
                    text=t("survey.reminder", reg_no=application.reg_no, number=permit.number),
                    choices=(Choice(cid(Kind.SURVEY, application.reg_no),
                                    t("survey.start_survey")),)),
                    now=now, priority=PRIORITY_BULK, dedupe_key=f"permit-reminder:{permit.id}",
                    notification_type="permit_reminder", urgent=False,
                    quiet_tz=(timezones or {}).get(application.region))
                permit.reminded_at = now
                await session.flush()
            sent += 1
        except IntegrityError:
            continue  # another process reminded first
    return sent
