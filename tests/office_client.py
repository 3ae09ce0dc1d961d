"""A signed-in staff browser for back-office tests: httpx against the real HTTP app."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import httpx

from bot.composition import App
from bot.http import create_http_app
from service.staff import add_staff

PASSWORD = "rahasia-kantor-1"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_LOGIN_CSRF = re.compile(r'name="login_csrf" value="([^"]+)"')


def role_positions(app: App, role: str, region: str) -> list[str]:
    """The positions whose steps are of `role` in the region, in procedure order."""
    out: list[str] = []
    for e in app.catalog:
        if e.region.slug == region:
            for s in e.office_steps:
                if s.role.value == role and s.position and s.position not in out:
                    out.append(s.position)
    return out


async def make_staff(app: App, username: str, role: str, region: str,
                     password: str = PASSWORD, name: str | None = None,
                     positions: Sequence[str] | None = None, nip: str | None = None) -> None:
    """`positions`: by default every position of the role's steps in the region."""
    held = role_positions(app, role, region) if positions is None else positions
    await add_staff(app.sessions, username=username, full_name=name or username.title(),
                    role=role, region=region, password=password,
                    regions={r.slug for r in app.catalog.regions()}, now=app.runtime.clock(),
                    positions=held, known_positions=app.catalog.positions(region), nip=nip)


def client(app: App, base_url: str = "http://izin.test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_http_app(app=app)),
                             base_url=base_url)


class Browser:
    """One staff member's browser: its own cookie jar, CSRF taken from the pages it saw."""

    def __init__(self, app: App, base_url: str = "http://izin.test") -> None:
        self.http = client(app, base_url)
        self.csrf = ""

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        form = await self.http.get("/office/login")
        token = _LOGIN_CSRF.search(form.text)
        assert token, form.text
        res = await self.http.post("/office/login", data={
            "username": username, "password": password, "login_csrf": token.group(1)})
        if res.status_code == 303:
            await self.get("/office/")
        return res

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        res = await self.http.get(path, **kw)
        found = _CSRF.search(res.text) if res.headers.get("content-type", "").startswith(
            "text/html") else None
        if found:
            self.csrf = found.group(1)
        if res.status_code in (302, 303) and res.headers["location"].startswith("/office/"):
            return await self.get(res.headers["location"])
        return res

    async def post(self, path: str, data: dict[str, Any] | None = None, *,
                   csrf: str | None = "auto", follow: bool = False) -> httpx.Response:
        body = dict(data or {})
        if csrf == "auto":
            body["csrf"] = self.csrf
        elif csrf is not None:
            body["csrf"] = csrf
        res = await self.http.post(path, data=body)
        if follow and res.status_code == 303:
            return await self.get(res.headers["location"])
        return res
