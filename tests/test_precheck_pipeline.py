"""The pre-check's pure parts: reading fields from OCR text, comparing them, quality
flags on synthetic photos (OpenCV only: fast), the PDF of several pages, and the
graceful path without Tesseract. One OCR run checks the NIK end to end."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from licensing.catalog import Catalog
from licensing.precheck import fields as F
from licensing.precheck import ocr, pipeline
from licensing.precheck.kinds import CheckStatus, DocumentKind
from tests.precheck_corpus import sample


def test_numbers_survive_ocr_look_alikes() -> None:
    assert F.digits_of("32O1 0l57 S19B 0001") == "3201015751980001"
    assert F.nik_candidates("NIK : 32010157O1900001\nNama : SITI") == ["3201015701900001"]
    assert F.plausible_nik("3201015701900001")
    assert not F.plausible_nik("3201019901900001")  # no 99th day
    assert F.normalise_str(" 30.8.5.272 .8.14.090241 ") == "30.8.5.272.8.14.090241"


def test_dates_and_validity_in_indonesian() -> None:
    assert F.parse_date("Berlaku sampai dengan 12 Agustus 2029") == date(2029, 8, 12)
    assert F.parse_date("5 Agustos 2029") == date(2029, 8, 5)  # one letter misread
    assert F.validity("Berlaku sampai dengan 23 Juli 2027") == "2027-07-23"
    assert F.validity("Berlaku seumur hidup") == "lifetime"
    assert F.validity("Surat Tanda Registrasi") is None
    assert F.last_date("Nomor: 445/1/2025\nPurwakarta, 04 Juni 2026\n") == date(2026, 6, 4)


def test_labels_letterhead_and_profession() -> None:
    lines = ["PROVINSI JAWA BARAT", "Nama : SITI RAHAYU", "Nomor STR : 30.8.5.272.8.14.090241"]
    assert F.label_value(lines, "Nama") == "SITI RAHAYU"
    assert F.str_number(lines) == "30.8.5.272.8.14.090241"
    assert F.letterhead(["RUMAH SAKIT UMUM DAERAH BAYU ASIH", "Jl. Veteran"]) == \
        "RUMAH SAKIT UMUM DAERAH BAYU ASIH"
    names = ["Okupasi Terapis", "Perekam Medis"]
    assert F.profession_in("Program Studi Diploma III Okupasi Terapi", names) == "Okupasi Terapis"
    assert F.profession_in("Diploma III Perekam Medis dan Informasi", names) == "Perekam Medis"
    assert F.profession_in("Diploma III Keperawatan", names) is None


def test_checks_say_agree_disagree_warn_and_never_guess() -> None:
    e = pipeline.Expected(nik="3201015701900001", full_name="Siti Rahayu",
                          str_number="30.8.5.272.8.14.090241", profession="Okupasi Terapis",
                          today=date(2026, 12, 2), max_age_days=90)
    ktp = pipeline.checks(DocumentKind.KTP, {"nik": "3201015701900002", "name": "SITI RAHAYU"}, e)
    assert ktp == [{"field": "nik", "status": "disagree"}, {"field": "name", "status": "agree"}]
    assert pipeline.checks(DocumentKind.KTP, {"nik": None, "name": None}, e)[0]["status"] == \
        CheckStatus.UNREAD.value
    soon = pipeline.checks(DocumentKind.STR, {"str_number": "30.8.5.272.8.14.090241",
                                              "valid_until": "2028-01-01"}, e)
    assert soon == [{"field": "str_number", "status": "agree"},
                    {"field": "valid_until", "status": "warn"}]  # before the permit ends
    expired = pipeline.checks(DocumentKind.STR, {"str_number": None,
                                                 "valid_until": "2026-01-01"}, e)
    assert expired[1] == {"field": "valid_until", "status": "disagree"}
    old = pipeline.checks(DocumentKind.LETTER, {"issuer": "X", "date": "2026-01-02"}, e)
    assert old == [{"field": "date", "status": "warn"}]


def test_every_upload_requirement_names_its_document() -> None:
    for entry in Catalog.load():
        for r in entry.uploads:
            assert r.document is not None, (entry.region.slug, r.code)


@pytest.mark.parametrize(("profile", "flag"), [("blurred", "blurred"), ("dark", "dark"),
                                               ("small", "small"), ("cutoff", "cut_off")])
def test_bad_photos_are_flagged_and_good_ones_not(tmp_path: Path, profile: str,
                                                   flag: str) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(sample("letter", profile, 5).image)
    good = tmp_path / "good.jpg"
    good.write_bytes(sample("letter", "degraded", 5).image)
    e = pipeline.Expected()
    assert flag in pipeline.run([bad], DocumentKind.LETTER, e, None, use_ocr=False)["quality"]
    assert pipeline.run([good], DocumentKind.LETTER, e, None, use_ocr=False)["quality"] == []


def test_pages_become_one_pdf_in_order_without_ocr(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract on the PATH
    ocr.languages.cache_clear()
    try:
        paths = []
        for i, kind in enumerate(("ktp", "letter")):
            paths.append(tmp_path / f"{i}.jpg")
            paths[-1].write_bytes(sample(kind, "clean", 6).image)
        out = tmp_path / "out.pdf"
        result = pipeline.run(paths, DocumentKind.KTP, pipeline.Expected(), out)
    finally:
        ocr.languages.cache_clear()
    assert result["ocr"] is False and result["fields"] == {} and result["checks"] == []
    pdf = PdfReader(out)
    assert len(pdf.pages) == 2
    first, second = (float(p.mediabox.width) / float(p.mediabox.height) for p in pdf.pages)
    assert first > 1.3 and second < 1  # the card across, the letter upright (in order)


@pytest.mark.skipif(not ocr.available(), reason="tesseract-ocr-ind not installed")
def test_a_photographed_ktp_gives_its_exact_nik(tmp_path: Path) -> None:
    photo = sample("ktp", "clean", 7)
    path = tmp_path / "ktp.jpg"
    path.write_bytes(photo.image)
    e = pipeline.Expected(nik=photo.fields["nik"], full_name=photo.fields["name"])
    result = pipeline.run([path], DocumentKind.KTP, e, None)
    assert result["fields"]["nik"] == photo.fields["nik"]
    assert {"field": "nik", "status": "agree"} in result["checks"]


def test_izin_precheck_prints_flags_and_the_pdf(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from bot.cli import main

    path = tmp_path / "dark.jpg"
    path.write_bytes(sample("letter", "dark", 8).image)
    out = tmp_path / "clean.pdf"
    assert main(["precheck", str(path), "--kind", "photo", "--json", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["quality"] == ["dark"] and result["pdf"] == str(out)
    assert len(PdfReader(out).pages) == 1
    assert main(["precheck", str(path), "--kind", "photo", "--out", str(out)]) == 0
    assert "flags: dark" in capsys.readouterr().out
