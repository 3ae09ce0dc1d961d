"""The dialogue's own vocabulary, typed: step names, handler outcomes, choice ids.

A choice id travels as a string (Telegram callback data, WhatsApp button ids, the
outbox) and comes back from the platform; `ChoiceId.encode` and `ChoiceId.decode` are
the only places that know its shape, so no flow slices strings by position.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum


class StepName(StrEnum):
    """Every step of the dialogue. The values are stored in conversation states: renaming
    one needs an entry in `conversations.state_schema.STEP_RENAMES`."""

    LANGUAGE = "start.language"
    MENU = "menu.main"
    INFO_REGION = "info.region"
    INFO_PROFESSION = "info.profession"
    INFO_TOPIC = "info.topic"
    APPLY_START = "apply.start"
    APPLY_PROFESSION = "apply.profession"
    APPLY_INTRO = "apply.intro"
    APPLY_FULL_NAME = "apply.full_name"
    APPLY_NIK = "apply.nik"
    APPLY_PHONE = "apply.phone"
    APPLY_PLACE = "apply.place"
    APPLY_STR_NUMBER = "apply.str_number"
    APPLY_CONDITIONS = "apply.conditions"
    APPLY_SCANS = "apply.scans"
    APPLY_PICK_SCAN = "apply.pick_scan"
    APPLY_EDIT_FIELD = "apply.edit_field"
    APPLY_REVIEW = "apply.review"
    STATUS = "status.overview"
    FIX_SCANS = "fix.scans"
    SURVEY_QUESTION = "survey.question"
    COMPLAINT_ABOUT = "complaint.about"
    COMPLAINT_REGION = "complaint.region"
    COMPLAINT_PROFESSION = "complaint.profession"
    COMPLAINT_CATEGORY = "complaint.category"
    COMPLAINT_TEXT = "complaint.text"
    COMPLAINT_ATTACHMENTS = "complaint.attachments"
    COMPLAINT_IDENTITY = "complaint.identity"
    COMPLAINT_NAME = "complaint.name"
    COMPLAINT_CONFIRM = "complaint.confirm"
    COMPLAINT_REPLY = "complaint.reply"

    @property
    def group(self) -> str:
        """The flow a step belongs to ("apply" for "apply.nik"): names its help text."""
        return self.value.split(".", 1)[0]


class Outcome(Enum):
    """What a step's `handle` may return instead of the next step."""

    STAY = "stay"  # the handler said what was needed; keep the step, no re-prompt
    REPROMPT = "reprompt"  # keep the step and ask its question again
    UNHANDLED = "unhandled"  # the input makes no sense here: say so, then re-prompt


Next = StepName | Outcome


