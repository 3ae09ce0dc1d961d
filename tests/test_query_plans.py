"""The hot paths' queries use their indexes (PostgreSQL's EXPLAIN; skipped on SQLite).

A few thousand files are loaded and ANALYZEd, then the statements a chat turn, the
queue page, search, the IKM report and a broadcast chunk really send (captured from the
engine as they run) are EXPLAINed with their own parameters. A plan that reads
`applications`, `application_documents`, `survey_responses`, the IKM's per-day totals or
the broadcast's audience sequentially fails the test: that is what a dropped or unusable
index looks like.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, text

from bot.composition import App
from conversations.types import InboundEvent
from licensing.skm import ELEMENT_KEYS
from notifications import broadcasts
from service import ikm, office, queue
from storage.models import (
    Applicant,
    Application,
    ApplicationDocument,
    Blob,
    Conversation,
    SurveyResponse,
)

FILES = 4000
START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
WATCHED = ("applications", "application_documents", "survey_responses",
           "survey_day_totals", "survey_day_profiles", "broadcast_recipients")


@pytest.fixture
async def loaded(app: App) -> App:
    if app.engine.dialect.name != "postgresql":
        pytest.skip("EXPLAIN plans are checked on PostgreSQL")
    regions = [e for e in app.catalog]
    await app.runtime.handle(channel="telegram", external_id="seed", platform_id="seed",
                             event=InboundEvent.message("halo"))
    async with app.sessions() as s, s.begin():
        state = (await s.execute(text("SELECT state FROM conversations"))).scalar_one()
        await s.execute(insert(Blob).values(sha256="0" * 64, size=1, kind="pdf",
                                            media_type="application/pdf", created_at=START))
        people, convs, apps, docs, surveys = [], [], [], [], []
        for i in range(1, FILES + 1):
            entry = regions[i % len(regions)]
            at = START + timedelta(minutes=i)
            people.append(dict(id=10_000 + i, channel="telegram", external_id=f"c{i}",
                               display_name=None, lang="id", created_at=at))
            convs.append(dict(applicant_id=10_000 + i, state=state, version=0, updated_at=at))
            step = entry.office_steps[i % len(entry.office_steps)]
            apps.append(dict(id=i, reg_no=f"{entry.region.code}-26-{i:06d}",
                             applicant_id=10_000 + i, region=entry.region.slug,
                             profession=entry.profession.slug, full_name=f"Pemohon Nomor {i}",
                             nik=f"3201{i:012d}", phone="62812", practice_place="RS",
                             lang="id", step_code=step.code, step_since=at,
                             status="open" if i % 4 else "issued", submitted_at=at,
                             due_on=at.date() + timedelta(days=20)))
            for k, req in enumerate(entry.uploads[:3]):
                docs.append(dict(application_id=i, requirement_code=req.code,
                                 blob_sha256="0" * 64, review="pending" if k else "accepted",
                                 uploaded_at=at))
            if i % 2:
                surveys.append(dict(application_id=i, region=entry.region.slug,
                                    profession=entry.profession.slug, submitted_at=at,
                                    profile={"age": "a", "sex": "l"},
                                    answers=dict.fromkeys(ELEMENT_KEYS, 3)))
        await s.execute(insert(Applicant), people)
        await s.execute(insert(Conversation), convs)
        await s.execute(insert(Application), apps)
        await s.execute(insert(ApplicationDocument), docs)
        await s.execute(insert(SurveyResponse), surveys)
    async with app.engine.begin() as conn:
        for table in (*WATCHED, "applicants", "conversations"):
            await conn.execute(text(f"ANALYZE {table}"))
    return app


@contextmanager
def captured(app: App) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
             executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") or " RETURNING " in statement:
            seen.append((statement, params))

    event.listen(app.engine.sync_engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", keep)


async def seq_scans(app: App, statements: list[tuple[str, Any]]) -> list[str]:
    """Every `Seq Scan on <watched table>` in the plans of these statements, planned with
    sequential scans priced out (`enable_seqscan = off`): at a few thousand rows the
    planner may honestly prefer a scan (it did, once more indexes existed), but with
    scans priced out a `Seq Scan` still appears only where no index can serve the query,
    which is what a dropped or unusable index looks like."""
    found = []
    async with app.engine.connect() as conn:
        await conn.exec_driver_sql("SET enable_seqscan = off")
        for sql, params in statements:
            if not any(t in sql for t in WATCHED):
                continue
            plan = "\n".join(r[0] for r in (await conn.exec_driver_sql(
                "EXPLAIN " + sql, params)).all())
            for table in re.findall(r"Seq Scan on (\w+)", plan):
                if table in WATCHED:
                    found.append(f"{table}: {sql[:200]}\n{plan}")
    return found


class Officer:
    role = "front_office"
    region = "purwakarta"
    username = "fo"

    def __init__(self, app: App) -> None:
        # The positions the region's front-office steps name (the queue is by position).
        self.positions = frozenset(
            s.position for e in app.catalog if e.region.slug == self.region
            for s in e.office_steps if s.role.value == self.role)


async def test_a_chat_turn_uses_the_applicant_index(loaded: App) -> None:
    with captured(loaded) as seen:
        await loaded.runtime.handle(channel="telegram", external_id="c8", platform_id="t1",
                                    event=InboundEvent.message("/status"))
    assert any("applicant_id" in sql for sql, _ in seen)
    assert await seq_scans(loaded, seen) == []


async def test_queue_pages_and_filters_use_indexes(loaded: App) -> None:
    now = START + timedelta(days=60)
    with captured(loaded) as seen:
        async with loaded.sessions() as s:
            first = await queue.page(s, catalog=loaded.catalog, calendar=loaded.calendar,
                                     actor=Officer(loaded), now=now)
            for want in (queue.QueueFilter(page=3), queue.QueueFilter(overdue=True),
                         queue.QueueFilter(sort=queue.QueueSort.DEADLINE),
                         queue.QueueFilter(sort=queue.QueueSort.REG_NO,
                                           submitted_from=date(2026, 1, 6),
                                           submitted_to=date(2026, 1, 7))):
                await queue.page(s, catalog=loaded.catalog, calendar=loaded.calendar,
                                 actor=Officer(loaded), now=now, want=want)
    assert first.rows and first.has_next
    assert any("application_documents" in sql for sql, _ in seen)
    assert await seq_scans(loaded, seen) == []


async def test_search_uses_the_trigram_indexes(loaded: App) -> None:
    with captured(loaded) as seen:
        async with loaded.sessions() as s:
            found = await office.search(s, actor=Officer(loaded), text="Nomor 12")
            await office.search(s, actor=Officer(loaded), text="26-0012")
    assert found and all("Nomor 12" in a.full_name and a.region == "purwakarta"
                         for a in found)
    problems = await seq_scans(loaded, seen)
    assert problems == []
    # The trigram index must be usable for ILIKE '%..%' (a btree never is). At a few
    # thousand rows a sequential scan is honestly cheaper, so it is switched off for
    # this one check only; bench/data_growth.py shows the index chosen at 100k files.
    async with loaded.engine.begin() as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        for column, part in (("full_name", "%nomor 3217%"), ("reg_no", "%-003217%")):
            plan = "\n".join(r[0] for r in (await conn.execute(text(
                f"EXPLAIN SELECT id FROM applications WHERE {column} ILIKE :q"),
                {"q": part})).all())
            assert f"ix_applications_{column}_trgm" in plan, plan


async def test_ikm_and_broadcast_chunks_use_indexes(loaded: App) -> None:
    with captured(loaded) as seen:
        await ikm.report(loaded.sessions, loaded.catalog, region="purwakarta",
                         start=date(2026, 1, 5), end=date(2026, 1, 6))
    # The per-day totals for the whole UTC day inside, the responses for the cut-off hours.
    assert {"survey_day_totals", "survey_day_profiles", "survey_responses"} <= {
        t for sql, _ in seen for t in WATCHED if t in sql}
    assert await seq_scans(loaded, seen) == []
    bid = await broadcasts.create_broadcast(
        loaded.sessions, loaded.catalog, selection=broadcasts.Selection(region="metro"),
        template="Halo {{ name }}", sender_username="kadis", sender_role="admin",
        now=START, enqueue=False)
    await broadcasts.enqueue_chunk(loaded.sessions, loaded.catalog, bid, now=START, chunk=50)
    async with loaded.engine.begin() as conn:
        await conn.execute(text("ANALYZE broadcast_recipients"))
    with captured(loaded) as seen:
        await broadcasts.enqueue_chunk(loaded.sessions, loaded.catalog, bid, now=START,
                                       chunk=50)
    assert any("broadcast_recipients" in sql for sql, _ in seen)
    assert await seq_scans(loaded, seen) == []
