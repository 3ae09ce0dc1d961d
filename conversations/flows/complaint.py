"""Complaints: intake at any time, with or without an application; replies to officers.

The published rules decide whether an entry is a complaint or a suggestion (see
licensing.complaints); the ticket number comes back at once.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from conversations.flows.common import go_menu, nav, profession_choices, region_choices
from conversations.turn import REPROMPT, STAY, UNHANDLED, Turn, global_choice, goto_step, step
from conversations.types import (
    Choice,
    ComplaintReply,
    ComplaintSettled,
    FileComplaint,
    InboundEvent,
)
from conversations.vocab import ChoiceId, Kind, Next, StepName, cid
from licensing.complaints import CATEGORIES, answer_within, classify

TEXT_MIN, TEXT_MAX = 10, 3000
MAX_ATTACHMENTS = 5


def _c(turn: Turn) -> dict[str, Any]:
    c: dict[str, Any] = turn.data.setdefault("complaint", {})
    return c


def begin(turn: Turn) -> None:
    turn.data["complaint"] = {}
    goto_step(turn, StepName.COMPLAINT_ABOUT, history=[StepName.MENU])


@step(StepName.COMPLAINT_ABOUT)
class About:
    @staticmethod
    def prompt(turn: Turn) -> None:
        apps = [Choice(cid(Kind.COMPLAINT_APPLICATION, a.reg_no),
                       turn.t("complaint.about_application", reg_no=a.reg_no))
                for a in turn.ctx.applications]
        choices = [*apps, turn.choice(Kind.COMPLAINT_SERVICE, "complaint.about_service"),
                   turn.choice(Kind.COMPLAINT_OTHER, "complaint.about_other"), *nav(turn)]
        turn.ask("complaint.ask_about", choices)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        c = _c(turn)
        if chosen is None:
            return UNHANDLED
        if chosen.kind is Kind.COMPLAINT_APPLICATION:
            app = next((a for a in turn.ctx.applications if a.reg_no == chosen.arg), None)
            if app is None:
                return UNHANDLED
            c.update(about="application", reg_no=app.reg_no, region=app.region,
                     profession=app.profession, received_on=app.submitted_at.date().isoformat())
            return StepName.COMPLAINT_CATEGORY
        if chosen.kind in (Kind.COMPLAINT_SERVICE, Kind.COMPLAINT_OTHER):
            c.update(about="service" if chosen.kind is Kind.COMPLAINT_SERVICE else "none",
                     reg_no=None)
            return StepName.COMPLAINT_REGION
        return UNHANDLED


@step(StepName.COMPLAINT_REGION)
class Region:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("complaint.ask_region", [*region_choices(turn), *nav(turn)])

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is not None and chosen.kind is Kind.REGION:
            c = _c(turn)
            c["region"] = chosen.arg
            if c.get("about") == "service":
                return StepName.COMPLAINT_PROFESSION
            return StepName.COMPLAINT_CATEGORY
        return UNHANDLED


@step(StepName.COMPLAINT_PROFESSION)
class Profession:
    @staticmethod
    def prompt(turn: Turn) -> None:
        region = turn.ctx.catalog.region(_c(turn)["region"])
        turn.ask("complaint.ask_profession",
                 [*profession_choices(turn, region.slug), *nav(turn)], region=region.name)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is not None and chosen.kind is Kind.PROFESSION:
            _c(turn)["profession"] = chosen.arg
            return StepName.COMPLAINT_CATEGORY
        return UNHANDLED


@step(StepName.COMPLAINT_CATEGORY)
class Category:
    @staticmethod
    def prompt(turn: Turn) -> None:
        choices = [turn.choice(ChoiceId(Kind.CATEGORY, (k,)), f"complaint.category_{k}")
                   for k in CATEGORIES]
        turn.ask("complaint.ask_category", [*choices, *nav(turn)])

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is not None and chosen.kind is Kind.CATEGORY and chosen.arg in CATEGORIES:
            _c(turn)["category"] = chosen.arg
            return StepName.COMPLAINT_TEXT
        return UNHANDLED


@step(StepName.COMPLAINT_TEXT)
class Text:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("complaint.ask_text", nav(turn), min=TEXT_MIN)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        if event.kind != "text":
            return UNHANDLED
        text = event.text.strip()
        if len(text) < TEXT_MIN or sum(ch.isalpha() for ch in text) < 5:
            turn.say("complaint.text_too_short", min=TEXT_MIN)
            return STAY
        _c(turn)["text"] = text[:TEXT_MAX]
        return StepName.COMPLAINT_ATTACHMENTS


@step(StepName.COMPLAINT_ATTACHMENTS)
class Attachments:
    @staticmethod
    def prompt(turn: Turn) -> None:
        n = len(_c(turn).get("attachments", []))
        turn.ask("complaint.ask_attachments", [turn.choice(Kind.ATTACHMENTS_DONE,
                                                          "complaint.no_more_files"),
                                              *nav(turn)], count=n, max=MAX_ATTACHMENTS)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        c = _c(turn)
        if event.kind == "file" and event.file is not None:
            files = c.setdefault("attachments", [])
            if len(files) >= MAX_ATTACHMENTS:
                turn.say("complaint.too_many_files", max=MAX_ATTACHMENTS)
                return STAY
            files.append(event.file.sha256)
            turn.keep_file()
            return REPROMPT
        chosen = event.chosen
        if chosen is not None and chosen.kind is Kind.ATTACHMENTS_DONE:
            return StepName.COMPLAINT_IDENTITY
        return UNHANDLED


def known_name(turn: Turn) -> str | None:
    """The name the office already has: from the application the complaint is about,
    else the latest application, else the draft."""
    reg_no = _c(turn).get("reg_no")
    apps = sorted(turn.ctx.applications, key=lambda a: a.reg_no != reg_no)
    for app in apps:
        if app.full_name:
            return app.full_name
    return turn.draft.full_name if turn.draft is not None else None


@step(StepName.COMPLAINT_IDENTITY)
class Identity:
    @staticmethod
    def prompt(turn: Turn) -> None:
        name = known_name(turn)
        known = [turn.choice(Kind.IDENTITY_KNOWN, "complaint.use_known_name", name=name)
                 ] if name else []
        choices = [*known,
                   turn.choice(Kind.IDENTITY_NAMED, "complaint.other_name" if name
                               else "complaint.give_identity"),
                   turn.choice(Kind.IDENTITY_ANONYMOUS, "complaint.stay_anonymous"),
                   *nav(turn)]
        turn.ask("complaint.ask_identity", choices)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is None:
            return UNHANDLED
        if chosen.kind is Kind.IDENTITY_ANONYMOUS:
            _c(turn).update(anonymous=True, name=None)
            return StepName.COMPLAINT_CONFIRM
        if chosen.kind is Kind.IDENTITY_KNOWN and known_name(turn):
            _c(turn).update(anonymous=False, name=known_name(turn))
            return StepName.COMPLAINT_CONFIRM
        if chosen.kind is Kind.IDENTITY_NAMED:
            _c(turn)["anonymous"] = False
            return StepName.COMPLAINT_NAME
        return UNHANDLED


@step(StepName.COMPLAINT_NAME)
class Name:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("complaint.ask_name", nav(turn))

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        if event.kind != "text":
            return UNHANDLED
        name = " ".join(event.text.split())
        if not 3 <= len(name) <= 100 or sum(ch.isalpha() for ch in name) < 3:
            turn.say("apply.bad_full_name", min=3, max=100)
            return STAY
        _c(turn)["name"] = name
        return StepName.COMPLAINT_CONFIRM


def _classification(turn: Turn) -> tuple[str, str | None]:
    c = _c(turn)
    entry = turn.ctx.catalog.entry_for_region(c["region"], c.get("profession"))
    tz = ZoneInfo(entry.region.timezone)
    received = c.get("received_on")
    from datetime import date

    result = classify(
        entry.complaints,
        filed_on=turn.ctx.now.astimezone(tz).date(),
        service_received_on=date.fromisoformat(received) if received else None,
        anonymous=bool(c.get("anonymous")),
        has_object=c.get("about") != "none",
    )
    return result.kind, result.reason


@step(StepName.COMPLAINT_CONFIRM)
class Confirm:
    @staticmethod
    def prompt(turn: Turn) -> None:
        c = _c(turn)
        kind, reason = _classification(turn)
        region = turn.ctx.catalog.region(c["region"])
        choices = [turn.choice(Kind.COMPLAINT_SEND, "complaint.send"), *nav(turn)]
        turn.ask("complaint.review", choices, c=c, region=region, kind=kind, reason=reason)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is None or chosen.kind is not Kind.COMPLAINT_SEND:
            return UNHANDLED
        c = _c(turn)
        entry = turn.ctx.catalog.entry_for_region(c["region"], c.get("profession"))
        kind, reason = _classification(turn)
        ticket = f"ADU-{entry.region.code}-{turn.ctx.now:%y%m}-{turn.ctx.new_code()}"
        within = answer_within(entry.complaints)
        tz = ZoneInfo(entry.region.timezone)
        today = turn.ctx.now.astimezone(tz).date()
        due = turn.ctx.calendar.due_date(today, within.days or 14, within.unit.value)
        turn.effect(FileComplaint(
            ticket_no=ticket, region=c["region"], profession=c.get("profession"),
            reg_no=c.get("reg_no"), about=c["about"], category=c["category"], text=c["text"],
            attachments=tuple(c.get("attachments", [])), anonymous=bool(c.get("anonymous")),
            name=c.get("name"), kind=kind, suggestion_reason=reason, lang=turn.t.lang,
            due_on=due,
        ))
        turn.data.pop("complaint", None)
        turn.say("complaint.filed", ticket=ticket, kind=kind, reason=reason, due=due)
        go_menu(turn)
        return STAY


# --- after an officer answers: the complainant replies, or says whether it is settled ---


@global_choice(Kind.COMPLAINT_ANSWER)
def reply_to_officer(turn: Turn, chosen: ChoiceId) -> None:
    turn.data["complaint_reply"] = chosen.arg
    goto_step(turn, StepName.COMPLAINT_REPLY, history=[StepName.MENU])


@global_choice(Kind.COMPLAINT_SETTLED)
def settled(turn: Turn, chosen: ChoiceId) -> None:
    ticket, answer = chosen.args
    if answer not in {"yes", "no"}:
        turn.say("common.not_understood")
        return
    turn.effect(ComplaintSettled(ticket_no=ticket, settled=answer == "yes"))
    turn.say("complaint.thanks_settled" if answer == "yes" else "complaint.thanks_unsettled",
             ticket=ticket)
    go_menu(turn)


@step(StepName.COMPLAINT_REPLY)
class Reply:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("complaint.ask_reply", nav(turn), ticket=turn.data.get("complaint_reply"))

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        ticket = turn.data.get("complaint_reply")
        if event.kind != "text" or not ticket:
            return UNHANDLED
        text = event.text.strip()
        if len(text) < 2:
            return UNHANDLED
        turn.effect(ComplaintReply(ticket_no=ticket, text=text[:TEXT_MAX]))
        turn.data.pop("complaint_reply", None)
        turn.say("complaint.reply_sent", ticket=ticket)
        go_menu(turn)
        return STAY
