"""Work `izin serve` does on a timer: produce approved permits, escalate overdue
complaints, send due reminders, finish queuing broadcasts a stopped process left
half-queued, purge old raw payloads, sweep abandoned upload temp files.

Each job runs on its own: one that raises (a bad certificate password, a broken
reminders file) is logged and tried again after a growing pause (15 s, 30 s, ... up to
10 minutes) while the others keep their pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.composition import App
from bot.signing import signer_from
from notifications import broadcasts, reminders
from service import complaint_desk, metrics, permits, retention

log = logging.getLogger(__name__)

MAX_BACKOFF = 600.0

JobFn = Callable[[App, datetime], Awaitable[dict[str, int]]]


async def _permits(app: App, now: datetime) -> dict[str, int]:
    if not await permits.any_to_produce(app.sessions):
        return {"permits_issued": 0}  # no certificate to load while nothing waits
    signer = await asyncio.to_thread(signer_from, app.settings)
    issued = await permits.produce_pending(app.sessions, catalog=app.catalog, files=app.files,
                                           signer=signer, now=now)
    return {"permits_issued": issued}


async def _complaints(app: App, now: datetime) -> dict[str, int]:
    escalated = await complaint_desk.escalate_overdue(app.sessions, catalog=app.catalog,
                                                      calendar=app.calendar, now=now)
    return {"complaints_escalated": escalated}


async def _reminders(app: App, now: datetime) -> dict[str, int]:
    # Every reminder kind (the permit's 30-day one included), once per occasion.
    return await reminders.run(
        app.sessions, app.catalog, now=now,
        config=_reminder_config(app.settings.reminders_config))


@functools.lru_cache(maxsize=4)
def _reminder_config_at(path: Path | None, mtime_ns: int) -> reminders.ReminderConfig:
    return reminders.ReminderConfig.load(path)


def _reminder_config(path: Path | None) -> reminders.ReminderConfig:
    """The reminders policy, read again only when its file changed (the job runs every
    minute; parsing the YAML each time was a share of an idle server's CPU)."""
    source = path or reminders.CONFIG_FILE
    return _reminder_config_at(path, source.stat().st_mtime_ns)


async def _broadcasts(app: App, now: datetime) -> dict[str, int]:
    return {"broadcasts_resumed": await broadcasts.resume_enqueues(app.sessions, app.catalog,
                                                                   now=now)}


async def _retention(app: App, now: datetime) -> dict[str, int]:
    keep = timedelta(days=app.settings.inbound_payload_retention_days)
    return {"payloads_purged": await retention.purge_payloads(app.sessions, before=now - keep)}


async def _temp_files(app: App, now: datetime) -> dict[str, int]:
    return {"temp_files_swept": await asyncio.to_thread(app.files.sweep_temp)}


JOBS: dict[str, JobFn] = {
    "permits": _permits,
    "complaints": _complaints,
    "reminders": _reminders,
    "broadcasts": _broadcasts,
    "retention": _retention,
    "temp_files": _temp_files,
}


# How often each job runs, in rounds of `every` (15 s under `izin serve`): an approved
# permit goes out within a round; reminders, escalations and resumed broadcasts within a
# minute; the housekeeping hourly. Idle rounds cost CPU (an idle server's budget is
# 5 ms/s, bench/idle_cpu.py).
ROUNDS: dict[str, int] = {"permits": 1, "complaints": 4, "reminders": 4, "broadcasts": 4,
                          "retention": 240, "temp_files": 240}


@dataclass
class _Schedule:
    failures: int = 0
    next_at: float = 0.0  # loop time


async def _run_job(name: str, fn: JobFn, app: App, now: datetime) -> dict[str, int] | None:
    try:
        done = await fn(app, now)
    except Exception:
        metrics.JOB_FAILURES.labels(name).inc()
        log.exception("background job %s failed", name)
        return None
    metrics.JOB_LAST_SUCCESS.labels(name).set_to_current_time()
    return done


async def run_once(app: App, *, now: datetime | None = None,
                   jobs: dict[str, JobFn] | None = None) -> dict[str, int]:
    """Run every job once; a failing one is logged and left out of the counts."""
    now = now or datetime.now(UTC)
    counts: dict[str, int] = {}
    for name, fn in (jobs or JOBS).items():
        done = await _run_job(name, fn, app, now)
        if done is not None:
            counts.update(done)
    return counts


async def run_forever(app: App, stop: asyncio.Event, *, every: float = 15.0,
                      clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                      jobs: dict[str, JobFn] | None = None) -> None:
    jobs = jobs or JOBS
    loop = asyncio.get_running_loop()
    schedules = {name: _Schedule() for name in jobs}
    try:
        while not stop.is_set():
            metrics.heartbeat("jobs")
            for name, fn in jobs.items():
                schedule = schedules[name]
                if loop.time() < schedule.next_at or stop.is_set():
                    continue
                metrics.heartbeat("jobs")  # a long round is not a dead loop
                done = await _run_job(name, fn, app, clock())
                if done is None:
                    schedule.failures += 1
                    pause = min(every * 2 ** (schedule.failures - 1), MAX_BACKOFF)
                    log.warning("job %s: try %d failed, next in %.0f s", name,
                                schedule.failures, pause)
                else:
                    schedule.failures = 0
                    pause = every * ROUNDS.get(name, 1)
                    if any(done.values()):
                        log.info("job %s: %s", name, done)
                schedule.next_at = loop.time() + pause
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
    finally:
        metrics.forget("jobs")
