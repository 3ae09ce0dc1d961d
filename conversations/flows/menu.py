"""Language choice and the main menu."""

from __future__ import annotations

from conversations.flows.common import go_menu
from conversations.i18n import Translator
from conversations.turn import UNHANDLED, Turn, step
from conversations.types import Choice, InboundEvent, SetLanguage


@step("start.language")
class Language:
    @staticmethod
    def prompt(turn: Turn) -> None:
        # Asked in both languages: we do not know yet which one the person reads.
        text = Translator("id")("menu.choose_language") + "\n\n" + Translator("en")(
            "menu.choose_language"
        )
        turn.ask_text(text, [Choice("lang:id", "Bahasa Indonesia"), Choice("lang:en", "English")])

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        if event.kind == "choice" and event.choice_id in {"lang:id", "lang:en"}:
            lang = event.choice_id.split(":", 1)[1]
            first_time = turn.state.lang is None
            turn.set_language(lang)
            turn.effect(SetLanguage(lang))
            turn.say("menu.intro" if first_time else "menu.language_set")
            go_menu(turn)
            return "__stay__"
        return UNHANDLED


@step("menu.main")
class MainMenu:
    @staticmethod
    def prompt(turn: Turn) -> None:
        choices = [
            turn.choice("m:info", "menu.info"),
            turn.choice("m:apply", "menu.apply"),
            turn.choice("m:status", "menu.status"),
            turn.choice("m:complaint", "menu.complaint"),
            turn.choice("m:lang", "menu.language"),
            turn.choice("m:help", "menu.help"),
        ]
        turn.ask("menu.main", choices)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        target = {
            "m:info": "info.region",
            "m:apply": "apply.start",
            "m:status": "status.list",
            "m:lang": "start.language",
        }
        if event.kind == "choice" and event.choice_id == "m:complaint":
            from conversations.flows.complaint import begin

            begin(turn)
            return "__stay__"
        if event.kind == "choice" and event.choice_id == "m:help":
            turn.say("help.menu")
            return "__reprompt__"
        if event.kind == "choice" and event.choice_id in target:
            return target[event.choice_id]
        return UNHANDLED
