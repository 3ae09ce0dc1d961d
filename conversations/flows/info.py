"""Information: requirements, procedure, deadline, fee, product, legal basis, complaints."""

from __future__ import annotations

from conversations.flows.common import nav, profession_choices, region_choices, selected_entry
from conversations.turn import REPROMPT, STAY, UNHANDLED, Turn, step
from conversations.types import InboundEvent
from conversations.vocab import ChoiceId, Kind, Next, StepName

TOPICS = ("req", "proc", "time", "fee", "product", "legal", "complaints")


@step(StepName.INFO_REGION)
class InfoRegion:
    @staticmethod
    def prompt(turn: Turn) -> None:
        turn.ask("info.choose_region", [*region_choices(turn), *nav(turn)])

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is not None and chosen.kind is Kind.REGION:
            turn.data["info_region"] = chosen.arg
            return StepName.INFO_PROFESSION
        return UNHANDLED


@step(StepName.INFO_PROFESSION)
class InfoProfession:
    @staticmethod
    def prompt(turn: Turn) -> None:
        region = turn.ctx.catalog.region(turn.data["info_region"])
        choices = profession_choices(turn, region.slug)
        turn.ask("info.choose_profession", [*choices, *nav(turn)], region=region.name)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is not None and chosen.kind is Kind.PROFESSION:
            turn.data["info_profession"] = chosen.arg
            return StepName.INFO_TOPIC
        return UNHANDLED


@step(StepName.INFO_TOPIC)
class InfoTopic:
    @staticmethod
    def prompt(turn: Turn) -> None:
        entry = selected_entry(turn, "info")
        assert entry is not None
        choices = [turn.choice(ChoiceId(Kind.TOPIC, (t,)), f"info.topic_{t}") for t in TOPICS]
        choices.append(turn.choice(Kind.INFO_APPLY, "info.apply_here"))
        turn.ask("info.choose_topic", [*choices, *nav(turn)], entry=entry)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        entry = selected_entry(turn, "info")
        chosen = event.chosen
        if entry is None or chosen is None:
            return UNHANDLED
        if chosen.kind is Kind.INFO_APPLY:
            from conversations.flows.apply import begin_for

            begin_for(turn, entry.region.slug, entry.profession.slug)
            return STAY
        if chosen.kind is not Kind.TOPIC or chosen.arg not in TOPICS:
            return UNHANDLED
        turn.say(f"info.show_{chosen.arg}", entry=entry)
        return REPROMPT
