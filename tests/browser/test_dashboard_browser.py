"""The head of office in a real browser (Debian's chromium): a Pekanbaru file walked
through every step 40 minutes apart, then the dashboard shows its times against the
SOP's standard, and the receipt PDF from the file page carries its registration number
and the applicant's name. Screenshots (and the PDF) in test-artifacts/dashboard/."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
from pypdf import PdfReader

from bot.composition import App
from tests.browser.conftest import ARGS, CHROMIUM, needs_chromium, serving, sign_in
from tests.browser.live import ARTIFACTS as ROOT
from tests.conftest import Clock
from tests.journeys import NAME
from tests.office_flow import Office, username
from tests.test_permit_journey import submit

ARTIFACTS = ROOT / "dashboard"
STEP_MINUTES = 40


class PacedOffice(Office):
    """Every office action happens STEP_MINUTES after the previous one."""

    def __init__(self, app: App, region: str, clock: Clock) -> None:
        super().__init__(app, region)
        self.clock = clock

    async def review(self, role: str, reg_no: str, verdicts: Any, **extra: Any
                     ) -> httpx.Response:
        self.clock.advance(minutes=STEP_MINUTES)
        return await super().review(role, reg_no, verdicts, **extra)

    async def act(self, role: str, reg_no: str, action: str, note: str | None = None,
                  **extra: Any) -> httpx.Response:
        if action != "site_visit":
            self.clock.advance(minutes=STEP_MINUTES)
        return await super().act(role, reg_no, action, note, **extra)


@needs_chromium
async def test_dashboard_shows_the_files_times_and_the_receipt_pdf_opens(
    app: App, clock: Clock, samples: dict[str, Path]
) -> None:
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    entry = app.catalog.get("pekanbaru", "okupasi-terapis")
    reg_no = await submit(app, "dash-browser", "pekanbaru", "okupasi-terapis", samples)
    async with PacedOffice(app, "pekanbaru", clock) as office:
        passed = await office.walk(entry, reg_no)
    assert passed[0] == "pemeriksaan_berkas" and "tanda_tangan" in passed

    async with serving(app) as base, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            head = await sign_in(browser, base, username("head_of_office", "pekanbaru"))
            await head.click("nav >> text=Dasbor")
            await head.wait_for_selector("table[data-steps='okupasi-terapis']")
            await head.fill("#reg_no", reg_no)
            await head.click("button:has-text('Tampilkan')")
            await head.wait_for_selector(f"table[data-file-times='{reg_no}']")
            # Every office step took 40 minutes: the month's median and the file's own.
            check = head.locator("tr[data-step='pemeriksaan_berkas']")
            assert await check.get_attribute("data-median") == f"{STEP_MINUTES}.0"
            assert "35 menit" in (await check.text_content() or "")
            assert "melebihi standar" in (await check.text_content() or "")
            sign = head.locator("tr[data-step='tanda_tangan']")
            assert "1 hari kerja" in (await sign.text_content() or "")
            assert "sesuai" in (await sign.text_content() or "")
            stays = head.locator(f"table[data-file-times='{reg_no}'] tbody tr")
            for code in passed:
                row = head.locator(f"tr[data-stay='{code}']")
                assert await row.get_attribute("data-minutes") == f"{STEP_MINUTES}.0", code
                assert f"{STEP_MINUTES} menit" in (await row.text_content() or "")
            assert await stays.count() == len(passed) + 1  # and where it waits now
            dashboard_png = ARTIFACTS / "dashboard.png"
            await head.screenshot(path=str(dashboard_png), full_page=True)

            # From the dashboard to the file, and its receipt (opens in a new tab).
            await head.click("text=Buka berkas")
            await head.wait_for_selector("[data-printables]")
            file_png = ARTIFACTS / "file-printables.png"
            await head.locator("[data-printables]").screenshot(path=str(file_png))
            href = await head.get_attribute("a:has-text('Cetak tanda terima')", "href")
            assert href and href.endswith("/receipt.pdf")
            response = await head.context.request.get(f"{base}{href}")
            assert response.status == 200
            assert response.headers["content-type"] == "application/pdf"
            pdf = await response.body()
            receipt_pdf = ARTIFACTS / "tanda-terima.pdf"
            receipt_pdf.write_bytes(pdf)
            text = " ".join((pg.extract_text() or "") for pg in PdfReader(io.BytesIO(pdf)).pages)
            assert reg_no in text and NAME in text
            # The browser's own PDF viewer opens it too (a tab on the same session).
            viewer = await head.context.new_page()
            opened = await viewer.goto(f"{base}{href}")
            assert opened is not None and opened.status == 200
            await viewer.close()
        finally:
            await browser.close()
    for shot in (dashboard_png, file_png):
        assert shot.stat().st_size > 5_000
    print(f"\nartifacts: {dashboard_png} {file_png} {receipt_pdf}")
