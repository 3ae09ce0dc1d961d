"""WhatsApp channel: webhook intake and the outbox pace against the fake Graph API.

    .venv/bin/python bench/whatsapp.py [--posts 500] [--concurrency 20] [--notices 400]

1. Intake: `--posts` signed text-message webhooks of the real shape are posted through
   the real FastAPI route (ASGI, in process), `--concurrency` at a time, each from its own
   chat. Latency is until the 200, i.e. until the message is recorded durably.
   Then the worker handles them all (engine + outbox) and the time is reported.
2. Pace: `--notices` notices to 40 chats are sent by the real Dispatcher and sender at
   IZIN_WHATSAPP_RATE_PER_SECOND=80 (default) with no per-chat wait, over real HTTP to
   the fake server on 127.0.0.1; the achieved rate should sit just under 80/s.
SQLite in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable as a plain script from anywhere

from bot.settings import Settings  # noqa: E402
from conversations.types import OutMessage  # noqa: E402
from notifications.runner import Dispatcher  # noqa: E402
from service.inbound import get_or_create_applicant  # noqa: E402
from service.outbox import PRIORITY_NOTICE, enqueue  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from tests.fakes import graph_api as wa  # noqa: E402
from tests.fakes.whatsapp_harness import harness  # noqa: E402


def _clock() -> datetime:
    return datetime.now(UTC)


async def main(posts: int, concurrency: int, notices: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/izin.db"
        await upgrade_async(url)
        settings = Settings(data_dir=Path(tmp) / "data", database_url=url,
                            _env_file=None)  # type: ignore[call-arg]
        async with harness(settings, _clock) as h:
            latencies: list[float] = []
            sem = asyncio.Semaphore(concurrency)

            async def post(n: int) -> None:
                body = wa.inbound(f"6281{n:09d}", wa.text("halo"), ts=int(time.time()))
                async with sem:
                    t0 = time.perf_counter()
                    resp = await h.post(body)
                    latencies.append(time.perf_counter() - t0)
                    assert resp.status_code == 200

            t0 = time.perf_counter()
            await asyncio.gather(*(post(n) for n in range(posts)))
            intake = time.perf_counter() - t0
            t1 = time.perf_counter()
            await h.worker.drain(max_cycles=10_000)
            handled = time.perf_counter() - t1
            latencies.sort()
            print(f"machine: {platform.machine()} {platform.python_version()}, "
                  f"{sys.platform}")
            print(f"intake: {posts} posts, concurrency {concurrency}: "
                  f"{posts / intake:.0f} posts/s, p50 {1000 * statistics.median(latencies):.1f}"
                  f" ms, p99 {1000 * latencies[int(0.99 * (len(latencies) - 1))]:.1f} ms; "
                  f"handled by the worker in {handled:.1f} s ({posts / handled:.0f}/s)")

            # Pace: the greeting replies first, then the notices.
            d = Dispatcher(h.app.sessions, h.sender, rate_per_second=80, per_chat_interval=0)
            await d.drain()
            before = len(h.graph.sent)
            async with h.app.sessions() as s, s.begin():
                for n in range(notices):
                    applicant = await get_or_create_applicant(s, "whatsapp",
                                                              f"6281{n % 40:09d}", _clock())
                    enqueue(s, applicant, OutMessage(kind="text", text=f"notice {n}"),
                            now=_clock(), priority=PRIORITY_NOTICE)
            await asyncio.sleep(1.1)  # let the token bucket fill as in a running process
            t2 = time.perf_counter()
            await d.drain()
            paced = time.perf_counter() - t2
            sent = len(h.graph.sent) - before
            print(f"pace: {sent} notices to 40 chats at rate 80/s: {sent / paced:.1f} msgs/s "
                  f"over {paced:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--notices", type=int, default=400)
    args = parser.parse_args()
    asyncio.run(main(args.posts, args.concurrency, args.notices))
