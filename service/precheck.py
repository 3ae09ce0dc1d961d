"""Running the document pre-check beside the chat, never in its way.

The chat's turn only inserts a `prechecks` row (`queue`, inside the event's
transaction) and answers at once. `PrecheckRunner` claims pending rows, runs
`licensing.precheck.pipeline.run` in a small process pool (the event loop only awaits
a future), stores the cleaned PDF in the file store, keeps the result on the row and
on any submitted document it belongs to, and tells the applicant in a later message.
The upload itself is already in the draft before any of this starts: a failed or
crashed pre-check loses nothing but its own result.

Read fields are personal data: they are stored, shown to staff who may open the
file, and never logged (log lines name the row id and the error type only).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.i18n import Translator
from conversations.types import OutMessage, RequestPrecheck
from licensing.catalog import Catalog
from licensing.dates import format_date
from licensing.precheck import pipeline
from licensing.precheck.kinds import DocumentKind
from service.outbox import PRIORITY_NOTICE, enqueue
from service.wakeups import wait_any
from storage.filestore import FileStore
from storage.models import Applicant, Application, ApplicationDocument, Blob, Precheck

log = logging.getLogger(__name__)

RUN_TIMEOUT = 300.0  # seconds for one requirement's pages; a page takes a few
STALE_AFTER = timedelta(minutes=10)  # a running row its process abandoned
MAX_ATTEMPTS = 2


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


async def queue(session: AsyncSession, applicant: Applicant, e: RequestPrecheck, *,
                now: datetime) -> None:
    """Inside the chat turn's transaction: one row, nothing else."""
    session.add(Precheck(
        applicant_id=applicant.id, requirement_code=e.requirement_code,
        sources=list(e.sources),
        request={"document": e.document, "expected": e.expected, "lang": e.lang,
                 "title": e.title,
                 "max_age_days": e.max_age_days},
        status=Status.PENDING.value, attempts=0, created_at=now))


def document_view(row: Precheck) -> dict[str, Any]:
    """What a document keeps of its pre-check (application_documents.precheck)."""
    return {"status": row.status, "pdf": row.pdf_sha256, "sources": list(row.sources),
            "precheck_id": row.id, **(row.result or {})}


async def attach_on_submit(session: AsyncSession, applicant_id: int,
                           documents: list[ApplicationDocument]) -> None:
    """At submission: each new document gets the latest pre-check of its pages."""
    codes = [d.requirement_code for d in documents]
    rows = (await session.scalars(
        select(Precheck).where(Precheck.applicant_id == applicant_id,
                               Precheck.requirement_code.in_(codes))
        .order_by(Precheck.id))).all()
    latest: dict[tuple[str, str], Precheck] = {}
    for r in rows:
        if r.sources:
            latest[(r.requirement_code, r.sources[0])] = r
    for doc in documents:
        row = latest.get((doc.requirement_code, doc.blob_sha256))
        if row is not None:
            doc.precheck = document_view(row)


def _process_init() -> None:
    # Below the chat: on a busy machine the OS runs the event loop first.
    with contextlib.suppress(OSError):
        os.nice(10)


def make_pool(workers: int = 1) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=max(1, min(workers, 2)), initializer=_process_init)


def _expected(req: dict[str, Any], catalog: Catalog, today: date) -> pipeline.Expected:
    e = req.get("expected", {})
    names = sorted({entry.profession.name for entry in catalog})
    return pipeline.Expected(nik=e.get("nik"), full_name=e.get("full_name"),
                             str_number=e.get("str_number"), profession=e.get("profession"),
                             professions=tuple(names), today=today,
                             max_age_days=req.get("max_age_days"))


