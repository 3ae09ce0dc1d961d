"""The service-standard catalog: one YAML file per region and profession.

Each file carries one published *Standar Pelayanan* exactly as the region wrote it.
Files are validated on load; a bad file raises `CatalogError` naming the file, the
field and the problem. Adding a region or a profession is adding a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from licensing.precheck.kinds import DocumentKind

STANDARDS_DIR = Path(__file__).with_name("standards")

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=40)]
Code = Annotated[str, Field(pattern=r"^[a-z0-9_]+$", max_length=24)]


class Role(StrEnum):
    """Who performs a procedure step. Staff roles match the back office's roles."""

    APPLICANT = "applicant"
    FRONT_OFFICE = "front_office"
    BACK_OFFICE = "back_office"  # drafter / processing officer
    TECHNICAL_TEAM = "technical_team"
    VERIFIER = "verifier"  # initials (paraf) the draft
    HEAD_OF_OFFICE = "head_of_office"  # signs / decides
    COMPLAINT_OFFICER = "complaint_officer"
    ADMIN = "admin"


class Action(StrEnum):
    """What a control-card row records. The first twelve are what a published step may
    list; the rest are written by the system around them."""

    CHECK_FILES = "check_files"
    RECEIPT = "receipt"
    TECHNICAL_REVIEW = "technical_review"
    SITE_VISIT = "site_visit"
    RECOMMEND = "recommend"
    DRAFT = "draft"
    INITIAL = "initial"  # paraf
    SIGN = "sign"
    APPROVE = "approve"
    REJECT = "reject"
    NUMBER = "number"
    HAND_OVER = "hand_over"
    # Not listed by steps: every staff step may return a file; the applicant submits.
    RETURN = "return"
    SUBMIT = "submit"
    RESUBMIT = "resubmit"
    PERMIT_ISSUED = "permit_issued"
    PERMIT_REVOKED = "permit_revoked"


EVENT_ONLY = frozenset({Action.RETURN, Action.SUBMIT, Action.RESUBMIT, Action.PERMIT_ISSUED,
                        Action.PERMIT_REVOKED})


class FileKind(StrEnum):
    PDF = "pdf"
    JPEG = "jpeg"
    PNG = "png"


