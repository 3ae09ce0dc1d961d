"""The pre-check of one requirement's photos: clean pages, one PDF, flags, fields.

`run` is a plain function over file paths returning plain data, so it can run in a
worker process (service/precheck.py) or from the command line (`izin precheck`).
Read values are personal data: they go into the returned result only, never a log.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import cv2
import img2pdf
import numpy as np
import yaml

from licensing.precheck import fields as F
from licensing.precheck import image as im
from licensing.precheck import ocr
from licensing.precheck.kinds import CheckStatus, DocumentKind, QualityFlag

QUALITY_FILE = Path(__file__).with_name("quality.yaml")
OCR_SIDE = 1800  # the page's longer side for OCR: text ~25-40 px high
RESULT_VERSION = 1
STR_CHARS = "0123456789./-ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # what an STR number is made of


@dataclass(frozen=True)
class Thresholds:
    min_sharpness: float
    min_brightness: float
    min_short_side: int
    permit_valid_years: int


@functools.cache
def thresholds(path: Path = QUALITY_FILE) -> Thresholds:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Thresholds(float(raw["min_sharpness"]), float(raw["min_brightness"]),
                      int(raw["min_short_side"]), int(raw["permit_valid_years"]))


@dataclass
class Expected:
    """What the applicant typed and the standard says, to compare the read fields with.
    Personal data: passed in, never logged."""

    nik: str | None = None
    full_name: str | None = None
    str_number: str | None = None
    profession: str | None = None  # the profession applied for, as the catalog names it
    professions: tuple[str, ...] = ()  # every profession name, to say which one was read
    today: date | None = None
    max_age_days: int | None = None  # letters: older than this draws a warning


@dataclass
class PageResult:
    flags: list[str]
    metrics: dict[str, float]
    found: bool
    turned: int  # clockwise quarter turns applied, in degrees
    skew: float
    text: str = ""
    clean: np.ndarray | None = field(default=None, repr=False)


def _scale_to(gray: im.Gray, side: int, *, upscale: float = 1.0) -> im.Gray:
    """Longer side `side` at most; a smaller page is enlarged up to `upscale` times
    (Tesseract misreads text under ~20 px high)."""
    longest = max(gray.shape[:2])
    f = min(side / longest, upscale)
    if abs(f - 1) < 0.05:
        return gray
    return cv2.resize(gray, (round(gray.shape[1] * f), round(gray.shape[0] * f)),
                      interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)


def quality_flags(page: im.Page, sharp: float, t: Thresholds) -> list[str]:
    flags = []
    if sharp < t.min_sharpness:
        flags.append(QualityFlag.BLURRED.value)
    if page.brightness < t.min_brightness:
        flags.append(QualityFlag.DARK.value)
    if page.short_side < t.min_short_side:
        flags.append(QualityFlag.SMALL.value)
    if page.cut_off:
        flags.append(QualityFlag.CUT_OFF.value)
    return flags


def _mean_conf(words: list[ocr.Word]) -> float:
    good = [w.conf for w in words if w.conf >= 0 and len(w.text) > 1]
    return float(np.mean(good)) if len(good) >= 3 else 0.0


def _sideways(words: list[ocr.Word]) -> bool:
    long = [w for w in words if len(w.text) >= 4]
    return len(long) >= 3 and sum(w.height > w.width for w in long) > len(long) / 2


def clean_page(data: bytes, *, kind: DocumentKind | None, use_ocr: bool) -> tuple[
        PageResult, list[ocr.Word]]:
    """One photo to an upright, flattened, evenly lit page; its flags; its words."""
    t = thresholds()
    page = im.flatten(im.decode(data))
    gray = im.even_light(page.gray)
    sharp = im.sharpness(page.gray)
    turned = 0
    skew = 0.0
    if kind is not DocumentKind.PHOTO:
        if not im.lines_horizontal(gray):
            gray, turned = im.rotate_quarter(gray, 90), 90
        if not page.found:  # no page edges to square it up by: straighten by the text
            skew = im.skew_angle(gray)
            gray = im.rotate(gray, skew)
    gray = _scale_to(gray, OCR_SIDE, upscale=1.6)
    words: list[ocr.Word] = []
    if use_ocr and kind is not DocumentKind.PHOTO:
        words = ocr.words(im.encode_png(gray))
        if _sideways(words):  # Tesseract reads vertical lines too: turn them across
            words, gray, turned = [], im.rotate_quarter(gray, 90), (turned + 90) % 360
            words = ocr.words(im.encode_png(gray))
        if _mean_conf(words) < 75:
            # Upside down reads as noise: try the page turned over, and (when that is
            # no better) what Tesseract's orientation detection says; keep whichever
            # reading is the most confident.
            tries = [180]
            found = ocr.orientation(im.encode_png(_scale_to(gray, 1000)))
            if found is not None and found[0] % 180 != 0 and found[1] >= 1.0:
                tries.insert(0, found[0])
            for degrees in tries:
                turned_gray = im.rotate_quarter(gray, degrees)
                again = ocr.words(im.encode_png(turned_gray))
                if _mean_conf(again) > _mean_conf(words):
                    gray, words, turned = turned_gray, again, (turned + degrees) % 360
                if _mean_conf(words) >= 75:
                    break
    result = PageResult(quality_flags(page, sharp, t),
                        {"sharpness": round(sharp, 1), "brightness": round(page.brightness, 1),
                         "short_side": page.short_side},
                        page.found, turned, round(skew, 1), clean=gray)
    return result, words


def _lines(words: list[ocr.Word]) -> list[list[ocr.Word]]:
    lines: dict[tuple[int, int, int], list[ocr.Word]] = {}
    for w in words:
        lines.setdefault(w.line, []).append(w)
    return list(lines.values())


def _line_strings(words: list[ocr.Word]) -> list[str]:
    """Lines as text. A KTP's labels and values are separate blocks to Tesseract, so
    words are regrouped by their vertical position: one printed row, one line."""
    rows: list[list[ocr.Word]] = []
    for w in sorted(words, key=lambda w: w.top + w.height / 2):
        mid = w.top + w.height / 2
        if rows:
            last = rows[-1]
            ref = np.median([x.top + x.height / 2 for x in last])
            if abs(mid - ref) < 0.6 * np.median([x.height for x in last]):
                last.append(w)
                continue
        rows.append([w])
    return [" ".join(x.text for x in sorted(r, key=lambda w: w.left)) for r in rows]


def _crop_line(gray: im.Gray, ws: list[ocr.Word]) -> bytes:
    top = min(w.top for w in ws)
    bottom = max(w.top + w.height for w in ws)
    first = min(ws, key=lambda w: w.left)
    left = first.left
    if first.text.startswith(":"):  # the label's colon glued to the value: skip it
        left += round(first.width / max(1, len(first.text)) * 1.2)
    right = max(w.left + w.width for w in ws)
    pad = max(6, (bottom - top) // 3)
    # Little room on the left: the label's colon must not be read as a 1.
    crop = gray[max(0, top - pad):bottom + pad, max(0, left - 3):right + pad]
    if crop.shape[0] < 48:  # Tesseract reads best with text 30+ px high
        f = 48 / crop.shape[0]
        crop = cv2.resize(crop, (round(crop.shape[1] * f), 48), interpolation=cv2.INTER_CUBIC)
    return im.encode_png(crop)


def _number_after(gray: im.Gray, words: list[ocr.Word], label: str,
                  whitelist: str) -> str | None:
    """Re-read the value after `label` on its printed row with only the characters a
    number can have: the page-wide reading confuses 0/O, 1/l, 8/B."""
    for w in words:
        if F.similar(w.text.strip(":"), label) < 0.67:
            continue
        mid = w.top + w.height / 2
        value = [x for x in words if x.left > w.left + w.width and
                 abs(x.top + x.height / 2 - mid) < max(w.height, x.height) * 0.6 and
                 x.text.strip(":") and (len(x.text) > 1 or x.width > x.height / 2)]
        # (a narrow one-character "word" is the label's colon read as 1 or l)
        if value:
            # The colon is allowed so that it is read as itself, not as a 1.
            read = ocr.line_text(_crop_line(gray, value), whitelist=whitelist + ":")
            return read.split(":")[-1].strip()
    return None


def read_fields(kind: DocumentKind, pages: list[tuple[PageResult, list[ocr.Word]]],
                expected: Expected) -> dict[str, Any]:
    """The fields that matter for `kind`, from every page's words."""
    lines = [line for _, ws in pages for line in _line_strings(ws)]
    text = "\n".join(lines)
    out: dict[str, Any] = {}
    uncertain: list[str] = []
    if kind is DocumentKind.KTP:
        nik = None
        for result, ws in pages:
            assert result.clean is not None
            again = _number_after(result.clean, ws, "NIK", "0123456789")
            if again is not None and len(F.digits_of(again)) == 16:
                nik = F.digits_of(again)
                break
        cands = [c for c in F.nik_candidates(text) if F.plausible_nik(c)]
        if nik is None:
            nik = cands[0] if cands else None
        elif cands and cands[0] != nik:
            uncertain.append("nik")  # two readings disagree: no opinion, no alarm
        out["nik"] = nik
        out["name"] = F.label_value(lines, "Nama")
    elif kind is DocumentKind.STR:
        number = None
        for result, ws in pages:
            assert result.clean is not None
            for label in ("STR", "Nomor"):
                again = _number_after(result.clean, ws, label, STR_CHARS)
                if again and sum(ch.isdigit() for ch in again) >= 6:
                    number = F.normalise_str(again)
                    break
            if number:
                break
        page_reading = F.str_number(lines)
        if number and page_reading and page_reading != number:
            uncertain.append("str_number")  # two readings disagree: no opinion, no alarm
        out["str_number"] = number or page_reading
        out["valid_until"] = F.validity(text)
    elif kind is DocumentKind.IJAZAH:
        out["profession"] = F.profession_in(text, list(expected.professions))
    elif kind is DocumentKind.LETTER:
        out["issuer"] = F.letterhead(lines)
        dated = F.last_date(text)
        out["date"] = dated.isoformat() if dated else None
    if uncertain:
        out["uncertain"] = uncertain
    return out


