"""The permit: number, HTML, PDF (WeasyPrint), QR code, PAdES signature (pyHanko),
checked with independent tools: pypdf (text), pdftoppm + zbarimg (the QR on the page),
pdfsig (poppler's signature validator). Page 1 is saved as
test-artifacts/permit-page1.png for a person to look at."""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from licensing.catalog import Catalog
from licensing.permit.numbering import (
    PermitSettingsError,
    check_pattern,
    load_permit_settings,
    permit_number,
    permit_regions,
    permit_settings,
    roman_month,
)
from licensing.permit.render import (
    DEFAULT_TEMPLATE,
    TEMPLATES_DIR,
    TEST_MARK,
    PermitData,
    permit_data,
    render_permit_html,
    render_permit_pdf,
    valid_until,
)
from licensing.permit.signing import (
    SignatureError,
    certificate_der,
    check_signed_pdf,
    inspect_signed_pdf,
    make_dev_certificate,
    sign_pdf,
)
from licensing.permit.verify_code import is_verify_code, new_verify_code, verify_url
from tests.samples import pdf_bytes
from tests.tools import run, tool

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = b"uji-rahasia"
SIGNER = "Kepala DPMPTSP Kota Metro (uji)"
HOLDER = "Siti Rahmawati, S.Tr.Kes."
ISSUED = date(2025, 7, 21)
CODE = "m4hphXK0BLJT1m0K1OjreA-i"
URL = f"https://izin.example.go.id/verify/{CODE}"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture(scope="module")
def data(catalog: Catalog) -> PermitData:
    entry = catalog.get("metro", "okupasi-terapis")
    number = permit_number(
        permit_settings("metro"),
        profession="okupasi-terapis",
        seq=12,
        on=ISSUED,
        region_code=entry.region.code,
    )
    return permit_data(
        entry,
        number=number,
        holder_name=HOLDER,
        str_number="KT00001234567890",
        place_of_practice="RSUD Jend. Ahmad Yani, Kota Metro",
        issue_date=ISSUED,
        verify_url=URL,
        test=True,
    )


@pytest.fixture(scope="module")
def pdf(data: PermitData) -> bytes:
    return render_permit_pdf(data)


@pytest.fixture(scope="module")
def p12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cert") / "dev.p12"
    make_dev_certificate(path, PASSWORD, SIGNER)
    return path


@pytest.fixture(scope="module")
def signed(pdf: bytes, p12: Path) -> bytes:
    return sign_pdf(pdf, p12, PASSWORD, reason="Penerbitan izin praktik", location="Metro",
                    test=True)


@pytest.fixture
def signed_file(signed: bytes, tmp_path: Path) -> Path:
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    return path


def tampered(signed: bytes) -> bytes:
    """Flip one bit inside the first signed byte range, in a content stream."""
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", signed)
    assert m is not None
    first_end = int(m.group(2))
    at = signed.index(b"stream\n") + len(b"stream\n") + 20
    assert at < first_end  # inside the signed bytes
    out = bytearray(signed)
    out[at] ^= 0x01
    return bytes(out)


# --- numbering and data ------------------------------------------------------------


def test_permit_number_from_pattern(data: PermitData) -> None:
    assert data.number == "503/0012/SIPOT/DPMPTSP/VII/2025"
    s = permit_settings("purwakarta")
    assert permit_number(s, profession="perekam-medis", seq=7, on=date(2026, 1, 2),
                         region_code="PWK") == "503/0007/SIPPMIK/DPMPTSP/I/2026"
    assert [roman_month(m) for m in (1, 4, 9, 12)] == ["I", "IV", "IX", "XII"]
    with pytest.raises(ValueError):
        permit_number(s, profession="perekam-medis", seq=0, on=ISSUED, region_code="PWK")


@pytest.mark.parametrize(
    "pattern",
    ["503/{seq.__class__}/{year}", "503/{seq}/{password}", "503/{year}", "{seq:04q}",
     "503/{seq!r}", "503/{seq"],
)
def test_bad_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        check_pattern(pattern)


def test_bad_settings_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "regions.yaml"
    path.write_text(
        'default: {permit_number_pattern: "503/{year}", validity_years: 5}\nregions: {}\n',
        encoding="utf-8",
    )
    with pytest.raises(PermitSettingsError) as exc:
        load_permit_settings(path)
    assert "permit_number_pattern" in str(exc.value)


