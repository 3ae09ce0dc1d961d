"""A complaint filed in the terminal chat is stored with its thread; anonymity holds."""

from __future__ import annotations

from sqlalchemy import select

from bot.composition import App
from storage.models import Complaint, ComplaintMessage
from tests.journeys import run_script

STORY = "Saya diminta uang pelicin oleh oknum di loket, padahal layanan ini gratis."


async def test_anonymous_complaint_is_stored_without_identity(app: App) -> None:
    out = await run_script(app, "c1", [
        "halo", "1", "Pengaduan", "Pelayanan perizinan", "Pekanbaru", "Okupasi",
        "Perilaku petugas", STORY, "Tidak ada lagi", "anonim", "Kirim"])
    assert "Nomor tiket: ADU-PKU-2611-T00001" in out
    async with app.sessions() as s:
        c = await s.scalar(select(Complaint))
        assert c is not None
        assert (c.kind, c.category, c.anonymous, c.complainant_name) == (
            "complaint", "staff_conduct", True, None)
        assert c.proposed_grade == "berat" and c.grade is None  # an officer confirms
        thread = (await s.scalars(select(ComplaintMessage))).all()
        assert [(m.author_kind, m.action, m.text) for m in thread] == [
            ("complainant", "filed", STORY)]
        assert thread[0].author is None


async def test_named_complaint_keeps_the_name(app: App) -> None:
    await run_script(app, "c2", [
        "halo", "1", "/pengaduan", "Hal lain", "Metro", "Sarana dan prasarana",
        "Ruang tunggu terlalu panas dan tidak ada kursi.", "Tidak ada lagi",
        "Sertakan identitas saya", "Budi Santoso", "Kirim"])
    async with app.sessions() as s:
        c = await s.scalar(select(Complaint))
        assert c is not None and c.complainant_name == "Budi Santoso"
        assert c.about == "none" and c.kind == "complaint"  # Metro has no suggestion rule
