"""A real notification outside the window: an officer answers a complaint filed over
WhatsApp three days earlier; it goes as the approved template with a quick-reply button,
and the tap on that button comes back into the conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.settings import Settings
from service import complaint_desk as desk
from storage.models import Complaint, ComplaintMessage
from tests.conftest import Clock
from tests.fakes.whatsapp_harness import Harness, harness

WA_ID = "6281377700011"
OFFICER = desk.Officer("siti.adu", "complaint_officer", "pekanbaru")
STORY = "Berkas saya sudah lewat batas waktu dan tidak ada kabar dari petugas."


@pytest.fixture
async def wa_h(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    async with harness(settings, clock) as h:
        yield h


async def test_an_answer_after_the_window_goes_as_a_template_and_its_button_works(
    wa_h: Harness, clock: Clock
) -> None:
    for line in ["halo", "1", "Pengaduan", "Pelayanan perizinan", "Pekanbaru", "Okupasi",
                 "Waktu", STORY, "Tidak ada lagi", "Sertakan identitas saya", "Budi Santoso",
                 "Kirim"]:
        await wa_h.say(WA_ID, line)
    async with wa_h.app.sessions() as s:
        ticket = await s.scalar(select(Complaint.ticket_no))
    assert ticket
    kw = dict(catalog=wa_h.app.catalog, calendar=wa_h.app.calendar)
    await desk.confirm_grade(wa_h.app.sessions, OFFICER, ticket_no=ticket, grade="sedang",
                             now=clock(), **kw)
    clock.advance(days=3)
    await desk.answer(wa_h.app.sessions, OFFICER, ticket_no=ticket,
                      text="Berkas Anda sudah kami periksa.", now=clock())
    await wa_h.dispatcher.drain()

    notice = wa_h.graph.to(WA_ID)[-1]
    assert notice.type == "template"
    template = notice.body["template"]
    assert template["name"] == "izin_pemberitahuan_tombol"
    assert "Berkas Anda sudah kami periksa." in notice.text
    assert template["components"][-1]["parameters"] == [
        {"type": "payload", "payload": f"!kr:{ticket}"}]

    # The applicant taps the template's button: a "button" message carrying the payload.
    await wa_h.send(WA_ID, {"type": "button", "button": {"payload": f"!kr:{ticket}",
                                                          "text": "Balas"}})
    await wa_h.run()
    prompt = wa_h.graph.to(WA_ID)[-1]
    assert prompt.type != "template" and ticket in prompt.text  # the window is open again
    await wa_h.say(WA_ID, "Terima kasih, saya tunggu kabarnya.")
    async with wa_h.app.sessions() as s:
        actions = (await s.scalars(select(ComplaintMessage.action).order_by(
            ComplaintMessage.id))).all()
    assert actions[-1] == "reply"
