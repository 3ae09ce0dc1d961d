"""Apply: applicant data, each required scan with a live checklist, review, submit.

The draft lives in the conversation state (`data["draft"]`), which is saved in the
same transaction as every answer: nothing the applicant confirmed is lost, and
`cancel` keeps the draft so "Apply" can continue it later.
"""

from __future__ import annotations

from typing import Any

from conversations import scan_pages
from conversations.flows.common import go_menu, nav, profession_choices, region_choices
from conversations.turn import REPROMPT, STAY, UNHANDLED, Turn, goto_step, step
from conversations.types import Choice, InboundEvent, OutMessage, SubmitApplication
from licensing.catalog import CatalogEntry, Requirement
from licensing.nik import NikError, mask_nik, parse_nik
from licensing.phone import PhoneError, normalize_phone

NAME_MIN, NAME_MAX = 3, 100
PLACE_MIN, PLACE_MAX = 3, 200
STR_MIN, STR_MAX = 6, 40


def _draft(turn: Turn) -> dict[str, Any]:
    draft: dict[str, Any] = turn.data.setdefault("draft", {})
    return draft


def _entry(turn: Turn) -> CatalogEntry:
    d = _draft(turn)
    return turn.ctx.catalog.get(d["region"], d["profession"])


def begin_for(turn: Turn, region: str, profession: str) -> None:
    """Start (or continue) a draft for one service, from a menu or a deep link."""
    d = _draft(turn)
    if d.get("region") != region or d.get("profession") != profession:
        turn.data["draft"] = {"region": region, "profession": profession,
                              "started_at": turn.ctx.now.isoformat()}
    goto_step(turn, "apply.intro", history=["menu.main"])


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


def missing_uploads(turn: Turn) -> list[Requirement]:
    d = _draft(turn)
    scans = d.get("scans", {})
    wanted = applicable_uploads(_entry(turn), d.get("conditions", {}))
    return [r for r in wanted if r.code not in scans]


@step("apply.start")
class ApplyStart:
    """Continue an unfinished draft, or pick a region and profession."""

    @staticmethod
    def prompt(turn: Turn) -> None:
        d = turn.data.get("draft") or {}
        entry = turn.ctx.catalog.find(d.get("region", ""), d.get("profession", ""))
        if entry is None:
            turn.data.pop("draft", None)
            turn.ask("apply.choose_region", [*region_choices(turn), *nav(turn)])
            return
        choices = [
            turn.choice("a:continue", "apply.continue_draft"),
            turn.choice("a:restart", "apply.restart_draft"),
            *nav(turn),
        ]
        turn.ask("apply.draft_exists", choices, entry=entry)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        cid = event.choice_id if event.kind == "choice" else None
        if cid == "a:continue":
            return _resume_target(turn)
        if cid == "a:restart":
            turn.data.pop("draft", None)
            return REPROMPT
        if cid and cid.startswith("r:"):
            # started_at: the "scans still missing N days later" reminder counts from it.
            turn.data["draft"] = {"region": cid[2:], "started_at": turn.ctx.now.isoformat()}
            return "apply.profession"
        return UNHANDLED


def _resume_target(turn: Turn) -> str:
    d = _draft(turn)
    for key, name in (("full_name", "apply.full_name"), ("nik", "apply.nik"),
                      ("phone", "apply.phone"), ("place", "apply.place"),
                      ("str_number", "apply.str_number")):
        if not d.get(key):
            return name
    if "conditions" not in d and conditions_of(_entry(turn)):
        return "apply.conditions"
    return "apply.scans" if missing_uploads(turn) else "apply.review"


@step("apply.profession")
class ApplyProfession:
    @staticmethod
    def prompt(turn: Turn) -> None:
        region = turn.ctx.catalog.region(_draft(turn)["region"])
        choices = profession_choices(turn, region.slug)
        turn.ask("apply.choose_profession", [*choices, *nav(turn)], region=region.name)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        if event.kind == "choice" and event.choice_id and event.choice_id.startswith("p:"):
            _draft(turn)["profession"] = event.choice_id[2:]
            return "apply.intro"
        return UNHANDLED


