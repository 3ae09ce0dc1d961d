"""The outbox with real processes: kill -9 of the sending process and a restart, two
processes on one PostgreSQL database within the platform's limits, and a database
outage made by cutting a TCP proxy (the server itself keeps running)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.composition import App
from conversations.types import OutMessage
from notifications import broadcasts as bc
from service.outbox import enqueue
from storage.models import Applicant, InboundMessage, OutboxMessage, OutboxStatus
from tests.conftest import PG_URL, Clock
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.telegram_api import FakeTelegram, text_update
from tests.notify_data import add_applicants
from tests.processes import REPO, delivered_at

pytestmark = pytest.mark.slow
pg_only = pytest.mark.skipif(not PG_URL, reason="several sending processes and the "
                             "sender lock need PostgreSQL (IZIN_TEST_DATABASE_URL)")
RESUME_WITHIN = 10.0
EPOCH = time.time()  # the processes' clocks agree: the test's `now` is at this time


def spawn(db_url: str, log: Path, now: datetime, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("IZIN_DATABASE_URL", None)
    err = log.parent / f"worker-{time.monotonic_ns()}.err"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.notify_worker", db_url, str(log), "--now",
         now.isoformat(), "--epoch", str(EPOCH), *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err.open("w"), text=True)
    ERRORS[proc.pid] = err
    return proc


ERRORS: dict[int, Path] = {}


def ready_at(proc: subprocess.Popen[str]) -> float | None:
    """When the worker was up (imports done, app built): a loaded machine can take many
    seconds to start Python, which is no part of recovering."""
    for line in ERRORS[proc.pid].read_text().splitlines():
        if line.startswith("started "):
            return float(line.split()[1])
    return None


async def replies(app: App, clock: Clock, chats: list[str], per_chat: int,
                  channel: str) -> None:
    """`per_chat` live replies to each chat, as turns of conversations write them."""
    async with app.sessions() as s, s.begin():
        applicants = (await s.scalars(select(Applicant).where(
            Applicant.external_id.in_(chats), Applicant.channel == channel))).all()
        for i in range(per_chat):
            for a in applicants:
                enqueue(s, a, OutMessage(kind="text", text=f"reply {i} to {a.external_id}"),
                        now=clock.now)


async def until(check: object, seconds: float, proc: subprocess.Popen[str] | None = None
                ) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert proc is None or proc.poll() is None, "the worker died"
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def outbox_ids(app: App, *statuses: str) -> set[int]:
    async with app.sessions() as s:
        q = select(OutboxMessage.id)
        if statuses:
            q = q.where(OutboxMessage.status.in_(statuses))
        return set((await s.scalars(q)).all())


def first_after(log: Path, t: float) -> float:
    return min(at for _, at in delivered_at(log) if at >= t)


async def test_kill_9_during_replies_and_a_broadcast_resumes_within_seconds(
        app: App, clock: Clock, db_url: str, tmp_path: Path) -> None:
    ids = await add_applicants(app.sessions, 400, now=clock.now)
    reply_chats = [f"c{i}" for i in range(0, 400, 10)]  # 40 chats in conversation
    await replies(app, clock, reply_chats, 4, "fake")
    await bc.create_broadcast(app.sessions, app.catalog, selection=bc.Selection(
        open_only=True), template="Halo {{ name }}", sender_username="admin",
        sender_role="admin", now=clock.now)
    total = len(await outbox_ids(app))
    assert total == 4 * len(reply_chats) + len(ids)
    log = tmp_path / "delivered.log"
    first = spawn(db_url, log, clock.now, "--rate", "60", "--forever")
    await until(lambda: len(delivered_at(log)) >= 100, 90, first)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    in_flight = await outbox_ids(app, OutboxStatus.SENDING)
    before = Counter(oid for oid, _ in delivered_at(log))
    assert 0 < len(before) < total
    killed = time.time()
    second = spawn(db_url, log, clock.now, "--rate", "60")
    out, _ = await asyncio.to_thread(second.communicate, timeout=400)
    assert second.returncode == 0
    assert "too_many=0" in out
    restarted = ready_at(second)
    assert restarted is not None
    assert first_after(log, killed) - max(restarted, killed) < RESUME_WITHIN
    counts = Counter(oid for oid, _ in delivered_at(log))
    assert len(counts) == total and await outbox_ids(app, OutboxStatus.SENT) == set(counts)
    twice = {oid for oid, n in counts.items() if n > 1}
    assert twice <= in_flight and max(counts.values()) <= 2
    assert all(counts[oid] == 1 for oid in before if oid not in in_flight)
    # Each chat's replies arrived in the order they were written (first deliveries).
    async with app.sessions() as s:
        chat_of = dict((await s.execute(select(OutboxMessage.id, OutboxMessage.chat_id)
                                        .where(OutboxMessage.priority == 0))).all())
    seen: dict[str, list[int]] = defaultdict(list)
    done: set[int] = set()
    for oid, _ in delivered_at(log):
        if oid in chat_of and oid not in done:
            done.add(oid)
            seen[chat_of[oid]].append(oid)
    assert all(v == sorted(v) and len(v) == 4 for v in seen.values())


@pg_only
async def test_two_processes_keep_the_platform_limits_and_one_takes_over(
        app: App, clock: Clock, db_url: str, tmp_path: Path) -> None:
    api = await FakeTelegram(per_chat_rate=1, per_chat_burst=1, global_rate=30,
                             global_burst=30).start()
    try:
        await add_applicants(app.sessions, 150, now=clock.now, channel="telegram",
                             prefix="", start=5000)
        chats = [str(5000 + i) for i in range(0, 150, 5)]
        await replies(app, clock, chats, 4, "telegram")  # 4 replies each: paced 1 s apart
        await bc.create_broadcast(app.sessions, app.catalog, selection=bc.Selection(
            open_only=True), template="Halo {{ name }}", sender_username="admin",
            sender_role="admin", now=clock.now)
        total = len(await outbox_ids(app))
        log = tmp_path / "delivered.log"
        args = ("--rate", "30", "--per-chat", "1", "--telegram", api.base, "--token",
                api.token, "--forever")
        procs = [spawn(db_url, log, clock.now, *args) for _ in range(2)]
        await until(lambda: len(delivered_at(log)) >= 60, 90)
        # Kill whichever is sending; the other takes the channel's sender lock.
        sending = [p for p in procs if p.poll() is None]
        async with app.sessions() as s:
            owner = await s.scalar(select(OutboxMessage.claimed_by).where(
                OutboxMessage.claimed_by.is_not(None)).limit(1))
        assert owner is not None
        victim = next(p for p in sending if f":{p.pid}:" in owner)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        killed = time.time()
        in_flight = await outbox_ids(app, OutboxStatus.SENDING)
        other = next(p for p in procs if p is not victim)
        await until(lambda: any(at > killed for _, at in delivered_at(log)), 30, other)
        assert first_after(log, killed) - killed < RESUME_WITHIN
        await until(lambda: len({oid for oid, _ in delivered_at(log)}) >= total, 120, other)
        other.terminate()
        await asyncio.to_thread(other.wait, 30)
        assert api.rate_limited == 0  # neither the per-chat nor the global limit, in sum
        counts = Counter(oid for oid, _ in delivered_at(log))
        assert len(counts) == total
        assert {o for o, n in counts.items() if n > 1} <= in_flight
    finally:
        await api.stop()


@pg_only
async def test_a_database_outage_behind_a_proxy_resumes_without_a_restart(
        app: App, clock: Clock, db_url: str, tmp_path: Path) -> None:
    proxy = await TcpProxy.for_url(db_url).start()
    try:
        await add_applicants(app.sessions, 400, now=clock.now)
        await bc.create_broadcast(app.sessions, app.catalog, selection=bc.Selection(
            open_only=True), template="Halo {{ name }}", sender_username="admin",
            sender_role="admin", now=clock.now)
        log = tmp_path / "delivered.log"
        through = proxy.url(db_url)
        proc = spawn(through, log, clock.now, "--rate", "40", "--forever")
        await until(lambda: len(delivered_at(log)) >= 80, 90, proc)
        await proxy.cut()
        in_flight = await outbox_ids(app, OutboxStatus.SENDING)
        await asyncio.sleep(10)
        assert proc.poll() is None
        await proxy.restore()
        restored = time.time()

        async def left() -> int:
            async with app.sessions() as s:
                return int(await s.scalar(select(func.count()).select_from(OutboxMessage)
                                          .where(OutboxMessage.status != "sent")) or 0)

        deadline = time.monotonic() + 60
        while await left():
            assert proc.poll() is None and time.monotonic() < deadline
            await asyncio.sleep(0.2)
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
        assert first_after(log, restored) - restored < RESUME_WITHIN
        counts = Counter(oid for oid, _ in delivered_at(log))
        assert len(counts) == 400
        assert {o for o, n in counts.items() if n > 1} <= in_flight
    finally:
        await proxy.stop()


async def test_kill_9_of_izin_serve_during_conversations(
        app: App, db_url: str, tmp_path: Path) -> None:
    """The real `izin serve` (polling the fake Bot API): 20 chats talk, the server is
    killed mid-way and started again; replies resume within seconds of the new process
    being up, and only what was in flight at the kill may reach a chat twice."""
    api = await FakeTelegram().start()
    env = {**os.environ, "IZIN_DATA_DIR": str(tmp_path / "var"), "IZIN_DATABASE_URL": db_url,
           "IZIN_TELEGRAM_TOKEN": api.token, "IZIN_TELEGRAM_API_BASE": api.base,
           "IZIN_HTTP_PORT": "0"}

    def serve() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], cwd=tmp_path,
                                env=env, stdout=subprocess.DEVNULL,
                                stderr=(tmp_path / f"serve-{time.monotonic_ns()}.err").open("w"))

    chats = list(range(7100, 7120))
    words = ["/start", "halo", "menu", "bantuan", "menu", "bantuan"]
    proc = serve()
    try:
        await until(lambda: api.calls("deleteWebhook"), 300)
        for word in words:
            for chat in chats:
                api.feed(text_update(api, chat, word))
        await until(lambda: len(api.calls("sendMessage")) >= 40, 120)
        proc.kill()
        await asyncio.to_thread(proc.wait)
        killed = time.time()
        in_flight = await outbox_ids(app, OutboxStatus.SENDING)
        before = len(api.requests)
        proc = serve()
        await until(lambda: any(r.method == "deleteWebhook" for r in api.requests[before:]),
                    300)
        up = time.time()  # the new process is started: it asked for the webhook's removal

        async def settled() -> bool:
            async with app.sessions() as s:
                handled = await s.scalar(select(func.count()).select_from(InboundMessage)
                                         .where(InboundMessage.status == "done"))
                waiting = await s.scalar(select(func.count()).select_from(OutboxMessage)
                                         .where(OutboxMessage.status != OutboxStatus.SENT))
            return handled == len(chats) * len(words) and waiting == 0

        deadline = time.monotonic() + 180
        while not await settled():
            assert proc.poll() is None and time.monotonic() < deadline
            await asyncio.sleep(0.2)
        resumed = min(r.at for r in api.requests[before:] if r.method == "sendMessage"
                      and r.status == 200)
        # Recorded.at is the fake's monotonic time; `up` is wall time: compare as offsets.
        up_mono = next(r.at for r in api.requests[before:] if r.method == "deleteWebhook")
        assert resumed - up_mono < RESUME_WITHIN, (killed, up)
        async with app.sessions() as s:
            sent = await s.scalar(select(func.count()).select_from(OutboxMessage))
        assert sent is not None
        extra = len(api.calls("sendMessage")) - sent
        assert 0 <= extra <= len(in_flight)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                proc.kill()
        await api.stop()
