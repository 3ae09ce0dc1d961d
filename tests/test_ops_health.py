"""/healthz, /readyz and /metrics over the real HTTP app."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import insert

from bot.composition import App, build
from bot.settings import Settings
from notifications.dispatcher import SendResult
from service import metrics
from storage.models import Applicant, OutboxMessage
from tests.conftest import PG_URL, Clock
from tests.fakes.tcp_proxy import TcpProxy
from tests.journeys import run_script
from tests.office_client import client
from tests.test_dispatcher import ScriptedSender, _dispatcher, _queue


@pytest.fixture(autouse=True)
def no_beats_of_earlier_tests() -> None:
    """Loops of tests run before (in this process) left beats that are stale by now."""
    metrics._beats.clear()


def sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from the Prometheus text (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}\{{{re.escape(want)}\}} (\S+)$" if labels else \
        rf"^{re.escape(name)} (\S+)$"
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else 0.0


async def test_health_ready_and_metrics_move_with_a_journey(app: App, clock: Clock) -> None:
    async with client(app) as http:
        assert (await http.get("/healthz")).json()["ok"] is True
        before = (await http.get("/metrics")).text
        await run_script(app, "metrics-user", ["halo", "1", "menu"])
        ready = await http.get("/readyz")
        after = (await http.get("/metrics")).text
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["database"] == {"ok": True}
    assert ready.headers["x-request-id"]
    for name in ("izin_updates_received_total", "izin_updates_handled_total",
                 "izin_update_handle_seconds_count"):
        assert sample(after, name, channel="console") == sample(
            before, name, channel="console") + 3, name
    assert sample(after, "izin_dead_letters", kind="inbound") == 0


async def test_ready_turns_red_on_a_stale_loop_and_a_late_outbox(app: App, clock: Clock) -> None:
    async with client(app) as http:
        metrics.heartbeat("dispatcher:test")
        assert (await http.get("/readyz")).status_code == 200
        metrics._beats["dispatcher:test"] -= app.settings.ready_heartbeat_seconds + 1
        stale = await http.get("/readyz")
        assert stale.status_code == 503
        assert stale.json()["checks"]["loops"]["dispatcher:test"]["ok"] is False
        metrics.forget("dispatcher:test")
        async with app.sessions() as s, s.begin():
            applicant = (await s.execute(insert(Applicant).values(
                channel="telegram", external_id="1", created_at=clock.now, lang="id")
                .returning(Applicant.id))).scalar_one()
            await s.execute(insert(OutboxMessage).values(
                applicant_id=applicant, channel="telegram", chat_id="1", payload={},
                status="pending", next_attempt_at=clock.now, created_at=clock.now))
        assert (await http.get("/readyz")).status_code == 200
        clock.advance(seconds=app.settings.ready_outbox_lag_seconds + 1)
        late = await http.get("/readyz")
        assert late.status_code == 503
        assert late.json()["checks"]["outbox"]["ok"] is False
        assert sample((await http.get("/metrics")).text, "izin_outbox_oldest_age_seconds",
                      channel="telegram") > app.settings.ready_outbox_lag_seconds


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (IZIN_TEST_DATABASE_URL)")
async def test_ready_turns_red_when_the_database_proxy_dies_and_green_when_it_returns(
        db_url: str, settings: Settings) -> None:
    proxy = await TcpProxy.for_url(db_url).start()
    through = proxy.url(db_url)
    app = await build(settings.model_copy(update={"database_url": through}), migrate=False)
    try:
        async with client(app) as http:
            assert (await http.get("/readyz")).status_code == 200
            await proxy.cut()
            down = await http.get("/readyz")
            assert down.status_code == 503
            assert down.json()["checks"]["database"]["ok"] is False
            assert (await http.get("/healthz")).status_code == 200  # alive, not ready
            await proxy.restore()
            for _ in range(50):  # the pool's pre-ping replaces the cut connections
                if (await http.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("not ready again after the database came back")
    finally:
        await app.close()
        await proxy.stop()



async def test_sends_are_counted_by_the_platforms_answer(app: App, clock: Clock) -> None:
    sender = ScriptedSender()
    sender.script["a"] = [SendResult(ok=False, retry_after=1.0)]
    sender.script["b"] = [SendResult(ok=False, unreachable=True, error="403: blocked")]
    sender.script["c"] = [SendResult(ok=False, permanent=True, error="400: bad")]
    sender.script["d"] = [SendResult(ok=False, error="502")]
    for chat in "abcde":
        await _queue(app, clock, chat, [f"hi {chat}"])
    async with client(app) as http:
        before = (await http.get("/metrics")).text
        await _dispatcher(app, sender, clock).run_once()
        after = (await http.get("/metrics")).text
    moved = {result: sample(after, "izin_sends_total", channel="fake", result=result)
             - sample(before, "izin_sends_total", channel="fake", result=result)
             for result in ("ok", "429", "403", "400", "5xx")}
    assert moved == {"ok": 1, "429": 1, "403": 1, "400": 1, "5xx": 1}
