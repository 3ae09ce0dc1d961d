"""Manual escalation beside the automatic one, each region's chain from its seed, and the
thread's events as structured data (issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.composition import App
from licensing.catalog import Catalog
from licensing.complaints import escalation_rules
from service import complaint_desk as desk
from storage.migrate import upgrade_async
from storage.models import ComplaintMessage, StaffNotice
from tests.conftest import Clock
from tests.test_complaint_desk import OFFICER, file, get
from tests.test_office_complaints import desk_state, officer, thread_actions

REASON = "Pengadu menyebut dugaan pungutan; perlu keputusan kepala bidang."


def titles(region: str, grade: str) -> list[str]:
    return [lv.title for lv in escalation_rules().levels(region, grade)]


def test_each_region_carries_its_seed_chain() -> None:
    # Pekanbaru: three paths by grade; the heavy one ends with the mayor's office.
    assert titles("pekanbaru", "ringan")[0].startswith("Personil yang menangani")
    assert "menjawab secara langsung" in titles("pekanbaru", "ringan")[0]
    assert titles("pekanbaru", "sedang")[0] == (
        "Kepala bidang yang bersangkutan dan Kepala DPMPTSP")
    heavy = titles("pekanbaru", "berat")
    assert len(heavy) == 3 and heavy[-1] == (
        "Kepala DPMPTSP dengan Walikota Cq Asisten atau Sekretaris Daerah")
    # Purwakarta: internal, then the technical team / agencies, then APIP, every grade.
    for grade in ("ringan", "sedang", "berat"):
        pwk = escalation_rules().levels("purwakarta", grade)
        assert [lv.role for lv in pwk] == ["complaint_officer", "technical_team",
                                           "head_of_office"]
        assert "APIP" in pwk[-1].title
    # Metro: its four published handling steps, in order.
    catalog = Catalog.load()
    steps = catalog.get("metro", "okupasi-terapis").complaints.handling_steps
    assert [lv.basis for lv in escalation_rules().levels("metro", "sedang")] == list(steps)
    # Each basis quotes the seed's text.
    seeds = {e.region.slug: e for e in catalog}
    for region in ("pekanbaru", "purwakarta"):
        published = " ".join(seeds[region].complaints.handling_steps)
        for grade in ("ringan", "sedang", "berat"):
            for lv in escalation_rules().levels(region, grade):
                assert lv.basis is not None
                for part in lv.basis.split(" ... "):
                    assert part in published, (region, grade, part)
    # Days per chain stay within the standard's 14 working days.
    for region in ("pekanbaru", "purwakarta", "metro"):
        for grade in ("ringan", "sedang", "berat"):
            assert sum(lv.days for lv in escalation_rules().levels(region, grade)) <= 14


async def graded(app: App, clock: Clock, grade: str = "sedang") -> str:
    ticket = await file(app, "budi", anonymous=False)
    await desk.confirm_grade(app.sessions, OFFICER, ticket_no=ticket, grade=grade,
                             catalog=app.catalog, calendar=app.calendar, now=clock())
    return ticket


async def test_the_officer_escalates_by_hand_with_a_reason(app: App, clock: Clock) -> None:
    ticket = await graded(app, clock)
    clock.advance(days=1)  # Tue 24 Nov: well before level 1's deadline
    c = await desk.escalate(app.sessions, OFFICER, ticket_no=ticket, reason=REASON,
                            catalog=app.catalog, calendar=app.calendar, now=clock())
    assert c.level == 1
    after = await get(app, ticket)
    levels = escalation_rules().levels("pekanbaru", "sedang")
    # The next level's own days, counted from today.
    assert after.level == 1 and after.level_due_on == app.calendar.due_date(
        clock().date(), levels[1].days, "working")
    async with app.sessions() as s:
        entry = await s.scalar(select(ComplaintMessage).where(
            ComplaintMessage.action == "escalate"))
        notice = await s.scalar(select(StaffNotice).where(
            StaffNotice.kind == "complaint_escalated"))
    assert entry is not None and notice is not None
    assert (entry.author_kind, entry.author, entry.level, entry.grade, entry.text) == (
        "officer", "siti.adu", 1, "sedang", REASON)
    assert (notice.role, notice.ref) == (levels[1].role, ticket)
    # The clock then counts from the new level: nothing more moves today.
    assert await desk.escalate_overdue(app.sessions, catalog=app.catalog,
                                       calendar=app.calendar, now=clock()) == 0


async def test_the_overdue_clock_records_a_structured_escalation(app: App,
                                                                 clock: Clock) -> None:
    ticket = await graded(app, clock)
    clock.advance(days=10)
    assert await desk.escalate_overdue(app.sessions, catalog=app.catalog,
                                       calendar=app.calendar, now=clock()) == 1
    async with app.sessions() as s:
        entry = await s.scalar(select(ComplaintMessage).where(
            ComplaintMessage.action == "escalate"))
    assert entry is not None
    assert (entry.author_kind, entry.author, entry.level, entry.text) == (
        "system", None, 1, None)
    assert (await get(app, ticket)).level == 1


@pytest.mark.parametrize(("who", "setup", "reason", "code"), [
    (desk.Officer("fo", "front_office", "pekanbaru"), "graded", REASON, "wrong_role"),
    (desk.Officer("adm", "admin", "pekanbaru"), "graded", REASON, "wrong_role"),
    (desk.Officer("o", "complaint_officer", "metro"), "graded", REASON, "not_found"),
    (OFFICER, "ungraded", REASON, "wrong_order"),
    (OFFICER, "graded", "terlalu", "bad_input"),
    (OFFICER, "last_level", REASON, "last_level"),
    (OFFICER, "closed", REASON, "closed"),
])
async def test_refused_escalations_change_nothing(app: App, clock: Clock, who: desk.Officer,
                                                  setup: str, reason: str, code: str) -> None:
    if setup == "ungraded":
        ticket = await file(app, "budi", anonymous=False)
    else:
        ticket = await graded(app, clock)
    if setup == "last_level":
        await desk.escalate(app.sessions, OFFICER, ticket_no=ticket, reason=REASON,
                            catalog=app.catalog, calendar=app.calendar, now=clock())
    if setup == "closed":
        await desk.answer(app.sessions, OFFICER, ticket_no=ticket,
                          text="Sudah kami tindak lanjuti, terima kasih.", now=clock())
        await desk.close(app.sessions, OFFICER, ticket_no=ticket,
                         resolution_path="internal", now=clock())
    before = await desk_state(app)
    with pytest.raises(desk.DeskError) as refused:
        await desk.escalate(app.sessions, who, ticket_no=ticket, reason=reason,
                            catalog=app.catalog, calendar=app.calendar, now=clock())
    assert refused.value.code == code
    assert await desk_state(app) == before


async def test_the_ticket_page_escalates_and_reads_structured_entries(app: App,
                                                                    clock: Clock) -> None:
    ticket = await file(app, "budi", anonymous=False)
    page = f"/office/complaints/{ticket}"
    b = await officer(app)
    res = await b.post(f"{page}/grade", {"grade": "ringan"})
    assert res.status_code == 303
    html = (await b.get(page)).text
    assert "diubah dari Sedang menjadi Ringan" in html
    assert 'data-form="escalate"' in html and "Kepala bidang yang bersangkutan" in html
    # A reason too short: refused, nothing changed.
    before = await desk_state(app)
    res = await b.post(f"{page}/escalate", {"reason": "cepat"})
    assert res.status_code == 400 and "Tidak ada yang diubah" in res.text
    assert await desk_state(app) == before
    res = await b.post(f"{page}/escalate", {"reason": REASON})
    assert res.status_code == 303
    html = (await b.get(page)).text
    assert thread_actions(html) == ["filed", "grade", "escalate"]
    assert f"ke tingkat 2: Kepala bidang yang bersangkutan — alasan: {REASON}" in html
    assert "data-level-title>2 · Kepala bidang yang bersangkutan<" in html
    # The last level offers no escalation, and a post is refused without a change.
    assert 'data-form="escalate"' not in html
    before = await desk_state(app)
    res = await b.post(f"{page}/escalate", {"reason": REASON})
    assert res.status_code == 403 and "tingkat terakhir" in res.text
    assert await desk_state(app) == before


async def test_a_head_of_division_level_on_other_roles_pages(app: App, clock: Clock) -> None:
    """A role outside the desk cannot even reach the escalation route."""
    ticket = await graded(app, clock)
    b = await officer(app, "fo.pku", "front_office")
    before: dict[str, Any] = await desk_state(app)
    res = await b.post(f"/office/complaints/{ticket}/escalate", {"reason": REASON})
    assert res.status_code == 403
    assert await desk_state(app) == before


async def test_the_migration_turns_old_notes_into_columns(tmp_path: Path) -> None:
    """Rows written before 0012 ("level N: ..." and "(proposed x)" notes) keep their
    meaning as columns; other entries' text is untouched."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    await upgrade_async(url, "0008_notify")
    engine = create_async_engine(url)
    now = "2026-11-23 02:00:00.000000"
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO applicants (id, channel, external_id, lang, created_at) "
                f"VALUES (1, 'console', 'x', 'id', '{now}')"))
            await conn.execute(text(
                "INSERT INTO complaints (id, ticket_no, applicant_id, region, about, category,"
                " kind, anonymous, lang, proposed_grade, grade, level, status, filed_at, due_on)"
                f" VALUES (1, 'ADU-1', 1, 'pekanbaru', 'service', 'time', 'complaint', 0, 'id',"
                f" 'sedang', 'ringan', 1, 'open', '{now}', '2026-12-10')"))
            for i, (action, note) in enumerate([
                    ("filed", "Lama sekali"), ("grade", "confirmed (proposed sedang)"),
                    ("grade", "sedang -> ringan (proposed sedang)"),
                    ("escalate", "level 1: Kepala bidang yang bersangkutan")], start=1):
                await conn.execute(text(
                    "INSERT INTO complaint_messages (id, complaint_id, at, author_kind, action,"
                    f" text) VALUES ({i}, 1, '{now}', 'system', '{action}', :t)"), {"t": note})
    finally:
        await engine.dispose()
    await upgrade_async(url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT action, text, level, grade, prev_grade FROM complaint_messages "
                "ORDER BY id"))).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("filed", "Lama sekali", None, None, None),
        ("grade", None, None, "sedang", "sedang"),
        ("grade", None, None, "ringan", "sedang"),
        ("escalate", None, 1, None, None)]
