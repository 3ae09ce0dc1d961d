"""One turn of the dialogue: the working object every step reads and writes.

Steps are registered by name ("apply.nik"); each has a `prompt` that asks its
question and a `handle` that takes the answer and names the next step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from conversations.draft import Draft
from conversations.i18n import Translator
from conversations.types import Choice, Context, Effect, InboundEvent, OutMessage, State, StepResult
from conversations.vocab import ChoiceId, Kind, Next, Outcome, StepName

# What `handle` may return besides a step name (short names for the flows).
STAY = Outcome.STAY
REPROMPT = Outcome.REPROMPT
UNHANDLED = Outcome.UNHANDLED


class Turn:
    def __init__(self, state: State, ctx: Context) -> None:
        self.state = state
        self.ctx = ctx
        self.t = Translator(state.lang)
        self.messages: list[OutMessage] = []
        self.effects: list[Effect] = []
        self._draft: Draft | None = None
        self._draft_loaded = False
        self._file_kept = False

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
        self.state.shown = None  # the step's own choices are now the last shown

    def send(self, message: OutMessage) -> None:
        self.messages.append(message)

    def effect(self, effect: Effect) -> None:
        self.effects.append(effect)

    def keep_file(self) -> None:
        """The event's file is now referenced (draft, fix, complaint): keep it stored."""
        self._file_kept = True

    def choice(self, choice: Kind | ChoiceId, key: str, **params: Any) -> Choice:
        """A choice labelled by message `key`: `turn.choice(Kind.YES, "common.yes")`."""
        ref = choice if isinstance(choice, ChoiceId) else ChoiceId(choice)
        return Choice(ref.encode(), self.t(key, **params))

    # -- state helpers --
    @property
    def data(self) -> dict[str, Any]:
        return self.state.data

    def set_language(self, lang: str) -> None:
        self.state.lang = lang
        self.t = Translator(lang)

    # -- the draft, typed; written back into the state when the turn ends --
    @property
    def draft(self) -> Draft | None:
        if not self._draft_loaded:
            raw = self.state.data.get("draft")
            self._draft = Draft.from_dict(raw) if isinstance(raw, dict) and raw.get(
                "region") else None
            self._draft_loaded = True
        return self._draft

    @draft.setter
    def draft(self, value: Draft | None) -> None:
        self._draft, self._draft_loaded = value, True

    def result(self) -> StepResult:
        """The turn's outcome, with the typed draft stored back into the state."""
        if self._draft_loaded:
            if self._draft is None:
                self.state.data.pop("draft", None)
            else:
                self.state.data["draft"] = self._draft.to_dict()
        return StepResult(self.state, tuple(self.messages), tuple(self.effects),
                          file_kept=self._file_kept)


Prompt = Callable[[Turn], None]
Handle = Callable[[Turn, InboundEvent], Next]


@dataclass(frozen=True)
class StepDef:
    name: StepName
    prompt: Prompt
    handle: Handle


STEPS: dict[StepName, StepDef] = {}

# Choices that work from any step (Kind.is_global: buttons on notices, which the
# applicant may press or type long after, wherever the dialogue has moved on to).
GlobalChoice = Callable[[Turn, ChoiceId], None]
GLOBAL_CHOICES: dict[Kind, GlobalChoice] = {}


def global_choice(kind: Kind) -> Callable[[GlobalChoice], GlobalChoice]:
    if not kind.is_global:
        raise ValueError(f"{kind.name} is not a global choice")

    def register(fn: GlobalChoice) -> GlobalChoice:
        if kind in GLOBAL_CHOICES:
            raise ValueError(f"global choice {kind.name} registered twice")
        GLOBAL_CHOICES[kind] = fn
        return fn

    return register


MAX_HISTORY = 30


def goto_step(
    turn: Turn, name: StepName, *, history: list[StepName] | None = None, remember: bool = True
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


def step(name: StepName) -> Callable[[type], type]:
    """Register a class with static `prompt` and `handle` as the step `name`."""

    def register(cls: type) -> type:
        if name in STEPS:
            raise ValueError(f"step {name!r} registered twice")
        STEPS[name] = StepDef(name, getattr(cls, "prompt"), getattr(cls, "handle"))  # noqa: B009
        return cls

    return register
