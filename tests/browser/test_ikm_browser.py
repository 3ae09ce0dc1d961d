"""The IKM page in a real browser: the chart's bars are drawn (no script needed) at the
length of each element's NRR on the 1-4 scale. A screenshot goes to
test-artifacts/ikm/ (gitignored)."""

from __future__ import annotations

from datetime import date

import pytest

from bot.composition import App
from licensing.skm import ELEMENT_KEYS
from service import ikm
from tests.browser.live import ARGS, ARTIFACTS, CHROMIUM, serving, sign_in
from tests.office_client import make_staff
from tests.test_office_ikm import seed


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed")
async def test_the_chart_draws_each_elements_nrr(app: App) -> None:
    from playwright.async_api import async_playwright

    await seed(app)
    rep = await ikm.report(app.sessions, app.catalog, region="metro",
                           start=date(2026, 11, 1), end=date(2026, 11, 30))
    assert rep.result is not None
    await make_staff(app, "kadis.metro", "head_of_office", "metro")
    shots = ARTIFACTS / "ikm"
    shots.mkdir(parents=True, exist_ok=True)
    async with serving(app) as base, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 1000},
                                          java_script_enabled=False)
            await sign_in(page, base, "kadis.metro")
            await page.goto(f"{base}/office/ikm?start=2026-11-01&end=2026-11-30")
            for key in ELEMENT_KEYS:
                bar = page.locator(f"tr[data-element='{key}'] svg")
                track, value = (await bar.locator("rect").nth(0).bounding_box(),
                                await bar.locator("rect").nth(1).bounding_box())
                assert track and value and track["width"] > 100
                share = value["width"] / track["width"]
                assert abs(share - float(rep.result.nrr[key]) / 4) < 0.01, key
            assert await page.text_content("[data-result] strong") == str(rep.result.ikm)
            await page.screenshot(path=str(shots / "ikm.png"), full_page=True)
        finally:
            await browser.close()
    assert (shots / "ikm.png").stat().st_size > 5_000
