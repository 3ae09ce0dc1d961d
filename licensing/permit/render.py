"""The permit as HTML (Jinja2) and as an A4 PDF (WeasyPrint).

Templates: `templates/<region>.html.j2`, else `templates/default.html.j2`. The QR code
(licensing.qrcode) links to the public verify page. Rendering fetches nothing: the only
resources a template may use are `data:` URIs.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from licensing.catalog import CatalogEntry
from licensing.dates import format_date
from licensing.permit.numbering import PermitSettings, permit_settings
from licensing.qrcode import qr_svg

TEMPLATES_DIR = Path(__file__).with_name("templates")
DEFAULT_TEMPLATE = "default.html.j2"
TEST_MARK = "DOKUMEN UJI / TEST"
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class PermitData:
    number: str
    holder_name: str
    profession_name: str
    str_number: str
    place_of_practice: str
    region_slug: str
    region_name: str
    office_name: str
    office_address: str | None
    service: str  # "Surat Izin Praktik Okupasi Terapis": the permit's title
    product: str
    legal_basis: tuple[str, ...]
    issue_date: date
    valid_until: date
    place_of_signing: str  # "Metro"
    signatory_title: str
    signatory_name: str | None
    letterhead: tuple[str, ...]
    verify_url: str
    test: bool = False  # signed with a dev certificate: print TEST_MARK

    @property
    def signed_at_line(self) -> str:
        """ "Metro, 21 Juli 2025" """
        return f"{self.place_of_signing}, {format_date(self.issue_date, 'id')}"


def add_years(d: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def valid_until(issue: date, years: int) -> date:
    """The last day of a validity of `years` years starting on `issue` (inclusive)."""
    return add_years(issue, years) - timedelta(days=1)


def permit_data(
    entry: CatalogEntry,
    *,
    number: str,
    holder_name: str,
    str_number: str,
    place_of_practice: str,
    issue_date: date,
    verify_url: str,
    test: bool = False,
    settings: PermitSettings | None = None,
) -> PermitData:
    """PermitData from the catalog entry and the region's permit settings."""
    s = settings or permit_settings(entry.region.slug)
    return PermitData(
        number=number,
        holder_name=holder_name,
        profession_name=entry.profession.name,
        str_number=str_number,
        place_of_practice=place_of_practice,
        region_slug=entry.region.slug,
        region_name=entry.region.name,
        office_name=entry.region.office,
        office_address=entry.region.address,
        service=entry.service,
        product=entry.product,
        legal_basis=entry.legal_basis,
        issue_date=issue_date,
        valid_until=valid_until(issue_date, s.validity_years),
        place_of_signing=s.place,
        signatory_title=s.signatory_title,
        signatory_name=s.signatory_name,
        letterhead=s.letterhead,
        verify_url=verify_url,
        test=test,
    )


def _environment(templates_dir: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(["j2", "html"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def qr_data_uri(url: str) -> str:
    svg = qr_svg(url)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def render_permit_html(data: PermitData, *, templates_dir: Path = TEMPLATES_DIR) -> str:
    """The permit page as HTML (the region's template, else the default one)."""
    if not _SLUG.match(data.region_slug):
        raise ValueError(f"invalid region slug {data.region_slug!r}")
    if not data.verify_url:
        raise ValueError("a permit needs its verify URL for the QR code")
    env = _environment(templates_dir)
    template = env.select_template([f"{data.region_slug}.html.j2", DEFAULT_TEMPLATE])
    return template.render(
        permit=data,
        issue_date=format_date(data.issue_date, "id"),
        valid_until=format_date(data.valid_until, "id"),
        signed_at=data.signed_at_line,
        qr_src=qr_data_uri(data.verify_url),
        test_mark=TEST_MARK,
    )


def html_to_pdf(html: str) -> bytes:
    """HTML to PDF bytes with WeasyPrint; no network, no files: only data: URIs load."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=["data"], fail_on_errors=True)
    pdf = HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf()
    if not isinstance(pdf, bytes):
        raise RuntimeError("WeasyPrint returned no PDF bytes")
    return pdf


def render_permit_pdf(data: PermitData, *, templates_dir: Path = TEMPLATES_DIR) -> bytes:
    """The permit as an unsigned A4 PDF."""
    return html_to_pdf(render_permit_html(data, templates_dir=templates_dir))
