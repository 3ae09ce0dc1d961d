"""Broadcasts: selection, count, preview, roles, sandbox, resumable enqueue, pause,
resume, cancel, progress, unreachable skipped, replies first. (5,000 at the real rate,
over HTTP to the fake platform servers: tests/test_broadcast_platforms.py.)"""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import select, update

from bot.composition import App
from conversations.types import OutMessage
from notifications import broadcasts as bc
from notifications.dispatcher import Delivery, SendResult
from notifications.runner import Dispatcher
from service.outbox import enqueue
from storage.models import Applicant, Application, Broadcast, BroadcastRecipient, OutboxMessage
from tests.conftest import Clock
from tests.notify_data import add_applicants
from tests.rate_fake import RateLimitedFake

TEMPLATE = "Halo {{ name }}, berkas {{ reg_no }} ada di tahap {{ step }} (batas {{ deadline }})."


def _dispatcher(app: App, sender: RateLimitedFake, clock: Clock, rate: float = 1000,
                per_chat: float = 0) -> Dispatcher:
    return Dispatcher(app.sessions, sender, rate_per_second=rate, per_chat_interval=per_chat,
                      clock=clock)


async def _outbox(app: App) -> list[OutboxMessage]:
    async with app.sessions() as s:
        return list((await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_selection_count_and_preview_with_placeholders(app: App, clock: Clock) -> None:
    await add_applicants(app.sessions, 3, now=clock.now, prefix="a")
    await add_applicants(app.sessions, 2, now=clock.now, prefix="b", step_code="kajian_teknis")
    await add_applicants(app.sessions, 1, now=clock.now, prefix="c", status="issued")
    await add_applicants(app.sessions, 2, now=clock.now, prefix="d", region="metro")
    sessions = app.sessions
    assert (await bc.count_recipients(sessions, bc.Selection(region="purwakarta"))).total == 6
    assert (await bc.count_recipients(sessions, bc.Selection(
        region="purwakarta", open_only=True))).total == 5
    assert (await bc.count_recipients(sessions, bc.Selection(open_only=True))).total == 7
    assert (await bc.count_recipients(sessions, bc.Selection(step="kajian_teknis"))).total == 2
    assert (await bc.count_recipients(sessions, bc.Selection(
        profession="perekam-medis"))).total == 0
    p = await bc.preview(sessions, app.catalog, selection=bc.Selection(step="kajian_teknis"),
                         template=TEMPLATE)
    assert p.text == ("Halo Nama 0, berkas PWK-b0 ada di tahap Kajian teknis — Tim Teknis "
                      "(batas "
                      "14 Desember 2026).")
    with pytest.raises(bc.BroadcastError):  # no filter at all is refused, not "everyone"
        await bc.count_recipients(app.sessions, bc.Selection())


async def test_templates_are_sandboxed_and_strict(app: App, clock: Clock) -> None:
    await add_applicants(app.sessions, 1, now=clock.now)
    sel = bc.Selection(open_only=True)
    for bad in ("{{ name.__class__.__mro__ }}", "{{ nama }}", "{% if %}", "   "):
        with pytest.raises(bc.BroadcastError):
            await bc.preview(app.sessions, app.catalog, selection=sel, template=bad)
    assert await _outbox(app) == []


async def test_only_admin_and_head_of_office_send_to_many(app: App, clock: Clock) -> None:
    await add_applicants(app.sessions, 2, now=clock.now)
    sel = bc.Selection(open_only=True)
    with pytest.raises(bc.BroadcastDenied):
        await bc.create_broadcast(app.sessions, app.catalog, selection=sel, template="x",
                                  sender_username="fo", sender_role="front_office",
                                  now=clock.now)
    with pytest.raises(bc.BroadcastDenied):
        await bc.create_broadcast(app.sessions, app.catalog, selection=sel, template="x",
                                  sender_username="z", sender_role="wizard", now=clock.now)
    assert await _outbox(app) == []
    one = await bc.create_broadcast(app.sessions, app.catalog,
                                    selection=bc.Selection(reg_no="PWK-c1"), template="x",
                                    sender_username="fo", sender_role="front_office",
                                    now=clock.now)
    many = await bc.create_broadcast(app.sessions, app.catalog, selection=sel,
                                     template="Halo {{ name }}", sender_username="kadis",
                                     sender_role="head_of_office", now=clock.now)
    log = await bc.list_broadcasts(app.sessions)
    assert [(b.id, b.sender_username, b.sender_role) for b in log] == [
        (many, "kadis", "head_of_office"), (one, "fo", "front_office")]
    rows = await _outbox(app)
    assert [(r.broadcast_id, r.payload["text"]) for r in rows] == [
        (one, "x"), (many, "Halo Nama 0"), (many, "Halo Nama 1")]
    assert {(r.priority, r.notification_type, r.urgent, r.quiet_tz) for r in rows} == {
        (9, "broadcast", False, "Asia/Jakarta")}


async def test_interrupted_enqueue_resumes_without_queuing_twice(app: App,
                                                                 clock: Clock) -> None:
    await add_applicants(app.sessions, 10, now=clock.now)
    bid = await bc.create_broadcast(app.sessions, app.catalog,
                                    selection=bc.Selection(open_only=True), template="hi",
                                    sender_username="admin", sender_role="admin",
                                    now=clock.now, enqueue=False)
    assert await bc.enqueue_chunk(app.sessions, app.catalog, bid, now=clock.now, chunk=4)
    assert (await bc.progress(app.sessions, bid)).status == "enqueuing"
    # A process died after its chunk committed but, say, with the cursor lost: the
    # next run starts again from the beginning and the dedupe keys absorb the repeat.
    async with app.sessions() as s, s.begin():
        await s.execute(update(Broadcast).where(Broadcast.id == bid).values(cursor=0))
    assert await bc.resume_enqueues(app.sessions, app.catalog, now=clock.now) == 1
    rows = await _outbox(app)
    assert len(rows) == 10 and len({r.applicant_id for r in rows}) == 10
    prog = await bc.progress(app.sessions, bid)
    assert (prog.status, prog.queued, prog.pending) == ("active", 10, 10)
    assert await bc.resume_enqueues(app.sessions, app.catalog, now=clock.now) == 0


async def test_pause_resume_cancel_and_progress(app: App, clock: Clock) -> None:
    await add_applicants(app.sessions, 6, now=clock.now)
    sender = RateLimitedFake(per_second=1000, per_chat_interval=0)
    bid = await bc.create_broadcast(app.sessions, app.catalog,
                                    selection=bc.Selection(open_only=True), template="hi",
                                    sender_username="admin", sender_role="admin",
                                    now=clock.now)
    assert await bc.pause(app.sessions, bid, now=clock.now) == 6
    await _dispatcher(app, sender, clock).drain()
    assert sender.delivered == {}
    prog = await bc.progress(app.sessions, bid)
    assert (prog.status, prog.held, prog.sent, prog.finished) == ("paused", 6, 0, False)
    assert await bc.resume(app.sessions, bid, now=clock.now) == 6
    await _dispatcher(app, sender, clock).drain()
    prog = await bc.progress(app.sessions, bid)
    assert (prog.status, prog.sent, prog.pending, prog.finished) == ("done", 6, 0, True)

    other = await bc.create_broadcast(app.sessions, app.catalog,
                                      selection=bc.Selection(open_only=True), template="2nd",
                                      sender_username="admin", sender_role="admin",
                                      now=clock.now)
    assert await bc.cancel(app.sessions, other, now=clock.now) == 6
    await _dispatcher(app, sender, clock).drain()
    prog = await bc.progress(app.sessions, other)
    assert (prog.status, prog.cancelled, prog.sent) == ("cancelled", 6, 0)
    assert sum(sender.delivered.values()) == 6
    with pytest.raises(bc.BroadcastError):
        await bc.resume(app.sessions, other, now=clock.now)


async def test_unreachable_marked_by_a_platform_are_skipped_next_time(app: App,
                                                                      clock: Clock) -> None:
    ids = await add_applicants(app.sessions, 4, now=clock.now)
    sel = bc.Selection(open_only=True)

    class Blocking(RateLimitedFake):
        async def send(self, delivery: Delivery) -> SendResult:
            if delivery.applicant_id == ids[1]:
                return SendResult(ok=False, unreachable=True, error="403 blocked")
            return await super().send(delivery)

    sender = Blocking(per_second=1000, per_chat_interval=0)
    first = await bc.create_broadcast(app.sessions, app.catalog, selection=sel, template="a",
                                      sender_username="admin", sender_role="admin",
                                      now=clock.now)
    await _dispatcher(app, sender, clock).drain()
    prog = await bc.progress(app.sessions, first)
    assert (prog.sent, prog.unreachable) == (3, 1)
    count = await bc.count_recipients(app.sessions, sel)
    assert (count.reachable, count.unreachable) == (3, 1)
    second = await bc.create_broadcast(app.sessions, app.catalog, selection=sel, template="b",
                                       sender_username="admin", sender_role="admin",
                                       now=clock.now)
    async with app.sessions() as s:
        queued = (await s.scalars(select(OutboxMessage.applicant_id).where(
            OutboxMessage.broadcast_id == second))).all()
    assert sorted(queued) == [ids[0], ids[2], ids[3]]
    prog = await bc.progress(app.sessions, second)
    assert (prog.queued, prog.unreachable) == (3, 1)


async def test_a_broadcast_never_starves_live_replies(app: App, clock: Clock) -> None:
    await add_applicants(app.sessions, 300, now=clock.now)
    sender = RateLimitedFake(per_second=100, per_chat_interval=0)
    await bc.create_broadcast(app.sessions, app.catalog, selection=bc.Selection(open_only=True),
                              template="bulk", sender_username="admin", sender_role="admin",
                              now=clock.now)
    dispatcher = _dispatcher(app, sender, clock, rate=100)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop))
    while sum(sender.delivered.values()) < 50:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    async with app.sessions() as s, s.begin():
        live = await s.scalar(select(Applicant).where(Applicant.external_id == "c299"))
        assert live is not None
        reply = enqueue(s, live, OutMessage(kind="text", text="reply"), now=clock.now)
        await s.flush()
        reply_id = reply.id
        sent_before = sum(sender.delivered.values())
    dispatcher.wake()
    while reply_id not in sender.delivered:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    sent_until_reply = len(sender.delivered)
    stop.set()
    await task
    # The reply went with the next claim: behind at most the two batches already out
    # (the one sending and the one claimed ahead: one second's worth), while about 250
    # bulk rows were still waiting.
    assert sent_until_reply - sent_before <= 2 * dispatcher.batch + 1
    assert sent_until_reply < 200


