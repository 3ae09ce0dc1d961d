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
from conversations.turn import GLOBAL_CHOICES, STEPS, Turn, goto_step
from conversations.types import Context, InboundEvent, State, StepResult
from conversations.vocab import Kind, Outcome, StepName

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


def _strip_symbols(label: str) -> str:
    """'📝 Ajukan permohonan' -> 'Ajukan permohonan' (emoji and arrows lead some labels)."""
    return re.sub(r"^\W+", "", label)


def _exact(offered: list[list[str]], text: str) -> str | None:
    norm = _normalise(text)
    for choice_id, label in offered:
        if _normalise(label) == norm or _normalise(_strip_symbols(label)) == norm:
            return choice_id
    return None


def _partial(offered: list[list[str]], text: str) -> str | None:
    """A unique part of one label (at least two characters)."""
    norm = _normalise(text)
    if len(norm) < 2:
        return None
    found = [choice_id for choice_id, label in offered if norm in _normalise(label)]
    return found[0] if len(found) == 1 else None


def typed_choice(state: State, text: str) -> str | None:
    """The choice a typed answer picks: a number counts in the choices last shown in
    the chat (a notice's, when one came after the step's question); a label is looked
    for there first, then among the current step's choices."""
    shown = state.last_shown
    norm = _normalise(text)
    if norm.isdigit():
        n = int(norm)
        return shown[n - 1][0] if 1 <= n <= len(shown) else None
    pools = [shown] if shown is state.offered else [shown, state.offered]
    for find in (_exact, _partial):
        for pool in pools:
            found = find(pool, text)
            if found is not None:
                return found
    return None


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
    notice = ctx.notice
    if notice is not None and notice.token != st.notice and st.lang is not None:
        # A notice with choices reached the chat after the step's own question.
        st.shown, st.notice = [list(c) for c in notice.choices], notice.token

    if st.lang is None and not st.offered:
        # A first message, whatever it says, gets the language question.
        cmd, arg = _command(event.text) if event.kind == "text" else (None, "")
        if not (cmd == "start" and arg and _global(turn, cmd, arg)):
            if event.kind in ("file", "file_rejected"):
                turn.say("common.file_before_start")
            goto_step(turn, StepName.LANGUAGE, history=[])
        return turn.result()

    if event.kind == "text":
        # What is on screen wins: an exact label beats a global word of the same name.
        exact = _exact(st.last_shown, event.text) or _exact(st.offered, event.text)
        cmd, arg = _command(event.text)
        if exact is None and cmd is not None and _global(turn, cmd, arg):
            return turn.result()
        matched = exact or typed_choice(st, event.text)
        if matched is not None:
            event = InboundEvent.choose(matched)  # from here on exactly like the button

    chosen = event.chosen
    if chosen is not None and chosen.kind.is_global:
        handler = GLOBAL_CHOICES.get(chosen.kind)
        if handler is not None and st.lang is not None:
            handler(turn, chosen)
            return turn.result()
    if chosen is not None and chosen.kind in (Kind.NAV_MENU, Kind.NAV_BACK):
        _global(turn, "menu" if chosen.kind is Kind.NAV_MENU else "back", "")
        return turn.result()

    if event.kind == "choice" and event.choice_id not in {c for c, _ in st.offered}:
        # A stale button from an older message: answer for the current step instead.
        turn.say("common.stale_choice")
        STEPS[st.step].prompt(turn)
        return turn.result()

    outcome = STEPS[st.step].handle(turn, event)
    if outcome is Outcome.UNHANDLED:
        if event.kind == "file":
            turn.say("common.file_unexpected")
        elif event.kind == "file_rejected":
            turn.say(f"upload.{event.rejection}", **event.rejection_params)
        else:
            turn.say("common.not_understood")
        STEPS[st.step].prompt(turn)
    elif outcome is Outcome.REPROMPT:
        STEPS[st.step].prompt(turn)
    elif isinstance(outcome, StepName):
        goto_step(turn, outcome)
    return turn.result()


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
            goto_step(turn, StepName.LANGUAGE, history=[])
        else:
            go_menu(turn, greet=True)
        return True
    if cmd == "help":
        turn.say(f"help.{st.step.group}")
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
        if st.step.group == "apply" and turn.draft is not None:
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
        goto_step(turn, StepName.STATUS, history=[StepName.MENU])
        return True
    return False
