"""The HTTP application: health, and (as channels and pages arrive) webhooks and pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bot.channels.whatsapp.webhook import whatsapp_routes
from bot.composition import App, build
from bot.settings import Settings
from bot.web.verify import router as verify_routes


def create_http_app(settings: Settings | None = None, *, app: App | None = None) -> FastAPI:
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

    @http.get("/healthz")
    async def healthz() -> dict[str, object]:
        current = state["app"]
        return {"ok": True, "standards": len(current.catalog)}

    http.include_router(verify_routes(lambda: state["app"]))
    http.include_router(whatsapp_routes(lambda: state["app"]))

    return http
