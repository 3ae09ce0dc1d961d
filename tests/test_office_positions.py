"""The procedure's performers as data: positions, one person per position on a file,
returns from every step, checks that are decisions, numbering at its own step, the
card with names and NIP, internal notes. Every refusal leaves the database unchanged."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.composition import App
from bot.signing import signer_from
from conversations.types import OutMessage
from service.permits import produce_pending
from storage.models import ApplicationDocument, Permit
from tests.conftest import Clock
from tests.office_client import Browser, make_staff
from tests.office_flow import (
    Office,
    applicant_fixes,
    application,
    available_forms,
    card,
    notices,
    snapshot,
    step_of,
)
from tests.test_permit_journey import submit

pytestmark = pytest.mark.slow

PKU = ("pekanbaru", "okupasi-terapis")


def text_of(row: object) -> str:
    return OutMessage.from_payload(row.payload).text  # type: ignore[attr-defined]


async def _to_step(office: Office, reg_no: str, code: str) -> None:
    """Walk the file forward, one position's account per step, until it sits at `code`."""
    for _ in range(20):
        a = await application(office.app, reg_no)
        if a.step_code == code:
            return
        entry = office.app.catalog.get(a.region, a.profession)
        step = entry.step(a.step_code)
        page = await office.page(step.role.value, reg_no)
        forms = available_forms(page.text)
        if "check_files" in forms:
            codes = re.findall(r'name="d_([a-z0-9_]+)"', page.text)
            res = await office.review(step.role.value, reg_no, {c: "accept" for c in codes})
        else:
            action = next(f for f in forms if f not in ("reject", "site_visit"))
            res = await office.act(step.role.value, reg_no, action, "ok")
        assert res.status_code == 303, res.text
    raise AssertionError(f"never reached {code}")


async def _return(office: Office, key: str, reg_no: str, to: str, reason: str,
                  documents: tuple[str, ...] = ()) -> object:
    browser = await office.who(key, reg_no)
    page = await browser.get(f"/office/applications/{reg_no}")
    data: dict[str, object] = {"step": step_of(page.text), "to": to, "reason": reason}
    if documents:
        data["documents"] = list(documents)
    return await browser.post(f"/office/applications/{reg_no}/return", data)


