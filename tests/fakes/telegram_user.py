"""Drives the real Telegram channel from the user's side, through the fake Bot API.

An update reaches the bot the way Telegram would deliver it: through getUpdates
(polling) or as a real HTTP POST to the webhook route of the FastAPI app served by
uvicorn on loopback. `settle()` waits until the bot has recorded and handled every
update and the outbox has nothing left to send.
"""

from __future__ import annotations

import asyncio
import io
import re
import socket
import time
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from PIL import Image
from sqlalchemy import func, select

from bot.channels.telegram.channel import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel
from bot.composition import App
from bot.http import create_http_app
from storage.models import InboundMessage, OutboxMessage
from tests.fakes.telegram_api import (
    FakeTelegram,
    Recorded,
    callback_update,
    document_update,
    photo_update,
    text_update,
)
from tests.watchdog import describe_tasks


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class Bench:
    """The channel under test, running in polling or webhook mode."""

    api: FakeTelegram
    app: App
    channel: TelegramChannel
    mode: str  # polling | webhook
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    sent_ids: set[str] = field(default_factory=set)
    url: str = ""
    _server: uvicorn.Server | None = None
    _server_task: asyncio.Task[None] | None = None
    _client: httpx.AsyncClient | None = None

    async def start(self) -> Bench:
        await self.channel.start(self.stop, polling=self.mode == "polling")
        if self.mode == "webhook":
            http = create_http_app(app=self.app, webhooks=dict([self.channel.webhook()]))
            sock = free_socket()
            # A request still running at close is cut after 5 s, not waited for forever.
            config = uvicorn.Config(http, log_level="warning", lifespan="off",
                                    timeout_graceful_shutdown=5)
            self._server = uvicorn.Server(config)
            self._server_task = asyncio.create_task(self._server.serve(sockets=[sock]))
            deadline = time.monotonic() + 30
            while not self._server.started:  # uvicorn offers no event to await
                if self._server_task.done() or time.monotonic() > deadline:
                    raise AssertionError(f"uvicorn did not start: {self._server_task!r}")
                await asyncio.sleep(0.01)
            self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            self._client = httpx.AsyncClient(base_url=self.url, timeout=30)
        return self

    async def close(self) -> None:
        self.stop.set()
        try:
            await asyncio.wait_for(self.channel.wait(), 30)
        except TimeoutError:
            raise AssertionError("the channel's tasks did not stop within 30 s of `stop`; "
                                 + describe_tasks(asyncio.current_task())) from None
        if self._server is not None and self._server_task is not None:
            self._server.should_exit = True
            await self._server_task
        if self._client is not None:
            await self._client.aclose()
        await self.channel.close()

    async def post(self, update: dict[str, Any], *, secret: str | None = None
                   ) -> httpx.Response:
        assert self._client is not None, "webhook mode only"
        headers = {SECRET_HEADER: self.channel.secret if secret is None else secret}
        return await self._client.post(WEBHOOK_PATH, json=update, headers=headers)

    async def deliver(self, update: dict[str, Any]) -> None:
        self.sent_ids.add(str(update["update_id"]))
        if self.mode == "polling":
            self.api.feed(update)
        else:
            response = await self.post(update)
            assert response.status_code == 200, response.text

    async def settle(self, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if await self._settled():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the bot did not settle in time")

    async def _settled(self) -> bool:
        async with self.app.sessions() as session:
            recorded = set((await session.scalars(select(InboundMessage.platform_id).where(
                InboundMessage.channel == "telegram"))).all())
            if not self.sent_ids <= recorded:
                return False
            pending = await session.scalar(select(func.count()).select_from(InboundMessage)
                                           .where(InboundMessage.status == "pending"))
            unsent = await session.scalar(select(func.count()).select_from(OutboxMessage)
                                          .where(OutboxMessage.status.in_(("pending",
                                                                            "sending"))))
        return pending == 0 and unsent == 0 and not self.channel.pipeline.busy


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"^\W+", "", text)


@dataclass
class User:
    bench: Bench
    chat_id: int

    @property
    def api(self) -> FakeTelegram:
        return self.bench.api

    def last(self) -> Recorded | None:
        delivered = self.api.delivered(self.chat_id)
        return delivered[-1] if delivered else None

    def texts(self) -> list[str]:
        return self.api.texts(self.chat_id)

    def buttons(self) -> list[dict[str, Any]]:
        last = self.last()
        markup = last.reply_markup if last else None
        return [b for row in (markup or {}).get("inline_keyboard", []) for b in row]

    async def say(self, text: str) -> None:
        await self.bench.deliver(text_update(self.api, self.chat_id, text))
        await self.bench.settle()

    async def press(self, data: str) -> None:
        last = self.last()
        message_id = last.result["message_id"] if last and last.result else 1
        await self.bench.deliver(callback_update(self.api, self.chat_id, data, message_id))
        await self.bench.settle()

    async def upload(self, path: Path) -> None:
        data = await asyncio.to_thread(path.read_bytes)
        if path.suffix.lower() in {".jpg", ".jpeg", ".png"}:
            # A phone sends a photo with smaller sizes first; the bot must take the largest.
            update = photo_update(self.api, self.chat_id, [(_thumbnail(data), 90, 90),
                                                          (data, 1000, 1000)])
        else:
            update = document_update(self.api, self.chat_id, data, file_name=path.name)
        await self.bench.deliver(update)
        await self.bench.settle()

    async def act(self, line: str) -> None:
        """One line of a journey script: a button when the last message offers a matching
        one (by number or label), else typed text; `/upload PATH` sends a file."""
        if line.startswith("/upload "):
            await self.upload(Path(line.split(" ", 1)[1]))
            return
        buttons = [b for b in self.buttons() if not b["callback_data"].startswith("~")]
        if line.isdigit() and 1 <= int(line) <= len(buttons):
            await self.press(buttons[int(line) - 1]["callback_data"])
            return
        exact = [b for b in buttons if _norm(b["text"]) == _norm(line)]
        partial = [b for b in buttons if _norm(line) in _norm(b["text"])]
        pick = exact[:1] or (partial if len(partial) == 1 else [])
        if pick:
            await self.press(pick[0]["callback_data"])
        else:
            await self.say(line)


def _thumbnail(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        small = image.convert("RGB").resize((90, 90))
        out = io.BytesIO()
        small.save(out, format="JPEG")
        return out.getvalue()


async def open_bench(app: App, api: FakeTelegram, mode: str, *,
                     per_chat_interval: float = 0.0, rate_per_second: float = 1000,
                     ) -> Bench:
    """The channel as `izin serve` builds it, pointed at the fake server."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    bot = Bot(api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base)))
    channel = TelegramChannel(app, bot, secret="s3cret-for-tests",
                              rate_per_second=rate_per_second,
                              per_chat_interval=per_chat_interval, idle_poll=0.05)
    channel.dispatcher.idle_poll = 0.02
    return await Bench(api, app, channel, mode).start()


@asynccontextmanager
async def loose_webhook_bench(app: App) -> AsyncIterator[Bench]:
    """The channel in webhook mode on the real clock, against a fake whose rate limits
    never interfere (for tests about what is said, not about pacing)."""
    app.runtime.clock = lambda: datetime.now(UTC)
    api = await FakeTelegram(per_chat_rate=100, per_chat_burst=100, global_rate=1000,
                             global_burst=1000).start()
    bench = await open_bench(app, api, "webhook")
    try:
        yield bench
    finally:
        await bench.close()
        await api.stop()
