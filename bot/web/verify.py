"""GET /verify/<code>: anyone holding a permit (or its QR code) can check it.

Shows the status (valid, revoked, expired, unknown) with the permit number, holder's
name, profession, region and dates only: no NIK, no contact data. A malformed code
is answered like an unknown one, without a database look-up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.composition import App
from licensing.dates import format_date
from licensing.permit.verify_code import is_verify_code
from service.permits import verify

_env = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                   autoescape=select_autoescape(["html"]))
_env.filters["id_date"] = lambda d: format_date(d, "id")


def router(get_app: Callable[[], App]) -> APIRouter:
    r = APIRouter()

    @r.get("/verify/{code}", response_class=HTMLResponse)
    async def verify_page(code: str) -> HTMLResponse:
        app: App = get_app()
        today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Jakarta")).date()
        found = (await verify(app.sessions, app.catalog, code, today=today)
                 if is_verify_code(code) else None)
        html = _env.get_template("verify.html").render(v=found)
        # Unknown codes are 404 so link checkers and crawlers see them as such.
        return HTMLResponse(html, status_code=200 if found else 404,
                            headers={"Cache-Control": "no-store",
                                     "X-Robots-Tag": "noindex"})

    return r
