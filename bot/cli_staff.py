"""`izin staff add|list`: back-office accounts from the command line."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from bot.settings import Settings


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:  # scripts and CI: no terminal needed
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Kata sandi: ")
    if getpass.getpass("Ulangi kata sandi: ") != first:
        raise ValueError("Kata sandi tidak sama.")
    return first


def cmd_staff_add(args: argparse.Namespace, settings: Settings) -> int:
    from bot.composition import build
    from service.staff import StaffError, add_staff

    try:
        password = _read_password(args)
    except (ValueError, EOFError) as exc:
        print(exc or "no password given", file=sys.stderr)
        return 1

    async def main() -> int:
        app = await build(settings)
        try:
            staff = await add_staff(app.sessions, username=args.username, full_name=args.name,
                                    role=args.role, region=args.region, password=password,
                                    regions={r.slug for r in app.catalog.regions()},
                                    now=datetime.now(UTC), positions=args.position or (),
                                    known_positions=app.catalog.positions(args.region),
                                    nip=args.nip, lang=args.lang)
        except StaffError as exc:
            print(exc, file=sys.stderr)
            return 1
        finally:
            await app.close()
        held = f", positions {', '.join(args.position)}" if args.position else ""
        print(f"staff {staff.username} ({staff.role}, {staff.region}{held}) added")
        return 0

    return asyncio.run(main())


def cmd_staff_list(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from bot.composition import build
    from service.staff import positions_of
    from storage.models import Staff

    async def main() -> int:
        app = await build(settings)
        try:
            async with app.sessions() as session:
                rows = (await session.scalars(select(Staff).order_by(Staff.username))).all()
                held = await positions_of(session, [s.id for s in rows])
        finally:
            await app.close()
        for s in rows:
            print(f"{s.username:<20} {s.role:<18} {s.region:<14} "
                  f"{'active' if s.active else 'inactive'}  {s.full_name}"
                  f"  [{', '.join(held[s.id])}]{'  NIP ' + s.nip if s.nip else ''}")
        return 0

    return asyncio.run(main())


def add_commands(sub: Any) -> None:
    from service.staff import STAFF_ROLES

    staff = sub.add_parser("staff", help="back-office accounts").add_subparsers(
        dest="staff_command", required=True)
    add = staff.add_parser("add", help="add a staff account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=STAFF_ROLES)
    add.add_argument("--region", required=True, help='region slug, or "*" (admin only)')
    add.add_argument("--name", required=True, help="full name")
    add.add_argument("--position", action="append", metavar="SLUG",
                     help="a position (jabatan) of the region's standards; repeatable "
                          "(izin catalog show REGION PROFESSION lists them)")
    add.add_argument("--nip", help="Nomor Induk Pegawai (18 digits), shown on the card")
    add.add_argument("--lang", default="id", choices=("id", "en"),
                     help="language of the office pages for this account")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    add.set_defaults(func=cmd_staff_add)
    staff.add_parser("list", help="list staff accounts").set_defaults(func=cmd_staff_list)
