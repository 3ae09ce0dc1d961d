"""Pages: the Jinja2 environment, `render`, and the refusals every page can raise."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from conversations.i18n import Translator
from licensing.catalog import ProcedureStep
from licensing.dates import format_date, format_datetime
from service.staff import SignedIn

TEMPLATES = Path(__file__).with_name("templates")

ROLE_NAMES = {
    "front_office": "Front office (pemeriksa berkas)",
    "back_office": "Back office / penyusun draf",
    "technical_team": "Tim teknis",
    "verifier": "Verifikator (paraf)",
    "head_of_office": "Kepala dinas",
    "complaint_officer": "Petugas pengaduan",
    "admin": "Admin",
    "applicant": "Pemohon",
    "system": "Sistem",
}

_id = Translator("id")

# The top navigation: (path under the console, label, roles that see it; () = everyone).
# A new page module appends its entry here (see ARCHITECTURE.md, "Adding a page").
NAV_LINKS: list[tuple[str, str, tuple[str, ...]]] = []


def add_nav(path: str, label: str, roles: tuple[str, ...] = ()) -> None:
    if all(p != path for p, _, _ in NAV_LINKS):
        NAV_LINKS.append((path, label, roles))


class Denied(Exception):
    """Refused: shown as a clear page with this status; nothing was changed."""

    def __init__(self, message: str, *, status: int = 403, title: str = "Tidak diizinkan") -> None:
        super().__init__(message)
        self.message, self.status, self.title = message, status, title


class LoginRequired(Exception):
    """No valid session: the browser is sent to the login page."""


@lru_cache(maxsize=1024)  # steps are frozen (hashable); a long queue repeats a few
def step_label(step: ProcedureStep) -> str:
    """The step's short name, the same one the applicant's status in the chat shows."""
    return " ".join(_id("steps.label", step=step).split())


def _fmt_date(d: date | None) -> str:
    return format_date(d, "id") if d else "—"


def _fmt_dt(dt: datetime | None, tz: str = "Asia/Jakarta") -> str:
    return format_datetime(dt, "id", tz) if dt else "—"


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(step_label=step_label, role_name=lambda r: ROLE_NAMES.get(r, r),
                       nav_links=lambda: list(NAV_LINKS))
    env.filters.update(id_date=_fmt_date, id_datetime=_fmt_dt)
    return env


def base_path(request: Request) -> str:
    """Where the console is mounted ("/office"); links and the cookie path use it."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def render(request: Request, template: str, *, staff: SignedIn | None, status: int = 200,
           **context: Any) -> HTMLResponse:
    html = environment().get_template(template).render(
        base=base_path(request), staff=staff, csrf=staff.csrf if staff else "",
        path=request.url.path, status=status, **context)
    return HTMLResponse(html, status_code=status,
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                 "Referrer-Policy": "same-origin"})
