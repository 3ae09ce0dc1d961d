"""Purwakarta needs the survey before the permit (issue 18): the whole way in each
channel, from the scans to the signed PDF in the chat. Telegram takes the survey with
its buttons (real aiogram against the fake Bot API); WhatsApp with typed numbers, as an
applicant who ignores the list would (signed webhooks, fake Graph API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.composition import App
from bot.jobs import run_once
from bot.settings import Settings
from licensing.permit.signing import inspect_signed_pdf
from storage.models import Applicant, Application, Permit
from tests.conftest import Clock
from tests.fakes import graph_api as wa
from tests.fakes.telegram_user import Bench, User, loose_webhook_bench
from tests.fakes.whatsapp_harness import Harness, harness
from tests.journeys import apply_script
from tests.test_permit_journey import approve

pytestmark = pytest.mark.slow
REGION, PROFESSION = "purwakarta", "okupasi-terapis"


async def _reg_no(app: App, channel: str, external_id: str) -> str:
    async with app.sessions() as session:
        reg_no = await session.scalar(
            select(Application.reg_no).join(Applicant, Applicant.id == Application.applicant_id)
            .where(Applicant.channel == channel, Applicant.external_id == external_id))
    assert reg_no
    return reg_no


async def _delivered(app: App, reg_no: str) -> Permit:
    async with app.sessions() as session:
        permit = await session.scalar(select(Permit).join(
            Application, Application.id == Permit.application_id)
            .where(Application.reg_no == reg_no))
    assert permit is not None
    return permit


# ---- Telegram ----

@pytest.fixture
async def tg(app: App) -> AsyncIterator[Bench]:
    async with loose_webhook_bench(app) as bench:
        yield bench


async def test_telegram_survey_by_buttons_then_the_signed_permit(
        tg: Bench, app: App, samples: dict[str, Path]) -> None:
    user = User(tg, 5551001)
    for line in apply_script(app.catalog.get(REGION, PROFESSION), samples):
        await user.act(line)
    reg_no = await _reg_no(app, "telegram", "5551001")
    await approve(app, reg_no)
    assert (await run_once(app, now=app.runtime.clock()))["permits_issued"] == 1
    tg.channel.dispatcher.wake()
    await tg.settle()
    assert not tg.api.calls("sendDocument", chat_id=user.chat_id)  # not before the survey
    # The permit-ready notice carries the survey button; the applicant presses it.
    assert f"!survey:{reg_no}" in [b["callback_data"] for b in user.buttons()]
    await user.press(f"!survey:{reg_no}")
    for _ in range(30):  # the survey's questions, each answered by its first button
        if tg.api.calls("sendDocument", chat_id=user.chat_id):
            break
        answers = [b["callback_data"] for b in user.buttons()
                   if b["callback_data"].startswith(("sp:", "se:"))]
        assert answers, user.texts()[-2:]
        await user.press(answers[0])
    [document] = tg.api.calls("sendDocument", chat_id=user.chat_id)
    pdf = document.files["document"]
    info = await asyncio.to_thread(inspect_signed_pdf, pdf)
    assert info.ok
    assert (await _delivered(app, reg_no)).delivered_at is not None


# ---- WhatsApp ----

@pytest.fixture
async def wa_h(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    async with harness(settings, clock) as h:
        yield h


async def test_whatsapp_survey_by_typed_numbers_then_the_signed_permit(
        wa_h: Harness, samples: dict[str, Path], clock: Clock) -> None:
    wa_id = "6281355550001"
    for line in apply_script(wa_h.app.catalog.get(REGION, PROFESSION), samples):
        await wa_h.say(wa_id, line)
    reg_no = await _reg_no(wa_h.app, "whatsapp", wa_id)
    await approve(wa_h.app, reg_no)
    assert (await run_once(wa_h.app, now=clock()))["permits_issued"] == 1
    await wa_h.run()
    notice = wa_h.graph.to(wa_id)[-1]
    assert notice.options()[0][0] == f"!survey:{reg_no}"
    sent = await _typed(wa_h, wa_id, "1")  # the notice's first choice, typed
    for _ in range(30):
        if any(s.type == "document" for s in sent):
            break
        assert sent and sent[-1].options(), [s.text for s in sent]
        sent = await _typed(wa_h, wa_id, "1")
    [document] = [s for s in wa_h.graph.to(wa_id) if s.type == "document"]
    media_id = document.body["document"]["id"]
    pdf, _, filename = wa_h.graph.uploads[media_id]
    assert filename and filename.endswith(".pdf")
    info = await asyncio.to_thread(inspect_signed_pdf, pdf)
    assert info.ok
    assert (await _delivered(wa_h.app, reg_no)).delivered_at is not None


async def _typed(h: Harness, wa_id: str, text: str) -> list[wa.Sent]:
    before = len(h.graph.to(wa_id))
    await h.send(wa_id, wa.text(text))
    await h.run()
    return h.graph.to(wa_id)[before:]
