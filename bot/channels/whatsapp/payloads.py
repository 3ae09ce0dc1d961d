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
    unreadable: list[Any] = field(default_factory=list)  # messages missing what we need


STATUSES = ("sent", "delivered", "read", "failed")


def parse(body: dict[str, Any]) -> Parsed:
    """Every message and status that has the fields we need; a malformed one is left
    out (`unreadable` counts them) and never spoils the others of the batch."""
    out = Parsed()
    for entry in _list(body.get("entry")):
        for change in _list(_dict(entry).get("changes")):
            value = _dict(_dict(change).get("value"))
            phone_id = _str(_dict(value.get("metadata")).get("phone_number_id"))
            names: dict[str, str] = {}
            for c in _list(value.get("contacts")):
                wa_id, name = _str(_dict(c).get("wa_id")), _str(
                    _dict(_dict(c).get("profile")).get("name"))
                if wa_id and name:
                    names[wa_id] = name
            for m in _list(value.get("messages")):
                inbound = _message(m, names, phone_id)
                if inbound is None:
                    out.unreadable.append(m)
                else:
                    out.messages.append(inbound)
            for s in _list(value.get("statuses")):
                status = _status(s)
                if status is not None:
                    out.statuses.append(status)
    return out


def _message(m: Any, names: dict[str, str], phone_id: str | None) -> Inbound | None:
    if not isinstance(m, dict):
        return None
    wamid, sender = _str(m.get("id")), _str(m.get("from"))
    kind = m.get("type")
    if not wamid or not sender or not (kind is None or isinstance(kind, str)):
        return None
    timestamp = min(max(_int(m.get("timestamp")), 0), 2**40)  # fits any BIGINT, and a date
    return Inbound(wamid=wamid[:128], wa_id=sender[:40], timestamp=timestamp,
                   message=m, name=names.get(sender), phone_number_id=phone_id)


def _status(s: Any) -> Status | None:
    if not isinstance(s, dict) or not _str(s.get("id")):
        return None
    if not isinstance(s.get("status"), str) or s["status"] not in STATUSES:
        return None
    errors = [e for e in _list(s.get("errors")) if isinstance(e, dict)]
    first = errors[0] if errors else {}
    detail = _dict(first.get("error_data")).get("details") or first.get("message")
    try:
        at = datetime.fromtimestamp(_int(s.get("timestamp")), UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return Status(
        wamid=str(s["id"])[:128], status=str(s["status"]), at=at,
        recipient=_str(s.get("recipient_id")),
        error_code=_int(first["code"]) if "code" in first else None,
        error=" — ".join(str(x) for x in (first.get("title"), detail) if x) or None,
    )


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
    (audio, stickers, locations...) and for fields of the wrong shape."""
    kind = message.get("type")
    if kind == "system":
        system = _dict(message.get("system"))
        new = system.get("wa_id") or system.get("new_wa_id")  # the older API's name
        if system.get("type") in NUMBER_CHANGES and isinstance(new, str | int) and str(new):
            return "number_change", NumberChange(new=str(new))
        return "other", None
    if kind == "text":
        return "text", str(_dict(message.get("text")).get("body") or "")
    if kind == "interactive":
        inter = _dict(message.get("interactive"))
        inter_type = _str(inter.get("type")) or ""
        reply = _dict(inter.get(inter_type))
        if inter_type in ("button_reply", "list_reply") and _str(reply.get("id")):
            return "choice", str(reply["id"])
        return "other", None
    if kind == "button":  # a quick-reply button of a template message: payload = choice id
        button = _dict(message.get("button"))
        if _str(button.get("payload")):
            return "choice", str(button["payload"])
        return "text", str(button.get("text") or "")
    if kind in ("document", "image"):
        media = _dict(message.get(kind))
        if _str(media.get("id")):
            return "media", Media(id=str(media["id"]), kind=kind,
                                  mime_type=_str(media.get("mime_type")),
                                  filename=_str(media.get("filename")),
                                  caption=_str(media.get("caption")))
    return "other", None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    """A string or a number as text (ids arrive as either); anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str | int):
        return str(value)
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0
