"""Driving the office's procedure through the real HTTP app, one browser per role."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from bot.composition import App
from conversations.types import InboundEvent
from licensing.catalog import CatalogEntry, Role
from storage.models import (
    Application,
    ApplicationDocument,
    ApplicationEvent,
    ApplicationNote,
    OutboxMessage,
    Permit,
    Staff,
    StaffPosition,
)
from tests.office_client import Browser, make_staff, role_positions

OFFICE_ROLES = ("front_office", "back_office", "technical_team", "verifier", "head_of_office")
NOTES = {"technical_review": "Persyaratan teknis lengkap dan sesuai",
         "site_visit": "Lokasi praktik ditinjau, sesuai alamat",
         "recommend": "Memenuhi syarat", "reject": "STR tidak berlaku"}


def username(role: str, region: str) -> str:
    return f"{role.replace('_', '-')}.{region}"


def position_username(position: str, region: str) -> str:
    return f"jabatan-{position.replace('_', '-')}.{region}"


class Office:
    """Signed-in staff of one region, one browser each: one account per role holding
    that role's first position, and one more account per further position, so that
    every position the SOP names is a different person."""

    def __init__(self, app: App, region: str) -> None:
        self.app, self.region = app, region
        self.browsers: dict[str, Browser] = {}  # by role, and by position slug
        self.positions: dict[str, Browser] = {}

    async def _account(self, user: str, role: str, positions: list[str]) -> Browser:
        await make_staff(self.app, user, role, self.region, positions=positions,
                         name=f"Petugas {user.split('.')[0].title()}",
                         nip=f"1980{len(self.positions) + len(self.browsers):014d}")
        b = Browser(self.app)
        res = await b.login(user)
        assert res.status_code == 303, res.text
        return b

    async def __aenter__(self) -> Office:
        for role in OFFICE_ROLES:
            held = role_positions(self.app, role, self.region)
            b = await self._account(username(role, self.region), role, held[:1])
            self.browsers[role] = b
            if held:
                self.positions[held[0]] = b
            for position in held[1:]:
                self.positions[position] = await self._account(
                    position_username(position, self.region), role, [position])
        return self

    async def __aexit__(self, *exc: object) -> None:
        for b in {id(b): b for b in (*self.browsers.values(), *self.positions.values())
                  }.values():
            await b.http.aclose()

    def __getitem__(self, key: str) -> Browser:
        return self.browsers.get(key) or self.positions[key]

    async def who(self, key: str, reg_no: str) -> Browser:
        """A role's browser for this file: the account of its current step's position."""
        if key in self.positions and key not in self.browsers:
            return self.positions[key]
        app = await application(self.app, reg_no)
        step = self.app.catalog.get(app.region, app.profession).step(app.step_code)
        if step.role.value == key and step.position in self.positions:
            return self.positions[step.position]
        return self[key]

    async def page(self, role: str, reg_no: str) -> httpx.Response:
        res = await (await self.who(role, reg_no)).get(f"/office/applications/{reg_no}")
        assert res.status_code == 200, res.text
        return res

    async def review(self, role: str, reg_no: str, verdicts: dict[str, str | tuple[str, str]],
                     **extra: Any) -> httpx.Response:
        page = await self.page(role, reg_no)
        data: dict[str, Any] = {"step": step_of(page.text), **extra}
        for code, v in verdicts.items():
            verdict, reason = (v, "") if isinstance(v, str) else v
            data[f"d_{code}"], data[f"r_{code}"] = verdict, reason
        return await (await self.who(role, reg_no)).post(
            f"/office/applications/{reg_no}/review", data)

    async def act(self, role: str, reg_no: str, action: str, note: str | None = None,
                  **extra: Any) -> httpx.Response:
        page = await self.page(role, reg_no)
        data = {"step": step_of(page.text), "action": action,
                "note": NOTES.get(action, "") if note is None else note, **extra}
        if action == "recommend":
            data.setdefault("recommendation", "setuju")
        return await (await self.who(role, reg_no)).post(
            f"/office/applications/{reg_no}/act", data)

    async def walk(self, entry: CatalogEntry, reg_no: str, *, site_visit: bool = True
                   ) -> list[str]:
        """Do every step's actions from the page's own forms until the office is done.
        Returns the step codes passed."""
        passed: list[str] = []
        for _ in range(40):
            app = await application(self.app, reg_no)
            step = entry.step(app.step_code)
            if step.role is Role.APPLICANT:
                return passed
            role = step.role.value
            page = await self.page(role, reg_no)
            forms = available_forms(page.text)
            if not forms or forms == ["reject"]:
                return passed  # the procedure's last step, done
            if "check_files" in forms:
                codes = re.findall(r'name="d_([a-z0-9_]+)"', page.text)
                res = await self.review(role, reg_no, {c: "accept" for c in codes})
            else:
                action = next(f for f in forms if f not in ("reject", "site_visit")
                              ) if any(f not in ("reject", "site_visit") for f in forms) \
                    else forms[0]
                if site_visit and "site_visit" in forms:
                    res = await self.act(role, reg_no, "site_visit")
                    assert res.status_code == 303, res.text
                res = await self.act(role, reg_no, action, **(
                    {"note": f"{action} oleh {role}"} if action not in NOTES else {}))
            assert res.status_code == 303, res.text
            if not passed or passed[-1] != step.code:
                passed.append(step.code)
        raise AssertionError("the procedure did not end")


def step_of(html: str) -> str:
    found = re.search(r'data-step="([a-z0-9_]+)"', html)
    assert found, html
    return found.group(1)


def available_forms(html: str) -> list[str]:
    return re.findall(r'data-form="([a-z_]+)"', html)


async def application(app: App, reg_no: str) -> Application:
    async with app.sessions() as s:
        found = await s.scalar(select(Application).where(Application.reg_no == reg_no))
    assert found is not None
    return found


async def notices(app: App, user: str) -> list[OutboxMessage]:
    async with app.sessions() as s:
        return list((await s.scalars(select(OutboxMessage).where(
            OutboxMessage.chat_id == user, OutboxMessage.notification_type.is_not(None))
            .order_by(OutboxMessage.id))).all())


async def card(app: App, reg_no: str) -> list[tuple[str, str, str | None, str | None]]:
    a = await application(app, reg_no)
    async with app.sessions() as s:
        rows = (await s.scalars(select(ApplicationEvent).where(
            ApplicationEvent.application_id == a.id).order_by(ApplicationEvent.id))).all()
    return [(e.actor, e.action, e.from_step, e.to_step) for e in rows]


async def snapshot(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Everything an office action could change, to assert a refusal changed nothing."""
    async with app.sessions() as s:
        apps = (await s.scalars(select(Application).order_by(Application.id))).all()
        docs = (await s.scalars(select(ApplicationDocument).order_by(
            ApplicationDocument.id))).all()
        events = (await s.scalars(select(ApplicationEvent).order_by(
            ApplicationEvent.id))).all()
        outbox = (await s.scalars(select(OutboxMessage.id))).all()
        permits = (await s.execute(select(Permit.id, Permit.number, Permit.ready,
                                          Permit.status).order_by(Permit.id))).all()
        staff = (await s.scalars(select(Staff).order_by(Staff.id))).all()
        held = (await s.execute(select(StaffPosition.staff_id, StaffPosition.position)
                                .order_by(StaffPosition.id))).all()
        notes = (await s.scalars(select(ApplicationNote.id))).all()
    return {
        "apps": [(a.step_code, a.step_since, a.status, a.due_on, a.clock_started_on,
                  a.decided_at, a.decision_note) for a in apps],
        "docs": [(d.review, d.review_reason, d.blob_sha256) for d in docs],
        "events": [(e.id, e.action, e.note) for e in events],
        "outbox": [(i,) for i in outbox], "permits": [tuple(p) for p in permits],
        "staff": [(s_.username, s_.active, s_.failed_logins, s_.nip) for s_ in staff],
        "positions": [tuple(h) for h in held], "notes": [(i,) for i in notes],
    }


async def applicant_fixes(app: App, user: str, reg_no: str, path: Path, n: list[int]) -> str:
    """The applicant presses the button on the office's message and sends a new scan for
    each rejected document, then sends the corrections. Returns the chat's last text."""

    async def say(event: InboundEvent, blob: Any = None) -> str:
        n[0] += 1
        out = await app.runtime.handle(channel="console", external_id=user,
                                       platform_id=f"{user}-fix-{n[0]}", event=event,
                                       blob=blob)
        return "\n".join(m.text for m in out.messages)

    text = await say(InboundEvent.choose(f"!fix:{reg_no}"))
    while "Kirim pindaian baru untuk" in text:
        blob = await app.files.ingest_path(path)
        text = await say(InboundEvent.upload(blob.sha256, blob.kind, blob.size), blob)
    assert "Kirim ke petugas?" in text, text
    return await say(InboundEvent.choose("fx:send"))
