"""Information: requirements, procedure, deadline, fee, product, legal basis, complaints."""

from __future__ import annotations

from conversations.flows.common import nav, profession_choices, region_choices, selected_entry
from conversations.turn import REPROMPT, UNHANDLED, Turn, step
from conversations.types import InboundEvent

TOPICS = ("req", "proc", "time", "fee", "product", "legal", "complaints")


@step("info.region")
class InfoRegion:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("info.choose_region", [*region_choices(turn), *nav(turn)])

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        if event.kind == "choice" and event.choice_id and event.choice_id.startswith("r:"):
            turn.data["info_region"] = event.choice_id[2:]
            return "info.profession"
        return UNHANDLED


@step("info.profession")
class InfoProfession:
    @staticmethod
    def prompt(turn: Turn) -> None:
        region = turn.ctx.catalog.region(turn.data["info_region"])
        choices = profession_choices(turn, region.slug)
        turn.ask("info.choose_profession", [*choices, *nav(turn)], region=region.name)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        if event.kind == "choice" and event.choice_id and event.choice_id.startswith("p:"):
            turn.data["info_profession"] = event.choice_id[2:]
            return "info.topic"
        return UNHANDLED


@step("info.topic")
class InfoTopic:
    @staticmethod
    def prompt(turn: Turn) -> None:
        entry = selected_entry(turn, "info")
        assert entry is not None
        choices = [turn.choice(f"i:{t}", f"info.topic_{t}") for t in TOPICS]
        choices.append(turn.choice("i:apply", "info.apply_here"))
        turn.ask("info.choose_topic", [*choices, *nav(turn)], entry=entry)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> str:
        entry = selected_entry(turn, "info")
        if entry is None or event.kind != "choice" or not event.choice_id:
            return UNHANDLED
        topic = event.choice_id.removeprefix("i:")
        if topic == "apply":
            from conversations.flows.apply import begin_for

            begin_for(turn, entry.region.slug, entry.profession.slug)
            return "__stay__"
        if topic not in TOPICS:
            return UNHANDLED
        turn.say(f"info.show_{topic}", entry=entry)
        return REPROMPT
