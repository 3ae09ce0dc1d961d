"""Concurrent applicant journeys through the runtime: events/s and per-event latency.

    .venv/bin/python bench/journeys.py [--applicants 50] [--db sqlite|URL]

N applicants run the complete apply journey of a seed standard (from the first "halo"
to a submitted application with every scan uploaded) at the same time, in the shape of
production: one inbound event = the scan streamed into the file store if there is one,
then one database transaction in `Runtime.handle` (engine step, effects, state, outbox
rows). Latency per event is from the event's arrival to its commit. A
`notifications.runner.Dispatcher` runs alongside, as in `izin serve`, delivering the
outbox to a sink that discards, so its claims and completions compete for the database
as they would; the run ends when every reply has been delivered. The scans are real
files (PDF, JPEG, PNG) made once and shared.

`--db sqlite` (default) uses a fresh SQLite file; any other value is a database URL,
for example postgresql+asyncpg://postgres@127.0.0.1:5432/test (its public schema is
dropped and recreated). Goal (issue 2): >= 300 events/s and p99 < 50 ms at 50
applicants on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable as a plain script from anywhere

from sqlalchemy import text  # noqa: E402

from bot.channels.console.chat import ConsoleSender  # noqa: E402
from bot.composition import build  # noqa: E402
from bot.settings import Settings  # noqa: E402
from conversations.types import InboundEvent  # noqa: E402
from notifications.runner import Dispatcher  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from tests.journeys import apply_script  # noqa: E402
from tests.samples import make_jpeg, make_pdf, make_png  # noqa: E402


async def _fresh_postgres(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    await upgrade_async(url)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(applicants: int, db: str, standard: tuple[str, str],
              rate: float | None = None, deliver_after: bool = False) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if db == "sqlite":
            url = f"sqlite+aiosqlite:///{root / 'bench.db'}"
            await upgrade_async(url)
        else:
            url = db
            await _fresh_postgres(url)
        samples_dir = root / "samples"
        samples_dir.mkdir()
        samples = {
            "pdf": make_pdf(samples_dir / "scan.pdf"),
            "pdf2": make_pdf(samples_dir / "scan2.pdf", text="second"),
            "jpeg": make_jpeg(samples_dir / "photo.jpg"),
            "png": make_png(samples_dir / "photo.png"),
        }
        settings = Settings(data_dir=root / "data", database_url=url,  # type: ignore[call-arg]
                            _env_file=None)
        app = await build(settings, migrate=False)
        entry = app.catalog.get(*standard)
        script = apply_script(entry, samples)
        latencies: list[float] = []

        async def applicant(n: int) -> None:
            for i, line in enumerate(script):
                if rate:  # open loop: the event arrives on schedule, handled or not
                    started = t0 + (n + i * applicants) / rate
                    await asyncio.sleep(max(0.0, started - time.perf_counter()))
                else:  # closed loop: the next event right after the last commit
                    started = time.perf_counter()
                blob = None
                if line.startswith("/upload "):
                    blob = await app.files.ingest_path(Path(line.split(" ", 1)[1]))
                    event = InboundEvent.upload(blob.sha256, blob.kind, blob.size)
                else:
                    event = InboundEvent.message(line)
                await app.runtime.handle(channel="console", external_id=f"bench-{n}",
                                         platform_id=uuid.uuid4().hex, event=event, blob=blob)
                latencies.append(time.perf_counter() - started)
                dispatcher.wake()

        dispatcher = Dispatcher(app.sessions, ConsoleSender(lambda _text: None),
                                rate_per_second=100_000, per_chat_interval=0, idle_poll=0.05)
        stop = asyncio.Event()
        try:
            if not deliver_after:
                delivering = asyncio.create_task(dispatcher.run(stop))
            t0 = started = time.perf_counter()
            cpu_started = time.process_time()
            await asyncio.gather(*(applicant(n) for n in range(applicants)))
            elapsed = time.perf_counter() - started
            inbound_cpu = time.process_time() - cpu_started
            if deliver_after:  # what the journeys cost without deliveries alongside
                delivering = asyncio.create_task(dispatcher.run(stop))
            undelivered = -1
            for _ in range(1200):  # until the dispatcher has sent every reply (<= 60 s)
                async with app.engine.connect() as conn:
                    undelivered = (await conn.execute(text(
                        "SELECT count(*) FROM outbox WHERE status <> 'sent'"))).scalar_one()
                if not undelivered:
                    break
                await asyncio.sleep(0.05)
            drained = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            stop.set()
            dispatcher.wake()
            await delivering
            async with app.engine.connect() as conn:
                submitted = (await conn.execute(text("SELECT count(*) FROM applications"))
                             ).scalar_one()
        finally:
            await app.close()
    if undelivered:
        raise SystemExit(f"{undelivered} outbox rows were not delivered")
    if submitted != applicants:
        raise SystemExit(f"only {submitted} of {applicants} applications were submitted")
    return {
        "events": len(latencies),
        "seconds": elapsed,
        "events_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000,
        "drained_s": drained,
        # CPU of this process (every thread) per event, journeys and deliveries both:
        # unlike events/s, it hardly moves when other processes share the cores.
        "cpu_ms": cpu / len(latencies) * 1000,
        "inbound_cpu_ms": inbound_cpu / len(latencies) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applicants", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--db", default="sqlite")
    parser.add_argument("--standard", default="pekanbaru/okupasi-terapis")
    parser.add_argument("--deliver-after", action="store_true",
                        help="start the dispatcher only when every journey is done (to "
                             "measure the inbound side alone)")
    parser.add_argument("--rate", type=float, default=None,
                        help="open loop: events arrive at this total rate (events/s, spread "
                             "evenly over the applicants), latency counted from arrival; "
                             "default: closed loop, each applicant sends its next event "
                             "as soon as the last one is committed")
    args = parser.parse_args()
    region, profession = args.standard.split("/")
    print(f"# {platform.python_version()} on {platform.machine()}, db={args.db.split('@')[-1]},"
          f" standard={args.standard},"
          f" {f'open loop at {args.rate:g} events/s' if args.rate else 'closed loop'},"
          f" {'deliveries after the journeys' if args.deliver_after else 'deliveries alongside'},"
          f" load average {os.getloadavg()[0]:.2f}")
    print("applicants  events  events/s  p50 ms  p99 ms  max ms  all sent after s"
          "  CPU ms/event  CPU ms/event to last commit")
    for n in args.applicants:
        r = asyncio.run(run(n, args.db, (region, profession), args.rate, args.deliver_after))
        print(f"{n:>10}  {r['events']:>6.0f}  {r['events_per_s']:>8.1f}  {r['p50_ms']:>6.1f}"
              f"  {r['p99_ms']:>6.1f}  {r['max_ms']:>6.1f}  {r['drained_s']:>16.1f}"
              f"  {r['cpu_ms']:>12.2f}  {r['inbound_cpu_ms']:>27.2f}")
    print(f"# load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
