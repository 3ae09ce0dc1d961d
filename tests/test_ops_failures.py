"""Failures kept for a person: `izin ops` and the office's Operasi page list them with
reasons, retry or discard one, and every action lands in the audit log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from bot.composition import App
from bot.health import refresh_gauges
from service import metrics, ops
from storage.models import Applicant, InboundMessage, OpsAudit, OutboxMessage, Permit
from tests.conftest import Clock
from tests.office_client import Browser, make_staff
from tests.test_permit_journey import approve, submit

IZIN = [sys.executable, "-m", "bot.cli"]


async def failed_rows(app: App, clock: Clock) -> tuple[int, int]:
    """One dead letter (a NIK in its payload and reason) and one failed send."""
    async with app.sessions() as s, s.begin():
        inbound = (await s.execute(insert(InboundMessage).values(
            channel="telegram", platform_id="77", chat_key="telegram:9",
            payload={"message": {"text": "3201015701900001"}}, status="failed",
            received_at=clock.now, handled_at=clock.now,
            error="ValueError: cannot parse 3201015701900001").returning(InboundMessage.id))
        ).scalar_one()
        applicant = (await s.execute(insert(Applicant).values(
            channel="telegram", external_id="9", created_at=clock.now, lang="id")
            .returning(Applicant.id))).scalar_one()
        outbox = (await s.execute(insert(OutboxMessage).values(
            applicant_id=applicant, channel="telegram", chat_id="9", payload={},
            status="failed", attempts=8, next_attempt_at=clock.now, created_at=clock.now,
            last_error="400: Bad Request: message is too long").returning(OutboxMessage.id))
        ).scalar_one()
    return inbound, outbox


def izin(db_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IZIN_DATA_DIR": str(tmp_path / "var"), "IZIN_DATABASE_URL": db_url}
    return subprocess.run([*IZIN, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.slow  # seven `izin` processes
async def test_cli_lists_retries_and_discards_with_an_audit_trail(
        app: App, clock: Clock, db_url: str, tmp_path: Path) -> None:
    inbound, outbox = await failed_rows(app, clock)
    await refresh_gauges(app, clock.now)
    assert metrics.DEAD_LETTERS.labels("inbound")._value.get() == 1
    listing = izin(db_url, tmp_path, "ops", "list").stdout
    assert f"inbound  {inbound:>8} telegram" in listing
    assert "cannot parse 3201********0001" in listing and "3201015701900001" not in listing
    assert "message is too long" in listing
    retried = izin(db_url, tmp_path, "ops", "retry", "inbound", str(inbound), "--by", "ani")
    assert retried.returncode == 0 and "queued again" in retried.stdout
    again = izin(db_url, tmp_path, "ops", "retry", "inbound", str(inbound))
    assert again.returncode == 1 and "not failed" in again.stderr  # nothing audited
    assert izin(db_url, tmp_path, "ops", "discard", "outbox", str(outbox),
                "--by", "ani").returncode == 0
    assert izin(db_url, tmp_path, "ops", "list").stdout.strip() == "nothing failed"
    async with app.sessions() as s:
        m = await s.get(InboundMessage, inbound)
        o = await s.get(OutboxMessage, outbox)
        audit = (await s.scalars(select(OpsAudit).order_by(OpsAudit.id))).all()
    assert m is not None and (m.status, m.error) == ("pending", None)  # the worker's again
    assert o is not None and o.status == "cancelled"
    assert [(a.actor, a.action, a.kind, a.target_id) for a in audit] == [
        ("cli:ani", "retry", "inbound", inbound), ("cli:ani", "discard", "outbox", outbox)]
    assert audit[0].detail == "ValueError: cannot parse 3201********0001"
    assert "cli:ani" in izin(db_url, tmp_path, "ops", "audit").stdout


async def test_office_page_for_region_wide_admins(app: App, clock: Clock) -> None:
    inbound, outbox = await failed_rows(app, clock)
    await make_staff(app, "root", "admin", "*")
    await make_staff(app, "admin.pwk", "admin", "purwakarta")
    async with Browser(app) as local:
        await local.login("admin.pwk")
        assert (await local.get("/office/ops")).status_code == 403
    async with Browser(app) as b:
        await b.login("root")
        page = await b.get("/office/ops")
        assert page.status_code == 200
        assert f'data-kind="inbound" data-id="{inbound}"' in page.text
        assert "3201015701900001" not in page.text
        assert (await b.post(f"/office/ops/outbox/{outbox}/retry", csrf="wrong")
                ).status_code == 403
        done = await b.post(f"/office/ops/outbox/{outbox}/retry", follow=True)
        assert "queued again" in done.text
        gone = await b.post(f"/office/ops/inbound/{inbound}/discard", follow=True)
        assert f'data-id="{inbound}"' not in gone.text and "discarded" in gone.text
        assert (await b.post("/office/ops/inbound/999/retry")).status_code == 404
    async with app.sessions() as s:
        o = await s.get(OutboxMessage, outbox)
        m = await s.get(InboundMessage, inbound)
        audit = (await s.scalars(select(OpsAudit).order_by(OpsAudit.id))).all()
    assert o is not None and (o.status, o.attempts) == ("pending", 0)
    assert m is not None and (m.status, m.payload) == ("discarded", None)
    assert [(a.actor, a.action, a.kind) for a in audit] == [
        ("root", "retry", "outbox"), ("root", "discard", "inbound")]


async def test_a_failed_permit_signing_is_listed_retried_never_discarded(
        app: App, clock: Clock, samples: dict[str, Path]) -> None:
    reg_no = await submit(app, "permit-user", "pekanbaru", "okupasi-terapis", samples)
    await approve(app, reg_no)
    async with app.sessions() as s, s.begin():
        permit = await s.scalar(select(Permit))
        assert permit is not None
        permit.last_error = "ValueError: bad PKCS#12 password"
        permit_id = permit.id
    (listed,) = await ops.failures(app.sessions, kind=ops.Kind.permit)
    assert (listed.id, listed.ref, listed.reason) == (
        permit_id, reg_no, "ValueError: bad PKCS#12 password")
    with pytest.raises(ops.OpsError, match="never discarded"):
        await ops.act(app.sessions, kind=ops.Kind.permit, row_id=permit_id,
                      action=ops.Action.discard, actor="root", now=clock.now)
    done = await ops.act(app.sessions, kind=ops.Kind.permit, row_id=permit_id,
                         action=ops.Action.retry, actor="root", now=clock.now)
    assert "produced again" in done
    assert await ops.failures(app.sessions) == []
    audit = await ops.audit_log(app.sessions)
    assert [(a.action, a.kind, a.target_id, a.detail) for a in audit] == [
        ("retry", "permit", permit_id, "ValueError: bad PKCS#12 password")]
