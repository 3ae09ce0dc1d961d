"""Start tests/notify_worker.py as real OS processes."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def worker(db_url: str, log: Path, now: datetime, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("IZIN_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.notify_worker", db_url, str(log), "--now",
         now.isoformat(), *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def delivered(log: Path) -> list[int]:
    if not log.exists():
        return []
    return [int(line) for line in log.read_text().splitlines() if line.strip()]
