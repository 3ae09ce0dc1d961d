"""The sender's claim reads only what is not yet sent, whatever the outbox's history.

Sent rows stay in the outbox (they carry delivery receipts). Before the partial indexes
SQLite's plan walked every row the channel had ever sent, per claim, and the in-order
check walked each chat's whole history: CPU per reply grew with the table. The plans
are checked on the running dialect (SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN
with sequential scans priced out), with the statement and parameters the claim sent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert

from bot.composition import App
from notifications.dispatcher import claim
from storage.models import Applicant, OutboxMessage, OutboxStatus

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


async def _load(app: App, sent: int) -> None:
    async with app.sessions() as s, s.begin():
        await s.execute(insert(Applicant).values(id=1, channel="telegram", external_id="42",
                                                 lang="id", created_at=NOW))
        rows: list[dict[str, Any]] = [
            dict(applicant_id=1, channel="telegram", chat_id="42", payload={"text": f"{i}"},
                 priority=0, status=OutboxStatus.SENT, attempts=1, sent_at=NOW,
                 next_attempt_at=NOW - timedelta(hours=1), created_at=NOW)
            for i in range(sent)]
        rows.append(dict(applicant_id=1, channel="telegram", chat_id="42",
                         payload={"text": "new"}, priority=0, status=OutboxStatus.PENDING,
                         attempts=0, next_attempt_at=NOW, created_at=NOW))
        await s.execute(insert(OutboxMessage), rows)


async def _plan(app: App, sql: str, params: Any) -> str:
    async with app.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql("ANALYZE outbox")
            await conn.exec_driver_sql("SET enable_seqscan = off")
            explain = "EXPLAIN "
        else:
            await conn.exec_driver_sql("ANALYZE")
            explain = "EXPLAIN QUERY PLAN "
        rows = (await conn.exec_driver_sql(explain + sql, params)).all()
    return "\n".join(" ".join(str(c) for c in r) for r in rows)


async def test_the_claim_reads_the_unsent_rows_through_their_partial_indexes(
        app: App) -> None:
    await _load(app, sent=3000)
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
             executemany: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            seen.append((statement, params))

    event.listen(app.engine.sync_engine, "before_cursor_execute", keep)
    try:
        got = await claim(app.sessions, "telegram", now=NOW, limit=10)
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", keep)
    assert [r.payload["text"] for r in got] == ["new"]  # the one unsent row, nothing else
    (sql, params), = seen
    plan = await _plan(app, sql, params)
    assert "ix_outbox_unsent_due" in plan, plan  # candidates: unsent rows only
    assert "ix_outbox_unsent_chat" in plan, plan  # the in-order check: unsent rows only
    assert "ix_outbox_chat" not in plan.replace("ix_outbox_unsent_chat", ""), plan
    assert "Seq Scan on outbox" not in plan and "SCAN outbox" not in plan, plan