@step("apply.intro")
class ApplyIntro:
    @staticmethod
    def prompt(turn: Turn) -> None:
        entry = _entry(turn)
        choices = [turn.choice("a:begin", "apply.begin"), *nav(turn)]
        turn.ask("apply.intro", choices, entry=entry)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        if event.kind == "choice" and event.choice_id == "a:begin":
            return _resume_target(turn)
        return UNHANDLED


def _text_answer(event: InboundEvent) -> str | None:
    if event.kind != "text":
        return None
    return " ".join(event.text.split())


@step("apply.full_name")
class FullName:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("apply.ask_full_name", nav(turn), current=_draft(turn).get("full_name"))

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        text = _text_answer(event)
        if text is None:
            return UNHANDLED
        letters = sum(ch.isalpha() for ch in text)
        allowed = all(ch.isalpha() or ch in " .,'-" for ch in text)
        if not (NAME_MIN <= len(text) <= NAME_MAX) or not allowed or letters < NAME_MIN:
            turn.say("apply.bad_full_name", min=NAME_MIN, max=NAME_MAX)
            return STAY
        _draft(turn)["full_name"] = text
        return _resume_target(turn)


@step("apply.nik")
class Nik:
    @staticmethod
    def prompt(turn: Turn) -> None:
        current = _draft(turn).get("nik")
        turn.ask("apply.ask_nik", nav(turn), current=mask_nik(current) if current else None)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        text = _text_answer(event)
        if text is None:
            return UNHANDLED
        try:
            info = parse_nik(text, today=turn.ctx.now.date())
        except NikError as exc:
            turn.say(f"apply.bad_nik_{exc.code}")
            return STAY
        _draft(turn)["nik"] = info.nik
        return _resume_target(turn)


@step("apply.phone")
class Phone:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("apply.ask_phone", nav(turn), current=_draft(turn).get("phone"))

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        text = _text_answer(event)
        if text is None:
            return UNHANDLED
        try:
            phone = normalize_phone(text)
        except PhoneError:
            turn.say("apply.bad_phone")
            return STAY
        _draft(turn)["phone"] = phone
        return _resume_target(turn)


@step("apply.place")
class Place:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("apply.ask_place", nav(turn), current=_draft(turn).get("place"))

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        text = _text_answer(event)
        if text is None:
            return UNHANDLED
        if not (PLACE_MIN <= len(text) <= PLACE_MAX) or sum(c.isalpha() for c in text) < 3:
            turn.say("apply.bad_place", min=PLACE_MIN, max=PLACE_MAX)
            return STAY
        _draft(turn)["place"] = text
        return _resume_target(turn)


@step("apply.str_number")
class StrNumber:
    """The STR (registration certificate) number, printed on the permit.

    STR numbers have changed format over the years (digits only, or with letters,
    dots and slashes), so only the shape is checked: the office checks it against the
    STR scan and the national registry.
    """

    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("apply.ask_str_number", nav(turn), current=_draft(turn).get("str_number"))

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        text = _text_answer(event)
        if text is None:
            return UNHANDLED
        text = text.upper()
        allowed = all(ch.isalnum() or ch in " ./-" for ch in text)
        if not (STR_MIN <= len(text) <= STR_MAX) or not allowed or sum(
                ch.isdigit() for ch in text) < 4:
            turn.say("apply.bad_str_number", min=STR_MIN, max=STR_MAX)
            return STAY
        _draft(turn)["str_number"] = text
        return _resume_target(turn)


