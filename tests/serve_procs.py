"""Real `izin serve` processes for the multi-process and fault tests (Telegram or
WhatsApp, against the fake platform servers) and the test's own view of their
database (the TCP proxy that cuts PostgreSQL off is tests/fakes/tcp_proxy.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from storage.db import create_engine, session_factory
from storage.models import InboundMessage, InboundStatus, OutboxMessage
from tests.fakes import graph_api as wa
from tests.fakes.graph_api import FakeGraphAPI
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_user import free_socket
from tests.journeys import apply_script

SECRET = "procs-secret"
REPO = Path(__file__).resolve().parent.parent
STANDARD = ("metro", "okupasi-terapis")  # the shortest journey: 4 uploads
REG_NO = re.compile(r"\b[A-Z]{2,5}-\d{4}-[A-Z0-9]{6}\b")


async def stop_process(proc: asyncio.subprocess.Process, grace: float = 30.0) -> int:
    """Stop `izin serve` as an operator does (SIGINT: it finishes and exits), killed
    after `grace` seconds; its exit code."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            proc.kill()
    return await proc.wait()


def free_port() -> int:
    sock = free_socket()
    port = int(sock.getsockname()[1])
    sock.close()
    return port


def standard_script(samples: dict[str, Path]) -> list[str]:
    from licensing.catalog import STANDARDS_DIR, Catalog

    entry = Catalog.load(STANDARDS_DIR).find(*STANDARD)
    assert entry is not None
    return apply_script(entry, samples)


@dataclass
class Serve:
    """One `izin serve` process (Telegram in webhook mode, or WhatsApp) and a client to
    post its platform's webhooks to it."""

    proc: asyncio.subprocess.Process
    port: int
    log: Path
    channel: str = "telegram"
    client: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    async def post(self, body: dict[str, Any]) -> int:
        if self.channel == "whatsapp":  # signed over the raw body, as Meta does
            raw, headers = wa.signed(body, SECRET)
            resp = await self.client.post("/webhooks/whatsapp", content=raw, headers=headers)
        else:
            resp = await self.client.post("/webhooks/telegram", json=body,
                                          headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        return resp.status_code

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        await stop_process(self.proc)
        await self.client.aclose()


def _channel_env(api: FakeTelegram | FakeGraphAPI) -> dict[str, str]:
    if isinstance(api, FakeGraphAPI):
        return {"IZIN_WHATSAPP_TOKEN": api.token, "IZIN_WHATSAPP_PHONE_NUMBER_ID": api.phone_id,
                "IZIN_WHATSAPP_APP_SECRET": SECRET, "IZIN_WHATSAPP_VERIFY_TOKEN": SECRET,
                "IZIN_WHATSAPP_API_BASE": api.base}
    return {"IZIN_TELEGRAM_TOKEN": api.token, "IZIN_TELEGRAM_API_BASE": api.base,
            "IZIN_TELEGRAM_WEBHOOK_URL": "https://izin.example/webhooks/telegram",
            "IZIN_TELEGRAM_WEBHOOK_SECRET": SECRET, "IZIN_TELEGRAM_PER_CHAT_INTERVAL": "0",
            "IZIN_TELEGRAM_RATE_PER_SECOND": "1000"}


async def start_serve(tmp: Path, db_url: str, api: FakeTelegram | FakeGraphAPI, name: str,
                      **extra: str) -> Serve:
    """`izin serve` with the channel of `api` (a fake Telegram or Graph API) configured."""
    port = free_port()
    env = {**os.environ, "IZIN_DATA_DIR": str(tmp / "var"), "IZIN_HTTP_PORT": str(port),
           "IZIN_DATABASE_URL": db_url, **_channel_env(api), "IZIN_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(REPO), **extra}
    log = tmp / f"serve-{name}.log"
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "serve", cwd=tmp, env=env,
            stdout=out, stderr=out)
    serve = Serve(proc, port, log, "whatsapp" if isinstance(api, FakeGraphAPI) else "telegram")
    for _ in range(600):
        with contextlib.suppress(httpx.TransportError):
            if (await serve.client.get("/healthz")).status_code == 200:
                return serve
        if proc.returncode is not None:
            break
        await asyncio.sleep(0.1)
    raise AssertionError(f"izin serve did not start: {log.read_text()[-3000:]}")


async def post_all(plan: list[tuple[dict[str, Any], list[Serve]]]) -> None:
    """Each body to its process(es), one after the other's 200."""
    for body, targets in plan:
        for serve in targets:
            assert await serve.post(body) == 200


class Db:
    """The test's own view of the processes' database (chats by their outbox chat id)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self.sessions = session_factory(self.engine)

    async def handled(self) -> bool:
        """No inbound row left pending (the outbox side is not looked at)."""
        async with self.sessions() as s:
            return not await s.scalar(select(func.count()).select_from(InboundMessage).where(
                InboundMessage.status == InboundStatus.PENDING))

    async def settled(self, chats: Sequence[int | str],
                      delivered: Callable[[int | str], int]) -> bool:
        """Every inbound row handled, every outbox row sent, and the fake has received at
        least as many messages as the outbox holds for these chats."""
        async with self.sessions() as s:
            pending = await s.scalar(select(func.count()).select_from(InboundMessage).where(
                InboundMessage.status == InboundStatus.PENDING))
            unsent = await s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status.in_(("pending", "sending"))))
            rows = await s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.chat_id.in_([str(c) for c in chats])))
        got = sum(delivered(c) for c in chats)
        return pending == 0 and unsent == 0 and got >= (rows or 0)

    async def conversation(self, chat: int | str) -> list[str]:
        """What the bot decided to say, in order, registration numbers blanked."""
        async with self.sessions() as s:
            payloads = (await s.scalars(select(OutboxMessage.payload).where(
                OutboxMessage.chat_id == str(chat)).order_by(OutboxMessage.id))).all()
        return [REG_NO.sub("REG", json.dumps(p, sort_keys=True)) for p in payloads]

    async def statuses(self) -> dict[str, int]:
        async with self.sessions() as s:
            rows = (await s.execute(select(InboundMessage.status, func.count())
                                    .group_by(InboundMessage.status))).all()
        return {str(k): int(v) for k, v in rows}

    async def close(self) -> None:
        await self.engine.dispose()


async def serve_after_reference(tmp: Path, db_url: str, api: FakeTelegram | FakeGraphAPI,
                                reference: list[dict[str, Any]], n: int, **extra: str
                                ) -> list[Serve]:
    """`n` processes, the first alone while the reference bodies are posted to it and
    handled: with the others up, LISTEN/NOTIFY would wake them for those chats too, and
    the reference would not be one process's."""
    serves = [await start_serve(tmp, db_url, api, "p0", **extra)]
    db = Db(db_url)
    try:
        await post_all([(body, serves) for body in reference])
        await until(db.handled, 60, "the reference handled by one process")
        serves += await asyncio.gather(*(start_serve(tmp, db_url, api, f"p{i}", **extra)
                                         for i in range(1, n)))
    except BaseException:
        for serve in serves:
            await serve.stop()
        raise
    finally:
        await db.close()
    return serves


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
