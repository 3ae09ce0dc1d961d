"""Approval to permit in the chat (issue 6): produce, announce, survey, deliver, verify,
revoke, remind; and the IKM from the surveys the chat stored."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from bot.composition import App
from bot.http import create_http_app
from bot.jobs import run_once
from bot.signing import signer_from
from conversations.types import InboundEvent, OutMessage
from licensing.ikm import compute_ikm
from licensing.permit.signing import SignatureError, inspect_signed_pdf, make_dev_certificate
from licensing.skm import load_skm
from service import ikm, permits
from storage.models import (
    Application,
    ApplicationEvent,
    OutboxMessage,
    Permit,
    SurveyResponse,
)
from tests.conftest import Clock
from tests.journeys import STR_NUMBER, apply_script, run_script
from tests.samples import pdf_bytes
from tests.tools import run, tool


async def submit(app: App, user: str, region: str, profession: str,
                 samples: dict[str, Path]) -> str:
    await run_script(app, user, apply_script(app.catalog.get(region, profession), samples))
    async with app.sessions() as session:
        reg_no = await session.scalar(select(Application.reg_no).order_by(Application.id.desc()))
    assert reg_no
    return reg_no


async def approve(app: App, reg_no: str) -> None:
    """What the head of office's approval does for the permit: status and a pending permit."""
    async with app.sessions() as session, session.begin():
        application = await session.scalar(select(Application).where(
            Application.reg_no == reg_no))
        assert application is not None
        application.status = "approved"
        await permits.request_permit(session, application, now=app.runtime.clock())


async def say(app: App, user: str, event: InboundEvent, n: list[int]) -> list[OutMessage]:
    n[0] += 1
    outcome = await app.runtime.handle(channel="console", external_id=user,
                                       platform_id=f"{user}-{n[0]}", event=event)
    return list(outcome.messages)


async def outbox_for(app: App, user: str) -> list[OutMessage]:
    async with app.sessions() as session:
        rows = (await session.scalars(select(OutboxMessage).where(
            OutboxMessage.chat_id == user).order_by(OutboxMessage.id))).all()
    return [OutMessage.from_payload(r.payload) for r in rows]


def answer_ids() -> list[str]:
    """Choice ids answering the whole survey: first option of the profile, then 4,3,4,..."""
    skm = load_skm()
    ids = [f"sp:{q.key}:{q.options[0].key}" for q in skm.profile]
    ids += [f"se:{e.key}:{4 if i % 2 == 0 else 3}" for i, e in enumerate(skm.elements)]
    return ids


@pytest.fixture
def http(app: App) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_http_app(app=app)),
                             base_url="http://izin.test")


