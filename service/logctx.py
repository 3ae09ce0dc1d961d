"""What a log line is about: channel, chat key, registration number, request id.

Context variables, so every line logged while one event, request or job runs carries
them without passing them around; each asyncio task starts with a copy of its
creator's values. `ContextFilter` puts them on log records (bot/logs.py installs it).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from contextvars import ContextVar

FIELDS = ("channel", "chat_key", "reg_no", "request_id")

_vars: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"izin_log_{name}", default=None) for name in FIELDS
}

# A NIK is 16 digits; phone numbers are shorter. Applicants type NIKs into chats, so
# any that reaches a message or an exception text is masked before it is written.
_NIK = re.compile(r"(?<!\d)(\d{4})\d{8}(\d{4})(?!\d)")


# Secrets that reach log lines inside URLs: a Bot API token in aiogram's request URLs,
# Meta's verify token in the handshake's query string (uvicorn's access line).
_SECRETS = (
    (re.compile(r"bot\d+:[A-Za-z0-9_-]{20,}"), "bot<token>"),
    (re.compile(r"(hub\.verify_token=)[^&\s\"]+"), r"\1<secret>"),
    (re.compile(r"(access_token=)[^&\s\"]+"), r"\1<secret>"),
)


def mask_nik(text: str) -> str:
    """NIKs (and the secrets above) masked; the rest of the text unchanged."""
    text = _NIK.sub(r"\1********\2", text)
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def set_context(**values: str | None) -> None:
    """Set fields for the rest of the current task (e.g. a per-chat worker's event)."""
    for name, value in values.items():
        _vars[name].set(value)


@contextlib.contextmanager
def bound(**values: str | None) -> Iterator[None]:
    """Set fields for the `with` block only."""
    tokens = [(_vars[name], _vars[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current() -> dict[str, str]:
    return {name: value for name, var in _vars.items() if (value := var.get()) is not None}


class ContextFilter(logging.Filter):
    """Adds the context fields to each record and masks NIKs in its text."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in FIELDS:
            setattr(record, name, _vars[name].get())
        message = record.getMessage()
        masked = mask_nik(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text = str(exc)
            if mask_nik(text) != text:  # the traceback would print it: keep only the type
                record.exc_info = None
                record.exc_text = None
                record.msg = f"{record.msg} ({type(exc).__name__}, details masked)"
        return True
