"""The unfinished application, typed. Stored in the state as `data["draft"]` (a JSON
object with these field names; reminders read `started_at`, `scans`, `conditions`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class PickMode(StrEnum):
    REPLACE = "replace"
    REMOVE = "remove"


@dataclass
class Draft:
    region: str
    profession: str | None = None
    started_at: str | None = None  # ISO time: the "scans still missing" reminder counts from it
    full_name: str | None = None
    nik: str | None = None
    phone: str | None = None
    place: str | None = None
    str_number: str | None = None
    conditions: dict[str, bool] | None = None  # None: not asked yet
    conditions_partial: dict[str, bool] | None = None  # answers while asking
    scans: dict[str, str] = field(default_factory=dict)  # requirement code -> blob sha256
    target: str | None = None  # a requirement picked for replacing
    pick_mode: PickMode | None = None
    # The pre-check's pages (conversations/scan_pages.py): photos per requirement in the
    # order sent, the requirement a next photo is added to, the one last photographed.
    pages: dict[str, list[str]] = field(default_factory=dict)
    adding: str | None = None
    last_paged: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in _FIELDS:
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, dict):
                out[f.name] = {k: list(v) if isinstance(v, list) else v
                               for k, v in value.items()}
            else:
                out[f.name] = str(value)
        return out

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Draft:
        known = {f.name for f in _FIELDS}
        values = {k: v for k, v in data.items() if k in known}
        mode = values.pop("pick_mode", None)
        draft = Draft(**values)
        draft.scans = dict(draft.scans or {})
        draft.pages = {k: list(v) for k, v in (draft.pages or {}).items()}
        draft.pick_mode = PickMode(mode) if mode in PickMode.__members__.values() else None
        return draft


_FIELDS = fields(Draft)
