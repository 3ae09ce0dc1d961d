"""Whole applicant journeys over Telegram: real aiogram against the fake Bot API, in
polling and in webhook mode (real HTTP to the FastAPI route under uvicorn)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.telegram.links import payload
from bot.composition import App
from storage.models import Applicant, Application, Blob, InboundMessage
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_user import Bench, User, open_bench
from tests.journeys import apply_script

STANDARDS = [("purwakarta", "okupasi-terapis"), ("pekanbaru", "okupasi-terapis")]


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegram]:
    # Journeys are about the dialogue: rate limits loose enough not to interfere.
    fake = await FakeTelegram(per_chat_rate=100, per_chat_burst=100, global_rate=1000,
                              global_burst=1000).start()
    yield fake
    await fake.stop()


@pytest.fixture
def live_app(app: App) -> App:
    # Retry-after and backoff are real waits here: the dispatcher needs the real time.
    app.runtime.clock = lambda: datetime.now(UTC)
    return app


@pytest.fixture(params=["polling", "webhook"])
async def bench(request: pytest.FixtureRequest, live_app: App,
                api: FakeTelegram) -> AsyncIterator[Bench]:
    opened = await open_bench(live_app, api, request.param)
    yield opened
    await opened.close()


async def _application(app: App, chat_id: int) -> Application | None:
    async with app.sessions() as session:
        applicant = await session.scalar(select(Applicant).where(
            Applicant.channel == "telegram", Applicant.external_id == str(chat_id)))
        if applicant is None:
            return None
        return await session.scalar(select(Application).where(
            Application.applicant_id == applicant.id))


@pytest.mark.parametrize("region,profession", STANDARDS)
async def test_full_journey_with_scans_then_status(
        bench: Bench, live_app: App, samples: dict[str, Path], region: str,
        profession: str) -> None:
    entry = live_app.catalog.find(region, profession)
    assert entry is not None
    user = User(bench, 5550001)
    for line in apply_script(entry, samples):
        await user.act(line)

    application = await _application(live_app, user.chat_id)
    assert application is not None and application.region == region
    assert any(application.reg_no in t for t in user.texts()[-3:])
    # Photos were taken at their largest size: the stored blob is the original bytes.
    jpeg_sha = hashlib.sha256(samples["jpeg"].read_bytes()).hexdigest()
    async with live_app.sessions() as session:
        stored = set((await session.scalars(select(Blob.sha256))).all())
    assert jpeg_sha in stored
    assert live_app.files.exists(jpeg_sha)
    # Buttons were used (callbacks), and every callback was answered.
    callbacks = [r for r in bench.api.requests if r.method == "answerCallbackQuery"]
    assert len(callbacks) >= 4

    before = len(user.texts())
    await user.say("/status")
    status_texts = "\n".join(user.texts()[before:])
    assert application.reg_no in status_texts

    # The status deep link (as printed on a receipt) opens the same application.
    before = len(user.texts())
    await user.say(f"/start {payload('status', application.reg_no)}")
    assert application.reg_no in "\n".join(user.texts()[before:])


async def test_commands_in_both_languages_at_start(bench: Bench) -> None:
    commands = bench.api.commands
    assert {c["command"] for c in commands["id"]} >= {"start", "status", "bantuan", "batal",
                                                     "pengaduan"}
    assert {c["command"] for c in commands["en"]} >= {"start", "status", "help", "cancel",
                                                     "complaint"}
    assert commands["id"][1]["description"] != commands["en"][1]["description"]


async def test_deep_link_preselects_region_and_profession(bench: Bench) -> None:
    user = User(bench, 5550002)
    await user.say("/start info_metro_okupasi-terapis")
    async with bench.app.sessions() as session:
        done = (await session.scalars(select(InboundMessage.status))).all()
    assert done == ["done"]
    text = "\n".join(user.texts())
    assert "Metro" in text
    assert user.buttons(), "the info topics are offered as buttons"


async def test_rejected_files_store_nothing(bench: Bench, live_app: App,
                                            samples: dict[str, Path]) -> None:
    entry = live_app.catalog.find("purwakarta", "okupasi-terapis")
    assert entry is not None
    user = User(bench, 5550003)
    script = apply_script(entry, samples)
    first_upload = next(i for i, line in enumerate(script) if line.startswith("/upload"))
    for line in script[:first_upload]:
        await user.act(line)

    bad = samples["pdf"].parent / "notes.pdf"
    bad.write_bytes(b"this is not a PDF at all\n" * 40)
    await user.upload(bad)
    assert "tidak diterima" in user.texts()[-2] or "tidak diterima" in "\n".join(
        user.texts()[-3:])

    # Over the bot download limit: refused from the declared size, nothing downloaded.
    from tests.fakes.telegram_api import document_update

    live_app.files.max_bytes = 50 * 1024 * 1024
    downloads_before = len(bench.api.calls("download")) + len(bench.api.calls("getFile"))
    await bench.deliver(document_update(bench.api, user.chat_id, b"%PDF-1.4 tiny",
                                        file_name="big.pdf", size=25 * 1024 * 1024))
    await bench.settle()
    assert "20 MB" in "\n".join(user.texts()[-3:])
    assert len(bench.api.calls("download")) + len(bench.api.calls("getFile")) == \
        downloads_before
    async with live_app.sessions() as session:
        assert (await session.scalars(select(Blob))).all() == []


async def test_update_delivered_twice_is_handled_once(bench: Bench, live_app: App) -> None:
    from tests.fakes.telegram_api import text_update

    update = text_update(bench.api, 5550004, "/start")
    await bench.deliver(update)
    await bench.deliver(update)  # Telegram retries (webhook) or re-sends (polling)
    await bench.settle()
    async with live_app.sessions() as session:
        rows = (await session.scalars(select(InboundMessage))).all()
    assert len(rows) == 1 and rows[0].status == "done"
    assert len(bench.api.delivered(5550004)) == 1
