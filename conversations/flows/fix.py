"""Fix: replace the scans the office rejected, then send them back to the same officer."""

from __future__ import annotations

from typing import Any

from conversations.flows.common import go_menu, nav
from conversations.turn import REPROMPT, STAY, UNHANDLED, Turn, global_choice, goto_step, step
from conversations.types import ApplicationView, Choice, InboundEvent, ResubmitDocuments
from conversations.vocab import ChoiceId, Kind, Next, StepName
from licensing.catalog import CatalogEntry, Requirement


def _fix(turn: Turn) -> dict[str, Any]:
    fix: dict[str, Any] = turn.data.setdefault("fix", {})
    return fix


def _app(turn: Turn) -> tuple[ApplicationView, CatalogEntry] | None:
    reg_no = _fix(turn).get("reg_no")
    app = next((a for a in turn.ctx.applications if a.reg_no == reg_no), None)
    if app is None:
        return None
    entry = turn.ctx.catalog.find(app.region, app.profession)
    return (app, entry) if entry else None


def _pending(turn: Turn, app: ApplicationView, entry: CatalogEntry) -> list[Requirement]:
    done = _fix(turn).get("scans", {})
    return [entry.requirement(d.requirement_code) for d in app.rejected
            if d.requirement_code not in done]


@step(StepName.FIX_SCANS)
class FixScans:
    @staticmethod
    def prompt(turn: Turn) -> None:
        found = _app(turn)
        if found is None:
            turn.say("fix.not_found")
            go_menu(turn)
            return
        app, entry = found
        pending = _pending(turn, app, entry)
        reasons = {d.requirement_code: d.reason for d in app.rejected}
        choices: list[Choice] = []
        if not pending:
            choices.append(turn.choice(Kind.FIX_SEND, "fix.send"))
        turn.ask("fix.prompt", [*choices, *nav(turn)], reg_no=app.reg_no,
                 target=pending[0] if pending else None,
                 reason=reasons.get(pending[0].code) if pending else None,
                 remaining=len(pending))

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        found = _app(turn)
        if found is None:
            return UNHANDLED
        app, entry = found
        pending = _pending(turn, app, entry)
        if event.kind == "file" and event.file is not None and pending:
            target = pending[0]
            if event.file.kind not in {k.value for k in target.accepts}:
                turn.say("apply.kind_not_accepted", requirement=target,
                         kinds=[k.value.upper() for k in target.accepts])
                return STAY
            scans = _fix(turn).setdefault("scans", {})
            twin = next((code for code, sha in scans.items() if sha == event.file.sha256), None)
            if twin is not None:  # kept, but most likely the wrong file: say so
                turn.say("apply.duplicate_scan", requirement=target,
                         other=entry.requirement(twin))
            scans[target.code] = event.file.sha256
            turn.keep_file()
            turn.say("apply.scan_received", requirement=target)
            return REPROMPT
        chosen = event.chosen
        if chosen is not None and chosen.kind is Kind.FIX_SEND and not pending:
            turn.effect(ResubmitDocuments(reg_no=app.reg_no, scans=dict(_fix(turn)["scans"])))
            turn.data.pop("fix", None)
            turn.say("fix.sent", reg_no=app.reg_no)
            go_menu(turn)
            return STAY
        return UNHANDLED


@global_choice(Kind.FIX)
def start_fix(turn: Turn, chosen: ChoiceId) -> None:
    """The button on the office's "please correct" message: straight to the fix steps."""
    reg_no = chosen.arg
    app = next((a for a in turn.ctx.applications if a.reg_no == reg_no), None)
    if app is None or not app.rejected or app.status != "open":
        turn.say("fix.not_found")
        go_menu(turn)
        return
    turn.data["fix"] = {"reg_no": reg_no, "scans": {}}
    goto_step(turn, StepName.FIX_SCANS, history=[StepName.MENU])
