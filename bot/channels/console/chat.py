"""`izin chat`: an applicant's chat in the terminal, against the same database.

One line is one message. `/upload PATH` sends a file. Works with piped input, so a
journey can be scripted: `printf '1\\n1\\n...' | izin chat --user alice`.
"""

from __future__ import annotations

import asyncio
import shlex
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bot.channels.console.render import render
from bot.composition import App
from conversations.types import InboundEvent
from notifications.dispatcher import Delivery, SendResult, deliver_once
from storage.filestore import StoredBlob, UploadRejected

CHANNEL = "console"


class ConsoleSender:
    channel = CHANNEL

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    async def send(self, delivery: Delivery) -> SendResult:
        self._write(render(delivery.message))
        return SendResult(ok=True, platform_message_id=uuid.uuid4().hex)


class ConsoleChat:
    def __init__(self, app: App, user: str, write: Callable[[str], None]) -> None:
        self.app = app
        self.user = user
        self.sender = ConsoleSender(write)
        self._write = write

    async def say(self, line: str) -> None:
        """Send one line as the applicant, then print whatever the outbox holds for them."""
        line = line.rstrip("\n")
        if not line.strip():
            return
        blob: StoredBlob | None = None
        if line.startswith("/upload"):
            event, blob = await self._upload(line)
        else:
            event = InboundEvent.message(line)
        outcome = await self.app.runtime.handle(
            channel=CHANNEL, external_id=self.user, platform_id=uuid.uuid4().hex,
            event=event, blob=blob,
        )
        await deliver_once(self.app.sessions, self.sender, now=self.app.runtime.clock(),
                           applicant_id=outcome.applicant_id, limit=100)

    async def _upload(self, line: str) -> tuple[InboundEvent, StoredBlob | None]:
        try:
            parts = shlex.split(line)
        except ValueError:
            parts = line.split()
        if len(parts) != 2:
            return InboundEvent.message("/upload"), None
        path = await asyncio.to_thread(lambda: Path(parts[1]).expanduser())
        if not await asyncio.to_thread(path.is_file):
            return InboundEvent.upload_rejected("download_failed"), None
        try:
            blob = await self.app.files.ingest_path(path)
        except UploadRejected as exc:
            params = {"limit_mb": _mb(exc.limit)} if exc.code == "too_large" else {}
            return InboundEvent.upload_rejected(exc.code, **params), None
        return InboundEvent.upload(blob.sha256, blob.kind, blob.size), blob


def _mb(limit: int | None) -> str:
    if not limit:
        return "?"
    mb = limit / (1024 * 1024)
    return f"{mb:.0f}" if mb == int(mb) else f"{mb:.1f}"


async def run(app: App, user: str, stdin: TextIO = sys.stdin,
              stdout: TextIO = sys.stdout) -> None:
    interactive = stdin.isatty()

    def write(text: str) -> None:
        stdout.write(text + "\n\n")
        stdout.flush()

    chat = ConsoleChat(app, user, write)
    if interactive:
        write("Izin — terminal chat. /upload PATH mengirim berkas; Ctrl-D keluar.")
        await chat.say("/start")
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        if not interactive:
            stdout.write(f"> {line.rstrip()}\n")
        await chat.say(line)
