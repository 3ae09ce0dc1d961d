"""Sign in, sign out, and the home page that sends each role where its work is."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backoffice.deps import COOKIE, CurrentStaff, PartsDep
from backoffice.web import base_path, render
from service.staff import StaffError, login, logout

router = APIRouter()

LOGIN_CSRF = "izin_office_login"  # double-submit token: the login form has no session yet


def _secure(request: Request, forced: bool | None) -> bool:
    return forced if forced is not None else request.url.scheme == "https"


def _safe_next(base: str, value: str) -> str:
    # Only paths inside the console: no open redirect to another site.
    if value.startswith(base + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return base + "/"


def _login_page(request: Request, *, secure: bool, error: str = "", username: str = "",
                next_: str = "", expired: bool = False, status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", staff=None, error=error, username=username,
                      next=next_, expired=expired, login_csrf=token, status=status)
    response.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="lax", secure=secure,
                        path=base_path(request) or "/", max_age=3600)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, parts: PartsDep, next: str = "",
                     expired: int = 0) -> Response:
    return _login_page(request, secure=_secure(request, parts.secure_cookies), next_=next,
                       expired=bool(expired))


@router.post("/login")
async def login_submit(
    request: Request, parts: PartsDep, username: Annotated[str, Form()],
    password: Annotated[str, Form()], login_csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    secure = _secure(request, parts.secure_cookies)
    cookie = request.cookies.get(LOGIN_CSRF, "")
    if not cookie or not secrets.compare_digest(cookie, login_csrf):
        return _login_page(request, secure=secure, username=username, next_=next, status=403,
                           error="Formulir masuk sudah kedaluwarsa. Silakan coba lagi.")
    try:
        token, _ = await login(parts.sessions, username=username, password=password,
                               now=parts.now(), ttl=parts.session_ttl)
    except StaffError as exc:
        return _login_page(request, secure=secure, username=username, next_=next,
                           error=str(exc), status=401)
    base = base_path(request)
    response = RedirectResponse(_safe_next(base, next), status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=secure,
                        path=base or "/", max_age=int(parts.session_ttl.total_seconds()))
    response.delete_cookie(LOGIN_CSRF, path=base or "/")
    return response


@router.post("/logout")
async def logout_submit(request: Request, parts: PartsDep, staff: CurrentStaff) -> Response:
    await logout(parts.sessions, token=request.cookies.get(COOKIE, ""))
    base = base_path(request)
    response = RedirectResponse(f"{base}/login", status_code=303)
    response.delete_cookie(COOKIE, path=base or "/")
    return response


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, staff: CurrentStaff) -> Response:
    """The start page: the links this role has (each page module adds its own)."""
    return render(request, "home.html", staff=staff)
