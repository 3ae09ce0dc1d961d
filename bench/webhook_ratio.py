"""CPU per Telegram webhook update: `izin serve` beside a bare aiogram echo bot (issue 15).

    .venv/bin/python bench/webhook_ratio.py [--chats 1 10 50] [--per-chat 20]
        [--db sqlite postgresql+asyncpg://postgres@127.0.0.1:5432/izin_ratio_bench]

Both servers do the same visible work per update: one update in through the webhook
(secret header checked), one `sendMessage` out to a fake Bot API. Each runs as its own
OS process; the number is that process's own user + system CPU (from /proc) over the
run, divided by the updates. The load generator, the fake Bot API (in this process, its
rate limits raised so it never refuses) and the database server are not counted.

- izin: `izin serve` with the webhook route, the update worker and the outbox sender on
  (IZIN_TELEGRAM_RATE_PER_SECOND high, IZIN_TELEGRAM_PER_CHAT_INTERVAL=0 so pacing
  hides no cost), IZIN_PRECHECK=off, IZIN_LOG_LEVEL=WARNING (the echo logs nothing).
- echo: aiogram 3's Dispatcher behind its own SimpleRequestHandler on aiohttp; every
  message and callback query is answered with `await bot.send_message(...)` carrying a
  one-button keyboard (so the journey presses buttons on both servers).

Load: N chats at once, each a journey of `/start`, button presses (callback data from
the last keyboard the fake received for that chat) and typed text. A chat posts its next
update after the previous one's 200 and after the bot's reply reached the fake, and no
further reply came for 50 ms (a user reads before pressing), so the clock stops when
every update has been answered.
A one-chat warm-up journey runs before the clock on each server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable as a plain script from anywhere

import httpx  # noqa: E402

from tests.fakes.telegram_api import FakeTelegram, callback_update, text_update  # noqa: E402
from tests.serve_procs import stop_process  # noqa: E402

TOKEN = "123456:RATIO-token"
SECRET = "ratio-secret"
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PRESS = ""  # a journey step that presses the last keyboard's first button
JOURNEY = ["/start", PRESS, PRESS, PRESS, "halo", PRESS, "menu", PRESS, PRESS, "bantuan",
           PRESS, "/start", PRESS, PRESS, PRESS, "menu", PRESS, "kembali", PRESS, "/status"]
SETTLE = 0.05  # seconds without a new reply before the chat's next update
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (threads included), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Api(FakeTelegram):
    """The fake Bot API, telling each chat's waiter when a reply reached it."""

    def __init__(self) -> None:
        super().__init__(TOKEN, per_chat_rate=1e6, per_chat_burst=1e6, global_rate=1e6,
                         global_burst=1e6)
        self.replies: dict[str, int] = defaultdict(int)
        self.arrived: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.chat_ids = itertools.count(5_000_000)

    def _got(self, params: dict[str, Any]) -> None:
        chat = str(params.get("chat_id"))
        self.replies[chat] += 1
        self.arrived[chat].set()

    async def _m_sendmessage(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        result = await super()._m_sendmessage(params, files)
        self._got(params)
        return result

    async def _m_editmessagetext(self, params: dict[str, Any],
                                 files: dict[str, bytes]) -> Any:
        result = await super()._m_editmessagetext(params, files)
        self._got(params)
        return result


@dataclass
class Result:
    updates: int = 0
    cpu_ms: float = 0.0
    wall: float = 0.0
    unanswered: int = 0
    api_calls: int = 0  # Bot API requests the server made during the run


def _press_data(api: Api, chat: int) -> tuple[str, int] | None:
    """The first button of the last message's keyboard, if it has one."""
    delivered = api.delivered(chat)
    if not delivered:
        return None
    last = delivered[-1]
    buttons = [b for row in (last.reply_markup or {}).get("inline_keyboard", []) for b in row
               if not str(b.get("callback_data", "~")).startswith("~")]
    if not buttons:
        return None
    message_id = last.result["message_id"] if isinstance(last.result, dict) else 1
    return str(buttons[0]["callback_data"]), int(message_id)


async def _journey(client: httpx.AsyncClient, api: Api, chat: int, steps: int,
                   result: Result) -> None:
    key = str(chat)
    for n in range(steps):
        step = JOURNEY[n % len(JOURNEY)]
        picked = _press_data(api, chat) if step == PRESS else None
        if picked is not None:
            update = callback_update(api, chat, picked[0], picked[1])
        else:
            update = text_update(api, chat, step or "1")
        before = api.replies[key]
        api.arrived[key].clear()
        response = await client.post(WEBHOOK_PATH, json=update,
                                     headers={SECRET_HEADER: SECRET})
        response.raise_for_status()
        result.updates += 1
        deadline = time.monotonic() + 30
        while api.replies[key] == before:
            try:
                await asyncio.wait_for(api.arrived[key].wait(),
                                       max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                result.unanswered += 1
                break
            api.arrived[key].clear()
        # A turn may send two messages, and the bot stores a sent message's id after the
        # fake answered: a user who pressed at once would press an outdated button.
        with contextlib.suppress(TimeoutError):
            while True:
                await asyncio.wait_for(api.arrived[key].wait(), SETTLE)
                api.arrived[key].clear()


async def _quiet(api: Api, seconds: float = 0.3) -> None:
    """Until the fake has seen no request for `seconds` (late second replies land)."""
    count = -1
    while count != len(api.requests):
        count = len(api.requests)
        await asyncio.sleep(seconds)


async def drive(url: str, api: Api, pid: int, chats: int, per_chat: int) -> Result:
    result = Result()
    limits = httpx.Limits(max_connections=chats, max_keepalive_connections=chats)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        await _quiet(api)
        calls0 = len(api.requests)
        cpu0, t0 = cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(_journey(client, api, next(api.chat_ids), per_chat, result)
                               for _ in range(chats)))
        await _quiet(api)
        result.cpu_ms = (cpu_seconds(pid) - cpu0) * 1000 / result.updates
        result.wall = time.perf_counter() - t0
        result.api_calls = len(api.requests) - calls0
    return result


async def _until_up(url: str, proc: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        for _ in range(600):
            if proc.returncode is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            with contextlib.suppress(httpx.TransportError):
                # Any HTTP answer means the server listens (the echo has no /healthz).
                await client.get("/healthz")
                return
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not come up")


async def start_izin(api: Api, db: str, workdir: Path) -> tuple[asyncio.subprocess.Process,
                                                                str]:
    port = free_port()
    env = {**os.environ, "IZIN_DATA_DIR": str(workdir / "var"), "IZIN_HTTP_PORT": str(port),
           "IZIN_TELEGRAM_TOKEN": TOKEN, "IZIN_TELEGRAM_API_BASE": api.base,
           "IZIN_TELEGRAM_WEBHOOK_URL": "https://izin.example" + WEBHOOK_PATH,
           "IZIN_TELEGRAM_WEBHOOK_SECRET": SECRET,
           "IZIN_TELEGRAM_RATE_PER_SECOND": "100000", "IZIN_TELEGRAM_PER_CHAT_INTERVAL": "0",
           "IZIN_PRECHECK": "off", "IZIN_LOG_LEVEL": "WARNING",
           "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("RATIO_PYTHONPATH"),
                                                      str(REPO)]))}
    env.pop("IZIN_DATABASE_URL", None)
    if db != "sqlite":
        from bench.journeys import _fresh_postgres

        await _fresh_postgres(db)
        env["IZIN_DATABASE_URL"] = db
    # RATIO_PROFILE=FILE: run izin under cProfile (its numbers are then not comparable);
    # RATIO_PYTHONPATH=DIR goes first on its path (a sitecustomize.py there may count
    # the SQL statements, say).
    profile = os.environ.get("RATIO_PROFILE")
    wrap = ["-m", "cProfile", "-o", profile] if profile else []
    # RATIO_WRAP="py-spy record -r 250 -f raw -o FILE --": a command run in front of
    # izin's interpreter (the CPU figures are then the wrapper's, not comparable).
    front = os.environ.get("RATIO_WRAP", "").split()
    # RATIO_IZIN_LOG=FILE keeps its log (warnings and up), for a run that went wrong.
    log = os.environ.get("RATIO_IZIN_LOG")
    with open(log, "ab") if log else contextlib.nullcontext() as err:  # noqa: ASYNC230
        proc = await asyncio.create_subprocess_exec(
            *front, sys.executable, *wrap, "-m", "bot.cli", "serve", cwd=workdir, env=env,
            stdout=subprocess.DEVNULL, stderr=err or subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}"


