"""A scripted terminal journey for each seed standard: first message to submission,
then the status with its step and, once the clock runs, the deadline."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bot.composition import App
from conversations.flows.apply import applicable_uploads
from licensing.catalog import Catalog
from service.applications import start_clock
from storage.models import Application, ApplicationEvent, OutboxMessage
from tests.conftest import Clock
from tests.journeys import NIK, apply_script, run_script

CATALOG = Catalog.load()
KEYS = [e.key for e in CATALOG]

# Submitted on Monday 23 November 2026 (09:00 WIB); deadlines counted by hand:
# 7 working days -> Tue 24, Wed 25, Thu 26, Fri 27, Mon 30, Tue 1 Dec, Wed 2 Dec.
EXPECTED_DUE = {
    ("purwakarta", "okupasi-terapis"): date(2026, 12, 2),
    ("purwakarta", "perekam-medis"): date(2026, 12, 2),
    ("pekanbaru", "okupasi-terapis"): date(2026, 11, 25),  # 2 working days
    ("metro", "okupasi-terapis"): date(2026, 11, 26),  # 3 working days
    ("lubuklinggau", "okupasi-terapis"): date(2026, 12, 7),  # 14 calendar days
}
DUE_TEXT = {date(2026, 12, 2): "2 Desember 2026", date(2026, 11, 25): "25 November 2026",
            date(2026, 11, 26): "26 November 2026", date(2026, 12, 7): "7 Desember 2026"}


def test_every_seed_standard_has_an_expected_deadline() -> None:
    assert set(EXPECTED_DUE) == set(KEYS)


@pytest.mark.parametrize("key", KEYS, ids=["/".join(k) for k in KEYS])
async def test_terminal_journey_to_submission_and_status(
    app: App, samples: dict[str, Path], clock: Clock, key: tuple[str, str]
) -> None:
    entry = CATALOG.get(*key)
    out = await run_script(app, "tester", apply_script(entry, samples))

    reg_no = f"{entry.region.code}-2611-T00001"
    assert f"Nomor registrasi: {reg_no}" in out
    assert "Maaf, saya belum memahami" not in out, out
    for req in applicable_uploads(entry, {}):
        assert f"✅ Diterima: {req.title}" in out

    async with app.sessions() as s:
        stored = await s.scalar(
            select(Application).where(Application.reg_no == reg_no)
            .options(selectinload(Application.documents)))
        assert stored is not None
        assert stored.nik == NIK and stored.full_name == "Siti Aminah"
        assert stored.phone == "6281234567890"
        first = entry.office_steps[0]
        assert stored.step_code == first.code
        assert {d.requirement_code for d in stored.documents} == {
            r.code for r in applicable_uploads(entry, {})}
        for d in stored.documents:
            assert app.files.exists(d.blob_sha256)
        events = (await s.scalars(select(ApplicationEvent))).all()
        assert [(e.action, e.to_step) for e in events] == [("submit", first.code)]
        unsent = await s.scalar(select(func.count()).select_from(OutboxMessage)
                                .where(OutboxMessage.status != "sent"))
        assert unsent == 0  # every reply went out through the outbox

    # Before the files are declared complete, the clock has not started.
    out = await run_script(app, "tester", ["Status"])
    assert reg_no in out
    assert "Batas waktu mulai dihitung setelah berkas dinyatakan lengkap" in out
    assert "Pemeriksaan berkas" in out  # the first office step checks files everywhere

    # The office declares the files complete: the status now shows the deadline.
    async with app.sessions() as s, s.begin():
        stored = await s.scalar(select(Application).where(Application.reg_no == reg_no))
        assert stored is not None
        start_clock(stored, entry, app.calendar, now=clock.now)
    out = await run_script(app, "tester", ["Status"])
    due = EXPECTED_DUE[key]
    unit = "kerja" if entry.deadline.unit.value == "working" else "kalender"
    left = app.calendar.days_left(date(2026, 11, 23), due, entry.deadline.unit.value)
    assert f"Batas waktu: {DUE_TEXT[due]} — {left} hari {unit} lagi" in out, out


async def test_journey_survives_a_restart_midway(
    app: App, samples: dict[str, Path], settings: object
) -> None:
    """Half a journey, a new process (a fresh App on the same database), the rest."""
    from bot.composition import build

    entry = CATALOG.get("pekanbaru", "okupasi-terapis")
    script = apply_script(entry, samples)
    half = script.index(f"{NIK}") + 1
    await run_script(app, "restart", script[:half])
    await app.close()

    second = await build(settings, migrate=False)  # type: ignore[arg-type]
    second.runtime.new_code = lambda: "R00001"
    try:
        out = await run_script(second, "restart", script[half:])
        assert "Nomor registrasi: PKU-" in out
        assert "Maaf, saya belum memahami" not in out
        async with second.sessions() as s:
            stored = await s.scalar(select(Application))
            assert stored is not None and stored.nik == NIK
    finally:
        await second.close()
