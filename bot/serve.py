"""`izin serve`: the HTTP app under uvicorn, plus whichever channels are configured."""

from __future__ import annotations

import asyncio
import gc
import logging

import uvicorn

from bot import guard
from bot.channels.whatsapp.channel import build_channel as build_whatsapp
from bot.channels.whatsapp.channel import configured as whatsapp_configured
from bot.composition import build
from bot.http import create_http_app
from bot.jobs import run_forever as run_jobs
from bot.settings import Settings

log = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    guard.check(settings)  # IZIN_ENV=production: no TEST certificate, no open webhooks
    app = await build(settings)
    swept = await asyncio.to_thread(app.files.sweep_temp)  # uploads a stopped process left
    if swept:
        log.info("removed %d abandoned upload temp files", swept)
    telegram = None
    try:
        routes = []
        if settings.telegram_token is not None:
            from bot.channels.telegram.channel import TelegramChannel

            telegram = TelegramChannel.from_settings(app, settings)
            if settings.telegram_webhook_url:
                routes.append(telegram.router())
        http = create_http_app(app=app, channel_routes=routes)
        # log_config=None: uvicorn's lines go through bot/logs.py (format, context, masking).
        config = uvicorn.Config(http, host=settings.http_host, port=settings.http_port,
                                log_level=settings.log_level.lower(), log_config=None)
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
            await uvicorn.Server(config).serve()
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
