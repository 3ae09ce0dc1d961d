"""The WhatsApp channel as `izin serve` runs it: the outbox dispatcher and the worker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.channels.whatsapp.graph import GraphClient
from bot.channels.whatsapp.sender import WhatsAppSender
from bot.channels.whatsapp.templates import Templates
from bot.channels.whatsapp.worker import InboundWorker
from bot.composition import App
from bot.settings import Settings
from notifications.runner import Dispatcher


def configured(settings: Settings) -> bool:
    return settings.whatsapp_token is not None and bool(settings.whatsapp_phone_number_id)


@dataclass
class WhatsAppChannel:
    client: GraphClient
    sender: WhatsAppSender
    dispatcher: Dispatcher
    worker: InboundWorker

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await asyncio.gather(self.dispatcher.run(stop), self.worker.run(stop))
        finally:
            await self.client.aclose()


def build_channel(app: App) -> WhatsAppChannel:
    s = app.settings
    assert s.whatsapp_token is not None and s.whatsapp_phone_number_id
    client = GraphClient(base=s.whatsapp_api_base, token=s.whatsapp_token.get_secret_value(),
                         phone_number_id=s.whatsapp_phone_number_id)
    clock = app.runtime.clock
    sender = WhatsAppSender(client=client, sessions=app.sessions, files=app.files,
                            templates=Templates.load(s.whatsapp_templates), clock=clock)
    dispatcher = Dispatcher(app.sessions, sender, rate_per_second=s.whatsapp_rate_per_second,
                            per_chat_interval=s.whatsapp_per_chat_interval, clock=clock)
    app.runtime.add_direct_sender(dispatcher)  # replies go to it as written
    worker = InboundWorker(app, client)
    return WhatsAppChannel(client, sender, dispatcher, worker)
