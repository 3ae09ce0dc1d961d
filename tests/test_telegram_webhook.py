"""The webhook route: authenticated, durable before 200, deduplicated; and a restart in
the middle of a journey (new process objects, same database) continues it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main as izin
from bot.composition import App, build
from bot.settings import Settings
from storage.models import Applicant, Application, InboundLease, InboundMessage, OutboxMessage
from tests.fakes.telegram_api import FakeTelegram, callback_update, document_update, text_update
from tests.fakes.telegram_user import Bench, User, open_bench
from tests.journeys import apply_script


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram(per_chat_rate=100, per_chat_burst=100, global_rate=1000,
                              global_burst=1000).start()
    yield fake
    await fake.stop()


@pytest.fixture
def live_app(app: App) -> App:
    app.runtime.clock = lambda: datetime.now(UTC)
    return app


@pytest.fixture
async def bench(live_app: App, api: FakeTelegram) -> AsyncIterator[Bench]:
    opened = await open_bench(live_app, api, "webhook")
    yield opened
    await opened.close()


async def _count(app: App, model: type) -> int:
    async with app.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("secret", ["", "wrong", "s3cret-for-tests-but-longer"])
async def test_forged_webhook_is_refused_and_stores_nothing(bench: Bench, live_app: App,
                                                            secret: str) -> None:
    response = await bench.post(text_update(bench.api, 42, "/start"), secret=secret)
    assert response.status_code == 401
    assert await _count(live_app, InboundMessage) == 0
    assert await _count(live_app, Applicant) == 0


async def test_not_an_update_is_answered_and_dropped(bench: Bench, live_app: App) -> None:
    # Authentic (the secret matches) but never acceptable: 200, or Telegram retries it
    # for a day; nothing to keep without an update_id.
    response = await bench.post({"hello": "world"})  # type: ignore[arg-type]
    assert response.status_code == 200
    assert await _count(live_app, InboundMessage) == 0


async def test_duplicated_update_is_handled_once(bench: Bench, live_app: App) -> None:
    update = text_update(bench.api, 43, "/start")
    assert (await bench.post(update)).status_code == 200
    assert (await bench.post(update)).status_code == 200
    bench.sent_ids.add(str(update["update_id"]))
    await bench.settle()
    assert (await bench.post(update)).status_code == 200  # also after it was handled
    await bench.settle()
    assert await _count(live_app, InboundMessage) == 1
    assert await _count(live_app, OutboxMessage) == 1
    assert len(bench.api.delivered(43)) == 1


def _deaf(bench: Bench) -> None:
    """The process "dies" right after answering: nothing recorded is handed on."""
    async def no_sweep() -> list[str]:
        return []

    bench.channel.pipeline.wake = lambda chat_key=None: None  # type: ignore[method-assign]
    bench.channel.pipeline._due_chats = no_sweep  # type: ignore[method-assign]


async def _inbound(app: App) -> list[tuple[str, str]]:
    async with app.sessions() as session:
        rows = (await session.execute(select(InboundMessage.platform_id, InboundMessage.status)
                                      .order_by(InboundMessage.id))).all()
    return [(p, str(s)) for p, s in rows]


async def test_update_is_stored_before_200_and_survives_a_stop(
        live_app: App, api: FakeTelegram) -> None:
    # A document needs a download first: it is recorded, then handled by the pipeline.
    bench = await open_bench(live_app, api, "webhook")
    _deaf(bench)
    update = document_update(api, 44, b"%PDF-1.4 not much", file_name="a.pdf",
                             mime_type="application/pdf")
    assert (await bench.post(update)).status_code == 200
    assert await _inbound(live_app) == [(str(update["update_id"]), "pending")]
    await bench.close()  # the process stops before handling it

    again = await open_bench(live_app, api, "webhook")
    again.sent_ids.add(str(update["update_id"]))
    try:
        await again.settle()
    finally:
        await again.close()
    sent = len(api.delivered(44))  # a file before /start: answered, with the menu
    assert sent > 0 and sent == await _count(live_app, OutboxMessage)
    assert await _inbound(live_app) == [(str(update["update_id"]), "done")]


async def test_text_for_a_free_chat_is_handled_before_200(
        live_app: App, api: FakeTelegram) -> None:
    # No pipeline at all: the reply is in the outbox when the webhook answers.
    bench = await open_bench(live_app, api, "webhook")
    _deaf(bench)
    try:
        update = text_update(api, 45, "/start")
        assert (await bench.post(update)).status_code == 200
        assert await _inbound(live_app) == [(str(update["update_id"]), "done")]
        assert await _count(live_app, OutboxMessage) == 1
        assert (await bench.post(update)).status_code == 200  # a redelivery: nothing more
        assert await _count(live_app, OutboxMessage) == 1
        async with live_app.sessions() as session:
            assert await session.scalar(select(func.count()).select_from(InboundLease)) == 0
    finally:
        await bench.close()


async def test_text_waits_behind_a_recorded_update_of_its_chat(
        live_app: App, api: FakeTelegram) -> None:
    # A document is pending (its download comes first); the text after it must not
    # overtake it: it is recorded too, and both are handled in order.
    bench = await open_bench(live_app, api, "webhook")
    _deaf(bench)
    start = text_update(api, 46, "/start")
    doc = document_update(api, 46, b"%PDF-1.4 x", file_name="a.pdf",
                          mime_type="application/pdf")
    text = text_update(api, 46, "halo")
    for update in (start, doc, text):
        assert (await bench.post(update)).status_code == 200
    ids = [str(u["update_id"]) for u in (start, doc, text)]
    assert await _inbound(live_app) == [(ids[0], "done"), (ids[1], "pending"),
                                        (ids[2], "pending")]
    await bench.close()
    again = await open_bench(live_app, api, "webhook")
    again.sent_ids.update(ids)
    try:
        await again.settle()
    finally:
        await again.close()
    assert await _inbound(live_app) == [(i, "done") for i in ids]
    async with live_app.sessions() as session:
        handled = (await session.scalars(select(InboundMessage.platform_id).order_by(
            InboundMessage.handled_at, InboundMessage.id))).all()
    assert list(handled) == ids


async def test_text_for_a_chat_another_process_holds_is_recorded(
        live_app: App, api: FakeTelegram) -> None:
    bench = await open_bench(live_app, api, "webhook")
    _deaf(bench)
    try:
        async with live_app.sessions() as session, session.begin():
            session.add(InboundLease(chat_key="telegram:47", owner="elsewhere:1",
                                     expires_at=datetime.now(UTC) + timedelta(minutes=5)))
        update = text_update(api, 47, "/start")
        assert (await bench.post(update)).status_code == 200
        assert await _inbound(live_app) == [(str(update["update_id"]), "pending")]
        assert await _count(live_app, OutboxMessage) == 0
        async with live_app.sessions() as session:
            lease = await session.scalar(select(InboundLease))
        assert lease is not None and lease.owner == "elsewhere:1"  # untouched
    finally:
        await bench.close()


async def test_a_turn_that_fails_at_once_is_recorded_and_retried(
        live_app: App, api: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:
    from conversations import engine
    real = engine.step
    calls = 0

    def flaky(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("a bug for one turn")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "step", flaky)
    bench = await open_bench(live_app, api, "webhook")
    try:
        update = text_update(api, 48, "/start")
        assert (await bench.post(update)).status_code == 200
        bench.sent_ids.add(str(update["update_id"]))
        await bench.settle()
    finally:
        await bench.close()
    assert calls == 2  # once in the webhook (rolled back), once by the pipeline
    assert await _inbound(live_app) == [(str(update["update_id"]), "done")]
    assert len(api.delivered(48)) == 1


async def test_button_press_is_answered_and_handled_at_once(
        live_app: App, api: FakeTelegram) -> None:
    bench = await open_bench(live_app, api, "webhook")
    try:
        start = text_update(api, 49, "/start")
        assert (await bench.post(start)).status_code == 200
        bench.sent_ids.add(str(start["update_id"]))
        await bench.settle()
        markup = api.delivered(49)[-1].reply_markup
        assert markup is not None
        data = markup["inline_keyboard"][0][0]["callback_data"]
        _deaf(bench)
        press = callback_update(api, 49, data)
        assert (await bench.post(press)).status_code == 200
        assert (await _inbound(live_app))[-1] == (str(press["update_id"]), "done")
        for _ in range(100):
            if api.calls("answerCallbackQuery"):
                break
            await asyncio.sleep(0.02)
        assert len(api.calls("answerCallbackQuery")) == 1
    finally:
        await bench.close()


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_restart_in_the_middle_of_a_journey(
        settings: Settings, live_app: App, api: FakeTelegram, samples: dict[str, Path],
        mode: str) -> None:
    entry = live_app.catalog.find("lubuklinggau", "okupasi-terapis")
    assert entry is not None
    script = apply_script(entry, samples)
    half = len(script) // 2
    first = await open_bench(live_app, api, mode)
    try:
        for line in script[:half]:
            await User(first, 777).act(line)
    finally:
        await first.close()

    # A new process: new App, new bot, new channel objects; only the database is shared.
    second_app = await build(settings, migrate=False)
    second_app.runtime.clock = lambda: datetime.now(UTC)
    second_app.runtime.new_code = lambda: "RST001"
    second = await open_bench(second_app, api, mode)
    try:
        for line in script[half:]:
            await User(second, 777).act(line)
    finally:
        await second.close()
        await second_app.close()
    async with live_app.sessions() as session:
        application = await session.scalar(select(Application))
    assert application is not None and application.region == "lubuklinggau"
    assert application.reg_no.endswith("RST001")
    async with live_app.sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).where(
            OutboxMessage.chat_id == "777"))).all()
    # Every reply of both processes sent exactly once: one Bot API message per row.
    assert {r.status for r in rows} == {"sent"}
    assert len(api.delivered(777)) == len(rows)


async def test_set_webhook_command(api: FakeTelegram, monkeypatch: pytest.MonkeyPatch,
                                   tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IZIN_TELEGRAM_TOKEN", api.token)
    monkeypatch.setenv("IZIN_TELEGRAM_API_BASE", api.base)
    monkeypatch.setenv("IZIN_TELEGRAM_WEBHOOK_URL", "https://izin.example.go.id/webhooks/telegram")
    monkeypatch.setenv("IZIN_TELEGRAM_WEBHOOK_SECRET", "abc_DEF-123")
    # The command runs its own event loop, as from a shell; the fake serves on this one.
    assert await asyncio.to_thread(izin, ["telegram", "set-webhook"]) == 0
    assert api.webhook is not None
    assert api.webhook["url"] == "https://izin.example.go.id/webhooks/telegram"
    assert api.webhook["secret_token"] == "abc_DEF-123"
    assert api.webhook["allowed_updates"] == ["message", "callback_query"]


async def test_link_command_builds_deep_links(api: FakeTelegram, monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IZIN_TELEGRAM_TOKEN", api.token)
    monkeypatch.setenv("IZIN_TELEGRAM_API_BASE", api.base)
    args = ["telegram", "link", "apply", "--region", "metro", "--profession", "okupasi-terapis"]
    assert await asyncio.to_thread(izin, args) == 0
    assert capsys.readouterr().out.strip() == (
        "https://t.me/izin_test_bot?start=apply_metro_okupasi-terapis")
    bad = ["telegram", "link", "info", "--region", "atlantis", "--profession", "x"]
    assert await asyncio.to_thread(izin, bad) == 1


def test_every_standard_has_a_valid_deep_link(app: App) -> None:
    from bot.channels.telegram.links import payload

    for entry in app.catalog:
        for kind in ("info", "apply"):
            value = payload(kind, entry.region.slug, entry.profession.slug)
            assert len(value) <= 64
    with pytest.raises(ValueError):
        payload("status", "PWK 2026")  # a space is not allowed in a start payload