async def test_the_audience_is_chosen_once_when_queuing_starts(app: App, clock: Clock) -> None:
    await add_applicants(app.sessions, 6, now=clock.now, prefix="a")
    bid = await bc.create_broadcast(app.sessions, app.catalog,
                                    selection=bc.Selection(open_only=True), template="hi",
                                    sender_username="admin", sender_role="admin",
                                    now=clock.now, enqueue=False)
    assert await bc.enqueue_chunk(app.sessions, app.catalog, bid, now=clock.now, chunk=2)
    async with app.sessions() as s:
        audience = (await s.scalars(select(BroadcastRecipient.applicant_id).where(
            BroadcastRecipient.broadcast_id == bid))).all()
    assert len(audience) == 6  # all of them, though only two are queued yet
    # Someone who applies while it is being queued is not added halfway through.
    await add_applicants(app.sessions, 3, now=clock.now, prefix="late")
    await bc.enqueue_all(app.sessions, app.catalog, bid, now=clock.now, chunk=2)
    rows = await _outbox(app)
    assert sorted(r.applicant_id for r in rows) == sorted(audience)
    assert (await bc.progress(app.sessions, bid)).queued == 6


# The per-recipient renderer (a template rendered once, values put in by replacement)
# against the plain Jinja render, on templates that may and may not take that path.
SHARED_TEMPLATES = {
    TEMPLATE: {"name", "reg_no", "step", "deadline"},
    "{{ name }}": {"name"},
    "  {{- name -}}  \n": {"name"},
    "{{ name }} / {{ name }} {{ reg_no }}{{ step }}": {"name", "reg_no", "step"},
    "{% if step == 'Proses' %}Halo {{ name }}{% else %}Yth. {{ name }}{% endif %}":
        {"name"},
    "{% for i in range(2) %}{{ name }}{{ i }} {% endfor %}{% set x = 1 %}{{ x }}":
        {"name"},
    "Halo {{ name|upper }} {{ reg_no }}": {"reg_no"},
    "{% if name %}{{ name }}{% endif %}.": set(),
    "{{ name ~ '!' }} {{ name[:3] }}": set(),
    "{% set name = reg_no %}{{ name }}": set(),
    "{% filter upper %}{{ name }}{% endfilter %}": set(),
    "{% set x %}{{ name }}{% endset %}{{ x|lower }}": set(),
    "{% macro m(n) %}{{ n }}{% endmacro %}{{ m(name)|trim }}": set(),
    "{% autoescape true %}{{ name }}{% endautoescape %}": set(),
    "{{ undefined_thing }} {{ name }}": {"name"},
}
VALUES = [
    {"name": "Siti Rahma", "reg_no": "PWK-26-1", "step": "Proses", "deadline": "1 Mei"},
    {"name": "  \u00a0", "reg_no": "", "step": "Proses", "deadline": "-"},
    {"name": "", "reg_no": "", "step": "", "deadline": ""},
    {"name": "<b>&amp;</b> {{ x }}", "reg_no": "\x00name\x00", "step": "Verifikasi",
     "deadline": "-"},
    {"name": "\tAgus\n", "reg_no": "MTR-1", "step": "Proses", "deadline": "2 Juni"},
]


