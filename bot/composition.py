"""The composition root: builds the engine's collaborators from settings, once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import data_at_rest
from bot.settings import Settings
from licensing.calendar import DEFAULT_OVERRIDES, WorkingCalendar
from licensing.catalog import STANDARDS_DIR, Catalog
from licensing.scans import make_inspector
from service.inbound import Runtime
from service.precheck import PrecheckRunner
from storage.db import create_engine, create_read_engine, is_sqlite, session_factory
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
    prechecker: PrecheckRunner | None = None  # IZIN_PRECHECK=on: runs beside the chat
    # Pages and reports that only read (SQLite: their own connections, never the writer).
    read_engine: AsyncEngine | None = None

    @cached_property
    def read_sessions(self) -> async_sessionmaker[AsyncSession]:
        return session_factory(self.read_engine) if self.read_engine else self.sessions

    async def close(self) -> None:
        if self.prechecker is not None:
            self.prechecker.close()
        await self.engine.dispose()
        if self.read_engine is not None:
            await self.read_engine.dispose()


async def build(settings: Settings | None = None, *, migrate: bool | None = None) -> App:
    """Wire everything; on SQLite the schema is upgraded on start (unless told not to)."""
    settings = settings or Settings()
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    url = settings.db_url
    if migrate if migrate is not None else is_sqlite(url):
        await upgrade_async(url)
    data_at_rest.secure(settings.data_dir, url)
    engine = create_engine(url, pool_size=settings.db_pool_size)
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
    prechecker = None
    if settings.precheck:
        prechecker = PrecheckRunner(sessions=sessions, files=files, catalog=catalog,
                                    workers=settings.precheck_workers)
        runtime.precheck = True
        runtime.on_file_handled = prechecker.wake
    return App(settings, engine, sessions, catalog, calendar, files, runtime, prechecker,
               read_engine=create_read_engine(url))
