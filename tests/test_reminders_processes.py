"""Once per occasion with two reminder + dispatcher OS processes at the same time
(PostgreSQL when IZIN_TEST_DATABASE_URL is set, else an SQLite file: both meaningful)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from bot.composition import App
from storage.models import Conversation, OutboxMessage, StaffNotice
from tests.conftest import Clock
from tests.notify_data import add_applicants
from tests.processes import delivered, worker


@pytest.mark.slow
async def test_two_processes_remind_once_per_occasion(app: App, clock: Clock, db_url: str,
                                                      tmp_path: Path) -> None:
    # 60 drafts started 3 days ago that miss every scan; 60 files due tomorrow.
    ids = await add_applicants(app.sessions, 60, now=clock.now, due_on=date(2026, 11, 27))
    started = (clock.now - timedelta(days=3)).isoformat()
    async with app.sessions() as s, s.begin():
        await s.execute(insert(Conversation), [dict(
            applicant_id=aid, version=1, updated_at=clock.now,
            state={"lang": "id", "step": "apply.scans", "data": {"draft": {
                "region": "purwakarta", "profession": "okupasi-terapis",
                "started_at": started}}}) for aid in ids])
    log = tmp_path / "delivered.log"
    now = clock.now + timedelta(days=2)
    procs = [worker(db_url, log, now, "--reminders", "5") for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-3000:]
        assert "too_many=0" in out
    async with app.sessions() as s:
        keys = (await s.scalars(select(OutboxMessage.dedupe_key))).all()
        notices = await s.scalar(select(func.count()).select_from(StaffNotice))
        statuses = set((await s.scalars(select(OutboxMessage.status))).all())
    assert len(keys) == 60 and all(k and k.startswith("reminder:scans_missing:") for k in keys)
    assert notices == 60
    assert statuses == {"sent"}
    counts = Counter(delivered(log))
    assert len(counts) == 60 and set(counts.values()) == {1}