def applicant_notes(result: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """(note key, value) for the chat, from the checks: only what disagrees or warns."""
    fields = result.get("fields", {})
    notes: list[tuple[str, str]] = []
    for c in result.get("checks", []):
        name, status = c["field"], c["status"]
        if name == "valid_until" and status in ("disagree", "warn"):
            shown = format_date(date.fromisoformat(fields["valid_until"]), lang)
            notes.append(("str_expired" if status == "disagree" else "str_expires", shown))
        elif name == "date" and status == "warn":
            notes.append(("letter_old", format_date(date.fromisoformat(fields["date"]), lang)))
        elif name == "profession" and status == "disagree":
            notes.append(("profession", str(fields.get("profession") or "")))
        elif status == "disagree" and name in ("nik", "name", "str_number"):
            notes.append((name, ""))
    return notes


@dataclass
class PrecheckRunner:
    """Claims queued pre-checks and runs them in a bounded process pool."""

    sessions: async_sessionmaker[AsyncSession]
    files: FileStore
    catalog: Catalog
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    workers: int = 1
    use_ocr: bool = True
    pool_factory: Callable[[int], Executor] = make_pool
    _pool: Executor | None = field(default=None, init=False)
    _wake: asyncio.Event | None = field(default=None, init=False)

    def wake(self) -> None:
        """Called after a chat turn queued a pre-check (cheap, from the event loop)."""
        if self._wake is not None:
            self._wake.set()

    def _executor(self) -> Executor:
        if self._pool is None:
            self._pool = self.pool_factory(self.workers)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def run_forever(self, stop: asyncio.Event, *, poll_seconds: float = 15.0) -> None:
        self._wake = asyncio.Event()
        try:
            while not stop.is_set():
                self._wake.clear()
                await self.run_pending()
                await wait_any(self._wake, stop, seconds=poll_seconds)
        finally:
            self.close()

    async def run_pending(self, limit: int = 20) -> int:
        """Run what is queued now, `workers` at a time; returns how many ran."""
        await self._requeue_stale()
        async with self.sessions() as session:
            ids = list((await session.scalars(
                select(Precheck.id).where(Precheck.status == Status.PENDING.value)
                .order_by(Precheck.id).limit(limit))).all())
        sem = asyncio.Semaphore(max(1, self.workers))

        async def one(row_id: int) -> bool:
            async with sem:
                return await self.run_one(row_id)

        return sum(await asyncio.gather(*(one(i) for i in ids)))

    async def _requeue_stale(self) -> None:
        cutoff = self.clock() - STALE_AFTER
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(Precheck).where(Precheck.status == Status.RUNNING.value,
                                       Precheck.started_at < cutoff)
                .values(status=Status.PENDING.value))

    async def _claim(self, row_id: int) -> Precheck | None:
        async with self.sessions() as session, session.begin():
            claimed = await session.execute(
                update(Precheck).where(Precheck.id == row_id,
                                       Precheck.status == Status.PENDING.value)
                .values(status=Status.RUNNING.value, started_at=self.clock(),
                        attempts=Precheck.attempts + 1))
            if claimed.rowcount == 0:  # type: ignore[attr-defined]
                return None  # another process took it
            return await session.get_one(Precheck, row_id)

    async def run_one(self, row_id: int) -> bool:
        row = await self._claim(row_id)
        if row is None:
            return False
        out_pdf = self.files.tmp_dir / f"precheck-{row_id}-{os.getpid()}.pdf"
        try:
            result = await self._run(row, out_pdf)
            pdf = await self.files.ingest_path(out_pdf) if out_pdf.exists() else None
        except Exception as exc:  # the upload is safe in the draft; only this result is lost
            log.warning("pre-check %s failed: %s", row_id, type(exc).__name__)
            if isinstance(exc, BrokenProcessPool):
                self.close()  # a crashed worker: start a fresh pool next time
            await self._fail(row_id, row.attempts)
            return True
        finally:
            out_pdf.unlink(missing_ok=True)
        await self._finish(row_id, result, pdf.sha256 if pdf else None,
                           (pdf.size, pdf.pages) if pdf else None)
        return True

    async def _run(self, row: Precheck, out_pdf: Path) -> dict[str, Any]:
        req = row.request
        kind = DocumentKind(req["document"])
        paths = [self.files.path_for(sha) for sha in row.sources]
        expected = _expected(req, self.catalog, self.clock().date())
        self.files.tmp_dir.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor(), _run_in_worker, paths, kind, expected,
                                      out_pdf, self.use_ocr)
        return await asyncio.wait_for(future, RUN_TIMEOUT)

    async def _fail(self, row_id: int, attempts: int) -> None:
        status = Status.PENDING if attempts < MAX_ATTEMPTS else Status.FAILED
        async with self.sessions() as session, session.begin():
            await session.execute(update(Precheck).where(Precheck.id == row_id).values(
                status=status.value, finished_at=self.clock()))

    async def _finish(self, row_id: int, result: dict[str, Any], pdf_sha: str | None,
                      pdf_info: tuple[int, int | None] | None) -> None:
        now = self.clock()
        async with self.sessions() as session, session.begin():
            if pdf_sha is not None and pdf_info is not None and await session.get(
                    Blob, pdf_sha) is None:
                session.add(Blob(sha256=pdf_sha, size=pdf_info[0], kind="pdf",
                                 media_type="application/pdf", pages=pdf_info[1], width=None,
                                 height=None, created_at=now))
                await session.flush()
            row = await session.get_one(Precheck, row_id)
            row.status, row.result, row.pdf_sha256, row.finished_at = (
                Status.DONE.value, result, pdf_sha, now)
            await session.flush()
            # A document already submitted with these pages gets the result too.
            docs = (await session.scalars(
                select(ApplicationDocument).join(Application)
                .where(Application.applicant_id == row.applicant_id,
                       ApplicationDocument.requirement_code == row.requirement_code,
                       ApplicationDocument.blob_sha256 == row.sources[0]))).all()
            for doc in docs:
                doc.precheck = document_view(row)
            newer = await session.scalar(
                select(Precheck.id).where(Precheck.applicant_id == row.applicant_id,
                                          Precheck.requirement_code == row.requirement_code,
                                          Precheck.id > row.id).limit(1))
            if newer is None:  # a later photo's check will speak for this requirement
                applicant = await session.get_one(Applicant, row.applicant_id)
                enqueue(session, applicant, self._message(row, result), now=now,
                        priority=PRIORITY_NOTICE, notification_type="precheck")

    def _message(self, row: Precheck, result: dict[str, Any]) -> OutMessage:
        lang = row.request.get("lang", "id")
        t = Translator(lang)
        title = row.request.get("title") or row.requirement_code
        text = t("precheck.result", title=title, pages=len(row.sources),
                 flags=result.get("quality", []), notes=applicant_notes(result, lang))
        return OutMessage(kind="text", text=text)


def _run_in_worker(paths: list[Path], kind: DocumentKind, expected: pipeline.Expected,
                   out_pdf: Path, use_ocr: bool) -> dict[str, Any]:
    """In the pool's process (a module-level function: it must pickle)."""
    return pipeline.run(paths, kind, expected, out_pdf, use_ocr=use_ocr)
