"""Shared fixtures: a database (SQLite per test, or PostgreSQL when
IZIN_TEST_DATABASE_URL is set), the composed app, a controllable clock, sample scans."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.composition import App, build
from bot.settings import Settings
from storage.db import create_engine
from storage.migrate import upgrade, upgrade_async
from storage.models import Base
from tests.samples import make_jpeg, make_pdf, make_png
from tests.watchdog import watching

PG_URL = os.environ.get("IZIN_TEST_DATABASE_URL")
# A connection an earlier test left in a transaction would block the reset for ever:
# it fails after this long instead, naming the session that holds the lock.
_RESET_LOCK_WAIT = text("SET LOCAL lock_timeout = '20s'")
_pg_ready = False


class Clock:
    """A clock tests move by hand; starts on a Monday morning in Jakarta."""

    def __init__(self, start: datetime = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _pg_table_order() -> list[str]:
    """Every model table, children before parents, so plain DELETEs satisfy the keys."""
    return [t.name for t in reversed(Base.metadata.sorted_tables)]


async def _reset_postgres(url: str) -> None:
    """Migrate once per session, then empty every table with DELETE and rewind sequences.

    TRUNCATE of all tables took 0.2-0.5 s per test on a loaded machine (it replaces every
    table's files); DELETE on a test's handful of rows takes a few milliseconds. Tables
    only a migration knows of (none today) are still truncated.
    """
    global _pg_ready
    engine = create_engine(url)
    try:
        if not _pg_ready:
            async with engine.begin() as conn:
                await conn.execute(_RESET_LOCK_WAIT)
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            await engine.dispose()
            await upgrade_async(url)
            _pg_ready = True
            return
        order = _pg_table_order()
        async with engine.begin() as conn:
            await conn.execute(_RESET_LOCK_WAIT)
            present = set((await conn.execute(text(
                "SELECT relname FROM pg_class WHERE relkind = 'r'"
                " AND relnamespace = 'public'::regnamespace"))).scalars())
            other = sorted(present - set(order) - {"alembic_version"})
            if other:
                names = ", ".join(f'"{n}"' for n in other)
                await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            for name in order:
                if name in present:
                    await conn.execute(text(f'DELETE FROM "{name}"'))
            await conn.execute(text(
                "SELECT setval(c.oid::regclass, s.seqstart, false) FROM pg_class c"
                " JOIN pg_sequence s ON s.seqrelid = c.oid"
                " WHERE c.relnamespace = 'public'::regnamespace"))
    except DBAPIError as exc:
        if "lock timeout" not in str(exc):
            raise
        async with engine.connect() as conn:
            holders = (await conn.execute(text(
                "SELECT pid, state, now() - state_change, left(query, 120)"
                " FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state <> 'idle'"))).all()
        raise AssertionError("resetting the test database gave up waiting on locks held by: "
                             + "; ".join(map(str, holders))) from exc
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; each test gets a copy (migrating took most
    of a small test's time)."""
    path = tmp_path_factory.mktemp("template") / "izin.db"
    # Alembic's env runs its own event loop: keep it off any loop running here.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade, f"sqlite+aiosqlite:///{path}").result()
    # Fold the WAL into the main file so a plain copy of it is the whole database.
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if PG_URL:
        await _reset_postgres(PG_URL)
        return PG_URL
    template: Path = request.getfixturevalue("sqlite_template")
    target = tmp_path / "izin.db"
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    # The document pre-check (on by default in a deployment) is off here: its tests
    # (tests/test_precheck_*.py) turn it on; other journeys keep their exact replies.
    return Settings(data_dir=tmp_path / "data", database_url=db_url, _env_file=None,  # type: ignore[call-arg]
                    precheck=False)


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[App]:
    built = await build(settings, migrate=False)
    built.runtime.clock = clock
    codes = iter(f"T{n:05d}" for n in range(1, 100_000))
    built.runtime.new_code = lambda: next(codes)
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
def samples(tmp_path: Path) -> Iterator[dict[str, Path]]:
    d = tmp_path / "samples"
    d.mkdir()
    paths = {
        "pdf": make_pdf(d / "scan.pdf"),
        "pdf2": make_pdf(d / "scan2.pdf", text="second"),
        "jpeg": make_jpeg(d / "photo.jpg"),
        "png": make_png(d / "photo.png"),
    }
    yield paths


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    with watching(item):
        return (yield)
