"""CPU per turn, one applicant at a time: Runtime.handle per event, delivery per row.

    .venv/bin/python bench/turn_cpu.py [--journeys 10] [--db sqlite|URL]

Runs whole Pekanbaru apply journeys one event after the other (scans ingested once,
before the clock starts), then lets a Dispatcher deliver every reply. Prints the
process CPU (`time.process_time()`) per handled event and per delivered outbox row,
and the statements each issued. Sequential, so no queueing: this is the cost
bench/journeys.py multiplies, and it moves little when other processes load the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable as a plain script from anywhere

from sqlalchemy import event, func, select  # noqa: E402

from bot.channels.console.chat import ConsoleSender  # noqa: E402
from bot.composition import build  # noqa: E402
from bot.settings import Settings  # noqa: E402
from conversations.types import InboundEvent  # noqa: E402
from notifications.runner import Dispatcher  # noqa: E402
from storage.filestore import StoredBlob  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402
from tests.journeys import apply_script  # noqa: E402
from tests.samples import make_jpeg, make_pdf, make_png  # noqa: E402


async def run(journeys: int, db: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if db == "sqlite":
            url = f"sqlite+aiosqlite:///{root / 'turns.db'}"
            await upgrade_async(url)
        else:
            from bench.journeys import _fresh_postgres

            url = db
            await _fresh_postgres(url)
        samples_dir = root / "samples"
        samples_dir.mkdir()
        samples = {"pdf": make_pdf(samples_dir / "a.pdf"),
                   "pdf2": make_pdf(samples_dir / "b.pdf", text="second"),
                   "jpeg": make_jpeg(samples_dir / "p.jpg"),
                   "png": make_png(samples_dir / "p.png")}
        settings = Settings(data_dir=root / "data", database_url=url,  # type: ignore[call-arg]
                            _env_file=None)
        app = await build(settings, migrate=False)
        script = apply_script(app.catalog.get("pekanbaru", "okupasi-terapis"), samples)
        blobs: dict[str, StoredBlob] = {}
        for line in script:
            if line.startswith("/upload ") and line not in blobs:
                blobs[line] = await app.files.ingest_path(Path(line.split(" ", 1)[1]))

        statements: collections.Counter[str] = collections.Counter()

        @event.listens_for(app.engine.sync_engine, "before_cursor_execute")
        def _count(_c: Any, _cur: Any, sql: str, *_rest: Any) -> None:
            statements[" ".join(sql.split()[:3])] += 1

        events, cpu = 0, 0.0
        for n in range(journeys):
            for line in script:
                blob = blobs.get(line)
                ev = (InboundEvent.upload(blob.sha256, blob.kind, blob.size) if blob
                      else InboundEvent.message(line))
                started = time.process_time()
                await app.runtime.handle(channel="console", external_id=f"turn-{n}",
                                         platform_id=uuid.uuid4().hex, event=ev, blob=blob)
                cpu += time.process_time() - started
                events += 1
        handle_statements = sum(statements.values())
        statements.clear()
        async with app.sessions() as session:
            rows = int(await session.scalar(
                select(func.count()).select_from(OutboxMessage)) or 0)
        dispatcher = Dispatcher(app.sessions, ConsoleSender(lambda _text: None),
                                rate_per_second=1_000_000, per_chat_interval=0)
        started = time.process_time()
        await dispatcher.drain()
        deliver_cpu = time.process_time() - started
        await app.close()
    print(f"# {db.split('@')[-1]}, {journeys} journeys, load average {os.getloadavg()[0]:.2f}")
    print(f"Runtime.handle: {cpu / events * 1000:.2f} ms CPU/event, "
          f"{handle_statements / events:.1f} statements/event (SQLite counts its BEGIN)")
    print(f"Dispatcher: {deliver_cpu / rows * 1000:.2f} ms CPU/row, "
          f"{sum(statements.values()) / rows:.1f} statements/row, {rows / events:.2f} rows/event")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--journeys", type=int, default=10)
    parser.add_argument("--db", default="sqlite")
    args = parser.parse_args()
    asyncio.run(run(args.journeys, args.db))


if __name__ == "__main__":
    main()
