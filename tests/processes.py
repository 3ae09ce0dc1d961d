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
    return [oid for oid, _ in delivered_at(log)]


def delivered_at(log: Path) -> list[tuple[int, float]]:
    """(outbox id, wall-clock time) of every delivery the workers logged, in order."""
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:  # a line being written is skipped
            out.append((int(parts[0]), float(parts[1])))
    return out
