"""Webhook bodies (`entry[].changes[].value`) into the few things we act on.

Pure: no I/O. Messages become `Inbound` (recorded, then handled by the worker), statuses
become `Status` (recorded against the outbox). Anything else (reactions, system
notices, unsupported types) is still recorded so the applicant gets an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Inbound:
    wamid: str
    wa_id: str  # the sender's WhatsApp id (their number)
    timestamp: int
    message: dict[str, Any]  # the message object as Meta sent it
    name: str | None = None  # profile name, when given
    phone_number_id: str | None = None


@dataclass(frozen=True)
class Status:
    wamid: str
    status: str  # sent | delivered | read | failed (anything else is ignored)
    at: datetime
    recipient: str | None = None
    error_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Parsed:
    messages: list[Inbound] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)


STATUSES = ("sent", "delivered", "read", "failed")


def parse(body: dict[str, Any]) -> Parsed:
    out = Parsed()
    for entry in _list(body.get("entry")):
        for change in _list(entry.get("changes") if isinstance(entry, dict) else None):
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                continue
            phone_id = (value.get("metadata") or {}).get("phone_number_id")
            names = {c.get("wa_id"): (c.get("profile") or {}).get("name")
                     for c in _list(value.get("contacts")) if isinstance(c, dict)}
            for m in _list(value.get("messages")):
                if not isinstance(m, dict) or not m.get("id") or not m.get("from"):
                    continue
                out.messages.append(Inbound(
                    wamid=str(m["id"]), wa_id=str(m["from"]),
                    timestamp=_int(m.get("timestamp")), message=m,
                    name=names.get(m["from"]), phone_number_id=phone_id))
            for s in _list(value.get("statuses")):
                if not isinstance(s, dict) or s.get("status") not in STATUSES or not s.get("id"):
                    continue
                errors = [e for e in _list(s.get("errors")) if isinstance(e, dict)]
                first = errors[0] if errors else {}
                detail = (first.get("error_data") or {}).get("details") or first.get("message")
                out.statuses.append(Status(
                    wamid=str(s["id"]), status=str(s["status"]),
                    at=datetime.fromtimestamp(_int(s.get("timestamp")), UTC),
                    recipient=s.get("recipient_id"),
                    error_code=_int(first["code"]) if "code" in first else None,
                    error=" — ".join(str(x) for x in (first.get("title"), detail) if x) or None,
                ))
    return out


@dataclass(frozen=True)
class Media:
    id: str
    kind: str  # document | image
    mime_type: str | None
    filename: str | None
    caption: str | None


@dataclass(frozen=True)
class NumberChange:
    """A `system` message: the person now writes from `new` (their WhatsApp id)."""

    new: str


NUMBER_CHANGES = ("user_changed_number", "customer_changed_number")


def content(message: dict[str, Any]) -> tuple[str, str | Media | NumberChange | None]:
    """What one message says: ("text", body), ("choice", id), ("media", Media),
    ("number_change", NumberChange), or ("other", None) for kinds we do not take
    (audio, stickers, locations...)."""
    kind = message.get("type")
    if kind == "system":
        raw = message.get("system")
        system: dict[str, Any] = raw if isinstance(raw, dict) else {}
        new = system.get("wa_id") or system.get("new_wa_id")  # the older API's name
        if system.get("type") in NUMBER_CHANGES and isinstance(new, str | int) and str(new):
            return "number_change", NumberChange(new=str(new))
        return "other", None
    if kind == "text":
        return "text", str((message.get("text") or {}).get("body") or "")
    if kind == "interactive":
        inter = message.get("interactive") or {}
        reply = inter.get(inter.get("type") or "") or {}
        if inter.get("type") in ("button_reply", "list_reply") and reply.get("id"):
            return "choice", str(reply["id"])
        return "other", None
    if kind == "button":  # a quick-reply button of a template message: payload = choice id
        button = message.get("button") or {}
        if button.get("payload"):
            return "choice", str(button["payload"])
        return "text", str(button.get("text") or "")
    if kind in ("document", "image"):
        media = message.get(kind) or {}
        if media.get("id"):
            return "media", Media(id=str(media["id"]), kind=kind,
                                  mime_type=media.get("mime_type"),
                                  filename=media.get("filename"), caption=media.get("caption"))
    return "other", None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
