"""Apply: applicant data, each required scan with a short progress line, review, submit.

The draft (`conversations.draft.Draft`, stored in the conversation state) is saved in
the same transaction as every answer: nothing the applicant confirmed is lost, and
`cancel` keeps the draft so "Apply" or the status can continue it later.
"""

from __future__ import annotations

from typing import Any

from conversations import scan_pages
from conversations.draft import Draft, PickMode
from conversations.flows.common import go_menu, nav, profession_choices, region_choices
from conversations.turn import REPROMPT, STAY, UNHANDLED, Turn, goto_step, step
from conversations.types import Choice, InboundEvent, OutMessage, SubmitApplication
from conversations.vocab import ChoiceId, Kind, Next, StepName
from licensing.catalog import CatalogEntry, Requirement
from licensing.nik import NikError, mask_nik, parse_nik
from licensing.phone import PhoneError, normalize_phone

NAME_MIN, NAME_MAX = 3, 100
PLACE_MIN, PLACE_MAX = 3, 200
STR_MIN, STR_MAX = 6, 40

# The applicant's data, in the order asked: draft field -> its step.
FIELDS: tuple[tuple[str, StepName], ...] = (
    ("full_name", StepName.APPLY_FULL_NAME), ("nik", StepName.APPLY_NIK),
    ("phone", StepName.APPLY_PHONE), ("place", StepName.APPLY_PLACE),
    ("str_number", StepName.APPLY_STR_NUMBER),
)
EDITABLE = dict(FIELDS)


def _draft(turn: Turn) -> Draft:
    draft = turn.draft
    assert draft is not None, "an apply step without a draft"
    return draft


def _entry(turn: Turn) -> CatalogEntry:
    d = _draft(turn)
    assert d.profession is not None
    return turn.ctx.catalog.get(d.region, d.profession)


def _started(turn: Turn, region: str, profession: str | None = None) -> Draft:
    # started_at: the "scans still missing N days later" reminder counts from it.
    draft = Draft(region=region, profession=profession, started_at=turn.ctx.now.isoformat())
    turn.draft = draft
    return draft


def begin_for(turn: Turn, region: str, profession: str) -> None:
    """Start (or continue) a draft for one service, from a menu or a deep link."""
    d = turn.draft
    if d is None or d.region != region or d.profession != profession:
        _started(turn, region, profession)
    goto_step(turn, StepName.APPLY_INTRO, history=[StepName.MENU])


def applicable_uploads(entry: CatalogEntry, conditions: dict[str, bool]) -> list[Requirement]:
    return [
        r for r in entry.uploads if r.condition is None or conditions.get(r.condition, False)
    ]


def conditions_of(entry: CatalogEntry) -> list[Requirement]:
    """One requirement per distinct condition, to ask whether it applies."""
    seen: dict[str, Requirement] = {}
    for r in entry.requirements:
        if r.condition and r.condition not in seen:
            seen[r.condition] = r
    return list(seen.values())


def _wanted(turn: Turn) -> list[Requirement]:
    return applicable_uploads(_entry(turn), _draft(turn).conditions or {})


def missing_uploads(turn: Turn) -> list[Requirement]:
    scans = _draft(turn).scans
    return [r for r in _wanted(turn) if r.code not in scans]


