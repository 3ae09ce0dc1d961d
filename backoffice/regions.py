"""Which region a page works on: the staff member's own, or, for a region-wide admin
("*"), the one chosen on the page (`?region=` on pages, a hidden field in forms)."""

from __future__ import annotations

from backoffice.parts import OfficeParts
from backoffice.web import Denied
from service.staff import ALL_REGIONS, SignedIn


def region_choices(parts: OfficeParts, staff: SignedIn) -> list[tuple[str, str]]:
    """The regions this staff member may pick (one, except for a region-wide admin)."""
    regions = [(r.slug, r.name) for r in parts.catalog.regions()]
    if staff.region == ALL_REGIONS:
        return regions
    return [(s, n) for s, n in regions if s == staff.region]


def working_region(parts: OfficeParts, staff: SignedIn, requested: str = "") -> str:
    if staff.region != ALL_REGIONS:
        return staff.region  # a regional account never works on another region
    slugs = [s for s, _ in region_choices(parts, staff)]
    if not requested:
        return slugs[0]
    if requested not in slugs:
        raise Denied(f"Wilayah tidak dikenal: {requested}.", status=404,
                     title="Tidak ditemukan")
    return requested
