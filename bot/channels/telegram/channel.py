"""The Telegram channel assembled: bot, sender, dispatcher, update worker, and the two
ways updates arrive (long polling, or the webhook route on the FastAPI app)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from typing import Any

from aiogram import Bot, methods
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramRetryAfter
from aiogram.methods.base import Response as ApiResponse
from aiogram.types import BotCommand, Update
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.channels.telegram import CHANNEL
from bot.channels.telegram.groups import GroupAnswers, is_private
from bot.channels.telegram.inbound import ALLOWED_UPDATES, Downloader, chat_of, parse, to_payload
from bot.channels.telegram.sender import TelegramSender
from bot.channels.telegram.staff import post_staff_notices
from bot.channels.telegram.worker import UpdateWorker
from bot.composition import App
from bot.settings import Settings
from conversations.i18n import Translator
from notifications.runner import Dispatcher
from service.payloads import load_json
from service.pipeline import InboundPipeline

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/webhooks/telegram"
# An update is a few KB (4096 characters of text, a caption, entities, 64-byte callback
# data); 1 MB is far above any update Telegram sends and small enough to refuse floods.
MAX_BODY = 1024 * 1024
COMMANDS = {  # command per language -> the description key in commands.j2
    "id": [("start", "start"), ("status", "status"), ("bantuan", "help"),
           ("batal", "cancel"), ("pengaduan", "complaint")],
    "en": [("start", "start"), ("status", "status"), ("help", "help"),
           ("cancel", "cancel"), ("complaint", "complaint")],
}


# aiogram reads each answer as `Response[<the method's result type>]`, and pydantic keeps
# parametrised models in a weak cache: after a garbage collection the next call builds
# the model again (about 3 ms, 5% of the CPU of a busy server). Held here for good.
_RESPONSE_MODELS = [ApiResponse[m.__returning__] for m in (  # type: ignore[name-defined]
    methods.SendMessage, methods.SendPhoto, methods.SendDocument,
    methods.AnswerCallbackQuery, methods.EditMessageText, methods.GetFile,
    methods.GetUpdates, methods.GetMe, methods.SetMyCommands, methods.SetWebhook,
    methods.DeleteWebhook)]


def make_bot(settings: Settings) -> Bot:
    if settings.telegram_token is None:
        raise ValueError("IZIN_TELEGRAM_TOKEN is not set")
    # IZIN_TELEGRAM_API_BASE: a local Bot API server, or the tests' fake one.
    base = settings.telegram_api_base
    session = AiohttpSession(api=TelegramAPIServer.from_base(base)) if base else AiohttpSession()
    return Bot(settings.telegram_token.get_secret_value(), session=session)


def webhook_secret(settings: Settings) -> str:
    """IZIN_TELEGRAM_WEBHOOK_SECRET, or one derived from the token (so `set-webhook` and
    `serve` agree without another setting). Telegram allows [A-Za-z0-9_-], 1-256."""
    if settings.telegram_webhook_secret is not None:
        return settings.telegram_webhook_secret.get_secret_value()
    assert settings.telegram_token is not None
    token = settings.telegram_token.get_secret_value().encode()
    return hmac.new(token, b"izin-telegram-webhook", hashlib.sha256).hexdigest()


class TelegramChannel:
    def __init__(self, app: App, bot: Bot, *, secret: str, rate_per_second: float = 30,
                 per_chat_interval: float = 1.0, idle_poll: float = 10.0,
                 staff_chat_id: str | None = None, staff_every: float = 15.0) -> None:
        self.app = app
        self.staff_chat_id = staff_chat_id
        self.staff_every = staff_every
        self.bot = bot
        self.secret = secret
        self.sender = TelegramSender(bot, app.files)
        self.dispatcher = Dispatcher(app.sessions, self.sender, rate_per_second=rate_per_second,
                                     per_chat_interval=per_chat_interval,
                                     clock=app.runtime.clock)
        # A turn's replies go to it as they are written, while it sends (service/outbox.py).
        app.runtime.add_direct_sender(self.dispatcher)
        self.worker = UpdateWorker(app.runtime, bot, Downloader(bot, app.files))
        # The dispatcher needs no word from the pipeline: every outbox write wakes it
        # (service/outbox.py `written`, and NOTIFY on PostgreSQL).
        self.pipeline = InboundPipeline(app.runtime, self.worker, sweep_every=idle_poll,
                                        listen_url=app.settings.db_url)
        self.groups = GroupAnswers(bot)
        self._tasks: set[asyncio.Task[None]] = set()

    @staticmethod
    def from_settings(app: App, settings: Settings) -> TelegramChannel:
        return TelegramChannel(app, make_bot(settings), secret=webhook_secret(settings),
                               rate_per_second=settings.telegram_rate_per_second,
                               per_chat_interval=settings.telegram_per_chat_interval,
                               staff_chat_id=settings.telegram_staff_chat_id)

    # ---- running ----
    async def start(self, stop: asyncio.Event, *, polling: bool) -> None:
        """Commands, then the worker and the dispatcher (and the poller) as tasks."""
        await set_commands(self.bot)
        if polling:
            await self.bot.delete_webhook()  # getUpdates is refused while a webhook is set
        self._spawn(self.pipeline.run(stop))
        self._spawn(self.dispatcher.run(stop))
        if polling:
            self._spawn(self.poll(stop))
        if self.staff_chat_id:
            self._spawn(self.post_staff(stop))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.bot.session.close()

    # ---- receiving ----
    async def accept(self, payload: dict[str, Any]) -> bool:
        """Record one update durably (deduplicated by update_id), or keep it as a dead
        letter when it can never be read; False when it is not one this channel handles
        (answered 200 all the same, so Telegram stops sending it)."""
        update_id = payload.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            log.warning("telegram: a body without an update_id dropped")
            return False
        try:
            update = parse(payload)
        except ValueError as exc:  # pydantic's ValidationError: Telegram never sends it
            await self.app.runtime.record_dead(
                channel=CHANNEL, platform_id=str(update_id), chat_key=f"{CHANNEL}:?",
                payload=payload, error=f"unreadable update: {str(exc)[:500]}")
            return False
        if not is_private(update):  # applicants only in private chats; nothing stored
            self.groups.take(update)
            return True
        chat = chat_of(update)
        if chat is None:
            return False
        if await self._handle_now(update_id, update):
            return True
        await self.app.runtime.record_pending(
            channel=CHANNEL, platform_id=str(update_id), chat_key=f"{CHANNEL}:{chat}",
            payload=payload, seq=update_id)
        return True

    async def _handle_now(self, update_id: int, update: Update) -> bool:
        """Typed text or a button press for a chat with nothing waiting runs at once, in
        one transaction (service/pipeline.py `handle_now`); False: record it instead."""
        turn = self.worker.quick_turn(update)
        if turn is None:
            return False
        try:
            handled = await self.pipeline.handle_now(str(update_id), turn)
        except Exception as exc:  # recorded then: the pipeline retries, or dead-letters
            log.warning("telegram: handling update %s at once failed (%s); recording it",
                        update_id, type(exc).__name__)
            return False
        if handled and update.callback_query is not None:
            # The spinner stops after the reply is queued; the 200 does not wait for it.
            self._spawn(self.worker.answer(update.callback_query))
        return handled

    async def poll(self, stop: asyncio.Event, *, long_poll: int = 25) -> None:
        """getUpdates: record each update, then confirm it with the next offset."""
        offset: int | None = None
        failures = 0
        while not stop.is_set():
            fetch = asyncio.ensure_future(self.bot.get_updates(
                offset=offset, timeout=long_poll, allowed_updates=ALLOWED_UPDATES,
                request_timeout=long_poll + 10))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({fetch, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not fetch.done():
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, TelegramAPIError):
                    await fetch
                return
            try:
                updates = fetch.result()
            except TelegramRetryAfter as exc:
                await _sleep(stop, exc.retry_after)
                continue
            except TelegramAPIError as exc:
                failures += 1
                log.warning("getUpdates failed (%s); retrying", type(exc).__name__)
                await _sleep(stop, min(2 ** failures, 60))
                continue
            failures = 0
            for update in updates:
                # Recorded before the offset moves past it: a crash here loses nothing.
                await self._accept_retrying(to_payload(update), stop)
                offset = update.update_id + 1

    async def _accept_retrying(self, payload: dict[str, Any], stop: asyncio.Event) -> None:
        """Record a polled update, waiting out a database outage (never skipped)."""
        for failures in range(1, 1_000_000):
            try:
                await self.accept(payload)
                return
            except Exception as exc:
                log.warning("recording a polled update failed (%s); retrying",
                            type(exc).__name__)
                await _sleep(stop, min(0.2 * 2 ** failures, 5.0))
                if stop.is_set():
                    return

    async def post_staff(self, stop: asyncio.Event) -> None:
        """New and escalated complaints into the staff chat, every `staff_every` s."""
        assert self.staff_chat_id is not None
        while not stop.is_set():
            try:
                await post_staff_notices(
                    self.app.sessions, self.bot, chat_id=self.staff_chat_id,
                    public_base_url=self.app.settings.public_base_url,
                    clock=self.app.runtime.clock)
            except Exception:  # keep serving; the next round tries again
                log.exception("posting staff notices failed")
            await _sleep(stop, self.staff_every)

    # ---- the webhook route ----
    def webhook(self) -> tuple[str, ASGIApp]:
        """The webhook as a bare ASGI endpoint and its path. `create_http_app` calls it
        before FastAPI's routing, exception and dependency layers: they were a tenth of
        the server's CPU per update (bench/webhook_ratio.py) and this route needs none
        of them (no parameters, no dependencies; an error is a 500 from the outermost
        middleware as before)."""
        expected = self.secret.encode()

        async def telegram_webhook(scope: Scope, receive: Receive, send: Send) -> None:
            request = Request(scope, receive)
            got = request.headers.get(SECRET_HEADER, "").encode()
            if not secrets.compare_digest(got, expected):
                await Response(status_code=401)(scope, receive, send)
                return
            # Authentic from here on: whatever it holds is answered 200 (Telegram
            # retries anything else for a day), kept as a dead letter or dropped.
            status = 200
            payload = await read_update(request)
            if payload is not None:
                try:
                    await self.accept(payload)
                except Exception:  # the database is away: not stored, so not acknowledged
                    log.exception("telegram: recording an update failed")
                    status = 503
            await Response(status_code=status)(scope, receive, send)

        return WEBHOOK_PATH, telegram_webhook


async def read_update(request: Request) -> dict[str, Any] | None:
    """The body as a JSON object, or None (logged) when it is too big, too deep or not
    one. Read in chunks up to MAX_BODY: a flood is never held whole."""
    declared = request.headers.get("content-length") or ""
    if declared.isdigit() and int(declared) > MAX_BODY:
        log.warning("telegram: a %s-byte body dropped", declared)
        return None
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            log.warning("telegram: a body over %d bytes dropped", MAX_BODY)
            return None
    payload = load_json(bytes(raw))
    if not isinstance(payload, dict):
        log.warning("telegram: a body that is not an update dropped")
        return None
    return payload


async def set_commands(bot: Bot) -> None:
    """The command menu in Indonesian (also the default for other languages) and English."""
    for lang, commands in COMMANDS.items():
        t = Translator(lang)
        menu = [BotCommand(command=c, description=t(f"commands.{key}")) for c, key in commands]
        await bot.set_my_commands(menu, language_code=lang)
        if lang == "id":
            await bot.set_my_commands(menu)


async def set_webhook(bot: Bot, settings: Settings) -> None:
    if not settings.telegram_webhook_url:
        raise ValueError("IZIN_TELEGRAM_WEBHOOK_URL is not set")
    await bot.set_webhook(url=settings.telegram_webhook_url,
                          secret_token=webhook_secret(settings),
                          allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
