"""What the console needs from the running system, handed in by whoever mounts it.

The back office never imports `bot` (import-linter's layers): `bot/http.py` builds an
`OfficeParts` from its composed `App` and mounts `create_office_app(...)` at /office.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from licensing.calendar import WorkingCalendar
from licensing.catalog import Catalog
from storage.filestore import FileStore


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OfficeParts:
    sessions: async_sessionmaker[AsyncSession]
    catalog: Catalog
    calendar: WorkingCalendar
    files: FileStore
    # None: Secure cookies exactly when the request came over https.
    secure_cookies: bool | None = None
    session_ttl: timedelta = timedelta(hours=8)
    clock: Callable[[], datetime] = field(default=_utcnow)
    # For page reads (SQLite: separate connections, never the single writer).
    read_sessions: async_sessionmaker[AsyncSession] | None = None

    @property
    def readers(self) -> async_sessionmaker[AsyncSession]:
        return self.read_sessions or self.sessions

    def now(self) -> datetime:
        return self.clock()
