"""Logging for every `izin` command: plain lines or JSON (IZIN_LOG_FORMAT), each line
with the context of service/logctx.py (channel, chat key, registration number, request
id) and NIKs masked."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from bot.settings import LogFormat, Settings
from service.logctx import FIELDS, ContextFilter

PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _PlainFormatter(logging.Formatter):
    """The plain line, with whichever context fields are set appended as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{name}={value}" for name in FIELDS
                         if (value := getattr(record, name, None)) is not None)
        return f"{line} [{extra}]" if extra else line


def configure(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format is LogFormat.json:
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger", "asctime": "time"}))
    else:
        handler.setFormatter(_PlainFormatter(PLAIN))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
