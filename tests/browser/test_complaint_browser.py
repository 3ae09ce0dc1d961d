"""Issue 7 end to end, with the officer in a real browser: a complaint filed in the
terminal chat, graded medium, escalated when its first level's deadline passes (the
test's clock and the background jobs), answered from the ticket page, the answer
delivered to the chat, the complainant's reply shown in the thread, closed, and the
"settled?" question in the chat. Screenshots of the ticket page and the complaint book
are saved under test-artifacts/complaints/ (gitignored)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from bot.channels.console.chat import ConsoleChat, ConsoleSender
from bot.composition import App
from bot.jobs import run_once
from conversations.types import InboundEvent
from notifications.dispatcher import deliver_once
from storage.models import Complaint, ComplaintMessage, OutboxMessage
from tests.browser.live import ARGS, ARTIFACTS, CHROMIUM, serving, sign_in
from tests.conftest import Clock
from tests.office_client import make_staff

STORY = "Berkas saya sudah lewat batas waktu dan tidak ada kabar dari petugas."
ANSWER = "Berkas Anda sudah kami periksa; izin akan terbit besok pagi."
REPLY = "Terima kasih, saya tunggu kabarnya besok."
USER = "budi-chat"
SHOTS = ARTIFACTS / "complaints"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed "
                    "(Debian package chromium, listed in .ci/apt-packages.txt)")
async def test_complaint_filed_in_chat_graded_escalated_answered_replied_closed(
    app: App, clock: Clock
) -> None:
    from playwright.async_api import async_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    chat_out: list[str] = []
    chat = ConsoleChat(app, USER, chat_out.append)
    for line in ["halo", "1", "Pengaduan", "Pelayanan perizinan", "Pekanbaru", "Okupasi",
                 "Waktu", STORY, "Tidak ada lagi", "Sertakan identitas saya", "Budi Santoso",
                 "Kirim"]:
        await chat.say(line)
    async with app.sessions() as s:
        complaint = await s.scalar(select(Complaint))
    assert complaint is not None and complaint.proposed_grade == "sedang"
    ticket = complaint.ticket_no
    assert any(ticket in text for text in chat_out)  # the chat told the complainant
    await make_staff(app, "siti.adu", "complaint_officer", "pekanbaru")
    sender = ConsoleSender(chat_out.append)

    async def deliver() -> list[str]:
        """What the dispatcher hands the console channel for the complainant now."""
        before = len(chat_out)
        await deliver_once(app.sessions, sender, now=clock(),
                           applicant_id=complaint.applicant_id, limit=100)
        return chat_out[before:]

    async with serving(app) as base, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 1000})
            page = await context.new_page()
            await sign_in(page, base, "siti.adu")

            # The new ticket is in the list, with the officer's notice; grade it medium.
            await page.click("nav >> text=Pengaduan")
            await page.wait_for_selector(f"tr[data-ticket='{ticket}']")
            assert await page.locator("[data-notice]").count() == 1
            await page.click(f"tr[data-ticket='{ticket}'] a")
            await page.wait_for_selector("form[data-form='grade']")
            assert await page.text_content("[data-proposed]") == "Sedang"
            await page.select_option("#grade", "sedang")
            await page.click("button:has-text('Konfirmasi bobot')")
            await page.wait_for_selector("text=Bobot Sedang ditetapkan")
            assert await page.text_content("[data-confirmed]") == "Sedang"
            assert await page.text_content("[data-level-due]") == "2 Desember 2026"

            # Its first level's deadline passes: the background jobs escalate it.
            clock.advance(days=9)  # Wed 2 Dec, the last day of level 1
            assert (await run_once(app, now=clock()))["complaints_escalated"] == 0
            clock.advance(days=1)  # Thu 3 Dec
            assert (await run_once(app, now=clock()))["complaints_escalated"] == 1

            # Ten days later the officer's session has ended: sign in again.
            await page.reload()
            assert "/office/login" in page.url
            await sign_in(page, base, "siti.adu")
            await page.goto(f"{base}/office/complaints/{ticket}")
            assert "2 · Kepala DPMPTSP" in (await page.text_content("[data-level-title]") or "")
            assert await page.get_attribute("[data-grade]", "data-level") == "1"
            assert await page.locator("[data-entry='escalate']").count() == 1

            # The officer answers from the page; the answer reaches the chat.
            await page.select_option("#path", "internal")
            await page.click("button:has-text('Catat jalur')")
            await page.wait_for_selector("[data-path='internal']")
            await page.fill("#answer", ANSWER)
            await page.click("button:has-text('Kirim jawaban')")
            await page.wait_for_selector("text=Jawaban dikirim ke percakapan pengadu")
            received = await deliver()
            assert any(ANSWER in text for text in received), received

            # The complainant replies in the chat; the reply shows in the thread.
            await app.runtime.handle(channel="console", external_id=USER,
                                     platform_id=uuid.uuid4().hex,
                                     event=InboundEvent.choose(f"!kr:{ticket}"))
            await deliver()  # the chat asks for the reply's text
            await chat.say(REPLY)
            await page.reload()
            reply = page.locator("[data-entry='reply']")
            assert await reply.count() == 1 and REPLY in (await reply.text_content() or "")
            await page.screenshot(path=str(SHOTS / "ticket.png"), full_page=True)

            # Closed from the page; the "settled?" question reaches the chat.
            await page.fill("#answer", "Izin Anda sudah terbit; silakan cek status di chat.")
            await page.click("button:has-text('Kirim jawaban')")
            await page.wait_for_selector("text=Jawaban dikirim ke percakapan pengadu")
            await page.select_option("#close-path", "internal")
            await page.click("button:has-text('Tutup tiket')")
            await page.wait_for_selector("text=Tiket ditutup")
            assert await page.get_attribute("[data-ticket]", "data-status") == "closed"
            asked = await deliver()
            assert any(f"Pengaduan {ticket} telah ditutup" in text
                       and "sudah menyelesaikan masalah Anda?" in text for text in asked), asked

            # The complainant says it is settled; the page and the book show it.
            await app.runtime.handle(channel="console", external_id=USER,
                                     platform_id=uuid.uuid4().hex,
                                     event=InboundEvent.choose(f"!ks:{ticket}:yes"))
            assert await deliver()  # the chat thanks the complainant
            await page.reload()
            await page.wait_for_selector("text=pengadu: tuntas")
            await page.screenshot(path=str(SHOTS / "ticket-closed.png"), full_page=True)
            await page.click("nav >> text=Buku pengaduan")
            row = page.locator(f"table[data-book] tr[data-ticket='{ticket}']")
            await row.wait_for()
            cells = [c.strip() for c in await row.locator("td").all_text_contents()]
            assert cells[1:7] == ["23 November 2026", "Budi Santoso", "Pengaduan",
                                  "Jangka waktu", "Sedang", "Ditutup"], cells
            await page.screenshot(path=str(SHOTS / "book.png"), full_page=True)
        finally:
            await browser.close()

    async with app.sessions() as s:
        c = await s.scalar(select(Complaint))
        actions = (await s.scalars(select(ComplaintMessage.action).order_by(
            ComplaintMessage.id))).all()
        pending = (await s.scalars(select(OutboxMessage.status))).all()
    assert c is not None and (c.status, c.settled, c.grade, c.level) == (
        "closed", True, "sedang", 1)
    assert list(actions) == ["filed", "grade", "escalate", "path", "answer", "reply",
                             "answer", "close", "settled"]
    assert "pending" not in pending  # everything for the chat was delivered
    for shot in ("ticket.png", "ticket-closed.png", "book.png"):
        assert (SHOTS / shot).stat().st_size > 5_000
    print(f"\nscreenshots: {SHOTS}")