def short_title(title: str, limit: int = 60) -> str:
    """A long published title cut at a word, for progress lines and buttons."""
    if len(title) <= limit:
        return title
    cut = title[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:-(")
    return cut + "…"


def draft_summary(turn: Turn) -> dict[str, Any] | None:
    """What the status says about an unfinished draft, or None without one."""
    d = turn.draft
    if d is None or d.profession is None:
        return None
    entry = turn.ctx.catalog.find(d.region, d.profession)
    if entry is None:
        return None
    wanted = applicable_uploads(entry, d.conditions or {})
    return {
        "entry": entry,
        "missing_fields": [turn.t(f"apply.field_{name}") for name, _ in FIELDS
                           if not getattr(d, name)],
        "conditions_open": d.conditions is None and bool(conditions_of(entry)),
        "done": sum(1 for r in wanted if r.code in d.scans),
        "total": len(wanted),
        "missing_scans": [short_title(r.title) for r in wanted if r.code not in d.scans],
    }


@step(StepName.APPLY_START)
class ApplyStart:
    """Continue an unfinished draft, or pick a region and profession."""

    @staticmethod
    def prompt(turn: Turn) -> None:
        d = turn.draft
        entry = turn.ctx.catalog.find(d.region, d.profession or "") if d else None
        if entry is None:
            turn.draft = None
            turn.ask("apply.choose_region", [*region_choices(turn), *nav(turn)])
            return
        choices = [
            turn.choice(Kind.DRAFT_CONTINUE, "apply.continue_draft"),
            turn.choice(Kind.DRAFT_RESTART, "apply.restart_draft"),
            *nav(turn),
        ]
        turn.ask("apply.draft_exists", choices, entry=entry)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is None:
            return UNHANDLED
        if chosen.kind is Kind.DRAFT_CONTINUE and turn.draft is not None:
            return resume_target(turn)
        if chosen.kind is Kind.DRAFT_RESTART:
            turn.draft = None
            return REPROMPT
        if chosen.kind is Kind.REGION:
            _started(turn, chosen.arg)
            return StepName.APPLY_PROFESSION
        return UNHANDLED


def resume_target(turn: Turn) -> StepName:
    """The first step with something still missing."""
    d = _draft(turn)
    if d.profession is None:
        return StepName.APPLY_PROFESSION
    for name, target in FIELDS:
        if not getattr(d, name):
            return target
    if d.conditions is None and conditions_of(_entry(turn)):
        return StepName.APPLY_CONDITIONS
    return StepName.APPLY_SCANS if missing_uploads(turn) else StepName.APPLY_REVIEW


@step(StepName.APPLY_PROFESSION)
class ApplyProfession:
    @staticmethod
    def prompt(turn: Turn) -> None:
        region = turn.ctx.catalog.region(_draft(turn).region)
        choices = profession_choices(turn, region.slug)
        turn.ask("apply.choose_profession", [*choices, *nav(turn)], region=region.name)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is not None and chosen.kind is Kind.PROFESSION:
            _draft(turn).profession = chosen.arg
            return StepName.APPLY_INTRO
        return UNHANDLED


@step(StepName.APPLY_INTRO)
class ApplyIntro:
    @staticmethod
    def prompt(turn: Turn) -> None:
        entry = _entry(turn)
        choices = [turn.choice(Kind.APPLY_BEGIN, "apply.begin"), *nav(turn)]
        turn.ask("apply.intro", choices, entry=entry)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is not None and chosen.kind is Kind.APPLY_BEGIN:
            return resume_target(turn)
        return UNHANDLED


def _text_answer(event: InboundEvent) -> str | None:
    if event.kind != "text":
        return None
    return " ".join(event.text.split())


@step(StepName.APPLY_FULL_NAME)
class FullName:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("apply.ask_full_name", nav(turn), current=_draft(turn).full_name)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        text = _text_answer(event)
        if text is None:
            return UNHANDLED
        letters = sum(ch.isalpha() for ch in text)
        allowed = all(ch.isalpha() or ch in " .,'-" for ch in text)
        if not (NAME_MIN <= len(text) <= NAME_MAX) or not allowed or letters < NAME_MIN:
            turn.say("apply.bad_full_name", min=NAME_MIN, max=NAME_MAX)
            return STAY
        _draft(turn).full_name = text
        return resume_target(turn)


@step(StepName.APPLY_NIK)
class Nik:
    @staticmethod
    def prompt(turn: Turn) -> None:
        current = _draft(turn).nik
        turn.ask("apply.ask_nik", nav(turn), current=mask_nik(current) if current else None)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        text = _text_answer(event)
        if text is None:
            return UNHANDLED
        try:
            info = parse_nik(text, today=turn.ctx.now.date())
        except NikError as exc:
            turn.say(f"apply.bad_nik_{exc.code}")
            return STAY
        _draft(turn).nik = info.nik
        return resume_target(turn)


@step(StepName.APPLY_PHONE)
class Phone:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("apply.ask_phone", nav(turn), current=_draft(turn).phone)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        text = _text_answer(event)
        if text is None:
            return UNHANDLED
        try:
            phone = normalize_phone(text)
        except PhoneError:
            turn.say("apply.bad_phone")
            return STAY
        _draft(turn).phone = phone
        return resume_target(turn)


@step(StepName.APPLY_PLACE)
class Place:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("apply.ask_place", nav(turn), current=_draft(turn).place)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        text = _text_answer(event)
        if text is None:
            return UNHANDLED
        if not (PLACE_MIN <= len(text) <= PLACE_MAX) or sum(c.isalpha() for c in text) < 3:
            turn.say("apply.bad_place", min=PLACE_MIN, max=PLACE_MAX)
            return STAY
        _draft(turn).place = text
        return resume_target(turn)


@step(StepName.APPLY_STR_NUMBER)
class StrNumber:
    """The STR (registration certificate) number, printed on the permit.

    STR numbers have changed format over the years (digits only, or with letters,
    dots and slashes), so only the shape is checked: the office checks it against the
    STR scan and the national registry.
    """

    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("apply.ask_str_number", nav(turn), current=_draft(turn).str_number)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        text = _text_answer(event)
        if text is None:
            return UNHANDLED
        text = text.upper()
        allowed = all(ch.isalnum() or ch in " ./-" for ch in text)
        if not (STR_MIN <= len(text) <= STR_MAX) or not allowed or sum(
                ch.isdigit() for ch in text) < 4:
            turn.say("apply.bad_str_number", min=STR_MIN, max=STR_MAX)
            return STAY
        _draft(turn).str_number = text
        return resume_target(turn)


@step(StepName.APPLY_CONDITIONS)
class Conditions:
    """Ask, one at a time, whether each conditional requirement applies."""

    @staticmethod
    def _pending(turn: Turn) -> Requirement | None:
        answered = _draft(turn).conditions_partial or {}
        for r in conditions_of(_entry(turn)):
            assert r.condition is not None
            if r.condition not in answered:
                return r
        return None

    @staticmethod
    def prompt(turn: Turn) -> None:
        req = Conditions._pending(turn)
        if req is None:  # reached again by `back`: ask the questions afresh
            _draft(turn).conditions_partial = {}
            req = Conditions._pending(turn)
            assert req is not None
        choices = [turn.choice(Kind.YES, "common.yes"), turn.choice(Kind.NO, "common.no"),
                   *nav(turn)]
        turn.ask("apply.ask_condition", choices, condition=req.condition, requirement=req)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        req = Conditions._pending(turn)
        chosen = event.chosen
        if req is None or chosen is None or chosen.kind not in (Kind.YES, Kind.NO):
            return UNHANDLED
        assert req.condition is not None
        d = _draft(turn)
        d.conditions_partial = {**(d.conditions_partial or {}),
                                req.condition: chosen.kind is Kind.YES}
        if Conditions._pending(turn) is not None:
            return REPROMPT
        d.conditions, d.conditions_partial = d.conditions_partial, None
        # A "no" may make an uploaded scan unnecessary: drop it from the draft.
        wanted = {r.code for r in applicable_uploads(_entry(turn), d.conditions)}
        d.scans = {k: v for k, v in d.scans.items() if k in wanted}
        return StepName.APPLY_SCANS


def _target(turn: Turn) -> Requirement | None:
    d = _draft(turn)
    if d.target in {r.code for r in _wanted(turn)}:
        return _entry(turn).requirement(d.target or "")
    missing = missing_uploads(turn)
    return missing[0] if missing else None


def checklist(turn: Turn) -> list[dict[str, Any]]:
    d = _draft(turn)
    conditions = d.conditions or {}
    rows = []
    for r in _entry(turn).requirements:
        if r.condition and not conditions.get(r.condition, False):
            continue
        rows.append({"req": r, "done": r.code in d.scans, "upload": r.kind == "upload"})
    return rows


def _scan_choices(turn: Turn, *, short: bool) -> list[Choice]:
    d = _draft(turn)
    choices: list[Choice] = []
    if not missing_uploads(turn):
        choices.append(turn.choice(Kind.SCANS_REVIEW, "apply.go_review"))
    choices.extend(scan_pages.choices(turn, d, _entry(turn)))  # pre-check: pages
    if short:
        choices.append(turn.choice(Kind.SCANS_LIST, "apply.show_list"))
    if d.scans:
        choices.append(turn.choice(Kind.SCANS_REPLACE, "apply.replace_scan"))
        choices.append(turn.choice(Kind.SCANS_REMOVE, "apply.remove_scan"))
    return [*choices, *nav(turn)]


def _max_mb(turn: Turn) -> int:
    return turn.ctx.max_upload_bytes // (1024 * 1024)


@step(StepName.APPLY_SCANS)
class Scans:
    @staticmethod
    def prompt(turn: Turn) -> None:
        """The whole checklist: on arrival, on request, and after a refused file."""
        target = _target(turn)
        turn.ask(
            "apply.checklist",
            _scan_choices(turn, short=False),
            rows=checklist(turn),
            target=target,
            replacing=target is not None and target.code in _draft(turn).scans,
            max_mb=_max_mb(turn),
        )

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        d = _draft(turn)
        if event.kind == "file" and event.file is not None:
            target = _target(turn)
            if target is None:
                turn.say("apply.all_scans_done")
                return REPROMPT
            if event.file.kind not in {k.value for k in target.accepts}:
                turn.say("apply.kind_not_accepted", requirement=target,
                         kinds=[k.value.upper() for k in target.accepts])
                return REPROMPT
            twin = next((code for code, sha in d.scans.items()
                         if sha == event.file.sha256 and code != target.code), None)
            if twin is not None:  # kept, but most likely the wrong file: say so
                turn.say("apply.duplicate_scan", requirement=target,
                         other=_entry(turn).requirement(twin))
            d.target = None
            scan_pages.record(turn, d, _entry(turn), target, event.file)  # pre-check hook
            turn.keep_file()
            if not missing_uploads(turn):
                turn.say("apply.scan_received", requirement=target)
                return StepName.APPLY_REVIEW
            _progress(turn, target)
            return STAY
        paged = scan_pages.handle(turn, d, _entry(turn), event)  # pre-check: pages
        if paged is not None:
            return paged
        chosen = event.chosen
        if chosen is None:
            return UNHANDLED
        if chosen.kind is Kind.SCANS_LIST:
            return REPROMPT
        if chosen.kind is Kind.SCANS_REVIEW and not missing_uploads(turn):
            return StepName.APPLY_REVIEW
        if chosen.kind in (Kind.SCANS_REPLACE, Kind.SCANS_REMOVE) and d.scans:
            d.pick_mode = PickMode.REPLACE if chosen.kind is Kind.SCANS_REPLACE else (
                PickMode.REMOVE)
            return StepName.APPLY_PICK_SCAN
        return UNHANDLED


def _progress(turn: Turn, received: Requirement) -> None:
    """One short line after an accepted scan instead of the whole checklist again."""
    wanted = _wanted(turn)
    d = _draft(turn)
    target = _target(turn)
    turn.ask("apply.scan_progress", _scan_choices(turn, short=True),
             requirement=received, short=short_title(received.title),
             done=sum(1 for r in wanted if r.code in d.scans), total=len(wanted),
             next=target, next_short=short_title(target.title) if target else None,
             max_mb=_max_mb(turn))


@step(StepName.APPLY_PICK_SCAN)
class PickScan:
    @staticmethod
    def prompt(turn: Turn) -> None:
        d = _draft(turn)
        entry = _entry(turn)
        choices = [
            turn.choice(ChoiceId(Kind.PICK_SCAN, (code,)), "apply.scan_label",
                        title=short_title(entry.requirement(code).title))
            for code in d.scans
        ]
        turn.ask(f"apply.pick_{(d.pick_mode or PickMode.REPLACE).value}",
                 [*choices, *nav(turn)])

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        d = _draft(turn)
        chosen = event.chosen
        if chosen is None or chosen.kind is not Kind.PICK_SCAN or chosen.arg not in d.scans:
            return UNHANDLED
        if d.pick_mode is PickMode.REMOVE:
            del d.scans[chosen.arg]
            turn.say("apply.scan_removed", requirement=_entry(turn).requirement(chosen.arg))
        else:
            d.target = chosen.arg
        return StepName.APPLY_SCANS


@step(StepName.APPLY_EDIT_FIELD)
class EditField:
    @staticmethod
    def prompt(turn: Turn) -> None:
        choices = [turn.choice(ChoiceId(Kind.EDIT_FIELD, (name,)), f"apply.field_{name}")
                   for name in EDITABLE]
        if conditions_of(_entry(turn)):
            choices.append(turn.choice(Kind.EDIT_CONDITIONS, "apply.field_conditions"))
        turn.ask("apply.which_field", [*choices, *nav(turn)])

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is not None and chosen.kind is Kind.EDIT_FIELD and chosen.arg in EDITABLE:
            return EDITABLE[chosen.arg]
        if chosen is not None and chosen.kind is Kind.EDIT_CONDITIONS:
            _draft(turn).conditions_partial = {}
            return StepName.APPLY_CONDITIONS
        return UNHANDLED


@step(StepName.APPLY_REVIEW)
class Review:
    @staticmethod
    def prompt(turn: Turn) -> None:
        d = _draft(turn)
        choices = [
            turn.choice(Kind.REVIEW_SUBMIT, "apply.submit"),
            turn.choice(Kind.REVIEW_SCANS, "apply.edit_scans"),
            turn.choice(Kind.REVIEW_DATA, "apply.edit_data"),
            turn.choice(Kind.NAV_MENU, "common.main_menu"),
        ]
        turn.ask("apply.review", choices, entry=_entry(turn), draft=d,
                 nik_masked=mask_nik(d.nik or ""), rows=checklist(turn))

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is None:
            return UNHANDLED
        if chosen.kind is Kind.REVIEW_SCANS:
            return StepName.APPLY_SCANS
        if chosen.kind is Kind.REVIEW_DATA:
            return StepName.APPLY_EDIT_FIELD
        if chosen.kind is Kind.REVIEW_SUBMIT:
            if missing_uploads(turn):
                turn.say("apply.still_missing")
                return StepName.APPLY_SCANS
            if resume_target(turn) is not StepName.APPLY_REVIEW:
                return resume_target(turn)
            _submit(turn)
            return STAY
        return UNHANDLED


def _submit(turn: Turn) -> None:
    d = _draft(turn)
    entry = _entry(turn)
    assert d.full_name and d.nik and d.phone and d.place
    reg_no = f"{entry.region.code}-{turn.ctx.now:%y%m}-{turn.ctx.new_code()}"
    turn.effect(SubmitApplication(
        reg_no=reg_no,
        region=entry.region.slug,
        profession=entry.profession.slug,
        full_name=d.full_name,
        nik=d.nik,
        phone=d.phone,
        practice_place=d.place,
        str_number=d.str_number,
        lang=turn.t.lang,
        scans=dict(d.scans),
        conditions=dict(d.conditions or {}),
    ))
    turn.draft = None
    turn.say("apply.submitted", entry=entry, reg_no=reg_no)
    turn.send(OutMessage(kind="image", text=turn.t("apply.qr_caption", reg_no=reg_no), qr=reg_no))
    go_menu(turn)
