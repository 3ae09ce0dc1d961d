"""Personal data at rest: modes of the data dir, database and files; raw payloads
purged after the retention period; abandoned upload temp files swept."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select

from bot import jobs
from bot.composition import App, build
from bot.settings import Settings
from storage.models import InboundMessage
from tests.conftest import Clock

IZIN = [sys.executable, "-m", "bot.cli"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_cli_makes_the_data_dir_private(tmp_path: Path) -> None:
    data = tmp_path / "var"
    env = {**os.environ, "IZIN_DATA_DIR": str(data)}
    env.pop("IZIN_DATABASE_URL", None)
    subprocess.run([*IZIN, "db", "upgrade"], env=env, check=True, capture_output=True,
                   timeout=120)
    assert mode(data) == 0o700
    assert mode(data / "izin.db") == 0o600


async def test_an_old_install_is_fixed_on_start_and_stored_files_are_private(
        tmp_path: Path, samples: dict[str, Path]) -> None:
    data = tmp_path / "old"
    data.mkdir(mode=0o755)  # as made before; this test process's umask is 022, so the
    # database is created 0644 too: the start must fix both
    app = await build(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
    try:
        assert mode(data) == 0o700 and mode(data / "izin.db") == 0o600
        # An upload as a channel stores it (the dialogue would drop one nobody asked for).
        await app.files.ingest_path(samples["pdf"])
        stored = [p for p in app.files.root.rglob("*") if p.is_file()]
        assert stored and all(mode(p) == 0o600 for p in stored)
    finally:
        await app.close()


async def test_payloads_are_purged_after_the_retention_period(app: App, clock: Clock) -> None:
    days = app.settings.inbound_payload_retention_days
    assert days == 30
    async with app.sessions() as s, s.begin():
        for pid, status, age in (("old-done", "done", days + 1), ("old-failed", "failed", days + 1),
                                 ("old-pending", "pending", days + 1),
                                 ("new-done", "done", days - 1)):
            await s.execute(insert(InboundMessage).values(
                channel="telegram", platform_id=pid, chat_key="telegram:1", status=status,
                payload={"text": "3201015701900001"},
                received_at=clock.now - timedelta(days=age)))
    done = await jobs.run_once(app, now=clock.now)
    assert done["payloads_purged"] == 2
    async with app.sessions() as s:
        rows = dict((await s.execute(select(InboundMessage.platform_id,
                                            InboundMessage.payload))).all())
    assert rows == {"old-done": None, "old-failed": None,
                    "old-pending": {"text": "3201015701900001"},  # not handled yet: kept
                    "new-done": {"text": "3201015701900001"}}


async def test_temp_files_are_swept_by_the_job(app: App, clock: Clock) -> None:
    tmp = app.files.tmp_dir
    tmp.mkdir(parents=True, exist_ok=True)
    old, fresh = tmp / "upload-old", tmp / "upload-fresh"
    old.touch()
    fresh.touch()
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert (await jobs.run_once(app, now=clock.now))["temp_files_swept"] == 1
    assert not old.exists() and fresh.exists()  # an upload in progress is left alone
