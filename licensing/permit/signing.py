"""PAdES signatures on permits (pyHanko), dev certificates, and signature checks.

- `make_dev_certificate` writes a PKCS#12 file with a self-signed certificate for local
  use (`izin dev-cert`); permits signed with it carry "TEST" in the signature's reason.
- `sign_pdf` signs with the office's PKCS#12 file (PAdES baseline B-B, SHA-256).
- `inspect_signed_pdf` reads the signatures of a PDF (ours, or one the head of office
  signed elsewhere and uploads): who signed, why, whether the signed bytes are intact
  and the signature valid, whether it covers the whole file. `check_signed_pdf`
  raises `SignatureError` unless the PDF is acceptable as a signed permit.

Validation never goes online (no OCSP/CRL fetching): trust is decided against the
roots the caller passes, and a signature can be valid but untrusted.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

TEST_REASON_MARK = "TEST"
DEFAULT_FIELD_NAME = "Signature1"
DEV_ORGANIZATION = "Izin - sertifikat uji (TEST)"


class SignatureError(ValueError):
    """A PDF cannot be accepted as signed. `code` is stable; the message is English.

    Codes: not_pdf, unreadable, unsigned, broken, not_whole_document, bad_certificate.
    `message_id` is the Indonesian text for a staff page.
    """

    MESSAGES_ID: ClassVar[dict[str, str]] = {
        "not_pdf": "Berkas ini bukan PDF.",
        "unreadable": "PDF ini rusak atau tidak dapat dibaca.",
        "unsigned": "PDF ini tidak memiliki tanda tangan elektronik.",
        "broken": "Tanda tangan elektronik pada PDF ini tidak sah: dokumen diubah setelah "
        "ditandatangani atau tanda tangannya rusak.",
        "not_whole_document": "Tanda tangan elektronik tidak mencakup seluruh dokumen: ada "
        "perubahan setelah ditandatangani.",
        "bad_certificate": "Sertifikat atau kata sandinya tidak dapat dibaca.",
    }

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def message_id(self) -> str:
        return self.MESSAGES_ID.get(self.code, str(self))


# --- dev certificate ---------------------------------------------------------------


def make_dev_certificate(
    path: Path, password: bytes, common_name: str, *, days: int = 730
) -> None:
    """Write a PKCS#12 file (key + self-signed certificate) for local signing.

    The file is created with mode 0600; an existing file is not overwritten.
    """
    if not password:
        raise ValueError("a PKCS#12 file needs a password")
    if not common_name.strip():
        raise ValueError("common_name must not be empty")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = cx509.Name(
        [
            cx509.NameAttribute(NameOID.COMMON_NAME, common_name),
            cx509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_ORGANIZATION),
            cx509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        cx509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(cx509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(cx509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            cx509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(cx509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    data = pkcs12.serialize_key_and_certificates(
        name=common_name.encode("utf-8"),
        key=key,
        cert=cert,
        cas=None,
        encryption_algorithm=serialization.BestAvailableEncryption(password),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def certificate_der(p12_path: Path, password: bytes) -> bytes:
    """The certificate inside a PKCS#12 file, DER-encoded (e.g. as a trust root)."""
    try:
        _key, cert, _cas = pkcs12.load_key_and_certificates(p12_path.read_bytes(), password)
    except (OSError, ValueError) as exc:
        raise SignatureError("bad_certificate", f"cannot read {p12_path}: {exc}") from exc
    if cert is None:
        raise SignatureError("bad_certificate", f"{p12_path} holds no certificate")
    return cert.public_bytes(serialization.Encoding.DER)


# --- signing -------------------------------------------------------------------------


def signature_reason(reason: str, *, test: bool) -> str:
    """The reason written into the signature; a test signature says TEST."""
    if test and TEST_REASON_MARK not in reason:
        return f"{TEST_REASON_MARK}: {reason}" if reason else TEST_REASON_MARK
    return reason


