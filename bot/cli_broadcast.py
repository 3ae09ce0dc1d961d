"""`izin broadcast`: an operator's tool to send, watch, pause, resume and cancel
broadcasts from the command line (notifications/broadcasts.py does the work).

The CLI has no login: `--as USERNAME --role ROLE` say who sends, are logged with the
broadcast, and the same role rule as the back office applies (more than one recipient
needs admin or head_of_office). Whoever can run it can read the database anyway.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.settings import Settings

BAR = 30


def _bar(p: Any) -> str:
    total = max(1, p.sent + p.pending + p.held + p.failed + p.unreachable)
    done = p.sent + p.failed + p.unreachable
    filled = int(BAR * done / total)
    return (f"[{'#' * filled}{'.' * (BAR - filled)}] {done}/{total}  sent {p.sent}  "
            f"pending {p.pending + p.held}  failed {p.failed}  unreachable {p.unreachable}"
            f"  ({p.status})")


def _selection(args: argparse.Namespace) -> Any:
    from notifications.broadcasts import Selection

    return Selection(region=args.region, profession=args.profession, step=args.step,
                     open_only=args.open, reg_no=args.reg_no)


def _template(args: argparse.Namespace) -> str:
    if args.template:
        return Path(args.template).read_text(encoding="utf-8")
    return str(args.text)


async def _follow(app: Any, broadcast_id: int, *, give_up_after: float | None,
                  interval: float = 0.5) -> int:
    from notifications.broadcasts import progress

    started = time.monotonic()
    while True:
        p = await progress(app.sessions, broadcast_id)
        sys.stdout.write("\r" + _bar(p))
        sys.stdout.flush()
        if p.finished:
            sys.stdout.write("\n")
            return 0
        if give_up_after is not None and time.monotonic() - started > give_up_after:
            sys.stdout.write("\n")
            print(f"still running after {give_up_after:.0f} s; follow it with "
                  f"`izin broadcast --progress {broadcast_id}`", file=sys.stderr)
            return 3
        await asyncio.sleep(interval)


async def _send(app: Any, args: argparse.Namespace) -> int:
    from notifications import broadcasts as bc

    selection = _selection(args)
    count = await bc.count_recipients(app.sessions, selection)
    print(f"{count.total} recipient(s): {count.reachable} reachable, "
          f"{count.unreachable} unreachable (skipped)")
    if args.dry_run:
        return 0
    template = _template(args)
    if count.reachable:
        shown = await bc.preview(app.sessions, app.catalog, selection=selection,
                                 template=template)
        print(f"--- preview for {shown.reg_no} ---\n{shown.text}\n---")
    if args.preview:
        return 0
    if not args.yes:
        sys.stdout.write(f"Send to {count.reachable} recipient(s)? [y/N] ")
        sys.stdout.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes", "ya"):
            print("not sent")
            return 1
    broadcast_id = await bc.create_broadcast(
        app.sessions, app.catalog, selection=selection, template=template,
        sender_username=args.as_user, sender_role=args.role, urgent=args.urgent,
        now=datetime.now(UTC))
    print(f"broadcast {broadcast_id} queued")
    if args.no_wait:
        return 0
    return await _follow(app, broadcast_id, give_up_after=args.timeout)


async def _manage(app: Any, args: argparse.Namespace) -> int:
    from notifications import broadcasts as bc

    now = datetime.now(UTC)
    if args.list:
        for b in await bc.list_broadcasts(app.sessions):
            print(f"{b.id:>5} {b.created_at:%Y-%m-%d %H:%M} {b.status:<10} {b.queued:>6} "
                  f"{b.sender_username} ({b.sender_role}) {b.selection}")
        return 0
    if args.pause is not None:
        print(f"{await bc.pause(app.sessions, args.pause, now=now)} message(s) held")
        return 0
    if args.resume is not None:
        print(f"{await bc.resume(app.sessions, args.resume, now=now)} message(s) released")
        return 0
    if args.cancel is not None:
        print(f"{await bc.cancel(app.sessions, args.cancel, now=now)} message(s) cancelled")
        return 0
    assert args.progress is not None
    if args.no_wait:
        print(_bar(await bc.progress(app.sessions, args.progress)))
        return 0
    return await _follow(app, args.progress, give_up_after=args.timeout)


def cmd_broadcast(args: argparse.Namespace, settings: Settings) -> int:
    from bot.composition import build
    from notifications.broadcasts import BroadcastDenied, BroadcastError

    managing = args.list or any(x is not None for x in (args.pause, args.resume,
                                                        args.cancel, args.progress))
    if not managing:
        if not (args.dry_run or args.template or args.text):
            print("give the message: --text TEXT or --template FILE", file=sys.stderr)
            return 2
        if not (args.dry_run or args.preview) and not (args.as_user and args.role):
            print("say who sends it: --as USERNAME --role ROLE", file=sys.stderr)
            return 2

    async def main() -> int:
        app = await build(settings)
        try:
            return await (_manage(app, args) if managing else _send(app, args))
        finally:
            await app.close()

    try:
        return asyncio.run(main())
    except BroadcastDenied as exc:
        print(f"not allowed: {exc}", file=sys.stderr)
        return 2
    except BroadcastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def add_commands(sub: Any) -> None:
    b = sub.add_parser("broadcast", help="send a message to many applicants (operator tool)")
    who = b.add_argument_group("recipients")
    who.add_argument("--region")
    who.add_argument("--profession")
    who.add_argument("--step", help="procedure step code (see `izin catalog show`)")
    who.add_argument("--open", action="store_true",
                     help="everyone with an open application")
    who.add_argument("--reg-no", help="one application's applicant")
    msg = b.add_argument_group("message")
    msg.add_argument("--text", help="Jinja2 text: {{ name }} {{ reg_no }} {{ step }} "
                                    "{{ deadline }}")
    msg.add_argument("--template", help="file with the Jinja2 text")
    msg.add_argument("--urgent", action="store_true", help="deliver in quiet hours too")
    b.add_argument("--preview", action="store_true", help="show it for one recipient, stop")
    b.add_argument("--dry-run", action="store_true", help="count the recipients, stop")
    b.add_argument("--yes", action="store_true", help="send without asking")
    b.add_argument("--as", dest="as_user", help="sender's staff username (logged)")
    b.add_argument("--role", help="sender's role: admin, head_of_office, front_office, ...")
    b.add_argument("--no-wait", action="store_true", help="do not follow the delivery")
    b.add_argument("--timeout", type=float, help="stop following after this many seconds")
    manage = b.add_argument_group("an existing broadcast")
    manage.add_argument("--list", action="store_true", help="the broadcast log")
    manage.add_argument("--progress", type=int, metavar="ID")
    manage.add_argument("--pause", type=int, metavar="ID")
    manage.add_argument("--resume", type=int, metavar="ID")
    manage.add_argument("--cancel", type=int, metavar="ID")
    b.set_defaults(func=cmd_broadcast)
