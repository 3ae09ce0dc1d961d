"""A test that runs far longer than any test should gets its stacks printed while it
still hangs: every asyncio task of the running loop (where each one awaits) and every
thread. A hang in CI then names its cause in the log instead of eating the job's time;
pytest-timeout (pyproject.toml) ends the run shortly after."""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

# Seconds; the slowest test (several real processes) takes about a minute.
REPORT_AFTER = float(os.environ.get("IZIN_TEST_WATCHDOG", "240"))


def _running_loops() -> list[asyncio.AbstractEventLoop]:
    return [o for o in gc.get_objects()
            if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]


def awaiting(task: asyncio.Task[object]) -> str:
    """The task and the chain of awaits it is suspended in, outermost first (a task's
    own stack shows its outermost coroutine only)."""
    lines = [repr(task)]
    awaited: object = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is not None:
            lines.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} "
                         f"in {frame.f_code.co_name}")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return "\n".join(lines)


def describe_tasks(exclude: asyncio.Task[object] | None = None) -> str:
    """Every task of the running loop with its chain of awaits (from inside the loop)."""
    tasks = [t for t in asyncio.all_tasks() if t is not exclude]
    return "\n".join([f"{len(tasks)} asyncio tasks:", *map(awaiting, tasks)])


def _report(item: pytest.Item) -> None:
    # Past pytest's capture: the run may end (pytest-timeout) before the test reports.
    capture = item.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n=== watchdog: {item.nodeid} still running after {REPORT_AFTER:.0f} s ===",
              file=sys.stderr)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)

    def tasks() -> None:
        with capture.global_and_fixture_disabled():
            print(f"\n=== watchdog: {describe_tasks()}", file=sys.stderr, flush=True)

    for loop in _running_loops():  # runs when the loop next turns (it does unless blocked)
        loop.call_soon_threadsafe(tasks)


@contextmanager
def watching(item: pytest.Item) -> Iterator[None]:
    timer = threading.Timer(REPORT_AFTER, _report, args=(item,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
