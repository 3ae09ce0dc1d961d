"""The satisfaction survey (SKM) before the permit, and the permit's delivery in the chat.

The questionnaire is data (`licensing/skm.yaml`, PermenPANRB 14/2017): the respondent
profile first, then the nine elements, one question per message with its four
standard answers. Answers are kept by key in the conversation state as they come, so
an applicant who stops halfway (menu, cancel, days later) resumes at the first
unanswered question. The last answer submits the survey and sends the signed PDF.
"""

from __future__ import annotations

from typing import Any

from conversations.flows.common import go_menu
from conversations.turn import STAY, UNHANDLED, Turn, global_choice, goto_step, step
from conversations.types import (
    ApplicationView,
    Choice,
    InboundEvent,
    OutMessage,
    PermitDelivered,
    SubmitSurvey,
)
from conversations.vocab import ChoiceId, Kind, Next, StepName, cid
from licensing.skm import load_skm


def _application(turn: Turn, reg_no: str) -> ApplicationView | None:
    return next((a for a in turn.ctx.applications if a.reg_no == reg_no), None)


def _progress(turn: Turn) -> dict[str, Any]:
    survey: dict[str, Any] = turn.data.setdefault("survey", {})
    return survey


def _next_question(progress: dict[str, Any]) -> tuple[str, str] | None:
    """("profile", key) or ("element", key) of the first unanswered question."""
    skm = load_skm()
    for q in skm.profile:
        if q.key not in progress.get("profile", {}):
            return "profile", q.key
    for e in skm.elements:
        if e.key not in progress.get("answers", {}):
            return "element", e.key
    return None


def send_permit(turn: Turn, app: ApplicationView) -> None:
    """The signed PDF into the chat, and the record that it went."""
    assert app.permit is not None and app.permit.blob_sha256 is not None
    turn.send(OutMessage(
        kind="document",
        text=turn.t("survey.permit_caption", reg_no=app.reg_no, number=app.permit.number),
        blob_sha256=app.permit.blob_sha256,
        filename=f"izin-{app.reg_no}.pdf",
        media_type="application/pdf",
    ))
    turn.effect(PermitDelivered(reg_no=app.reg_no))


@global_choice(Kind.SURVEY)
def start_survey(turn: Turn, chosen: ChoiceId) -> None:
    reg_no = chosen.arg
    app = _application(turn, reg_no)
    if app is None or app.permit is None or app.permit.status != "issued":
        turn.say("survey.not_ready")
        go_menu(turn)
        return
    if app.permit.downloadable:
        send_permit(turn, app)
        go_menu(turn)
        return
    progress = _progress(turn)
    if progress.get("reg_no") != reg_no:  # a survey for another permit is dropped
        progress.clear()
        progress.update({"reg_no": reg_no, "profile": {}, "answers": {}})
        turn.say("survey.intro", reg_no=reg_no, elements=len(load_skm().elements))
    else:
        turn.say("survey.resume", reg_no=reg_no)
    goto_step(turn, StepName.SURVEY_QUESTION, history=[StepName.MENU])


@global_choice(Kind.PERMIT)
def download_permit(turn: Turn, chosen: ChoiceId) -> None:
    app = _application(turn, chosen.arg)
    if app is None or app.permit is None or not app.permit.downloadable:
        start_survey(turn, ChoiceId(Kind.SURVEY, chosen.args))
        return
    send_permit(turn, app)
    go_menu(turn)


@step(StepName.SURVEY_QUESTION)
class Question:
    @staticmethod
    def prompt(turn: Turn) -> None:
        progress = _progress(turn)
        nxt = _next_question(progress)
        if nxt is None:  # everything answered (a resume after the last answer)
            _finish(turn)
            return
        skm = load_skm()
        lang = turn.t.lang
        part, key = nxt
        menu = turn.choice(Kind.NAV_MENU, "survey.later")
        if part == "profile":
            q = skm.profile_question(key)
            choices = [Choice(cid(Kind.SURVEY_PROFILE, key, o.key), o.label(lang))
                       for o in q.options]
            turn.ask("survey.profile_question", [*choices, menu], question=q.question(lang),
                     number=skm.profile.index(q) + 1, total=len(skm.profile))
        else:
            e = skm.element(key)
            choices = [Choice(cid(Kind.SURVEY_ELEMENT, key, str(a.value)), a.label(lang))
                       for a in e.answers]
            turn.ask("survey.element_question", [*choices, menu], name=e.name(lang),
                     question=e.question(lang), number=skm.elements.index(e) + 1,
                     total=len(skm.elements))

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is None or chosen.kind not in (Kind.SURVEY_PROFILE, Kind.SURVEY_ELEMENT):
            return UNHANDLED
        key, value = chosen.args
        progress = _progress(turn)
        nxt = _next_question(progress)
        skm = load_skm()
        if chosen.kind is Kind.SURVEY_PROFILE and nxt == ("profile", key):
            if value not in skm.profile_question(key).option_keys:
                return UNHANDLED
            progress.setdefault("profile", {})[key] = value
        elif chosen.kind is Kind.SURVEY_ELEMENT and nxt == ("element", key):
            if value not in {"1", "2", "3", "4"}:
                return UNHANDLED
            progress.setdefault("answers", {})[key] = int(value)
        else:  # an old button from an earlier question
            return UNHANDLED
        if _next_question(progress) is None:
            _finish(turn)
            return STAY
        return StepName.SURVEY_QUESTION


def _finish(turn: Turn) -> None:
    progress = turn.data.pop("survey", {})
    reg_no = progress.get("reg_no", "")
    turn.effect(SubmitSurvey(reg_no=reg_no, profile=dict(progress.get("profile", {})),
                             answers=dict(progress.get("answers", {}))))
    turn.say("survey.thanks")
    app = _application(turn, reg_no)
    if app is not None and app.permit is not None and app.permit.blob_sha256:
        send_permit(turn, app)
    go_menu(turn)
