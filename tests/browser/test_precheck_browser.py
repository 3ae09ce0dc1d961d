"""The front office sees the pre-check on the file's page (Debian chromium): the KTP
photo's quality, the NIK read and that it differs from the typed one, the cleaned PDF
and the original photo. Screenshot: test-artifacts/backoffice/precheck.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.composition import App
from bot.settings import Settings
from conversations.flows.apply import applicable_uploads
from licensing.precheck import ocr
from tests.browser.conftest import ARGS, ARTIFACTS, CHROMIUM, needs_chromium, serving, sign_in
from tests.journeys import run_script
from tests.office_client import make_staff
from tests.precheck_corpus import sample
from tests.test_precheck_journeys import _start

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not ocr.available(), reason="tesseract-ocr-ind not installed")]


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, _env_file=None,  # type: ignore[call-arg]
                    precheck=True)


@needs_chromium
async def test_front_office_sees_the_precheck_of_a_ktp_photo(
        app: App, tmp_path: Path, samples: dict[str, Path]) -> None:
    from playwright.async_api import async_playwright

    assert app.prechecker is not None
    photo = sample("ktp", "clean", 7)  # read exactly in test_precheck_pipeline.py too
    ktp = tmp_path / "ktp.jpg"
    ktp.write_bytes(photo.image)
    entry = app.catalog.get("lubuklinggau", "okupasi-terapis")
    await run_script(app, "pcb", [*_start(app), f"/upload {ktp}"])
    assert await app.prechecker.run_pending() == 1  # done before the file is submitted
    rest = [f"/upload {samples['pdf']}" for r in applicable_uploads(entry, {})
            if r.code != "ktp"]
    out = await run_script(app, "pcb", [*rest, "Kirim permohonan"])
    reg_no = out.split("LLG-", 1)[1].split()[0].strip(".,*")
    reg_no = f"LLG-{reg_no}"
    await make_staff(app, "fo.llg", "front_office", "lubuklinggau")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with serving(app) as base, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await sign_in(browser, base, "fo.llg")
            await page.goto(f"{base}/office/applications/{reg_no}")
            box = page.locator("div[data-precheck='ktp']")
            await box.wait_for()
            nik = box.locator("li[data-field='nik']")
            assert await nik.get_attribute("data-status") == "disagree"
            assert photo.fields["nik"] in await nik.inner_text()  # full NIK: front office
            assert await box.locator("[data-flag='none']").count() == 1  # a good photo
            await page.screenshot(path=str(ARTIFACTS / "precheck.png"), full_page=True)
            for label, media in (("PDF rapi", "application/pdf"), ("asli 1", "image/jpeg")):
                href = await box.locator(f"a:has-text('{label}')").get_attribute("href")
                assert href
                response = await page.context.request.get(f"{base}{href}")
                assert response.status == 200
                assert response.headers["content-type"] == media
        finally:
            await browser.close()
