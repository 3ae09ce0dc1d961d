"""Each HTTP request's log context: a request id (the proxy's X-Request-ID, else a new
one, echoed in the response) and, on a file's back-office pages, its registration
number."""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.logctx import bound

_REG_NO = re.compile(r"^/office/(?:applications|permits/upload)/([A-Za-z0-9-]{1,40})")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else secrets.token_hex(8)
        match = _REG_NO.match(scope.get("path", ""))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (b"x-request-id", request_id.encode())]
            await send(message)

        with bound(request_id=request_id, reg_no=match.group(1) if match else None):
            await self.app(scope, receive, send_with_id)