async def start_echo(api: Api) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--echo-server", str(port), api.base, cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}"


async def serve_echo(port: int, api_base: str) -> None:
    """The reference: aiogram's own webhook handler, a real sendMessage per update."""
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler
    from aiohttp import web

    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base))
    bot = Bot(TOKEN, session=session)
    dp = Dispatcher()
    # One button, so the journey presses buttons here as it does on Izin.
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text="again", callback_data="again")]])

    @dp.message()
    async def echo(message: Message, bot: Bot) -> None:
        await bot.send_message(message.chat.id, message.text or "?", reply_markup=keyboard)

    @dp.callback_query()
    async def pressed(query: CallbackQuery, bot: Bot) -> None:
        await bot.send_message(query.from_user.id, query.data or "?", reply_markup=keyboard)

    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token=SECRET).register(app, path=WEBHOOK_PATH)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await runner.cleanup()
    await bot.session.close()


async def measure(name: str, api: Api, args: argparse.Namespace, db: str,
                  workdir: Path) -> list[Result]:
    proc, url = (await start_echo(api) if name == "echo"
                 else await start_izin(api, db, workdir))
    out: list[Result] = []  # in the order of --chats (a count may repeat)
    try:
        await _until_up(url, proc)
        await drive(url, api, proc.pid, 1, len(JOURNEY))  # warm-up, not counted
        for chats in args.chats:
            out.append(await drive(url, api, proc.pid, chats, args.per_chat))
    finally:
        await stop_process(proc)
    return out


