"""The composition root: builds the engine's collaborators from settings, once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.settings import Settings
from licensing.calendar import DEFAULT_OVERRIDES, WorkingCalendar
from licensing.catalog import STANDARDS_DIR, Catalog
from licensing.scans import make_inspector
from service.inbound import Runtime
from storage.db import create_engine, is_sqlite, session_factory
from storage.filestore import FileStore
from storage.migrate import upgrade_async


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    catalog: Catalog
    calendar: WorkingCalendar
    files: FileStore
    runtime: Runtime

    async def close(self) -> None:
        await self.engine.dispose()


async def build(settings: Settings | None = None, *, migrate: bool | None = None) -> App:
    """Wire everything; on SQLite the schema is upgraded on start (unless told not to)."""
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.db_url
    if migrate if migrate is not None else is_sqlite(url):
        await upgrade_async(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    catalog = Catalog.load(settings.catalog_dir or STANDARDS_DIR)
    calendar = WorkingCalendar(settings.calendar_overrides or DEFAULT_OVERRIDES)
    files = FileStore(
        settings.files_dir,
        max_bytes=settings.max_upload_bytes,
        inspector=make_inspector(settings.max_image_pixels),
    )
    runtime = Runtime(sessions=sessions, catalog=catalog, calendar=calendar,
                      max_upload_bytes=settings.max_upload_bytes, files=files)
    return App(settings, engine, sessions, catalog, calendar, files, runtime)
