"""Shared fixtures: a database (SQLite per test, or PostgreSQL when
IZIN_TEST_DATABASE_URL is set), the composed app, a controllable clock, sample scans."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.composition import App, build
from bot.settings import Settings
from storage.db import create_engine
from storage.migrate import upgrade_async
from storage.models import Base
from tests.samples import make_jpeg, make_pdf, make_png

PG_URL = os.environ.get("IZIN_TEST_DATABASE_URL")
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


async def _reset_postgres(url: str) -> None:
    global _pg_ready
    engine = create_engine(url)
    async with engine.begin() as conn:
        if not _pg_ready:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    if not _pg_ready:
        await upgrade_async(url)
        _pg_ready = True
        return
    engine = create_engine(url)
    async with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture
async def db_url(tmp_path: Path) -> str:
    if PG_URL:
        await _reset_postgres(PG_URL)
        return PG_URL
    url = f"sqlite+aiosqlite:///{tmp_path / 'izin.db'}"
    await upgrade_async(url)
    return url


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
