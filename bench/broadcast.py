"""A broadcast at a platform's rate, with a live conversation replying meanwhile.

    .venv/bin/python bench/broadcast.py [--recipients 1500] [--rate 30] [--latency 0.05]
        [--db sqlite|URL]

N recipients get one broadcast (the real path: `notifications.broadcasts.create_broadcast`
queues it, a `notifications.runner.Dispatcher` sends it) against `tests/rate_fake.py`,
a fake platform that enforces `--rate` messages per second and 1 per second per chat
and answers 429 beyond them; each send takes `--latency` seconds, like a network
round trip. Meanwhile a live conversation queues a reply every 0.5 s (priority 0, as
`Runtime.handle` writes them) and wakes the dispatcher, as the webhook worker does.

Prints: the achieved send rate as a fraction of the configured limit (goal >= 95%),
the 429s (goal 0), and the delay of the live replies from commit to delivery (goal:
p99 < 2 s). `--db` other than sqlite is a database URL whose public schema is dropped.
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
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # runnable as a plain script from anywhere

from sqlalchemy import select, text  # noqa: E402

from bot.composition import build  # noqa: E402
from bot.settings import Settings  # noqa: E402
from conversations.types import OutMessage  # noqa: E402
from notifications import broadcasts as bc  # noqa: E402
from notifications.dispatcher import Delivery, SendResult  # noqa: E402
from notifications.runner import Dispatcher  # noqa: E402
from service.inbound import get_or_create_applicant  # noqa: E402
from service.outbox import enqueue  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402
from tests.notify_data import add_applicants  # noqa: E402
from tests.rate_fake import RateLimitedFake  # noqa: E402

# Daytime in WIB, so quiet hours do not hold the broadcast.
NOON_WIB = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)


class SlowFake(RateLimitedFake):
    def __init__(self, latency: float, **kw: float) -> None:
        super().__init__("fake", **kw)
        self.latency = latency

    async def send(self, delivery: Delivery) -> SendResult:
        result = await super().send(delivery)
        await asyncio.sleep(self.latency)
        return result


async def _reset(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    await upgrade_async(url)


async def run(args: argparse.Namespace, tmp: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}" if args.db == "sqlite" else args.db
    if args.db == "sqlite":
        await upgrade_async(url)
    else:
        await _reset(url)
    app = await build(Settings(data_dir=tmp, database_url=url, _env_file=None),  # type: ignore[call-arg]
                      migrate=False)
    wall0 = time.monotonic()

    def clock() -> datetime:  # the real passage of time, from a daytime start
        from datetime import timedelta
        return NOON_WIB + timedelta(seconds=time.monotonic() - wall0)

    await add_applicants(app.sessions, args.recipients, now=clock())
    t0 = time.monotonic()
    bid = await bc.create_broadcast(app.sessions, app.catalog,
                                    selection=bc.Selection(open_only=True),
                                    template="Halo {{ name }}, berkas {{ reg_no }}: {{ step }}.",
                                    sender_username="bench", sender_role="admin", now=clock())
    enqueue_s = time.monotonic() - t0
    sender = SlowFake(args.latency, per_second=args.rate, per_chat_interval=1.0)
    dispatcher = Dispatcher(app.sessions, sender, rate_per_second=args.rate,
                            per_chat_interval=1.0, clock=clock)
    stop = asyncio.Event()
    replies: dict[int, float] = {}

    async def live() -> None:
        n = 0
        while not stop.is_set():
            await asyncio.sleep(0.5)
            n += 1
            async with app.sessions() as s, s.begin():
                a = await get_or_create_applicant(s, "fake", f"live{n % 5}", clock())
                row = enqueue(s, a, OutMessage(kind="text", text=f"reply {n}"), now=clock())
                await s.flush()
                rid = row.id
            replies[rid] = time.monotonic()
            dispatcher.wake()

    task = asyncio.create_task(dispatcher.run(stop))
    live_task = asyncio.create_task(live())
    start = time.monotonic()
    while True:
        await asyncio.sleep(0.25)
        p = await bc.progress(app.sessions, bid)
        if p.finished:
            break
    elapsed = time.monotonic() - start
    stop.set()
    await asyncio.gather(task, live_task)
    async with app.sessions() as s:
        bulk_times = sorted(sender.sent_at[i] for i in (await s.scalars(
            select(OutboxMessage.id).where(OutboxMessage.broadcast_id == bid))).all())
    # Rate over the span of the bulk sends: first to last delivery.
    # Every send in that span counts (the live replies use the same limit).
    span = bulk_times[-1] - bulk_times[0]
    in_span = sum(1 for t in sender.sent_at.values() if bulk_times[0] <= t <= bulk_times[-1])
    achieved = (in_span - 1) / span if span > 0 else float("inf")
    delays = sorted(sender.sent_at[r] - t for r, t in replies.items() if r in sender.sent_at)
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, int(0.99 * len(delays)))]
    load = os.getloadavg()[0]
    print(f"# Python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} cores, load {load:.2f}, db={url.split('@')[-1].split('///')[0]}")
    print("| db | recipients | limit/s | latency | enqueue s | achieved/s | of limit | 429s "
          "| replies | reply p50 ms | reply p99 ms |")
    print(f"| {'SQLite' if args.db == 'sqlite' else 'PostgreSQL'} | {args.recipients} | "
          f"{args.rate:g} | {args.latency * 1000:.0f} ms | {enqueue_s:.1f} | {achieved:.1f} | "
          f"{achieved / args.rate:.1%} | {sender.too_many} | {len(delays)} | "
          f"{p50 * 1000:.0f} | {p99 * 1000:.0f} |")
    print(f"(all {len(bulk_times)} delivered once: "
          f"{set(sender.delivered.values()) == {1}}; total {elapsed:.1f} s)")
    await app.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipients", type=int, default=1500)
    p.add_argument("--rate", type=float, default=30)
    p.add_argument("--latency", type=float, default=0.05)
    p.add_argument("--db", default="sqlite")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
