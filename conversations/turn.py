"""One turn of the dialogue: the working object every step reads and writes.

Steps are registered by name ("apply.nik"); each has a `prompt` that asks its
question and a `handle` that takes the answer and names the next step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from conversations.i18n import Translator
from conversations.types import Choice, Context, Effect, InboundEvent, OutMessage, State

# What `handle` may return besides a step name.
STAY = "__stay__"  # the handler said what was needed; keep the step, no re-prompt
REPROMPT = "__reprompt__"  # keep the step and ask its question again
UNHANDLED = "__unhandled__"  # the input makes no sense here: say so, then re-prompt


class Turn:
    def __init__(self, state: State, ctx: Context) -> None:
        self.state = state
        self.ctx = ctx
        self.t = Translator(state.lang)
        self.messages: list[OutMessage] = []
        self.effects: list[Effect] = []

    # -- output --
    def say(self, key: str, **params: Any) -> None:
        self.messages.append(OutMessage(kind="text", text=self.t(key, **params)))

    def say_text(self, text: str) -> None:
        self.messages.append(OutMessage(kind="text", text=text))

    def ask(self, key: str, choices: Sequence[Choice], **params: Any) -> None:
        self.ask_text(self.t(key, **params), choices)

    def ask_text(self, text: str, choices: Sequence[Choice]) -> None:
        self.messages.append(OutMessage(kind="choices", text=text, choices=tuple(choices)))
        self.state.offered = [[c.id, c.label] for c in choices]

    def send(self, message: OutMessage) -> None:
        self.messages.append(message)

    def effect(self, effect: Effect) -> None:
        self.effects.append(effect)

    def choice(self, choice_id: str, key: str, **params: Any) -> Choice:
        return Choice(choice_id, self.t(key, **params))

    # -- state helpers --
    @property
    def data(self) -> dict[str, Any]:
        return self.state.data

    def set_language(self, lang: str) -> None:
        self.state.lang = lang
        self.t = Translator(lang)


Prompt = Callable[[Turn], None]
Handle = Callable[[Turn, InboundEvent], str]


@dataclass(frozen=True)
class StepDef:
    name: str
    prompt: Prompt
    handle: Handle


STEPS: dict[str, StepDef] = {}

# Choices that work from any step: id "!name:arg" (buttons on notifications, which the
# applicant may press long after, wherever the dialogue has moved on to).
GlobalChoice = Callable[[Turn, str], None]
GLOBAL_CHOICES: dict[str, GlobalChoice] = {}


def global_choice(name: str) -> Callable[[GlobalChoice], GlobalChoice]:
    def register(fn: GlobalChoice) -> GlobalChoice:
        if name in GLOBAL_CHOICES:
            raise ValueError(f"global choice {name!r} registered twice")
        GLOBAL_CHOICES[name] = fn
        return fn

    return register


MAX_HISTORY = 30


def goto_step(
    turn: Turn, name: str, *, history: list[str] | None = None, remember: bool = True
) -> None:
    """Move to step `name` and ask its question.

    `history` replaces the back-stack (for jumps from menus and deep links); otherwise
    the current step is remembered so `back` returns to it.
    """
    st = turn.state
    if history is not None:
        st.history = list(history)
    elif remember and name != st.step:
        st.history = [*st.history, st.step][-MAX_HISTORY:]
    st.step = name
    st.offered = []
    STEPS[name].prompt(turn)


def step(name: str) -> Callable[[type], type]:
    """Register a class with static `prompt` and `handle` as the step `name`."""

    def register(cls: type) -> type:
        if name in STEPS:
            raise ValueError(f"step {name!r} registered twice")
        STEPS[name] = StepDef(name, getattr(cls, "prompt"), getattr(cls, "handle"))  # noqa: B009
        return cls

    return register
