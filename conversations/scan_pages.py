"""Photos of one requirement as pages, and the pre-check request: apply.py's upload hook.

With the pre-check on (`Context.precheck`), a photo (JPEG/PNG) for a requirement
whose standard names a document kind becomes a page of that requirement:
`draft["pages"][code]` lists the originals in the order sent and `draft["scans"][code]`
stays the first one (what the office opens as "the original" when nothing else is
known). "Add a page" appends the next photo, "start over" empties the requirement.
Each photo asks for the whole requirement to be pre-checked again (`RequestPrecheck`):
the chat answers at once, the result follows as a later message.
"""

from __future__ import annotations

from typing import Any

from conversations.turn import REPROMPT, Turn
from conversations.types import Choice, InboundEvent, RequestPrecheck, UploadedFile
from licensing.catalog import CatalogEntry, Requirement

PHOTO_KINDS = {"jpeg", "png"}
MORE, REDO = "s:more", "s:redo"  # choice ids
MAX_PAGES = 10


def _paged(turn: Turn, target: Requirement, file: UploadedFile) -> bool:
    return turn.ctx.precheck and target.document is not None and file.kind in PHOTO_KINDS


def record(turn: Turn, draft: dict[str, Any], entry: CatalogEntry, target: Requirement,
           file: UploadedFile) -> None:
    """Store the upload for `target` (a new page, or the whole scan) and ask for the
    pre-check. Replaces apply.py's `scans[code] = sha`."""
    scans = draft.setdefault("scans", {})
    pages: dict[str, list[str]] = draft.setdefault("pages", {})
    if not _paged(turn, target, file):
        scans[target.code] = file.sha256
        pages.pop(target.code, None)
        draft.pop("adding", None)
        return
    current = pages.get(target.code, []) if draft.pop("adding", None) == target.code else []
    current = [*current, file.sha256][-MAX_PAGES:]
    pages[target.code] = current
    scans[target.code] = current[0]
    draft["last_paged"] = target.code
    assert target.document is not None
    turn.effect(RequestPrecheck(
        requirement_code=target.code, document=target.document.value, sources=tuple(current),
        expected={"nik": draft.get("nik"), "full_name": draft.get("full_name"),
                  "str_number": draft.get("str_number"), "profession": entry.profession.name},
        lang=turn.t.lang, title=target.title, max_age_days=target.max_age_days))
    turn.say("precheck.queued", requirement=target, pages=len(current))


def choices(turn: Turn, draft: dict[str, Any], entry: CatalogEntry) -> list[Choice]:
    """"Add a page" and "start over" for the requirement last photographed."""
    code = draft.get("last_paged")
    pages = draft.get("pages", {}).get(code) if code else None
    if not code or not pages:
        return []
    req = entry.requirement(code)
    return [turn.choice(MORE, "precheck.add_page", requirement=req, pages=len(pages)),
            turn.choice(REDO, "precheck.start_over", requirement=req)]


def handle(turn: Turn, draft: dict[str, Any], entry: CatalogEntry,
           event: InboundEvent) -> str | None:
    """The next step for MORE / REDO, or None when the event is not one of them."""
    code = draft.get("last_paged")
    if event.kind != "choice" or event.choice_id not in (MORE, REDO) or not code:
        return None
    if not draft.get("pages", {}).get(code):
        return None
    req = entry.requirement(code)
    draft["target"] = code
    if event.choice_id == MORE:
        draft["adding"] = code
        turn.say("precheck.send_next_page", requirement=req,
                 page=len(draft["pages"][code]) + 1)
    else:
        draft["pages"].pop(code, None)
        draft.get("scans", {}).pop(code, None)
        draft.pop("adding", None)
        draft.pop("last_paged", None)
        turn.say("precheck.started_over", requirement=req)
    return REPROMPT
