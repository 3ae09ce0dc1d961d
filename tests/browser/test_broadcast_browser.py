"""A head of office in a real browser composes a broadcast to the region's open
applications, previews it, sends it, and watches the progress view count up to all
sent while a Dispatcher delivers; a second broadcast is paused and resumed. A
screenshot of the progress page goes to test-artifacts/backoffice/ (gitignored)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from bot.composition import App
from notifications.dispatcher import Delivery, SendResult
from notifications.runner import Dispatcher
from tests.browser.conftest import ARGS, ARTIFACTS, CHROMIUM, needs_chromium, serving, sign_in
from tests.conftest import Clock
from tests.notify_data import add_applicants
from tests.office_client import make_staff

N = 20
TEMPLATE = "Halo {{ name }}, permohonan {{ reg_no }} ada di tahap {{ step }}."


class ConsoleSender:
    """Delivers to the terminal channel's applicants, a little slowly, and remembers."""

    channel = "console"

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {}
        self.delivered: Counter[int] = Counter()

    async def send(self, delivery: Delivery) -> SendResult:
        await asyncio.sleep(0.02)
        self.delivered[delivery.outbox_id] += 1
        self.texts.setdefault(delivery.chat_id, []).append(delivery.message.text)
        return SendResult(ok=True, platform_message_id=f"c-{delivery.outbox_id}")


async def compose_and_send(page: Any, base: str, template: str) -> int:
    await page.goto(f"{base}/office/broadcasts")
    await page.click("text=Siaran baru")
    assert await page.is_checked("input[name='open_only']")  # the default for a head
    await page.fill("#template", template)
    await page.click("button:has-text('Pratinjau')")
    await page.wait_for_selector("[data-preview]")
    assert await page.get_attribute("[data-count]", "data-count") == str(N)
    await page.click(f"button:has-text('Kirim ke {N} penerima')")
    await page.wait_for_selector("[data-progress]")
    return int(page.url.split("/broadcasts/")[1].split("?")[0])


async def wait_for_count(page: Any, field: str, value: int) -> None:
    await page.wait_for_function(
        "([f, v]) => document.querySelector(`[data-field=${f}]`).textContent === v",
        arg=[field, str(value)], timeout=20_000)


@needs_chromium
async def test_head_of_office_sends_a_broadcast_and_watches_it_arrive(
    app: App, clock: Clock
) -> None:
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await add_applicants(app.sessions, N, now=clock.now, channel="console", prefix="k")
    await add_applicants(app.sessions, 3, now=clock.now, channel="console", prefix="x",
                         region="metro")
    await make_staff(app, "kadis.purwakarta", "head_of_office", "purwakarta")
    sender = ConsoleSender()
    stop = asyncio.Event()
    running: asyncio.Task[None] | None = None

    def dispatcher() -> asyncio.Task[None]:
        d = Dispatcher(app.sessions, sender, rate_per_second=25, per_chat_interval=0,
                       idle_poll=0.05, clock=clock)
        return asyncio.create_task(d.run(stop))

    async with serving(app) as base, async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await sign_in(browser, base, "kadis.purwakarta")
            await page.click("nav >> text=Siaran")
            await page.wait_for_selector("text=Siaran baru")
            first = await compose_and_send(page, base, TEMPLATE)
            assert "Halo Nama 0, permohonan PWK-k0" not in await page.content()  # no preview
            running = dispatcher()
            await wait_for_count(page, "sent", N)  # the page updated itself, no reload
            await page.wait_for_selector("[data-field=status_name]:has-text('selesai')")
            assert await page.text_content("[data-field=pending]") == "0"
            assert await page.get_attribute("[data-bar]", "value") == str(N)
            shot = ARTIFACTS / "broadcast-progress.png"
            await page.screenshot(path=str(shot), full_page=True)
            assert sorted(sender.texts) == sorted(f"k{i}" for i in range(N))  # not metro
            assert sender.texts["k3"] == [
                "Halo Nama 3, permohonan PWK-k3 ada di tahap Pemeriksaan berkas — Petugas."]

            # A second one: paused before anything goes out, then resumed.
            stop.set()
            await running
            stop = asyncio.Event()
            second = await compose_and_send(page, base, "Pengingat untuk {{ name }}.")
            assert second != first
            await page.click("button:has-text('Jeda')")
            await page.wait_for_selector("text=pesan ditahan")
            await wait_for_count(page, "held", N)
            assert await page.text_content("[data-field=status_name]") == "dijeda"
            assert await page.is_visible("button:has-text('Lanjutkan')")
            running = dispatcher()
            await asyncio.sleep(0.5)  # the dispatcher is running and finds nothing due
            assert sum(sender.delivered.values()) == N
            await page.click("button:has-text('Lanjutkan')")
            await page.wait_for_selector("text=dikirim lagi")
            await wait_for_count(page, "sent", N)
            await page.wait_for_selector("[data-field=status_name]:has-text('selesai')")
            assert not await page.is_visible("button:has-text('Jeda')")

            await page.goto(f"{base}/office/broadcasts")
            for bid in (first, second):
                assert await page.get_attribute(f"tr[data-broadcast='{bid}']",
                                                "data-status") == "done"
            assert "kadis.purwakarta" in await page.text_content("table[data-broadcasts]")
        finally:
            stop.set()
            await browser.close()
            if running is not None:
                await running
    assert sum(sender.delivered.values()) == 2 * N and max(sender.delivered.values()) == 1
    assert all(texts[-1] == f"Pengingat untuk Nama {chat[1:]}."
               for chat, texts in sender.texts.items())
    assert shot.stat().st_size > 5_000
    print(f"\nscreenshot: {shot}")
