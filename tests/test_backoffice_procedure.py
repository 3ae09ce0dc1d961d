"""The office's procedure from the catalog, through the HTTP app: file checking with a
rejection and its correction, the receipt and the clock, every step of Pekanbaru's and
Purwakarta's chains, the decision, the applicant's messages and the control card."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.composition import App
from conversations.types import OutMessage
from licensing.catalog import Catalog
from storage.models import ApplicationDocument, Permit
from tests.conftest import Clock
from tests.journeys import run_script
from tests.office_flow import (
    Office,
    applicant_fixes,
    application,
    available_forms,
    card,
    notices,
    username,
)
from tests.test_permit_journey import submit

CATALOG = Catalog.load()


def text_of(row: object) -> str:
    return OutMessage.from_payload(row.payload).text  # type: ignore[attr-defined]


async def test_pekanbaru_nine_steps_with_a_rejected_scan_corrected(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    entry = CATALOG.get("pekanbaru", "okupasi-terapis")
    assert len(entry.procedure) == 9
    user, n = "pku-user", [0]
    reg_no = await submit(app, user, "pekanbaru", "okupasi-terapis", samples)
    fo = username("front_office", "pekanbaru")
    async with Office(app, "pekanbaru") as office:
        queue = await office["front_office"].get("/office/queue")
        assert reg_no in queue.text and "belum berjalan" in queue.text
        page = await office.page("front_office", reg_no)
        assert available_forms(page.text) == ["check_files"]
        assert "Pemeriksaan berkas — Front Office" in page.text  # the chat's step name
        codes = [d.requirement_code for d in (await docs(app, reg_no))]

        # One scan rejected, the rest accepted: one message to the applicant.
        verdicts: dict[str, str | tuple[str, str]] = {c: "accept" for c in codes}
        verdicts["ktp"] = ("reject", "Foto KTP buram, tidak terbaca")
        res = await office.review("front_office", reg_no, verdicts)
        assert res.status_code == 303
        sent = await notices(app, user)
        assert [r.notification_type for r in sent] == ["documents_rejected"]
        ktp = entry.requirement("ktp").title
        assert f"• {ktp}: Foto KTP buram, tidak terbaca" in text_of(sent[0])
        assert text_of(sent[0]).count("•") == 1  # only the rejected one is listed
        assert sent[0].payload["choices"][0]["id"] == f"!fix:{reg_no}"
        assert sent[0].priority == 5
        a = await application(app, reg_no)
        assert a.step_code == "pemeriksaan_berkas" and a.due_on is None
        queue = await office["front_office"].get("/office/queue")
        assert "menunggu perbaikan pemohon" in queue.text

        # The chat's status shows the rejected document and the step, in the office
        # terms an applicant knows (the counter, not "Front Office").
        out = await run_script(app, user, ["Status"])
        assert "Foto KTP buram" in out and "Pemeriksaan berkas — loket pelayanan" in out

        # The applicant replaces just that scan; it comes back to the same officer.
        reply = await applicant_fixes(app, user, reg_no, samples["pdf2"], n)
        assert "dikirim kembali" in reply
        reviews = {d.requirement_code: d.review for d in await docs(app, reg_no)}
        assert reviews["ktp"] == "pending"
        assert {c for c, r in reviews.items() if r != "accepted"} == {"ktp"}
        page = await office.page("front_office", reg_no)
        assert page.text.count('value="accept"') == 1  # only the replaced scan to check

        clock.advance(hours=1)
        res = await office.review("front_office", reg_no, {"ktp": "accept"})
        assert res.status_code == 303
        a = await application(app, reg_no)
        assert a.step_code == "blanko"
        assert a.clock_started_on == date(2026, 11, 23) and a.due_on == date(2026, 11, 25)
        sent = await notices(app, user)
        assert [r.notification_type for r in sent][1:] == ["receipt", "step_change"]
        assert "25 November 2026" in text_of(sent[1]) and "2 hari kerja lagi" in text_of(
            sent[1])
        assert "Penyusunan draf izin — Back Office" in text_of(sent[2])

        # Back office drafts; three verifiers' initials; the head signs (the decision).
        for role, step in [("back_office", "blanko"), ("verifier", "paraf_ahli_muda"),
                           ("verifier", "paraf_ahli_madya"), ("verifier", "paraf_sekretaris")]:
            assert (await application(app, reg_no)).step_code == step
            res = await office.act(role, reg_no, "initial" if role == "verifier" else "draft")
            assert res.status_code == 303, res.text
        res = await office.act("head_of_office", reg_no, "sign", "Disetujui")
        assert res.status_code == 303
        a = await application(app, reg_no)
        assert a.status == "approved" and a.decided_at is not None and a.step_code == "penomoran"
        async with app.sessions() as s:
            permit = await s.scalar(select(Permit))
        assert permit is not None and permit.status == "pending"
        res = await office.act("back_office", reg_no, "number")
        assert res.status_code == 303
        a = await application(app, reg_no)
        assert a.step_code == "penerimaan_izin"  # the applicant's step: the office is done
        for role in ("front_office", "back_office", "verifier", "head_of_office"):
            assert reg_no not in (await office[role].get("/office/queue")).text

    events = await card(app, reg_no)
    assert [e[1] for e in events] == ["submit", "check_files", "resubmit", "check_files",
                                      "receipt", "draft", "initial", "initial", "initial",
                                      "sign", "number"]
    assert [e[3] for e in events] == [
        "pemeriksaan_berkas", "pemeriksaan_berkas", "pemeriksaan_berkas",
        "pemeriksaan_berkas", "blanko", "paraf_ahli_muda", "paraf_ahli_madya",
        "paraf_sekretaris", "tanda_tangan", "penomoran", "penerimaan_izin"]
    assert events[1][0] == fo and events[2][0] == "applicant"
    kinds = [r.notification_type for r in await notices(app, user)]
    assert kinds == ["documents_rejected", "receipt", "step_change", "step_change",
                     "step_change", "step_change", "step_change", "decision", "step_change"]


async def docs(app: App, reg_no: str) -> list[ApplicationDocument]:
    a = await application(app, reg_no)
    async with app.sessions() as s:
        return list((await s.scalars(select(ApplicationDocument).where(
            ApplicationDocument.application_id == a.id).order_by(
            ApplicationDocument.id))).all())


async def test_purwakarta_check_receipt_technical_team_and_head(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    user = "pwk-user"
    reg_no = await submit(app, user, "purwakarta", "okupasi-terapis", samples)
    async with Office(app, "purwakarta") as office:
        codes = [d.requirement_code for d in await docs(app, reg_no)]
        assert (await office.review("front_office", reg_no,
                                    {c: "accept" for c in codes})).status_code == 303
        a = await application(app, reg_no)
        assert a.step_code == "tanda_terima" and a.due_on is None  # receipt is its own step
        page = await office.page("front_office", reg_no)
        assert available_forms(page.text) == ["receipt"]
        assert (await office.act("front_office", reg_no, "receipt")).status_code == 303
        a = await application(app, reg_no)
        assert a.step_code == "kajian_teknis" and a.due_on == date(2026, 12, 2)

        page = await office.page("technical_team", reg_no)
        assert available_forms(page.text) == ["technical_review", "site_visit"]
        assert (await office.act("technical_team", reg_no, "site_visit")).status_code == 303
        assert (await application(app, reg_no)).step_code == "kajian_teknis"  # a note only
        assert (await office.act("technical_team", reg_no,
                                 "technical_review")).status_code == 303
        assert (await office.act("technical_team", reg_no, "recommend")).status_code == 303
        a = await application(app, reg_no)
        assert a.step_code == "penetapan" and a.status == "open"
        page = await office.page("head_of_office", reg_no)
        assert available_forms(page.text) == ["approve", "reject"]
        assert "Rekomendasi setuju" in page.text and "Lokasi praktik ditinjau" in page.text
        assert (await office.act("head_of_office", reg_no, "approve")).status_code == 303
        a = await application(app, reg_no)
        assert a.status == "approved" and a.step_code == "hasil_penetapan"
        assert (await office.act("head_of_office", reg_no, "sign")).status_code == 303
        a = await application(app, reg_no)
        assert a.step_code == "survei"
        async with app.sessions() as s:
            assert len((await s.scalars(select(Permit))).all()) == 1  # one approval only

    assert [e[1] for e in await card(app, reg_no)] == [
        "submit", "check_files", "receipt", "site_visit", "technical_review", "recommend",
        "approve", "sign"]
    sent = await notices(app, user)
    assert [r.notification_type for r in sent] == [
        "step_change", "receipt", "step_change", "step_change", "step_change", "decision",
        "step_change"]
    assert "2 Desember 2026" in text_of(sent[1])
    assert "DISETUJUI" in text_of(sent[5])


async def test_head_rejects_with_reasons_sent_in_the_applicants_language(
    app: App, samples: dict[str, Path]
) -> None:
    user = "pwk-en"
    reg_no = await submit(app, user, "purwakarta", "okupasi-terapis", samples)
    a = await application(app, reg_no)
    async with app.sessions() as s, s.begin():
        stored = await s.get(type(a), a.id)
        assert stored is not None
        stored.lang = "en"
    async with Office(app, "purwakarta") as office:
        codes = [d.requirement_code for d in await docs(app, reg_no)]
        await office.review("front_office", reg_no, {c: "accept" for c in codes})
        await office.act("front_office", reg_no, "receipt")
        await office.act("technical_team", reg_no, "technical_review")
        res = await office.act("technical_team", reg_no, "recommend", "STR kedaluwarsa",
                               recommendation="tolak")
        assert res.status_code == 303
        res = await office.act("head_of_office", reg_no, "reject", "")
        assert res.status_code == 400 and "alasan" in res.text  # a reason is required
        res = await office.act("head_of_office", reg_no, "reject",
                               "STR sudah tidak berlaku sejak Oktober 2026")
        assert res.status_code == 303
        a = await application(app, reg_no)
        assert a.status == "rejected" and a.decided_at is not None
        assert a.decision_note == "STR sudah tidak berlaku sejak Oktober 2026"
        assert reg_no not in (await office["head_of_office"].get("/office/queue")).text
        page = await office.page("head_of_office", reg_no)
        assert available_forms(page.text) == []
    last = (await notices(app, user))[-1]
    assert last.notification_type == "decision"
    assert "REJECTED" in text_of(last) and "STR sudah tidak berlaku" in text_of(last)
    async with app.sessions() as s:
        assert (await s.scalars(select(Permit))).all() == []


@pytest.mark.parametrize("key", [e.key for e in CATALOG], ids=["/".join(e.key) for e in CATALOG])
async def test_every_standard_runs_to_the_end_from_its_data(
    app: App, samples: dict[str, Path], key: tuple[str, str]
) -> None:
    entry = CATALOG.get(*key)
    user = f"walk-{key[0]}"
    reg_no = await submit(app, user, *key, samples)
    async with Office(app, key[0]) as office:
        passed = await office.walk(entry, reg_no)
    assert passed == [s.code for s in entry.office_steps]
    a = await application(app, reg_no)
    assert a.status == "approved" and a.due_on is not None
    async with app.sessions() as s:
        assert len((await s.scalars(select(Permit))).all()) == 1
    # Each step's change told the applicant; the card has every office step's action.
    events = await card(app, reg_no)
    assert {e[2] for e in events if e[0] != "applicant"} == set(passed)
    assert len([r for r in await notices(app, user)
                if r.notification_type in ("step_change", "decision")]) >= len(passed)
