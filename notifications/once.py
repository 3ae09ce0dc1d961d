"""INSERT … ON CONFLICT DO NOTHING on the dedupe key, for SQLite and PostgreSQL.

"Once per occasion" must hold with several processes: a check-then-insert races, the
unique index does not. Returns how many rows were actually inserted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Table, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from service.outbox import mark_written
from storage.models import Base, OutboxMessage


async def insert_once(session: AsyncSession, model: type[Base], rows: list[dict[str, Any]],
                      *, key: str = "dedupe_key") -> int:
    if not rows:
        return 0
    table = model.__table__
    assert isinstance(table, Table)
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        inserted = await _insert_columns(session, table, rows, key, dialect)
    else:
        # executemany, not one VALUES list: the statement compiles once (cached) and
        # SQLAlchemy batches the rows ("insertmanyvalues"). The Core table, not the
        # mapped class: the ORM's bulk-insert layer cost more than the rows' own SQL.
        pk = sa_inspect(model).primary_key[0]
        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=[key]).returning(pk)
        inserted = len((await session.execute(stmt, rows)).all())
    if model is OutboxMessage and inserted:
        mark_written(session)
    return inserted


async def _insert_columns(session: AsyncSession, table: Table, rows: list[dict[str, Any]],
                          key: str, dialect: Dialect) -> int:
    """PostgreSQL: one statement, each column sent as one array and unnested by the
    server. asyncpg encodes the arrays in C; executemany's insertmanyvalues handled
    every row's every parameter in Python (35% of a 60,000-person broadcast)."""
    names = list(rows[0])
    if any(r.keys() != rows[0].keys() for r in rows):
        raise ValueError("insert_once: every row must name the same columns")
    params: dict[str, list[Any]] = {}
    arrays, picks = [], []
    for i, name in enumerate(names):
        column = table.c[name]
        impl = column.type.dialect_impl(dialect)
        process = impl.bind_processor(dialect)  # what executemany applies: UTC, JSON text
        values = [r[name] for r in rows]
        params[f"c{i}"] = [process(v) for v in values] if process else values
        sql_type = column.type.compile(dialect=dialect)
        if isinstance(impl, JSON):  # serialised above: sent as text, cast per row
            arrays.append(f"CAST(:c{i} AS TEXT[])")
            picks.append(f"CAST(u.c{i} AS {sql_type})")
        else:
            arrays.append(f"CAST(:c{i} AS {sql_type}[])")
            picks.append(f"u.c{i}")
    columns = ", ".join(f'"{n}"' for n in names)
    aliases = ", ".join(f"c{i}" for i in range(len(names)))
    stmt = text(
        f'WITH ins AS (INSERT INTO "{table.name}" ({columns}) '
        f"SELECT {', '.join(picks)} FROM unnest({', '.join(arrays)}) AS u({aliases}) "
        f'ON CONFLICT ("{key}") DO NOTHING RETURNING 1) SELECT count(*) FROM ins')
    return int((await session.execute(stmt, params)).scalar_one())
