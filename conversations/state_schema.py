"""The stored state's schema version and the migrations that bring old states forward.

A state without a version is version 1 (the form before versions were written). Each
migration takes the stored dict of version N to N+1; `migrate_state` runs the chain.
A renamed step is listed in `STEP_RENAMES` so a person waiting at the old name
continues at its successor instead of being sent back to the menu. A step that no
longer exists and has no successor sends them to the menu (or the language question).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conversations.vocab import StepName

STATE_VERSION = 2
STEP_VALUES = frozenset(s.value for s in StepName)

# Old step name -> the step that replaced it (kept for as long as old states may exist).
STEP_RENAMES: dict[str, StepName] = {
    # v2: the status step shows an unfinished draft too, not only a list of applications.
    "status.list": StepName.STATUS,
}


def _rename(name: Any) -> Any:
    return STEP_RENAMES[name].value if isinstance(name, str) and name in STEP_RENAMES else name


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v2 renames steps and adds `shown`/`notice` (choices of notices; none yet)."""
    out = dict(data)
    out["step"] = _rename(data.get("step"))
    out["history"] = [_rename(s) for s in data.get("history", [])]
    out.setdefault("shown", None)
    out.setdefault("notice", None)
    out["version"] = 2
    return out


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def migrate_state(data: dict[str, Any]) -> dict[str, Any]:
    version = int(data.get("version", 1))
    if version > STATE_VERSION:
        raise ValueError(f"state version {version} is newer than this code ({STATE_VERSION})")
    while version < STATE_VERSION:
        data = MIGRATIONS[version](data)
        version = int(data["version"])
    return data


def known_step(name: Any, lang: str | None) -> StepName:
    """The stored step, or where to start over when it no longer exists."""
    if isinstance(name, str) and name in STEP_VALUES:
        return StepName(name)
    return StepName.MENU if lang else StepName.LANGUAGE
