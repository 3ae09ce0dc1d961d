"""/healthz (the process answers), /readyz (it can do its work) and /metrics.

Ready means: the database answers within a few seconds, every background loop of this
process beat recently (service/metrics.py heartbeats), and the oldest due outbox row
waits less than IZIN_READY_OUTBOX_LAG_SECONDS. A load balancer sends nothing to a
process that is not ready; an orchestrator restarts one whose /healthz fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from bot.composition import App
from service import metrics
from storage.models import InboundMessage, OutboxMessage, Permit

DB_TIMEOUT = 3.0
WAITING = ("pending", "sending")


async def _database(app: App) -> None:
    async def ping() -> None:
        async with app.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    await asyncio.wait_for(ping(), timeout=DB_TIMEOUT)


async def _oldest_due(app: App, now: datetime) -> dict[str, float]:
    """Per channel, how long the oldest due unsent row has waited (seconds)."""
    async with app.sessions() as session:
        rows = (await session.execute(
            select(OutboxMessage.channel, func.min(OutboxMessage.next_attempt_at))
            .where(OutboxMessage.status.in_(WAITING), OutboxMessage.next_attempt_at <= now)
            .group_by(OutboxMessage.channel))).all()
    return {channel: max(0.0, (now - at).total_seconds()) for channel, at in rows if at}


async def readiness(app: App, now: datetime | None = None) -> tuple[bool, dict[str, Any]]:
    now = now or app.runtime.clock()
    settings = app.settings
    checks: dict[str, Any] = {}
    try:
        await _database(app)
        checks["database"] = {"ok": True}
    except Exception as exc:  # unreachable, refused, timed out: all mean "not ready"
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    ages = metrics.heartbeat_ages()
    checks["loops"] = {
        loop: {"ok": age <= settings.ready_heartbeat_seconds, "seconds_since_beat": round(age, 1)}
        for loop, age in sorted(ages.items())}
    if checks["database"]["ok"]:
        try:
            lag = await asyncio.wait_for(_oldest_due(app, now), timeout=DB_TIMEOUT)
            worst = max(lag.values(), default=0.0)
            checks["outbox"] = {"ok": worst <= settings.ready_outbox_lag_seconds,
                                "oldest_due_seconds": round(worst, 1)}
        except Exception as exc:
            checks["outbox"] = {"ok": False, "error": type(exc).__name__}
    else:
        checks["outbox"] = {"ok": False, "error": "database unreachable"}
    ready = (checks["database"]["ok"] and checks["outbox"]["ok"]
             and all(c["ok"] for c in checks["loops"].values()))
    return ready, checks


async def refresh_gauges(app: App, now: datetime) -> None:
    """The queue gauges, read from the database (the same for every replica)."""
    async with app.sessions() as session:
        depth: dict[str, int] = {channel: n for channel, n in (await session.execute(
            select(OutboxMessage.channel, func.count())
            .where(OutboxMessage.status.in_(WAITING))
            .group_by(OutboxMessage.channel))).all()}
        inbound_failed = await session.scalar(
            select(func.count()).where(InboundMessage.status == "failed"))
        outbox_failed = await session.scalar(
            select(func.count()).where(OutboxMessage.status == "failed"))
        permit_failed = await session.scalar(
            select(func.count()).where(Permit.status == "pending",
                                       Permit.last_error.is_not(None)))
        progress = (await session.execute(
            select(OutboxMessage.broadcast_id, OutboxMessage.status, func.count())
            .where(OutboxMessage.broadcast_id.is_not(None),
                   OutboxMessage.broadcast_id.in_(
                       select(OutboxMessage.broadcast_id)
                       .where(OutboxMessage.status.in_(("pending", "sending", "held")))))
            .group_by(OutboxMessage.broadcast_id, OutboxMessage.status))).all()
    lag = await _oldest_due(app, now)
    for channel in set(depth) | set(lag) | {"telegram", "whatsapp"}:
        metrics.OUTBOX_DEPTH.labels(channel).set(depth.get(channel, 0))
        metrics.OUTBOX_OLDEST_AGE.labels(channel).set(lag.get(channel, 0.0))
    metrics.DEAD_LETTERS.labels("inbound").set(inbound_failed or 0)
    metrics.DEAD_LETTERS.labels("outbox").set(outbox_failed or 0)
    metrics.DEAD_LETTERS.labels("permit").set(permit_failed or 0)
    metrics.BROADCAST_PROGRESS.clear()  # finished broadcasts drop out
    for broadcast_id, status, count in progress:
        metrics.BROADCAST_PROGRESS.labels(str(broadcast_id), status).set(count)


def health_routes(get_app: Callable[[], App]) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz")
    async def healthz() -> dict[str, object]:
        return {"ok": True, "standards": len(get_app().catalog)}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        ready, checks = await readiness(get_app())
        return JSONResponse({"ready": ready, "checks": checks},
                            status_code=200 if ready else 503)

    @router.get("/metrics")
    async def prometheus() -> Response:
        app = get_app()
        # Counters are still worth a scrape when the database is away.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(refresh_gauges(app, app.runtime.clock()), timeout=DB_TIMEOUT)
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router
