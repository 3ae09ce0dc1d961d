"""`/webhooks/whatsapp`: Meta's verification handshake (GET) and the signed webhook (POST).

The POST is authenticated over the raw body before anything is parsed (401 without a
signature, 403 with a wrong one; nothing is stored either way). Each message is then
recorded durably, deduplicated by its wamid, and statuses are kept; only then does it
answer 200. Handling happens in the worker, so a slow step never makes Meta retry.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from bot.channels.whatsapp import CHANNEL, statuses
from bot.channels.whatsapp.payloads import Parsed, parse
from bot.channels.whatsapp.signature import Verdict, check
from bot.channels.whatsapp.worker import wake_workers
from bot.composition import App
from service.payloads import MAX_DEPTH, depth, load_json

log = logging.getLogger(__name__)

IGNORED_TYPES = {"reaction"}  # nothing to answer
MAX_BODY = 3 * 1024 * 1024  # Meta batches at most a few KB per change; refuse floods
# A body may nest as deep as the JSON parser goes (a few hundred levels): a message
# deeper than MAX_DEPTH is a dead letter of its own, its batch's other messages go in.
BODY_DEPTH = 10_000


def whatsapp_routes(get_app: Callable[[], App]) -> APIRouter:
    router = APIRouter()

    @router.get("/webhooks/whatsapp")
    async def verify(request: Request) -> Response:
        settings = get_app().settings
        expected = settings.whatsapp_verify_token
        params = request.query_params
        token = params.get("hub.verify_token") or ""
        if (expected is not None and params.get("hub.mode") == "subscribe"
                and hmac.compare_digest(token.encode(), expected.get_secret_value().encode())):
            return PlainTextResponse(params.get("hub.challenge") or "")
        return PlainTextResponse("forbidden", status_code=403)

    @router.post("/webhooks/whatsapp")
    async def receive(request: Request) -> Response:
        app = get_app()
        secret = app.settings.whatsapp_app_secret
        if secret is None:
            return PlainTextResponse("whatsapp is not configured", status_code=503)
        declared = request.headers.get("content-length") or "0"
        if not declared.isdigit() or int(declared) > MAX_BODY:
            return PlainTextResponse("body too large", status_code=413)
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return PlainTextResponse("body too large", status_code=413)
        verdict = check(raw, request.headers.get("x-hub-signature-256"),
                        secret.get_secret_value())
        if verdict is Verdict.MISSING:
            return PlainTextResponse("signature required", status_code=401)
        if verdict is not Verdict.OK:
            return PlainTextResponse("bad signature", status_code=403)
        # Authentic from here on: whatever it holds is answered 200 (Meta retries
        # anything else for days); what can never be handled is a dead letter or dropped.
        body = load_json(raw, max_depth=BODY_DEPTH)
        if not isinstance(body, dict):
            log.warning("whatsapp: an authentic body that is not a webhook object dropped")
            return JSONResponse({"ok": True})
        parsed = parse(body)
        try:
            await _record(app, parsed)
        except Exception:  # the database is away: not stored, so not acknowledged
            log.exception("whatsapp: recording a webhook failed")
            return PlainTextResponse("try again", status_code=503)
        return JSONResponse({"ok": True})

    return router


async def _record(app: App, parsed: Parsed) -> None:
    ours = app.settings.whatsapp_phone_number_id
    window = app.settings.whatsapp_reorder_window
    now = app.runtime.clock().timestamp()
    for m in parsed.messages:
        if depth(m.message) > MAX_DEPTH:
            parsed.unreadable.append(m.message)
            continue
        if ours and m.phone_number_id and m.phone_number_id != ours:
            continue  # another number of the same app
        if m.message.get("type") in IGNORED_TYPES:
            continue
        payload: dict[str, Any] = {"wa_id": m.wa_id, "name": m.name,
                                   "timestamp": m.timestamp, "message": m.message}
        # Held until `window` seconds after it was sent (at most `window` from now):
        # an earlier message of the chat in a later webhook is still handled first.
        hold = min(max(m.timestamp + window - now, 0.0), window)
        await app.runtime.record_pending(channel=CHANNEL, platform_id=m.wamid,
                                         chat_key=f"{CHANNEL}:{m.wa_id}", payload=payload,
                                         seq=m.timestamp, hold=hold)
    for bad in parsed.unreadable:
        wamid = bad.get("id") if isinstance(bad, dict) else None
        if isinstance(wamid, str) and wamid:
            await app.runtime.record_dead(
                channel=CHANNEL, platform_id=wamid, chat_key=f"{CHANNEL}:?",
                payload=bad if depth(bad) <= MAX_DEPTH else None,
                error="unreadable message: a field of the wrong shape, or nested too deep")
        else:
            log.warning("whatsapp: a message without an id dropped")
    await statuses.record(app.sessions, parsed.statuses, now=app.runtime.clock())
    if parsed.statuses:
        wake_workers()