@step("apply.conditions")
class Conditions:
    """Ask, one at a time, whether each conditional requirement applies."""

    @staticmethod
    def _pending(turn: Turn) -> Requirement | None:
        answered = _draft(turn).get("conditions_partial", {})
        for r in conditions_of(_entry(turn)):
            assert r.condition is not None
            if r.condition not in answered:
                return r
        return None

    @staticmethod
    def prompt(turn: Turn) -> None:
        req = Conditions._pending(turn)
        if req is None:  # reached again by `back`: ask the questions afresh
            _draft(turn)["conditions_partial"] = {}
            req = Conditions._pending(turn)
            assert req is not None
        choices = [turn.choice("c:yes", "common.yes"), turn.choice("c:no", "common.no"),
                   *nav(turn)]
        turn.ask("apply.ask_condition", choices, condition=req.condition, requirement=req)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        req = Conditions._pending(turn)
        if req is None or event.kind != "choice" or event.choice_id not in {"c:yes", "c:no"}:
            return UNHANDLED
        assert req.condition is not None
        d = _draft(turn)
        d.setdefault("conditions_partial", {})[req.condition] = event.choice_id == "c:yes"
        if Conditions._pending(turn) is not None:
            return REPROMPT
        d["conditions"] = d.pop("conditions_partial")
        # A "no" may make an uploaded scan unnecessary: drop it from the draft.
        wanted = {r.code for r in applicable_uploads(_entry(turn), d["conditions"])}
        d["scans"] = {k: v for k, v in d.get("scans", {}).items() if k in wanted}
        return "apply.scans"


def _target(turn: Turn) -> Requirement | None:
    d = _draft(turn)
    entry = _entry(turn)
    code = d.get("target")
    applicable = {r.code for r in applicable_uploads(entry, d.get("conditions", {}))}
    if code in applicable:
        return entry.requirement(code)
    missing = missing_uploads(turn)
    return missing[0] if missing else None


def checklist(turn: Turn) -> list[dict[str, Any]]:
    d = _draft(turn)
    entry = _entry(turn)
    scans = d.get("scans", {})
    conditions = d.get("conditions", {})
    rows = []
    for r in entry.requirements:
        if r.condition and not conditions.get(r.condition, False):
            continue
        rows.append({"req": r, "done": r.code in scans, "upload": r.kind == "upload"})
    return rows


@step("apply.scans")
class Scans:
    @staticmethod
    def prompt(turn: Turn) -> None:
        d = _draft(turn)
        target = _target(turn)
        choices: list[Choice] = []
        if not missing_uploads(turn):
            choices.append(turn.choice("s:review", "apply.go_review"))
        choices.extend(scan_pages.choices(turn, d, _entry(turn)))  # pre-check: pages
        if d.get("scans"):
            choices.append(turn.choice("s:replace", "apply.replace_scan"))
            choices.append(turn.choice("s:remove", "apply.remove_scan"))
        turn.ask(
            "apply.checklist",
            [*choices, *nav(turn)],
            rows=checklist(turn),
            target=target,
            replacing=target is not None and target.code in d.get("scans", {}),
            max_mb=turn.ctx.max_upload_bytes // (1024 * 1024),
        )

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        d = _draft(turn)
        if event.kind == "file" and event.file is not None:
            target = _target(turn)
            if target is None:
                turn.say("apply.all_scans_done")
                return REPROMPT
            if event.file.kind not in {k.value for k in target.accepts}:
                turn.say("apply.kind_not_accepted", requirement=target,
                         kinds=[k.value.upper() for k in target.accepts])
                return STAY
            d.pop("target", None)
            turn.say("apply.scan_received", requirement=target)
            scan_pages.record(turn, d, _entry(turn), target, event.file)  # pre-check hook
            return "apply.review" if not missing_uploads(turn) else REPROMPT
        paged = scan_pages.handle(turn, d, _entry(turn), event)  # pre-check: pages
        if paged is not None:
            return paged
        if event.kind == "choice":
            if event.choice_id == "s:review" and not missing_uploads(turn):
                return "apply.review"
            if event.choice_id == "s:replace" and d.get("scans"):
                d["pick_mode"] = "replace"
                return "apply.pick_scan"
            if event.choice_id == "s:remove" and d.get("scans"):
                d["pick_mode"] = "remove"
                return "apply.pick_scan"
        return UNHANDLED


