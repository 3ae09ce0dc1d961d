"""Photos of one requirement as pages, and the pre-check request: apply.py's upload hook.

With the pre-check on (`Context.precheck`), a photo (JPEG/PNG) for a requirement
whose standard names a document kind becomes a page of that requirement:
`draft.pages[code]` lists the originals in the order sent and `draft.scans[code]`
stays the first one (what the office opens as "the original" when nothing else is
known). "Add a page" appends the next photo, "start over" empties the requirement.
Each photo asks for the whole requirement to be pre-checked again (`RequestPrecheck`):
the chat answers at once, the result follows as a later message.
"""

from __future__ import annotations

from conversations.draft import Draft
from conversations.turn import REPROMPT, Turn
from conversations.types import Choice, InboundEvent, RequestPrecheck, UploadedFile
from conversations.vocab import Kind, Next
from licensing.catalog import CatalogEntry, Requirement

PHOTO_KINDS = {"jpeg", "png"}
MAX_PAGES = 10


def _paged(turn: Turn, target: Requirement, file: UploadedFile) -> bool:
    return turn.ctx.precheck and target.document is not None and file.kind in PHOTO_KINDS


def record(turn: Turn, draft: Draft, entry: CatalogEntry, target: Requirement,
           file: UploadedFile) -> None:
    """Store the upload for `target` (a new page, or the whole scan) and ask for the
    pre-check. Replaces apply.py's `scans[code] = sha`."""
    adding, draft.adding = draft.adding, None
    if not _paged(turn, target, file):
        draft.scans[target.code] = file.sha256
        draft.pages.pop(target.code, None)
        return
    current = draft.pages.get(target.code, []) if adding == target.code else []
    current = [*current, file.sha256][-MAX_PAGES:]
    draft.pages[target.code] = current
    draft.scans[target.code] = current[0]
    draft.last_paged = target.code
    assert target.document is not None
    turn.effect(RequestPrecheck(
        requirement_code=target.code, document=target.document.value, sources=tuple(current),
        expected={"nik": draft.nik, "full_name": draft.full_name,
                  "str_number": draft.str_number, "profession": entry.profession.name},
        lang=turn.t.lang, title=target.title, max_age_days=target.max_age_days))
    turn.say("precheck.queued", requirement=target, pages=len(current))


def choices(turn: Turn, draft: Draft, entry: CatalogEntry) -> list[Choice]:
    """"Add a page" and "start over" for the requirement last photographed."""
    code = draft.last_paged
    pages = draft.pages.get(code) if code else None
    if not code or not pages:
        return []
    req = entry.requirement(code)
    return [turn.choice(Kind.SCANS_MORE, "precheck.add_page", requirement=req,
                        pages=len(pages)),
            turn.choice(Kind.SCANS_REDO, "precheck.start_over", requirement=req)]


def handle(turn: Turn, draft: Draft, entry: CatalogEntry, event: InboundEvent) -> Next | None:
    """The next step for "add a page" / "start over", or None for any other event."""
    chosen = event.chosen
    code = draft.last_paged
    if chosen is None or chosen.kind not in (Kind.SCANS_MORE, Kind.SCANS_REDO) or not code:
        return None
    if not draft.pages.get(code):
        return None
    req = entry.requirement(code)
    draft.target = code
    if chosen.kind is Kind.SCANS_MORE:
        draft.adding = code
        turn.say("precheck.send_next_page", requirement=req, page=len(draft.pages[code]) + 1)
    else:
        draft.pages.pop(code, None)
        draft.scans.pop(code, None)
        draft.adding = None
        draft.last_paged = None
        turn.say("precheck.started_over", requirement=req)
    return REPROMPT
