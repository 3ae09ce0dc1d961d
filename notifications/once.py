"""INSERT … ON CONFLICT DO NOTHING on the dedupe key, for SQLite and PostgreSQL.

"Once per occasion" must hold with several processes: a check-then-insert races, the
unique index does not. Returns how many rows were actually inserted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.outbox import mark_written
from storage.models import Base, OutboxMessage


async def insert_once(session: AsyncSession, model: type[Base], rows: list[dict[str, Any]],
                      *, key: str = "dedupe_key") -> int:
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    # executemany, not one VALUES list: the statement compiles once (cached) and
    # SQLAlchemy batches the rows ("insertmanyvalues"); a 500-row VALUES list was
    # compiled afresh for every chunk of a broadcast. RETURNING names what went in.
    # The Core table, not the mapped class: the ORM's bulk-insert layer cost more than
    # the rows' own SQL (bench/data_growth.py profile).
    table = model.__table__
    assert isinstance(table, Table)
    pk = sa_inspect(model).primary_key[0]
    stmt = insert(table).on_conflict_do_nothing(index_elements=[key]).returning(pk)
    result = await session.execute(stmt, rows)
    inserted = len(result.all())
    if model is OutboxMessage and inserted:
        mark_written(session)
    return inserted
