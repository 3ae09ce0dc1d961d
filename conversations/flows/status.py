"""Status: an unfinished draft with what it still needs, then every application of this
applicant, its step in plain words and its deadline."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from conversations.flows.common import nav
from conversations.turn import UNHANDLED, Turn, step
from conversations.types import ApplicationView, Choice, InboundEvent
from conversations.vocab import ChoiceId, Kind, Next, StepName, cid
from licensing.catalog import CatalogEntry, ProcedureStep


def describe(turn: Turn, app: ApplicationView) -> dict[str, Any]:
    """What the status message says about one application."""
    entry = turn.ctx.catalog.find(app.region, app.profession)
    tz = ZoneInfo(entry.region.timezone if entry else "Asia/Jakarta")
    today = turn.ctx.now.astimezone(tz).date()
    days_left = None
    if app.due_on is not None and entry is not None:
        days_left = turn.ctx.calendar.days_left(today, app.due_on, entry.deadline.unit.value)
    return {
        "app": app,
        "entry": entry,
        "step": _step_or_none(entry, app.step_code),
        "since": app.step_since.astimezone(tz).date(),
        "days_left": days_left,
        "unit": entry.deadline.unit.value if entry else "working",
        "rejected": [
            {"title": entry.requirement(d.requirement_code).title if entry else
             d.requirement_code, "reason": d.reason}
            for d in app.rejected
        ],
    }


def _step_or_none(entry: CatalogEntry | None, code: str) -> ProcedureStep | None:
    if entry is None:
        return None
    try:
        return entry.step(code)
    except KeyError:
        return None


@step(StepName.STATUS)
class Status:
    @staticmethod
    def prompt(turn: Turn) -> None:
        from conversations.flows.apply import draft_summary

        focus = turn.data.pop("status_focus", None)
        apps = list(turn.ctx.applications)
        if focus:
            apps = [a for a in apps if a.reg_no == focus] or apps
        draft = draft_summary(turn) if not focus else None
        resume = [turn.choice(Kind.DRAFT_CONTINUE, "apply.continue_draft")] if draft else []
        if not apps:
            key = "status.draft_only" if draft else "status.empty"
            turn.ask(key, [*resume, *nav(turn, back=False)], draft=draft)
            return
        apps.sort(key=lambda a: a.submitted_at, reverse=True)
        rows = [describe(turn, a) for a in apps]
        fixes = [
            Choice(cid(Kind.STATUS_FIX, a.reg_no),
                   turn.t("status.fix_documents", reg_no=a.reg_no))
            for a in apps if a.rejected and a.status == "open"
        ]
        permits = [
            Choice(cid(Kind.PERMIT, a.reg_no), turn.t("survey.download", reg_no=a.reg_no))
            if a.permit.downloadable else
            Choice(cid(Kind.SURVEY, a.reg_no), turn.t("survey.take_survey", reg_no=a.reg_no))
            for a in apps if a.permit is not None and a.permit.status == "issued"
        ]
        turn.ask("status.list", [*fixes, *permits, *resume, *nav(turn, back=False)],
                 rows=rows, draft=draft)

    @staticmethod
    def handle(turn: Turn, event: InboundEvent) -> Next:
        chosen = event.chosen
        if chosen is None:
            return UNHANDLED
        if chosen.kind is Kind.DRAFT_CONTINUE and turn.draft is not None:
            from conversations.flows.apply import resume_target

            return resume_target(turn)
        if chosen.kind is Kind.STATUS_FIX:
            return start_fix_of(turn, chosen)
        return UNHANDLED


def start_fix_of(turn: Turn, chosen: ChoiceId) -> Next:
    app = next((a for a in turn.ctx.applications if a.reg_no == chosen.arg), None)
    if app is None or not app.rejected:
        return UNHANDLED
    turn.data["fix"] = {"reg_no": app.reg_no, "scans": {}}
    return StepName.FIX_SCANS