def sign_pdf(
    pdf: bytes,
    p12_path: Path,
    password: bytes,
    *,
    reason: str,
    location: str,
    test: bool,
    field_name: str = DEFAULT_FIELD_NAME,
) -> bytes:
    """Sign `pdf` (PAdES B-B) with the key and certificate in a PKCS#12 file."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    try:
        p12 = p12_path.read_bytes()
        signer = signers.SimpleSigner.load_pkcs12_data(p12, other_certs=(), passphrase=password)
    except Exception as exc:  # pyHanko/cryptography raise several kinds here
        raise SignatureError("bad_certificate", f"cannot load {p12_path}: {exc}") from exc
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        reason=signature_reason(reason, test=test),
        location=location,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    except Exception as exc:
        raise SignatureError("unreadable", f"cannot read the PDF to sign: {exc}") from exc
    out = signers.sign_pdf(writer, meta, signer=signer)
    return bytes(out.getvalue())


# --- inspection ----------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureInfo:
    signatures: int  # how many signatures the PDF carries
    field_name: str | None  # of the last signature (the one checked below)
    signer_cn: str | None
    reason: str | None
    location: str | None
    signed_at: dt.datetime | None  # as the signer's clock reported it
    intact: bool  # the signed bytes hash to the signed digest (all signatures)
    valid: bool  # intact, and the signature verifies with the signer's key (all signatures)
    trusted: bool  # the signer's certificate chains to a trust root given by the caller
    covers_whole_document: bool  # the last signature covers every byte of the file
    coverage: str  # pyHanko's SignatureCoverageLevel name, e.g. ENTIRE_FILE

    @property
    def is_test(self) -> bool:
        return self.reason is not None and TEST_REASON_MARK in self.reason

    @property
    def ok(self) -> bool:
        """Acceptable as a signed document (trust is a separate question)."""
        return self.intact and self.valid and self.covers_whole_document


def _looks_like_pdf(pdf: bytes) -> bool:
    # The header may sit anywhere in the first 1024 bytes.
    return b"%PDF-" in pdf[:1024]


def inspect_signed_pdf(pdf: bytes, *, trust_roots: Sequence[bytes] = ()) -> SignatureInfo:
    """Read and validate the signatures in `pdf`; `trust_roots` are DER certificates.

    Raises SignatureError (not_pdf, unreadable, unsigned) when there is no signature to
    report on. A signature that is present but broken is reported (intact/valid False),
    not raised: use `check_signed_pdf` to refuse it.
    """
    from asn1crypto import x509 as ax509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    if not _looks_like_pdf(pdf):
        raise SignatureError("not_pdf", "not a PDF file")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = list(reader.embedded_signatures)
    except Exception as exc:
        raise SignatureError("unreadable", f"cannot read the PDF: {exc}") from exc
    if not embedded:
        raise SignatureError("unsigned", "the PDF carries no signature")

    roots = [ax509.Certificate.load(der) for der in trust_roots]
    intact = valid = True
    last = embedded[-1]
    trusted = False
    coverage = SignatureCoverageLevel.UNCLEAR
    signer_cn: str | None = None
    for sig in embedded:
        vc = ValidationContext(trust_roots=roots, allow_fetching=False)
        try:
            status = validate_pdf_signature(sig, signer_validation_context=vc)
        except Exception as exc:
            raise SignatureError("broken", f"the signature cannot be validated: {exc}") from exc
        # pyHanko's `valid` is the signature over the signed attributes alone; a
        # document changed after signing can still have it. Ours needs both.
        intact = intact and bool(status.intact)
        valid = valid and bool(status.intact) and bool(status.valid)
        if sig is last:
            trusted = bool(status.trusted)
            coverage = status.coverage or SignatureCoverageLevel.UNCLEAR
            cn = status.signing_cert.subject.native.get("common_name")
            signer_cn = str(cn) if cn is not None else None

    def text(key: str) -> str | None:
        value = last.sig_object.get(key)
        return None if value is None else str(value)

    return SignatureInfo(
        signatures=len(embedded),
        field_name=last.field_name,
        signer_cn=signer_cn,
        reason=text("/Reason"),
        location=text("/Location"),
        signed_at=last.self_reported_timestamp,
        intact=intact,
        valid=valid,
        trusted=trusted,
        covers_whole_document=coverage == SignatureCoverageLevel.ENTIRE_FILE,
        coverage=coverage.name,
    )


def check_signed_pdf(pdf: bytes, *, trust_roots: Sequence[bytes] = ()) -> SignatureInfo:
    """`inspect_signed_pdf`, refusing a PDF whose signature is broken or partial.

    What the head of office's upload goes through: the caller stores the PDF unchanged
    only when this returns.
    """
    info = inspect_signed_pdf(pdf, trust_roots=trust_roots)
    if not (info.intact and info.valid):
        raise SignatureError(
            "broken", "the signature does not match the document (changed after signing?)"
        )
    if not info.covers_whole_document:
        raise SignatureError(
            "not_whole_document",
            f"the last signature does not cover the whole file (coverage {info.coverage})",
        )
    return info
