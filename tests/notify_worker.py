"""A separate OS process for the multi-process tests: runs reminders and/or an outbox
dispatcher against the test database, logging every delivered outbox id to a file.

    python -m tests.notify_worker DB_URL LOG --now ISO [--reminders N] [--rate R]
        [--shift SECONDS]

The clock is --now plus the real time elapsed (plus --shift: a restarted process uses
it to be "later" than the dead one's claims, so they are released as stale).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.composition import build
from bot.settings import Settings
from notifications import reminders
from notifications.runner import Dispatcher
from storage.models import OutboxMessage
from tests.rate_fake import RateLimitedFake


async def main(args: argparse.Namespace) -> int:
    start_wall = time.monotonic()
    base = datetime.fromisoformat(args.now) + timedelta(seconds=args.shift)

    def clock() -> datetime:
        return base + timedelta(seconds=time.monotonic() - start_wall)

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=args.db,  # type: ignore[call-arg]
                            _env_file=None)
        app = await build(settings, migrate=False)
        sender = RateLimitedFake("fake", per_second=args.rate, per_chat_interval=0,
                                 log_path=Path(args.log))
        dispatcher = Dispatcher(app.sessions, sender, rate_per_second=args.rate,
                                per_chat_interval=0, clock=clock)
        try:
            for _ in range(args.reminders):
                await reminders.run(app.sessions, app.catalog, now=clock())
                await dispatcher.run_once()
            while True:
                if await dispatcher.run_once() == 0:
                    async with app.sessions() as s:
                        left = await s.scalar(select(func.count()).select_from(OutboxMessage)
                                              .where(OutboxMessage.status.in_(
                                                  ("pending", "sending"))))
                    if not left:
                        break
                    await asyncio.sleep(0.05)
        finally:
            sender.close()
            await app.close()
    print(f"too_many={sender.too_many}")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("db")
    p.add_argument("log")
    p.add_argument("--now", required=True)
    p.add_argument("--reminders", type=int, default=0)
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--shift", type=float, default=0)
    sys.exit(asyncio.run(main(p.parse_args())))