class Kind(StrEnum):
    """What a choice does. The value is its wire prefix; `ARITY` says how many
    arguments follow it, separated by ":" (the last one takes the rest)."""

    # Fixed choices: the prefix is the whole id.
    NAV_BACK = "nav:back"
    NAV_MENU = "nav:menu"
    MENU_INFO = "m:info"
    MENU_APPLY = "m:apply"
    MENU_STATUS = "m:status"
    MENU_COMPLAINT = "m:complaint"
    MENU_LANGUAGE = "m:lang"
    MENU_HELP = "m:help"
    DRAFT_CONTINUE = "a:continue"
    DRAFT_RESTART = "a:restart"
    APPLY_BEGIN = "a:begin"
    YES = "c:yes"
    NO = "c:no"
    SCANS_REVIEW = "s:review"
    SCANS_REPLACE = "s:replace"
    SCANS_REMOVE = "s:remove"
    SCANS_LIST = "s:list"
    SCANS_MORE = "s:more"  # pre-check: add a page to the requirement last photographed
    SCANS_REDO = "s:redo"  # pre-check: start that requirement over
    REVIEW_SUBMIT = "v:submit"
    REVIEW_SCANS = "v:scans"
    REVIEW_DATA = "v:data"
    EDIT_CONDITIONS = "e:conditions"
    INFO_APPLY = "i:apply"
    FIX_SEND = "fx:send"
    COMPLAINT_SERVICE = "k:service"
    COMPLAINT_OTHER = "k:none"
    ATTACHMENTS_DONE = "k:done"
    IDENTITY_NAMED = "k:named"
    IDENTITY_KNOWN = "k:known"
    IDENTITY_ANONYMOUS = "k:anon"
    COMPLAINT_SEND = "k:send"
    # Choices carrying values.
    LANGUAGE = "lang"
    REGION = "r"
    PROFESSION = "p"
    EDIT_FIELD = "e"
    PICK_SCAN = "x"
    TOPIC = "i"
    STATUS_FIX = "f"
    COMPLAINT_APPLICATION = "k:app"
    CATEGORY = "g"
    SURVEY_PROFILE = "sp"
    SURVEY_ELEMENT = "se"
    # Global choices: buttons on notices, taken wherever the dialogue has moved on to.
    SURVEY = "!survey"
    PERMIT = "!permit"
    FIX = "!fix"
    COMPLAINT_ANSWER = "!kr"
    COMPLAINT_SETTLED = "!ks"

    @property
    def is_global(self) -> bool:
        return self.value.startswith("!")


ARITY: dict[Kind, int] = {
    Kind.LANGUAGE: 1, Kind.REGION: 1, Kind.PROFESSION: 1, Kind.EDIT_FIELD: 1,
    Kind.PICK_SCAN: 1, Kind.TOPIC: 1, Kind.STATUS_FIX: 1, Kind.COMPLAINT_APPLICATION: 1,
    Kind.CATEGORY: 1, Kind.SURVEY_PROFILE: 2, Kind.SURVEY_ELEMENT: 2,
    Kind.SURVEY: 1, Kind.PERMIT: 1, Kind.FIX: 1, Kind.COMPLAINT_ANSWER: 1,
    Kind.COMPLAINT_SETTLED: 2,
}
_FIXED = {k.value: k for k in Kind if k not in ARITY}
# Longest prefix first, so "k:app" is tried before a shorter one could match.
_WITH_ARGS = sorted((k for k in Kind if k in ARITY), key=lambda k: -len(k.value))
MAX_ID_BYTES = 64  # Telegram's callback data limit


@dataclass(frozen=True)
class ChoiceId:
    kind: Kind
    args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.args) != ARITY.get(self.kind, 0):
            raise ValueError(f"{self.kind.name} takes {ARITY.get(self.kind, 0)} arguments")
        if any(":" in a for a in self.args[:-1]) or any(not a for a in self.args):
            raise ValueError(f"bad arguments for {self.kind.name}: {self.args!r}")

    @property
    def arg(self) -> str:
        """The first (usually only) argument."""
        return self.args[0]

    def encode(self) -> str:
        raw = ":".join((self.kind.value, *self.args))
        if len(raw.encode()) > MAX_ID_BYTES:
            raise ValueError(f"choice id over {MAX_ID_BYTES} bytes: {raw!r}")
        return raw

    @staticmethod
    def decode(raw: str | None) -> ChoiceId | None:
        """The choice an id names, or None for anything we never sent."""
        if not raw:
            return None
        fixed = _FIXED.get(raw)
        if fixed is not None:
            return ChoiceId(fixed)
        for kind in _WITH_ARGS:
            prefix = kind.value + ":"
            if raw.startswith(prefix):
                parts = raw[len(prefix):].split(":", ARITY[kind] - 1)
                try:
                    return ChoiceId(kind, tuple(parts))
                except ValueError:
                    return None
        return None


def cid(kind: Kind, *args: str) -> str:
    """The wire form of a choice: `cid(Kind.REGION, "metro")` -> "r:metro"."""
    return ChoiceId(kind, args).encode()