async def test_one_account_never_initials_twice_on_one_file(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    reg_no = await submit(app, "pku-1", *PKU, samples)
    async with Office(app, "pekanbaru") as office:
        # One verifier who holds both JF positions (a small office's roster).
        await make_staff(app, "jf.ganda", "verifier", "pekanbaru",
                         positions=["jf_ahli_muda", "jf_ahli_madya"])
        both = Browser(app)
        assert (await both.login("jf.ganda")).status_code == 303
        await _to_step(office, reg_no, "paraf_ahli_muda")
        page = await both.get(f"/office/applications/{reg_no}")
        res = await both.post(f"/office/applications/{reg_no}/act",
                              {"step": step_of(page.text), "action": "initial", "note": ""})
        assert res.status_code == 303
        assert (await application(app, reg_no)).step_code == "paraf_ahli_madya"
        # Same account, next paraf: it holds the position, but it already initialled.
        page = await both.get(f"/office/applications/{reg_no}")
        before = await snapshot(app)
        res = await both.post(f"/office/applications/{reg_no}/act",
                              {"step": step_of(page.text), "action": "initial", "note": ""})
        assert res.status_code == 403
        assert "JF Analis Kebijakan Ahli Muda" in res.text and "petugas lain" in res.text
        assert await snapshot(app) == before
        # ...nor return it from there (that is acting on the step too).
        res = await both.post(f"/office/applications/{reg_no}/return",
                              {"step": "paraf_ahli_madya", "to": "blanko", "reason": "coba"})
        assert res.status_code == 403 and await snapshot(app) == before
        # Another holder of Ahli Madya initials it.
        res = await office.act("jf_ahli_madya", reg_no, "initial", "")
        assert res.status_code == 303
        await both.http.aclose()
    actors = [e[0] for e in await card(app, reg_no) if e[1] == "initial"]
    assert actors == ["jf.ganda", "jabatan-jf-ahli-madya.pekanbaru"]


async def test_only_the_steps_position_acts_and_sees_it_in_its_queue(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    reg_no = await submit(app, "pku-2", *PKU, samples)
    async with Office(app, "pekanbaru") as office:
        await _to_step(office, reg_no, "paraf_ahli_madya")
        # The role "verifier" account holds Ahli Muda only: not this step's position.
        muda = office["verifier"]
        page = await muda.get(f"/office/applications/{reg_no}")
        assert available_forms(page.text) == [] and "data-return-form" not in page.text
        assert "JF Analis Kebijakan Ahli Madya" in page.text
        assert reg_no not in (await muda.get("/office/queue")).text
        assert reg_no in (await office["jf_ahli_madya"].get("/office/queue")).text
        before = await snapshot(app)
        res = await muda.post(f"/office/applications/{reg_no}/act",
                              {"step": "paraf_ahli_madya", "action": "initial"})
        assert res.status_code == 403 and "tidak memegang jabatan" in res.text
        res = await muda.post(f"/office/applications/{reg_no}/return",
                              {"step": "paraf_ahli_madya", "to": "blanko", "reason": "x y z"})
        assert res.status_code == 403
        assert await snapshot(app) == before


async def test_a_return_from_every_step_told_and_carded(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    """Pekanbaru: each office step after the first sends the file back to the step
    before it (another performer), which does its work again; the file then goes on."""
    user = "pku-3"
    reg_no = await submit(app, user, *PKU, samples)
    entry = app.catalog.get(*PKU)
    steps = [s.code for s in entry.office_steps]
    async with Office(app, "pekanbaru") as office:
        await _to_step(office, reg_no, steps[1])
        for i, code in enumerate(steps[1:], start=1):
            await _to_step(office, reg_no, code)
            role = entry.step(code).role.value
            page = await office.page(role, reg_no)
            assert "data-return-form" in page.text
            earlier = steps[i - 1]
            # Refusals first: no reason; a later step; each leaves everything as it was.
            before = await snapshot(app)
            assert (await _return(office, role, reg_no, earlier, "")).status_code == 400
            later = steps[i + 1] if i + 1 < len(steps) else "penerimaan_izin"
            assert (await _return(office, role, reg_no, later, "alasan")).status_code == 400
            assert await snapshot(app) == before
            res = await _return(office, role, reg_no, earlier, f"Perbaiki dari {code}")
            assert res.status_code == 303, res.text
            a = await application(app, reg_no)
            assert a.step_code == earlier
            last = (await card(app, reg_no))[-1]
            assert last[1:] == ("return", code, earlier)
            told = text_of((await notices(app, user))[-1])
            assert "dikembalikan" in told and reg_no in told
        await _to_step(office, reg_no, "penerimaan_izin")
    returns = [e for e in await card(app, reg_no) if e[1] == "return"]
    assert len(returns) == len(steps) - 1
    # Returned to the front office, the scans were decided again, scan by scan, and the
    # applicant got one receipt only.
    kinds = [r.notification_type for r in await notices(app, user)]
    assert kinds.count("receipt") == 1


async def test_a_return_to_the_applicant_for_documents(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    user, n = "pku-4", [0]
    reg_no = await submit(app, user, *PKU, samples)
    async with Office(app, "pekanbaru") as office:
        await _to_step(office, reg_no, "paraf_ahli_muda")
        before = await snapshot(app)
        res = await _return(office, "verifier", reg_no, "applicant", "STR buram")
        assert res.status_code == 400 and await snapshot(app) == before  # which documents?
        res = await _return(office, "verifier", reg_no, "applicant", "STR buram, kirim ulang",
                            documents=("str",))
        assert res.status_code == 303, res.text
        a = await application(app, reg_no)
        assert a.step_code == "pemeriksaan_berkas"
        async with app.sessions() as s:
            doc = await s.scalar(select(ApplicationDocument).where(
                ApplicationDocument.requirement_code == "str"))
        assert doc is not None and doc.review == "rejected"
        last = (await notices(app, user))[-1]
        assert last.notification_type == "documents_rejected"
        assert "STR buram, kirim ulang" in text_of(last)
        await applicant_fixes(app, user, reg_no, samples["pdf2"], n)
        page = await office.page("front_office", reg_no)
        assert available_forms(page.text)[0] == "check_files"
        await _to_step(office, reg_no, "paraf_ahli_muda")
    kinds = [r.notification_type for r in await notices(app, user)]
    assert kinds.count("receipt") == 1


async def test_the_check_needs_a_decision_per_scan(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    reg_no = await submit(app, "pku-5", *PKU, samples)
    async with Office(app, "pekanbaru") as office:
        page = await office.page("front_office", reg_no)
        codes = list(dict.fromkeys(re.findall(r'name="d_([a-z0-9_]+)"', page.text)))
        assert codes and " checked" not in page.text.split('data-form="check_files"')[1] \
            .split("</form>")[0]
        assert "<iframe" in page.text or "<img" in page.text  # the scan beside its line
        before = await snapshot(app)
        partial = {c: "accept" for c in codes[:-1]}
        res = await office.review("front_office", reg_no, partial)
        assert res.status_code == 400 and "Putuskan setiap berkas" in res.text
        assert await snapshot(app) == before
        doc = await office["front_office"].get(
            f"/office/applications/{reg_no}/documents/{codes[0]}")
        assert doc.headers["x-frame-options"] == "SAMEORIGIN"


async def test_pekanbaru_numbers_at_penomoran_not_at_the_signature(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    signer = signer_from(app.settings)
    reg_no = await submit(app, "pku-6", *PKU, samples)
    async with Office(app, "pekanbaru") as office:
        await _to_step(office, reg_no, "penomoran")
        async with app.sessions() as s:
            permit = await s.scalar(select(Permit))
        assert permit is not None and permit.number is None and not permit.ready
        # Signed but not numbered: nothing is produced.
        assert await produce_pending(app.sessions, catalog=app.catalog, files=app.files,
                                     signer=signer, now=clock()) == 0
        page = await office.page("back_office", reg_no)
        assert "Nomor izin diberikan pada tahap" in page.text
        res = await office.act("back_office", reg_no, "number", "")
        assert res.status_code == 303
        async with app.sessions() as s:
            permit = await s.scalar(select(Permit))
        assert permit is not None and permit.number and permit.ready
        numbered = [e for e in await card(app, reg_no) if e[1] == "number"]
        assert len(numbered) == 1
        page = await office.page("back_office", reg_no)
        assert f"Nomor izin {permit.number}" in page.text
    assert await produce_pending(app.sessions, catalog=app.catalog, files=app.files,
                                 signer=signer, now=clock()) == 1
    async with app.sessions() as s:
        issued = await s.scalar(select(Permit))
    assert issued is not None and issued.status == "issued" and issued.number == permit.number


async def test_metro_numbers_as_the_head_signs_and_says_so(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    reg_no = await submit(app, "mtr-1", "metro", "okupasi-terapis", samples)
    async with Office(app, "metro") as office:
        await _to_step(office, reg_no, "tanda_tangan")
        page = await office.page("head_of_office", reg_no)
        assert "TTE memerlukan nomor" in page.text
        res = await office.act("head_of_office", reg_no, "sign", "Disetujui")
        assert res.status_code == 303
    async with app.sessions() as s:
        permit = await s.scalar(select(Permit))
    assert permit is not None and permit.number and permit.ready


async def test_the_card_names_officers_with_nip_in_indonesian(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    reg_no = await submit(app, "pku-7", *PKU, samples)
    async with Office(app, "pekanbaru") as office:
        await _to_step(office, reg_no, "penerimaan_izin")
        page = await office.page("front_office", reg_no)
        assert 'data-status="approved">Disetujui<' in page.text
        assert "Petugas Jabatan-Jf-Ahli-Madya" in page.text and "198000000000000" in page.text
        res = await office["front_office"].get(f"/office/applications/{reg_no}/card.csv")
        rows = list(csv.reader(io.StringIO(res.text)))
        assert rows[0][:5] == ["Waktu", "Petugas", "NIP", "Nama pengguna", "Jabatan"]
        madya = next(r for r in rows if r[4] == "JF Analis Kebijakan Ahli Madya")
        assert re.fullmatch(r"[0-9]{18}", madya[2]) and madya[5] == "Paraf draf izin"
        for raw in ("permit_issued", "check_files", "approved"):
            assert raw not in "".join(",".join(r[5:7]) for r in rows[1:])
        pdf = await office["front_office"].get(f"/office/applications/{reg_no}/card.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        # Seven different people on the card (and the applicant).
        actors = {e[0] for e in await card(app, reg_no)} - {"applicant"}
        assert len(actors) == 6  # Back Office drafts and numbers: one position


async def test_internal_notes_stay_inside(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    user = "pku-8"
    reg_no = await submit(app, user, *PKU, samples)
    async with Office(app, "pekanbaru") as office:
        sent = len(await notices(app, user))
        b = office["head_of_office"]
        await b.get(f"/office/applications/{reg_no}")
        before = await snapshot(app)
        res = await b.post(f"/office/applications/{reg_no}/notes", {"text": ""})
        assert res.status_code == 400 and await snapshot(app) == before
        res = await b.post(f"/office/applications/{reg_no}/notes",
                           {"text": "Pemohon menelepon, minta dipercepat"})
        assert res.status_code == 303
        page = await office.page("front_office", reg_no)
        assert "Pemohon menelepon, minta dipercepat" in page.text
        assert len(await notices(app, user)) == sent


async def test_lubuklinggau_shows_its_allowed_combination(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    reg_no = await submit(app, "llg-1", "lubuklinggau", "okupasi-terapis", samples)
    async with Office(app, "lubuklinggau") as office:
        page = await office.page("front_office", reg_no)
        assert "data-may-combine" in page.text and "Front Office-FO" in page.text


async def test_admin_assigns_positions_and_refuses_unknown_ones(app: App) -> None:
    await make_staff(app, "admin.pku", "admin", "pekanbaru")
    await make_staff(app, "staf.baru", "verifier", "pekanbaru", positions=[])
    async with Browser(app) as admin:
        assert (await admin.login("admin.pku")).status_code == 303
        page = await admin.get("/office/staff")
        staff_id = re.search(r'/staff/(\d+)/positions" data-positions="staf.baru"', page.text)
        assert staff_id
        url = f"/office/staff/{staff_id.group(1)}/positions"
        before = await snapshot(app)
        res = await admin.post(url, {"positions": ["sekretaris", "kasir"]})
        assert res.status_code == 400 and "kasir" in res.text
        res = await admin.post(url, {"positions": ["sekretaris"], "nip": "12345"})
        assert res.status_code == 400 and "18 angka" in res.text
        assert await snapshot(app) == before
        res = await admin.post(url, {"positions": ["sekretaris"],
                                     "nip": "198501012010011001"})
        assert res.status_code == 303
    after = await snapshot(app)
    assert after["positions"][-1][1] == "sekretaris"
    assert ("staf.baru", True, 0, "198501012010011001") in after["staff"]
