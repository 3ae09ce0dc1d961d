"""`izin serve` as a real process with a token: polling without a webhook URL, the
webhook route with one; both answer through the fake Bot API."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.telegram_api import FakeTelegram, text_update
from tests.fakes.telegram_user import free_socket
from tests.serve_procs import stop_process


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram().start()
    yield fake
    await fake.stop()


async def _serve(tmp_path: Path, api: FakeTelegram, **extra: str
                 ) -> tuple[asyncio.subprocess.Process, int]:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "IZIN_DATA_DIR": str(tmp_path / "var"), "IZIN_HTTP_PORT": str(port),
           "IZIN_TELEGRAM_TOKEN": api.token, "IZIN_TELEGRAM_API_BASE": api.base, **extra}
    env.pop("IZIN_DATABASE_URL", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "serve", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    return proc, port




async def _until(check: object, seconds: float = 90) -> None:
    for _ in range(int(seconds / 0.1)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def test_serve_polls_with_a_token(tmp_path: Path, api: FakeTelegram) -> None:
    proc, _ = await _serve(tmp_path, api)
    try:
        await _until(lambda: api.commands.get("en"))  # started: commands set
        # Polling needs no webhook: deleted after the commands (per language) are set,
        # so it may come a moment after "en".
        await _until(lambda: api.calls("deleteWebhook"), seconds=10)
        api.feed(text_update(api, 31337, "/start"))
        await _until(lambda: api.delivered(31337))
        assert api.delivered(31337)[0].reply_markup is not None  # the language question
    finally:
        await stop_process(proc)


async def test_serve_webhook_route(tmp_path: Path, api: FakeTelegram) -> None:
    proc, port = await _serve(tmp_path, api,
                              IZIN_TELEGRAM_WEBHOOK_URL="https://izin.example/webhooks/telegram",
                              IZIN_TELEGRAM_WEBHOOK_SECRET="topsecret")
    try:
        await _until(lambda: api.commands.get("en"))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                try:
                    await client.get("/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            update = text_update(api, 31338, "/start")
            forged = await client.post("/webhooks/telegram", json=update,
                                       headers={"X-Telegram-Bot-Api-Secret-Token": "nope"})
            assert forged.status_code == 401
            ok = await client.post("/webhooks/telegram", json=update,
                                   headers={"X-Telegram-Bot-Api-Secret-Token": "topsecret"})
            assert ok.status_code == 200
        await _until(lambda: api.delivered(31338))
        assert len(api.delivered(31338)) == 1
        assert not api.calls("getUpdates")  # webhook mode does not poll
    finally:
        await stop_process(proc)
