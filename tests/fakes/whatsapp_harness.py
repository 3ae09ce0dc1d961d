"""The WhatsApp channel wired for tests: the real FastAPI route (ASGI), the real worker,
sender and dispatcher, real httpx against the fake Graph API on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bot.channels.whatsapp.graph import GraphClient
from bot.channels.whatsapp.sender import WhatsAppSender
from bot.channels.whatsapp.templates import Templates
from bot.channels.whatsapp.worker import InboundWorker
from bot.composition import App, build
from bot.http import create_http_app
from bot.settings import Settings
from notifications.runner import Dispatcher
from tests.fakes import graph_api as wa
from tests.fakes.graph_api import FakeGraphAPI, Sent

SECRET = "test-app-secret"
VERIFY_TOKEN = "verify-me"


@dataclass
class Harness:
    app: App
    graph: FakeGraphAPI
    http: httpx.AsyncClient
    client: GraphClient
    sender: WhatsAppSender
    dispatcher: Dispatcher
    worker: InboundWorker
    clock: Callable[[], datetime]

    async def post(self, body: dict[str, Any], *, secret: str = SECRET,
                   headers: dict[str, str] | None = None) -> httpx.Response:
        raw, signed_headers = wa.signed(body, secret)
        return await self.http.post("/webhooks/whatsapp", content=raw,
                                    headers=headers if headers is not None else signed_headers)

    async def send(self, wa_id: str, message: dict[str, Any], **kw: Any) -> httpx.Response:
        kw.setdefault("ts", int(self.clock().timestamp()))
        resp = await self.post(wa.inbound(wa_id, message, **kw))
        assert resp.status_code == 200, resp.text
        return resp

    async def run(self) -> None:
        """Handle what the webhook recorded, then send what the outbox holds."""
        await self.worker.drain()
        await self.dispatcher.drain()
        await self.worker.drain()  # statuses that raced the sends

    async def say(self, wa_id: str, line: str) -> list[Sent]:
        """Answer like a person would: tap the button or list row whose title matches,
        upload a file for `/upload PATH`, or type the text."""
        before = len(self.graph.to(wa_id))
        if line.startswith("/upload "):
            path = Path(line.split(" ", 1)[1])
            await self.send(wa_id, await asyncio.to_thread(upload, self.graph, path))
        else:
            await self.send(wa_id, self._answer(wa_id, line))
        await self.run()
        return self.graph.to(wa_id)[before:]

    def _answer(self, wa_id: str, line: str) -> dict[str, Any]:
        sent = self.graph.to(wa_id)
        last = sent[-1] if sent else None
        options = last.options() if last else []
        wanted = line.strip().lower()
        pick = None
        if options and wanted.isdigit() and 1 <= int(wanted) <= len(options):
            pick = options[int(wanted) - 1]
        elif options:
            pick = next((o for o in options if wanted in o[1].lower()), None)
        if pick is None or last is None:
            return wa.text(line)
        if last.body["interactive"]["type"] == "button":
            return wa.button_reply(*pick)
        return wa.list_reply(*pick)


def upload(graph: FakeGraphAPI, path: Path) -> dict[str, Any]:
    """The message of a person sending this file: an image, or else a PDF document (its
    bytes held by the fake for the download)."""
    data = path.read_bytes()
    if path.suffix in (".jpg", ".jpeg", ".png"):
        mime = "image/png" if path.suffix == ".png" else "image/jpeg"
        return wa.image(graph.add_media(data, mime), data, mime)
    return wa.document(graph.add_media(data, "application/pdf"), path.name, data)


def whatsapp_settings(settings: Settings, graph_base: str, **extra: Any) -> Settings:
    return settings.model_copy(update={
        "whatsapp_token": _secret("test-token"), "whatsapp_phone_number_id": "1000001",
        "whatsapp_app_secret": _secret(SECRET), "whatsapp_verify_token": _secret(VERIFY_TOKEN),
        "whatsapp_api_base": graph_base,
        # The tests' clock stands still: no reorder wait unless a test asks for one.
        "whatsapp_reorder_window": 0.0, **extra})


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


@asynccontextmanager
async def harness(settings: Settings, clock: Callable[[], datetime],
                  graph_clock: Callable[[], float] | None = None,
                  **settings_extra: Any) -> AsyncIterator[Harness]:
    """`graph_clock` drives the fake's throughput windows (default: real time)."""
    graph = FakeGraphAPI(clock=graph_clock) if graph_clock else FakeGraphAPI()
    base = await graph.start()
    app = await build(whatsapp_settings(settings, base, **settings_extra), migrate=False)
    app.runtime.clock = clock
    codes = iter(f"W{n:05d}" for n in range(1, 100_000))
    app.runtime.new_code = lambda: next(codes)
    client = GraphClient(base=base, token="test-token", phone_number_id="1000001")
    sender = WhatsAppSender(client=client, sessions=app.sessions, files=app.files,
                            templates=Templates.load(), clock=clock)
    dispatcher = Dispatcher(app.sessions, sender, rate_per_second=10_000, per_chat_interval=0,
                            clock=clock)
    worker = InboundWorker(app, client, retry_pause=0.01)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_http_app(app=app)),
                             base_url="http://izin.test")
    try:
        yield Harness(app, graph, http, client, sender, dispatcher, worker, clock)
    finally:
        await http.aclose()
        await client.aclose()
        await app.close()
        await graph.stop()
