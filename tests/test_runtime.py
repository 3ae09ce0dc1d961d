"""The runtime's transaction: duplicates, recorded-then-handled payloads, the outbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select, update

from bot.composition import App
from conversations.types import InboundEvent, OutMessage
from service.outbox import PRIORITY_REPLY
from storage.models import Applicant, Blob, Conversation, InboundMessage, OutboxMessage
from tests.conftest import Clock


async def _count(app: App, model: type) -> int:
    async with app.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_repeated_platform_id_is_handled_once(app: App) -> None:
    kwargs = dict(channel="telegram", external_id="42", platform_id="u-1",
                  event=InboundEvent.message("halo"))
    first = await app.runtime.handle(**kwargs)  # type: ignore[arg-type]
    second = await app.runtime.handle(**kwargs)  # type: ignore[arg-type]
    assert not first.duplicate and first.messages
    assert second.duplicate and not second.messages
    assert await _count(app, OutboxMessage) == len(first.messages)
    assert await _count(app, InboundMessage) == 1


async def test_recorded_payload_is_handled_exactly_once(app: App) -> None:
    rt = app.runtime
    rid = await rt.record_pending(channel="telegram", platform_id="9", chat_key="telegram:7",
                                  payload={"update_id": 9})
    assert rid is not None
    assert await rt.record_pending(channel="telegram", platform_id="9",
                                   chat_key="telegram:7", payload={"update_id": 9}) is None
    assert [r.id for r in await rt.pending("telegram")] == [rid]
    # Nothing about the chat exists until the payload is handled.
    assert await _count(app, Applicant) == 0

    out = await rt.handle(channel="telegram", external_id="7", platform_id="9",
                          event=InboundEvent.message("halo"), pending_id=rid)
    again = await rt.handle(channel="telegram", external_id="7", platform_id="9",
                            event=InboundEvent.message("halo"), pending_id=rid)
    assert not out.duplicate and again.duplicate
    assert await rt.pending("telegram") == []
    assert await _count(app, Conversation) == 1


async def test_failed_payload_is_kept_and_not_pending(app: App) -> None:
    rt = app.runtime
    rid = await rt.record_pending(channel="whatsapp", platform_id="wamid.X",
                                  chat_key="whatsapp:62811", payload={"x": 1})
    assert rid is not None
    await rt.mark_failed(rid, "boom")
    assert await rt.pending("whatsapp") == []
    async with app.sessions() as s:
        row = await s.get(InboundMessage, rid)
        assert row is not None and row.status == "failed" and row.error == "boom"


async def test_the_same_scan_from_many_chats_at_once_is_recorded_once(
    app: App, samples: dict[str, Path]
) -> None:
    # The file store is content-addressed: ten applicants sending the same bytes at the
    # same moment all get their upload, and the blob is one row.
    blob = await app.files.ingest_path(samples["pdf"])
    event = InboundEvent.upload(blob.sha256, blob.kind, blob.size)
    outcomes = await asyncio.gather(*(
        app.runtime.handle(channel="console", external_id=f"u{n}", platform_id=f"p{n}",
                           event=event, blob=blob)
        for n in range(10)))
    assert [o.duplicate for o in outcomes] == [False] * 10
    async with app.sessions() as session:
        # Sent before any conversation, nobody asked for it: acknowledged, not kept.
        assert await session.scalar(select(func.count()).select_from(Blob)) == 0
    assert not app.files.exists(blob.sha256)
    assert all("not kept" in o.messages[0].text for o in outcomes)
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(InboundMessage)) == 10


async def test_each_event_touches_the_applicant_and_keeps_a_name_once_given(
    app: App, clock: Clock
) -> None:
    rt = app.runtime
    await rt.handle(channel="telegram", external_id="5", platform_id="a",
                    event=InboundEvent.message("halo"), display_name="Sari")
    async with app.sessions() as s:
        await s.execute(update(Applicant).values(unreachable_at=clock.now))
        await s.commit()
    clock.advance(minutes=3)
    out = await rt.handle(channel="telegram", external_id="5", platform_id="b",
                          event=InboundEvent.message("1"), display_name="Someone else")
    async with app.sessions() as s:
        applicant = await s.scalar(select(Applicant))
        conv = await s.scalar(select(Conversation))
    assert applicant is not None and conv is not None
    assert applicant.id == out.applicant_id
    assert applicant.display_name == "Sari"  # the first name given stays
    assert applicant.unreachable_at is None  # they just wrote to us
    assert applicant.last_inbound_at == clock.now
    assert conv.version == 2 and conv.updated_at == clock.now
    assert conv.state["lang"] == "id"  # the second event chose Indonesian


async def test_a_turns_replies_are_queued_in_order(app: App) -> None:
    out = await app.runtime.handle(channel="console", external_id="9", platform_id="x",
                                   event=InboundEvent.message("halo"))
    out = await app.runtime.handle(channel="console", external_id="9", platform_id="y",
                                   event=InboundEvent.message("1"))
    assert len(out.messages) >= 2  # the greeting, then the menu
    async with app.sessions() as s:
        rows = (await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    last = [OutMessage.from_payload(r.payload) for r in rows[-len(out.messages):]]
    assert last == list(out.messages)
    assert {(r.status, r.priority, r.chat_id, r.applicant_id) for r in rows} == {
        ("pending", PRIORITY_REPLY, "9", out.applicant_id)}


async def test_a_recorded_payload_handled_by_two_workers_at_once_runs_once(app: App) -> None:
    rt = app.runtime
    rid = await rt.record_pending(channel="telegram", platform_id="77", chat_key="telegram:8",
                                  payload={"update_id": 77})
    outcomes = await asyncio.gather(*(
        rt.handle(channel="telegram", external_id="8", platform_id="77",
                  event=InboundEvent.message("halo"), pending_id=rid)
        for _ in range(2)))
    assert sorted(o.duplicate for o in outcomes) == [False, True]
    assert await _count(app, OutboxMessage) == len(
        next(o for o in outcomes if not o.duplicate).messages)
