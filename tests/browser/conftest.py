"""What the browser tests share: Debian's chromium, the live server, signing in."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from bot.composition import App
from bot.http import create_http_app
from tests.office_client import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "backoffice"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (Debian package "
    "chromium, listed in .ci/apt-packages.txt)")


@contextlib.asynccontextmanager
async def serving(app: App) -> AsyncIterator[str]:
    """The real HTTP app under uvicorn on 127.0.0.1 (a free port), in this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_http_app(app=app), lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):  # up to 10 s
        if server.started:
            break
        await asyncio.sleep(0.02)
    else:
        raise RuntimeError("uvicorn did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def sign_in(browser: Any, base: str, username: str) -> Any:
    """A new browser context signed in as `username`; returns its page (on the home page)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(f"{base}/office/")
    assert "/office/login" in page.url  # not signed in yet
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button:has-text('Masuk')")
    await page.wait_for_url(f"{base}/office/")
    return page
