"""Real `izin serve` processes for the multi-process and fault tests, and a TCP proxy in
front of PostgreSQL that a test can cut and restore (the server itself is never
stopped)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_user import free_socket

SECRET = "procs-secret"
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    sock = free_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    return port


@dataclass
class Serve:
    """One `izin serve` process (Telegram in webhook mode) and a client to post to it."""

    proc: asyncio.subprocess.Process
    port: int
    log: Path
    client: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    async def post(self, update: dict[str, Any]) -> int:
        resp = await self.client.post("/webhooks/telegram", json=update,
                                      headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        return resp.status_code

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        else:
            await self.proc.wait()
        await self.client.aclose()


async def start_serve(tmp: Path, db_url: str, api: FakeTelegram, name: str,
                      **extra: str) -> Serve:
    port = free_port()
    env = {**os.environ, "IZIN_DATA_DIR": str(tmp / "var"), "IZIN_HTTP_PORT": str(port),
           "IZIN_DATABASE_URL": db_url, "IZIN_TELEGRAM_TOKEN": api.token,
           "IZIN_TELEGRAM_API_BASE": api.base,
           "IZIN_TELEGRAM_WEBHOOK_URL": "https://izin.example/webhooks/telegram",
           "IZIN_TELEGRAM_WEBHOOK_SECRET": SECRET, "IZIN_TELEGRAM_PER_CHAT_INTERVAL": "0",
           "IZIN_TELEGRAM_RATE_PER_SECOND": "1000", "IZIN_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(REPO), **extra}
    log = tmp / f"serve-{name}.log"
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", cwd=tmp, env=env,
            stdout=out, stderr=out)
    serve = Serve(proc, port, log)
    for _ in range(600):
        with contextlib.suppress(httpx.TransportError):
            if (await serve.client.get("/healthz")).status_code == 200:
                return serve
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.1)
    raise AssertionError(f"izin serve did not start: {log.read_text()[-3000:]}")


async def until(check: Callable[[], Any], seconds: float, what: str = "") -> float:
    """Wait until `check()` (a coroutine function or a plain one) is true; returns the
    seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return time.monotonic() - start
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {seconds}s: {what}")


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `cut()` closes the listener and every
    connection (PostgreSQL unreachable), `restore()` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @staticmethod
    def for_url(db_url: str) -> TcpProxy:
        url = make_url(db_url)
        return TcpProxy(url.host or "127.0.0.1", url.port or 5432)

    def url(self, db_url: str) -> str:
        return make_url(db_url).set(host="127.0.0.1", port=self.port).render_as_string(
            hide_password=False)

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port,
                                                  reuse_address=True)
        return self

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                      ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}
