"""Photo to scan with OpenCV: find the page, undo the perspective, level the light.

Every step works on a copy no larger than WORK_SIDE pixels for finding things and on
the full photo (capped at PAGE_SIDE) for the page itself, so a 12-megapixel photo
costs the same as a 2-megapixel one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

# OpenCV's stubs type every result as a numeric array; uint8 is what they hold here.
Gray = NDArray[Any]

WORK_SIDE = 800  # finding the page: enough for edges, cheap
PAGE_SIDE = 2000  # the cleaned page's longer side at most


@dataclass
class Page:
    """One photographed page, found and flattened, before any rotation."""

    gray: Gray  # the page as photographed (perspective undone), grey levels
    found: bool  # page edges found in the photo (else the whole photo is the page)
    cut_off: bool  # the page runs off the edge of the photo on one to three sides
    brightness: float  # median grey level of the page as photographed, 0-255
    short_side: int  # the page's shorter side in photo pixels


def decode(data: bytes) -> Gray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("not an image OpenCV can read")
    return img


def _order(quad: NDArray[Any]) -> NDArray[Any]:
    """Corners clockwise (in image coordinates), starting nearest the top left.

    Clockwise matters more than which corner is first: a wrong start only turns the
    page by quarter turns (fixed later), a wrong direction would mirror it.
    """
    centre = quad.mean(axis=0)
    angles = np.arctan2(quad[:, 1] - centre[1], quad[:, 0] - centre[0])
    ordered = quad[np.argsort(angles)]  # y grows downwards: increasing angle is clockwise
    start = int(np.argmin(ordered.sum(axis=1)))
    return np.roll(ordered, -start, axis=0).astype(np.float32)


def _page_mask(small: Gray) -> Gray:
    """Paper is bright and nearly grey; tables and clutter are darker or coloured."""
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    value = hsv[..., 2]
    sat = hsv[..., 1]
    # Otsu on brightness, among the unsaturated pixels: adapts to a dim photo.
    level, _ = cv2.threshold(value, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Paper in a shadow is darker than the Otsu level but stays grey, unlike most
    # tables; a grey table is as dark as that only where paper would be in shadow.
    mask: Gray = (((value >= level) & (sat < 90)) | ((value >= 0.55 * level) & (sat < 45))
                  ).astype(np.uint8) * 255
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)  # text holes in the paper
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)  # thin clutter touching it


def find_page(img: Gray) -> tuple[NDArray[Any] | None, bool, Gray]:
    """(corners in full-size pixels or None, cut off?, page mask at work size)."""
    h, w = img.shape[:2]
    scale = WORK_SIDE / max(h, w)
    small = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    mask = _page_mask(small)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None, False, mask
    biggest = max(contours, key=cv2.contourArea)
    sh, sw = mask.shape
    if cv2.contourArea(biggest) < 0.08 * sh * sw:
        return None, False, mask
    # Which edges of the photo the page touches: all four = the page fills the frame
    # (a scan, a close-up), one to three = the page runs off the photo.
    pts = biggest.reshape(-1, 2)
    margin = 3
    sides = [bool(np.count_nonzero(pts[:, 0] <= margin) > 1),
             bool(np.count_nonzero(pts[:, 0] >= sw - 1 - margin) > 1),
             bool(np.count_nonzero(pts[:, 1] <= margin) > 1),
             bool(np.count_nonzero(pts[:, 1] >= sh - 1 - margin) > 1)]
    touching = sum(sides)
    if touching == 4:
        return None, False, mask
    cut_off = touching > 0 and _runs_off(pts, sw, sh, margin)
    hull = cv2.convexHull(biggest)
    peri = cv2.arcLength(hull, True)
    approx = cv2.approxPolyDP(hull, 0.01 * peri, True).reshape(-1, 2).astype(np.float32)
    if len(approx) > 14:
        approx = cv2.approxPolyDP(hull, 0.03 * peri, True).reshape(-1, 2).astype(np.float32)
    if len(approx) >= 4:
        # The four outline points spanning the largest area: a pen or a finger on the
        # page's edge adds a small spike that never wins over a true corner.
        quad = max((approx[list(c)] for c in itertools.combinations(range(len(approx)), 4)),
                   key=lambda q: cv2.contourArea(q))
    else:
        quad = cv2.boxPoints(cv2.minAreaRect(hull)).astype(np.float32)
    return _order(quad / scale), cut_off, mask


def _runs_off(pts: NDArray[Any], w: int, h: int, margin: int) -> bool:
    """A page merely grazing the frame at a corner is not cut off; a stretch of its
    outline along the frame's edge is."""
    on_edge = ((pts[:, 0] <= margin) | (pts[:, 0] >= w - 1 - margin)
               | (pts[:, 1] <= margin) | (pts[:, 1] >= h - 1 - margin))
    edge_pts = pts[on_edge]
    if len(edge_pts) < 2:
        return False
    span = float(np.ptp(edge_pts[:, 0]) + np.ptp(edge_pts[:, 1]))
    return span > 0.04 * (w + h)