def test_every_catalog_region_and_profession_has_permit_settings(catalog: Catalog) -> None:
    assert set(permit_regions()) == {r.slug for r in catalog.regions()}
    for entry in catalog:
        s = permit_settings(entry.region.slug)
        assert s.validity_years == 5
        assert s.profession_code(entry.profession.slug)
        assert s.letterhead and s.signatory_title and s.place


def test_data_from_the_catalog(data: PermitData, catalog: Catalog) -> None:
    entry = catalog.get("metro", "okupasi-terapis")
    assert data.legal_basis == entry.legal_basis
    assert data.region_name == "Kota Metro"
    assert data.profession_name == "Okupasi Terapis"
    assert data.service == entry.service
    assert data.valid_until == date(2030, 7, 20)  # five years, the issue day included
    assert data.signed_at_line == "Metro, 21 Juli 2025"
    assert valid_until(date(2024, 2, 29), 5) == date(2029, 2, 27)


# --- HTML ----------------------------------------------------------------------------


def test_html(data: PermitData) -> None:
    html = render_permit_html(data)
    for text in (data.number, HOLDER, "Metro, 21 Juli 2025", "20 Juli 2030",
                 "KT00001234567890", "PEMERINTAH KOTA METRO", data.signatory_title,
                 "data:image/svg+xml;base64,", URL, TEST_MARK, *data.legal_basis):
        assert text in html, text


def test_html_escapes_and_test_mark_only_when_testing(data: PermitData) -> None:
    from dataclasses import replace

    html = render_permit_html(replace(data, holder_name="<b>x</b> & co", test=False))
    assert "&lt;b&gt;x&lt;/b&gt; &amp; co" in html
    assert TEST_MARK not in html


def test_region_template_is_preferred(data: PermitData, tmp_path: Path) -> None:
    shutil.copy(TEMPLATES_DIR / DEFAULT_TEMPLATE, tmp_path / DEFAULT_TEMPLATE)
    assert "PEMERINTAH KOTA METRO" in render_permit_html(data, templates_dir=tmp_path)
    (tmp_path / "metro.html.j2").write_text("<p>Metro: {{ permit.number }}</p>", "utf-8")
    assert render_permit_html(data, templates_dir=tmp_path) == f"<p>Metro: {data.number}</p>"


# --- PDF -----------------------------------------------------------------------------


def test_pdf_is_one_a4_page_with_the_permit_text(pdf: bytes, data: PermitData) -> None:
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    text = " ".join(reader.pages[0].extract_text().split())
    for expected in (HOLDER, data.number, "Metro, 21 Juli 2025", "Okupasi Terapis",
                     "KT00001234567890", "DOKUMEN UJI / TEST"):
        assert expected in text, expected
    assert reader.metadata is not None and data.number in str(reader.metadata.title)


def test_every_region_fits_one_page(catalog: Catalog) -> None:
    for entry in catalog:
        d = permit_data(entry, number="503/0001/X/DPMPTSP/I/2026", holder_name=HOLDER,
                        str_number="KT1", place_of_practice="Klinik", issue_date=ISSUED,
                        verify_url=URL)
        assert len(PdfReader(io.BytesIO(render_permit_pdf(d))).pages) == 1, entry.key


def test_qr_on_the_rendered_page_decodes_to_the_verify_url(pdf: bytes, tmp_path: Path) -> None:
    pdftoppm, zbarimg = tool("pdftoppm"), tool("zbarimg")
    src = tmp_path / "permit.pdf"
    src.write_bytes(pdf)
    res = run(pdftoppm, "-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile",
              str(src), str(tmp_path / "page1"))
    assert res.returncode == 0, res.stderr
    png = tmp_path / "page1.png"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(png, ARTIFACTS / "permit-page1.png")
    res = run(zbarimg, "--quiet", "--raw", str(png))
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [URL]


# --- signing ---------------------------------------------------------------------------


def test_pdfsig_validates_the_signature(signed_file: Path) -> None:
    res = run(tool("pdfsig"), str(signed_file))
    out = res.stdout
    assert res.returncode == 0, res.stderr
    assert "Signature #1:" in out
    assert f"Signer Certificate Common Name: {SIGNER}" in out
    assert "Signature Validation: Signature is Valid." in out
    assert "Total document signed" in out
    assert "Signature Type: ETSI.CAdES.detached" in out  # PAdES
    # Self-signed: the signature is valid, the certificate not trusted.
    assert "Certificate Validation: Certificate issuer is unknown." in out