def checks(kind: DocumentKind, read: dict[str, Any], e: Expected) -> list[dict[str, str]]:
    """Agreements and disagreements, by field: status only, values stay in `read`."""
    t = thresholds()
    out: list[dict[str, str]] = []

    unsure = set(read.get("uncertain", ()))

    def add(name: str, status: CheckStatus) -> None:
        if name in unsure and status is CheckStatus.DISAGREE:
            status = CheckStatus.UNREAD  # the readings disagree among themselves
        out.append({"field": name, "status": status.value})

    if kind is DocumentKind.KTP:
        add("nik", F.compare(read.get("nik"), e.nik, exact=True))
        add("name", F.compare(read.get("name"), e.full_name, exact=False))
    elif kind is DocumentKind.STR:
        typed = F.normalise_str(e.str_number) if e.str_number else None
        add("str_number", F.compare(read.get("str_number"), typed, exact=True))
        until = read.get("valid_until")
        if until and until != "lifetime" and e.today is not None:
            permit_until = e.today + timedelta(days=round(365.25 * t.permit_valid_years))
            ends = date.fromisoformat(until)
            add("valid_until", CheckStatus.DISAGREE if ends < e.today else
                CheckStatus.WARN if ends < permit_until else CheckStatus.AGREE)
        elif until == "lifetime":
            add("valid_until", CheckStatus.AGREE)
        else:
            add("valid_until", CheckStatus.UNREAD)
    elif kind is DocumentKind.IJAZAH:
        got = read.get("profession")
        add("profession", CheckStatus.UNREAD if not got or not e.profession else
            CheckStatus.AGREE if got == e.profession else CheckStatus.DISAGREE)
    elif kind is DocumentKind.LETTER:
        dated = read.get("date")
        if dated and e.max_age_days and e.today:
            age = (e.today - date.fromisoformat(dated)).days
            add("date", CheckStatus.WARN if age > e.max_age_days else CheckStatus.AGREE)
        elif not dated:
            add("date", CheckStatus.UNREAD)
    return out


