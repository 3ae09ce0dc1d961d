"""Every Prometheus metric of the process, defined here once (README "Running in
production" says what each means), plus the background loops' heartbeats.

Counters count in the process that did the work (each replica is scraped on its own
and Prometheus sums them); the gauges about queues are read from the database at
scrape time (`bot/health.py`), so every replica reports the same, whole picture.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

UPDATES_RECEIVED = Counter(
    "izin_updates_received", "Inbound platform updates recorded (webhook, poll or terminal)",
    ["channel"], registry=REGISTRY)
UPDATES_HANDLED = Counter(
    "izin_updates_handled", "Inbound updates run through the dialogue and committed",
    ["channel"], registry=REGISTRY)
UPDATES_DEAD_LETTERED = Counter(
    "izin_updates_dead_lettered", "Inbound updates given up on (status failed, kept for a "
    "person: `izin ops dead-letters`)", ["channel"], registry=REGISTRY)
HANDLE_SECONDS = Histogram(
    "izin_update_handle_seconds", "Time to handle one inbound update (one transaction)",
    ["channel"], registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
SENDS = Counter(
    "izin_sends", "Outbox sends by the platform's answer: ok, 429 (rate limited), 403 "
    "(unreachable), 400 (refused for good), 5xx (server or network error, retried)",
    ["channel", "result"], registry=REGISTRY)
OUTBOX_DEPTH = Gauge(
    "izin_outbox_depth", "Outbox rows waiting (pending or sending), by channel",
    ["channel"], registry=REGISTRY)
OUTBOX_OLDEST_AGE = Gauge(
    "izin_outbox_oldest_age_seconds", "Age of the oldest due outbox row not sent yet",
    ["channel"], registry=REGISTRY)
DEAD_LETTERS = Gauge(
    "izin_dead_letters", "Rows kept for a person: kind inbound (failed updates), outbox "
    "(failed sends), permit (signing failed)", ["kind"], registry=REGISTRY)
BROADCAST_PROGRESS = Gauge(
    "izin_broadcast_messages", "Messages of unfinished broadcasts by status",
    ["broadcast", "status"], registry=REGISTRY)
JOB_LAST_SUCCESS = Gauge(
    "izin_job_last_success_timestamp_seconds", "When each background job last succeeded "
    "(Unix time)", ["job"], registry=REGISTRY)
JOB_FAILURES = Counter(
    "izin_job_failures", "Background job runs that raised", ["job"], registry=REGISTRY)


class _Handled(Protocol):
    @property
    def duplicate(self) -> bool: ...


H = TypeVar("H", bound=_Handled)


@contextlib.contextmanager
def timed_handle(channel: str, *, received: bool) -> Iterator[Callable[[H], H]]:
    """Around one handling: `done(outcome)` counts it (and, for an update that was not
    recorded by a webhook or poll first, its receipt) unless it was a repeat."""
    start = time.perf_counter()

    def done(outcome: H) -> H:
        if not outcome.duplicate:
            if received:
                UPDATES_RECEIVED.labels(channel).inc()
            UPDATES_HANDLED.labels(channel).inc()
            HANDLE_SECONDS.labels(channel).observe(time.perf_counter() - start)
        return outcome

    yield done


class _SendOutcome(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def retry_after(self) -> float | None: ...
    @property
    def unreachable(self) -> bool: ...
    @property
    def permanent(self) -> bool: ...


def send_result(result: _SendOutcome) -> str:
    if result.ok:
        return "ok"
    if result.retry_after is not None:
        return "429"
    if result.unreachable:
        return "403"
    if result.permanent:
        return "400"
    return "5xx"


def count_send(channel: str, result: _SendOutcome) -> None:
    SENDS.labels(channel, send_result(result)).inc()


# Heartbeats: each background loop beats once per turn; /readyz wants each fresh.
_beats: dict[str, float] = {}


def heartbeat(loop: str) -> None:
    _beats[loop] = time.monotonic()


def forget(loop: str) -> None:
    """A loop that stopped on purpose (shutdown) is no longer expected to beat."""
    _beats.pop(loop, None)


def heartbeat_ages() -> dict[str, float]:
    now = time.monotonic()
    return {loop: now - at for loop, at in _beats.items()}
