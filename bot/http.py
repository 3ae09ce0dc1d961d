"""The HTTP application: health, and (as channels and pages arrive) webhooks and pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bot.composition import App, build
from bot.settings import Settings


def create_http_app(settings: Settings | None = None, *, app: App | None = None) -> FastAPI:
    state: dict[str, App] = {}

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

    return http