def write_pdf(pages: list[np.ndarray], out: Path) -> None:
    """The cleaned pages as one PDF, in order (JPEG inside: a page is ~150-300 kB)."""
    out.write_bytes(img2pdf.convert([im.encode_jpeg(p) for p in pages]))


def run(paths: list[Path], kind: DocumentKind | None, expected: Expected,
        out_pdf: Path | None, *, use_ocr: bool = True) -> dict[str, Any]:
    """Pre-check one requirement's photos (in the order sent). Returns the result as
    JSON-ready data; writes the cleaned PDF to `out_pdf` when given."""
    started = time.perf_counter()
    use_ocr = use_ocr and ocr.available() and kind not in (None, DocumentKind.PHOTO)
    done = [clean_page(p.read_bytes(), kind=kind, use_ocr=use_ocr) for p in paths]
    if out_pdf is not None:
        write_pdf([r.clean for r, _ in done if r.clean is not None], out_pdf)
    read = read_fields(kind, done, expected) if use_ocr and kind is not None else {}
    flags = sorted({f for r, _ in done for f in r.flags})
    return {
        "version": RESULT_VERSION,
        "kind": kind.value if kind else None,
        "ocr": use_ocr,
        "quality": flags,
        "pages": [{"flags": r.flags, "metrics": r.metrics, "found": r.found,
                   "turned": r.turned, "skew": r.skew} for r, _ in done],
        "fields": read,
        "checks": checks(kind, read, expected) if use_ocr and kind is not None else [],
        "seconds": round(time.perf_counter() - started, 2),
    }
