"""The whole dialogue graph, walked: every step reachable from a fresh chat, every
choice it offers, in both languages. For each choice, typing its number and typing its
label must do exactly what pressing its button does (same state, replies and effects).
The same holds for the choices of every notice the office sends (permit ready, fix
request, an officer's answer, "is it settled?"), from every step: a typed number means
the choices last shown in the chat (issue 18)."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

import pytest

from conversations.engine import step as engine_step
from conversations.turn import STEPS
from conversations.types import (
    Context,
    InboundEvent,
    NoticeChoices,
    OutMessage,
    PermitView,
    State,
    StepResult,
)
from conversations.vocab import ChoiceId, Kind, StepName, cid
from tests.test_conversations import (
    CALENDAR,
    CATALOG,
    ISSUED_APP,
    NIK,
    NOW,
    REJECTED_APP,
    RUNNING_APP,
    STORY,
)

pytestmark = pytest.mark.slow  # ~50 s: some 900 states x their choices, twice

DOWNLOADABLE_APP = replace(
    ISSUED_APP, reg_no="MET-2611-DDD234",
    permit=PermitView(status="issued", number="503/0002", blob_sha256="cd" * 32,
                      survey_required=True, survey_done=True))
APPS = (RUNNING_APP, REJECTED_APP, ISSUED_APP, DOWNLOADABLE_APP)
TICKET = "ADU-PKU-2611-AAAAAA"

# What a person types at the steps that ask for words.
TEXT_ANSWERS = {
    StepName.APPLY_FULL_NAME: "Siti Aminah", StepName.APPLY_NIK: NIK,
    StepName.APPLY_PHONE: "0812 3456 7890", StepName.APPLY_PLACE: "RSUD Bayu Asih",
    StepName.APPLY_STR_NUMBER: "3201 5 2 1 24-1234567", StepName.COMPLAINT_TEXT: STORY,
    StepName.COMPLAINT_NAME: "Siti Aminah", StepName.COMPLAINT_REPLY: "Sudah saya cek.",
}
FILE_STEPS = {StepName.APPLY_SCANS, StepName.FIX_SCANS, StepName.COMPLAINT_ATTACHMENTS}

# The notices with choices the office side writes (service/permits.py, office.py,
# complaint_desk.py), as (id, label) in the order shown.
NOTICES: dict[str, tuple[tuple[str, str], ...]] = {
    "permit_ready": ((cid(Kind.SURVEY, ISSUED_APP.reg_no), "Isi survei"),),
    "documents_rejected": ((cid(Kind.FIX, REJECTED_APP.reg_no), "Perbaiki berkas"),),
    "officer_answer": ((cid(Kind.COMPLAINT_ANSWER, TICKET), "Balas petugas"),),
    "ask_settled": ((cid(Kind.COMPLAINT_SETTLED, TICKET, "yes"), "Ya, sudah selesai"),
                    (cid(Kind.COMPLAINT_SETTLED, TICKET, "no"), "Belum selesai")),
}


def ctx(notice: NoticeChoices | None = None) -> Context:
    return Context(now=NOW, catalog=CATALOG, calendar=CALENDAR, new_code=lambda: "K7Q2ZP",
                   applications=APPS, notice=notice)


def outcome(result: StepResult) -> tuple[Any, ...]:
    return (result.state.to_dict(), result.messages, result.effects)


# Values that change where the dialogue can go; other answers only count by shape (a
# survey's answers, a complaint's category), or the graph would be every combination.
ROUTING = {"region", "profession", "info_region", "info_profession", "about"}


COUNTED = {"scans", "profile", "answers"}  # how many, not which (asked in order)


def _shape(value: Any, key: str = "") -> Any:
    if isinstance(value, dict) and key in COUNTED:
        return len(value)
    if isinstance(value, dict):
        return {k: _shape(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return len(value)
    return value if key in ROUTING or isinstance(value, bool) else type(value).__name__


# What each flow reads of the state's data (leftovers of other flows do not matter).
FLOW_DATA = {"apply": ("draft",), "complaint": ("complaint", "complaint_reply"),
             "survey": ("survey",), "fix": ("fix",), "info": ("info_region", "info_profession")}


def _key(state: State) -> tuple[Any, ...]:
    """A state of the graph: its step, its choices and the shape of what its flow
    collected so far."""
    data = {k: state.data.get(k) for k in FLOW_DATA.get(state.step.group, ())}
    kinds = tuple(getattr(ChoiceId.decode(i), "kind", i) for i, _ in state.offered)
    return (state.step, kinds, json.dumps(_shape(data), sort_keys=True))


BACKWARDS = {cid(Kind.NAV_BACK), cid(Kind.NAV_MENU)}
UPLOAD = InboundEvent.upload("a" * 64, "pdf", 1000)


@dataclass
class Graph:
    lang: str
    states: dict[tuple[Any, ...], State]
    checks: int
    messages: dict[tuple[str, str], OutMessage]  # every distinct message the walk saw


def walk(lang: str) -> Graph:
    """Every (step, offered choices) reachable by buttons, words and files; checks each
    offered choice's typed forms on the way."""
    messages: dict[tuple[str, str], OutMessage] = {}

    def step(state: State, event: InboundEvent, context: Context) -> StepResult:
        result = engine_step(state, event, context)
        for m in result.messages:
            messages.setdefault((m.kind, m.text), m)
        return result

    first = step(State(), InboundEvent.message("halo"), ctx()).state
    start = step(first, InboundEvent.choose(cid(Kind.LANGUAGE, lang)), ctx()).state
    seen: dict[tuple[Any, ...], State] = {}
    queue = deque([first, start])
    checks = 0
    while queue:
        state = queue.popleft()
        if _key(state) in seen:
            continue
        seen[_key(state)] = state
        nexts: list[State] = []
        for n, (choice_id, label) in enumerate(state.offered, start=1):
            pressed = step(state, InboundEvent.choose(choice_id), ctx())
            for typed in (str(n), label):
                got = step(state, InboundEvent.message(typed), ctx())
                assert outcome(got) == outcome(pressed), (state.step, choice_id, typed)
                checks += 1
            if choice_id not in BACKWARDS:  # back and menu only lead to states seen
                nexts.append(pressed.state)
        if state.step in TEXT_ANSWERS:
            nexts.append(step(state, InboundEvent.message(TEXT_ANSWERS[state.step]),
                              ctx()).state)
        if state.step in FILE_STEPS:
            nexts.append(step(state, UPLOAD, ctx()).state)
        if state.step is StepName.MENU:  # notices' buttons lead to steps of their own
            for choices in NOTICES.values():
                for choice_id, _ in choices:
                    nexts.append(step(state, InboundEvent.choose(choice_id), ctx()).state)
        queue.extend(s for s in nexts if _key(s) not in seen)
    return Graph(lang, seen, checks, messages)