def flatten(img: Gray) -> Page:
    """Find the page and undo the perspective; the whole photo when no page is found."""
    quad, cut_off, _ = find_page(img)
    gray_full = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if quad is None:
        page = gray_full
        found = False
    else:
        tl, tr, br, bl = quad
        width = max(int(np.linalg.norm(tr - tl)), int(np.linalg.norm(br - bl)), 16)
        height = max(int(np.linalg.norm(bl - tl)), int(np.linalg.norm(br - tr)), 16)
        dst = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]],
                       np.float32)
        matrix = cv2.getPerspectiveTransform(quad, dst)
        page = cv2.warpPerspective(gray_full, matrix, (width, height), flags=cv2.INTER_CUBIC,
                                   borderMode=cv2.BORDER_REPLICATE)
        found = True
    short = min(page.shape[:2])
    brightness = float(np.median(page))
    longest = max(page.shape[:2])
    if longest > PAGE_SIDE:
        f = PAGE_SIDE / longest
        page = cv2.resize(page, (round(page.shape[1] * f), round(page.shape[0] * f)),
                          interpolation=cv2.INTER_AREA)
    return Page(page, found, cut_off, brightness, short)


def sharpness(gray: Gray) -> float:
    """Variance of the Laplacian at a fixed scale (1000 px wide): sharp text has
    strong second derivatives, blur flattens them. Fixed scale makes it comparable
    between a card and an A4 page."""
    f = 1000 / gray.shape[1]
    g = cv2.resize(gray, (1000, max(1, round(gray.shape[0] * f))),
                   interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
    return float(cv2.Laplacian(g, cv2.CV_64F).var())


def even_light(gray: Gray) -> Gray:
    """Divide out the background (shadows, a lamp on one side), then stretch contrast."""
    k = max(15, (min(gray.shape[:2]) // 20) | 1)
    background = cv2.medianBlur(cv2.dilate(gray, np.ones((7, 7), np.uint8)), k)
    flat = cv2.divide(gray, background, scale=255)
    lo, hi = np.percentile(flat, (1, 99))
    if hi - lo < 10:
        return flat
    stretched: Gray = np.clip((flat.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255)
    return stretched.astype(np.uint8)


def rotate_quarter(gray: Gray, degrees: int) -> Gray:
    """Turn clockwise by a multiple of 90 degrees."""
    turns = (degrees // 90) % 4
    codes = {1: cv2.ROTATE_90_CLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return gray if turns == 0 else cv2.rotate(gray, codes[turns])


def lines_horizontal(gray: Gray) -> bool:
    """Text lines run across (not down) the image: rows of ink and gaps alternate, so
    the row profile varies more than the column profile."""
    small = cv2.resize(gray, (400, max(1, round(gray.shape[0] * 400 / gray.shape[1]))))
    h, w = small.shape
    # Inside the margins: a printed frame around the page is ink in both profiles.
    ink = (small[h // 8: h - h // 8, w // 8: w - w // 8] < 128).astype(np.float32)
    return float(np.var(ink.mean(axis=1))) >= float(np.var(ink.mean(axis=0)))


def skew_angle(gray: Gray, limit: float = 8.0, step: float = 0.5) -> float:
    """The small rotation (degrees) that makes text rows sharpest in the row profile."""
    small = cv2.resize(gray, (600, max(1, round(gray.shape[0] * 600 / gray.shape[1]))))
    ink = (small < 128).astype(np.uint8) * 255
    h, w = ink.shape
    best, best_score = 0.0, -1.0
    for angle in np.arange(-limit, limit + step, step):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), float(angle), 1.0)
        rotated = cv2.warpAffine(ink, m, (w, h))
        score = float(np.var(rotated.sum(axis=1, dtype=np.float64)))
        if score > best_score:
            best, best_score = float(angle), score
    return best


def rotate(gray: Gray, angle: float) -> Gray:
    if abs(angle) < 0.25:
        return gray
    h, w = gray.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(gray, m, (w, h), flags=cv2.INTER_CUBIC, borderValue=255)


def encode_jpeg(gray: Gray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())


def encode_png(gray: Gray) -> bytes:
    ok, buf = cv2.imencode(".png", gray)
    if not ok:
        raise ValueError("PNG encoding failed")
    return bytes(buf.tobytes())
