"""The survey's per-day totals, kept with every SurveyResponse (issue 15).

Whoever adds or deletes a SurveyResponse through the ORM moves the day's totals
(`SurveyDayTotal`, `SurveyDayProfile`) in the same transaction: session hooks,
registered when the service layer is imported (service/__init__.py), so tests and any
code path that writes responses keep them right. Raw SQL and COPY bypass the ORM:
refill the totals as migration 0017 does. The report reading them is service/ikm.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import ORMExecuteState, Session

from licensing.skm import ELEMENT_KEYS, PROFILE_KEYS, SCALE
from storage.models import Base, SurveyDayProfile, SurveyDayTotal, SurveyResponse

assert tuple(c.name for c in SurveyDayTotal.__table__.columns)[5:] == ELEMENT_KEYS


def survey_day(at: datetime) -> date:
    """The UTC day a response is summed under."""
    return at.astimezone(UTC).date()


def valid_answer(value: Any) -> bool:
    """What licensing.ikm.validate_response accepts for one element."""
    return isinstance(value, int) and not isinstance(value, bool) and value in SCALE


def profile_option(value: Any) -> str | None:
    """A profile answer as the report groups it (SQL `->>`: None for a missing or JSON
    null answer, the JSON text of a non-string)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def survey_totals_rows(response: Mapping[str, Any], sign: int = 1
                       ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The SurveyDayTotal increment and SurveyDayProfile increments of one response
    (its region, profession, submitted_at, profile and answers)."""
    key = {"region": response["region"], "day": survey_day(response["submitted_at"]),
           "profession": response["profession"]}
    answers = response["answers"] if isinstance(response["answers"], dict) else {}
    valid = all(valid_answer(answers.get(k)) for k in ELEMENT_KEYS)
    total = {**key, "respondents": sign, "invalid": 0 if valid else sign,
             **{k: sign * answers[k] if valid else 0 for k in ELEMENT_KEYS}}
    profile = response["profile"] if isinstance(response["profile"], dict) else {}
    options = {q: profile_option(profile.get(q)) for q in PROFILE_KEYS}
    profiles = [] if None in options.values() else [
        {**key, "question": q, "option": o, "respondents": sign} for q, o in options.items()]
    return total, profiles


def _add(session: Session, model: type[Base], rows: list[dict[str, Any]],
         keys: tuple[str, ...]) -> None:
    """Add `rows` to the counters: INSERT ... ON CONFLICT DO UPDATE (both backends), so
    two transactions counting into the same day never race on a read-modify-write."""
    if not rows:
        return
    table = model.__table__
    assert isinstance(table, Table)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(table)
    counters = [c.name for c in table.columns if c.name not in keys]
    session.execute(stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: table.c[c] + stmt.excluded[c] for c in counters}), rows)


_SURVEYED = ("region", "profession", "submitted_at", "profile", "answers")


def _count_surveys(session: Session, changes: list[tuple[Mapping[str, Any], int]]) -> None:
    totals: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []
    for response, sign in changes:
        total, rows = survey_totals_rows(response, sign)
        totals.append(total)
        profiles += rows
    _add(session, SurveyDayTotal, totals, ("region", "day", "profession"))
    _add(session, SurveyDayProfile, profiles,
         ("region", "day", "profession", "question", "option"))


_EDITED = ("a stored survey response is not edited (the IKM's per-day totals are summed "
           "from it)")


@event.listens_for(Session, "before_flush")
def _survey_totals(session: Session, flush_context: Any, instances: Any) -> None:
    """Whoever adds or deletes a SurveyResponse through the ORM moves the day's totals in
    the same transaction. Responses are never edited; an edit is refused rather than
    letting the totals drift from the rows."""
    changes: list[tuple[Mapping[str, Any], int]] = [
        ({k: getattr(r, k) for k in _SURVEYED}, sign)
               for objects, sign in ((session.new, 1), (session.deleted, -1))
               for r in objects if isinstance(r, SurveyResponse)]
    if any(isinstance(r, SurveyResponse) and session.is_modified(r) for r in session.dirty):
        raise ValueError(_EDITED)
    if changes:
        _count_surveys(session, changes)


@event.listens_for(Session, "do_orm_execute")
def _survey_totals_bulk(state: ORMExecuteState) -> None:
    """The same for `session.execute(insert(SurveyResponse), rows)` (no flush happens);
    bulk UPDATE/DELETE of responses is refused. Raw SQL and COPY bypass the ORM: refill
    the totals as migration 0017 does (bench/data_growth.py)."""
    mapper = state.bind_mapper
    if mapper is None or mapper.class_ is not SurveyResponse:
        return
    if state.is_update or state.is_delete:
        raise ValueError(_EDITED)
    if not state.is_insert:
        return
    params = state.parameters
    rows: list[Mapping[str, Any]] = (
        list(params) if isinstance(params, Sequence) else [params] if params else [])
    if not rows:
        raise ValueError("insert survey responses as parameter rows: the IKM's per-day "
                         "totals are computed from them")
    _count_surveys(state.session, [(row, 1) for row in rows])
