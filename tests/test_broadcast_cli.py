"""`izin broadcast` as a real process: count, preview, role check, send, progress bar
that follows a dispatcher running alongside, pause/resume/cancel, the log."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from bot.composition import App
from notifications.runner import Dispatcher
from storage.models import Broadcast, OutboxMessage
from tests.conftest import Clock
from tests.notify_data import add_applicants
from tests.rate_fake import RateLimitedFake

IZIN = [sys.executable, "-m", "bot.cli", "broadcast"]


def _env(tmp_path: Path, db_url: str) -> dict[str, str]:
    return {**os.environ, "IZIN_DATA_DIR": str(tmp_path / "var"), "IZIN_DATABASE_URL": db_url}


def izin(tmp_path: Path, db_url: str, *args: str,
         stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IZIN, *args], cwd=tmp_path, input=stdin, capture_output=True,
                          text=True, timeout=120, env=_env(tmp_path, db_url), check=False)


async def _outbox_count(app: App) -> int:
    async with app.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_count_preview_and_role_check(app: App, clock: Clock, db_url: str,
                                            tmp_path: Path) -> None:
    await add_applicants(app.sessions, 3, now=clock.now)
    out = izin(tmp_path, db_url, "--open", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "3 recipient(s): 3 reachable, 0 unreachable" in out.stdout
    out = izin(tmp_path, db_url, "--open", "--text", "Halo {{ name }} ({{ reg_no }})",
               "--preview")
    assert out.returncode == 0, out.stderr
    assert "Halo Nama 0 (PWK-c0)" in out.stdout
    out = izin(tmp_path, db_url, "--open", "--text", "x", "--as", "fo", "--role",
               "front_office", "--yes")
    assert out.returncode == 2 and "only admin and head_of_office" in out.stderr
    out = izin(tmp_path, db_url, "--open", "--text", "{{ nama }}", "--as", "a", "--role",
               "admin", "--yes")
    assert out.returncode == 1 and "template error" in out.stderr
    # No --yes and no "y" on stdin: nothing is sent.
    out = izin(tmp_path, db_url, "--open", "--text", "x", "--as", "a", "--role", "admin")
    assert out.returncode == 1 and "not sent" in out.stdout
    assert await _outbox_count(app) == 0
    # One person: any staff role may.
    out = izin(tmp_path, db_url, "--reg-no", "PWK-c1", "--text", "x", "--as", "fo",
               "--role", "front_office", "--yes", "--no-wait")
    assert out.returncode == 0, out.stderr
    assert await _outbox_count(app) == 1


async def test_send_follows_delivery_with_a_progress_bar(app: App, clock: Clock,
                                                         db_url: str, tmp_path: Path) -> None:
    await add_applicants(app.sessions, 40, now=clock.now, channel="fake")
    sender = RateLimitedFake(per_second=20, per_chat_interval=0)
    # The CLI queues at the real time: the dispatcher runs on it too, and the message is
    # urgent so the time of day (quiet hours) cannot hold it.
    dispatcher = Dispatcher(app.sessions, sender, rate_per_second=20, per_chat_interval=0)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    proc = await asyncio.create_subprocess_exec(
        *IZIN, "--open", "--text", "Halo {{ name }}", "--as", "kadis", "--role",
        "head_of_office", "--urgent", "--yes", "--timeout", "60", cwd=tmp_path,
        env=_env(tmp_path, db_url), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    stop.set()
    await task
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    assert "broadcast 1 queued" in text
    frames = text.split("\r")
    assert len(frames) > 2  # redrawn while it ran
    assert f"[{'#' * 30}] 40/40  sent 40  pending 0  failed 0  unreachable 0  (done)" in frames[-1]
    assert len(sender.delivered) == 40


async def test_pause_resume_cancel_and_the_log(app: App, clock: Clock, db_url: str,
                                               tmp_path: Path) -> None:
    await add_applicants(app.sessions, 5, now=clock.now)
    out = izin(tmp_path, db_url, "--open", "--text", "x", "--as", "admin", "--role", "admin",
               "--yes", "--no-wait")
    assert out.returncode == 0, out.stderr
    async with app.sessions() as s:
        bid = await s.scalar(select(Broadcast.id))
    assert "5 message(s) held" in izin(tmp_path, db_url, "--pause", str(bid)).stdout
    assert "(paused)" in izin(tmp_path, db_url, "--progress", str(bid), "--no-wait").stdout
    assert "5 message(s) released" in izin(tmp_path, db_url, "--resume", str(bid)).stdout
    assert "5 message(s) cancelled" in izin(tmp_path, db_url, "--cancel", str(bid)).stdout
    listing = izin(tmp_path, db_url, "--list").stdout
    assert "cancelled" in listing and "admin (admin)" in listing
