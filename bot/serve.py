"""`izin serve`: the HTTP app under uvicorn, plus whichever channels are configured."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from types import FrameType

import uvicorn

from bot import guard
from bot.channels.whatsapp.channel import build_channel as build_whatsapp
from bot.channels.whatsapp.channel import configured as whatsapp_configured
from bot.composition import build
from bot.http import create_http_app
from bot.jobs import run_forever as run_jobs
from bot.settings import Settings

log = logging.getLogger(__name__)


class QuietServer(uvicorn.Server):
    """uvicorn's server with its housekeeping once a second instead of ten times (an
    idle server's CPU budget is 5 ms/s, bench/idle_cpu.py). Its work per tick is due
    once a second anyway (the Date header); a stop signal wakes it at once."""

    _woken: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._woken = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        counter = 0  # uvicorn refreshes the Date header on multiples of 10
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), 1.0)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._woken is not None and self._loop is not None:
            # From a signal handler: through the loop's self-pipe.
            self._loop.call_soon_threadsafe(self._woken.set)


async def serve(settings: Settings) -> None:
    guard.check(settings)  # IZIN_ENV=production: no TEST certificate, no open webhooks
    app = await build(settings)
    swept = await asyncio.to_thread(app.files.sweep_temp)  # uploads a stopped process left
    if swept:
        log.info("removed %d abandoned upload temp files", swept)
    telegram = None
    try:
        webhooks = {}
        if settings.telegram_token is not None:
            from bot.channels.telegram.channel import TelegramChannel

            telegram = TelegramChannel.from_settings(app, settings)
            if settings.telegram_webhook_url:
                path, endpoint = telegram.webhook()
                webhooks[path] = endpoint
        http = create_http_app(app=app, webhooks=webhooks)
        # log_config=None: uvicorn's lines go through bot/logs.py (format, context, masking).
        # Keep-alive longer than a load balancer's idle timeout (60 s is common): with
        # uvicorn's 5 s the server closed connections a client was about to reuse.
        config = uvicorn.Config(http, host=settings.http_host, port=settings.http_port,
                                log_level=settings.log_level.lower(), log_config=None,
                                timeout_keep_alive=75)
        log.info("serving on http://%s:%s (database: %s)", settings.http_host,
                 settings.http_port, "sqlite" if "sqlite" in settings.db_url else "postgresql")
        stop = asyncio.Event()
        jobs = asyncio.create_task(run_jobs(app, stop))
        if telegram is not None:  # polling without a webhook URL
            await telegram.start(stop, polling=not settings.telegram_webhook_url)
        channels = []
        if app.prechecker is not None:  # the document pre-check, in its process pool
            channels.append(asyncio.create_task(app.prechecker.run_forever(stop)))
        if whatsapp_configured(settings):
            log.info("whatsapp: dispatcher and inbound worker started")
            channels.append(asyncio.create_task(build_whatsapp(app).run(stop)))
        # Everything built so far lives as long as the process (aiogram's and pydantic's
        # models, SQLAlchemy's mappers: most of the heap): out of the collector's full
        # passes, which otherwise walk it all (about 0.3 s each) while serving.
        gc.collect()
        gc.freeze()
        try:
            await QuietServer(config).serve()
        finally:
            stop.set()
            await jobs
            if telegram is not None:
                await telegram.wait()
            await asyncio.gather(*channels)
    finally:
        if telegram is not None:
            await telegram.close()
        await app.close()
