"""Uploaded scans on disk, outside the database, addressed by their SHA-256.

A blob lives at root/ab/cd/<sha256>; the applicant's file name never reaches the
filesystem. An upload streams into a temp file under root/tmp (same filesystem, so
the final rename is atomic) while it is hashed; it is checked from that file, and
only once it passes is it fsynced and renamed into place. A crash therefore leaves
at most a temp file, which `sweep_temp` removes later; a final path only ever holds
a complete, checked blob.

This is a low layer: it knows nothing of permits or file kinds. The content check is
injected as `inspector` (licensing.scans.make_inspector in the application).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK_SIZE = 64 * 1024
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_TMP_PREFIX = "upload-"


class ScanInfoLike(Protocol):
    """What an inspector reports about a file it accepted."""

    @property
    def kind(self) -> str: ...
    @property
    def media_type(self) -> str: ...
    @property
    def pages(self) -> int | None: ...
    @property
    def width(self) -> int | None: ...
    @property
    def height(self) -> int | None: ...


# Reads the (rewound) open file; raises an exception carrying `.code` to refuse it.
Inspector = Callable[[BinaryIO], ScanInfoLike]


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    kind: str
    media_type: str
    pages: int | None
    width: int | None
    height: int | None


class UploadRejected(Exception):
    """The upload was refused and nothing of it is left on disk."""

    def __init__(self, code: str, *, limit: int | None = None, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.limit = limit  # bytes; set for "too_large"
        self.detail = detail


class FileStore:
    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        inspector: Inspector | None = None,
    ) -> None:
        """`inspector=None` stores any non-empty bytes unchecked (kind "", media type
        application/octet-stream); applicant uploads must always pass an inspector."""
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self.max_bytes = max_bytes
        self._inspector = inspector

    def path_for(self, sha256: str) -> Path:
        if not _SHA256_RE.fullmatch(sha256):
            # The digest becomes a path: refuse anything that could walk out of root.
            raise ValueError(f"not a lowercase hex SHA-256: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        return self.path_for(sha256).open("rb")

    def remove(self, sha256: str) -> None:
        """Forget a stored file (one nobody asked for); a missing file is fine."""
        self.path_for(sha256).unlink(missing_ok=True)

    async def ingest(
        self, chunks: AsyncIterable[bytes], *, declared_size: int | None = None
    ) -> StoredBlob:
        """Stream, check and store one upload; raises UploadRejected."""
        if declared_size is not None and declared_size > self.max_bytes:
            # Refuse on the sender's word before pulling a single byte.
            raise UploadRejected("too_large", limit=self.max_bytes)
        # Creating and removing the temp are metadata operations of microseconds;
        # only the parse and fsync are slow enough to need a thread.
        tmp, tmp_path = self._open_temp()
        try:
            sha256, size = await self._receive(chunks, tmp)
            if size == 0:
                raise UploadRejected("empty")
            tmp.flush()
            info = await asyncio.to_thread(self._inspect, tmp)
            if not self.exists(sha256):
                await asyncio.to_thread(_commit, tmp, tmp_path, self.path_for(sha256))
            # else: same bytes already stored; the temp copy is dropped below.
            return _blob(sha256, size, info)
        finally:
            # On success the temp was renamed away; otherwise (refusal, sender error,
            # cancellation) nothing of the upload may remain.
            _discard(tmp, tmp_path)

    async def ingest_path(self, path: Path) -> StoredBlob:
        size = await asyncio.to_thread(lambda: path.stat().st_size)
        return await self.ingest(_read_chunks(path), declared_size=size)

    def sweep_temp(self, older_than_seconds: float = 3600) -> int:
        """Delete temp files left by crashed uploads; returns how many were removed.

        An upload in progress touches its temp file with every chunk, so only files
        idle for `older_than_seconds` go.
        """
        if not self.tmp_dir.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in os.scandir(self.tmp_dir):
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue  # another sweeper or a finishing upload got there first
        return removed

    def _open_temp(self) -> tuple[BinaryIO, Path]:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=self.tmp_dir)  # mode 0600
        return os.fdopen(fd, "w+b"), Path(name)

    async def _receive(self, chunks: AsyncIterable[bytes], tmp: BinaryIO) -> tuple[str, int]:
        hasher = hashlib.sha256()
        size = 0
        iterator = aiter(chunks)
        try:
            async for chunk in iterator:
                size += len(chunk)
                if size > self.max_bytes:
                    # Stop pulling at the first chunk past the limit.
                    raise UploadRejected("too_large", limit=self.max_bytes)
                hasher.update(chunk)
                # Inline: a 64 KiB write lands in the page cache in microseconds; the
                # bench's worst event-loop stall over a whole 20 MB upload is ~3 ms.
                tmp.write(chunk)
        finally:
            # Release the sender's resources now rather than at garbage collection.
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        return hasher.hexdigest(), size

    def _inspect(self, tmp: BinaryIO) -> ScanInfoLike:
        if self._inspector is None:
            return _Unchecked()
        tmp.seek(0)
        try:
            return self._inspector(tmp)
        except Exception as exc:
            code = getattr(exc, "code", None)
            if isinstance(code, str):
                raise UploadRejected(code, detail=str(exc)) from exc
            raise


@dataclass(frozen=True)
class _Unchecked:
    kind: str = ""
    media_type: str = "application/octet-stream"
    pages: int | None = None
    width: int | None = None
    height: int | None = None


def _blob(sha256: str, size: int, info: ScanInfoLike) -> StoredBlob:
    return StoredBlob(
        sha256=sha256,
        size=size,
        kind=str(info.kind),
        media_type=info.media_type,
        pages=info.pages,
        width=info.width,
        height=info.height,
    )


def _discard(tmp: BinaryIO, tmp_path: Path) -> None:
    tmp.close()
    tmp_path.unlink(missing_ok=True)


def _commit(tmp: BinaryIO, tmp_path: Path, final: Path) -> None:
    # Data reaches the disk before the name does, so after a power cut the final
    # path holds either nothing or the complete blob.
    tmp.flush()
    os.fsync(tmp.fileno())
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp_path, final)
    _fsync_dir(final.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


async def _read_chunks(path: Path) -> AsyncIterator[bytes]:
    fh = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(fh.read, CHUNK_SIZE):
            yield chunk
    finally:
        fh.close()
