"""Peak memory of ingesting a ~20 MB scan through FileStore.

    .venv/bin/python bench/upload_memory.py [--runs N]

Each case builds a file of about 20 MB, then runs fresh child processes:
  baseline  imports and sets up everything (store, inspector, event loop, worker
            thread) but does not ingest;
  ingest    the same plus `FileStore.ingest_path` (64 KiB chunks, as /upload does);
  trace     the ingest again under tracemalloc (Python-level allocations only).
RSS growth = peak RSS (ru_maxrss) of ingest minus that of baseline. Linux carries a
parent's peak RSS into a child across fork+exec, so the parent stays small: it only
imports the standard library, and the fixtures are built in a child of their own. The goal is
< 10 MB for a 20 MB upload. "loop stall" is the longest the event loop was blocked
during the ingest, seen by a 1 ms ticker task.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING, Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable as a plain script from anywhere

if TYPE_CHECKING:
    from PIL import Image

    from storage.filestore import FileStore, StoredBlob

TARGET = 20 * 1024 * 1024
MAX_BYTES = 25 * 1024 * 1024
MB = 1024 * 1024


# --- fixtures (built once, in a child process) -----------------------------------------


def build_pdf(path: Path) -> str:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject

    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    stream = DecodedStreamObject()
    stream.set_data(os.urandom(TARGET))  # incompressible, like a scanned page image
    writer.root_object[NameObject("/IzinPadding")] = writer._add_object(stream)
    with path.open("wb") as fh:
        writer.write(fh)
    return "1 page + 20 MiB random stream"


def _noise_image(pixels: int) -> Image.Image:
    from PIL import Image

    width = int((pixels * 4 / 3) ** 0.5)
    height = pixels // width
    return Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))


def _save_sized(path: Path, fmt: str, bytes_per_pixel: float, **options: Any) -> str:
    # Noise compresses poorly, so ~20 MB needs few pixels; scale once to hit the size.
    pixels = int(TARGET / bytes_per_pixel)
    for _ in range(3):
        image = _noise_image(pixels)
        out = io.BytesIO()
        image.save(out, fmt, **options)
        if abs(out.tell() - TARGET) < TARGET * 0.05:
            break
        pixels = int(pixels * TARGET / out.tell())
    path.write_bytes(out.getvalue())
    return f"{image.width}x{image.height} noise ({image.width * image.height / 1e6:.1f} MP)"


def build_jpeg(path: Path) -> str:
    return "baseline, " + _save_sized(path, "JPEG", 2.5, quality=100)


def build_progressive_jpeg(path: Path) -> str:
    return "progressive, " + _save_sized(path, "JPEG", 2.5, quality=100, progressive=True)


def build_png(path: Path) -> str:
    return "RGB, " + _save_sized(path, "PNG", 3.0, compress_level=1)


CASES = {
    "pdf": build_pdf,
    "jpeg": build_jpeg,
    "jpeg-progressive": build_progressive_jpeg,
    "png": build_png,
}


# --- child process ------------------------------------------------------------------


def _maxrss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024  # Linux reports KiB


def _vm_hwm_bytes() -> int:
    """Linux's own high-water mark of this process image (0 where unavailable)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


async def _run(store: FileStore, path: Path, ingest: bool) -> tuple[StoredBlob | None, float]:
    stop = asyncio.Event()
    worst = 0.0

    async def ticker() -> None:
        nonlocal worst
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, time.perf_counter() - started - 0.001)

    await asyncio.to_thread(lambda: None)  # the worker thread exists in both modes
    tick = asyncio.create_task(ticker())
    try:
        blob = await store.ingest_path(path) if ingest else None
    finally:
        stop.set()
        await tick
    return blob, worst


def child(mode: str, path: Path) -> dict[str, Any]:
    # Both modes import the same modules, so the difference is the ingest alone.
    import PIL.Image  # noqa: F401
    import pypdf  # noqa: F401

    from licensing.scans import make_inspector
    from storage.filestore import FileStore

    with tempfile.TemporaryDirectory() as root:
        store = FileStore(Path(root), max_bytes=MAX_BYTES, inspector=make_inspector())
        if mode == "trace":
            tracemalloc.start()
        started = time.perf_counter()
        blob, stall = asyncio.run(_run(store, path, ingest=mode != "baseline"))
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if mode == "trace" else 0
        return {
            "maxrss": _maxrss_bytes(),
            "hwm": _vm_hwm_bytes(),
            "traced_peak": peak,
            "elapsed": elapsed,
            "stall": stall,
            "blob": None if blob is None else [blob.kind, blob.size, blob.width, blob.height],
        }


def spawn(*args: str) -> Any:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- parent -------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--case", choices=sorted(CASES), action="append")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--build", nargs=2, metavar=("CASE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return
    if args.build:
        print(json.dumps(CASES[args.build[0]](Path(args.build[1]))))
        return

    print(
        f"machine: {platform.platform()} | {platform.machine()} | cpus {os.cpu_count()} | "
        f"python {platform.python_version()} | {args.runs} runs per case, worst shown"
    )
    print(
        f"{'case':<17} {'file MB':>8} {'RSS +MB':>8} {'HWM +MB':>8} {'traced MB':>10} "
        f"{'time s':>7} "
        f"{'stall ms':>9}  file"
    )
    with tempfile.TemporaryDirectory() as work:
        for name in args.case or list(CASES):
            path = Path(work) / f"{name}.bin"
            note = spawn("--build", name, str(path))
            rss, hwm, traced, elapsed, stall = [], [], [], [], []
            for _ in range(args.runs):
                base, run, trace = (
                    spawn("--child", mode, str(path)) for mode in ("baseline", "ingest", "trace")
                )
                if run["blob"] is None or run["blob"][1] != path.stat().st_size:
                    raise SystemExit(f"{name}: ingest did not store the file: {run}")
                rss.append((run["maxrss"] - base["maxrss"]) / MB)
                hwm.append((run["hwm"] - base["hwm"]) / MB)
                traced.append(trace["traced_peak"] / MB)
                elapsed.append(run["elapsed"])
                stall.append(run["stall"] * 1000)
            print(
                f"{name:<17} {path.stat().st_size / MB:>8.1f} {max(rss):>8.1f} {max(hwm):>8.1f} "
                f"{max(traced):>10.2f} {statistics.median(elapsed):>7.2f} "
                f"{max(stall):>9.1f}  {note}"
            )


if __name__ == "__main__":
    main()
