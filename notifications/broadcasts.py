"""Staff broadcasts: pick recipients, render a staff-written template per recipient,
queue it as bulk outbox rows in resumable chunks; pause, resume, cancel, progress.

Callers (the CLI, the back office page) pass who sends it; the rule "only admin and
head of office may send to more than one person" is enforced here, and every broadcast
is a row in `broadcasts` with its sender, selection and template.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import Select, func, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from conversations.i18n import DEFAULT_LANG, LANGUAGES, Translator
from conversations.types import OutMessage
from licensing.catalog import Catalog, Role
from licensing.dates import format_date
from notifications.once import insert_once
from service.outbox import PRIORITY_BULK, mark_written
from storage.models import (
    Applicant,
    Application,
    Broadcast,
    BroadcastRecipient,
    OutboxMessage,
)

log = logging.getLogger(__name__)

CHUNK = 500  # outbox rows per transaction: 5,000 recipients are ten short transactions
MAX_TEMPLATE = 4000
MAY_SEND_TO_MANY = frozenset({Role.ADMIN.value, Role.HEAD_OF_OFFICE.value})
PLACEHOLDERS = ("name", "reg_no", "step", "deadline")


class BroadcastError(ValueError):
    """Something the staff member can fix (bad template, no recipients)."""


class BroadcastDenied(PermissionError):
    """The sender's role may not send this broadcast."""


@dataclass(frozen=True)
class Selection:
    """Who receives it. Filters combine; `open_only` is "everyone with an open
    application"; `reg_no` picks one person."""

    region: str | None = None
    profession: str | None = None
    step: str | None = None
    open_only: bool = False
    reg_no: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, False)}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Selection:
        return Selection(**{k: data[k] for k in ("region", "profession", "step", "open_only",
                                                 "reg_no") if k in data})

    def is_empty(self) -> bool:
        return not self.to_json()


@dataclass(frozen=True)
class Recipient:
    applicant_id: int
    application_id: int
    unreachable: bool


@dataclass(frozen=True)
class RecipientCount:
    reachable: int
    unreachable: int  # marked unreachable by a platform: skipped

    @property
    def total(self) -> int:
        return self.reachable + self.unreachable


@dataclass(frozen=True)
class Preview:
    applicant_id: int
    reg_no: str
    text: str


@dataclass(frozen=True)
class Progress:
    broadcast_id: int
    status: str  # enqueuing | active | paused | cancelled | done
    sent: int
    pending: int  # queued or being sent
    held: int  # paused
    failed: int
    unreachable: int  # the platform said so now, or skipped as known unreachable
    cancelled: int
    queued: int

    @property
    def finished(self) -> bool:
        return self.status in ("done", "cancelled") or (
            self.status == "active" and self.pending == 0 and self.held == 0)


# --- templates ------------------------------------------------------------------------


@cache
def _sandbox() -> SandboxedEnvironment:
    # Staff-written: sandboxed (no attribute games), and a misspelt placeholder is an
    # error at preview time rather than an empty hole in 5,000 messages.
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


@lru_cache(maxsize=32)
def _compile(template: str) -> Any:
    if not template.strip():
        raise BroadcastError("the message is empty")
    if len(template) > MAX_TEMPLATE:
        raise BroadcastError(f"the message is longer than {MAX_TEMPLATE} characters")
    try:
        return _sandbox().from_string(template)
    except TemplateError as exc:
        raise BroadcastError(f"template error: {exc}") from exc


def placeholders(applicant: Applicant, application: Application,
                 catalog: Catalog) -> dict[str, str]:
    return _placeholders(
        catalog, lang=application.lang or applicant.lang, name=application.full_name
        or applicant.display_name or "", reg_no=application.reg_no, region=application.region,
        profession=application.profession, step_code=application.step_code,
        due_on=application.due_on)


@lru_cache(maxsize=1024)
def _step_label(catalog: Catalog, lang: str, region: str, profession: str, step: str) -> str:
    entry = catalog.find(region, profession)
    if entry is not None:
        # A code the catalog no longer has is shown as it is.
        with contextlib.suppress(KeyError):
            return str(Translator(lang)("steps.label", step=entry.step(step)))
    return step


