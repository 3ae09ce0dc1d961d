"""The staff console as an ASGI sub-application: `create_office_app(get_parts)`.

`bot/http.py` mounts it at /office. Pages are routers in `backoffice/pages/`; refusals
(`Denied`, the service layer's errors) become a clear page, a missing or expired session
goes to the login page.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from backoffice.pages import (
    auth,
    broadcasts,
    complaints,
    dashboard,
    files,
    ikm,
    ops,
    permits,
    precheck,
    printables,
    staff_admin,
)
from backoffice.parts import OfficeParts
from backoffice.web import Denied, LoginRequired, base_path, render
from service.office import OfficeError

__all__ = ["PAGES", "OfficeParts", "create_office_app"]

# The console's pages, in navigation order. A new page: add its module here.
PAGES = (auth, dashboard, files, printables, precheck, permits, ikm, complaints, broadcasts,
         staff_admin, ops)


# The service layer's refusal codes as pages: (HTTP status, title).
REFUSALS = {
    "not_found": (404, "Tidak ditemukan"),
    "wrong_role": (403, "Bukan peran Anda"),
    "wrong_position": (403, "Bukan jabatan Anda"),
    "same_person": (403, "Pelaksana harus berbeda"),
    "conflict": (409, "Coba lagi"),
    "wrong_step": (403, "Bukan tahapnya"),
    "closed": (403, "Permohonan sudah ditutup"),
    "bad_input": (400, "Isian belum lengkap"),
}


def create_office_app(get_parts: Callable[[], OfficeParts]) -> FastAPI:
    office = FastAPI(title="Izin back office", docs_url=None, redoc_url=None, openapi_url=None)
    office.state.get_parts = get_parts

    @office.exception_handler(Denied)
    async def denied(request: Request, exc: Denied) -> Response:
        return render(request, "error.html", staff=getattr(request.state, "staff", None),
                      title=exc.title, message=exc.message, status=exc.status)

    @office.exception_handler(OfficeError)
    async def refused(request: Request, exc: OfficeError) -> Response:
        status, title = REFUSALS.get(exc.code, (403, "Tidak diizinkan"))
        return render(request, "error.html", staff=getattr(request.state, "staff", None),
                      title=title, status=status,
                      message=f"{exc} Tidak ada yang diubah.")

    @office.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        base = base_path(request)
        target = request.url.path if request.method == "GET" else f"{base}/"
        return RedirectResponse(f"{base}/login?expired=1&next={quote(target)}",
                                status_code=303)

    @office.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return render(request, "error.html", staff=getattr(request.state, "staff", None),
                      title="Formulir tidak lengkap", status=400,
                      message="Ada isian formulir yang kosong atau tidak sah. Tidak ada yang "
                              "diubah.")

    @office.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        title = "Tidak ditemukan" if exc.status_code == 404 else "Permintaan ditolak"
        return render(request, "error.html", staff=getattr(request.state, "staff", None),
                      title=title, message=str(exc.detail), status=exc.status_code)

    for page in PAGES:
        office.include_router(page.router)
    return office
