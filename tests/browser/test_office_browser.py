"""Pekanbaru's SOP in a real browser, seven staff accounts, each holding one position:
the front office decides every scan (nothing pre-selected), rejects one, the applicant
replaces it in the chat; Back Office drafts; the three paraf are three people; the
Sekretaris returns the file to the Ahli Madya with a reason; the Kepala Dinas signs;
another Back Office officer numbers it at Penomoran. Screenshots of the queue, the
check form, the return and the control card go to test-artifacts/backoffice/."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.composition import App
from storage.models import Permit
from tests.browser.conftest import ARGS, ARTIFACTS, CHROMIUM, needs_chromium, serving, sign_in
from tests.office_client import make_staff
from tests.office_flow import applicant_fixes, application, card, notices
from tests.test_permit_journey import submit

# (username, role, position, full name): one account per performer the SOP names, and a
# second Back Office officer for Penomoran (any holder of the position may act).
ACCOUNTS = [
    ("fo.pku", "front_office", "front_office", "Rina Front Office"),
    ("bo.pku", "back_office", "back_office", "Budi Back Office"),
    ("muda.pku", "verifier", "jf_ahli_muda", "Sari Ahli Muda"),
    ("madya.pku", "verifier", "jf_ahli_madya", "Dedi Ahli Madya"),
    ("sekr.pku", "verifier", "sekretaris", "Wati Sekretaris"),
    ("kadis.pku", "head_of_office", "kepala_dinas", "Hadi Kepala Dinas"),
    ("bo2.pku", "back_office", "back_office", "Joko Penomoran"),
]


@needs_chromium
@pytest.mark.slow
async def test_pekanbaru_by_seven_accounts_with_a_return_from_the_sekretaris(
    app: App, samples: dict[str, Path]
) -> None:
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    user, n = "browser-user", [0]
    reg_no = await submit(app, user, "pekanbaru", "okupasi-terapis", samples)
    for i, (name, role, position, full) in enumerate(ACCOUNTS):
        await make_staff(app, name, role, "pekanbaru", positions=[position], name=full,
                         nip=f"19800101200501{i:04d}")

    async with serving(app) as base, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            pages = {name: await sign_in(browser, base, name) for name, *_ in ACCOUNTS}

            fo = pages["fo.pku"]
            await fo.click("nav >> text=Antrean saya")
            await fo.wait_for_selector(f"tr[data-reg-no='{reg_no}']")
            queue_png = ARTIFACTS / "queue.png"
            await fo.screenshot(path=str(queue_png), full_page=True)
            # Only the position's holders see it waiting.
            await pages["muda.pku"].goto(f"{base}/office/queue")
            assert await pages["muda.pku"].locator(f"tr[data-reg-no='{reg_no}']").count() == 0
            await fo.click(f"text={reg_no}")
            await fo.wait_for_selector("form[data-form='check_files']")

            # Scans are shown beside their lines; no verdict is chosen for the officer.
            assert await fo.locator("td[data-scan] iframe, td[data-scan] img").count() >= 9
            assert await fo.locator("form[data-form='check_files'] input:checked").count() == 0
            await fo.click("button:has-text('Simpan hasil pemeriksaan')")
            valid = await fo.evaluate(
                "document.querySelector(\"form[data-form='check_files']\").checkValidity()")
            assert valid is False and (await application(app, reg_no)).step_code == \
                "pemeriksaan_berkas"
            check_png = ARTIFACTS / "check-form.png"
            await fo.screenshot(path=str(check_png), full_page=True)

            # Reject the KTP scan with a reason, accept each other scan by hand.
            codes = await fo.eval_on_selector_all(
                "input[type=radio][value='accept']", "els => els.map(e => e.name)")
            for code in codes:
                if code != "d_ktp":
                    await fo.check(f"input[name='{code}'][value='accept']")
            await fo.check("input[name='d_ktp'][value='reject']")
            await fo.fill("input[name='r_ktp']", "Foto KTP buram, tidak terbaca")
            await fo.click("button:has-text('Simpan hasil pemeriksaan')")
            await fo.wait_for_selector("text=Penolakan dikirim ke pemohon")
            assert [r.notification_type for r in await notices(app, user)] == [
                "documents_rejected"]

            # The applicant replaces it in the chat; the front office decides it.
            await applicant_fixes(app, user, reg_no, samples["pdf2"], n)
            await fo.reload()
            await fo.check("input[name='d_ktp'][value='accept']")
            await fo.click("button:has-text('Simpan hasil pemeriksaan')")
            await fo.wait_for_selector("text=berkas pindah ke tahap berikutnya")
            assert (await application(app, reg_no)).step_code == "blanko"

            async def do(name: str, action: str) -> None:
                page = pages[name]
                await page.goto(f"{base}/office/queue")
                await page.click(f"text={reg_no}")
                form = page.locator(f"form[data-form='{action}']")
                await form.locator("textarea").fill(f"{action} oleh {name}")
                await form.locator("button").click()
                await page.wait_for_selector("text=Tercatat")

            await do("bo.pku", "draft")
            await do("muda.pku", "initial")
            await do("madya.pku", "initial")

            # The Sekretaris sends it back to the Ahli Madya with a reason.
            sekr = pages["sekr.pku"]
            await sekr.goto(f"{base}/office/queue")
            await sekr.click(f"text={reg_no}")
            form = sekr.locator("form[data-return-form]")
            await form.locator("select[name='to']").select_option("paraf_ahli_madya")
            await form.locator("textarea[name='reason']").fill(
                "Masa berlaku STR pada draf belum sesuai")
            return_png = ARTIFACTS / "return-form.png"
            await form.screenshot(path=str(return_png))
            await form.locator("button:has-text('Kembalikan')").click()
            await sekr.wait_for_selector("text=Berkas dikembalikan")
            assert (await application(app, reg_no)).step_code == "paraf_ahli_madya"
            told = (await notices(app, user))[-1]
            assert told.notification_type == "step_change"

            await do("madya.pku", "initial")
            await do("sekr.pku", "initial")
            await do("kadis.pku", "sign")
            async with app.sessions() as s:
                permit = await s.scalar(select(Permit))
            assert permit is not None and permit.number is None and not permit.ready
            await do("bo2.pku", "number")

            head = pages["kadis.pku"]
            await head.goto(f"{base}/office/applications/{reg_no}")
            assert await head.text_content("[data-status]") == "Disetujui"
            card_png = ARTIFACTS / "control-card.png"
            await head.locator("table[data-card]").screenshot(path=str(card_png))
            text = await head.locator("table[data-card]").inner_text()
            for _, _, _, full in ACCOUNTS:
                assert full in text
            assert "198001012005010004" in text and "Dikembalikan" in text
        finally:
            await browser.close()

    a = await application(app, reg_no)
    assert a.status == "approved" and a.step_code == "penerimaan_izin"
    staff_actors = {e[0] for e in await card(app, reg_no)} - {"applicant"}
    assert staff_actors == {name for name, *_ in ACCOUNTS}
    for shot in (queue_png, check_png, return_png, card_png):
        assert shot.stat().st_size > 2_000
    print(f"\nscreenshots: {queue_png} {check_png} {return_png} {card_png}")
