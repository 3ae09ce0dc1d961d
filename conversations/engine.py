"""The conversation engine: (state, event, context) -> (state, messages, effects).

Deterministic and free of I/O: time, random codes, catalog data and the applicant's
applications all arrive in the `Context`. Global words (help, back, cancel, menu,
/start) work at every step; a typed number or part of a label picks an offered choice.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from dataclasses import fields
from typing import Any

from conversations import flows  # noqa: F401  (registers every step)
from conversations.flows.common import go_menu, start_deep_link
from conversations.turn import (
    GLOBAL_CHOICES,
    REPROMPT,
    STAY,
    STEPS,
    UNHANDLED,
    Turn,
    goto_step,
)
from conversations.types import Context, InboundEvent, State, StepResult

GLOBAL_WORDS = {
    "help": "help", "bantuan": "help", "tolong": "help", "?": "help",
    "back": "back", "kembali": "back",
    "cancel": "cancel", "batal": "cancel", "stop": "cancel",
    "menu": "menu",
    "status": "status",
    "pengaduan": "complaint", "complaint": "complaint",
}


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"\s+", " ", text)


COMMAND_ALIASES = {
    "mulai": "start", "bantuan": "help", "batal": "cancel", "kembali": "back",
    "pengaduan": "complaint",
}


def _command(text: str) -> tuple[str | None, str]:
    """('help', '') for 'help' or '/help'; ('start', 'payload') for '/start payload'."""
    raw = text.strip()
    if raw.startswith("/"):
        head, _, arg = raw[1:].partition(" ")
        word = head.split("@", 1)[0].lower()  # "/start@IzinBot" in group chats
        return COMMAND_ALIASES.get(word, word), arg.strip()
    return GLOBAL_WORDS.get(_normalise(raw)), ""


def _exact_offered(state: State, text: str) -> str | None:
    norm = _normalise(text)
    for cid, label in state.offered:
        if _normalise(label) == norm or _normalise(_strip_symbols(label)) == norm:
            return cid
    return None


def _strip_symbols(label: str) -> str:
    """'📝 Ajukan permohonan' -> 'Ajukan permohonan' (emoji and arrows lead some labels)."""
    return re.sub(r"^\W+", "", label)


def _match_offered(state: State, text: str) -> str | None:
    """A typed answer to the last choices: its number, or a unique part of its label."""
    if not state.offered:
        return None
    norm = _normalise(text)
    if norm.isdigit():
        n = int(norm)
        return state.offered[n - 1][0] if 1 <= n <= len(state.offered) else None
    if len(norm) < 2:
        return None
    exact = [cid for cid, label in state.offered if _normalise(label) == norm]
    if exact:
        return exact[0]
    partial = [cid for cid, label in state.offered if norm in _normalise(label)]
    return partial[0] if len(partial) == 1 else None


def copy_state(state: State) -> State:
    """A deep copy of a state. Its contents are JSON-shaped (it is stored as JSON), and
    copying them by hand is several times cheaper than dataclasses.asdict, which was a
    tenth of a turn's CPU (bench/journeys.py)."""
    return State(**{f.name: _copy_json(getattr(state, f.name)) for f in fields(State)})


def _copy_json(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return copy.deepcopy(value)  # not JSON-shaped: still never shared


def step(state: State, event: InboundEvent, ctx: Context) -> StepResult:
    """Run one inbound event through the dialogue."""
    turn = Turn(copy_state(state), ctx)  # the caller's state is never mutated
    st = turn.state
    if st.step not in STEPS:  # a step removed by an upgrade: start over at the menu
        st.step, st.history = ("menu.main" if st.lang else "start.language"), []

    if st.lang is None and not st.offered:
        # A first message, whatever it says, gets the language question.
        cmd, arg = _command(event.text) if event.kind == "text" else (None, "")
        if not (cmd == "start" and arg and _global(turn, cmd, arg)):
            goto_step(turn, "start.language", history=[])
        return StepResult(turn.state, tuple(turn.messages), tuple(turn.effects))

    if event.kind == "text":
        # What is on screen wins: an exact label beats a global word of the same name.
        exact = _exact_offered(st, event.text)
        cmd, arg = _command(event.text)
        if exact is None and cmd is not None and _global(turn, cmd, arg):
            return StepResult(turn.state, tuple(turn.messages), tuple(turn.effects))
        matched = exact or _match_offered(st, event.text)
        if matched is not None:
            event = InboundEvent.choose(matched)
    elif event.kind == "choice" and (event.choice_id or "").startswith("!"):
        name, _, arg = (event.choice_id or "")[1:].partition(":")
        handler = GLOBAL_CHOICES.get(name)
        if handler is not None and st.lang is not None:
            handler(turn, arg)
            return StepResult(turn.state, tuple(turn.messages), tuple(turn.effects))
    if event.kind == "choice" and event.choice_id == "nav:menu":
        _global(turn, "menu", "")
        return StepResult(turn.state, tuple(turn.messages), tuple(turn.effects))
    elif event.kind == "choice" and event.choice_id == "nav:back":
        _global(turn, "back", "")
        return StepResult(turn.state, tuple(turn.messages), tuple(turn.effects))

    if event.kind == "choice" and event.choice_id not in {c for c, _ in st.offered}:
        # A stale button from an older message: answer for the current step instead.
        turn.say("common.stale_choice")
        STEPS[st.step].prompt(turn)
        return StepResult(turn.state, tuple(turn.messages), tuple(turn.effects))

    outcome = STEPS[st.step].handle(turn, event)
    if outcome == UNHANDLED:
        if event.kind == "file":
            turn.say("common.file_unexpected")
        elif event.kind == "file_rejected":
            turn.say(f"upload.{event.rejection}", **event.rejection_params)
        else:
            turn.say("common.not_understood")
        STEPS[st.step].prompt(turn)
    elif outcome == REPROMPT:
        STEPS[st.step].prompt(turn)
    elif outcome != STAY:
        goto_step(turn, outcome)
    return StepResult(turn.state, tuple(turn.messages), tuple(turn.effects))


def _global(turn: Turn, cmd: str, arg: str) -> bool:
    """Handle a word that works everywhere; False when `cmd` is not one here."""
    st = turn.state
    if st.lang is None and cmd not in {"start"}:
        return False  # before a language is chosen, only the language step listens
    if cmd == "start":
        if arg and start_deep_link(turn, arg):
            if st.lang is None:
                turn.set_language("id")
            return True
        if st.lang is None:
            goto_step(turn, "start.language", history=[])
        else:
            go_menu(turn, greet=True)
        return True
    if cmd == "help":
        turn.say(f"help.{st.step.split('.', 1)[0]}")
        STEPS[st.step].prompt(turn)
        return True
    if cmd == "back":
        if st.history:
            previous = st.history.pop()
            goto_step(turn, previous, remember=False)
        else:
            go_menu(turn)
        return True
    if cmd == "cancel":
        if st.step.startswith("apply.") and st.data.get("draft"):
            turn.say("apply.cancelled_draft_kept")
        else:
            turn.say("common.cancelled")
        go_menu(turn)
        return True
    if cmd == "menu":
        go_menu(turn)
        return True
    if cmd == "complaint":
        from conversations.flows.complaint import begin

        begin(turn)
        return True
    if cmd == "status":
        goto_step(turn, "status.list", history=["menu.main"])
        return True
    return False