def _either(fn: object, values: dict[str, str]) -> str:
    try:
        return str(fn(values))  # type: ignore[operator]
    except bc.BroadcastError as exc:
        return f"error: {exc}"


def test_rendering_once_per_template_gives_render_s_text() -> None:
    for template, shared in SHARED_TEMPLATES.items():
        assert bc._printed_as_is(template) == shared, template
        renderer = bc._Renderer(template)
        for values in VALUES:
            assert _either(renderer, values) == _either(
                lambda v, t=template: bc.render(t, v), values), (template, values)
    for template, renders in ((TEMPLATE, 1), ("{{ name }}", 1),
                              ("{% if step %}{{ name }}{% endif %}", 3)):
        many = bc._Renderer(template)
        for values in VALUES * 3:
            _either(many, values)
        assert len(many.skeletons) == renders  # Jinja ran once per distinct step


async def _queued(app: App, bid: int) -> dict[int, tuple[object, ...]]:
    async with app.sessions() as s:
        rows = (await s.scalars(select(OutboxMessage).where(
            OutboxMessage.broadcast_id == bid))).all()
    return {r.applicant_id: (r.channel, r.chat_id, r.payload, r.priority, r.status,
                             r.attempts, r.next_attempt_at, r.created_at,
                             r.dedupe_key.replace(f":{bid}:", ":"), r.notification_type,
                             r.urgent, r.quiet_tz) for r in rows if r.dedupe_key}


