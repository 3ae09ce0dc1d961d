"""The HTTP application: health, and (as channels and pages arrive) webhooks and pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

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
                    webhooks: Mapping[str, ASGIApp] | None = None) -> FastAPI:
    """`webhooks`: bare ASGI endpoints by path, for POSTs of the channels `izin serve`
    runs (Telegram); they are reached before FastAPI's own layers (`DirectPosts`)."""
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

    http.add_middleware(DirectPosts, endpoints=dict(webhooks or {}))
    http.add_middleware(RequestContext)  # added last: outside DirectPosts
    http.include_router(health_routes(lambda: state["app"]))
    http.include_router(verify_routes(lambda: state["app"]))
    http.include_router(whatsapp_routes(lambda: state["app"]))
    http.mount("/office", create_office_app(lambda: office_parts(state["app"])))

    return http


class DirectPosts:
    """POSTs to the given paths go straight to their endpoint (inside the request-id
    middleware and Starlette's error middleware); everything else to the app."""

    def __init__(self, app: ASGIApp, endpoints: dict[str, ASGIApp]) -> None:
        self.app = app
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (self.endpoints.get(scope["path"])
                    if scope["type"] == "http" and scope["method"] == "POST" else None)
        await (endpoint or self.app)(scope, receive, send)


def office_parts(app: App) -> OfficeParts:
    """What the staff console gets from the composed app (it never imports `bot`)."""
    return OfficeParts(sessions=app.sessions, catalog=app.catalog, calendar=app.calendar,
                       files=app.files, secure_cookies=app.settings.office_secure_cookies,
                       session_ttl=timedelta(hours=app.settings.office_session_hours),
                       clock=lambda: app.runtime.clock(), read_sessions=app.read_sessions)
