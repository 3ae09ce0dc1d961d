"""Sending through the outbox to the fake Bot API: rendering (HTML escaping, splitting,
keyboards and their pages, documents, QR photos) and the platform's answers (429 storm,
403, 5xx)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.channels.telegram.render import MAX_TEXT, PAGE_SIZE, split_text
from bot.composition import App
from conversations.types import Choice, OutMessage
from service.inbound import get_or_create_applicant
from service.outbox import enqueue
from storage.models import Applicant, OutboxMessage
from tests.fakes.telegram_api import FakeTelegram, text_update
from tests.fakes.telegram_user import Bench, User, open_bench


@pytest.fixture
def live_app(app: App) -> App:
    app.runtime.clock = lambda: datetime.now(UTC)
    return app


@pytest.fixture
async def loose_api() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram(per_chat_rate=100, per_chat_burst=100, global_rate=1000,
                              global_burst=1000).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def bench(live_app: App, loose_api: FakeTelegram) -> AsyncIterator[Bench]:
    opened = await open_bench(live_app, loose_api, "polling")
    yield opened
    await opened.close()


async def _enqueue(app: App, chat_id: int, *messages: OutMessage) -> list[int]:
    now = datetime.now(UTC)
    async with app.sessions() as session, session.begin():
        applicant = await get_or_create_applicant(session, "telegram", str(chat_id), now)
        rows = [enqueue(session, applicant, m, now=now) for m in messages]
        await session.flush()
        return [r.id for r in rows]


async def _rows(app: App, chat_id: int) -> list[OutboxMessage]:
    async with app.sessions() as session:
        return list((await session.scalars(select(OutboxMessage).where(
            OutboxMessage.chat_id == str(chat_id)).order_by(OutboxMessage.id))).all())


def test_split_text_keeps_entities_whole_and_within_the_limit() -> None:
    text = ("Nama: <Siti> & Co.\n" * 400) + ("x&" * 3000)
    chunks = split_text(text)
    assert len(chunks) > 2
    assert all(len(c) <= MAX_TEXT for c in chunks)
    joined = "".join(chunks).replace("\n", "")
    assert "<" not in joined and "&lt;Siti&gt;" in joined
    assert joined.count("&amp;") == text.count("&")


async def test_text_is_escaped_and_long_text_split(bench: Bench, live_app: App) -> None:
    await _enqueue(live_app, 900, OutMessage(kind="text", text="<b>Budi</b> & " + "a" * 5000))
    bench.channel.dispatcher.wake()
    await bench.settle()
    sent = bench.api.calls("sendMessage", chat_id=900)
    assert len(sent) == 2
    assert sent[0].params["parse_mode"] == "HTML"
    assert sent[0].params["text"].startswith("&lt;b&gt;Budi&lt;/b&gt; &amp; ")
    assert all(len(r.params["text"]) <= MAX_TEXT for r in sent)
    rows = await _rows(live_app, 900)
    assert rows[0].status == "sent"
    assert rows[0].platform_message_id == str(sent[-1].result["message_id"])


async def test_long_choice_list_is_paged_inside_the_channel(bench: Bench,
                                                          live_app: App) -> None:
    nav = (Choice("nav:back", "Kembali"), Choice("nav:menu", "Menu utama"))
    choices = tuple(Choice(f"r:region-{i}", f"Region {i}") for i in range(20))
    [outbox_id] = await _enqueue(live_app, 901, OutMessage(kind="choices", text="Pilih",
                                                           choices=choices + nav))
    bench.channel.dispatcher.wake()
    await bench.settle()
    user = User(bench, 901)
    buttons = user.buttons()
    assert [b["callback_data"] for b in buttons[:PAGE_SIZE]] == [
        c.id for c in choices[:PAGE_SIZE]]
    nxt = next(b for b in buttons if b["text"] == "2/3 ›")
    assert nxt["callback_data"] == f"~pg:{outbox_id}:1"
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    # Navigation on the first page already, and no button that does nothing.
    assert [b["callback_data"] for b in buttons[-2:]] == ["nav:back", "nav:menu"]
    assert not any(b["callback_data"] == f"~pg:{outbox_id}:0" for b in buttons)

    await user.press(nxt["callback_data"])
    [edit] = bench.api.calls("editMessageText", chat_id=901)
    page2 = [b["callback_data"] for row in edit.params["reply_markup"]["inline_keyboard"]
             for b in row]
    assert page2[:PAGE_SIZE] == [c.id for c in choices[PAGE_SIZE:2 * PAGE_SIZE]]
    assert f"~pg:{outbox_id}:0" in page2 and f"~pg:{outbox_id}:2" in page2
    assert f"~pg:{outbox_id}:1" not in page2  # the current page is no button
    assert page2[-2:] == ["nav:back", "nav:menu"]
    # The page turn was answered and never reached the conversation engine.
    assert len(bench.api.calls("answerCallbackQuery")) == 1
    assert len(bench.api.delivered(901)) == 1


async def test_every_callback_is_answered(bench: Bench) -> None:
    user = User(bench, 902)
    await user.say("/start")
    await user.act("1")
    await user.act("1")
    answered = bench.api.calls("answerCallbackQuery")
    pressed = [r for r in bench.api.requests if r.method == "answerCallbackQuery"]
    assert len(answered) == len(pressed) == 2


async def test_document_and_qr_photo(bench: Bench, live_app: App,
                                     samples: dict[str, object]) -> None:
    from pathlib import Path

    pdf = Path(str(samples["pdf"]))
    blob = await live_app.files.ingest_path(pdf)
    await _enqueue(live_app, 903,
                   OutMessage(kind="document", text="Izin <praktik>", blob_sha256=blob.sha256,
                              filename="SIP.pdf", media_type="application/pdf"),
                   OutMessage(kind="image", text="Kode", qr="https://izin.example/verify/AB12"))
    bench.channel.dispatcher.wake()
    await bench.settle()
    [doc] = bench.api.calls("sendDocument", chat_id=903)
    assert doc.files["document"] == await asyncio.to_thread(pdf.read_bytes)
    assert doc.params["_filename"] == "SIP.pdf"
    assert doc.params["caption"] == "Izin &lt;praktik&gt;"
    [photo] = bench.api.calls("sendPhoto", chat_id=903)
    png = photo.files["photo"]
    assert png.startswith(b"\x89PNG")
    zbar = await asyncio.create_subprocess_exec(
        "zbarimg", "--raw", "-q", "-", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE)
    decoded, _ = await zbar.communicate(png)
    assert decoded.decode().strip() == "https://izin.example/verify/AB12"


async def test_blocked_bot_marks_the_chat_unreachable(bench: Bench, live_app: App) -> None:
    bench.api.inject("sendMessage", 403, chat_id=904, times=100)
    await _enqueue(live_app, 904, OutMessage(kind="text", text="satu"),
                   OutMessage(kind="text", text="dua"))
    bench.channel.dispatcher.wake()
    await bench.settle()
    rows = await _rows(live_app, 904)
    assert [r.status for r in rows] == ["unreachable", "unreachable"]
    assert len(bench.api.calls("sendMessage", chat_id=904, ok_only=False)) == 1  # no retries
    async with live_app.sessions() as session:
        applicant = await session.scalar(select(Applicant).where(
            Applicant.external_id == "904"))
    assert applicant is not None and applicant.unreachable_at is not None


async def test_server_error_is_retried_with_backoff(bench: Bench, live_app: App) -> None:
    bench.api.inject("sendMessage", 502, chat_id=905, times=1)
    await _enqueue(live_app, 905, OutMessage(kind="text", text="halo"))
    bench.channel.dispatcher.wake()
    await bench.settle()
    attempts = bench.api.calls("sendMessage", chat_id=905, ok_only=False)
    assert [a.status for a in attempts] == [502, 200]
    assert attempts[1].at - attempts[0].at >= 1.5  # backoff, not a hot loop
    [row] = await _rows(live_app, 905)
    assert row.status == "sent" and row.attempts == 2


async def test_bad_request_is_not_retried(bench: Bench, live_app: App) -> None:
    bench.api.inject("sendMessage", 400, chat_id=906, times=5,
                     description="Bad Request: can't parse entities")
    await _enqueue(live_app, 906, OutMessage(kind="text", text="halo"))
    bench.channel.dispatcher.wake()
    await bench.settle()
    [row] = await _rows(live_app, 906)
    assert row.status == "failed" and "parse entities" in (row.last_error or "")
    assert len(bench.api.calls("sendMessage", chat_id=906, ok_only=False)) == 1


async def test_429_storm_loses_nothing_duplicates_nothing_keeps_order(live_app: App) -> None:
    # Strict limits: a burst of 2 per chat then 1/s, 10/s overall; the dispatcher is
    # configured faster than that, so the server answers 429 with retry_after a lot.
    api = await FakeTelegram(per_chat_rate=1, per_chat_burst=2, global_rate=10,
                             global_burst=5).start()
    bench = await open_bench(live_app, api, "webhook", per_chat_interval=0.05,
                             rate_per_second=200)
    try:
        api.inject("sendMessage", 429, retry_after=1, times=3, chat_id=1001)
        chats = list(range(1001, 1007))
        expected: dict[int, list[str]] = {}
        for chat in chats:
            texts = [f"pesan {chat}-{n}" for n in range(5)]
            expected[chat] = texts
            await _enqueue(live_app, chat, *(OutMessage(kind="text", text=t) for t in texts))
        # Live traffic at the same time: a user talking while the storm goes on.
        await bench.deliver(text_update(api, 1010, "/start"))
        bench.channel.dispatcher.wake()
        await bench.settle(within=120)
        assert api.rate_limited > 0  # the limits did bite
        for chat in chats:
            assert api.texts(chat) == expected[chat]  # all, once each, in order
        assert len(api.delivered(1010)) == 1
        rows = [r for chat in chats for r in await _rows(live_app, chat)]
        assert {r.status for r in rows} == {"sent"}
        # Retry-after was honoured: the retries of chat 1001 came after the wait.
        tries = api.calls("sendMessage", chat_id=1001, ok_only=False)
        first_429 = next(t for t in tries if t.status == 429)
        after = [t for t in tries if t.at > first_429.at]
        assert after and after[0].at - first_429.at >= 0.9
    finally:
        await bench.close()
        await api.stop()


def test_payload_round_trip_keeps_from_alias() -> None:
    from bot.channels.telegram.inbound import parse, to_payload

    fake = FakeTelegram()
    update = text_update(fake, 5, "halo")
    again = to_payload(parse(json.loads(json.dumps(update))))
    assert again["message"]["from"]["id"] == 5
    assert parse(again).message is not None


async def test_polling_stops_promptly(live_app: App, loose_api: FakeTelegram) -> None:
    bench = await open_bench(live_app, loose_api, "polling")
    await asyncio.sleep(0.1)  # the long poll is open
    await asyncio.wait_for(bench.close(), timeout=10)


async def test_retry_of_a_split_message_sends_only_the_unconfirmed_part(
        bench: Bench, live_app: App) -> None:
    # The first part goes through, the second gets a 429: the retry sends the second only.
    text = "\n".join(f"baris {n}" for n in range(1200))  # about 11,000 characters
    parts = split_text(text)
    assert len(parts) == 3
    calls = {"n": 0}
    original = bench.api._injected

    def second_call_limited(method: str, chat_id: str | None):  # type: ignore[no-untyped-def]
        if method == "sendmessage" and chat_id == "907":
            calls["n"] += 1
            if calls["n"] == 2:
                from tests.fakes.telegram_api import Injection

                return Injection("sendmessage", 429, 1, retry_after=1)
        return original(method, chat_id)

    bench.api._injected = second_call_limited  # type: ignore[method-assign]
    await _enqueue(live_app, 907, OutMessage(kind="text", text=text))
    bench.channel.dispatcher.wake()
    await bench.settle()
    assert [r.params["text"] for r in bench.api.calls("sendMessage", chat_id=907)] == parts
    [row] = await _rows(live_app, 907)
    assert row.status == "sent" and row.attempts == 2
