"""Background jobs run on their own: one that fails is logged and retried with a growing
pause while the others keep their pace."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from datetime import datetime
from pathlib import Path

import pytest

from bot import jobs
from bot.composition import App
from service import metrics


async def test_a_broken_reminders_file_stops_no_other_job(
        app: App, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "reminders.yaml"
    broken.write_text("kinds: [unclosed\n")  # reloaded every round, as in production
    app.settings.reminders_config = broken
    before = metrics.JOB_FAILURES.labels("reminders")._value.get()
    with caplog.at_level(logging.ERROR, logger="bot.jobs"):
        done = await jobs.run_once(app, now=app.runtime.clock())
    # The broken job is reported; every other job ran and reported its count.
    assert {"permits_issued", "complaints_escalated", "broadcasts_resumed",
            "payloads_purged", "temp_files_swept"} <= set(done)
    failed = {r.args[0] for r in caplog.records if r.args}  # type: ignore[index]
    assert failed == {"reminders"}
    assert metrics.JOB_FAILURES.labels("reminders")._value.get() == before + 1
    assert metrics.JOB_LAST_SUCCESS.labels("complaints")._value.get() > 0


async def test_a_failing_job_backs_off_while_the_others_keep_running(app: App) -> None:
    runs: dict[str, list[float]] = {"bad": [], "good": []}
    loop = asyncio.get_running_loop()

    async def bad(_: App, __: datetime) -> dict[str, int]:
        runs["bad"].append(loop.time())
        raise RuntimeError("broken")

    stop = asyncio.Event()
    enough = asyncio.Event()

    async def good(_: App, __: datetime) -> dict[str, int]:
        runs["good"].append(loop.time())
        if len(runs["good"]) >= 40:
            enough.set()
        return {"good": 1}

    task = asyncio.create_task(jobs.run_forever(app, stop, every=0.05,
                                                jobs={"bad": bad, "good": good}))
    await asyncio.wait_for(enough.wait(), timeout=60)
    stop.set()
    await task
    # Tries of the bad job: pauses double (0.05, 0.1, 0.2, 0.4 ...), so it ran far less
    # often than the good one, which never missed its turn.
    assert 3 <= len(runs["bad"]) <= 7, runs["bad"]
    gaps = [b - a for a, b in itertools.pairwise(runs["bad"])]
    assert gaps[-1] > 3 * gaps[0], gaps
    assert "jobs" not in metrics.heartbeat_ages()  # stopped on purpose: not expected


def test_reminders_policy_is_read_again_only_when_its_file_changes(tmp_path: Path) -> None:
    from notifications.reminders import CONFIG_FILE

    path = tmp_path / "reminders.yaml"
    path.write_text(CONFIG_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    first = jobs._reminder_config(path)
    assert jobs._reminder_config(path) is first  # not parsed again each round
    assert first.scans_missing.days == (3, 7)
    path.write_text(path.read_text(encoding="utf-8").replace(
        "scans_missing: {days: [3, 7]", "scans_missing: {days: [2, 5]"), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert jobs._reminder_config(path).scans_missing.days == (2, 5)
