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
from licensing.complaints import CATEGORIES, answer_within, classify

TEXT_MIN, TEXT_MAX = 10, 3000
MAX_ATTACHMENTS = 5


def _c(turn: Turn) -> dict[str, Any]:
    c: dict[str, Any] = turn.data.setdefault("complaint", {})
    return c


def begin(turn: Turn) -> None:
    turn.data["complaint"] = {}
    goto_step(turn, "complaint.about", history=["menu.main"])


@step("complaint.about")
class About:
    @staticmethod
    def prompt(turn: Turn) -> None:
        apps = [Choice(f"k:app:{a.reg_no}", turn.t("complaint.about_application",
                                                    reg_no=a.reg_no))
                for a in turn.ctx.applications]
        choices = [*apps, turn.choice("k:service", "complaint.about_service"),
                   turn.choice("k:none", "complaint.about_other"), *nav(turn)]
        turn.ask("complaint.ask_about", choices)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        cid = event.choice_id if event.kind == "choice" else None
        c = _c(turn)
        if cid and cid.startswith("k:app:"):
            app = next((a for a in turn.ctx.applications if a.reg_no == cid[6:]), None)
            if app is None:
                return UNHANDLED
            c.update(about="application", reg_no=app.reg_no, region=app.region,
                     profession=app.profession, received_on=app.submitted_at.date().isoformat())
            return "complaint.category"
        if cid in {"k:service", "k:none"}:
            c.update(about="service" if cid == "k:service" else "none", reg_no=None)
            return "complaint.region"
        return UNHANDLED


@step("complaint.region")
class Region:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("complaint.ask_region", [*region_choices(turn), *nav(turn)])

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        if event.kind == "choice" and event.choice_id and event.choice_id.startswith("r:"):
            c = _c(turn)
            c["region"] = event.choice_id[2:]
            return "complaint.profession" if c.get("about") == "service" else "complaint.category"
        return UNHANDLED


@step("complaint.profession")
class Profession:
    @staticmethod
    def prompt(turn: Turn) -> None:
        region = turn.ctx.catalog.region(_c(turn)["region"])
        turn.ask("complaint.ask_profession",
                 [*profession_choices(turn, region.slug), *nav(turn)], region=region.name)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        if event.kind == "choice" and event.choice_id and event.choice_id.startswith("p:"):
            _c(turn)["profession"] = event.choice_id[2:]
            return "complaint.category"
        return UNHANDLED


@step("complaint.category")
class Category:
    @staticmethod
    def prompt(turn: Turn) -> None:
        choices = [turn.choice(f"g:{k}", f"complaint.category_{k}") for k in CATEGORIES]
        turn.ask("complaint.ask_category", [*choices, *nav(turn)])

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        if event.kind == "choice" and event.choice_id and event.choice_id[2:] in CATEGORIES:
            _c(turn)["category"] = event.choice_id[2:]
            return "complaint.text"
        return UNHANDLED


@step("complaint.text")
class Text:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("complaint.ask_text", nav(turn), min=TEXT_MIN)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        if event.kind != "text":
            return UNHANDLED
        text = event.text.strip()
        if len(text) < TEXT_MIN or sum(ch.isalpha() for ch in text) < 5:
            turn.say("complaint.text_too_short", min=TEXT_MIN)
            return STAY
        _c(turn)["text"] = text[:TEXT_MAX]
        return "complaint.attachments"


@step("complaint.attachments")
class Attachments:
    @staticmethod
    def prompt(turn: Turn) -> None:
        n = len(_c(turn).get("attachments", []))
        turn.ask("complaint.ask_attachments", [turn.choice("k:done", "complaint.no_more_files"),
                                              *nav(turn)], count=n, max=MAX_ATTACHMENTS)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        c = _c(turn)
        if event.kind == "file" and event.file is not None:
            files = c.setdefault("attachments", [])
            if len(files) >= MAX_ATTACHMENTS:
                turn.say("complaint.too_many_files", max=MAX_ATTACHMENTS)
                return STAY
            files.append(event.file.sha256)
            return REPROMPT
        if event.kind == "choice" and event.choice_id == "k:done":
            return "complaint.identity"
        return UNHANDLED


@step("complaint.identity")
class Identity:
    @staticmethod
    def prompt(turn: Turn) -> None:
        choices = [turn.choice("k:named", "complaint.give_identity"),
                   turn.choice("k:anon", "complaint.stay_anonymous"), *nav(turn)]
        turn.ask("complaint.ask_identity", choices)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        if event.kind == "choice" and event.choice_id == "k:anon":
            _c(turn).update(anonymous=True, name=None)
            return "complaint.confirm"
        if event.kind == "choice" and event.choice_id == "k:named":
            _c(turn)["anonymous"] = False
            return "complaint.name"
        return UNHANDLED


@step("complaint.name")
class Name:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("complaint.ask_name", nav(turn))

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        if event.kind != "text":
            return UNHANDLED
        name = " ".join(event.text.split())
        if not 3 <= len(name) <= 100 or sum(ch.isalpha() for ch in name) < 3:
            turn.say("apply.bad_full_name", min=3, max=100)
            return STAY
        _c(turn)["name"] = name
        return "complaint.confirm"


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


@step("complaint.confirm")
class Confirm:
    @staticmethod
    def prompt(turn: Turn) -> None:
        c = _c(turn)
        kind, reason = _classification(turn)
        region = turn.ctx.catalog.region(c["region"])
        choices = [turn.choice("k:send", "complaint.send"), *nav(turn)]
        turn.ask("complaint.review", choices, c=c, region=region, kind=kind, reason=reason)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        if not (event.kind == "choice" and event.choice_id == "k:send"):
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


@global_choice("kr")
def reply_to_officer(turn: Turn, ticket: str) -> None:
    turn.data["complaint_reply"] = ticket
    goto_step(turn, "complaint.reply", history=["menu.main"])


@global_choice("ks")
def settled(turn: Turn, arg: str) -> None:
    ticket, _, answer = arg.rpartition(":")
    if answer not in {"yes", "no"} or not ticket:
        turn.say("common.not_understood")
        return
    turn.effect(ComplaintSettled(ticket_no=ticket, settled=answer == "yes"))
    turn.say("complaint.thanks_settled" if answer == "yes" else "complaint.thanks_unsettled",
             ticket=ticket)
    go_menu(turn)


@step("complaint.reply")
class Reply:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("complaint.ask_reply", nav(turn), ticket=turn.data.get("complaint_reply"))

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
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