class DayUnit(StrEnum):
    WORKING = "working"
    CALENDAR = "calendar"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Region(_Model):
    slug: Slug
    name: str  # "Kabupaten Purwakarta"
    office: str  # the DPMPTSP's full name
    code: Annotated[str, Field(pattern=r"^[A-Z]{2,5}$")]  # prefix of registration numbers
    timezone: Literal["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]  # WIB, WITA, WIT
    address: str | None = None


class Profession(_Model):
    slug: Slug
    name: str  # "Okupasi Terapis"


class Requirement(_Model):
    code: Code
    title: str  # as published
    # "upload": a scan the applicant sends in the chat; "elsewhere": checked by the
    # office in another system or at the counter (an account, an original, a folder).
    kind: Literal["upload", "elsewhere"]
    accepts: tuple[FileKind, ...] = ()
    # A requirement that applies only to some applicants (renewals, foreign graduates).
    condition: str | None = None
    note: str | None = None
    # What the scan is, for the pre-check (licensing/precheck): which fields to read.
    document: DocumentKind | None = None
    # Letters: older than this on the day they are sent draws a warning (as published).
    max_age_days: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _accepts_matches_kind(self) -> Requirement:
        if self.kind == "upload" and not self.accepts:
            raise ValueError("an upload requirement must list the file kinds it accepts")
        if self.kind == "elsewhere" and self.accepts:
            raise ValueError("a requirement checked elsewhere accepts no files")
        return self


class Duration(_Model):
    minutes: int | None = Field(default=None, ge=1)
    days: int | None = Field(default=None, ge=1)
    unit: DayUnit = DayUnit.WORKING


class Position(_Model):
    """A position (jabatan) that performs steps, named exactly as the seed names it."""

    slug: Code
    title: str  # "JF Analis Kebijakan Ahli Muda"


class MayCombine(_Model):
    """Positions one person may hold on the same file: a region's own allowance, shown
    on the control card. Without one, two different positions mean two people."""

    positions: tuple[Code, Code]
    note: str  # why the region allows it (shown on the card)


class Numbering(StrEnum):
    """Where the permit's number is given."""

    # A procedure step lists `number`; the number is given when that step is done.
    AT_STEP = "at_step"
    # No numbering step: the electronic signature needs the number in the signed PDF,
    # so the system gives it as the signing step is done (said so on the card).
    BEFORE_SIGNING = "before_signing"


class ProcedureStep(_Model):
    code: Code
    title: str  # as published
    role: Role
    # The position (`CatalogEntry.positions` slug) that performs the step; staff act on
    # a step only while holding it. `performer` is that position's title (filled in).
    position: Code | None = None
    performer: str | None = None  # the published position, e.g. "JF Analis Kebijakan Ahli Muda"
    # What the performer may do at this step (the back office offers exactly these).
    actions: tuple[Action, ...] = ()
    duration: Duration | None = None
    # False when the step is not in the published text but follows from it (noted why).
    published: bool = True
    note: str | None = None

    @model_validator(mode="after")
    def _step_actions(self) -> ProcedureStep:
        listed = sorted(a.value for a in set(self.actions) & EVENT_ONLY)
        if listed:
            raise ValueError(f"actions: {', '.join(listed)} cannot be listed by a step")
        return self


class Deadline(_Model):
    days: int = Field(ge=1)
    unit: DayUnit
    # The event that starts the clock: files accepted as complete and correct, or the
    # technical requirements declared complete.
    starts_on: Literal["files_complete", "technical_complete"]
    text: str  # as published
    excludes: str | None = None  # e.g. "Rekomendasi Teknis" (Metro)


class ComplaintChannel(_Model):
    kind: Literal[
        "office", "counter", "letter", "phone", "sms", "whatsapp", "fax", "email", "web",
        "twitter", "instagram", "form", "box", "lapor", "app",
    ]
    label: str
    value: str | None = None


class Complaints(_Model):
    channels: tuple[ComplaintChannel, ...]
    # Rules the seed standards publish; None where a standard is silent.
    suggestion_after_days: int | None = Field(default=None, ge=1)  # calendar days
    answer_within: Duration | None = None
    grades: tuple[str, ...] = ()  # e.g. ("ringan", "sedang", "berat")
    # Published rule (000/003, 5b): no identity, or no object -> recorded as a suggestion.
    anonymous_is_suggestion: bool = False
    no_object_is_suggestion: bool = False
    handling_steps: tuple[str, ...] = ()
    text: str | None = None  # the published handling text, abridged only of layout


class CatalogEntry(_Model):
    """One published service standard: one region, one profession."""

    source: str  # the seed file it was carried from
    region: Region
    profession: Profession
    service: str  # "Surat Izin Praktik Okupasi Terapis"
    product: str  # "Surat Izin Praktik Okupasi Terapis dengan tanda tangan elektronik"
    system: str | None = None  # the office's system today (SiCantik Cloud, MPPD)
    requirements: tuple[Requirement, ...] = Field(min_length=1)
    # Who performs the steps (the SOP's Pelaksana), declared once per standard.
    positions: tuple[Position, ...] = Field(min_length=1)
    may_combine: tuple[MayCombine, ...] = ()
    numbering: Numbering
    procedure: tuple[ProcedureStep, ...] = Field(min_length=1)
    deadline: Deadline
    fee_idr: int = Field(ge=0)
    fee_text: str
    complaints: Complaints
    legal_basis: tuple[str, ...] = Field(min_length=1)
    survey_before_download: bool
    e_signed: bool = False
    qr_verifiable: bool = False
    # Pekanbaru: remind when the permit is not collected a month after it is ready.
    uncollected_reminder_days: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _fill_performers(cls, raw: object) -> object:
        """A step names its position by slug; its `performer` is that position's title."""
        if not isinstance(raw, dict):
            return raw
        titles = {p.get("slug"): p.get("title") for p in raw.get("positions") or ()
                  if isinstance(p, dict)}
        steps = []
        for step in raw.get("procedure") or ():
            if isinstance(step, dict) and step.get("position") in titles:
                title = titles[step["position"]]
                if step.get("performer", title) != title:
                    raise ValueError(f"procedure.{step.get('code')}: performer "
                                     f"{step['performer']!r} is not position "
                                     f"{step['position']}'s title {title!r}")
                step = {**step, "performer": title}
            steps.append(step)
        return {**raw, "procedure": steps}

    @model_validator(mode="after")
    def _unique_codes(self) -> CatalogEntry:
        declared = {p.slug for p in self.positions}
        for s in self.procedure:
            if s.position is not None and s.position not in declared:
                raise ValueError(f"procedure.{s.code}: position {s.position} is not declared")
            if s.role is not Role.APPLICANT and s.position is None:
                raise ValueError(f"procedure.{s.code}: an office step names its position")
        for m in self.may_combine:
            unknown = set(m.positions) - declared
            if unknown:
                raise ValueError(f"may_combine: position(s) {', '.join(sorted(unknown))} "
                                 "not declared")
        numbers = any("number" in s.actions for s in self.office_steps)
        if (self.numbering is Numbering.AT_STEP) != numbers:
            raise ValueError("numbering: at_step needs a step with the action number, "
                             "and only at_step may have one")
        if self.numbering is Numbering.BEFORE_SIGNING and not self.e_signed:
            raise ValueError("numbering: before_signing is for electronically signed permits")
        for name, codes in (
            ("requirements", [r.code for r in self.requirements]),
            ("procedure", [s.code for s in self.procedure]),
            ("positions", [p.slug for p in self.positions]),
        ):
            dupes = sorted({c for c in codes if codes.count(c) > 1})
            if dupes:
                raise ValueError(f"{name}: duplicate code(s) {', '.join(dupes)}")
        if not any(s.role is Role.HEAD_OF_OFFICE for s in self.procedure):
            raise ValueError("procedure: no step is performed by the head of office")
        return self

    @property
    def key(self) -> tuple[str, str]:
        return (self.region.slug, self.profession.slug)

    @property
    def uploads(self) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.kind == "upload")

    def requirement(self, code: str) -> Requirement:
        for r in self.requirements:
            if r.code == code:
                return r
        raise KeyError(code)

    @property
    def office_steps(self) -> tuple[ProcedureStep, ...]:
        """The steps staff perform, in order: where a submitted file can sit."""
        return tuple(s for s in self.procedure if s.role is not Role.APPLICANT)

    def next_office_step(self, code: str | None) -> ProcedureStep | None:
        """The office step after `code` (the first one when `code` is None)."""
        steps = self.office_steps
        if code is None:
            return steps[0]
        codes = [s.code for s in steps]
        i = codes.index(code)
        return steps[i + 1] if i + 1 < len(steps) else None

    def position(self, slug: str) -> Position:
        for p in self.positions:
            if p.slug == slug:
                return p
        raise KeyError(slug)

    def may_combine_note(self, a: str, b: str) -> str | None:
        """Why one person may act as both `a` and `b` on one file; None: they may not."""
        if a == b:
            return ""
        for m in self.may_combine:
            if set(m.positions) == {a, b}:
                return m.note
        return None

    def step(self, code: str) -> ProcedureStep:
        for s in self.procedure:
            if s.code == code:
                return s
        raise KeyError(code)

    def to_public_json(self) -> dict[str, object]:
        """The shape `izin catalog show --json` prints (stable keys)."""
        data = self.model_dump(mode="json")
        data["region"] = self.region.slug
        data["region_name"] = self.region.name
        data["profession"] = self.profession.slug
        data["profession_name"] = self.profession.name
        return data


