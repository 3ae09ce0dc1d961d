"""Signing in on the page a test is already on; the server and chromium come from
conftest.py (one copy of each)."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import ARGS, CHROMIUM, serving
from tests.browser.conftest import ARTIFACTS as BACKOFFICE_ARTIFACTS
from tests.office_client import PASSWORD

__all__ = ["ARGS", "ARTIFACTS", "CHROMIUM", "serving", "sign_in"]

ARTIFACTS = BACKOFFICE_ARTIFACTS.parent  # test-artifacts/; each test picks its folder


async def sign_in(page: Any, base: str, username: str) -> None:
    """Fill the login form the page is on (or open it) and wait for the console."""
    if "/office/login" not in page.url:
        await page.goto(f"{base}/office/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button:has-text('Masuk')")
    await page.wait_for_url(lambda url: "/office/login" not in url)
