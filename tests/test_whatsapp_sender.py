"""The sender against the fake Graph API: the 24-hour window and its templates, the
errors a sender meets (131047, 131026, 130429, 131056, 5xx), and a rate-limit storm."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.settings import Settings
from conversations.types import Choice, OutMessage
from service.inbound import get_or_create_applicant
from service.outbox import PRIORITY_NOTICE, enqueue
from storage.models import Applicant, OutboxMessage
from tests.conftest import Clock
from tests.fakes import graph_api as wa
from tests.fakes.whatsapp_harness import Harness, harness

WA_ID = "6281234567890"


@pytest.fixture
async def wa_h(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    async with harness(settings, clock, graph_clock=lambda: clock.now.timestamp()) as h:
        yield h


async def _greeted(h: Harness, wa_id: str = WA_ID) -> None:
    """The applicant wrote to us (opens the window) and got the language question."""
    await h.send(wa_id, wa.text("halo"))
    await h.run()


async def _notice(h: Harness, clock: Clock, message: OutMessage, *, wa_id: str = WA_ID,
                  notification_type: str | None = "permit_revoked") -> int:
    async with h.app.sessions() as s, s.begin():
        applicant = await get_or_create_applicant(s, "whatsapp", wa_id, clock.now)
        row = enqueue(s, applicant, message, now=clock.now, priority=PRIORITY_NOTICE,
                      notification_type=notification_type)
        await s.flush()
        return row.id


async def _row(h: Harness, row_id: int) -> OutboxMessage:
    async with h.app.sessions() as s:
        row = await s.get(OutboxMessage, row_id)
        assert row is not None
        return row


async def test_inside_the_window_a_notice_goes_free_form(wa_h: Harness, clock: Clock) -> None:
    await _greeted(wa_h)
    clock.advance(hours=23)
    rid = await _notice(wa_h, clock, OutMessage(kind="text", text="Izin Anda dicabut."))
    await wa_h.dispatcher.drain()
    last = wa_h.graph.to(WA_ID)[-1]
    assert last.type == "text" and last.text == "Izin Anda dicabut."
    assert (await _row(wa_h, rid)).template_name is None


async def test_outside_the_window_a_notice_goes_as_its_template(
    wa_h: Harness, clock: Clock
) -> None:
    await _greeted(wa_h)
    clock.advance(hours=25)
    text = "Izin PWK-1 dicabut.\n\nAlasan: data tidak benar."
    rid = await _notice(wa_h, clock, OutMessage(kind="text", text=text))
    await wa_h.dispatcher.drain()
    last = wa_h.graph.to(WA_ID)[-1]
    assert last.type == "template"
    template = last.body["template"]
    assert template["name"] == "izin_pemberitahuan" and template["language"] == {"code": "id"}
    # Template parameters hold no newlines.
    assert template["components"] == [{"type": "body", "parameters": [
        {"type": "text", "text": "Izin PWK-1 dicabut. Alasan: data tidak benar."}]}]
    row = await _row(wa_h, rid)
    assert row.status == "sent" and row.template_name == "izin_pemberitahuan"
    assert row.platform_message_id == last.wamid
    assert not [s for s in wa_h.graph.to(WA_ID) if s.type != "template"][1:]


async def test_a_choice_notice_outside_the_window_has_quick_reply_buttons(
    wa_h: Harness, clock: Clock
) -> None:
    await _greeted(wa_h)
    clock.advance(days=3)
    await _notice(wa_h, clock, OutMessage(kind="choices", text="Jawaban petugas: ...",
                                          choices=(Choice("!kr:ADU-1", "Balas"),)),
                  notification_type="complaint_answer")
    await wa_h.dispatcher.drain()
    template = wa_h.graph.to(WA_ID)[-1].body["template"]
    assert template["components"][-1] == {"type": "button", "sub_type": "quick_reply",
                                          "index": "0", "parameters": [
                                              {"type": "payload", "payload": "!kr:ADU-1"}]}


async def test_outside_the_window_a_reply_without_a_template_fails_and_is_not_sent(
    wa_h: Harness, clock: Clock
) -> None:
    await _greeted(wa_h)
    before = len(wa_h.graph.sent)
    clock.advance(hours=30)
    rid = await _notice(wa_h, clock, OutMessage(kind="text", text="late reply"),
                        notification_type=None)
    await wa_h.dispatcher.drain()
    row = await _row(wa_h, rid)
    assert row.status == "failed" and "24-hour window" in (row.last_error or "")
    assert len(wa_h.graph.sent) == before and not wa_h.graph.refused


async def test_131047_on_send_falls_back_to_the_template(wa_h: Harness, clock: Clock) -> None:
    await _greeted(wa_h)
    wa_h.graph.fail_next.append(131047)  # their clock says the window closed
    rid = await _notice(wa_h, clock, OutMessage(kind="text", text="Izin dicabut."))
    await wa_h.dispatcher.drain()
    assert wa_h.graph.refused == [(WA_ID, 131047)]
    last = wa_h.graph.to(WA_ID)[-1]
    assert last.type == "template"
    row = await _row(wa_h, rid)
    assert row.status == "sent" and row.template_name == "izin_pemberitahuan"


async def test_131047_in_a_failed_status_sends_the_template_after_all(
    wa_h: Harness, clock: Clock
) -> None:
    await _greeted(wa_h)
    rid = await _notice(wa_h, clock, OutMessage(kind="text", text="Izin dicabut."))
    await wa_h.dispatcher.drain()
    free_form = wa_h.graph.to(WA_ID)[-1]
    assert free_form.type == "text"
    await wa_h.post(wa.status(free_form.wamid, "failed", WA_ID, error_code=131047))
    await wa_h.run()
    sent = wa_h.graph.to(WA_ID)
    assert [s.type for s in sent[-2:]] == ["text", "template"]
    row = await _row(wa_h, rid)
    assert row.status == "sent" and row.template_name and row.platform_message_id == sent[-1].wamid
    assert (row.platform_error or "").startswith("131047")


async def test_131026_marks_the_applicant_unreachable(wa_h: Harness, clock: Clock) -> None:
    await _greeted(wa_h)
    wa_h.graph.fail_for[WA_ID].append(131026)
    rid = await _notice(wa_h, clock, OutMessage(kind="text", text="x"))
    await wa_h.dispatcher.drain()
    assert (await _row(wa_h, rid)).status == "unreachable"
    async with wa_h.app.sessions() as s:
        applicant = await s.scalar(select(Applicant).where(Applicant.external_id == WA_ID))
        assert applicant is not None and applicant.unreachable_at is not None


async def test_131026_in_a_failed_status_marks_unreachable(wa_h: Harness, clock: Clock) -> None:
    await _greeted(wa_h)
    (sent,) = wa_h.graph.to(WA_ID)
    await wa_h.post(wa.status(sent.wamid, "failed", WA_ID, error_code=131026))
    await wa_h.run()
    async with wa_h.app.sessions() as s:
        row = await s.scalar(select(OutboxMessage).where(
            OutboxMessage.platform_message_id == sent.wamid))
        assert row is not None and row.status == "unreachable"
        assert row.platform_status == "failed"


@pytest.mark.parametrize("code", [500, 131056])
async def test_server_errors_and_pair_limits_are_retried(
    wa_h: Harness, clock: Clock, code: int
) -> None:
    await _greeted(wa_h)
    wa_h.graph.fail_next.extend([code, code])
    rid = await _notice(wa_h, clock, OutMessage(kind="text", text="retry me"))
    await wa_h.dispatcher.drain()
    row = await _row(wa_h, rid)
    assert row.status == "pending" and row.next_attempt_at > clock.now
    for _ in range(3):
        clock.advance(minutes=5)
        await wa_h.dispatcher.drain()
    assert (await _row(wa_h, rid)).status == "sent"
    assert [s.text for s in wa_h.graph.to(WA_ID)].count("retry me") == 1


async def test_a_130429_storm_loses_nothing_and_sends_nothing_twice(
    wa_h: Harness, clock: Clock
) -> None:
    chats = [f"62812000000{n:02d}" for n in range(12)]
    for wa_id in chats:
        await wa_h.send(wa_id, wa.text("halo"))
    await wa_h.worker.drain()
    wa_h.graph.limit_per_second = 4  # the platform's pace, far below ours
    for wa_id in chats:
        for i in range(5):
            await _notice(wa_h, clock, OutMessage(kind="text", text=f"{wa_id}/{i}"),
                          wa_id=wa_id)
    for _ in range(400):
        await wa_h.dispatcher.drain()
        clock.advance(seconds=1)
        async with wa_h.app.sessions() as s:
            open_rows = (await s.scalars(select(OutboxMessage.id).where(
                OutboxMessage.status != "sent"))).all()
        if not open_rows:
            break
    assert not open_rows, "rows left unsent"
    assert sum(1 for _, code in wa_h.graph.refused if code == 130429) > 50  # a real storm
    counts = Counter(s.text for s in wa_h.graph.sent if s.type == "text")
    for wa_id in chats:
        assert [s.text for s in wa_h.graph.to(wa_id) if s.type == "text"] == [
            f"{wa_id}/{i}" for i in range(5)]  # each once, and in order
        assert all(counts[f"{wa_id}/{i}"] == 1 for i in range(5))


async def test_a_network_error_is_retried_later(wa_h: Harness, clock: Clock) -> None:
    import socket

    from bot.channels.whatsapp.graph import GraphClient
    from bot.channels.whatsapp.sender import WhatsAppSender
    from notifications.dispatcher import Delivery

    await _greeted(wa_h)
    rid = await _notice(wa_h, clock, OutMessage(kind="text", text="x"))
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    client = GraphClient(base=f"http://127.0.0.1:{closed}", token="t", phone_number_id="1")
    sender = WhatsAppSender(client=client, sessions=wa_h.app.sessions, files=wa_h.app.files,
                            templates=wa_h.sender.templates, clock=clock)
    try:
        result = await sender.send(Delivery.of(await _row(wa_h, rid)))
    finally:
        await client.aclose()
    assert not result.ok and not result.permanent and not result.unreachable
    assert (result.error or "").startswith("network")
