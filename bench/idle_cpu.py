"""CPU an idle `izin serve` burns per second (user + system time from /proc).

Starts `izin serve` with Telegram (webhook mode) and WhatsApp configured against the
tests' fake servers, lets it settle, then reads the process's CPU time over a window.

    .venv/bin/python bench/idle_cpu.py                       # SQLite
    .venv/bin/python bench/idle_cpu.py --db postgresql+asyncpg://postgres@127.0.0.1:5432/DB
    .venv/bin/python bench/idle_cpu.py --repo /path/to/other/checkout   # compare a branch
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from tests.fakes.graph_api import FakeGraphAPI  # noqa: E402
from tests.fakes.telegram_api import FakeTelegram  # noqa: E402
from tests.serve_procs import free_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


# --inbound-only: the outbox dispatchers' idle poll (notifications/runner.py, not the
# inbound side's) switched off, to see what the rest of the server costs.
QUIET_OUTBOX = """
import sys
from notifications import runner
_init = runner.Dispatcher.__init__
def _quiet(self, *a, **k):
    _init(self, *a, **k)
    self.idle_poll = 3600.0
runner.Dispatcher.__init__ = _quiet
from bot.cli import main
sys.exit(main(["serve"]))
"""


async def measure(db: str | None, repo: Path, settle: float, window: float,
                  channels: bool, inbound_only: bool = False) -> float:
    tg = await FakeTelegram().start()
    graph = FakeGraphAPI()
    graph_base = await graph.start()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {**os.environ, "IZIN_DATA_DIR": f"{tmp}/var", "IZIN_HTTP_PORT": str(port),
               "IZIN_LOG_LEVEL": "WARNING", "PYTHONPATH": str(repo)}
        env.pop("IZIN_DATABASE_URL", None)
        if db:
            env["IZIN_DATABASE_URL"] = db
        if channels:
            env.update({
                "IZIN_TELEGRAM_TOKEN": tg.token, "IZIN_TELEGRAM_API_BASE": tg.base,
                "IZIN_TELEGRAM_WEBHOOK_URL": "https://izin.example/webhooks/telegram",
                "IZIN_WHATSAPP_TOKEN": graph.token,
                "IZIN_WHATSAPP_PHONE_NUMBER_ID": graph.phone_id,
                "IZIN_WHATSAPP_APP_SECRET": "s", "IZIN_WHATSAPP_API_BASE": graph_base})
        if db:  # `izin serve` upgrades only SQLite on start; an operator runs this
            upgrade = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "db", "upgrade", cwd=repo, env=env)
            if await upgrade.wait():
                raise SystemExit("izin db upgrade failed")
        command = ["-c", QUIET_OUTBOX] if inbound_only else ["-m", "bot.cli", "serve"]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *command, cwd=repo, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            async with httpx.AsyncClient() as client:
                for _ in range(600):
                    try:
                        await client.get(f"http://127.0.0.1:{port}/healthz")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
            await asyncio.sleep(settle)  # startup work (migrations, first sweeps, jobs)
            start_cpu, start = cpu_seconds(proc.pid), time.monotonic()
            await asyncio.sleep(window)
            used = cpu_seconds(proc.pid) - start_cpu
            return used / (time.monotonic() - start)
        finally:
            proc.terminate()
            await proc.wait()
            await tg.stop()
            await graph.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout to run")
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--no-channels", action="store_true")
    parser.add_argument("--inbound-only", action="store_true",
                        help="switch the outbox dispatchers' idle poll off")
    args = parser.parse_args()
    per_second = asyncio.run(measure(args.db, args.repo.resolve(), args.settle, args.window,
                                     not args.no_channels, args.inbound_only))
    print(f"db={'postgresql' if args.db else 'sqlite'} repo={args.repo} "
          f"channels={not args.no_channels} inbound_only={args.inbound_only} "
          f"window={args.window:.0f}s "
          f"idle CPU {per_second * 1000:.1f} ms/s  (load {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
