"""Applicants and applications written straight to the database, for notification tests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Applicant, Application


async def add_applicants(sessions: async_sessionmaker[AsyncSession], n: int, *,
                         now: datetime, channel: str = "fake", region: str = "purwakarta",
                         profession: str = "okupasi-terapis",
                         step_code: str = "pemeriksaan_berkas", status: str = "open",
                         due_on: date | None = date(2026, 12, 14), prefix: str = "c",
                         lang: str = "id", start: int = 0) -> list[int]:
    """`n` applicants with one application each; returns the applicant ids."""
    apps: list[dict[str, Any]] = [
        dict(channel=channel, external_id=f"{prefix}{start + i}", display_name=f"Chat {i}",
             lang=lang, created_at=now) for i in range(n)]
    async with sessions() as s, s.begin():
        ids = []
        for chunk in range(0, n, 1000):
            result = await s.execute(insert(Applicant).returning(Applicant.id),
                                     apps[chunk:chunk + 1000])
            ids.extend(int(x) for x in result.scalars().all())
        rows = [dict(reg_no=f"PWK-{prefix}{start + i}", applicant_id=aid, region=region,
                     profession=profession, full_name=f"Nama {start + i}", nik="3201010101010001",
                     phone="+6281200000000", practice_place="RS Umum", lang=lang,
                     step_code=step_code, step_since=now, status=status, submitted_at=now,
                     due_on=due_on) for i, aid in enumerate(ids)]
        for chunk in range(0, n, 1000):
            await s.execute(insert(Application), rows[chunk:chunk + 1000])
    return ids
