"""Work `izin serve` does on a timer: produce approved permits, send due reminders,
finish queuing broadcasts a stopped process left half-queued."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from bot.composition import App
from bot.signing import signer_from
from notifications import broadcasts, reminders
from service import complaint_desk, permits

log = logging.getLogger(__name__)


async def run_once(app: App, *, now: datetime | None = None) -> dict[str, int]:
    now = now or datetime.now(UTC)
    signer = await asyncio.to_thread(signer_from, app.settings)
    issued = await permits.produce_pending(app.sessions, catalog=app.catalog, files=app.files,
                                           signer=signer, now=now)
    escalated = await complaint_desk.escalate_overdue(app.sessions, catalog=app.catalog,
                                                      calendar=app.calendar, now=now)
    # Every reminder kind (the permit's 30-day one included), once per occasion.
    reminded = await reminders.run(
        app.sessions, app.catalog, now=now,
        config=reminders.ReminderConfig.load(app.settings.reminders_config))
    resumed = await broadcasts.resume_enqueues(app.sessions, app.catalog, now=now)
    return {"permits_issued": issued, **reminded, "complaints_escalated": escalated,
            "broadcasts_resumed": resumed}


async def run_forever(app: App, stop: asyncio.Event, *, every: float = 15.0,
                      clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
    while not stop.is_set():
        try:
            done = await run_once(app, now=clock())
            if any(done.values()):
                log.info("jobs: %s", done)
        except Exception:  # keep serving; the next round tries again
            log.exception("background jobs failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
