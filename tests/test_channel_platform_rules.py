"""Platform rules of issue 18: Telegram groups never become applicant chats; WhatsApp
messages are marked read, the 24-hour window runs from the message's own timestamp, and
a changed number carries the applicant over."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.composition import App
from bot.settings import Settings
from storage.models import Applicant, InboundMessage, OutboxMessage
from tests.conftest import Clock
from tests.fakes import graph_api as wa
from tests.fakes.telegram_api import text_update
from tests.fakes.telegram_user import Bench, loose_webhook_bench
from tests.fakes.whatsapp_harness import Harness, harness

WA_ID = "6281234567890"
NEW_ID = "6289876543210"


async def _count(app: App, model: type) -> int:
    async with app.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


# ---- Telegram: groups ----

@pytest.fixture
async def tg(app: App) -> AsyncIterator[Bench]:
    async with loose_webhook_bench(app) as bench:
        yield bench


def _in_group(update: dict, group_id: int = -100123) -> dict:  # type: ignore[type-arg]
    update["message"]["chat"] = {"id": group_id, "type": "supergroup", "title": "Nakes"}
    return update


async def test_start_in_a_group_links_to_a_private_chat_and_stores_nothing(
        tg: Bench, app: App) -> None:
    for text in ("/start", "/start@izin_test_bot", "/status"):
        resp = await tg.post(_in_group(text_update(tg.api, 501, text)))
        assert resp.status_code == 200
    resp = await tg.post(_in_group(text_update(tg.api, 502, "halo semua")))
    assert resp.status_code == 200
    await tg.channel.groups.wait()
    sent = tg.api.calls("sendMessage", chat_id=-100123)
    assert len(sent) == 1  # once, however many commands follow within the cooldown
    markup = sent[0].params["reply_markup"]
    [[button]] = markup["inline_keyboard"]
    assert button["url"] == "https://t.me/izin_test_bot"
    assert "chat pribadi" in sent[0].params["text"]
    assert await _count(app, Applicant) == 0
    assert await _count(app, InboundMessage) == 0
    assert await _count(app, OutboxMessage) == 0


async def test_a_private_chat_still_starts_a_conversation(tg: Bench, app: App) -> None:
    assert (await tg.post(text_update(tg.api, 503, "/start"))).status_code == 200
    await tg.settle()
    assert await _count(app, Applicant) == 1
    assert tg.api.delivered(503)


# ---- WhatsApp ----

@pytest.fixture
async def wa_h(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    async with harness(settings, clock) as h:
        yield h


async def test_every_message_is_marked_read_with_a_typing_indicator(wa_h: Harness) -> None:
    await wa_h.send(WA_ID, wa.text("halo"), wamid="wamid.READ1")
    await wa_h.run()
    await wa_h.worker.wait_marks()
    assert wa_h.graph.read == [("wamid.READ1", True)]
    assert wa_h.graph.to(WA_ID)  # and answered


async def test_a_refused_read_receipt_does_not_hold_up_the_reply(wa_h: Harness) -> None:
    wa_h.graph.fail_read.append(500)  # the read receipt's POST fails
    await wa_h.send(WA_ID, wa.text("halo"))
    await wa_h.run()
    await wa_h.worker.wait_marks()
    assert wa_h.graph.to(WA_ID) and wa_h.graph.read == []


async def test_the_window_runs_from_the_message_timestamp_not_its_arrival(
        wa_h: Harness, clock: Clock) -> None:
    sent_at = clock.now - timedelta(hours=25)
    await wa_h.send(WA_ID, wa.text("halo"), ts=int(sent_at.timestamp()))
    await wa_h.run()
    async with wa_h.app.sessions() as s:
        applicant = await s.scalar(select(Applicant))
        assert applicant is not None and applicant.last_inbound_at == sent_at
        rows = (await s.scalars(select(OutboxMessage))).all()
    # A reply outside the window is never tried free-form (it would fail with 131047).
    assert not [x for x in wa_h.graph.to(WA_ID) if x.type != "template"]
    assert rows and all(r.status != "sent" or r.template_name for r in rows)
    assert not [code for _, code in wa_h.graph.refused if code == 131047]


async def test_a_late_redelivery_never_moves_the_window_back(
        wa_h: Harness, clock: Clock) -> None:
    await wa_h.send(WA_ID, wa.text("halo"))
    await wa_h.run()
    await wa_h.send(WA_ID, wa.text("menu"), ts=int((clock.now - timedelta(hours=30)).timestamp()))
    await wa_h.run()
    async with wa_h.app.sessions() as s:
        applicant = await s.scalar(select(Applicant))
        assert applicant is not None and applicant.last_inbound_at == clock.now


def _number_change(old: str, new: str, *, legacy: bool = False) -> dict:  # type: ignore[type-arg]
    system = ({"body": f"User changed from {old} to {new}", "new_wa_id": new,
               "type": "customer_changed_number"} if legacy else
              {"body": f"User changed from {old} to {new}", "wa_id": new,
               "type": "user_changed_number"})
    return wa.envelope({"messages": [{"from": old, "id": wa.new_wamid(), "timestamp":
                                      "1764000000", "type": "system", "system": system}]})


@pytest.mark.parametrize("legacy", [False, True])
async def test_a_changed_number_carries_the_applicant_over(wa_h: Harness,
                                                           legacy: bool) -> None:
    first = await wa_h.say(WA_ID, "halo")
    second = await wa_h.say(WA_ID, "1")  # the first offered choice (a language)
    assert first and second
    before = len(wa_h.graph.sent)
    assert (await wa_h.post(_number_change(WA_ID, NEW_ID, legacy=legacy))).status_code == 200
    await wa_h.run()
    assert len(wa_h.graph.sent) == before  # nothing said to a message nobody wrote
    async with wa_h.app.sessions() as s:
        applicants = (await s.scalars(select(Applicant))).all()
    assert [a.external_id for a in applicants] == [NEW_ID]
    # The next message from the new number continues the same conversation.
    replies = await wa_h.say(NEW_ID, "menu")
    assert replies and await _count(wa_h.app, Applicant) == 1
    # Not greeted as a newcomer (that would ask for the language again).
    assert replies[-1].text != first[-1].text
    assert not any("belum memahami" in r.text for r in replies)
