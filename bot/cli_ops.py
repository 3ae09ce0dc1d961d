"""`izin ops`: what failed and why, and retry or discard one row (audited)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from bot.settings import Settings


def cmd_ops_list(args: argparse.Namespace, settings: Settings) -> int:
    from bot.composition import build
    from service.ops import Kind, failures

    async def main() -> int:
        app = await build(settings)
        try:
            rows = await failures(app.sessions, kind=Kind(args.kind) if args.kind else None)
        finally:
            await app.close()
        if not rows:
            print("nothing failed")
        for f in rows:
            at = f.at.strftime("%Y-%m-%d %H:%M") if f.at else "-"
            print(f"{f.kind.value:<8} {f.id:>8} {f.channel:<9} {at}  {f.ref}  {f.reason}")
        return 0

    return asyncio.run(main())


def cmd_ops_act(args: argparse.Namespace, settings: Settings) -> int:
    from bot.composition import build
    from service.ops import Action, Kind, OpsError, act

    async def main() -> int:
        app = await build(settings)
        try:
            done = await act(app.sessions, kind=Kind(args.kind), row_id=args.id,
                             action=Action(args.action), now=datetime.now(UTC),
                             actor=f"cli:{args.by or getpass.getuser()}")
        except OpsError as exc:
            print(exc, file=sys.stderr)
            return 1
        finally:
            await app.close()
        print(done)
        return 0

    return asyncio.run(main())


def cmd_ops_audit(args: argparse.Namespace, settings: Settings) -> int:
    from bot.composition import build
    from service.ops import audit_log

    async def main() -> int:
        app = await build(settings)
        try:
            entries = await audit_log(app.sessions)
        finally:
            await app.close()
        for e in entries:
            print(f"{e.at:%Y-%m-%d %H:%M:%S} {e.actor:<20} {e.action:<8} {e.kind:<8} "
                  f"{e.target_id:>8}  {e.detail or ''}")
        return 0

    return asyncio.run(main())


def add_commands(sub: Any) -> None:
    ops = sub.add_parser("ops", help="failures kept for a person: list, retry, discard"
                         ).add_subparsers(dest="ops_command", required=True)
    kinds = ["inbound", "outbox", "permit"]
    listing = ops.add_parser("list", help="dead letters, failed sends, failed permit "
                             "signings, with reasons")
    listing.add_argument("--kind", choices=kinds)
    listing.set_defaults(func=cmd_ops_list)
    for action, text in (("retry", "put a failed row back in its queue"),
                         ("discard", "take a failed row out for good")):
        cmd = ops.add_parser(action, help=text)
        cmd.add_argument("kind", choices=kinds)
        cmd.add_argument("id", type=int)
        cmd.add_argument("--by", help="who does it (audit log; default: the OS user)")
        cmd.set_defaults(func=cmd_ops_act, action=action)
    ops.add_parser("audit", help="the operators' actions, newest first").set_defaults(
        func=cmd_ops_audit)
