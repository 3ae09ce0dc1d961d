"""Tesseract, called as a program: Debian's `tesseract-ocr` with the `ind` model.

No model is ever downloaded: without the program or the language the pre-check
still cleans the page and judges quality, and says the fields were not read.
OMP_THREAD_LIMIT=1 keeps each call on one core (the machine has few).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

LANG = "ind"
TIMEOUT = 90.0  # seconds per call; a page takes one to three (more on a busy machine)
_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}


class OcrUnavailable(Exception):
    """Tesseract or its Indonesian model is not installed."""


@functools.cache
def languages() -> frozenset[str]:
    exe = shutil.which("tesseract")
    if exe is None:
        return frozenset()
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, text=True,
                             timeout=TIMEOUT, env=_ENV, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.strip() for line in out.splitlines()[1:] if line.strip())


def available() -> bool:
    return LANG in languages()


def _run(image: bytes, args: list[str]) -> str:
    exe = shutil.which("tesseract")
    if exe is None:
        raise OcrUnavailable("tesseract is not installed")
    proc = subprocess.run([exe, "stdin", "stdout", *args], input=image, capture_output=True,
                          timeout=TIMEOUT, env=_ENV, check=False)
    if proc.returncode != 0:
        # stderr may quote the image's text? No: only diagnostics; kept short anyway.
        raise OcrUnavailable(proc.stderr.decode(errors="replace")[:200])
    return proc.stdout.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Word:
    text: str
    conf: float
    left: int
    top: int
    width: int
    height: int
    line: tuple[int, int, int]  # (block, paragraph, line): words of one line share it


def words(image: bytes, *, psm: int = 3) -> list[Word]:
    """Every word with its box (Tesseract's TSV output)."""
    out = _run(image, ["-l", LANG, "--psm", str(psm), "tsv"])
    found = []
    for row in out.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        found.append(Word(cols[11].strip(), float(cols[10]), int(cols[6]), int(cols[7]),
                          int(cols[8]), int(cols[9]),
                          (int(cols[2]), int(cols[3]), int(cols[4]))))
    return found


def line_text(image: bytes, *, whitelist: str | None = None) -> str:
    """One line of text (page segmentation mode 7), optionally only some characters."""
    args = ["-l", LANG, "--psm", "7"]
    if whitelist:
        args += ["-c", f"tessedit_char_whitelist={whitelist}"]
    return _run(image, args).strip()


_ROTATE = re.compile(r"Rotate:\s*(\d+)")
_CONF = re.compile(r"Orientation confidence:\s*([\d.]+)")


def orientation(image: bytes) -> tuple[int, float] | None:
    """(clockwise degrees that make the page upright, confidence) from Tesseract's
    orientation detection, or None when it cannot tell (too little text)."""
    if "osd" not in languages():
        return None
    try:
        out = _run(image, ["--psm", "0", "-l", "osd"])
    except OcrUnavailable:
        return None
    rot, conf = _ROTATE.search(out), _CONF.search(out)
    if rot is None or conf is None:
        return None
    return int(rot.group(1)), float(conf.group(1))
