"""The HTTP application: health, and (as channels and pages arrive) webhooks and pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import APIRouter, FastAPI

# The one import from bot into backoffice (allowed by name in pyproject's layers contract):
# the composition root mounts the console; the console never imports bot.
from backoffice.app import OfficeParts, create_office_app
from bot.channels.whatsapp.webhook import whatsapp_routes
from bot.composition import App, build
from bot.health import health_routes
from bot.request_context import RequestContext
from bot.settings import Settings
from bot.web.verify import router as verify_routes


def create_http_app(settings: Settings | None = None, *, app: App | None = None,
                    channel_routes: Sequence[APIRouter] = ()) -> FastAPI:
    """`channel_routes`: webhooks of the channels `izin serve` runs (Telegram)."""
    # A given app is usable at once (ASGI transports in tests do not run the lifespan).
    state: dict[str, App] = {"app": app} if app is not None else {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["app"] = app or await build(settings)
        try:
            yield
        finally:
            if app is None:
                await state["app"].close()

    http = FastAPI(title="Izin", lifespan=lifespan, docs_url=None, redoc_url=None)

    http.add_middleware(RequestContext)
    http.include_router(health_routes(lambda: state["app"]))
    http.include_router(verify_routes(lambda: state["app"]))
    http.include_router(whatsapp_routes(lambda: state["app"]))
    for routes in channel_routes:
        http.include_router(routes)
    http.mount("/office", create_office_app(lambda: office_parts(state["app"])))

    return http


def office_parts(app: App) -> OfficeParts:
    """What the staff console gets from the composed app (it never imports `bot`)."""
    return OfficeParts(sessions=app.sessions, catalog=app.catalog, calendar=app.calendar,
                       files=app.files, secure_cookies=app.settings.office_secure_cookies,
                       session_ttl=timedelta(hours=app.settings.office_session_hours),
                       clock=lambda: app.runtime.clock(), read_sessions=app.read_sessions)
