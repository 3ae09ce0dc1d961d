"""`izin chat`: an applicant's chat in the terminal, against the same database.

One line is one message. `/upload PATH` sends a file. Works with piped input, so a
journey can be scripted: `printf '1\\n1\\n...' | izin chat --user alice`. Documents and
images the bot sends are saved to a folder and their path printed; messages are printed
in the order they were queued (an older notice before a newer reply).
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
import shutil
import sys
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from bot.channels.console.render import render
from bot.composition import App
from conversations.i18n import Translator
from conversations.types import InboundEvent
from licensing.qrcode import qr_png
from notifications.dispatcher import Delivery, SendResult, deliver_once
from storage.filestore import FileStore, StoredBlob, UploadRejected
from storage.models import Applicant

CHANNEL = "console"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class ConsoleSender:
    """Prints deliveries. With `hold`, a batch waits for `flush`, which prints it in the
    order it was queued (the dispatcher sends replies before notices, which in a
    terminal would put a fresh answer above an older notice)."""

    channel = CHANNEL

    def __init__(self, write: Callable[[str], None], files: FileStore | None = None,
                 downloads: Path | None = None, *, hold: bool = False) -> None:
        self._write = write
        self._files = files
        self._downloads = downloads
        self._hold = hold
        self._batch: list[Delivery] = []

    async def send(self, delivery: Delivery) -> SendResult:
        self._batch.append(delivery)
        if not self._hold:
            await self.flush()
        return SendResult(ok=True, platform_message_id=uuid.uuid4().hex)

    async def flush(self) -> None:
        batch, self._batch = sorted(self._batch, key=lambda d: d.outbox_id), []
        for delivery in batch:
            saved = (await asyncio.to_thread(self._save, delivery)
                     if delivery.message.kind in ("document", "image") else None)
            self._write(render(delivery.message, saved=saved))

    def _save(self, delivery: Delivery) -> Path | None:
        """Write a document or image into the downloads folder; its path, or None."""
        message = delivery.message
        if message.kind not in ("document", "image") or self._downloads is None:
            return None
        name = _SAFE_NAME.sub("_", message.filename or "") or (
            f"qr-{message.qr}.png" if message.qr else f"{delivery.outbox_id}.bin")
        target = self._downloads / name
        self._downloads.mkdir(parents=True, exist_ok=True)
        if message.qr is not None:
            target.write_bytes(qr_png(message.qr))
        elif message.blob_sha256 and self._files and self._files.exists(message.blob_sha256):
            with self._files.open(message.blob_sha256) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            return None
        return target.resolve()


class ConsoleChat:
    def __init__(self, app: App, user: str, write: Callable[[str], None]) -> None:
        self.app = app
        self.user = user
        self.sender = ConsoleSender(write, app.files, app.settings.chat_downloads_dir,
                                    hold=True)
        self._write = write

    async def say(self, line: str) -> None:
        """Send one line as the applicant, then print whatever the outbox holds for them."""
        line = line.rstrip("\n")
        if not line.strip():
            return
        blob: StoredBlob | None = None
        if line.split(maxsplit=1)[0] == "/upload":
            prepared = await self._upload(line)
            if isinstance(prepared, str):
                self._write(prepared)  # a usage answer: nothing reached the bot
                return
            event, blob = prepared
        else:
            event = InboundEvent.message(line)
        outcome = await self.app.runtime.handle(
            channel=CHANNEL, external_id=self.user, platform_id=uuid.uuid4().hex,
            event=event, blob=blob,
        )
        await self.deliver(outcome.applicant_id)

    async def deliver(self, applicant_id: int | None = None) -> None:
        """Print everything queued for this chat (replies and notices), oldest first."""
        if applicant_id is None:
            applicant_id = await self._applicant_id()
            if applicant_id is None:
                return
        while True:
            sent = await deliver_once(self.app.sessions, self.sender,
                                      now=self.app.runtime.clock(),
                                      applicant_id=applicant_id, limit=100)
            await self.sender.flush()
            if len(sent) < 100:
                return

    async def _applicant_id(self) -> int | None:
        async with self.app.sessions() as session:
            found: int | None = await session.scalar(select(Applicant.id).where(
                Applicant.channel == CHANNEL, Applicant.external_id == self.user))
            return found

    async def _lang(self) -> str | None:
        async with self.app.sessions() as session:
            lang: str | None = await session.scalar(select(Applicant.lang).where(
                Applicant.channel == CHANNEL, Applicant.external_id == self.user))
            return lang

    async def _upload(self, line: str) -> tuple[InboundEvent, StoredBlob | None] | str:
        t = Translator(await self._lang())
        rest = line.split(maxsplit=1)[1].strip() if len(line.split(maxsplit=1)) > 1 else ""
        if not rest:
            return t("console.upload_usage")
        try:
            parts = shlex.split(rest)
        except ValueError:
            parts = [rest]
        # A quoted path is one part; an unquoted path with spaces is the whole rest.
        raw = parts[0] if len(parts) == 1 else rest
        path = await asyncio.to_thread(lambda: Path(raw).expanduser())
        if not await asyncio.to_thread(path.is_file):
            key = "console.upload_is_dir" if await asyncio.to_thread(path.is_dir) else (
                "console.upload_missing")
            return t(key, path=str(path))
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


def keep_logs_out_of_the_chat(log_file: Path) -> None:
    """Library warnings and logs (pypdf's "EOF marker not found"...) go to a file: in a
    terminal, stderr is the same screen as the chat."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    logging.captureWarnings(True)
    warnings.simplefilter("default")


async def run(app: App, user: str, stdin: TextIO = sys.stdin,
              stdout: TextIO = sys.stdout) -> None:
    interactive = stdin.isatty()

    def write(text: str) -> None:
        stdout.write(text + "\n\n")
        stdout.flush()

    chat = ConsoleChat(app, user, write)
    if interactive:
        write("Izin — terminal chat. /upload PATH mengirim berkas; Ctrl-D keluar. "
              f"Berkas dari bot disimpan di {app.settings.chat_downloads_dir.resolve()}")
    await chat.deliver()  # notices that arrived while the chat was closed
    if interactive:
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

