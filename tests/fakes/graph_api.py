"""A fake WhatsApp Cloud (Graph) API on 127.0.0.1, plus webhook bodies of the real shape.

Endpoints: POST /{phone_id}/messages (recorded; answers with a wamid), POST
/{phone_id}/media (multipart upload), GET /{media_id} (url, mime_type, sha256,
file_size, id), GET /download/{media_id} (needs the bearer token). Errors can be
injected per request (`fail_next`) or per recipient (`fail_for`), a throughput limit
answers 130429 past `limit_per_second` accepted messages (per calendar second of `clock`;
or, with `limit_burst`, past a token bucket of that rate and capacity), and an
optional pair limit answers 131056 to a second message to one recipient within
`per_recipient_interval` seconds (both off by default).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.channels.whatsapp.signature import sign

ERRORS: dict[int, tuple[int, str]] = {
    131047: (400, "Re-engagement message"),
    131026: (400, "Message Undeliverable"),
    130429: (400, "Rate limit hit"),
    131056: (400, "(Business Account, Consumer Account) pair rate limit hit"),
    500: (500, "Something went wrong"),
}


@dataclass
class Sent:
    to: str
    body: dict[str, Any]
    wamid: str

    @property
    def type(self) -> str:
        return str(self.body.get("type"))

    @property
    def text(self) -> str:
        """The text a person would read first (body, caption or template parameter)."""
        b = self.body
        if self.type == "text":
            return str(b["text"]["body"])
        if self.type == "interactive":
            return str(b["interactive"]["body"]["text"])
        if self.type in ("document", "image"):
            return str(b[self.type].get("caption", ""))
        if self.type == "template":
            for c in b["template"].get("components", []):
                if c["type"] == "body":
                    return " ".join(p.get("text", "") for p in c["parameters"])
        return ""

    def options(self) -> list[tuple[str, str]]:
        """(id, title) of the buttons or list rows offered."""
        if self.type != "interactive":
            return []
        inter = self.body["interactive"]
        if inter["type"] == "button":
            return [(b["reply"]["id"], b["reply"]["title"]) for b in inter["action"]["buttons"]]
        return [(r["id"], r["title"]) for s in inter["action"]["sections"] for r in s["rows"]]


@dataclass
class FakeGraphAPI:
    token: str = "test-token"
    phone_id: str = "1000001"
    clock: Callable[[], float] = time.monotonic
    limit_per_second: int | None = None
    limit_burst: float | None = None
    per_recipient_interval: float | None = None
    sent: list[Sent] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    uploads: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # inbound media
    fail_next: list[int] = field(default_factory=list)
    fail_for: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    refused: list[tuple[str, int]] = field(default_factory=list)  # (to, code)
    # Read receipts: (wamid, typing indicator asked) per POST {"status": "read"}.
    read: list[tuple[str, bool]] = field(default_factory=list)
    fail_read: list[int] = field(default_factory=list)  # HTTP statuses for the next receipts
    base: str = ""

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._window: tuple[int, int] = (-1, 0)
        self._tokens: tuple[float, float] | None = None  # (tokens, `clock` when counted)
        self._last_to: dict[str, float] = {}  # recipient -> `clock` of its last message
        self._runner: web.AppRunner | None = None

    # -- test side --
    def add_media(self, data: bytes, mime_type: str) -> str:
        media_id = f"media-in-{next(self._ids)}"
        self.media[media_id] = (data, mime_type)
        return media_id

    def to(self, wa_id: str) -> list[Sent]:
        return [s for s in self.sent if s.to == wa_id]

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{phone}/messages", self._messages)
        app.router.add_post("/{phone}/media", self._upload)
        app.router.add_get("/download/{media}", self._download)
        app.router.add_get("/{media}", self._media_info)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base = f"http://{host}:{port}"
        return self.base

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- server side --
    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _messages(self, request: web.Request) -> web.Response:
        self.requests.append(("POST", request.path))
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        if request.match_info["phone"] != self.phone_id:
            return _error(400, 100, "Unsupported post request")
        body = await request.json()
        if body.get("status") == "read":  # mark as read: no message, no rate counted
            if self.fail_read:
                return _error(self.fail_read.pop(0), 131000, "Something went wrong")
            if not str(body.get("message_id") or "").startswith("wamid."):
                return _error(400, 100, "Invalid parameter")
            typing = body.get("typing_indicator")
            if typing is not None and typing != {"type": "text"}:
                return _error(400, 100, "Invalid parameter")
            self.read.append((str(body["message_id"]), typing is not None))
            return web.json_response({"success": True})
        to = str(body.get("to"))
        code = None
        if self.fail_next:
            code = self.fail_next.pop(0)
        elif self.fail_for.get(to):
            code = self.fail_for[to].pop(0)
        else:
            code = self._limit(to)
        if code is not None:
            self.refused.append((to, code))
            status, title = ERRORS[code]
            return _error(status, 131000 if code == 500 else code, title)
        wamid = f"wamid.fake{next(self._ids):06d}"
        self.sent.append(Sent(to=to, body=body, wamid=wamid))
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": to, "wa_id": to}],
                                  "messages": [{"id": wamid}]})

    def _limit(self, to: str) -> int | None:
        """130429 past the throughput limit, 131056 past the pair limit; counts the
        message against both when it is accepted."""
        now = self.clock()
        last = self._last_to.get(to)
        if (self.per_recipient_interval is not None and last is not None
                and now - last < self.per_recipient_interval):
            return 131056
        if self.limit_per_second is not None and self.limit_burst is not None:
            tokens, then = self._tokens or (self.limit_burst, now)
            tokens = min(self.limit_burst, tokens + (now - then) * self.limit_per_second)
            if tokens < 1:
                self._tokens = (tokens, now)
                return 130429
            self._tokens = (tokens - 1, now)
        elif self.limit_per_second is not None:
            second = int(now)
            window, count = self._window
            if window != second:
                window, count = second, 0
            if count >= self.limit_per_second:
                return 130429
            self._window = (window, count + 1)
        self._last_to[to] = now
        return None

    async def _upload(self, request: web.Request) -> web.Response:
        self.requests.append(("POST", request.path))
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        form = await request.post()
        upload = form.get("file")
        if form.get("messaging_product") != "whatsapp" or not isinstance(upload,
                                                                          web.FileField):
            return _error(400, 100, "file and messaging_product are required")
        media_id = f"media-out-{next(self._ids)}"
        self.uploads[media_id] = (upload.file.read(), str(form.get("type")), upload.filename)
        return web.json_response({"id": media_id})

    async def _media_info(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", request.path))
        if not self._authorised(request):
            return _error(401, 190, "Invalid OAuth access token")
        media_id = request.match_info["media"]
        if media_id not in self.media:
            return _error(404, 100, "Unsupported get request")
        data, mime = self.media[media_id]
        return web.json_response({
            "messaging_product": "whatsapp", "url": f"{self.base}/download/{media_id}",
            "mime_type": mime, "sha256": hashlib.sha256(data).hexdigest(),
            "file_size": str(len(data)), "id": media_id})

    async def _download(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(("GET", request.path))
        if not self._authorised(request):
            return web.Response(status=401, text="no token")
        data, mime = self.media[request.match_info["media"]]
        return web.Response(body=data, content_type=mime)


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"error": {
        "message": f"({code}) {message}", "type": "OAuthException", "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": message},
        "fbtrace_id": "AbCdEf"}}, status=status)


# ---- webhook bodies, as Meta posts them ----

_wamids = itertools.count(1)


def new_wamid() -> str:
    return f"wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjA{next(_wamids):08d}"


def envelope(value: dict[str, Any], phone_id: str = "1000001") -> dict[str, Any]:
    return {"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398",
        "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100000000", "phone_number_id": phone_id},
            **value}}]}]}


def inbound(wa_id: str, message: dict[str, Any], *, name: str = "Siti",
            ts: int = 1_764_000_000, wamid: str | None = None) -> dict[str, Any]:
    msg = {"from": wa_id, "id": wamid or new_wamid(), "timestamp": str(ts), **message}
    return envelope({"contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                     "messages": [msg]})


def text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body}}


def button_reply(choice_id: str, title: str) -> dict[str, Any]:
    return {"type": "interactive", "interactive": {
        "type": "button_reply", "button_reply": {"id": choice_id, "title": title}}}


def list_reply(choice_id: str, title: str) -> dict[str, Any]:
    return {"type": "interactive", "interactive": {
        "type": "list_reply", "list_reply": {"id": choice_id, "title": title}}}


def document(media_id: str, filename: str, data: bytes,
             mime: str = "application/pdf") -> dict[str, Any]:
    return {"type": "document", "document": {
        "filename": filename, "mime_type": mime, "sha256": hashlib.sha256(data).hexdigest(),
        "id": media_id}}


def image(media_id: str, data: bytes, mime: str = "image/jpeg") -> dict[str, Any]:
    return {"type": "image", "image": {
        "mime_type": mime, "sha256": hashlib.sha256(data).hexdigest(), "id": media_id}}


def status(wamid: str, state: str, wa_id: str, *, ts: int = 1_764_000_100,
           error_code: int | None = None) -> dict[str, Any]:
    s: dict[str, Any] = {"id": wamid, "status": state, "timestamp": str(ts),
                         "recipient_id": wa_id}
    if state in ("sent", "delivered"):
        s["conversation"] = {"id": "c0ffee", "origin": {"type": "service"}}
        s["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
    if error_code is not None:
        s["errors"] = [{"code": error_code, "title": ERRORS.get(error_code, (0, "Error"))[1],
                        "message": ERRORS.get(error_code, (0, "Error"))[1],
                        "error_data": {"details": "Message failed to send"}}]
    return envelope({"statuses": [s]})


def signed(body: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, secret)}
