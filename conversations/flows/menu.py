"""Language choice and the main menu."""

from __future__ import annotations

from conversations.flows.common import go_menu
from conversations.i18n import Translator
from conversations.turn import REPROMPT, STAY, UNHANDLED, Turn, step
from conversations.types import Choice, InboundEvent, SetLanguage
from conversations.vocab import Kind, Next, StepName, cid

MENU_TARGETS = {Kind.MENU_INFO: StepName.INFO_REGION, Kind.MENU_APPLY: StepName.APPLY_START,
                Kind.MENU_STATUS: StepName.STATUS, Kind.MENU_LANGUAGE: StepName.LANGUAGE}


@step(StepName.LANGUAGE)
class Language:
    @staticmethod
    def prompt(turn: Turn) -> None:
        # Asked in both languages: we do not know yet which one the person reads.
        text = Translator("id")("menu.choose_language") + "\n\n" + Translator("en")(
            "menu.choose_language"
        )
        turn.ask_text(text, [Choice(cid(Kind.LANGUAGE, "id"), "Bahasa Indonesia"),
                             Choice(cid(Kind.LANGUAGE, "en"), "English")])

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is not None and chosen.kind is Kind.LANGUAGE and chosen.arg in {"id", "en"}:
            lang = chosen.arg
            first_time = turn.state.lang is None
            turn.set_language(lang)
            turn.effect(SetLanguage(lang))
            turn.say("menu.intro" if first_time else "menu.language_set")
            go_menu(turn)
            return STAY
        return UNHANDLED


@step(StepName.MENU)
class MainMenu:
    @staticmethod
    def prompt(turn: Turn) -> None:
        choices = [
            turn.choice(Kind.MENU_INFO, "menu.info"),
            turn.choice(Kind.MENU_APPLY, "menu.apply"),
            turn.choice(Kind.MENU_STATUS, "menu.status"),
            turn.choice(Kind.MENU_COMPLAINT, "menu.complaint"),
            turn.choice(Kind.MENU_LANGUAGE, "menu.language"),
            turn.choice(Kind.MENU_HELP, "menu.help"),
        ]
        turn.ask("menu.main", choices)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is None:
            return UNHANDLED
        if chosen.kind is Kind.MENU_COMPLAINT:
            from conversations.flows.complaint import begin

            begin(turn)
            return STAY
        if chosen.kind is Kind.MENU_HELP:
            turn.say("help.menu")
            return REPROMPT
        return MENU_TARGETS.get(chosen.kind, UNHANDLED)
