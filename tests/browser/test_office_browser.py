"""A front officer in a real browser: logs in, rejects one scan; the applicant replaces
it in the chat (terminal channel); the officer accepts; every role walks Pekanbaru's
chain to the head's approval. Screenshots of the queue and the control card are saved
under test-artifacts/backoffice/ (gitignored)."""

from __future__ import annotations

from pathlib import Path

from bot.composition import App
from tests.browser.conftest import ARGS, ARTIFACTS, CHROMIUM, needs_chromium, serving, sign_in
from tests.office_client import make_staff
from tests.office_flow import OFFICE_ROLES, applicant_fixes, application, notices, username
from tests.test_permit_journey import submit


@needs_chromium
async def test_front_officer_rejects_a_scan_and_the_file_walks_to_approval(
    app: App, samples: dict[str, Path]
) -> None:
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    user, n = "browser-user", [0]
    reg_no = await submit(app, user, "pekanbaru", "okupasi-terapis", samples)
    for role in OFFICE_ROLES:
        await make_staff(app, username(role, "pekanbaru"), role, "pekanbaru")

    async with serving(app) as base, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            pages = {}
            for role in OFFICE_ROLES:
                pages[role] = await sign_in(browser, base, username(role, "pekanbaru"))

            fo = pages["front_office"]
            await fo.click("nav >> text=Antrean saya")
            await fo.wait_for_selector(f"tr[data-reg-no='{reg_no}']")
            queue_png = ARTIFACTS / "queue.png"
            await fo.screenshot(path=str(queue_png), full_page=True)
            await fo.click(f"text={reg_no}")
            await fo.wait_for_selector("form[data-form='check_files']")

            # The scan opens in the browser with its media type.
            href = await fo.get_attribute("tr[data-requirement='pas_foto'] a", "href")
            assert href
            scan = await fo.context.new_page()
            response = await scan.goto(f"{base}{href}")
            assert response is not None and response.status == 200
            assert response.headers["content-type"] in ("image/jpeg", "image/png",
                                                        "application/pdf")
            await scan.close()

            # Reject the KTP scan with a reason; accept the rest (the default).
            await fo.check("input[name='d_ktp'][value='reject']")
            await fo.fill("input[name='r_ktp']", "Foto KTP buram, tidak terbaca")
            await fo.click("button:has-text('Simpan hasil pemeriksaan')")
            await fo.wait_for_selector("text=Penolakan dikirim ke pemohon")
            assert await fo.get_attribute("tr[data-requirement='ktp']", "data-review") == \
                "rejected"
            sent = await notices(app, user)
            assert [r.notification_type for r in sent] == ["documents_rejected"]

            # The applicant replaces it in the chat; the same officer checks it again.
            await applicant_fixes(app, user, reg_no, samples["pdf2"], n)
            await fo.reload()
            assert await fo.get_attribute("tr[data-requirement='ktp']", "data-review") == \
                "pending"
            assert await fo.locator("input[value='accept']").count() == 1
            await fo.click("button:has-text('Simpan hasil pemeriksaan')")
            await fo.wait_for_selector("text=berkas pindah ke tahap berikutnya")
            assert (await application(app, reg_no)).step_code == "blanko"

            # Every next role opens the file from its queue and does its step.
            for role, action in [("back_office", "draft"), ("verifier", "initial"),
                                 ("verifier", "initial"), ("verifier", "initial"),
                                 ("head_of_office", "sign")]:
                page = pages[role]
                await page.goto(f"{base}/office/queue")
                await page.click(f"text={reg_no}")
                form = page.locator(f"form[data-form='{action}']")
                await form.locator("textarea").fill(f"{action} ({role})")
                await form.locator("button").click()
                await page.wait_for_selector("text=Tercatat")

            head = pages["head_of_office"]
            assert await head.text_content("[data-status]") == "approved"
            card_png = ARTIFACTS / "control-card.png"
            await head.locator("table[data-card]").screenshot(path=str(card_png))
            rows = await head.locator("table[data-card] tbody tr").count()
            assert rows == 10  # submit, check, resubmit, check, receipt, draft, 3 x initial, sign
        finally:
            await browser.close()

    a = await application(app, reg_no)
    assert a.status == "approved" and a.step_code == "penomoran"
    for shot in (queue_png, card_png):
        assert shot.stat().st_size > 5_000
    print(f"\nscreenshots: {queue_png} {card_png}")