async def main_async(args: argparse.Namespace) -> None:
    api = Api()
    await api.start()
    loads = [os.getloadavg()[0]]
    print(f"# Python {platform.python_version()}, {os.cpu_count()} cores, "
          f"{args.per_chat} updates per chat, load average at start {loads[0]:.2f}")
    rows: list[tuple[str, int, Result, Result]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            echo = await measure("echo", api, args, "", Path(tmp))
            loads.append(os.getloadavg()[0])
            for i, db in enumerate(args.db):
                workdir = Path(tmp) / f"izin{i}"
                workdir.mkdir()
                izin = await measure("izin", api, args, db, workdir)
                loads.append(os.getloadavg()[0])
                label = "SQLite" if db == "sqlite" else "PostgreSQL"
                rows += [(label, chats, izin[i], echo[i]) for i, chats in enumerate(args.chats)]
    finally:
        await api.stop()
    print("| database | chats | updates | izin ms/upd | echo ms/upd | ratio | "
          "API calls/upd izin/echo | wall s izin/echo | unanswered |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, chats, iz, ec in rows:
        print(f"| {label} | {chats} | {iz.updates} | {iz.cpu_ms:.2f} | {ec.cpu_ms:.2f} | "
              f"{iz.cpu_ms / ec.cpu_ms:.1f}x | {iz.api_calls / iz.updates:.2f}/"
              f"{ec.api_calls / ec.updates:.2f} | {iz.wall:.1f}/{ec.wall:.1f} | "
              f"{iz.unanswered}/{ec.unanswered} |")
    print(f"# load average (1 min) after each server: "
          f"{', '.join(f'{x:.2f}' for x in loads)}; 429s from the fake: {api.rate_limited}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--per-chat", type=int, default=20)
    parser.add_argument("--db", nargs="+", default=["sqlite"])
    parser.add_argument("--echo-server", nargs=2, metavar=("PORT", "API_BASE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server:
        asyncio.run(serve_echo(int(args.echo_server[0]), args.echo_server[1]))
    else:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
