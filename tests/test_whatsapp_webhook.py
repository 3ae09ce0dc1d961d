"""The webhook route: verification, signatures over the raw body, durable dedup by wamid,
out-of-order deliveries, statuses recorded against the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from bot.channels.whatsapp.signature import Verdict, check, sign
from bot.settings import Settings
from storage.models import (
    Applicant,
    InboundMessage,
    OutboxMessage,
    WhatsAppStatus,
)
from tests.conftest import Clock
from tests.fakes import graph_api as wa
from tests.fakes.whatsapp_harness import SECRET, VERIFY_TOKEN, Harness, harness

WA_ID = "6281234567890"
GOLDEN_BODY = (
    b'{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":'
    b'[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":'
    b'{"display_phone_number":"6281100000000","phone_number_id":"1000001"},"contacts":'
    b'[{"profile":{"name":"Siti"},"wa_id":"6281234567890"}],"messages":[{"from":'
    b'"6281234567890","id":"wamid.GOLDEN1","timestamp":"1764000000","type":"text",'
    b'"text":{"body":"halo"}}]}}]}]}'
)
# `openssl dgst -sha256 -hmac test-app-secret` of exactly these bytes.
GOLDEN_DIGEST = "sha256=344383740579dc0a7c715ee6579613f6c8d7fb97729b6d1e5603edc610940f3a"


@pytest.fixture
async def wa_h(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    async with harness(settings, clock) as h:
        yield h


async def _count(h: Harness, model: type) -> int:
    async with h.app.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def test_golden_signature_vector() -> None:
    assert sign(GOLDEN_BODY, SECRET) == GOLDEN_DIGEST
    assert check(GOLDEN_BODY, GOLDEN_DIGEST, SECRET) is Verdict.OK
    assert check(GOLDEN_BODY + b" ", GOLDEN_DIGEST, SECRET) is Verdict.WRONG
    assert check(GOLDEN_BODY, GOLDEN_DIGEST.removeprefix("sha256="), SECRET) is Verdict.WRONG
    assert check(GOLDEN_BODY, None, SECRET) is Verdict.MISSING


async def test_golden_body_through_the_route_is_recorded(wa_h: Harness) -> None:
    resp = await wa_h.http.post("/webhooks/whatsapp", content=GOLDEN_BODY, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": GOLDEN_DIGEST})
    assert resp.status_code == 200
    pending = await wa_h.app.runtime.pending("whatsapp")
    assert [(p.platform_id, p.chat_key) for p in pending] == [
        ("wamid.GOLDEN1", f"whatsapp:{WA_ID}")]


async def test_verification_handshake(wa_h: Harness) -> None:
    ok = await wa_h.http.get("/webhooks/whatsapp", params={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.text == "1158201444"
    bad = await wa_h.http.get("/webhooks/whatsapp", params={
        "hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"})
    assert bad.status_code == 403 and "1158201444" not in bad.text


async def test_missing_or_forged_signature_changes_nothing(wa_h: Harness) -> None:
    body = wa.inbound(WA_ID, wa.text("halo"))
    raw, headers = wa.signed(body, SECRET)
    missing = await wa_h.http.post("/webhooks/whatsapp", content=raw,
                                   headers={"Content-Type": "application/json"})
    forged = await wa_h.post(body, secret="not-the-secret")
    tampered = await wa_h.http.post("/webhooks/whatsapp", content=raw.replace(b"halo", b"hack"),
                                    headers=headers)
    assert (missing.status_code, forged.status_code, tampered.status_code) == (401, 403, 403)
    await wa_h.run()
    assert await _count(wa_h, InboundMessage) == 0
    assert await _count(wa_h, Applicant) == 0
    assert wa_h.graph.sent == []


async def test_a_redelivered_message_is_handled_once(wa_h: Harness, clock: Clock) -> None:
    body = wa.inbound(WA_ID, wa.text("halo"), ts=int(clock.now.timestamp()))
    for _ in range(3):  # Meta retries a webhook it did not see answered
        assert (await wa_h.post(body)).status_code == 200
    await wa_h.run()
    assert (await wa_h.post(body)).status_code == 200  # even after it was handled
    await wa_h.run()
    assert await _count(wa_h, InboundMessage) == 1
    assert len(wa_h.graph.to(WA_ID)) == 1  # one answer: the language question


async def test_out_of_order_messages_are_handled_in_the_order_sent(
    wa_h: Harness, clock: Clock
) -> None:
    t = int(clock.now.timestamp())
    await wa_h.send(WA_ID, wa.text("halo"), ts=t)
    await wa_h.run()
    # The language choice (sent first) arrives after the "menu" the applicant typed next.
    await wa_h.send(WA_ID, wa.text("menu"), ts=t + 20)
    await wa_h.send(WA_ID, wa.button_reply("lang:en", "English"), ts=t + 10)
    await wa_h.run()
    async with wa_h.app.sessions() as s:
        applicant = await s.scalar(select(Applicant).where(Applicant.external_id == WA_ID))
        assert applicant is not None and applicant.lang == "en"
    texts = [s.text for s in wa_h.graph.to(WA_ID)]
    # English first (its menu), then "menu" (the menu again); in arrival order "menu"
    # would have been not understood before a language was chosen.
    assert [t.split(":")[0] for t in texts[-2:]] == ["Main menu", "Main menu"]


async def test_statuses_out_of_order_never_downgrade_and_wait_for_their_row(
    wa_h: Harness, clock: Clock
) -> None:
    await wa_h.send(WA_ID, wa.text("halo"))
    await wa_h.worker.drain()
    # A status for a message whose wamid is not recorded yet: kept, no crash.
    early = wa.status("wamid.fake000001", "read", WA_ID, ts=1_764_000_300)
    assert (await wa_h.post(early)).status_code == 200
    await wa_h.worker.drain()
    assert await _count(wa_h, WhatsAppStatus) == 1
    await wa_h.dispatcher.drain()
    (sent,) = wa_h.graph.to(WA_ID)
    assert sent.wamid == "wamid.fake000001"
    for state, ts in [("delivered", 1_764_000_200), ("sent", 1_764_000_100)]:
        assert (await wa_h.post(wa.status(sent.wamid, state, WA_ID, ts=ts))).status_code == 200
    await wa_h.post(early)  # and a duplicate of the read
    await wa_h.worker.drain()
    async with wa_h.app.sessions() as s:
        row = await s.scalar(select(OutboxMessage))
        assert row is not None
        assert row.platform_status == "read" and row.status == "sent"
        assert row.read_at is not None and row.delivered_at is not None
        assert row.delivered_at < row.read_at
    assert await _count(wa_h, WhatsAppStatus) == 3


async def test_an_unknown_payload_with_a_good_signature_is_answered_200(wa_h: Harness) -> None:
    resp = await wa_h.post({"object": "whatsapp_business_account", "entry": [
        {"id": "1", "changes": [{"field": "account_update", "value": {"event": "X"}}]}]})
    assert resp.status_code == 200
    assert await _count(wa_h, InboundMessage) == 0
