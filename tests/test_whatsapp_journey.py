"""A whole applicant journey over WhatsApp: signed webhooks of the real shape into the
real route, the worker, the engine, the outbox, the sender, and the fake Graph API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.settings import Settings
from storage.models import Applicant, Application, InboundMessage, OutboxMessage
from tests.conftest import Clock
from tests.fakes.whatsapp_harness import Harness, harness
from tests.journeys import apply_script

WA_ID = "6281234567890"


@pytest.fixture
async def wa(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    async with harness(settings, clock) as h:
        yield h


async def test_full_journey_with_buttons_lists_and_uploads(
    wa: Harness, clock: Clock, samples: dict[str, Path]
) -> None:
    entry = wa.app.catalog.get("purwakarta", "okupasi-terapis")
    lines = apply_script(entry, samples)
    for line in lines:
        await wa.say(WA_ID, line)
        clock.advance(seconds=5)

    async with wa.app.sessions() as s:
        applicant = await s.scalar(select(Applicant).where(
            Applicant.channel == "whatsapp", Applicant.external_id == WA_ID))
        assert applicant is not None and applicant.display_name == "Siti"
        application = await s.scalar(select(Application).where(
            Application.applicant_id == applicant.id).options(
                selectinload(Application.documents)))
        assert application is not None and application.region == "purwakarta"
        uploads = [x for x in lines if x.startswith("/upload")]
        assert len(application.documents) == len(uploads)
        outbox = (await s.scalars(select(OutboxMessage))).all()
        assert outbox and {r.status for r in outbox} == {"sent"}
        handled = (await s.scalars(select(InboundMessage))).all()
        assert {r.status for r in handled} == {"done"} and len(handled) == len(lines)

    sent = wa.graph.to(WA_ID)
    kinds = {s.body["interactive"]["type"] for s in sent if s.type == "interactive"}
    assert kinds == {"button", "list"}  # both were offered, and answered by tapping
    assert any(application.reg_no in s.text for s in sent[-3:])  # the confirmation
    # Documents and images were fetched the Cloud API way: URL by id, then the bytes.
    downloads = [p for m, p in wa.graph.requests if p.startswith("/download/")]
    infos = [p for m, p in wa.graph.requests if m == "GET" and p.startswith("/media-in-")]
    assert len(downloads) == len(uploads) == len(infos)
    for s in sent:
        if s.type == "interactive" and s.body["interactive"]["type"] == "button":
            assert len(s.options()) <= 3 and all(len(t) <= 20 for _, t in s.options())
        if s.type == "interactive" and s.body["interactive"]["type"] == "list":
            assert len(s.options()) <= 10 and all(len(t) <= 24 for _, t in s.options())
        if s.type == "interactive":
            assert len(s.text) <= 1024
        if s.type == "text":
            assert len(s.text) <= 4096