@pytest.fixture(scope="module", params=["id", "en"])
def graph(request: pytest.FixtureRequest) -> Graph:
    return walk(request.param)


def test_every_step_is_reached_and_every_choice_typed_leads_where_its_button_leads(
    graph: Graph,
) -> None:
    lang, seen, checks = graph.lang, graph.states, graph.checks
    assert {s.step for s in seen.values()} == set(STEPS), set(STEPS) - {
        s.step for s in seen.values()}
    assert checks > 400  # every choice of every step, by number and by label
    assert all(s.lang in (None, lang) for s in seen.values())


@pytest.mark.parametrize("notice", sorted(NOTICES))
def test_every_notice_choice_typed_from_every_step_does_what_its_button_does(
    graph: Graph, notice: str,
) -> None:
    seen = graph.states
    choices = NOTICES[notice]
    with_notice = ctx(NoticeChoices(token=f"t-{notice}", choices=choices))
    for state in seen.values():
        if state.lang is None:
            continue  # before a language is chosen, only the language question listens
        for n, (choice_id, label) in enumerate(choices, start=1):
            pressed = engine_step(state, InboundEvent.choose(choice_id), with_notice)
            for typed in (str(n), label):
                got = engine_step(state, InboundEvent.message(typed), with_notice)
                assert outcome(got) == outcome(pressed), (state.step, choice_id, typed)
            assert "belum memahami" not in " ".join(m.text for m in pressed.messages)


def test_a_notice_taken_in_once_does_not_override_later_questions() -> None:
    """After the notice's choice was answered, a number means the new question's."""
    notice = NoticeChoices(token="t1", choices=NOTICES["permit_ready"])
    menu = engine_step(engine_step(State(), InboundEvent.message("halo"), ctx()).state,
                       InboundEvent.choose(cid(Kind.LANGUAGE, "id")), ctx()).state
    survey = engine_step(menu, InboundEvent.message("1"), ctx(notice))
    assert survey.state.step is StepName.SURVEY_QUESTION
    # The same notice is still the latest one queued; "1" now answers the survey.
    again = engine_step(survey.state, InboundEvent.message("1"), ctx(notice))
    assert again.state.step is StepName.SURVEY_QUESTION
    assert again.state.data["survey"]["profile"]  # the first question was answered


# --- every message an applicant can receive, against the channels' limits -------------
TELEGRAM_TEXT, TELEGRAM_CAPTION, CALLBACK_BYTES = 4096, 1024, 64
WHATSAPP_TEXT, WHATSAPP_INTERACTIVE_BODY = 4096, 1024


def test_every_dialogue_message_fits_each_channel_without_being_cut(graph: Graph) -> None:
    """What the dialogue says fits as one message everywhere: a question with buttons in
    WhatsApp's 1024-character interactive body, a text in one Telegram message."""
    assert len(graph.messages) > 300
    for (kind, text), message in graph.messages.items():
        if kind == "choices":
            assert len(text) <= WHATSAPP_INTERACTIVE_BODY, text
        elif kind in ("document", "image"):
            assert len(text) <= TELEGRAM_CAPTION, text
        else:
            assert len(text) <= min(TELEGRAM_TEXT, WHATSAPP_TEXT), text
        for c in message.choices:
            assert len(c.id.encode()) <= CALLBACK_BYTES, c.id