@step("apply.pick_scan")
class PickScan:
    @staticmethod
    def prompt(turn: Turn) -> None:
        d = _draft(turn)
        entry = _entry(turn)
        choices = [
            Choice(f"x:{code}", _short(entry.requirement(code).title))
            for code in d.get("scans", {})
        ]
        turn.ask(f"apply.pick_{d.get('pick_mode', 'replace')}", [*choices, *nav(turn)])

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        d = _draft(turn)
        if event.kind != "choice" or not event.choice_id or not event.choice_id.startswith("x:"):
            return UNHANDLED
        code = event.choice_id[2:]
        if code not in d.get("scans", {}):
            return UNHANDLED
        if d.get("pick_mode") == "remove":
            del d["scans"][code]
            turn.say("apply.scan_removed", requirement=_entry(turn).requirement(code))
        else:
            d["target"] = code
        return "apply.scans"


EDITABLE = {"e:full_name": "apply.full_name", "e:nik": "apply.nik",
            "e:phone": "apply.phone", "e:place": "apply.place",
            "e:str_number": "apply.str_number"}


@step("apply.edit_field")
class EditField:
    @staticmethod
    def prompt(turn: Turn) -> None:
        choices = [turn.choice(cid, f"apply.field_{cid[2:]}") for cid in EDITABLE]
        if conditions_of(_entry(turn)):
            choices.append(turn.choice("e:conditions", "apply.field_conditions"))
        turn.ask("apply.which_field", [*choices, *nav(turn)])

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        if event.kind == "choice" and event.choice_id in EDITABLE:
            return EDITABLE[event.choice_id]
        if event.kind == "choice" and event.choice_id == "e:conditions":
            _draft(turn)["conditions_partial"] = {}
            return "apply.conditions"
        return UNHANDLED


def _short(title: str, limit: int = 60) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


@step("apply.review")
class Review:
    @staticmethod
    def prompt(turn: Turn) -> None:
        d = _draft(turn)
        choices = [
            turn.choice("v:submit", "apply.submit"),
            turn.choice("v:scans", "apply.edit_scans"),
            turn.choice("v:data", "apply.edit_data"),
            turn.choice("nav:menu", "common.main_menu"),
        ]
        turn.ask("apply.review", choices, entry=_entry(turn), draft=d,
                 nik_masked=mask_nik(d["nik"]), rows=checklist(turn))

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        if event.kind != "choice":
            return UNHANDLED
        if event.choice_id == "v:scans":
            return "apply.scans"
        if event.choice_id == "v:data":
            return "apply.edit_field"
        if event.choice_id == "v:submit":
            if missing_uploads(turn):
                turn.say("apply.still_missing")
                return "apply.scans"
            _submit(turn)
            return STAY
        return UNHANDLED


def _submit(turn: Turn) -> None:
    d = _draft(turn)
    entry = _entry(turn)
    reg_no = f"{entry.region.code}-{turn.ctx.now:%y%m}-{turn.ctx.new_code()}"
    turn.effect(SubmitApplication(
        reg_no=reg_no,
        region=entry.region.slug,
        profession=entry.profession.slug,
        full_name=d["full_name"],
        nik=d["nik"],
        phone=d["phone"],
        practice_place=d["place"],
        str_number=d.get("str_number"),
        lang=turn.t.lang,
        scans=dict(d.get("scans", {})),
        conditions=dict(d.get("conditions", {})),
    ))
    turn.data.pop("draft", None)
    turn.say("apply.submitted", entry=entry, reg_no=reg_no)
    turn.send(OutMessage(kind="image", text=turn.t("apply.qr_caption", reg_no=reg_no), qr=reg_no))
    go_menu(turn)


