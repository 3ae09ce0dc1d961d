"""The dashboard's queries against a region with many files.

    .venv/bin/python bench/dashboard.py [--files 100000] [--db sqlite|URL] [--repeat 5]

Loads FILES Pekanbaru files spread over 2026 (eight control-card events each: the
submission, the check, the draft, three initials, the signature, the number; one file
in ten still waiting at a random step), then times `service.dashboard.dashboard()` for
one month (step counts, the month's median stay per step, work per officer) and one
file's times. Prints the load time, events in the month and the median / worst ms.
`--db` takes a PostgreSQL URL of an EMPTY database it may fill.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable as a plain script from anywhere

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine  # noqa: E402

from licensing.catalog import Catalog  # noqa: E402
from service import dashboard as dash  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from storage.models import Applicant, Application, ApplicationEvent  # noqa: E402

STEPS = ["pemeriksaan_berkas", "blanko", "paraf_ahli_muda", "paraf_ahli_madya",
         "paraf_sekretaris", "tanda_tangan", "penomoran", "penerimaan_izin"]
ACTIONS = ["check_files", "draft", "initial", "initial", "initial", "sign", "number"]
ROLES = ["front_office", "back_office", "verifier", "verifier", "verifier",
         "head_of_office", "back_office"]
CHUNK = 5000


async def load(url: str, files: int) -> float:
    engine = create_async_engine(url)
    rnd = random.Random(16)
    t0 = time.perf_counter()
    year = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(insert(Applicant).values(
            id=1, channel="console", external_id="bench", lang="id", created_at=year))
    for base in range(0, files, CHUNK):
        apps, events = [], []
        for i in range(base, min(base + CHUNK, files)):
            submitted = year + timedelta(minutes=rnd.randrange(365 * 24 * 60 - 3000))
            stop = rnd.randrange(len(STEPS) - 1) if i % 10 == 0 else len(STEPS) - 1
            at = submitted
            events.append(dict(application_id=i + 1, at=at, actor="applicant",
                               role="applicant", action="submit", from_step=None,
                               to_step=STEPS[0]))
            for k in range(stop):
                at += timedelta(minutes=rnd.randrange(5, 300))
                events.append(dict(application_id=i + 1, at=at, actor=f"{ROLES[k]}.{k % 3}",
                                   role=ROLES[k], action=ACTIONS[k], from_step=STEPS[k],
                                   to_step=STEPS[k + 1]))
            apps.append(dict(
                id=i + 1, reg_no=f"PKU-B{i:07d}", applicant_id=1, region="pekanbaru",
                profession="okupasi-terapis", full_name=f"Pemohon {i}",
                nik="1471010101900001", phone="6281200000000", practice_place="RS",
                lang="id", step_code=STEPS[stop], step_since=at,
                status="open" if stop < len(STEPS) - 1 else "issued", submitted_at=submitted,
                due_on=(submitted + timedelta(days=3)).date()))
        async with engine.begin() as conn:
            await conn.execute(insert(Application), apps)
            await conn.execute(insert(ApplicationEvent), events)
    if url.startswith("postgresql"):  # fresh statistics, as autovacuum would give
        async with engine.connect() as conn:
            c = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await c.execute(text("ANALYZE"))
    await engine.dispose()
    return time.perf_counter() - t0


async def measure(url: str, repeat: int) -> None:
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    catalog = Catalog.load()
    now = datetime(2026, 12, 15, 3, 0, tzinfo=UTC)
    month = date(2026, 6, 1)
    start, end = dash.month_bounds(month, "Asia/Jakarta")
    async with sessions() as s:
        in_month = await s.scalar(select(func.count()).where(
            ApplicationEvent.at >= start, ApplicationEvent.at < end))
        total = await s.scalar(select(func.count()).select_from(ApplicationEvent))
        one = await s.scalar(select(Application).where(Application.reg_no == "PKU-B0000042"))
    print(f"events: {total} in all, {in_month} in {month:%Y-%m}")
    board_ms, board_cpu, file_ms = [], [], []
    for _ in range(repeat):
        async with sessions() as s:
            t0, c0 = time.perf_counter(), time.process_time()
            board = await dash.dashboard(s, catalog, region="pekanbaru", month=month, now=now)
            board_ms.append((time.perf_counter() - t0) * 1000)
            board_cpu.append((time.process_time() - c0) * 1000)
            assert one is not None
            t0 = time.perf_counter()
            await dash.file_times(s, catalog, application=one, now=now)
            file_ms.append((time.perf_counter() - t0) * 1000)
    check = next(r for r in board.steps if r.step.code == "pemeriksaan_berkas")
    print(f"waiting {board.total_waiting}, overdue {board.total_overdue}; check: median "
          f"{check.median_minutes:.1f} min over {check.stays} stays; "
          f"{len(board.officers)} officers")
    # Process CPU counts SQLite's work (same process), not PostgreSQL's (a server).
    print(f"dashboard(): median {statistics.median(board_ms):.1f} ms, "
          f"worst {max(board_ms):.1f} ms; process CPU median "
          f"{statistics.median(board_cpu):.1f} ms (load average {os.getloadavg()[0]:.2f})")
    print(f"file_times(): median {statistics.median(file_ms):.1f} ms")
    await engine.dispose()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--db", default="sqlite")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = (f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}" if args.db == "sqlite"
               else args.db)
        await upgrade_async(url)
        took = await load(url, args.files)
        print(f"loaded {args.files} files in {took:.1f} s (load average "
              f"{os.getloadavg()[0]:.2f})")
        await measure(url, args.repeat)


if __name__ == "__main__":
    asyncio.run(main())
