"""Broadcasts delivered by the real senders over HTTP to the fake platform servers, which
enforce the platforms' limits and refuse (130429 / 131056 / 429) beyond them, with the
dispatcher at the DEFAULT settings: every recipient gets the message once, none is
refused."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from bot.composition import App
from bot.settings import Settings
from notifications import broadcasts as bc
from notifications.runner import Dispatcher
from storage.models import Applicant
from tests.conftest import Clock
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_user import open_bench
from tests.fakes.whatsapp_harness import Harness, harness
from tests.notify_data import add_applicants

TEMPLATE = "Halo {{ name }}, berkas {{ reg_no }} ada di tahap {{ step }} (batas {{ deadline }})."
DEFAULTS = Settings(_env_file=None)  # type: ignore[call-arg]


class LiveClock(Clock):
    """The conftest clock's Monday morning, then the real passage of time: a refused send
    is retried after its retry_after instead of never (a frozen clock never gets there)."""

    def __init__(self) -> None:
        self._start = Clock().now
        self._t0 = time.monotonic()

    @property  # type: ignore[override]
    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)

    @now.setter
    def now(self, value: datetime) -> None:
        raise AttributeError("a live clock is not moved by hand")


@pytest.fixture
def clock() -> Clock:
    return LiveClock()


@pytest.fixture
async def wa_h(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    # The fake's throughput windows run on real time: the dispatcher sends in real time.
    async with harness(settings, clock) as h:
        yield h


async def _broadcast(app: App, clock: Clock) -> int:
    return await bc.create_broadcast(app.sessions, app.catalog,
                                     selection=bc.Selection(open_only=True), template=TEMPLATE,
                                     sender_username="admin", sender_role="admin",
                                     now=clock.now)


async def _until_finished(app: App, bid: int) -> bc.Progress:
    for _ in range(1200):
        if (prog := await bc.progress(app.sessions, bid)).finished:
            break
        await asyncio.sleep(0.5)
    return prog


@pytest.mark.slow
async def test_five_thousand_whatsapp_recipients_at_the_default_rate(
    wa_h: Harness, clock: Clock
) -> None:
    """5,000 applicants inside the 24-hour window get the broadcast as free-form text from
    the real WhatsAppSender, over HTTP, from a fake Graph API enforcing the Cloud API's
    80 msgs/s per number (130429 beyond) and one message a second per recipient (131056
    beyond); the dispatcher runs as `izin serve` runs it, at Settings() defaults."""
    assert DEFAULTS.whatsapp_rate_per_second == 80
    # 80/s on average, at most a second's worth at once (as FakeTelegram models 30/s).
    # A per-calendar-second counter (limit_burst=None) is stricter than the dispatcher's
    # pacing: its 0.1 s burst on top of 80/s can put 88 sends in one calendar second.
    wa_h.graph.limit_per_second, wa_h.graph.limit_burst = 80, 80
    wa_h.graph.per_recipient_interval = 1.0
    app = wa_h.app
    await add_applicants(app.sessions, 5000, now=clock.now, channel="whatsapp",
                         prefix="62812")
    async with app.sessions() as s, s.begin():  # they wrote to us an hour ago
        await s.execute(update(Applicant).values(last_inbound_at=clock.now - timedelta(hours=1)))
    bid = await _broadcast(app, clock)
    dispatcher = Dispatcher(app.sessions, wa_h.sender,
                            rate_per_second=DEFAULTS.whatsapp_rate_per_second,
                            per_chat_interval=DEFAULTS.whatsapp_per_chat_interval, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    prog = await _until_finished(app, bid)
    stop.set()
    await task
    assert (prog.sent, prog.pending, prog.failed, prog.status) == (5000, 0, 0, "done")
    per_recipient = Counter(m.to for m in wa_h.graph.sent)
    assert len(per_recipient) == 5000 and set(per_recipient.values()) == {1}
    assert {m.type for m in wa_h.graph.sent} == {"text"}  # free-form, not a template
    assert wa_h.graph.sent[0].text.startswith("Halo Nama ")
    assert wa_h.graph.refused == []


@pytest.fixture
async def telegram_api() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram().start()  # Telegram's limits: 30/s, about 1/s per chat
    yield fake
    await fake.stop()


@pytest.mark.slow
async def test_telegram_recipients_at_the_default_rate(app: App, clock: Clock,
                                                       telegram_api: FakeTelegram) -> None:
    """900 Telegram applicants (30 s at Telegram's 30 msgs/s; 900 bounds the suite's time,
    the WhatsApp test above is the 5,000 one) get the broadcast from the real channel's
    dispatcher and TelegramSender (aiogram) at Settings() defaults (30/s, 1 s per chat),
    over HTTP, from the fake Bot API that answers 429 beyond its global and per-chat
    limits: each chat gets it once and the fake never had to refuse."""
    assert (DEFAULTS.telegram_rate_per_second, DEFAULTS.telegram_per_chat_interval) == (30, 1.0)
    await add_applicants(app.sessions, 900, now=clock.now, channel="telegram", prefix="",
                         start=100_000)
    bid = await _broadcast(app, clock)
    bench = await open_bench(app, telegram_api, "polling",
                             rate_per_second=DEFAULTS.telegram_rate_per_second,
                             per_chat_interval=DEFAULTS.telegram_per_chat_interval)
    try:
        prog = await _until_finished(app, bid)
    finally:
        await bench.close()
    assert (prog.sent, prog.pending, prog.failed, prog.status) == (900, 0, 0, "done")
    sent = telegram_api.calls("sendMessage")
    per_chat = Counter(r.chat_id for r in sent)
    assert len(per_chat) == 900 and set(per_chat.values()) == {1}
    assert set(per_chat) == {str(100_000 + i) for i in range(900)}
    assert telegram_api.rate_limited == 0
    assert all(r.status == 200 for r in telegram_api.requests)
