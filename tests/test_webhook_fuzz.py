"""Authentic (correctly signed) but malformed bodies on both webhooks: never a 500, never
a refusal the platform would retry forever, and the same chat's next normal message is
still answered. Bodies come from hypothesis: a valid update or webhook with one field
replaced by any JSON value, deep nesting, JSON that is not an object, bytes."""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.channels.telegram.channel import SECRET_HEADER, WEBHOOK_PATH
from bot.channels.whatsapp.signature import sign
from bot.composition import App
from bot.settings import Settings
from service.payloads import depth
from storage.models import InboundMessage
from tests.conftest import Clock
from tests.fakes import graph_api as wa
from tests.fakes.telegram_api import FakeTelegram, text_update
from tests.fakes.telegram_user import Bench, open_bench
from tests.fakes.whatsapp_harness import SECRET, Harness, harness

CHAT = 424242
WA_ID = "6281299990000"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12)


def _deep(n: int) -> bytes:
    return b'{"a":' * n + b"1" + b"}" * n


def _replace(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def _bodies(base: Any, paths: list[tuple[str | int, ...]]) -> st.SearchStrategy[bytes]:
    """Bodies derived from `base()` (a fresh valid body each time)."""
    mutated = st.builds(lambda p, v: json.dumps(_replace(base(), p, v)).encode(),
                        st.sampled_from(paths), json_values)
    deep_field = st.builds(lambda p, n: json.dumps(_replace(base(), p, "X")).encode()
                           .replace(b'"X"', _deep(n)), st.sampled_from(paths),
                           st.integers(1, 1200))
    return st.one_of(
        mutated, mutated, mutated, deep_field,
        st.integers(1, 3000).map(_deep),
        st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=64),
    )


# ---- Telegram ----

@pytest.fixture
async def api() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram(per_chat_rate=1000, per_chat_burst=1000, global_rate=1000,
                              global_burst=1000).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def tg(app: App, api: FakeTelegram) -> AsyncIterator[Bench]:
    app.runtime.clock = lambda: datetime.now(UTC)
    bench = await open_bench(app, api, "webhook")
    yield bench
    await bench.close()


# Only numbers update ids for the strategy's base updates, from far above the bench's own
# (both counted from 1000 once: a fuzzed body could take the id of the test's next
# /status, which was then rightly ignored as a repeat and never answered).
_TG_API = FakeTelegram(first_update_id=10**9)


def _tg_base() -> dict[str, Any]:
    return text_update(_TG_API, CHAT, "halo")


TG_PATHS: list[tuple[str | int, ...]] = [
    ("update_id",), ("message",), ("message", "text"), ("message", "chat"),
    ("message", "chat", "id"), ("message", "chat", "type"), ("message", "from"),
    ("message", "date"), ("message", "message_id"), ("message", "document"),
    ("message", "photo"), ("callback_query",), ("edited_message",), ("message", "entities"),
]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=_bodies(_tg_base, TG_PATHS))
async def test_telegram_webhook_takes_any_authentic_body(tg: Bench, body: bytes) -> None:
    assert tg._client is not None
    resp = await tg._client.post(WEBHOOK_PATH, content=body, headers={
        SECRET_HEADER: tg.channel.secret, "Content-Type": "application/json"})
    assert resp.status_code == 200, resp.text
    # The chat goes on: its next normal message is handled and answered.
    before = len(tg.api.delivered(CHAT))
    await tg.deliver(text_update(tg.api, CHAT, "/status"))
    await tg.settle()
    assert len(tg.api.delivered(CHAT)) > before


async def test_telegram_body_over_the_cap_is_dropped(tg: Bench) -> None:
    assert tg._client is not None
    update = text_update(tg.api, CHAT, "x" * (1024 * 1024 + 10))
    resp = await tg._client.post(WEBHOOK_PATH, json=update,
                                 headers={SECRET_HEADER: tg.channel.secret})
    assert resp.status_code == 200
    async with tg.app.sessions() as s:
        assert (await s.scalars(select(InboundMessage))).all() == []


# ---- WhatsApp ----

@pytest.fixture
async def wa_h(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    async with harness(settings, clock) as h:
        yield h


def _wa_base() -> dict[str, Any]:
    return wa.inbound(WA_ID, wa.text("halo"))


_MSG: tuple[str | int, ...] = ("entry", 0, "changes", 0, "value", "messages", 0)
_VALUE: tuple[str | int, ...] = ("entry", 0, "changes", 0, "value")
WA_PATHS: list[tuple[str | int, ...]] = [
    (*_MSG, "from"), (*_MSG, "type"), (*_MSG, "id"), (*_MSG, "timestamp"),
    (*_MSG, "text"), (*_MSG, "interactive"), (*_MSG, "image"), (*_MSG, "document"),
    (*_MSG, "button"), (*_VALUE, "contacts"), (*_VALUE, "metadata"), (*_VALUE, "statuses"),
    (*_VALUE, "messages"), ("entry",), ("entry", 0, "changes"), _MSG,
]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=_bodies(_wa_base, WA_PATHS), with_good=st.booleans())
async def test_whatsapp_webhook_takes_any_authentic_body(wa_h: Harness, body: bytes,
                                                         with_good: bool) -> None:
    good = wa.inbound(WA_ID, wa.text("menu"))["entry"][0]["changes"][0]["value"]["messages"][0]
    parsed: Any = None
    with contextlib.suppress(ValueError, RecursionError):
        parsed = json.loads(body)
    # A batch nested beyond what the JSON parser takes (~1000 levels) is dropped whole.
    if with_good and isinstance(parsed, dict) and depth(parsed, 600) < 500:
        # One good message in the same batch as the bad one must still be taken.
        try:
            parsed["entry"][0]["changes"][0]["value"]["messages"].append(good)
            body = json.dumps(parsed).encode()
        except (KeyError, IndexError, TypeError, AttributeError, RecursionError):
            good = {}
    else:
        good = {}
    resp = await wa_h.http.post("/webhooks/whatsapp", content=body, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(body, SECRET)})
    assert resp.status_code == 200, resp.text
    await wa_h.run()
    if good:
        async with wa_h.app.sessions() as s:
            row = await s.scalar(select(InboundMessage).where(
                InboundMessage.platform_id == good["id"]))
        assert row is not None and row.status == "done"
    before = len(wa_h.graph.to(WA_ID))
    await wa_h.send(WA_ID, wa.text("/status"))
    await wa_h.run()
    assert len(wa_h.graph.to(WA_ID)) > before


async def test_a_bad_message_in_a_batch_is_a_dead_letter_and_the_good_one_is_handled(
        wa_h: Harness) -> None:
    body = wa.inbound(WA_ID, wa.text("halo"), ts=int(wa_h.clock().timestamp()))
    messages = body["entry"][0]["changes"][0]["value"]["messages"]
    bad = {**messages[0], "id": "wamid.BAD", "from": [WA_ID], "type": ["text"]}
    messages.insert(0, bad)
    raw, headers = wa.signed(body, SECRET)
    assert (await wa_h.http.post("/webhooks/whatsapp", content=raw,
                                 headers=headers)).status_code == 200
    await wa_h.run()
    async with wa_h.app.sessions() as s:
        rows = {r.platform_id: r for r in (await s.scalars(select(InboundMessage))).all()}
    assert rows["wamid.BAD"].status == "failed" and "wrong shape" in (
        rows["wamid.BAD"].error or "")
    assert rows[messages[1]["id"]].status == "done"
    assert wa_h.graph.to(WA_ID)  # the good one was answered
