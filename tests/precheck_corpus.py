"""A synthetic corpus for the document pre-check: no real identity documents.

KTP-like cards, STR-like certificates, ijazah and letters are drawn with Pillow and
the DejaVu fonts from made-up data (random NIK, names, numbers), then "photographed":
put on a cluttered table, seen in perspective, rotated, shadowed, blurred, dimmed,
shrunk or cut off, JPEG-compressed. Every image carries its truth: the fields printed
on it and the quality flags it was made to deserve. Seeded, so a failure reproduces.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
          "September", "Oktober", "November", "Desember")
FIRST = ("SITI", "AHMAD", "DEWI", "BUDI", "RINA", "AGUS", "NURUL", "HENDRA", "PUTRI", "EKO",
         "WULAN", "RIZKY", "INDAH", "FAJAR", "LESTARI", "YUDI", "ANISA", "DIMAS")
LAST = ("RAHAYU", "SANTOSO", "PRATAMA", "KURNIAWAN", "LESTARI", "HIDAYAT", "SAPUTRA",
        "WIJAYA", "NUGROHO", "PERMATASARI", "SETIAWAN", "MAULANA", "HANDAYANI")
CITIES = ("PURWAKARTA", "BANDUNG", "PEKANBARU", "METRO", "LUBUKLINGGAU", "BOGOR", "GARUT")
PROFESSIONS = ("Okupasi Terapi", "Perekam Medis")
ISSUERS = ("RUMAH SAKIT UMUM DAERAH BAYU ASIH", "KLINIK PRATAMA SEHAT SENTOSA",
           "PERSATUAN OKUPASI TERAPIS INDONESIA", "PUSKESMAS MEKARSARI",
           "DINAS KESEHATAN KABUPATEN PURWAKARTA")

PROFILES = ("clean", "degraded", "blurred", "dark", "small", "cutoff")


def font(size: int, bold: bool = False, serif: bool = False) -> ImageFont.FreeTypeFont:
    name = ("DejaVuSerif" if serif else "DejaVuSans") + ("-Bold" if bold else "")
    return ImageFont.truetype(FONT_DIR + name + ".ttf", size)


def id_date(d: date) -> str:
    return f"{d.day:02d} {MONTHS[d.month - 1]} {d.year}"


def make_nik(rng: random.Random) -> tuple[str, date, str]:
    born = date(1970, 1, 1) + timedelta(days=rng.randrange(0, 365 * 33))
    female = rng.random() < 0.5
    day = born.day + (40 if female else 0)
    nik = (f"{rng.choice((32, 14, 16, 18))}{rng.randint(1, 79):02d}{rng.randint(1, 40):02d}"
           f"{day:02d}{born.month:02d}{born.year % 100:02d}{rng.randint(1, 9999):04d}")
    return nik, born, "PEREMPUAN" if female else "LAKI-LAKI"


def make_str_number(rng: random.Random) -> str:
    return (f"{rng.randint(10, 99)}.{rng.randint(1, 9)}.{rng.randint(1, 9)}."
            f"{rng.randint(100, 999)}.{rng.randint(1, 9)}.{rng.randint(10, 26)}."
            f"{rng.randint(0, 999999):06d}")


@dataclass
class Sample:
    """One synthetic photo and what is true of it."""

    kind: str  # ktp | str | ijazah | letter
    profile: str  # one of PROFILES
    image: bytes  # JPEG
    fields: dict[str, Any]
    flags: set[str] = field(default_factory=set)  # quality flags it should raise


# ---- documents -------------------------------------------------------------------


def _text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], text: str,
          f: ImageFont.FreeTypeFont, fill: tuple[int, int, int] = (20, 20, 20)) -> None:
    draw.text(xy, text, font=f, fill=fill)


def _centre(draw: ImageDraw.ImageDraw, y: int, width: int, text: str,
            f: ImageFont.FreeTypeFont, fill: tuple[int, int, int] = (20, 20, 20)) -> None:
    w = draw.textlength(text, font=f)
    draw.text(((width - w) / 2, y), text, font=f, fill=fill)


def ktp(rng: random.Random) -> tuple[Image.Image, dict[str, Any]]:
    w, h = 1280, 806  # 85.6 x 54 mm at ~15 px/mm
    img = Image.new("RGB", (w, h))
    px = np.zeros((h, w, 3), np.uint8)
    grad = np.linspace(0, 1, w)[None, :, None]
    px[:] = (np.array([200, 225, 245]) * (1 - grad) + np.array([225, 240, 250]) * grad)
    img = Image.fromarray(px)
    d = ImageDraw.Draw(img)
    for i in range(0, w, 37):  # the guilloche-like background pattern
        d.arc((i - 200, -120, i + 200, h + 120), 0, 360, fill=(185, 210, 235), width=1)
    nik, born, sex = make_nik(rng)
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    city = rng.choice(CITIES)
    _centre(d, 22, w, "PROVINSI JAWA BARAT", font(40, True))
    _centre(d, 72, w, f"KABUPATEN {city}", font(40, True))
    _text(d, (40, 150), "NIK", font(44, True))
    _text(d, (190, 150), f": {nik}", font(48, True))
    rows = (("Nama", name), ("Tempat/Tgl Lahir", f"{city}, {born:%d-%m-%Y}"),
            ("Jenis Kelamin", sex), ("Alamat", f"JL. MERDEKA NO. {rng.randint(1, 200)}"),
            ("RT/RW", f"{rng.randint(1, 20):03d}/{rng.randint(1, 15):03d}"),
            ("Kel/Desa", "NAGRI KALER"), ("Kecamatan", "PURWAKARTA"), ("Agama", "ISLAM"),
            ("Status Perkawinan", rng.choice(("KAWIN", "BELUM KAWIN"))),
            ("Pekerjaan", "KARYAWAN SWASTA"), ("Kewarganegaraan", "WNI"),
            ("Berlaku Hingga", "SEUMUR HIDUP"))
    y = 225
    for label, value in rows:
        _text(d, (40, y), label, font(27))
        _text(d, (330, y), f": {value}", font(27, label == "Nama"))
        y += 45
    d.rectangle((960, 210, 1220, 560), fill=(200, 40, 40))  # the photo's red background
    d.ellipse((1030, 260, 1150, 380), fill=(120, 90, 70))
    d.rectangle((1000, 390, 1180, 560), fill=(60, 60, 90))
    _centre(d, 600, 2 * 1090, "", font(20))
    _text(d, (1000, 620), city, font(22))
    _text(d, (1000, 650), f"{date(2018, 1, 1) + timedelta(days=rng.randrange(2500)):%d-%m-%Y}",
          font(22))
    return img, {"nik": nik, "name": name}


def _paper(w: int, h: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGB", (w, h), (250, 249, 244))
    return img, ImageDraw.Draw(img)


def str_certificate(rng: random.Random) -> tuple[Image.Image, dict[str, Any]]:
    w, h = 1240, 1754  # A4 at 150 dpi
    img, d = _paper(w, h)
    d.rectangle((30, 30, w - 30, h - 30), outline=(30, 80, 50), width=8)
    number = make_str_number(rng)
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    profession = rng.choice(PROFESSIONS)
    lifetime = rng.random() < 0.3
    until = None if lifetime else date(2026, 1, 1) + timedelta(days=rng.randrange(0, 5 * 365))
    _centre(d, 110, w, "KONSIL TENAGA KESEHATAN INDONESIA", font(42, True, True))
    _centre(d, 200, w, "SURAT TANDA REGISTRASI", font(52, True, True))
    _centre(d, 280, w, profession.upper(), font(40, True, True))
    _text(d, (120, 420), "Nomor STR", font(32, serif=True))
    _text(d, (430, 420), f": {number}", font(34, True, True))
    rows = (("Nama", name), ("Tempat/Tgl Lahir", f"{rng.choice(CITIES).title()}, "
            f"{id_date(date(1985, 1, 1) + timedelta(days=rng.randrange(5000)))}"),
            ("Kompetensi", profession), ("Pendidikan", f"Diploma III {profession}"))
    y = 500
    for label, value in rows:
        _text(d, (120, y), label, font(30, serif=True))
        _text(d, (430, y), f": {value}", font(30, serif=True))
        y += 60
    validity = ("Berlaku seumur hidup" if until is None
                else f"Berlaku sampai dengan {id_date(until)}")
    _text(d, (120, y + 40), validity, font(32, True, True))
    for i, line in enumerate(("Surat Tanda Registrasi ini diberikan kepada tenaga kesehatan",
                              "yang telah memenuhi persyaratan sesuai ketentuan peraturan",
                              "perundang-undangan.")):
        _text(d, (120, y + 140 + 45 * i), line, font(28, serif=True))
    _text(d, (760, 1380), f"Jakarta, {id_date(date(2024, 1, 1) + timedelta(rng.randrange(500)))}",
          font(28, serif=True))
    _text(d, (760, 1420), "Ketua,", font(28, serif=True))
    return img, {"str_number": number, "valid_until": until.isoformat() if until else
                 "lifetime", "name": name, "profession": profession}


def ijazah(rng: random.Random) -> tuple[Image.Image, dict[str, Any]]:
    w, h = 1754, 1240  # A4 landscape
    img, d = _paper(w, h)
    d.rectangle((40, 40, w - 40, h - 40), outline=(120, 90, 30), width=10)
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    profession = rng.choice(PROFESSIONS)
    _centre(d, 120, w, "KEMENTERIAN KESEHATAN REPUBLIK INDONESIA", font(40, True, True))
    _centre(d, 180, w, f"POLITEKNIK KESEHATAN {rng.choice(CITIES)}", font(40, True, True))
    _centre(d, 290, w, "IJAZAH", font(72, True, True))
    _centre(d, 420, w, "dengan ini menyatakan bahwa", font(32, serif=True))
    _centre(d, 480, w, name, font(44, True, True))
    _centre(d, 560, w, f"telah menyelesaikan Program Studi Diploma III {profession}",
            font(32, serif=True))
    _centre(d, 620, w, f"dan berhak menyandang sebutan Ahli Madya {profession}",
            font(32, serif=True))
    _centre(d, 700, w, f"Nomor Ijazah: {rng.randint(10000, 99999)}/PK/{rng.randint(2008, 2024)}",
            font(28, serif=True))
    return img, {"profession": profession, "name": name}


def letter(rng: random.Random) -> tuple[Image.Image, dict[str, Any]]:
    w, h = 1240, 1754
    img, d = _paper(w, h)
    issuer = rng.choice(ISSUERS)
    dated = date(2025, 6, 1) + timedelta(days=rng.randrange(0, 400))
    city = rng.choice(CITIES).title()
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    _centre(d, 90, w, issuer, font(38, True))
    phone = rng.randint(200000, 299999)
    _centre(d, 145, w, f"Jl. Veteran No. {rng.randint(1, 99)} {city} Telp. (0264) {phone}",
            font(24))
    d.line((80, 195, w - 80, 195), fill=(20, 20, 20), width=5)
    title = rng.choice(("SURAT KETERANGAN SEHAT", "SURAT REKOMENDASI",
                        "SURAT KETERANGAN BEKERJA"))
    _centre(d, 260, w, title, font(36, True))
    _centre(d, 310, w, f"Nomor: 445/{rng.randint(100, 999)}/{rng.randint(1, 12)}/{dated.year}",
            font(26))
    body = ("Yang bertanda tangan di bawah ini menerangkan bahwa:",
            f"Nama          : {name}", "Pekerjaan     : Tenaga Kesehatan",
            "adalah benar telah diperiksa dan dinyatakan memenuhi syarat",
            "untuk keperluan pengurusan Surat Izin Praktik.",
            "Demikian surat keterangan ini dibuat untuk dipergunakan",
            "sebagaimana mestinya.")
    for i, line in enumerate(body):
        _text(d, (120, 420 + 55 * i), line, font(28))
    _text(d, (720, 960), f"{city}, {id_date(dated)}", font(28))
    _text(d, (720, 1005), "Yang menerangkan,", font(28))
    signer = f"dr. {rng.choice(FIRST).title()} {rng.choice(LAST).title()}"
    _text(d, (720, 1180), signer, font(28, True))
    return img, {"issuer": issuer, "date": dated.isoformat()}


DOCUMENTS = {"ktp": ktp, "str": str_certificate, "ijazah": ijazah, "letter": letter}


# ---- photographing ---------------------------------------------------------------


def _table(rng: random.Random, w: int, h: int) -> np.ndarray:
    base = np.array([rng.randint(90, 160), rng.randint(70, 120), rng.randint(40, 90)])
    grain = np.random.default_rng(rng.randrange(2**32)).normal(0, 12, (h, w, 1))
    wood = (np.sin(np.linspace(0, rng.uniform(20, 60), w))[None, :, None] * 12)
    out = np.clip(base + grain + wood, 0, 255).astype(np.uint8)
    img = Image.fromarray(out)
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(2, 6)):  # clutter: a pen, a cup, paper scraps
        x, y = rng.randrange(w), rng.randrange(h)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.5:
            d.ellipse((x, y, x + rng.randint(40, 160), y + rng.randint(40, 160)), fill=colour)
        else:
            d.line((x, y, x + rng.randint(-300, 300), y + rng.randint(-300, 300)), fill=colour,
                   width=rng.randint(4, 14))
    return np.asarray(img)


def photograph(doc: Image.Image, rng: random.Random, profile: str) -> tuple[bytes, set[str]]:
    """A phone photo of `doc` as `profile` says; returns (JPEG, expected flags)."""
    import cv2  # the test corpus needs OpenCV anyway (warping)

    flags: set[str] = set()
    src = np.asarray(doc.convert("RGB"))
    dh, dw = src.shape[:2]
    out_w, out_h = (1600, 1200) if dw > dh else (1200, 1600)
    if profile == "small":
        out_w, out_h = out_w * 2 // 5, out_h * 2 // 5  # an old phone, or a thumbnail sent
    if rng.random() < 0.5 and profile != "cutoff":
        out_w, out_h = out_h, out_w  # the phone held the other way
    fill = rng.uniform(0.45, 0.7)
    scale = math.sqrt(fill * out_w * out_h / (dw * dh))
    jitter = {"clean": 0.03, "degraded": 0.08}.get(profile, 0.05)
    angle = {"clean": rng.uniform(-6, 6), "degraded": rng.uniform(-20, 20)}.get(
        profile, rng.uniform(-10, 10))
    if profile in ("clean", "degraded") and rng.random() < 0.3:
        angle += rng.choice((90, 180, 270))  # sent sideways or upside down
    cx = out_w / 2 + rng.uniform(-0.05, 0.05) * out_w
    cy = out_h / 2 + rng.uniform(-0.05, 0.05) * out_h
    if profile == "cutoff":
        cx += rng.choice((-1, 1)) * out_w * 0.35
    corners = np.array([[0, 0], [dw, 0], [dw, dh], [0, dh]], np.float32)
    centred = (corners - [dw / 2, dh / 2]) * scale
    rad = math.radians(angle)
    rot = np.array([[math.cos(rad), -math.sin(rad)], [math.sin(rad), math.cos(rad)]])
    dst = centred @ rot.T + [cx, cy]
    dst += np.array([[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(4)]) * jitter * (
        dw * scale)
    if profile != "cutoff":  # keep the whole page in the frame, with a margin
        lo, hi = dst.min(axis=0), dst.max(axis=0)
        shrink = min(1.0, 0.92 * out_w / (hi[0] - lo[0]), 0.92 * out_h / (hi[1] - lo[1]))
        dst = (dst - (lo + hi) / 2) * shrink + [out_w / 2, out_h / 2]
        dst += [rng.uniform(-0.02, 0.02) * out_w, rng.uniform(-0.02, 0.02) * out_h]
    matrix = cv2.getPerspectiveTransform(corners, dst.astype(np.float32))
    table = _table(rng, out_w, out_h)
    warped = cv2.warpPerspective(src, matrix, (out_w, out_h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((dh, dw), 255, np.uint8), matrix, (out_w, out_h))
    photo = np.where(mask[..., None] > 127, warped, table).astype(np.float32)
    # Light: a soft shadow across part of the frame, and overall exposure.
    yy, xx = np.mgrid[0:out_h, 0:out_w]
    sx, sy = rng.uniform(0, out_w), rng.uniform(0, out_h)
    shade_strength = {"clean": 0.15, "degraded": 0.4}.get(profile, 0.25)
    shadow = 1 - shade_strength * np.exp(-(((xx - sx) ** 2 + (yy - sy) ** 2)
                                           / (2 * (out_w * 0.3) ** 2)))
    exposure = rng.uniform(0.9, 1.05)
    if profile == "dark":
        exposure = rng.uniform(0.18, 0.3)
        flags.add("dark")
    photo = photo * shadow[..., None] * exposure
    photo += np.random.default_rng(rng.randrange(2**32)).normal(
        0, 6 if profile != "dark" else 3, photo.shape)
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    blur = {"clean": 0.0, "degraded": rng.uniform(0.6, 1.3), "blurred": rng.uniform(5, 8)}.get(
        profile, 0.5)
    img = Image.fromarray(photo)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    if profile == "blurred":
        flags.add("blurred")
    if profile == "small":
        flags.add("small")
    if profile == "cutoff":
        flags.add("cut_off")
    quality = {"clean": rng.randint(80, 92), "degraded": rng.randint(45, 65)}.get(profile, 75)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue(), flags


def sample(kind: str, profile: str, seed: int) -> Sample:
    rng = random.Random(f"{kind}:{profile}:{seed}")
    doc, truth = DOCUMENTS[kind](rng)
    jpeg, flags = photograph(doc, rng, profile)
    return Sample(kind, profile, jpeg, truth, flags)


def corpus(n_per: int, seed: int = 0, kinds: tuple[str, ...] = tuple(DOCUMENTS),
           profiles: tuple[str, ...] = PROFILES) -> list[Sample]:
    """n_per images for each (kind, profile) pair."""
    return [sample(k, p, seed * 100_000 + i) for k in kinds for p in profiles
            for i in range(n_per)]
