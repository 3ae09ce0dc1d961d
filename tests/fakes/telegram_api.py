"""A fake Telegram Bot API server on 127.0.0.1 for the tests and the bench.

It speaks the real wire format (`POST /bot<token>/<method>` with form or multipart
fields, `GET /file/bot<token>/<path>`, answers `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": ..., "description": ..., "parameters": ...}`), records every
request, lets a test inject 429/403/5xx answers, and enforces Telegram's rate limits
(about one message a second per chat with a small burst, and a global rate) by answering
429 with `retry_after` beyond them, as the real server does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SEND_METHODS = {"sendmessage", "senddocument", "sendphoto", "editmessagetext"}
BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Izin", "username": "izin_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False,
            "supports_inline_queries": False}


@dataclass
class Recorded:
    method: str  # as the client spelled it, e.g. "sendMessage"
    params: dict[str, Any]
    files: dict[str, bytes]
    at: float
    status: int = 200
    result: Any = None

    @property
    def chat_id(self) -> str | None:
        value = self.params.get("chat_id")
        return None if value is None else str(value)

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        value = self.params.get("reply_markup")
        return value if isinstance(value, dict) else None


@dataclass
class Injection:
    method: str  # lower-case method name, or "*"
    status: int
    times: int
    retry_after: int | None = None
    chat_id: str | None = None
    description: str | None = None


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float = -1.0
    last: float = field(default_factory=time.monotonic)

    def take(self) -> float:
        """0 when allowed now, otherwise the seconds until a token is there."""
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.burst
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class FakeTelegram:
    def __init__(self, token: str = "123456:TEST-token", *, per_chat_rate: float = 1.0,
                 per_chat_burst: float = 3, global_rate: float = 30,
                 global_burst: float = 30, first_update_id: int = 1000) -> None:
        self.token = token
        self.requests: list[Recorded] = []
        self.webhook: dict[str, Any] | None = None
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.per_chat_rate, self.per_chat_burst = per_chat_rate, per_chat_burst
        self._global = _Bucket(global_rate, global_burst)
        self._chats: dict[str, _Bucket] = {}
        self._injections: list[Injection] = []
        self._files: dict[str, tuple[str, bytes, int]] = {}  # file_id -> path, data, size
        self._paths: dict[str, bytes] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(first_update_id)
        self._message_ids: dict[str, itertools.count[int]] = defaultdict(
            lambda: itertools.count(1))
        self._new_update = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._closing = False
        self.rate_limited = 0  # how many 429s the limits (not injections) produced

    # ---- lifecycle ----
    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self._closing = True
        self._new_update.set()  # long polls still open return now
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        """What IZIN_TELEGRAM_API_BASE is set to."""
        return f"http://127.0.0.1:{self.port}"

    # ---- what tests feed in ----
    def add_file(self, data: bytes, *, size: int | None = None, name: str = "f") -> dict[str, Any]:
        """Make bytes downloadable; returns the File fields a message would carry."""
        file_id = "F" + uuid.uuid4().hex
        path = f"documents/{uuid.uuid4().hex}_{name}"
        declared = len(data) if size is None else size
        self._files[file_id] = (path, data, declared)
        self._paths[path] = data
        return {"file_id": file_id, "file_unique_id": file_id[:16], "file_size": declared}

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def feed(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates (polling mode)."""
        self._updates.append(update)
        self._new_update.set()

    def inject(self, method: str, status: int, *, times: int = 1, retry_after: int | None = None,
               chat_id: str | int | None = None, description: str | None = None) -> None:
        self._injections.append(Injection(method.lower(), status, times, retry_after,
                                          None if chat_id is None else str(chat_id),
                                          description))

    # ---- what tests read back ----
    def calls(self, method: str | None = None, *, chat_id: str | int | None = None,
              ok_only: bool = True) -> list[Recorded]:
        out = []
        for r in self.requests:
            if method is not None and r.method.lower() != method.lower():
                continue
            if chat_id is not None and r.chat_id != str(chat_id):
                continue
            if ok_only and r.status != 200:
                continue
            out.append(r)
        return out

    def delivered(self, chat_id: str | int) -> list[Recorded]:
        """Every message that reached the chat (texts, documents, photos), in order."""
        return [r for r in self.calls(chat_id=chat_id)
                if r.method.lower() in {"sendmessage", "senddocument", "sendphoto"}]

    def texts(self, chat_id: str | int) -> list[str]:
        return [str(r.params.get("text") or r.params.get("caption") or "")
                for r in self.delivered(chat_id)]

    # ---- the server ----
    async def _api(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params, files = await _read_params(request)
        record = Recorded(method, params, files, time.monotonic())
        self.requests.append(record)
        lower = method.lower()
        injected = self._injected(lower, record.chat_id)
        if injected is not None:
            record.status = injected.status
            return _error(injected.status, injected.description or _DESCRIPTIONS.get(
                injected.status, "Internal Server Error"), injected.retry_after)
        if lower in SEND_METHODS:
            wait = self._rate_limit(record.chat_id)
            if wait > 0:
                record.status = 429
                self.rate_limited += 1
                return _error(429, f"Too Many Requests: retry after {math.ceil(wait)}",
                              math.ceil(wait))
        handler = getattr(self, f"_m_{lower}", None)
        if handler is None:
            record.status = 404
            return _error(404, "Not Found: method not found")
        result = await handler(params, files)
        if isinstance(result, web.StreamResponse):
            record.status = result.status
            return result
        record.result = result
        return web.json_response({"ok": True, "result": result})

    def _injected(self, method: str, chat_id: str | None) -> Injection | None:
        for inj in self._injections:
            if inj.times > 0 and inj.method in (method, "*") and (
                    inj.chat_id is None or inj.chat_id == chat_id):
                inj.times -= 1
                return inj
        return None

    def _rate_limit(self, chat_id: str | None) -> float:
        if chat_id is not None:
            bucket = self._chats.setdefault(chat_id, _Bucket(self.per_chat_rate,
                                                             self.per_chat_burst))
            wait = bucket.take()
            if wait > 0:
                return wait
        return self._global.take()

    async def _download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        path = request.match_info["path"]
        self.requests.append(Recorded("download", {"path": path}, {}, time.monotonic()))
        data = self._paths.get(path)
        if data is None:
            return _error(404, "Not Found")
        return web.Response(body=data, content_type="application/octet-stream")

    # ---- methods ----
    async def _m_getme(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        return BOT_USER

    async def _m_getupdates(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        if offset:
            # Confirming an offset forgets every update before it, as Telegram does.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0 and not self._closing:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout)
        limit = int(params.get("limit") or 100)
        return self._updates[:limit]

    async def _m_setwebhook(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        self.webhook = params
        return True

    async def _m_deletewebhook(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        self.webhook = None
        return True

    async def _m_setmycommands(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        self.commands[str(params.get("language_code") or "")] = params.get("commands") or []
        return True

    async def _m_answercallbackquery(self, params: dict[str, Any],
                                     files: dict[str, bytes]) -> Any:
        return True

    async def _m_getfile(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        found = self._files.get(str(params.get("file_id")))
        if found is None:
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: invalid file_id"},
                                     status=400)
        path, _, size = found
        info: dict[str, Any] = {"file_id": params["file_id"], "file_unique_id":
                                str(params["file_id"])[:16], "file_size": size}
        if size <= 20 * 1024 * 1024:  # the real server gives no path beyond the limit
            info["file_path"] = path
        else:
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: file is too big"},
                                     status=400)
        return info

    def _message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat = str(params.get("chat_id"))
        msg: dict[str, Any] = {
            "message_id": next(self._message_ids[chat]), "date": int(time.time()),
            "chat": {"id": int(chat), "type": "private"}, "from": BOT_USER, **extra}
        if params.get("reply_markup"):
            msg["reply_markup"] = params["reply_markup"]
        return msg

    async def _m_sendmessage(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        text = str(params.get("text") or "")
        if not text or len(text) > 4096:
            return web.json_response({"ok": False, "error_code": 400, "description":
                                      "Bad Request: message is too long" if text else
                                      "Bad Request: message text is empty"}, status=400)
        return self._message(params, text=text)

    async def _m_editmessagetext(self, params: dict[str, Any],
                                 files: dict[str, bytes]) -> Any:
        return self._message(params, text=str(params.get("text") or ""),
                             edit_date=int(time.time()))

    async def _m_senddocument(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        data = files.get("document", b"")
        meta = self.add_file(data, name="doc")
        return self._message(params, document={**meta, "file_name": params.get("_filename"),
                                               "mime_type": "application/pdf"})

    async def _m_sendphoto(self, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        data = files.get("photo", b"")
        meta = self.add_file(data, name="photo.jpg")
        return self._message(params, photo=[{**meta, "width": 300, "height": 300}])


_DESCRIPTIONS = {
    400: "Bad Request",
    403: "Forbidden: bot was blocked by the user",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    params: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    if request.method == "GET":
        form: Any = request.query
    elif request.content_type == "application/json":
        form = await request.json()
    else:
        form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            files[key] = value.file.read()
            params["_filename"] = value.filename
            continue
        if isinstance(value, str) and value[:1] in "[{":
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        params[key] = value
    # aiogram sends `document=attach://<name>` with the bytes in the part `<name>`.
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            part = value.removeprefix("attach://")
            if part in files:
                files[key] = files[part]
    return params, files


# ---- updates as Telegram sends them ----

def user(chat_id: int, *, language_code: str = "id") -> dict[str, Any]:
    return {"id": chat_id, "is_bot": False, "first_name": f"User{chat_id}",
            "language_code": language_code}


def message_update(api: FakeTelegram, chat_id: int, **content: Any) -> dict[str, Any]:
    return {"update_id": api.next_update_id(), "message": {
        "message_id": api.next_update_id(), "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": f"User{chat_id}"},
        "from": user(chat_id), **content}}


def text_update(api: FakeTelegram, chat_id: int, text: str) -> dict[str, Any]:
    return message_update(api, chat_id, text=text)


def callback_update(api: FakeTelegram, chat_id: int, data: str,
                    message_id: int = 1) -> dict[str, Any]:
    return {"update_id": api.next_update_id(), "callback_query": {
        "id": uuid.uuid4().hex[:16], "from": user(chat_id), "chat_instance": str(chat_id),
        "data": data, "message": {
            "message_id": message_id, "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"}, "from": BOT_USER, "text": "…"}}}


def document_update(api: FakeTelegram, chat_id: int, data: bytes, *, file_name: str,
                    mime_type: str = "application/pdf",
                    size: int | None = None) -> dict[str, Any]:
    meta = api.add_file(data, size=size, name=file_name)
    return message_update(api, chat_id, document={**meta, "file_name": file_name,
                                                  "mime_type": mime_type})


def photo_update(api: FakeTelegram, chat_id: int, sizes: list[tuple[bytes, int, int]]
                 ) -> dict[str, Any]:
    """`sizes`: (bytes, width, height) per size, smallest first, as Telegram lists them."""
    photo = [{**api.add_file(data, name="photo.jpg"), "width": w, "height": h}
             for data, w, h in sizes]
    return message_update(api, chat_id, photo=photo)
