"""The runtime's transaction: duplicates, recorded-then-handled payloads, the outbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from bot.composition import App
from conversations.types import InboundEvent
from storage.models import Applicant, Blob, Conversation, InboundMessage, OutboxMessage


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
        assert await session.scalar(select(func.count()).select_from(Blob)) == 1
        assert await session.scalar(select(func.count()).select_from(InboundMessage)) == 10