class CatalogError(Exception):
    """A catalog file is unreadable or invalid; the message names file, field, problem."""


def _describe(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid service standard"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(file)"
        lines.append(f"  {loc}: {e['msg']}")
    return "\n".join(lines)


def load_entry(path: Path) -> CatalogEntry:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: (file): expected a mapping at the top level")
    try:
        entry = CatalogEntry.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(_describe(path, exc)) from exc
    expected = f"{entry.region.slug}/{entry.profession.slug}.yaml"
    if path.parent.name != entry.region.slug or path.name != f"{entry.profession.slug}.yaml":
        raise CatalogError(
            f"{path}: region.slug/profession.slug: file must be stored as {expected}"
        )
    return entry


class Catalog:
    """All loaded standards, keyed by (region slug, profession slug)."""

    def __init__(self, entries: Iterable[CatalogEntry]) -> None:
        self._entries: dict[tuple[str, str], CatalogEntry] = {}
        for e in entries:
            if e.key in self._entries:
                raise CatalogError(f"duplicate standard for {e.key[0]}/{e.key[1]}")
            self._entries[e.key] = e
        titles: dict[tuple[str, str], str] = {}
        for e in self._entries.values():
            for p in e.positions:
                if titles.setdefault((e.region.slug, p.slug), p.title) != p.title:
                    raise CatalogError(f"{e.region.slug}: position {p.slug} has two titles")

    @classmethod
    def load(cls, directory: Path = STANDARDS_DIR) -> Catalog:
        """Load every `<region>/<profession>.yaml`; all errors are reported together."""
        entries: list[CatalogEntry] = []
        errors: list[str] = []
        for path in sorted(directory.glob("*/*.yaml")):
            try:
                entries.append(load_entry(path))
            except CatalogError as exc:
                errors.append(str(exc))
        if errors:
            raise CatalogError("\n".join(errors))
        if not entries:
            raise CatalogError(f"{directory}: no service standards found")
        return cls(entries)

    def __iter__(self) -> Iterator[CatalogEntry]:
        return iter(sorted(self._entries.values(), key=lambda e: e.key))

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, region: str, profession: str) -> CatalogEntry:
        try:
            return self._entries[(region, profession)]
        except KeyError:
            raise KeyError(f"no standard for {region}/{profession}") from None

    def find(self, region: str, profession: str) -> CatalogEntry | None:
        return self._entries.get((region, profession))

    def regions(self) -> list[Region]:
        seen: dict[str, Region] = {}
        for e in self:
            seen.setdefault(e.region.slug, e.region)
        return sorted(seen.values(), key=lambda r: r.name)

    def professions(self, region: str) -> list[Profession]:
        return sorted(
            (e.profession for e in self if e.region.slug == region), key=lambda p: p.name
        )

    def entry_for_region(self, region: str, profession: str | None = None) -> CatalogEntry:
        """The standard for a service, or the region's first one for region-wide rules."""
        if profession:
            found = self.find(region, profession)
            if found is not None:
                return found
        for e in self:
            if e.region.slug == region:
                return e
        raise KeyError(region)

    def positions(self, region: str) -> dict[str, str]:
        """The positions declared by the region's standards: slug -> title."""
        out: dict[str, str] = {}
        for e in self:
            if e.region.slug == region:
                for p in e.positions:
                    out.setdefault(p.slug, p.title)
        return out

    def region(self, slug: str) -> Region:
        for r in self.regions():
            if r.slug == slug:
                return r
        raise KeyError(slug)
