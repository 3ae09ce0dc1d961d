"""The engine's vocabulary: events in; state, messages and effects out.

Everything here is plain data that round-trips through JSON, so states and outgoing
messages can be stored in the database and replayed in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from typing import Any, Literal

from conversations.state_schema import STATE_VERSION, STEP_VALUES, known_step, migrate_state
from conversations.vocab import ChoiceId, StepName
from licensing.calendar import WorkingCalendar
from licensing.catalog import Catalog

EventKind = Literal["text", "choice", "file", "file_rejected"]


@dataclass(frozen=True)
class UploadedFile:
    """A scan the channel already streamed into the file store and found valid."""

    sha256: str
    kind: str  # pdf | jpeg | png
    size: int


@dataclass(frozen=True)
class InboundEvent:
    kind: EventKind
    text: str = ""
    choice_id: str | None = None
    file: UploadedFile | None = None
    # For file_rejected: the reason code from the upload rules and its parameters.
    rejection: str | None = None
    rejection_params: dict[str, Any] = field(default_factory=dict)

    @property
    def chosen(self) -> ChoiceId | None:
        """The choice this event picks (decoded), or None for anything else."""
        return ChoiceId.decode(self.choice_id) if self.kind == "choice" else None

    @staticmethod
    def message(text: str) -> InboundEvent:
        return InboundEvent(kind="text", text=text)

    @staticmethod
    def choose(choice_id: str) -> InboundEvent:
        return InboundEvent(kind="choice", choice_id=choice_id)

    @staticmethod
    def upload(sha256: str, kind: str, size: int) -> InboundEvent:
        return InboundEvent(kind="file", file=UploadedFile(sha256, kind, size))

    @staticmethod
    def upload_rejected(code: str, **params: Any) -> InboundEvent:
        return InboundEvent(kind="file_rejected", rejection=code, rejection_params=params)


@dataclass(frozen=True)
class Choice:
    id: str  # at most 64 bytes (Telegram callback data)
    label: str
    description: str | None = None


MessageKind = Literal["text", "choices", "document", "image"]


@dataclass(frozen=True)
class OutMessage:
    """One outgoing message; each channel renders it within its own limits."""

    kind: MessageKind
    text: str = ""
    choices: tuple[Choice, ...] = ()
    blob_sha256: str | None = None  # document or image stored in the file store
    filename: str | None = None
    media_type: str | None = None
    qr: str | None = None  # an image that is a QR code of this text, drawn by the channel

    def to_payload(self) -> dict[str, Any]:
        # Field by field, not dataclasses.asdict: this runs for every outgoing message
        # and asdict's recursive deep copy was most of its cost (bench/journeys.py).
        data = {f.name: getattr(self, f.name) for f in _OUT_FIELDS}
        data["choices"] = [{f.name: getattr(c, f.name) for f in _CHOICE_FIELDS}
                           for c in self.choices]
        return {k: v for k, v in data.items() if v not in (None, "", [])}

    @staticmethod
    def from_payload(data: dict[str, Any]) -> OutMessage:
        choices = tuple(Choice(**c) for c in data.get("choices", ()))
        return OutMessage(**{**data, "choices": choices})


_OUT_FIELDS = fields(OutMessage)
_CHOICE_FIELDS = fields(Choice)


# ---- effects: what the runtime must do in the same transaction ----


@dataclass(frozen=True)
class SetLanguage:
    lang: str


@dataclass(frozen=True)
class SubmitApplication:
    reg_no: str
    region: str
    profession: str
    full_name: str
    nik: str
    phone: str
    practice_place: str
    lang: str
    scans: dict[str, str]  # requirement code -> blob sha256
    conditions: dict[str, bool]
    str_number: str | None = None  # drafts saved before the STR question have none


@dataclass(frozen=True)
class ResubmitDocuments:
    """Replacement scans for documents the office rejected."""

    reg_no: str
    scans: dict[str, str]


@dataclass(frozen=True)
class FileComplaint:
    ticket_no: str
    region: str
    profession: str | None
    reg_no: str | None
    about: str  # application | service | none
    category: str
    text: str
    attachments: tuple[str, ...]
    anonymous: bool
    name: str | None
    kind: str  # complaint | suggestion
    suggestion_reason: str | None
    lang: str
    due_on: date


@dataclass(frozen=True)
class ComplaintReply:
    ticket_no: str
    text: str


@dataclass(frozen=True)
class ComplaintSettled:
    ticket_no: str
    settled: bool


@dataclass(frozen=True)
class SubmitSurvey:
    """A completed satisfaction survey (SKM) for one application."""

    reg_no: str
    profile: dict[str, str]  # profile question key -> option key
    answers: dict[str, int]  # element key -> 1..4


@dataclass(frozen=True)
class PermitDelivered:
    """The signed permit was sent into the chat."""

    reg_no: str


@dataclass(frozen=True)
class RequestPrecheck:
    """Pre-check one requirement's photos (all its pages, in order); the result follows
    as a later message (service/precheck.py). `expected` holds what the applicant typed
    (NIK, name, STR number) and the profession: personal data, never logged."""

    requirement_code: str
    document: str  # licensing.precheck.kinds.DocumentKind value
    sources: tuple[str, ...]  # blob sha256 of each page
    expected: dict[str, Any]
    lang: str
    title: str = ""  # the requirement's published title, for the result message
    max_age_days: int | None = None


Effect = (SetLanguage | SubmitApplication | ResubmitDocuments | FileComplaint | ComplaintReply
          | ComplaintSettled | SubmitSurvey | PermitDelivered | RequestPrecheck)


# ---- context: everything the engine knows about the world, passed in ----


@dataclass(frozen=True)
class DocumentView:
    requirement_code: str
    review: str  # pending | accepted | rejected
    reason: str | None = None


@dataclass(frozen=True)
class PermitView:
    status: str  # pending | issued | revoked
    number: str | None = None
    blob_sha256: str | None = None  # the signed PDF, once issued
    survey_required: bool = True
    survey_done: bool = False
    delivered: bool = False

    @property
    def downloadable(self) -> bool:
        """Issued, signed, and the survey is done or not asked for."""
        return (self.status == "issued" and self.blob_sha256 is not None
                and (self.survey_done or not self.survey_required))


@dataclass(frozen=True)
class ApplicationView:
    reg_no: str
    region: str
    profession: str
    step_code: str
    step_since: datetime
    status: str  # open | approved | rejected | issued | withdrawn
    submitted_at: datetime
    clock_started_on: date | None = None
    due_on: date | None = None
    documents: tuple[DocumentView, ...] = ()
    permit: PermitView | None = None
    full_name: str | None = None  # as the applicant gave it (a complaint may reuse it)

    @property
    def rejected(self) -> tuple[DocumentView, ...]:
        return tuple(d for d in self.documents if d.review == "rejected")


@dataclass(frozen=True)
class NoticeChoices:
    """The choices of the last notice queued for this chat (a permit ready, a fix
    request, an officer's answer...), written with the notice by service.outbox.enqueue.
    `token` tells a new notice from one the state has already taken in."""

    token: str
    choices: tuple[tuple[str, str], ...]  # (id, label) in the order shown


@dataclass(frozen=True)
class Context:
    now: datetime  # aware, UTC
    catalog: Catalog
    calendar: WorkingCalendar
    new_code: Callable[[], str]  # random part of registration numbers
    applications: tuple[ApplicationView, ...] = ()
    max_upload_bytes: int = 10 * 1024 * 1024
    precheck: bool = False  # photos are pre-checked (IZIN_PRECHECK): offer pages
    notice: NoticeChoices | None = None


@dataclass
class State:
    """The stored dialogue state of one applicant (JSON in `conversations.state`).

    `version` is the schema of the stored form; `from_dict` migrates older forms
    forward (conversations.state_schema), so an upgrade never strands anyone.
    """

    lang: str | None = None
    step: StepName = StepName.LANGUAGE
    data: dict[str, Any] = field(default_factory=dict)
    # The current step's choices: what a button press may answer.
    offered: list[list[str]] = field(default_factory=list)
    history: list[StepName] = field(default_factory=list)
    # The choices last shown in the chat when a notice (permit ready, fix request,
    # complaint answer...) came after the step's own: typed numbers mean these.
    shown: list[list[str]] | None = None
    # The last notice whose choices were taken into `shown` (Applicant.notice_choices).
    notice: str | None = None
    version: int = STATE_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def last_shown(self) -> list[list[str]]:
        """The choices the person sees last, which a typed number refers to."""
        return self.shown if self.shown is not None else self.offered

    @staticmethod
    def from_dict(data: dict[str, Any] | None) -> State:
        if not data:
            return State()
        data = migrate_state(data)
        lang = data.get("lang")
        return State(
            lang=lang,
            step=known_step(data.get("step"), lang),
            data=dict(data.get("data", {})),
            offered=[list(x) for x in data.get("offered", [])],
            history=[StepName(s) for s in data.get("history", []) if s in STEP_VALUES],
            shown=[list(x) for x in data["shown"]] if data.get("shown") is not None else None,
            notice=data.get("notice"),
        )


@dataclass(frozen=True)
class StepResult:
    state: State
    messages: tuple[OutMessage, ...]
    effects: tuple[Effect, ...]
    # An uploaded file was taken (into a draft, a fix, a complaint). When False the
    # runtime removes a file this event newly stored: an unrequested file is not kept.
    file_kept: bool = False
