"""A separate OS process for the multi-process tests: runs reminders and/or an outbox
dispatcher (its real `run` loop: leases, renewal, election on PostgreSQL) against the
test database, logging every delivered outbox id with the time to a file.

    python -m tests.notify_worker DB_URL LOG --now ISO [--reminders N] [--rate R]
        [--shift SECONDS] [--per-chat S] [--telegram API_BASE] [--forever]

The clock is --now plus the real time elapsed since --epoch (a wall-clock time shared
by the processes of a test; default: this process's start), plus --shift. It stops when nothing is
pending or sending, or with --forever when killed. With --telegram it sends through
the real TelegramSender to that (fake) Bot API server instead of the in-process fake.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.composition import build
from bot.settings import Settings
from notifications import reminders
from notifications.dispatcher import Delivery, Sender, SendResult
from notifications.runner import Dispatcher
from storage.models import OutboxMessage, OutboxStatus
from tests.rate_fake import RateLimitedFake


class Logged:
    """Logs each send the platform accepted: outbox id and wall-clock time."""

    def __init__(self, inner: Sender, log: Path) -> None:
        self.inner = inner
        self.channel = inner.channel
        self._log = log.open("a")

    async def send(self, delivery: Delivery) -> SendResult:
        result = await self.inner.send(delivery)
        if result.ok:
            self._log.write(f"{delivery.outbox_id} {time.time():.3f}\n")
            self._log.flush()
        return result


async def main(args: argparse.Namespace) -> int:
    epoch = args.epoch or time.time()  # the wall-clock time at which the clock is --now
    base = datetime.fromisoformat(args.now) + timedelta(seconds=args.shift)

    def clock() -> datetime:
        return base + timedelta(seconds=time.time() - epoch)

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url=args.db,  # type: ignore[call-arg]
                            _env_file=None)
        app = await build(settings, migrate=False)
        fake: RateLimitedFake | None = None
        bot = None
        sender: Sender
        if args.telegram:
            from aiogram import Bot
            from aiogram.client.session.aiohttp import AiohttpSession
            from aiogram.client.telegram import TelegramAPIServer

            from bot.channels.telegram.sender import TelegramSender

            bot = Bot(args.token, session=AiohttpSession(
                api=TelegramAPIServer.from_base(args.telegram)))
            sender = Logged(TelegramSender(bot, app.files), Path(args.log))
        else:
            fake = RateLimitedFake("fake", per_second=args.rate,
                                   per_chat_interval=args.per_chat, log_path=Path(args.log))
            sender = fake
        dispatcher = Dispatcher(app.sessions, sender, rate_per_second=args.rate,
                                per_chat_interval=args.per_chat, clock=clock)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        try:
            for _ in range(args.reminders):
                await reminders.run(app.sessions, app.catalog, now=clock())
            print(f"started {time.time():.3f}", file=sys.stderr, flush=True)
            running = asyncio.create_task(dispatcher.run(stop))
            while not args.forever and not running.done():
                await asyncio.sleep(0.2)
                with contextlib.suppress(Exception):  # the database may be away
                    async with app.sessions() as s:
                        left = await s.scalar(select(func.count()).select_from(OutboxMessage)
                                              .where(OutboxMessage.status.in_(
                                                  (OutboxStatus.PENDING, OutboxStatus.SENDING)),
                                                  OutboxMessage.next_attempt_at
                                                  <= clock() + timedelta(seconds=5)))
                    if not left:
                        stop.set()
            await running
        finally:
            if fake is not None:
                fake.close()
            if bot is not None:
                await bot.session.close()
            await app.close()
    print(f"too_many={fake.too_many if fake else 0}")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("db")
    p.add_argument("log")
    p.add_argument("--now", required=True)
    p.add_argument("--reminders", type=int, default=0)
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--per-chat", type=float, default=0)
    p.add_argument("--shift", type=float, default=0)
    p.add_argument("--epoch", type=float, default=0)
    p.add_argument("--telegram", default="")
    p.add_argument("--token", default="123456:TEST-token")
    p.add_argument("--forever", action="store_true")
    sys.exit(asyncio.run(main(p.parse_args())))