async def test_metro_permit_after_the_survey_signed_verified_and_revoked(
    app: App, clock: Clock, samples: dict[str, Path], http: httpx.AsyncClient, tmp_path: Path
) -> None:
    user, n = "metro-user", [0]
    reg_no = await submit(app, user, "metro", "okupasi-terapis", samples)
    await approve(app, reg_no)
    assert (await run_once(app, now=clock()))["permits_issued"] == 1
    assert (await run_once(app, now=clock()))["permits_issued"] == 0  # once

    # The announcement asks for the survey; no document yet.
    notice = (await outbox_for(app, user))[-1]
    assert notice.kind == "choices" and f"!survey:{reg_no}" in [c.id for c in notice.choices]
    assert all(m.kind != "document" for m in await outbox_for(app, user))

    # Asking for the permit before the survey starts the survey instead.
    out = await say(app, user, InboundEvent.choose(f"!permit:{reg_no}"), n)
    assert "Survei Kepuasan Masyarakat" in out[0].text
    assert all(m.kind != "document" for m in out)

    ids = answer_ids()
    for cid in ids[:6]:
        await say(app, user, InboundEvent.choose(cid), n)
    # Stop halfway; a stale button from an earlier question changes nothing.
    await say(app, user, InboundEvent.message("menu"), n)
    out = await say(app, user, InboundEvent.choose(ids[0]), n)
    out = await say(app, user, InboundEvent.choose(f"!survey:{reg_no}"), n)
    assert "Melanjutkan survei" in out[0].text
    assert "Pertanyaan 3/9" in out[-1].text  # 4 profile + 2 elements were answered
    for cid in ids[6:-1]:
        await say(app, user, InboundEvent.choose(cid), n)
    out = await say(app, user, InboundEvent.choose(ids[-1]), n)
    documents = [m for m in out if m.kind == "document"]
    assert len(documents) == 1 and documents[0].blob_sha256

    async with app.sessions() as session:
        survey = await session.scalar(select(SurveyResponse))
        permit = await session.scalar(select(Permit))
        application = await session.scalar(select(Application))
    assert survey is not None and permit is not None and application is not None
    skm = load_skm()
    assert survey.answers == {e.key: (4 if i % 2 == 0 else 3)
                              for i, e in enumerate(skm.elements)}
    assert survey.profile == {q.key: q.options[0].key for q in skm.profile}
    assert permit.delivered_at is not None and permit.number and permit.test
    assert permit.number.startswith("503/0001/SIPOT/DPMPTSP/XI/2026")
    assert application.status == "issued" and application.str_number == STR_NUMBER

    # The document: signed (TEST), valid for pdfsig and pyHanko, QR -> verify page.
    pdf = app.files.path_for(documents[0].blob_sha256).read_bytes()
    info = await asyncio.to_thread(inspect_signed_pdf, pdf)
    assert info.ok and info.is_test
    path = tmp_path / "permit.pdf"
    path.write_bytes(pdf)
    res = run(tool("pdfsig"), str(path))
    assert "Signature is Valid" in res.stdout, res.stdout + res.stderr
    run(tool("pdftoppm"), "-r", "150", "-png", "-singlefile", str(path), str(tmp_path / "p"))
    qr = run(tool("zbarimg"), "--quiet", "--raw", str(tmp_path / "p.png")).stdout.strip()
    assert qr == f"{app.settings.public_base_url}/verify/{permit.verify_code}"
    async with http:
        page = await http.get(qr.replace(app.settings.public_base_url, ""))
        assert page.status_code == 200 and 'data-status="valid"' in page.text
        assert permit.number in page.text and "Siti Aminah" in page.text
        assert "3201015701900001" not in page.text and "0812" not in page.text  # no NIK/phone

        # Revocation: the page says so and the holder hears of it.
        with pytest.raises(permits.PermitError):
            await permits.revoke(app.sessions, key=permit.number, reason="", actor="kadis",
                                 now=clock())
        await permits.revoke(app.sessions, key=permit.number, reason="STR tidak berlaku",
                             actor="kadis", now=clock())
        page = await http.get(f"/verify/{permit.verify_code}")
        assert 'data-status="revoked"' in page.text
        assert "STR tidak berlaku" in (await outbox_for(app, user))[-1].text
        assert (await http.get("/verify/" + "A" * 24)).status_code == 404
        assert (await http.get("/verify/not-a-code")).status_code == 404


