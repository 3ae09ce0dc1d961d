"""Province scale: the hot queries with 100k applications loaded in PostgreSQL.

    .venv/bin/python bench/data_growth.py --db postgresql+asyncpg://postgres@127.0.0.1:5432/DB
    .venv/bin/python bench/data_growth.py --db URL --reuse      # skip the load (same data)

The database's public schema is dropped and migrated, then loaded with COPY: 100,000
applicants with their conversations and applications (spread over the catalog's
regions and steps; 60,000 in Purwakarta, one in five still open), 600,000 scans
(application_documents), 20,000 survey responses (Purwakarta, 2026; their per-day IKM
totals rebuilt by migration 0017, as COPY bypasses the ORM that keeps them). Then each
operation runs 5 times and the median is printed:

- chat turn: `Runtime.handle` of a text for an applicant who has applications; "db" is
  the time spent inside cursor executes (SQLAlchemy's before/after_cursor_execute);
- queue: `GET /office/queue` (front office, Purwakarta) through the real app in
  process, and `service.queue.page` alone; also page 50 and the overdue filter;
- search: `GET /office/search?q=...` for part of a name and part of a reg. number;
- IKM: `service.ikm.report` over the 20,000 responses;
- broadcast: `create_broadcast` to everyone with an application in Purwakarta (50,000+
  recipients), from the first SELECT to the last outbox row committed.

With `--explain` it prints the plans of the per-turn lookup, the queue and search.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable as a plain script from anywhere

import asyncpg  # noqa: E402
from sqlalchemy import event, text  # noqa: E402

from bench.journeys import _fresh_postgres  # noqa: E402
from bot.composition import App, build  # noqa: E402
from bot.settings import Settings  # noqa: E402
from conversations.types import InboundEvent  # noqa: E402
from licensing.skm import ELEMENT_KEYS, load_skm  # noqa: E402
from notifications import broadcasts  # noqa: E402
from service import ikm, office, queue  # noqa: E402
from storage.migrate import downgrade, upgrade_async  # noqa: E402
from tests.office_client import Browser, make_staff  # noqa: E402

APPLICATIONS = 100_000
SCANS_PER_FILE = 6
SURVEYS = 20_000
RUNS = 5
START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def _raw(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def load(app: App, url: str) -> None:
    rnd = random.Random(15)
    entries = list(app.catalog)
    # 60% of the files in Purwakarta (the broadcast and the IKM's region), the rest spread.
    pwk = [e for e in entries if e.region.slug == "purwakarta"]
    others = [e for e in entries if e.region.slug != "purwakarta"]
    # A real conversation state to copy: one turn of a fresh chat.
    await app.runtime.handle(channel="telegram", external_id="seed", platform_id="seed-1",
                             event=InboundEvent.message("halo"))
    async with app.sessions() as s:
        state = (await s.execute(text("SELECT state FROM conversations"))).scalar_one()
        await s.execute(text("DELETE FROM outbox"))
        await s.commit()
    state_json = json.dumps(state)
    conn = await asyncpg.connect(_raw(url))
    try:
        await conn.execute("DELETE FROM conversations; DELETE FROM inbound_messages; "
                           "DELETE FROM applicants")
        sha = "0" * 64
        await conn.execute(
            "INSERT INTO blobs (sha256, size, kind, media_type, pages, created_at) "
            "VALUES ($1, 1000, 'pdf', 'application/pdf', 1, $2)", sha, START)
        applicants, convs, apps, docs = [], [], [], []
        for i in range(1, APPLICATIONS + 1):
            entry = rnd.choice(pwk) if i % 5 < 3 else rnd.choice(others)
            at = START + timedelta(minutes=5 * i * 0.9)
            applicants.append((i, "telegram", str(10_000_000 + i), f"Pemohon {i}", "id", at,
                               at, None))
            convs.append((i, state_json, 1, at))
            open_ = i % 5 == 0
            steps = entry.office_steps if open_ else entry.procedure[-1:]
            step = rnd.choice(steps)
            due = (at + timedelta(days=rnd.randint(5, 40))).date()
            apps.append((i, f"{entry.region.code}-{2600 + i // 10000}-{i:06d}", i,
                         entry.region.slug, entry.profession.slug,
                         f"{rnd.choice(FIRST)} {rnd.choice(LAST)} {i}", f"3201{i:012d}",
                         "6281234567890", "RS Umum", None, "id", step.code, at,
                         "open" if open_ else "issued", at, at.date(), due, None, None))
            codes = [r.code for r in entry.uploads][:SCANS_PER_FILE]
            codes += [f"extra{k}" for k in range(SCANS_PER_FILE - len(codes))]
            for k, code in enumerate(codes):
                review = "pending" if open_ and k % 3 == 0 else "accepted"
                docs.append((i * 10 + k, i, code, sha, review, None, at))
        await conn.copy_records_to_table("applicants", records=applicants, columns=[
            "id", "channel", "external_id", "display_name", "lang", "created_at",
            "last_inbound_at", "unreachable_at"])
        await conn.copy_records_to_table("conversations", records=convs, columns=[
            "applicant_id", "state", "version", "updated_at"])
        await conn.copy_records_to_table("applications", records=apps, columns=[
            "id", "reg_no", "applicant_id", "region", "profession", "full_name", "nik",
            "phone", "practice_place", "str_number", "lang", "step_code", "step_since",
            "status", "submitted_at", "clock_started_on", "due_on", "decided_at",
            "decision_note"])
        await conn.copy_records_to_table("application_documents", records=docs, columns=[
            "id", "application_id", "requirement_code", "blob_sha256", "review",
            "review_reason", "uploaded_at"])
        skm = load_skm()
        surveys = []
        purwakarta_ids = [a[0] for a in apps if a[3] == "purwakarta"][:SURVEYS]
        for n, app_id in enumerate(purwakarta_ids):
            answers = {k: rnd.choice((2, 3, 3, 4)) for k in ELEMENT_KEYS}
            profile = {p.key: rnd.choice(p.option_keys) for p in skm.profile}
            surveys.append((n + 1, app_id, "purwakarta", apps[app_id - 1][4],
                            START + timedelta(minutes=20 * n), json.dumps(profile),
                            json.dumps(answers)))
        await conn.copy_records_to_table("survey_responses", records=surveys, columns=[
            "id", "application_id", "region", "profession", "submitted_at", "profile",
            "answers"])
        for table in ("applicants", "applications", "application_documents",
                      "survey_responses"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT max(id) FROM {table}))")
    finally:
        await conn.close()
    # COPY bypasses the ORM that keeps the IKM's per-day totals: rebuild them the way a
    # deployment's upgrade does (migration 0017 sums the stored responses).
    t = time.perf_counter()
    await asyncio.to_thread(downgrade, url, "0016_indexes", production=False)
    await upgrade_async(url)
    print(f"IKM per-day totals rebuilt by migration 0017 in {time.perf_counter() - t:.1f} s")
    conn = await asyncpg.connect(_raw(url))
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


FIRST = ("Siti", "Dewi", "Rina", "Agus", "Budi", "Wahyu", "Nur", "Putri", "Eka", "Dian",
         "Sri", "Hendra", "Yuni", "Rizky", "Fitri", "Andi", "Lestari", "Bayu", "Intan")
LAST = ("Rahmawati", "Santoso", "Wijaya", "Pratama", "Hidayat", "Saputra", "Kusuma",
        "Nugroho", "Lestari", "Purnama", "Siregar", "Harahap", "Simanjuntak", "Wibowo")


class DbClock:
    """Time spent inside the driver's execute calls (network + the server's work)."""

    def __init__(self, app: App) -> None:
        self.total = 0.0
        self.statements = 0
        self._started: list[float] = []
        sync = app.engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before)
        event.listen(sync, "after_cursor_execute", self._after)

    def _before(self, *args: Any) -> None:
        self._started.append(time.perf_counter())

    def _after(self, *args: Any) -> None:
        self.total += time.perf_counter() - self._started.pop()
        self.statements += 1

    def reset(self) -> None:
        self.total, self.statements = 0.0, 0


async def timed(fn: Callable[[], Awaitable[Any]], runs: int = RUNS) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def line(name: str, ms: list[float], extra: str = "") -> None:
    print(f"| {name} | {statistics.median(ms):.1f} | {min(ms):.1f} | {max(ms):.1f} | {extra} |")


async def server_ms(app: App, fn: Callable[[], Awaitable[Any]]) -> tuple[float, int]:
    """The database's own time for what `fn` sends: each statement captured as it runs,
    then EXPLAIN ANALYZEd with its parameters inside a transaction rolled back. Less
    sensitive to a busy client machine than wall time (the server shares the CPUs too)."""
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
             executemany: bool) -> None:
        if not executemany and not statement.lstrip().upper().startswith(("BEGIN", "COMMIT")):
            seen.append((statement, params))

    event.listen(app.engine.sync_engine, "before_cursor_execute", keep)
    try:
        await fn()
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", keep)
    total = 0.0
    async with app.engine.connect() as conn:
        trans = await conn.begin()
        for sql, params in seen:
            plan = [r[0] for r in (await conn.exec_driver_sql(
                "EXPLAIN (ANALYZE) " + sql, params)).all()]
            total += sum(float(line.split(":")[1].split()[0]) for line in plan
                         if line.startswith(("Planning Time", "Execution Time")))
        await trans.rollback()
    return total, len(seen)


async def explain(app: App, sql: str, params: dict[str, Any]) -> str:
    async with app.sessions() as s:
        rows = (await s.execute(text("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql), params)).all()
    return "\n".join(r[0] for r in rows)


async def run(url: str, reuse: bool, show_plans: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if not reuse:
            await _fresh_postgres(url)
        app = await build(Settings(data_dir=Path(tmp), database_url=url,  # type: ignore[call-arg]
                                   _env_file=None), migrate=False)
        if not reuse:
            t = time.perf_counter()
            await load(app, url)
            print(f"loaded in {time.perf_counter() - t:.0f} s")
        app.runtime.clock = lambda: NOW  # type: ignore[method-assign]
        async with app.sessions() as s:
            counts = {t: (await s.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()
                      for t in ("applications", "application_documents", "survey_responses")}
            for table in ("broadcast_recipients", "outbox", "broadcasts", "staff_sessions",
                          "staff"):
                await s.execute(text(f"DELETE FROM {table}"))
            await s.commit()
        print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
              f"{platform.python_version()}; load average {os.getloadavg()}")
        print(f"rows: {counts}")
        print("| operation | median ms | min | max | notes |")
        print("|---|--:|--:|--:|---|")
        clock = DbClock(app)
        turn = {"n": 0}

        async def chat_turn() -> None:
            turn["n"] += 1
            await app.runtime.handle(channel="telegram", external_id=str(10_000_000 + 500),
                                     platform_id=f"bench-{time.time_ns()}",
                                     event=InboundEvent.message("/status"))

        await chat_turn()  # warm caches
        db_ms = []
        total_ms = []
        for _ in range(RUNS):
            clock.reset()
            total_ms += await timed(chat_turn, 1)
            db_ms.append(clock.total * 1000)
        line("chat turn (/status), db time", db_ms, f"{clock.statements} statements")
        line("chat turn (/status), whole handle", total_ms)

        await make_staff(app, "fo.pwk", "front_office", "purwakarta")
        async with Browser(app) as b:
            await b.login("fo.pwk")
            for name, path in (("queue page 1", "/office/queue"),
                               ("queue page 50", "/office/queue?page=50"),
                               ("queue overdue, by deadline",
                                "/office/queue?overdue=1&sort=deadline"),
                               ("queue by reg. no, submitted in March",
                                "/office/queue?sort=reg_no&submitted_from=2026-03-01"
                                "&submitted_to=2026-03-31"),
                               ("search name part 'Rahma'", "/office/search?q=Rahma"),
                               ("search reg. no part '-04321'", "/office/search?q=04321"),
                               ("search rare name 'Simanj'", "/office/search?q=Simanjuntak+12")):
                await b.get(path)
                ms = await timed(lambda p=path: b.get(p))  # type: ignore[misc]
                res = await b.get(path)
                assert res.status_code == 200, res.text[:500]
                rows = res.text.count("data-reg-no=") or res.text.count("<tr><td>")
                line(f"GET {name}", ms, f"{rows} rows shown")
        staff = type("S", (), {"role": "front_office", "region": "purwakarta",
                               "username": "fo.pwk"})()
        async with app.sessions() as s:
            ms = await timed(lambda: queue.page(s, catalog=app.catalog,
                                                calendar=app.calendar, actor=staff, now=NOW))
            line("service.queue.page (page 1)", ms)
            ms = await timed(lambda: office.search(s, actor=staff, text="Rahma"))
            line("service office.search 'Rahma'", ms)
        ms = await timed(lambda: ikm.report(app.sessions, app.catalog, region="purwakarta",
                                            start=date(2026, 1, 1), end=date(2026, 12, 31)))
        rep = await ikm.report(app.sessions, app.catalog, region="purwakarta",
                               start=date(2026, 1, 1), end=date(2026, 12, 31))
        assert rep.result is not None
        line("IKM report, Purwakarta 2026", ms,
             f"{rep.result.respondents} respondents, IKM {rep.result.ikm}")

        sent: list[float] = []
        queued = 0
        for _ in range(RUNS):
            t = time.perf_counter()
            bid = await broadcasts.create_broadcast(
                app.sessions, app.catalog, selection=broadcasts.Selection(region="purwakarta"),
                template="Halo {{ name }}, berkas {{ reg_no }}: {{ step }}",
                sender_username="bench", sender_role="admin", now=NOW)
            sent.append((time.perf_counter() - t) * 1000)
            queued = (await broadcasts.progress(app.sessions, bid)).queued
            async with app.sessions() as s:
                await s.execute(text("DELETE FROM outbox"))
                await s.commit()
        line("broadcast to Purwakarta, enqueued", sent, f"{queued} recipients")

        print("\nDatabase time (EXPLAIN ANALYZE of the statements each one sends, "
              "median of 5):")
        print("| operation | server ms | statements |")
        print("|---|--:|--:|")
        ops: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("chat turn (/status)", chat_turn)]
        session = app.sessions()
        ops += [
            ("queue page 1", lambda: queue.page(session, catalog=app.catalog,
                                                calendar=app.calendar, actor=staff, now=NOW)),
            ("queue overdue by deadline", lambda: queue.page(
                session, catalog=app.catalog, calendar=app.calendar, actor=staff, now=NOW,
                want=queue.QueueFilter(overdue=True, sort=queue.QueueSort.DEADLINE))),
            ("search 'Rahma'", lambda: office.search(session, actor=staff, text="Rahma")),
            ("search 'Simanjuntak 12'",
             lambda: office.search(session, actor=staff, text="Simanjuntak 12")),
            ("IKM report", lambda: ikm.report(app.sessions, app.catalog, region="purwakarta",
                                              start=date(2026, 1, 1), end=date(2026, 12, 31))),
        ]
        for name, fn in ops:
            results = [await server_ms(app, fn) for _ in range(RUNS)]
            print(f"| {name} | {statistics.median(r[0] for r in results):.1f} | "
                  f"{results[0][1]} |")
        await session.close()

        if show_plans:
            print("\n-- per-turn lookup")
            print(await explain(app, "SELECT EXISTS (SELECT applications.id FROM applications "
                                "WHERE applications.applicant_id = :a)", {"a": 500}))
            print("\n-- search")
            print(await explain(app, "SELECT id FROM applications WHERE region = 'purwakarta' "
                                "AND (reg_no ILIKE :q OR full_name ILIKE :q) "
                                "ORDER BY submitted_at DESC LIMIT 50", {"q": "%simanj%"}))
        await app.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--reuse", action="store_true", help="the data is already loaded")
    p.add_argument("--explain", action="store_true")
    args = p.parse_args()
    asyncio.run(run(args.db, args.reuse, args.explain))


if __name__ == "__main__":
    main()