def test_pyhanko_validates_the_signature(signed: bytes, p12: Path) -> None:
    info = inspect_signed_pdf(signed)
    assert info.signatures == 1
    assert info.signer_cn == SIGNER
    assert info.intact and info.valid and info.covers_whole_document and info.ok
    assert info.coverage == "ENTIRE_FILE"
    assert info.reason == "TEST: Penerbitan izin praktik" and info.is_test
    assert info.location == "Metro"
    assert not info.trusted  # no trust roots given
    trusted = inspect_signed_pdf(signed, trust_roots=[certificate_der(p12, PASSWORD)])
    assert trusted.trusted
    assert check_signed_pdf(signed) == info


def test_signature_without_test_flag_has_no_test_reason(pdf: bytes, p12: Path) -> None:
    out = sign_pdf(pdf, p12, PASSWORD, reason="Penerbitan izin praktik", location="Metro",
                   test=False)
    info = check_signed_pdf(out)
    assert info.reason == "Penerbitan izin praktik" and not info.is_test


def test_a_changed_byte_fails_both_validators(signed: bytes, tmp_path: Path) -> None:
    bad = tampered(signed)
    info = inspect_signed_pdf(bad)
    assert not info.intact and not info.valid and not info.ok
    with pytest.raises(SignatureError) as exc:
        check_signed_pdf(bad)
    assert exc.value.code == "broken"
    path = tmp_path / "tampered.pdf"
    path.write_bytes(bad)
    res = run(tool("pdfsig"), str(path))
    assert "Signature Validation: Digest Mismatch." in res.stdout
    assert "Signature is Valid" not in res.stdout


def test_changes_appended_after_signing_are_refused(signed: bytes) -> None:
    writer = PdfWriter(io.BytesIO(signed), incremental=True)
    writer.add_metadata({"/Title": "diubah"})
    out = io.BytesIO()
    writer.write(out)
    info = inspect_signed_pdf(out.getvalue())
    assert info.intact and not info.covers_whole_document
    with pytest.raises(SignatureError) as exc:
        check_signed_pdf(out.getvalue())
    assert exc.value.code == "not_whole_document"


def test_a_pdf_signed_elsewhere_is_accepted_unchanged(p12: Path) -> None:
    # The head of office uploads a PDF signed in another system (here: a pypdf-made
    # PDF signed with the dev certificate): it is checked, and stored as it is.
    uploaded = sign_pdf(pdf_bytes("izin"), p12, PASSWORD, reason="Disetujui",
                        location="Metro", test=False)
    before = bytes(uploaded)
    info = check_signed_pdf(uploaded)
    assert info.ok and info.signer_cn == SIGNER
    assert uploaded == before


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (pdf_bytes("tanpa tanda tangan"), "unsigned"),
        (b"\x00garbage" * 200, "not_pdf"),
        (b"%PDF-1.7\nnot really a pdf\n", "unreadable"),
    ],
)
def test_unsigned_or_garbage_is_a_clear_error(content: bytes, code: str) -> None:
    with pytest.raises(SignatureError) as exc:
        inspect_signed_pdf(content)
    assert exc.value.code == code
    assert exc.value.message_id  # an Indonesian message for the staff page


def test_pdfsig_on_the_unsigned_permit(pdf: bytes, tmp_path: Path) -> None:
    path = tmp_path / "unsigned.pdf"
    path.write_bytes(pdf)
    res = run(tool("pdfsig"), str(path))
    assert "does not contain any signatures" in res.stdout + res.stderr
    with pytest.raises(SignatureError) as exc:
        inspect_signed_pdf(pdf)
    assert exc.value.code == "unsigned"


def test_dev_certificate_file(p12: Path, pdf: bytes, tmp_path: Path) -> None:
    assert stat.S_IMODE(os.stat(p12).st_mode) == 0o600
    with pytest.raises(FileExistsError):
        make_dev_certificate(p12, PASSWORD, SIGNER)
    with pytest.raises(SignatureError) as exc:
        sign_pdf(pdf, p12, b"wrong", reason="x", location="Metro", test=True)
    assert exc.value.code == "bad_certificate"
    with pytest.raises(ValueError):
        make_dev_certificate(tmp_path / "x.p12", b"", SIGNER)


# --- verify codes ----------------------------------------------------------------------


def test_verify_codes() -> None:
    codes = {new_verify_code() for _ in range(1000)}
    assert len(codes) == 1000
    for c in codes:
        assert is_verify_code(c) and len(c) == 24  # 18 random bytes = 144 bits
    assert verify_url("https://izin.example.go.id/", CODE) == URL
    assert not is_verify_code("../../etc/passwd")
    with pytest.raises(ValueError):
        verify_url("https://izin.example.go.id", "short")
