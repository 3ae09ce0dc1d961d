"""Pieces several flows share: the main menu, navigation choices, picking a service."""

from __future__ import annotations

import re

from conversations.turn import Turn, goto_step
from conversations.types import Choice
from conversations.vocab import Kind, StepName, cid
from licensing.catalog import CatalogEntry

REG_NO_RE = re.compile(r"^[A-Z]{2,5}-\d{4}-[A-Z0-9]{6}$")


def nav(turn: Turn, *, back: bool = True) -> list[Choice]:
    """The navigation choices that end most menus."""
    out = [turn.choice(Kind.NAV_BACK, "common.back")] if back else []
    return [*out, turn.choice(Kind.NAV_MENU, "common.main_menu")]


def go_menu(turn: Turn, *, greet: bool = False) -> None:
    if greet:
        turn.say("menu.welcome_back")
    goto_step(turn, StepName.MENU, history=[])


def goto(turn: Turn, name: StepName) -> None:
    """Jump to a step from outside the normal answer cycle (deep links, shortcuts)."""
    goto_step(turn, name, history=[StepName.MENU])


def selected_entry(turn: Turn, prefix: str) -> CatalogEntry | None:
    region = turn.data.get(f"{prefix}_region")
    profession = turn.data.get(f"{prefix}_profession")
    if not region or not profession:
        return None
    return turn.ctx.catalog.find(region, profession)


def region_choices(turn: Turn) -> list[Choice]:
    return [Choice(cid(Kind.REGION, r.slug), r.name) for r in turn.ctx.catalog.regions()]


def profession_choices(turn: Turn, region: str) -> list[Choice]:
    return [Choice(cid(Kind.PROFESSION, p.slug), p.name)
            for p in turn.ctx.catalog.professions(region)]


def start_deep_link(turn: Turn, payload: str) -> bool:
    """`/start info_<region>_<profession>`, `apply_…` or `status_<reg no>`."""
    kind, _, rest = payload.partition("_")
    kind = kind.lower()
    if kind == "status":
        reg_no = rest.upper()
        turn.data["status_focus"] = reg_no if REG_NO_RE.match(reg_no) else None
        goto(turn, StepName.STATUS)
        return True
    if kind in {"info", "apply"}:
        region, _, profession = rest.lower().partition("_")
        if turn.ctx.catalog.find(region, profession) is None:
            turn.say("common.unknown_link")
            go_menu(turn)
            return True
        if kind == "info":
            turn.data["info_region"], turn.data["info_profession"] = region, profession
            goto(turn, StepName.INFO_TOPIC)
        else:
            from conversations.flows.apply import begin_for

            begin_for(turn, region, profession)
        return True
    return False
