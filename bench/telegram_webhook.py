"""Webhook throughput of the Telegram channel, beside a bare aiogram echo bot.

    .venv/bin/python bench/telegram_webhook.py [--chats 1 10 50] [--per-chat 20] [--db URL]

N chats post text updates at once through real HTTP on loopback, each chat one update
after another (the next as soon as the webhook answered, as Telegram does per chat).

- izin: `izin serve`'s webhook route (FastAPI under uvicorn) with the update worker
  running; latency per update is from the request to the commit of its transaction
  (the outbox row with the reply). The outbox dispatcher does not run: sending is
  measured by bench/journeys.py, and the echo bot sends nothing either.
- echo: aiogram's Dispatcher behind its own SimpleRequestHandler on aiohttp, one handler
  answering every message with `message.answer(text)` in the webhook response (no Bot
  API call); latency is from the request to the response.

Both servers run in this process beside the load generator, the same for both, so the
ratio of their per-update costs is the number to read; `cpu ms/upd` is this process's
CPU time per update (server + client).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable as a plain script from anywhere

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from aiogram import Bot, Dispatcher  # noqa: E402
from aiogram.types import Message  # noqa: E402
from aiogram.webhook.aiohttp_server import SimpleRequestHandler  # noqa: E402
from aiohttp import web  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bot.channels.telegram.channel import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel  # noqa: E402
from bot.composition import build  # noqa: E402
from bot.http import create_http_app  # noqa: E402
from bot.settings import Settings  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402

TOKEN = "123456:BENCH-token"
SECRET = "bench-secret"
TEXTS = ["halo", "1", "menu", "/status", "bantuan", "kembali", "menu", "Informasi"]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _update(update_id: int, chat: int, text_: str) -> dict[str, Any]:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": int(time.time()), "text": text_,
        "chat": {"id": chat, "type": "private", "first_name": "B"},
        "from": {"id": chat, "is_bot": False, "first_name": "B", "language_code": "id"}}}


def _socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


async def _load(url: str, chats: int, per_chat: int, base_id: int,
                sent_at: dict[str, float]) -> dict[str, float]:
    """Post every update; returns response time per update id."""
    answered: dict[str, float] = {}
    limits = httpx.Limits(max_connections=chats, max_keepalive_connections=chats)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        async def chat(c: int) -> None:
            for n in range(per_chat):
                uid = base_id + c * per_chat + n
                sent_at[str(uid)] = time.perf_counter()
                r = await client.post(WEBHOOK_PATH, json=_update(uid, 10_000 + c,
                                                                 TEXTS[n % len(TEXTS)]),
                                      headers={SECRET_HEADER: SECRET})
                r.raise_for_status()
                answered[str(uid)] = time.perf_counter()
        await asyncio.gather(*(chat(c) for c in range(chats)))
    return answered


async def _measure(run: Callable[[dict[str, float]], Awaitable[dict[str, float]]],
                   total: int) -> dict[str, float]:
    sent_at: dict[str, float] = {}
    cpu0, t0 = time.process_time(), time.perf_counter()
    done = await run(sent_at)
    wall = max(done.values()) - t0
    cpu = time.process_time() - cpu0
    lat = [(done[k] - sent_at[k]) * 1000 for k in done]
    assert len(done) == total, f"{len(done)} of {total} updates finished"
    return {"events_s": total / wall, "p50": statistics.median(lat),
            "p99": _percentile(lat, 0.99), "cpu_ms": cpu * 1000 / total}


async def run_izin(db: str, chats: int, per_chat: int, workdir: Path) -> dict[str, float]:
    data = workdir / f"izin-{chats}"
    url = None
    if db != "sqlite":
        url = db
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
        await upgrade_async(url)
    settings = Settings(data_dir=data, database_url=url, _env_file=None,  # type: ignore[call-arg]
                        telegram_token=TOKEN, telegram_webhook_secret=SECRET,
                        telegram_api_base="http://127.0.0.1:9")  # nothing is sent
    app = await build(settings, migrate=True)
    channel = TelegramChannel.from_settings(app, settings)
    committed: dict[str, float] = {}
    original = app.runtime.handle

    async def timed_handle(**kwargs: Any) -> Any:
        outcome = await original(**kwargs)
        committed[kwargs["platform_id"]] = time.perf_counter()
        return outcome

    app.runtime.handle = timed_handle  # type: ignore[method-assign]
    stop = asyncio.Event()
    channel.worker.idle_poll = 0.5
    channel._spawn(channel.worker.run(stop))
    http = create_http_app(app=app, webhooks=dict([channel.webhook()]))
    sock = _socket()
    server = uvicorn.Server(uvicorn.Config(http, log_level="warning", lifespan="off",
                                           access_log=False))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    url_ = f"http://127.0.0.1:{sock.getsockname()[1]}"
    total = chats * per_chat

    async def run(sent_at: dict[str, float]) -> dict[str, float]:
        await _load(url_, chats, per_chat, 1, sent_at)
        while len(committed) < total:  # noqa: ASYNC110 (a bench: polling is fine)
            await asyncio.sleep(0.005)
        return committed

    try:
        return await _measure(run, total)
    finally:
        stop.set()
        await channel.wait()
        server.should_exit = True
        await serving
        await channel.close()
        await app.close()


async def run_echo(chats: int, per_chat: int) -> dict[str, float]:
    bot = Bot(TOKEN)
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> Any:
        return message.answer(message.text or "")  # sent back in the webhook response

    webapp = web.Application()
    SimpleRequestHandler(dp, bot, secret_token=SECRET, handle_in_background=False).register(
        webapp, path=WEBHOOK_PATH)
    runner = web.AppRunner(webapp, access_log=None)
    await runner.setup()
    sock = _socket()
    site = web.SockSite(runner, sock)
    await site.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"

    async def run(sent_at: dict[str, float]) -> dict[str, float]:
        return await _load(url, chats, per_chat, 1, sent_at)

    try:
        return await _measure(run, chats * per_chat)
    finally:
        await runner.cleanup()
        await bot.session.close()


async def main_async(args: argparse.Namespace) -> None:
    print(f"# Python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, "
          f"db={args.db.split('@')[-1]}, {args.per_chat} updates per chat")
    print("| bot  | chats | updates | events/s | p50 ms | p99 ms | cpu ms/upd |")
    print("|------|------:|--------:|---------:|-------:|-------:|-----------:|")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for chats in args.chats:
            echo = await run_echo(chats, args.per_chat)
            izin = await run_izin(args.db, chats, args.per_chat, Path(tmp))
            for name, r in (("echo", echo), ("izin", izin)):
                print(f"| {name} | {chats:5d} | {chats * args.per_chat:7d} | "
                      f"{r['events_s']:8.1f} | {r['p50']:6.1f} | {r['p99']:6.1f} | "
                      f"{r['cpu_ms']:10.2f} |")
            ratios.append((chats, izin["cpu_ms"] / echo["cpu_ms"],
                           echo["events_s"] / izin["events_s"]))
    for chats, cpu_ratio, tput_ratio in ratios:
        print(f"# {chats} chats: izin/echo cost per update {cpu_ratio:.1f}x (CPU), "
              f"{tput_ratio:.1f}x (throughput)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--per-chat", type=int, default=20)
    parser.add_argument("--db", default="sqlite")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
