"""`Annotated` dependencies every page uses.

    async def page(request: Request, staff: CurrentStaff, db: SessionDep) -> HTMLResponse
    async def action(staff: Annotated[SignedIn, require_role("head_of_office")]) -> ...

`CurrentStaff` resolves the session cookie (none, unknown or expired: to the login page)
and, on every POST, checks the form's `csrf` field against the session's token (wrong
or missing: a 403 page, before the handler runs, so nothing changes).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.parts import OfficeParts
from backoffice.web import ROLE_NAMES, Denied, LoginRequired
from service.staff import SignedIn, resolve

COOKIE = "izin_office"
CSRF_FIELD = "csrf"


def get_parts(request: Request) -> OfficeParts:
    parts: OfficeParts = request.app.state.get_parts()
    return parts


PartsDep = Annotated[OfficeParts, Depends(get_parts)]


async def db_session(parts: PartsDep) -> AsyncIterator[AsyncSession]:
    """A read session for the page; writes go through service functions (own transaction)."""
    async with parts.readers() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(db_session)]


async def signed_in(request: Request, parts: PartsDep) -> SignedIn:
    token = request.cookies.get(COOKIE)
    who = await resolve(parts.readers, token=token, now=parts.now()) if token else None
    if who is None:
        raise LoginRequired()
    request.state.staff = who
    if request.method not in ("GET", "HEAD"):
        form = await request.form()
        sent = form.get(CSRF_FIELD)
        if not isinstance(sent, str) or not secrets.compare_digest(sent, who.csrf):
            raise Denied("Formulir ini tidak membawa token keamanan (CSRF) yang sah, jadi "
                         "tidak diproses dan tidak ada yang diubah. Muat ulang halaman, "
                         "lalu kirim lagi.", title="Formulir ditolak")
    return who


CurrentStaff = Annotated[SignedIn, Depends(signed_in)]


def require_role(*roles: str) -> Any:
    """`Annotated[SignedIn, require_role("admin")]`: only these roles pass."""

    async def check(who: CurrentStaff) -> SignedIn:
        if who.role not in roles:
            names = ", ".join(ROLE_NAMES.get(r, r) for r in roles)
            raise Denied(f"Halaman ini hanya untuk peran: {names}. Peran Anda: "
                         f"{ROLE_NAMES.get(who.role, who.role)}.")
        return who

    return Depends(check)


AdminStaff = Annotated[SignedIn, require_role("admin")]
