"""The `izin` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot.cli_backup import add_commands as add_backup_commands
from bot.cli_broadcast import add_commands as add_broadcast_commands
from bot.cli_ops import add_commands as add_ops_commands
from bot.cli_permits import add_commands as add_permit_commands
from bot.cli_precheck import add_commands as add_precheck_commands
from bot.cli_staff import add_commands as add_staff_commands
from bot.data_at_rest import restrict_umask
from bot.logs import configure as configure_logging
from bot.settings import Settings
from licensing.catalog import STANDARDS_DIR, Catalog, CatalogError


def _catalog(settings: Settings) -> Catalog:
    return Catalog.load(settings.catalog_dir or STANDARDS_DIR)


def cmd_catalog_list(args: argparse.Namespace, settings: Settings) -> int:
    for e in _catalog(settings):
        print(f"{e.region.slug:<14} {e.profession.slug:<18} {e.service}")
    return 0


def cmd_catalog_validate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        catalog = _catalog(settings)
    except CatalogError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{len(catalog)} service standards are valid.")
    return 0


def cmd_catalog_show(args: argparse.Namespace, settings: Settings) -> int:
    entry = _catalog(settings).find(args.region, args.profession)
    if entry is None:
        print(f"no standard for {args.region}/{args.profession}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(entry.to_public_json(), ensure_ascii=False, indent=2))
        return 0
    print(f"{entry.service} — {entry.region.name}")
    print(f"Produk: {entry.product}")
    print("Persyaratan:")
    for r in entry.requirements:
        flag = "unggah" if r.kind == "upload" else "diperiksa petugas"
        print(f"  [{r.code}] {r.title} ({flag})")
    print("Prosedur:")
    for s in entry.procedure:
        print(f"  [{s.code}] ({s.role.value}) {s.title}")
    print(f"Jangka waktu: {entry.deadline.days} hari "
          f"{'kerja' if entry.deadline.unit.value == 'working' else 'kalender'} — "
          f"{entry.deadline.text}")
    print(f"Biaya: {entry.fee_text}")
    print(f"Survei sebelum unduh: {'ya' if entry.survey_before_download else 'tidak'}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from storage.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    print("database is at the latest schema")
    return 0


def cmd_db_downgrade(args: argparse.Namespace, settings: Settings) -> int:
    from bot.settings import Environment
    from storage.migrate import DowngradeRefused, downgrade

    try:
        downgrade(settings.db_url, args.revision,
                  production=settings.env is Environment.production)
    except DowngradeRefused as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"database is at {args.revision}")
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.console.chat import keep_logs_out_of_the_chat, run
    from bot.composition import build

    keep_logs_out_of_the_chat(settings.data_dir / "chat.log")

    async def main() -> None:
        app = await build(settings)
        try:
            await run(app, args.user)
        finally:
            await app.close()

    asyncio.run(main())
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.serve import serve

    asyncio.run(serve(settings))
    return 0


def cmd_telegram_set_webhook(args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.telegram.channel import make_bot, set_webhook

    if not (settings.telegram_token and settings.telegram_webhook_url):
        print("set IZIN_TELEGRAM_TOKEN and IZIN_TELEGRAM_WEBHOOK_URL", file=sys.stderr)
        return 1

    async def main() -> None:
        bot = make_bot(settings)
        try:
            await set_webhook(bot, settings)
        finally:
            await bot.session.close()

    asyncio.run(main())
    print(f"webhook set: {settings.telegram_webhook_url}")
    return 0


def cmd_telegram_link(args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.telegram.channel import make_bot
    from bot.channels.telegram.links import deep_link

    if not settings.telegram_token:
        print("set IZIN_TELEGRAM_TOKEN", file=sys.stderr)
        return 1
    parts = [args.reg_no] if args.kind == "status" else [args.region, args.profession]
    if not all(parts) or (args.kind != "status" and _catalog(settings).find(*parts) is None):
        print("give --status REG_NO, or a --region and --profession of the catalog",
              file=sys.stderr)
        return 1

    async def username() -> str:
        bot = make_bot(settings)
        try:
            return (await bot.get_me()).username or ""
        finally:
            await bot.session.close()

    try:
        print(deep_link(asyncio.run(username()), args.kind, *parts))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="izin", description="Izin: practice-permit assistant")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("serve", help="run the HTTP app, channels and the outbox dispatcher"
                   ).set_defaults(func=cmd_serve)

    chat = sub.add_parser("chat", help="chat as an applicant in the terminal")
    chat.add_argument("--user", default="local", help="who is chatting (any id)")
    chat.set_defaults(func=cmd_chat)

    cat = sub.add_parser("catalog", help="the service-standard catalog").add_subparsers(
        dest="catalog_command", required=True)
    cat.add_parser("list", help="list region/profession standards").set_defaults(
        func=cmd_catalog_list)
    cat.add_parser("validate", help="validate every standard file").set_defaults(
        func=cmd_catalog_validate)
    show = cat.add_parser("show", help="show one standard")
    show.add_argument("region")
    show.add_argument("profession")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_catalog_show)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)
    down = db.add_parser("downgrade", help="undo migrations (refused with IZIN_ENV=production:"
                         " restore a backup instead)")
    down.add_argument("revision")
    down.set_defaults(func=cmd_db_downgrade)

    tg = sub.add_parser("telegram", help="the Telegram bot").add_subparsers(
        dest="telegram_command", required=True)
    tg.add_parser("set-webhook", help="register IZIN_TELEGRAM_WEBHOOK_URL with its secret"
                  ).set_defaults(func=cmd_telegram_set_webhook)
    link = tg.add_parser("link", help="a t.me deep link: info or apply for a service, or a "
                         "status")
    link.add_argument("kind", choices=["info", "apply", "status"])
    link.add_argument("--region")
    link.add_argument("--profession")
    link.add_argument("--reg-no")
    link.set_defaults(func=cmd_telegram_link)

    add_permit_commands(sub)
    add_staff_commands(sub)
    add_broadcast_commands(sub)
    add_ops_commands(sub)
    add_backup_commands(sub)
    add_precheck_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:  # checked before anything starts, with the setting's name
        for err in exc.errors():
            name = "IZIN_" + str(err["loc"][0]).upper() if err["loc"] else "settings"
            print(f"{name}: {err['msg']}", file=sys.stderr)
        return 2
    configure_logging(settings)
    restrict_umask()  # the database, scans and backups are personal data: 0600 / 0700
    result: int = args.func(args, settings)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
