"""Recovery of the outbox after kill -9 of the sending process, and its idle CPU.

    .venv/bin/python bench/outbox_restart.py [--db sqlite|URL] [--runs 3] [--chats 300]
        [--rate 60] [--standby] [--idle 30]

Each run: a fresh database with `--chats` applicants, 4 live replies to every tenth
of them and a broadcast to all; a sending process (`tests/notify_worker.py`: the real
`Dispatcher.run`, leases, and on PostgreSQL the sender lock) is killed with SIGKILL after
100 deliveries, then a new one is started (or, with --standby, a second process started
beforehand takes over). Prints per run: kill -> first resumed delivery, the new
process's start (ready) -> first resumed delivery, the rows in flight at the kill and the
duplicates (at most one per row in flight). `--idle N`: an idle sending process's CPU
over N seconds (ms of CPU per second, from /proc). `--db` other than sqlite is a
PostgreSQL URL whose public schema is dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # runnable as a plain script from anywhere

from sqlalchemy import select, text  # noqa: E402

from bot.composition import build  # noqa: E402
from bot.settings import Settings  # noqa: E402
from conversations.types import OutMessage  # noqa: E402
from notifications import broadcasts as bc  # noqa: E402
from service.outbox import enqueue  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from storage.models import Applicant, OutboxMessage, OutboxStatus  # noqa: E402
from tests.notify_data import add_applicants  # noqa: E402
from tests.processes import delivered_at  # noqa: E402

NOON_WIB = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # no quiet hours
EPOCH = time.time()


def spawn(url: str, log: Path, *args: str) -> tuple[subprocess.Popen[str], Path]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("IZIN_DATABASE_URL", None)
    err = log.parent / f"w{time.monotonic_ns()}.err"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.notify_worker", url, str(log), "--now",
         NOON_WIB.isoformat(), "--epoch", str(EPOCH), "--forever", *args],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err.open("w"), text=True)
    return proc, err


def ready(err: Path) -> float | None:
    for line in err.read_text().splitlines():
        if line.startswith("started "):
            return float(line.split()[1])
    return None


async def fresh(url: str, root: Path) -> str:
    if url == "sqlite":
        url = f"sqlite+aiosqlite:///{root / 'bench.db'}"
    else:
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await upgrade_async(url)
    return url


async def wait_for(check: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.02)


async def one_run(db: str, chats: int, rate: float, standby: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = await fresh(db, root)
        app = await build(Settings(data_dir=root / "data", database_url=url,  # type: ignore[call-arg]
                                   _env_file=None), migrate=False)
        try:
            await add_applicants(app.sessions, chats, now=NOON_WIB)
            async with app.sessions() as s, s.begin():
                live = (await s.scalars(select(Applicant).where(Applicant.id % 10 == 0))).all()
                for i in range(4):
                    for a in live:
                        enqueue(s, a, OutMessage(kind="text", text=f"reply {i}"), now=NOON_WIB)
            await bc.create_broadcast(app.sessions, app.catalog, selection=bc.Selection(
                open_only=True), template="Halo {{ name }}", sender_username="admin",
                sender_role="admin", now=NOON_WIB)
            log = root / "delivered.log"
            args = ("--rate", str(rate))
            procs = [spawn(url, log, *args) for _ in range(2 if standby else 1)]
            if standby:
                await wait_for(lambda: all(ready(e) for _, e in procs), 300)
            await wait_for(lambda: len(delivered_at(log)) >= 100, 300)
            async with app.sessions() as s:
                owner = await s.scalar(select(OutboxMessage.claimed_by).where(
                    OutboxMessage.status == OutboxStatus.SENDING).limit(1)) or ""
            victim = next((p for p in procs if f":{p[0].pid}:" in owner), procs[0])
            os.kill(victim[0].pid, signal.SIGKILL)
            killed = time.time()
            victim[0].wait()
            async with app.sessions() as s:
                in_flight = len((await s.scalars(select(OutboxMessage.id).where(
                    OutboxMessage.status == OutboxStatus.SENDING))).all())
            if not standby:
                procs.append(spawn(url, log, *args))
            await wait_for(lambda: any(at > killed for _, at in delivered_at(log)), 300)
            first = min(at for _, at in delivered_at(log) if at > killed)
            up = ready(procs[-1][1]) if not standby else killed
            total = chats + 4 * len(live)
            await wait_for(lambda: len({o for o, _ in delivered_at(log)}) >= total, 600)
            for p, _ in procs:
                if p.poll() is None:
                    p.terminate()
                    p.wait(30)
            counts = Counter(o for o, _ in delivered_at(log))
            return {"kill_to_resumed": first - killed,
                    "ready_to_resumed": first - max(up or killed, killed),
                    "in_flight": in_flight,
                    "duplicates": sum(n - 1 for n in counts.values()),
                    "max_per_row": max(counts.values())}
        finally:
            await app.close()


async def idle_cpu(db: str, seconds: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = await fresh(db, root)
        proc, err = spawn(url, root / "delivered.log")
        try:
            await wait_for(lambda: ready(err), 300)
            await asyncio.sleep(3)
            before = _cpu(proc.pid)
            await asyncio.sleep(seconds)
            return (_cpu(proc.pid) - before) / seconds * 1000
        finally:
            proc.terminate()
            proc.wait(30)


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--db", default="sqlite")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--chats", type=int, default=300)
    p.add_argument("--rate", type=float, default=60)
    p.add_argument("--standby", action="store_true")
    p.add_argument("--idle", type=float, default=0)
    args = p.parse_args()
    db = "sqlite" if args.db == "sqlite" else "postgresql"
    print(f"{platform.python_version()} {db} load={os.getloadavg()[0]:.1f}")
    if args.idle:
        print(f"idle sending process: {await idle_cpu(args.db, args.idle):.2f} ms CPU/s")
        return
    for run in range(args.runs):
        r = await one_run(args.db, args.chats, args.rate, args.standby)
        print(f"run {run + 1}: kill->resumed {r['kill_to_resumed']:.2f} s, "
              f"ready->resumed {r['ready_to_resumed']:.2f} s, in flight {r['in_flight']:.0f}, "
              f"duplicates {r['duplicates']:.0f} (max {r['max_per_row']:.0f} per row)")
    print(f"load={os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
