"""Inbound throughput of 1 vs N `izin serve` processes on one PostgreSQL database.

Chats post their updates concurrently, each chat's one after the previous 200 (as
Telegram does), spread over the processes in turn; the clock runs from the first post
until every update is handled (committed with its conversation). The database is
reset first: give it a database of its own.

    .venv/bin/python bench/inbound_processes.py \
        --db postgresql+asyncpg://postgres@127.0.0.1:5432/DB --processes 1 2 --chats 30
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select, text  # noqa: E402

from storage.db import create_engine, session_factory  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from storage.models import Base, InboundMessage  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram, text_update  # noqa: E402
from tests.serve_procs import Serve, start_serve  # noqa: E402

LINES = ["halo", "1", "menu", "bantuan", "/status", "2", "kembali", "menu", "1", "halo"]


async def reset(db: str) -> None:
    await upgrade_async(db)
    engine = create_engine(db)
    async with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await engine.dispose()


async def run(db: str, processes: int, chats: int, messages: int) -> tuple[float, int]:
    await reset(db)
    api = await FakeTelegram(per_chat_rate=1000, per_chat_burst=1000, global_rate=10000,
                             global_burst=10000).start()
    engine = create_engine(db)
    sessions = session_factory(engine)
    with tempfile.TemporaryDirectory() as tmp:
        serves = [await start_serve(Path(tmp), db, api, f"b{i}") for i in range(processes)]
        try:
            await asyncio.sleep(3)  # startup work done

            async def chat(n: int) -> None:
                for i in range(messages):
                    serve: Serve = serves[(n + i) % processes]
                    update = text_update(api, 900000 + n, LINES[i % len(LINES)])
                    assert await serve.post(update) == 200

            total = chats * messages
            start = time.monotonic()
            await asyncio.gather(*(chat(n) for n in range(chats)))
            while True:
                async with sessions() as s:
                    done = await s.scalar(select(func.count()).select_from(InboundMessage)
                                          .where(InboundMessage.status == "done"))
                if done == total:
                    break
                await asyncio.sleep(0.05)
            return time.monotonic() - start, total
        finally:
            for serve in serves:
                await serve.stop()
            await engine.dispose()
            await api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chats", type=int, default=40)
    parser.add_argument("--messages", type=int, default=10)
    args = parser.parse_args()
    for n in args.processes:
        seconds, total = asyncio.run(run(args.db, n, args.chats, args.messages))
        print(f"processes={n} chats={args.chats} updates={total} "
              f"all handled in {seconds:.1f}s = {total / seconds:.0f} updates/s "
              f"(load {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
