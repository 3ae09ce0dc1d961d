"""Broadcasts from the back office over the real HTTP app: compose, preview (count and
the text for one real recipient), send, progress JSON, pause / resume / cancel, the
log; refusals (one-person roles sending to many, another region, missing CSRF, a bad
template) change nothing."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select

from bot.composition import App
from storage.models import Broadcast, OutboxMessage
from tests.conftest import Clock
from tests.notify_data import add_applicants
from tests.office_client import Browser, make_staff

TEMPLATE = "Halo {{ name }}, berkas {{ reg_no }}: {{ step }} (batas {{ deadline }})."


async def rows(app: App) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Broadcasts and outbox rows: what a refusal must leave as it was."""
    async with app.sessions() as s:
        bs = (await s.scalars(select(Broadcast).order_by(Broadcast.id))).all()
        out = (await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    return ([(b.id, b.status, b.sender_username, b.sender_role, b.selection, b.queued)
             for b in bs],
            [(o.id, o.status, o.broadcast_id, o.applicant_id, o.payload["text"])
             for o in out])


def compose(**kw: Any) -> dict[str, Any]:
    return {"region": "purwakarta", "template": TEMPLATE, **kw}


def refused(res: httpx.Response, status: int, text: str) -> None:
    assert res.status_code == status, (res.status_code, res.text[-600:])
    assert text in res.text, res.text[-800:]


async def seed(app: App, clock: Clock) -> None:
    await add_applicants(app.sessions, 4, now=clock.now, prefix="a")
    await add_applicants(app.sessions, 2, now=clock.now, prefix="b", step_code="kajian_teknis")
    await add_applicants(app.sessions, 1, now=clock.now, prefix="c", status="issued")
    await add_applicants(app.sessions, 3, now=clock.now, prefix="m", region="metro",
                         step_code="pemeriksaan_data")


async def test_head_of_office_previews_sends_and_manages_a_broadcast(
    app: App, clock: Clock
) -> None:
    await seed(app, clock)
    await make_staff(app, "kadis.pwk", "head_of_office", "purwakarta")
    async with Browser(app) as b:
        await b.login("kadis.pwk")
        home = await b.get("/office/")
        assert 'href="/office/broadcasts"' in home.text
        form = await b.get("/office/broadcasts/new")
        assert form.status_code == 200
        for key in ("{{ name }}", "{{ reg_no }}", "{{ step }}", "{{ deadline }}"):
            assert key in form.text
        # The region's steps with the chat's names; other regions' are not offered.
        assert '<option value="kajian_teknis">Kajian teknis — Tim Teknis · kajian_teknis' \
            in form.text
        assert "pemeriksaan_data" not in form.text and 'value="metro"' not in form.text
        assert '<option value="perekam-medis">' in form.text

        res = await b.post("/office/broadcasts/preview", compose(open_only="1"))
        assert res.status_code == 200, res.text
        assert 'data-count="6"' in res.text  # the issued one is not open; metro not ours
        assert ("Halo Nama 0, berkas PWK-a0: Pemeriksaan berkas — Petugas (batas "
                "14 Desember 2026).") in res.text
        assert "Kirim ke 6 penerima" in res.text
        # Preview for a chosen recipient.
        res = await b.post("/office/broadcasts/preview", compose(
            open_only="1", preview_reg_no="PWK-b1"))
        assert "Pratinjau untuk PWK-b1" in res.text
        assert "Halo Nama 1, berkas PWK-b1: Kajian teknis — Tim Teknis" in res.text
        assert await rows(app) == ([], [])  # previews write nothing

        # Send: the hidden fields of the preview page go back.
        send = re.search(r'<form method="post" action="/office/broadcasts" data-form="send">'
                         r'(.*?)</form>', res.text, re.S)
        assert send
        fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', send.group(1)))
        assert fields["open_only"] == "1" and fields["region"] == "purwakarta"
        fields["template"] = TEMPLATE  # (HTML-escaped in the page)
        res = await b.post("/office/broadcasts", fields)
        assert res.status_code == 303, res.text
        location = res.headers["location"]
        bid = int(re.findall(r"/broadcasts/(\d+)", location)[0])
        broadcasts, outbox = await rows(app)
        assert broadcasts == [(bid, "active", "kadis.pwk", "head_of_office",
                               {"region": "purwakarta", "open_only": True}, 6)]
        assert len(outbox) == 6 and {o[2] for o in outbox} == {bid}
        assert outbox[0][4] == ("Halo Nama 0, berkas PWK-a0: Pemeriksaan berkas — Petugas "
                                "(batas 14 Desember 2026).")

        page = await b.get(location)
        assert "kadis.pwk" in page.text and "/progress" in page.text
        assert 'data-field="pending">6<' in page.text
        progress = (await b.get(f"/office/broadcasts/{bid}/progress")).json()
        assert (progress["status"], progress["pending"], progress["total"]) == ("active", 6, 6)

        res = await b.post(f"/office/broadcasts/{bid}/pause", follow=True)
        assert "6 pesan ditahan" in res.text
        progress = (await b.get(f"/office/broadcasts/{bid}/progress")).json()
        assert (progress["status"], progress["held"], progress["pending"]) == ("paused", 6, 0)
        res = await b.post(f"/office/broadcasts/{bid}/pause")  # already paused
        refused(res, 409, "Tidak ada yang diubah")
        res = await b.post(f"/office/broadcasts/{bid}/resume", follow=True)
        assert "6 pesan dikirim lagi" in res.text
        res = await b.post(f"/office/broadcasts/{bid}/cancel", follow=True)
        assert "6 pesan tidak jadi dikirim" in res.text
        progress = (await b.get(f"/office/broadcasts/{bid}/progress")).json()
        assert (progress["status"], progress["cancelled"]) == ("cancelled", 6)

        log = await b.get("/office/broadcasts")
        assert f'data-broadcast="{bid}" data-status="cancelled"' in log.text
        assert "kadis.pwk" in log.text and "permohonan terbuka" in log.text


async def test_a_template_error_is_shown_and_nothing_is_sent(app: App, clock: Clock) -> None:
    await seed(app, clock)
    await make_staff(app, "kadis.pwk", "head_of_office", "purwakarta")
    async with Browser(app) as b:
        await b.login("kadis.pwk")
        await b.get("/office/broadcasts/new")
        for bad, says in (("Halo {{ nama }}", "Templat pesan salah"),
                          ("{{ name.__class__.__mro__ }}", "Templat pesan salah"),
                          ("{% if %}", "Templat pesan salah")):
            res = await b.post("/office/broadcasts/preview", compose(template=bad))
            refused(res, 400, says)
            assert 'data-form="send"' not in res.text
            res = await b.post("/office/broadcasts", compose(template=bad))
            refused(res, 400, says)
        res = await b.post("/office/broadcasts/preview", compose(step="survei"))
        refused(res, 400, "Tidak ada penerima")
    assert await rows(app) == ([], [])


async def test_other_roles_send_to_one_person_only(app: App, clock: Clock) -> None:
    await seed(app, clock)
    await make_staff(app, "fo.pwk", "front_office", "purwakarta")
    async with Browser(app) as b:
        await b.login("fo.pwk")
        form = await b.get("/office/broadcasts/new")
        assert "hanya dapat mengirim pesan kepada" in form.text
        # The preview tells them the count; sending to many is refused with a page.
        res = await b.post("/office/broadcasts/preview", compose(open_only="1"))
        assert 'data-count="6"' in res.text
        res = await b.post("/office/broadcasts", compose(open_only="1"))
        refused(res, 403, "Hanya admin dan kepala dinas")
        assert await rows(app) == ([], [])
        res = await b.post("/office/broadcasts", compose(reg_no="PWK-a2", template="Halo "
                                                         "{{ name }}"))
        assert res.status_code == 303, res.text
        broadcasts, outbox = await rows(app)
        assert [(x[2], x[3], x[4]) for x in broadcasts] == [
            ("fo.pwk", "front_office", {"region": "purwakarta", "reg_no": "PWK-a2"})]
        assert [o[4] for o in outbox] == ["Halo Nama 2"]
        # Another region's registration number matches nobody of theirs.
        res = await b.post("/office/broadcasts", compose(reg_no="PWK-m0"))
        refused(res, 400, "Tidak ada penerima")
        assert len((await rows(app))[1]) == 1


async def test_another_region_and_missing_csrf_change_nothing(app: App, clock: Clock) -> None:
    await seed(app, clock)
    await make_staff(app, "kadis.pwk", "head_of_office", "purwakarta")
    await make_staff(app, "kadis.metro", "head_of_office", "metro")
    await make_staff(app, "admin", "admin", "*")
    async with Browser(app) as pwk, Browser(app) as metro, Browser(app) as admin:
        await pwk.login("kadis.pwk")
        await metro.login("kadis.metro")
        await admin.login("admin")
        await metro.get("/office/broadcasts/new")
        res = await metro.post("/office/broadcasts", {"region": "metro", "open_only": "1",
                                                      "template": "Metro {{ name }}"})
        assert res.status_code == 303
        metro_id = int(res.headers["location"].split("/")[-1].split("?")[0])
        before = await rows(app)
        assert before[0][0][4] == {"region": "metro", "open_only": True}
        assert len(before[1]) == 3

        await pwk.get("/office/broadcasts/new")
        res = await pwk.post("/office/broadcasts", compose(region="metro", open_only="1"))
        refused(res, 403, "wilayah Anda")
        res = await pwk.post("/office/broadcasts/preview", compose(region="metro"))
        refused(res, 403, "wilayah Anda")
        # Metro's broadcast is not found for Purwakarta: page, progress, the actions.
        for path in (f"/office/broadcasts/{metro_id}",
                     f"/office/broadcasts/{metro_id}/progress"):
            refused(await pwk.get(path), 404, "Tidak ditemukan")
        for action in ("pause", "resume", "cancel"):
            refused(await pwk.post(f"/office/broadcasts/{metro_id}/{action}"), 404,
                    "Siaran itu tidak ada")
        assert f'data-broadcast="{metro_id}"' not in (await pwk.get("/office/broadcasts")).text
        # Without the CSRF token (or a forged one) nothing is sent, paused or cancelled.
        for csrf in (None, "forged"):
            res = await metro.post("/office/broadcasts", {"region": "metro", "open_only": "1",
                                                          "template": "x"}, csrf=csrf)
            refused(res, 403, "token keamanan (CSRF)")
            for action in ("pause", "cancel"):
                res = await metro.post(f"/office/broadcasts/{metro_id}/{action}", csrf=csrf)
                refused(res, 403, "token keamanan (CSRF)")
        assert await rows(app) == before

        # The region-wide admin sees every region's broadcasts and picks any region.
        assert f'data-broadcast="{metro_id}"' in (await admin.get("/office/broadcasts")).text
        form = await admin.get("/office/broadcasts/new")
        assert 'value="metro"' in form.text and 'value="purwakarta"' in form.text
        res = await admin.post("/office/broadcasts/preview", {"region": "metro",
                                                              "step": "pemeriksaan_data",
                                                              "template": TEMPLATE})
        assert 'data-count="3"' in res.text and "PWK-m0" in res.text
        res = await admin.post("/office/broadcasts/preview", {"open_only": "1",
                                                              "template": TEMPLATE})
        assert 'data-count="9"' in res.text  # every region's open applications
        res = await admin.post("/office/broadcasts/preview", {"region": "atlantis",
                                                              "template": TEMPLATE})
        refused(res, 400, "tidak dikenal")
        assert await rows(app) == before
