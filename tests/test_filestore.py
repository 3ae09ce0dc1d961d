"""The content-addressed blob store, on a real temp directory with real files."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from licensing.scans import make_inspector
from storage.filestore import CHUNK_SIZE, FileStore, StoredBlob, UploadRejected
from tests.test_scans import BAD, GOOD, make_pdf, make_pdf_of_size

REPO = Path(__file__).resolve().parents[1]
LIMIT = 1024 * 1024  # a small limit keeps the size tests fast


def files_under(root: Path) -> list[Path]:
    """Every non-directory entry anywhere under root (empty dirs don't count)."""
    if not root.exists():
        return []
    return sorted(Path(dirpath, name) for dirpath, _dirs, names in os.walk(root) for name in names)


def is_inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


async def chunked(data: bytes, size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


class CountingSource:
    """An endless-ish sender of 64 KiB chunks that records how many were pulled."""

    def __init__(self, total_chunks: int) -> None:
        self.total_chunks = total_chunks
        self.pulled = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        for _ in range(self.total_chunks):
            self.pulled += 1
            yield b"\x00" * CHUNK_SIZE


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def store(root: Path) -> FileStore:
    return FileStore(root, max_bytes=LIMIT, inspector=make_inspector(40_000_000))


# --- accepted ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOOD))
async def test_accepted_kinds_land_at_their_content_address(
    store: FileStore, root: Path, name: str
) -> None:
    data, kind = GOOD[name]
    blob = await store.ingest(chunked(data, 100), declared_size=len(data))

    sha = hashlib.sha256(data).hexdigest()
    final = root / sha[:2] / sha[2:4] / sha
    assert blob.sha256 == sha
    assert blob.size == len(data)
    assert blob.kind == kind.value
    assert store.path_for(sha) == final
    assert final.read_bytes() == data
    assert files_under(root) == [final]  # and no temp left behind
    assert store.exists(sha)
    with store.open(sha) as fh:
        assert fh.read() == data


async def test_blob_metadata(store: FileStore) -> None:
    pdf, _ = GOOD["pdf"]
    png, _ = GOOD["png"]
    pdf_blob = await store.ingest(chunked(pdf))
    png_blob = await store.ingest(chunked(png))
    assert (pdf_blob.media_type, pdf_blob.pages, pdf_blob.width) == ("application/pdf", 1, None)
    assert (png_blob.media_type, png_blob.pages) == ("image/png", None)
    assert (png_blob.width, png_blob.height) == (640, 480)


async def test_file_of_exactly_the_limit_is_accepted(store: FileStore) -> None:
    data = make_pdf_of_size(LIMIT)
    blob = await store.ingest(chunked(data), declared_size=LIMIT)
    assert blob.size == LIMIT


async def test_duplicate_content_reuses_one_blob(store: FileStore, root: Path) -> None:
    data, _ = GOOD["jpeg"]
    first = await store.ingest(chunked(data))
    second = await store.ingest(chunked(data, 7))  # chunking doesn't change the address
    assert first == second
    assert files_under(root) == [store.path_for(first.sha256)]


async def test_ingest_path_streams_a_local_file(store: FileStore, tmp_path: Path) -> None:
    data = make_pdf(pages=2)
    path = tmp_path / "upload.pdf"
    path.write_bytes(data)
    blob = await store.ingest_path(path)
    assert blob == StoredBlob(
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        kind="pdf",
        media_type="application/pdf",
        pages=2,
        width=None,
        height=None,
    )


async def test_applicant_file_name_cannot_steer_the_path(
    store: FileStore, root: Path, tmp_path: Path
) -> None:
    # The only name ingest ever sees is the local path of ingest_path; the chat's
    # file name is not even a parameter.
    assert "name" not in inspect.signature(FileStore.ingest).parameters
    (tmp_path / "inbox" / "a" / "b").mkdir(parents=True)
    (tmp_path / "inbox" / "etc").mkdir()
    hostile = tmp_path / "inbox" / "a" / "b" / ".." / ".." / "etc" / "passwd.pdf"
    hostile.write_bytes(GOOD["pdf"][0])

    blob = await store.ingest_path(hostile)

    stored = store.path_for(blob.sha256)
    assert is_inside(stored, root)
    assert stored.name == blob.sha256
    assert [p.name for p in files_under(root)] == [blob.sha256]


@pytest.mark.parametrize("bad", ["../../etc/passwd", "AB" * 32, "ab/cd", "", "0" * 63])
def test_path_for_only_takes_a_digest(store: FileStore, bad: str) -> None:
    with pytest.raises(ValueError):
        store.path_for(bad)


# --- refused ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD))
async def test_refusals_leave_nothing_on_disk(store: FileStore, root: Path, name: str) -> None:
    data, code = BAD[name]
    with pytest.raises(UploadRejected) as caught:
        await store.ingest(chunked(data), declared_size=len(data))
    assert caught.value.code == code
    assert files_under(root) == []


async def test_limit_plus_one_byte_is_too_large(store: FileStore, root: Path) -> None:
    data = make_pdf_of_size(LIMIT + 1)
    with pytest.raises(UploadRejected) as caught:
        await store.ingest(chunked(data))  # no declared size: the count decides
    assert (caught.value.code, caught.value.limit) == ("too_large", LIMIT)
    assert files_under(root) == []


async def test_too_large_stops_reading_just_past_the_limit(store: FileStore, root: Path) -> None:
    source = CountingSource(total_chunks=100)  # 6.25 MiB on offer
    with pytest.raises(UploadRejected) as caught:
        # A lying (too small) declared size doesn't get the upload past the count.
        await store.ingest(source.chunks(), declared_size=1000)
    assert caught.value.code == "too_large"
    assert source.pulled == LIMIT // CHUNK_SIZE + 1  # the first chunk over the limit
    assert files_under(root) == []


async def test_declared_size_over_the_limit_reads_nothing(store: FileStore, root: Path) -> None:
    source = CountingSource(total_chunks=100)
    with pytest.raises(UploadRejected) as caught:
        await store.ingest(source.chunks(), declared_size=LIMIT + 1)
    assert (caught.value.code, caught.value.limit) == ("too_large", LIMIT)
    assert source.pulled == 0
    assert files_under(root) == []
    assert not any(os.scandir(root.parent))  # not even the temp directory was made


async def test_ingest_path_refuses_big_files_by_their_size(
    store: FileStore, tmp_path: Path
) -> None:
    path = tmp_path / "big.pdf"
    path.write_bytes(make_pdf_of_size(LIMIT + 1))
    with pytest.raises(UploadRejected) as caught:
        await store.ingest_path(path)
    assert caught.value.code == "too_large"


async def test_default_limit_is_ten_megabytes(root: Path) -> None:
    store = FileStore(root, inspector=make_inspector())
    assert store.max_bytes == 10 * 1024 * 1024
    with pytest.raises(UploadRejected):
        await store.ingest(chunked(b""), declared_size=10 * 1024 * 1024 + 1)


# --- failures in flight -------------------------------------------------------------


async def test_sender_failure_midway_leaves_nothing(store: FileStore, root: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield make_pdf()[:100]
        yield b"\x00" * CHUNK_SIZE
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.ingest(broken())
    assert files_under(root) == []


async def test_cancelled_upload_leaves_nothing(store: FileStore, root: Path) -> None:
    reached = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield b"%PDF-1.7\n" + b"\x00" * CHUNK_SIZE
        reached.set()
        await asyncio.sleep(3600)
        yield b""

    task = asyncio.create_task(store.ingest(stalled()))
    await reached.wait()
    assert len(files_under(root)) == 1  # the temp file, in flight
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert files_under(root) == []


async def test_inspector_bug_propagates_and_leaves_nothing(root: Path) -> None:
    def buggy(fileobj: object) -> object:
        raise KeyError("no code attribute here")

    store = FileStore(root, inspector=buggy)  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        await store.ingest(chunked(b"anything"))
    assert files_under(root) == []


_CRASHING_UPLOAD = """
import asyncio, sys
from pathlib import Path
from storage.filestore import FileStore

async def chunks():
    yield b"%PDF-1.7\\n" + b"\\x00" * 200_000
    print("written", flush=True)  # resumed only after the first chunk hit the disk
    await asyncio.sleep(3600)
    yield b""

asyncio.run(FileStore(Path(sys.argv[1])).ingest(chunks()))
"""


def test_hard_crash_leaves_only_a_temp_file_that_sweep_removes(root: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_UPLOAD, str(root)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "written"
    finally:
        proc.kill()  # SIGKILL: no finally-block in the child gets to run
        proc.wait()

    left = files_under(root)
    assert len(left) == 1
    assert left[0].parent == root / "tmp"  # never a file at a final path
    assert left[0].stat().st_size > 0

    store = FileStore(root)
    assert store.sweep_temp(3600) == 0  # fresh: might be an upload in progress
    stale = time.time() - 7200
    os.utime(left[0], (stale, stale))
    assert store.sweep_temp(3600) == 1
    assert files_under(root) == []


def test_sweep_without_temp_dir(root: Path) -> None:
    assert FileStore(root).sweep_temp() == 0


async def test_sweep_spares_stored_blobs(store: FileStore, root: Path) -> None:
    blob = await store.ingest(chunked(GOOD["png"][0]))
    final = store.path_for(blob.sha256)
    stale = time.time() - 7200
    os.utime(final, (stale, stale))
    assert store.sweep_temp(0) == 0
    assert final.exists()


async def test_without_inspector_bytes_are_stored_unchecked(root: Path) -> None:
    store = FileStore(root)
    blob = await store.ingest(chunked(b"plain bytes"))
    assert (blob.kind, blob.media_type, blob.size) == ("", "application/octet-stream", 11)
    with pytest.raises(UploadRejected) as caught:
        await store.ingest(chunked(b""))
    assert caught.value.code == "empty"