def _placeholders(catalog: Catalog, *, lang: str, name: str, reg_no: str, region: str,
                  profession: str, step_code: str, due_on: date | None) -> dict[str, str]:
    return {
        "name": name,
        "reg_no": reg_no,
        "step": _step_label(catalog, lang, region, profession, step_code),
        "deadline": format_date(due_on, lang if lang in ("id", "en") else "id")
        if due_on else "-",
    }


def render(template: str, values: dict[str, str]) -> str:
    try:
        text = str(_compile(template).render(**values)).strip()
    except TemplateError as exc:
        raise BroadcastError(f"template error: {exc}") from exc
    if not text:
        raise BroadcastError("the message renders empty")
    return text


# Statements that only emit their body where they stand; any other (a macro, call,
# filter, set or autoescape block...) may transform what a placeholder printed.
_PLAIN = (nodes.Output, nodes.If, nodes.For, nodes.Assign, nodes.With)


@lru_cache(maxsize=32)
def _used(template: str) -> tuple[str, ...]:
    """The placeholders the template names (the others cannot change its text)."""
    names = {n.name for n in _sandbox().parse(template).find_all(nodes.Name)}
    return tuple(p for p in PLACEHOLDERS if p in names)


@lru_cache(maxsize=32)
def _printed_as_is(template: str) -> frozenset[str]:
    """The placeholders this template only prints bare (`{{ name }}`: no filter, test,
    condition or assignment touches them). Their text does not change the rest of the
    message, so it is rendered once with markers in their place, and each recipient's
    values are put in by `str.replace` (what Jinja's `{{ x }}` writes is `str(x)`)."""
    if "\x00" in template:
        return frozenset()  # the markers must not occur in the template itself
    tree = _sandbox().parse(template)
    if not all(isinstance(n, _PLAIN) for n in tree.find_all(nodes.Stmt)):
        return frozenset()
    bare = {id(n) for out in tree.find_all(nodes.Output) for n in out.nodes
            if isinstance(n, nodes.Name) and n.ctx == "load"}
    used = [n for n in tree.find_all(nodes.Name) if n.name in PLACEHOLDERS]
    return frozenset(n.name for n in used) - {n.name for n in used if id(n) not in bare}


