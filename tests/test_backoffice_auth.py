"""Back office framework: sign-in, cookies, lockout, CSRF, expiry, roles, staff admin, CLI."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from fastapi.routing import APIRoute
from sqlalchemy import func, select

from backoffice.app import PAGES
from bot.composition import App
from service.staff import LOCK_FOR, MAX_FAILED_LOGINS
from storage.models import Staff, StaffSession
from tests.conftest import Clock
from tests.office_client import PASSWORD, Browser, make_staff
from tests.test_cli import izin


async def staff_rows(app: App) -> list[tuple[str, bool, str]]:
    async with app.sessions() as s:
        rows = (await s.scalars(select(Staff).order_by(Staff.username))).all()
    return [(r.username, r.active, r.password_hash) for r in rows]


async def test_login_sets_a_strict_session_cookie_and_logout_ends_it(app: App) -> None:
    await make_staff(app, "fo.pwk", "front_office", "purwakarta")
    async with Browser(app) as b:
        res = await b.login("fo.pwk")
        assert res.status_code == 303
        cookie = res.headers["set-cookie"]
        assert "izin_office=" in cookie and "HttpOnly" in cookie
        assert "SameSite=lax" in cookie and "Path=/office" in cookie
        assert "Secure" not in cookie  # plain http on loopback
        async with app.sessions() as s:
            stored = (await s.scalars(select(StaffSession))).one()
        token = re.search(r"izin_office=([^;]+)", cookie)
        assert token and stored.token_hash != token.group(1)  # only a hash is stored
        res = await b.post("/office/logout")
        assert res.status_code == 303 and res.headers["location"] == "/office/login"
        async with app.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(StaffSession)) == 0
        res = await b.http.get("/office/staff")
        assert res.status_code == 303 and "/office/login" in res.headers["location"]


async def test_cookie_is_secure_over_https(app: App) -> None:
    await make_staff(app, "fo.pwk", "front_office", "purwakarta")
    async with Browser(app, base_url="https://izin.test") as b:
        res = await b.login("fo.pwk")
        assert res.status_code == 303 and "Secure" in res.headers["set-cookie"]


async def test_wrong_passwords_lock_the_account_for_a_while(app: App, clock: Clock) -> None:
    await make_staff(app, "fo.pwk", "front_office", "purwakarta")
    async with Browser(app) as b:
        for _ in range(MAX_FAILED_LOGINS - 1):
            res = await b.login("fo.pwk", "salah-sekali-123")
            assert res.status_code == 401 and "kata sandi salah" in res.text
        res = await b.login("fo.pwk", "salah-sekali-123")
        assert res.status_code == 401 and "dikunci" in res.text
        res = await b.login("fo.pwk")  # the right password does not help while locked
        assert res.status_code == 401 and "terkunci" in res.text
        async with app.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(StaffSession)) == 0
        clock.advance(seconds=LOCK_FOR.total_seconds() + 1)
        assert (await b.login("fo.pwk")).status_code == 303
        # Unknown users get the same answer as a wrong password.
        res = await b.login("nobody", "whatever-123")
        assert res.status_code == 401 and "Nama pengguna atau kata sandi salah" in res.text


async def test_login_form_needs_its_own_token(app: App) -> None:
    await make_staff(app, "fo.pwk", "front_office", "purwakarta")
    async with Browser(app) as b:
        res = await b.http.post("/office/login", data={"username": "fo.pwk",
                                                       "password": PASSWORD})
        assert res.status_code == 403 and "izin_office=" not in res.headers.get("set-cookie", "")


async def test_expired_session_goes_to_login_and_changes_nothing(app: App,
                                                                 clock: Clock) -> None:
    await make_staff(app, "admin.pwk", "admin", "purwakarta")
    async with Browser(app) as b:
        await b.login("admin.pwk")
        assert (await b.get("/office/staff")).status_code == 200
        clock.advance(hours=8, seconds=1)
        before = await staff_rows(app)
        res = await b.post("/office/staff", {"username": "baru", "full_name": "Baru",
                                             "role": "front_office", "region": "purwakarta",
                                             "password": PASSWORD})
        assert res.status_code == 303 and "/office/login?expired=1" in res.headers["location"]
        assert await staff_rows(app) == before
        page = await b.get(res.headers["location"])
        assert "Sesi Anda telah berakhir" in page.text


async def test_every_post_form_refuses_a_missing_or_wrong_csrf_token(app: App) -> None:
    await make_staff(app, "admin.pwk", "admin", "purwakarta")
    await make_staff(app, "fo.pwk", "front_office", "purwakarta")
    posts = [r.path for page in PAGES for r in page.router.routes
             if isinstance(r, APIRoute) and "POST" in r.methods and r.path != "/login"]
    assert "/staff" in posts and "/logout" in posts
    async with Browser(app) as b:
        await b.login("admin.pwk")
        before = await staff_rows(app)
        for path in posts:
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            for csrf in (None, "forged"):
                res = await b.post(f"/office{concrete}", {
                    "username": "baru", "full_name": "Baru", "role": "front_office",
                    "region": "purwakarta", "password": PASSWORD, "active": "0"}, csrf=csrf)
                assert res.status_code == 403, (path, res.status_code)
                assert "token keamanan (CSRF)" in res.text and 'data-refused="403"' in res.text
        assert await staff_rows(app) == before
        async with app.sessions() as s:  # logout without a token did not sign out
            assert await s.scalar(select(func.count()).select_from(StaffSession)) == 1


async def test_admin_adds_and_deactivates_staff_of_their_region_only(app: App) -> None:
    await make_staff(app, "admin.pwk", "admin", "purwakarta")
    await make_staff(app, "fo.pku", "front_office", "pekanbaru")
    async with Browser(app) as admin, Browser(app) as fo:
        await admin.login("admin.pwk")
        page = await admin.post("/office/staff", {
            "username": "fo.pwk", "full_name": "Rina Front", "role": "front_office",
            "region": "purwakarta", "password": PASSWORD}, follow=True)
        assert "Akun fo.pwk ditambahkan" in page.text and "Rina Front" in page.text
        assert "fo.pku" not in page.text  # another region's staff are not listed
        short = await admin.post("/office/staff", {
            "username": "x.pwk", "full_name": "X", "role": "verifier", "region": "purwakarta",
            "password": "pendek"})
        assert short.status_code == 400 and "minimal 10 karakter" in short.text
        other = await admin.post("/office/staff", {
            "username": "y.pku", "full_name": "Y", "role": "verifier", "region": "pekanbaru",
            "password": PASSWORD})
        assert other.status_code == 403
        assert [u for u, _, _ in await staff_rows(app)] == ["admin.pwk", "fo.pku", "fo.pwk"]

        assert (await fo.login("fo.pwk")).status_code == 303
        async with app.sessions() as s:
            fo_id = await s.scalar(select(Staff.id).where(Staff.username == "fo.pwk"))
            pku_id = await s.scalar(select(Staff.id).where(Staff.username == "fo.pku"))
        res = await admin.post(f"/office/staff/{pku_id}/active", {"active": "0"})
        assert res.status_code == 403 and "tidak ada di wilayah Anda" in res.text
        res = await admin.post(f"/office/staff/{fo_id}/active", {"active": "0"})
        assert res.status_code == 303
        assert dict((u, a) for u, a, _ in await staff_rows(app)) == {
            "admin.pwk": True, "fo.pku": True, "fo.pwk": False}
        # The deactivated officer's open session ends, and signing in is refused.
        assert (await fo.http.get("/office/")).status_code == 303
        res = await fo.login("fo.pwk")
        assert res.status_code == 401 and "tidak aktif" in res.text


async def test_staff_pages_need_the_admin_role(app: App) -> None:
    await make_staff(app, "fo.pwk", "front_office", "purwakarta")
    async with Browser(app) as b:
        await b.login("fo.pwk")
        res = await b.http.get("/office/staff")
        assert res.status_code == 403 and "hanya untuk peran: Admin" in res.text


async def test_staff_add_command_reads_the_password_from_stdin(tmp_path: Path) -> None:
    out = izin("staff", "add", "kadis.pwk", "--role", "head_of_office", "--region",
               "purwakarta", "--name", "Kepala Dinas", "--password-stdin", cwd=tmp_path,
               stdin=PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    assert "kadis.pwk (head_of_office, purwakarta) added" in out.stdout
    again = izin("staff", "add", "kadis.pwk", "--role", "head_of_office", "--region",
                 "purwakarta", "--name", "Kepala Dinas", "--password-stdin", cwd=tmp_path,
                 stdin=PASSWORD + "\n")
    assert again.returncode == 1 and "sudah dipakai" in again.stderr
    bad = izin("staff", "add", "x.y", "--role", "verifier", "--region", "*", "--name", "X",
               "--password-stdin", cwd=tmp_path, stdin=PASSWORD + "\n")
    assert bad.returncode == 1 and "Hanya admin" in bad.stderr
    listed = izin("staff", "list", cwd=tmp_path)
    assert "kadis.pwk" in listed.stdout and sys.executable