async def test_postgres_queues_in_sql_exactly_what_python_renders(
        app: App, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    if app.engine.dialect.name != "postgresql":
        pytest.skip("the INSERT … SELECT path is PostgreSQL's")
    add = add_applicants
    await add(app.sessions, 3, now=clock.now, prefix="a")
    await add(app.sessions, 2, now=clock.now, prefix="e", lang="en", due_on=None)
    await add(app.sessions, 1, now=clock.now, prefix="f", lang="en", due_on=date(2027, 5, 3))
    await add(app.sessions, 1, now=clock.now, prefix="g", step_code="langkah_lama")
    await add(app.sessions, 2, now=clock.now, prefix="m", region="metro",
              due_on=date(2026, 8, 31))
    await add(app.sessions, 1, now=clock.now, prefix="p", profession="perekam-medis")
    await add(app.sessions, 1, now=clock.now, prefix="x", lang="xx", due_on=date(2027, 1, 1))
    async with app.sessions() as s, s.begin():
        # Application language empty: the applicant's; names empty, missing, padded.
        await s.execute(update(Application).where(Application.reg_no == "PWK-a0")
                        .values(lang="", full_name=""))
        await s.execute(update(Applicant).where(Applicant.external_id == "a0")
                        .values(lang="en"))
        await s.execute(update(Application).where(Application.reg_no == "PWK-a1")
                        .values(full_name="\u3000 Siti \u00a0"))
        await s.execute(update(Application).where(Application.reg_no == "PWK-e0")
                        .values(full_name=""))
        await s.execute(update(Applicant).where(Applicant.external_id == "e0")
                        .values(display_name=None))
        await s.execute(update(Applicant).where(Applicant.external_id == "a2")
                        .values(unreachable_at=clock.now))
    selection = bc.Selection(open_only=True)
    for template, urgent in ((TEMPLATE, False), ("  {{ name }} {{ reg_no }}\n", True),
                             ("{{ deadline }}/{{ step }}: {{ name }}", False),
                             ("Pengumuman tanpa nama.", False)):
        assert bc._sql_pieces(template) is not None
        with monkeypatch.context() as m:
            m.setattr(bc, "_Renderer", None)  # the SQL path renders nothing in Python
            in_sql = await bc.create_broadcast(
                app.sessions, app.catalog, selection=selection, template=template,
                sender_username="kadis", sender_role="admin", now=clock.now, chunk=4,
                urgent=urgent)
        with monkeypatch.context() as m:
            m.setattr(bc, "_sql_pieces", lambda t: None)
            in_python = await bc.create_broadcast(
                app.sessions, app.catalog, selection=selection, template=template,
                sender_username="kadis", sender_role="admin", now=clock.now, chunk=4,
                urgent=urgent)
        sql_rows, python_rows = await _queued(app, in_sql), await _queued(app, in_python)
        assert len(sql_rows) == 10  # 11 recipients, one unreachable
        assert sql_rows == python_rows, template
        for bid in (in_sql, in_python):
            got = await bc.progress(app.sessions, bid)
            assert (got.queued, got.unreachable) == (10, 1)
    # A message that renders empty for someone is refused by both paths alike.
    for patch in (None, lambda t: None):
        with monkeypatch.context() as m:
            if patch:
                m.setattr(bc, "_sql_pieces", patch)
            bid = await bc.create_broadcast(
                app.sessions, app.catalog, selection=selection, template="{{ name }}",
                sender_username="kadis", sender_role="admin", now=clock.now, enqueue=False)
            with pytest.raises(bc.BroadcastError, match="renders empty"):
                await bc.enqueue_all(app.sessions, app.catalog, bid, now=clock.now)