class _Renderer:
    """`render` for many recipients: the template is rendered once per distinct value of
    the placeholders it does more than print (often once in all), then each
    recipient's printed values replace the markers. The same text as `render`, tested
    against it (60,000 Jinja renders were a fifth of a province-wide broadcast)."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.shared = _printed_as_is(template)
        self.keyed = tuple(p for p in _used(template) if p not in self.shared)
        self.skeletons: dict[tuple[str, ...], str] = {}

    def __call__(self, values: dict[str, str]) -> str:
        if not self.shared or any("\x00" in values[p] for p in self.shared):
            return render(self.template, values)
        key = tuple(values[p] for p in self.keyed)
        skeleton = self.skeletons.get(key)
        if skeleton is None:
            try:
                skeleton = str(_compile(self.template).render(
                    {**values, **{p: f"\x00{p}\x00" for p in self.shared}}))
            except TemplateError as exc:
                raise BroadcastError(f"template error: {exc}") from exc
            self.skeletons[key] = skeleton
        text = skeleton
        for p in self.shared:
            text = text.replace(f"\x00{p}\x00", values[p])
        # Stripping after the replacement is render's strip: markers are not whitespace.
        text = text.strip()
        if not text:
            raise BroadcastError("the message renders empty")
        return text


# --- recipients -----------------------------------------------------------------------


def _recipients(selection: Selection) -> Select[Any]:
    """One row per applicant: their latest matching application, ordered by applicant."""
    latest = select(Application.applicant_id, func.max(Application.id).label("app_id"))
    if selection.region:
        latest = latest.where(Application.region == selection.region)
    if selection.profession:
        latest = latest.where(Application.profession == selection.profession)
    if selection.step:
        latest = latest.where(Application.step_code == selection.step)
    if selection.open_only:
        latest = latest.where(Application.status == "open")
    if selection.reg_no:
        latest = latest.where(Application.reg_no == selection.reg_no)
    sub = latest.group_by(Application.applicant_id).subquery()
    return (select(Applicant.id, sub.c.app_id, Applicant.unreachable_at)
            .join(sub, sub.c.applicant_id == Applicant.id)
            .order_by(Applicant.id))


def _check_selection(selection: Selection) -> None:
    if selection.is_empty():
        raise BroadcastError("choose recipients: a region, profession, step, open "
                             "applications or one registration number")


async def count_recipients(sessions: async_sessionmaker[AsyncSession],
                           selection: Selection) -> RecipientCount:
    _check_selection(selection)
    sub = _recipients(selection).order_by(None).subquery()
    async with sessions() as session:
        rows = (await session.execute(
            select(sub.c.unreachable_at.is_(None), func.count()).group_by(
                sub.c.unreachable_at.is_(None)))).all()
    counts = {bool(reachable): int(n) for reachable, n in rows}
    return RecipientCount(reachable=counts.get(True, 0), unreachable=counts.get(False, 0))


async def preview(sessions: async_sessionmaker[AsyncSession], catalog: Catalog, *,
                  selection: Selection, template: str,
                  applicant_id: int | None = None) -> Preview:
    """The message as one real recipient (the first, or `applicant_id`) will read it."""
    _check_selection(selection)
    _compile(template)
    stmt = _recipients(selection).where(Applicant.unreachable_at.is_(None))
    if applicant_id is not None:
        stmt = stmt.where(Applicant.id == applicant_id)
    async with sessions() as session:
        row = (await session.execute(stmt.limit(1))).first()
        if row is None:
            raise BroadcastError("no reachable recipient matches")
        applicant = await session.get(Applicant, row[0])
        application = await session.get(Application, row[1])
        assert applicant is not None and application is not None
        text = render(template, placeholders(applicant, application, catalog))
        return Preview(applicant_id=applicant.id, reg_no=application.reg_no, text=text)


# --- sending --------------------------------------------------------------------------


async def create_broadcast(sessions: async_sessionmaker[AsyncSession], catalog: Catalog, *,
                           selection: Selection, template: str, sender_username: str,
                           sender_role: str, now: datetime, urgent: bool = False,
                           enqueue: bool = True, chunk: int = CHUNK) -> int:
    """Check, log and queue a broadcast; returns its id. With `enqueue=False` only the
    row is written (a background job or `resume_enqueues` queues it)."""
    if sender_role not in {r.value for r in Role} or sender_role == Role.APPLICANT.value:
        raise BroadcastDenied(f"unknown staff role {sender_role!r}")
    if not sender_username.strip():
        raise BroadcastDenied("a broadcast needs the sender's username")
    count = await count_recipients(sessions, selection)
    if count.total == 0:
        raise BroadcastError("no recipient matches")
    if count.total > 1 and sender_role not in MAY_SEND_TO_MANY:
        raise BroadcastDenied("only admin and head_of_office may send to more than one "
                              f"person ({count.total} match)")
    if count.reachable:
        await preview(sessions, catalog, selection=selection, template=template)
    else:
        _compile(template)
    async with sessions() as session, session.begin():
        b = Broadcast(created_at=now, sender_username=sender_username,
                      sender_role=sender_role, selection=selection.to_json(),
                      template=template, urgent=urgent, status="enqueuing", cursor=0,
                      queued=0, skipped_unreachable=0)
        session.add(b)
        await session.flush()
        broadcast_id = b.id
    log.info("broadcast %s by %s (%s) to %s recipients: %s", broadcast_id, sender_username,
             sender_role, count.total, selection.to_json())
    if enqueue:
        await enqueue_all(sessions, catalog, broadcast_id, now=now, chunk=chunk)
    return broadcast_id


async def enqueue_chunk(sessions: async_sessionmaker[AsyncSession], catalog: Catalog,
                        broadcast_id: int, *, now: datetime, chunk: int = CHUNK) -> bool:
    """Queue the next `chunk` recipients in one transaction; False when there are none
    left (or the broadcast was cancelled). Safe to repeat: a row already queued for this
    (broadcast, applicant) is skipped by its dedupe key."""
    async with sessions() as session, session.begin():
        b = await session.get(Broadcast, broadcast_id, with_for_update=True)
        if b is None or b.status == "cancelled" or b.enqueued_at is not None:
            return False
        if b.cursor == 0 and await session.scalar(
                select(BroadcastRecipient.applicant_id)
                .where(BroadcastRecipient.broadcast_id == b.id).limit(1)) is None:
            await _materialise(session, b.id, Selection.from_json(b.selection))
        status = "held" if b.status == "paused" else "pending"
        pieces = _sql_pieces(b.template)
        if pieces is not None and session.get_bind().dialect.name == "postgresql":
            done = await _enqueue_in_sql(session, catalog, b, pieces, status=status,
                                         now=now, chunk=chunk)
            if not done:
                b.enqueued_at = now
                if b.status == "enqueuing":
                    b.status = "active"
            return done
        # Plain columns, not ORM objects: a 50,000-person broadcast reads 50,000 rows.
        rows = (await session.execute(
            select(BroadcastRecipient.applicant_id, Applicant.unreachable_at,
                   Applicant.channel, Applicant.external_id, Applicant.lang,
                   Applicant.display_name, Application.lang, Application.full_name,
                   Application.reg_no, Application.region, Application.profession,
                   Application.step_code, Application.due_on)
            .join(Applicant, Applicant.id == BroadcastRecipient.applicant_id)
            .join(Application, Application.id == BroadcastRecipient.application_id)
            .where(BroadcastRecipient.broadcast_id == b.id,
                   BroadcastRecipient.applicant_id > b.cursor,
                   # Said twice: the planner's merge join on applicants otherwise
                   # walked its index from the first id to the cursor in every chunk.
                   Applicant.id > b.cursor)
            .order_by(BroadcastRecipient.applicant_id).limit(chunk))).all()
        if not rows:
            b.enqueued_at = now
            if b.status == "enqueuing":
                b.status = "active"
            return False
        zones = {r.slug: r.timezone for r in catalog.regions()}
        render_one = _Renderer(b.template)
        values: list[dict[str, Any]] = []
        skipped = 0
        for (applicant_id, unreachable_at, channel, chat_id, applicant_lang, display_name,
             lang, full_name, reg_no, region, profession, step_code, due_on) in rows:
            if unreachable_at is not None:
                skipped += 1
                continue
            text = render_one(_placeholders(
                catalog, lang=lang or applicant_lang, name=full_name or display_name or "",
                reg_no=reg_no, region=region, profession=profession, step_code=step_code,
                due_on=due_on))
            values.append(dict(
                applicant_id=applicant_id, channel=channel, chat_id=chat_id,
                payload=OutMessage(kind="text", text=text).to_payload(),
                priority=PRIORITY_BULK, status=status, attempts=0, next_attempt_at=now,
                created_at=now, dedupe_key=f"broadcast:{b.id}:{applicant_id}",
                notification_type="broadcast", urgent=b.urgent, quiet_tz=zones.get(region),
                broadcast_id=b.id))
        b.queued += await insert_once(session, OutboxMessage, values)
        b.skipped_unreachable += skipped
        b.cursor = rows[-1][0]
        return True


# Python's str.strip() removes these (render strips the message); PostgreSQL's btrim
# is given the same set.
_WHITESPACE = "".join(c for c in map(chr, range(0x110000)) if c.isspace())


@lru_cache(maxsize=32)
def _sql_pieces(template: str) -> tuple[str | tuple[str], ...] | None:
    """The message as literal text and placeholders in order, when every placeholder the
    template names is printed bare (then one render with markers gives the layout of
    every recipient's message, and PostgreSQL can put it together); else None."""
    try:
        _compile(template)
    except BroadcastError:
        return None
    shared = _printed_as_is(template)
    if any(p not in shared for p in _used(template)):
        return None
    try:
        skeleton = str(_compile(template).render({p: f"\x00{p}\x00" for p in PLACEHOLDERS}))
    except TemplateError:
        return None  # the Python path raises the same error, worded as before
    parts = re.split("\x00(" + "|".join(PLACEHOLDERS) + ")\x00", skeleton)
    if any("\x00" in part for part in parts[::2]):
        return None
    return tuple(part if i % 2 == 0 else (part,) for i, part in enumerate(parts))


async def _enqueue_in_sql(session: AsyncSession, catalog: Catalog, b: Broadcast,
                          pieces: tuple[str | tuple[str], ...], *, status: str,
                          now: datetime, chunk: int) -> bool:
    """The next chunk in one INSERT … SELECT: PostgreSQL joins the audience, writes each
    message from the template's pieces (step labels and month names given as small
    tables from the catalog) and inserts the outbox rows; nothing per recipient passes
    through Python. The same rows as the Python path (tests/test_broadcast.py)."""
    steps = [(lang, e.region.slug, e.profession.slug, st.code,
              _step_label(catalog, lang, e.region.slug, e.profession.slug, st.code))
             for lang in LANGUAGES for e in catalog for st in e.procedure]
    months = [(lang, m, format_date(date(2000, m, 1), lang).split(" ")[1])
              for lang in ("id", "en") for m in range(1, 13)]
    zones = [(r.slug, r.timezone) for r in catalog.regions()]
    values: dict[str, Any] = {
        "b": b.id, "cursor": b.cursor, "chunk": chunk, "status": status, "now": now,
        "urgent": b.urgent, "priority": PRIORITY_BULK, "ws": _WHITESPACE,
        "default_lang": DEFAULT_LANG, "langs": list(LANGUAGES),
        **{f"s{i}": list(col) for i, col in enumerate(zip(*steps, strict=True))},
        **{f"m{i}": list(col) for i, col in enumerate(zip(*months, strict=True))},
        **{f"z{i}": list(col) for i, col in enumerate(zip(*zones, strict=True))}}
    columns = {"name": "c.name", "reg_no": "c.reg_no",
               "step": "COALESCE(s.label, c.step_code)",
               "deadline": "CASE WHEN c.due_on IS NULL THEN '-' ELSE "
                           "extract(day FROM c.due_on)::int::text || ' ' || m.name || ' ' "
                           "|| extract(year FROM c.due_on)::int::text END"}
    message = []
    for i, piece in enumerate(pieces):
        if isinstance(piece, tuple):
            message.append(columns[piece[0]])
        elif piece:
            values[f"lit{i}"] = piece
            message.append(f"CAST(:lit{i} AS TEXT)")
    stmt = text(f"""
WITH picked AS MATERIALIZED (
    -- The chunk first, by primary key (fresh rows have no statistics yet: joined first,
    -- the planner read every remaining recipient and sorted them for each chunk).
    SELECT applicant_id, application_id FROM broadcast_recipients
    WHERE broadcast_id = CAST(:b AS BIGINT) AND applicant_id > CAST(:cursor AS BIGINT)
    ORDER BY applicant_id LIMIT CAST(:chunk AS INT)
), chunk AS (
    SELECT r.applicant_id, ap.unreachable_at, ap.channel, ap.external_id,
           CASE WHEN app.lang <> '' THEN app.lang ELSE ap.lang END AS lang,
           COALESCE(NULLIF(app.full_name, ''), NULLIF(ap.display_name, ''), '') AS name,
           app.reg_no, app.region, app.profession, app.step_code, app.due_on
    FROM picked r
    JOIN applicants ap ON ap.id = r.applicant_id
    JOIN applications app ON app.id = r.application_id
), msg AS (
    SELECT c.applicant_id, c.unreachable_at, c.channel, c.external_id, z.tz,
           btrim({" || ".join(message) or "''"}, CAST(:ws AS TEXT)) AS body
    FROM chunk c
    LEFT JOIN unnest(CAST(:s0 AS TEXT[]), CAST(:s1 AS TEXT[]), CAST(:s2 AS TEXT[]),
                     CAST(:s3 AS TEXT[]), CAST(:s4 AS TEXT[]))
              AS s(lang, region, profession, step_code, label)
           ON s.lang = CASE WHEN c.lang = ANY(CAST(:langs AS TEXT[])) THEN c.lang
                            ELSE CAST(:default_lang AS TEXT) END
              AND s.region = c.region AND s.profession = c.profession
              AND s.step_code = c.step_code
    LEFT JOIN unnest(CAST(:m0 AS TEXT[]), CAST(:m1 AS INT[]), CAST(:m2 AS TEXT[]))
              AS m(lang, month, name)
           ON m.lang = CASE WHEN c.lang IN ('id', 'en') THEN c.lang ELSE 'id' END
              AND m.month = extract(month FROM c.due_on)
    LEFT JOIN unnest(CAST(:z0 AS TEXT[]), CAST(:z1 AS TEXT[])) AS z(region, tz)
           ON z.region = c.region
), ins AS (
    INSERT INTO outbox (applicant_id, channel, chat_id, payload, priority, status, attempts,
                        next_attempt_at, created_at, dedupe_key, notification_type, urgent,
                        quiet_tz, broadcast_id)
    SELECT applicant_id, channel, external_id, json_build_object('kind', 'text', 'text', body),
           CAST(:priority AS INT), CAST(:status AS TEXT), 0, CAST(:now AS TIMESTAMPTZ),
           CAST(:now AS TIMESTAMPTZ),
           'broadcast:' || CAST(:b AS BIGINT) || ':' || applicant_id, 'broadcast',
           CAST(:urgent AS BOOLEAN), tz, CAST(:b AS BIGINT)
    FROM msg WHERE unreachable_at IS NULL
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM msg), (SELECT max(applicant_id) FROM msg),
       (SELECT count(*) FROM msg WHERE unreachable_at IS NOT NULL),
       (SELECT count(*) FROM msg WHERE unreachable_at IS NULL AND body = ''),
       (SELECT count(*) FROM ins)""")
    seen, last, skipped, empty, inserted = (await session.execute(stmt, values)).one()
    if not seen:
        return False
    if empty:
        raise BroadcastError("the message renders empty")  # the chunk is rolled back
    b.queued += int(inserted)
    b.skipped_unreachable += int(skipped)
    b.cursor = int(last)
    if inserted:
        mark_written(session)
    return True


async def _materialise(session: AsyncSession, broadcast_id: int, selection: Selection) -> None:
    """The audience, chosen once (one INSERT … SELECT) when queuing starts: each chunk
    then reads its next rows by primary key instead of grouping every application again
    (which made a 50,000-person broadcast quadratic). Who applies meanwhile is not in it."""
    sub = _recipients(selection).order_by(None).subquery()
    await session.execute(insert(BroadcastRecipient).from_select(
        ["broadcast_id", "applicant_id", "application_id"],
        select(literal(broadcast_id), sub.c.id, sub.c.app_id)))
    if session.get_bind().dialect.name == "postgresql":
        # Thousands of new rows the statistics don't know yet: without this the planner
        # guessed a few hundred and read (and sorted) every remaining one per chunk.
        await session.execute(text("ANALYZE broadcast_recipients"))


async def enqueue_all(sessions: async_sessionmaker[AsyncSession], catalog: Catalog,
                      broadcast_id: int, *, now: datetime, chunk: int = CHUNK) -> None:
    chunks = 0
    while await enqueue_chunk(sessions, catalog, broadcast_id, now=now, chunk=chunk):
        chunks += 1
    if chunks:
        await _analyze_outbox(sessions)


async def _analyze_outbox(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Thousands of new rows at once leave PostgreSQL's statistics stale until
    autovacuum comes by, and the claim's anti-join then picked a plan that scanned the
    chat index once per row (740 ms instead of 2 ms per claim, bench/broadcast.py)."""
    async with sessions() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text("ANALYZE outbox"))


async def resume_enqueues(sessions: async_sessionmaker[AsyncSession], catalog: Catalog, *,
                          now: datetime) -> int:
    """Finish queuing broadcasts a process left half-queued (run by the jobs loop)."""
    async with sessions() as session:
        ids = (await session.scalars(select(Broadcast.id).where(
            Broadcast.enqueued_at.is_(None), Broadcast.status != "cancelled"))).all()
    for broadcast_id in ids:
        await enqueue_all(sessions, catalog, broadcast_id, now=now)
    return len(ids)


async def _set_status(sessions: async_sessionmaker[AsyncSession], broadcast_id: int, *,
                      allowed: tuple[str, ...], to: str | None, rows_from: tuple[str, ...],
                      rows_to: str, now: datetime) -> int:
    async with sessions() as session, session.begin():
        b = await session.get(Broadcast, broadcast_id, with_for_update=True)
        if b is None:
            raise BroadcastError(f"no broadcast {broadcast_id}")
        if b.status not in allowed:
            raise BroadcastError(f"broadcast {broadcast_id} is {b.status}")
        if to is not None:
            b.status = to
        elif b.enqueued_at is None:
            b.status = "enqueuing"
        else:
            b.status = "active"
        if rows_to == "cancelled":
            b.cancelled_at = now
        result = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.broadcast_id == broadcast_id,
                   OutboxMessage.status.in_(rows_from))
            .values(status=rows_to))
        return int(getattr(result, "rowcount", 0))


async def pause(sessions: async_sessionmaker[AsyncSession], broadcast_id: int, *,
                now: datetime) -> int:
    """Hold every row not yet claimed; returns how many. Rows being sent finish."""
    return await _set_status(sessions, broadcast_id, allowed=("enqueuing", "active"),
                             to="paused", rows_from=("pending",), rows_to="held", now=now)


async def resume(sessions: async_sessionmaker[AsyncSession], broadcast_id: int, *,
                 now: datetime) -> int:
    return await _set_status(sessions, broadcast_id, allowed=("paused",), to=None,
                             rows_from=("held",), rows_to="pending", now=now)


async def cancel(sessions: async_sessionmaker[AsyncSession], broadcast_id: int, *,
                 now: datetime) -> int:
    """Nothing more is sent or queued; returns how many rows were withdrawn."""
    return await _set_status(sessions, broadcast_id, allowed=("enqueuing", "active", "paused"),
                             to="cancelled", rows_from=("pending", "held"),
                             rows_to="cancelled", now=now)


async def progress(sessions: async_sessionmaker[AsyncSession], broadcast_id: int) -> Progress:
    async with sessions() as session:
        b = await session.get(Broadcast, broadcast_id)
        if b is None:
            raise BroadcastError(f"no broadcast {broadcast_id}")
        counts = {status: int(n) for status, n in (await session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.broadcast_id == broadcast_id)
            .group_by(OutboxMessage.status))).all()}
    pending = counts.get("pending", 0) + counts.get("sending", 0)
    status = b.status
    if status == "active" and pending == 0 and counts.get("held", 0) == 0:
        status = "done"
    return Progress(broadcast_id=b.id, status=status, sent=counts.get("sent", 0),
                    pending=pending, held=counts.get("held", 0),
                    failed=counts.get("failed", 0),
                    unreachable=counts.get("unreachable", 0) + b.skipped_unreachable,
                    cancelled=counts.get("cancelled", 0), queued=b.queued)


async def list_broadcasts(sessions: async_sessionmaker[AsyncSession], *,
                          limit: int = 50) -> list[Broadcast]:
    """The log: newest first, with sender and selection."""
    async with sessions() as session:
        return list((await session.scalars(
            select(Broadcast).order_by(Broadcast.id.desc()).limit(limit))).all())
