"""A thin httpx client for the parts of the WhatsApp Cloud (Graph) API we use.

POST /{phone-number-id}/messages, POST /{phone-number-id}/media (multipart upload),
GET /{media-id} (a short-lived download URL), and GET of that URL with the same bearer
token. Errors come back as `{"error": {"code": ..., "message": ...}}`; they are raised
as `GraphError` so the sender can decide (fallback, unreachable, retry, give up).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, BinaryIO

import httpx


class GraphError(Exception):
    def __init__(self, http_status: int, code: int | None, message: str,
                 details: str | None = None) -> None:
        super().__init__(f"{code or http_status}: {message}")
        self.http_status = http_status
        self.code = code
        self.message = message
        self.details = details

    def describe(self) -> str:
        text = f"{self.code or self.http_status}: {self.message}"
        return f"{text} ({self.details})" if self.details else text


class GraphClient:
    def __init__(self, *, base: str, token: str, phone_number_id: str,
                 timeout: float = 20.0, http: httpx.AsyncClient | None = None) -> None:
        self.base = base.rstrip("/")
        self.phone_number_id = phone_number_id
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._auth = {"Authorization": f"Bearer {token}"}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, body: dict[str, Any]) -> str:
        """Send one message; returns its wamid."""
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual", **body}
        resp = await self._http.post(f"{self.base}/{self.phone_number_id}/messages",
                                     json=payload, headers=self._auth)
        data = _json_or_raise(resp)
        messages = data.get("messages") or []
        if not messages or not messages[0].get("id"):
            raise GraphError(resp.status_code, None, "no message id in the answer")
        return str(messages[0]["id"])

    async def mark_read(self, wamid: str, *, typing: bool = True) -> None:
        """Blue ticks on the person's message (and on all before it); with `typing`, the
        typing indicator shows until our reply arrives or 25 seconds pass."""
        payload: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read",
                                   "message_id": wamid}
        if typing:
            payload["typing_indicator"] = {"type": "text"}
        resp = await self._http.post(f"{self.base}/{self.phone_number_id}/messages",
                                     json=payload, headers=self._auth)
        _json_or_raise(resp)

    async def upload(self, fh: BinaryIO | bytes, *, filename: str, media_type: str) -> str:
        """Upload media (streamed from `fh` by httpx's multipart encoder); returns its id."""
        resp = await self._http.post(
            f"{self.base}/{self.phone_number_id}/media", headers=self._auth,
            data={"messaging_product": "whatsapp", "type": media_type},
            files={"file": (filename, fh, media_type)})
        data = _json_or_raise(resp)
        if not data.get("id"):
            raise GraphError(resp.status_code, None, "no media id in the answer")
        return str(data["id"])

    async def media_info(self, media_id: str) -> dict[str, Any]:
        """{"url", "mime_type", "sha256", "file_size", "id"}; the url expires in minutes."""
        resp = await self._http.get(f"{self.base}/{media_id}", headers=self._auth)
        return _json_or_raise(resp)

    @asynccontextmanager
    async def download(self, url: str) -> AsyncIterator[httpx.Response]:
        """Stream the media bytes; the URL needs the same bearer token."""
        async with self._http.stream("GET", url, headers=self._auth) as resp:
            if resp.status_code != 200:
                await resp.aread()
                raise GraphError(resp.status_code, None, "media download refused")
            yield resp


def _json_or_raise(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        data = None
    if resp.status_code >= 400 or not isinstance(data, dict) or "error" in data:
        error = (data or {}).get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            code = error.get("code")
            details = (error.get("error_data") or {}).get("details")
            raise GraphError(resp.status_code, int(code) if code is not None else None,
                             str(error.get("message") or "error"), details)
        raise GraphError(resp.status_code, None, f"HTTP {resp.status_code}")
    return data
