"""INSERT … ON CONFLICT DO NOTHING on the dedupe key, for SQLite and PostgreSQL.

"Once per occasion" must hold with several processes: a check-then-insert races, the
unique index does not. Returns how many rows were actually inserted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from service.outbox import mark_written
from storage.models import Base, OutboxMessage


async def insert_once(session: AsyncSession, model: type[Base], rows: list[dict[str, Any]],
                      *, key: str = "dedupe_key") -> int:
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(model).values(rows).on_conflict_do_nothing(index_elements=[key])
    result = await session.execute(stmt)
    assert isinstance(result, CursorResult)
    if model is OutboxMessage and result.rowcount:
        mark_written(session)
    return int(result.rowcount)
