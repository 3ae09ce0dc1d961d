"""Where a channel's outbox dispatcher is built: its platform rate comes from settings
(`IZIN_TELEGRAM_RATE_PER_SECOND`, `IZIN_WHATSAPP_RATE_PER_SECOND`)."""

from __future__ import annotations

from bot.composition import App
from notifications.dispatcher import Sender
from notifications.runner import Dispatcher

# Channels without a platform limit of their own (the terminal) send as fast as this.
UNLIMITED = 1000.0


def rate_for(app: App, channel: str) -> float:
    rates = {"telegram": app.settings.telegram_rate_per_second,
             "whatsapp": app.settings.whatsapp_rate_per_second}
    return rates.get(channel, UNLIMITED)


def build_dispatcher(app: App, sender: Sender, *, per_chat_interval: float = 1.0) -> Dispatcher:
    """One dispatcher per channel, at that platform's configured global rate."""
    return Dispatcher(app.sessions, sender, rate_per_second=rate_for(app, sender.channel),
                      per_chat_interval=per_chat_interval, clock=app.runtime.clock)