async def test_pekanbaru_needs_no_survey_and_gets_the_document_at_once(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    user = "pku-user"
    reg_no = await submit(app, user, "pekanbaru", "okupasi-terapis", samples)
    await approve(app, reg_no)
    await run_once(app, now=clock())
    sent = await outbox_for(app, user)
    assert [m.kind for m in sent[-2:]] == ["text", "document"]
    async with app.sessions() as session:
        permit = await session.scalar(select(Permit))
        events = (await session.scalars(select(ApplicationEvent.action))).all()
    assert permit is not None and permit.delivered_at is not None
    assert "permit_issued" in events
    # Status offers the download again.
    out = await say(app, user, InboundEvent.message("/status"), [0])
    assert f"!permit:{reg_no}" in [c.id for m in out for c in m.choices]


async def test_numbers_run_per_region_and_year(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    for user in ("a", "b"):
        await approve(app, await submit(app, user, "metro", "okupasi-terapis", samples))
    await approve(app, await submit(app, "c", "pekanbaru", "okupasi-terapis", samples))
    await run_once(app, now=clock())
    async with app.sessions() as session:
        rows = (await session.execute(select(Permit.region, Permit.seq, Permit.number)
                                      .order_by(Permit.id))).all()
    assert [(r, s) for r, s, _ in rows] == [("metro", 1), ("metro", 2), ("pekanbaru", 1)]
    assert rows[0][2] != rows[1][2]


async def test_one_reminder_after_thirty_days_not_downloaded(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    user = "slow"
    await approve(app, await submit(app, user, "metro", "okupasi-terapis", samples))
    await run_once(app, now=clock())
    clock.advance(days=29, hours=23)
    assert await permits.remind_undelivered(app.sessions, now=clock()) == 0
    clock.advance(hours=2)
    assert await permits.remind_undelivered(app.sessions, now=clock()) == 1
    assert await permits.remind_undelivered(app.sessions, now=clock()) == 0
    clock.advance(days=40)
    assert await permits.remind_undelivered(app.sessions, now=clock()) == 0
    async with app.sessions() as session:
        reminders = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.notification_type == "permit_reminder"))
    assert reminders == 1


async def test_a_pdf_signed_elsewhere_is_stored_unchanged_and_junk_changes_nothing(
    app: App, clock: Clock, samples: dict[str, Path], tmp_path: Path
) -> None:
    reg_no = await submit(app, "ext", "pekanbaru", "okupasi-terapis", samples)
    await approve(app, reg_no)
    with pytest.raises(SignatureError):
        await permits.attach_signed_pdf(app.sessions, files=app.files, catalog=app.catalog,
                                        reg_no=reg_no, pdf=pdf_bytes("unsigned"),
                                        actor="kadis", now=clock())
    async with app.sessions() as session:
        permit = await session.scalar(select(Permit))
    assert permit is not None and permit.status == "pending" and permit.blob_sha256 is None

    p12 = tmp_path / "bsre.p12"
    make_dev_certificate(p12, b"pw", "Signer elsewhere")
    from licensing.permit.signing import sign_pdf
    signed = await asyncio.to_thread(
        lambda: sign_pdf(pdf_bytes("permit from elsewhere"), p12, b"pw", reason="Disetujui",
                         location="Pekanbaru", test=False))
    info = await permits.attach_signed_pdf(app.sessions, files=app.files, catalog=app.catalog,
                                           reg_no=reg_no, pdf=signed, actor="kadis",
                                           now=clock())
    assert info.signer_cn == "Signer elsewhere" and not info.is_test
    async with app.sessions() as session:
        permit = await session.scalar(select(Permit))
    assert permit is not None and permit.status == "issued" and permit.source == "uploaded"
    assert app.files.path_for(permit.blob_sha256 or "").read_bytes() == signed
    # Nothing is left for the office's own signer to do.
    assert (await run_once(app, now=clock()))["permits_issued"] == 0


async def test_ikm_report_from_chat_surveys_matches_the_hand_computation(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    skm = load_skm()
    keys = [e.key for e in skm.elements]
    # Two respondents. By hand: NRR per element = (4+2)/2 = 3.00 for the first five,
    # (3+3)/2 = 3.00 ... all 3.00 -> weighted sum 3.00 -> IKM 75.00, grade C (< 76.61).
    plans = [[4, 4, 4, 4, 4, 3, 3, 3, 3], [2, 2, 2, 2, 2, 3, 3, 3, 3]]
    for i, plan in enumerate(plans):
        user, n = f"r{i}", [0]
        reg_no = await submit(app, user, "metro", "okupasi-terapis", samples)
        await approve(app, reg_no)
        await run_once(app, now=clock())
        await say(app, user, InboundEvent.choose(f"!survey:{reg_no}"), n)
        for q in skm.profile:
            await say(app, user, InboundEvent.choose(f"sp:{q.key}:{q.options[i].key}"), n)
        for key, value in zip(keys, plan, strict=True):
            await say(app, user, InboundEvent.choose(f"se:{key}:{value}"), n)
    today = clock().date()
    rep = await ikm.report(app.sessions, app.catalog, region="metro",
                           start=today - timedelta(days=1), end=today)
    assert rep.result is not None
    assert rep.result.nrr == dict.fromkeys(keys, Decimal("3.00"))
    assert rep.result.ikm == Decimal("75.00") and rep.result.grade.letter == "C"
    assert rep.result == compute_ikm([dict(zip(keys, p, strict=True)) for p in plans])
    assert rep.sample.respondents == 2 and rep.sample.population == 2
    assert rep.sample.required == 2  # Krejcie-Morgan of 2 is 2
    assert sum(rep.profiles["sex"].values()) == 2
    other = await ikm.report(app.sessions, app.catalog, region="pekanbaru",
                             start=today - timedelta(days=1), end=today)
    assert other.result is None and other.sample.respondents == 0


def test_dev_certificate_is_made_once_and_marked_test(app: App) -> None:
    signer = signer_from(app.settings)
    assert signer.test and signer.p12_path.exists()
    before = signer.p12_path.read_bytes()
    assert signer_from(app.settings).p12_path.read_bytes() == before
