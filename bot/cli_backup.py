"""`izin backup` / `izin restore` (bot/backup.py)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.settings import Settings


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from bot.backup import BackupError, backup

    name = f"izin-backup-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.tar.gz"
    out = Path(args.out or name)
    if out.is_dir():  # a backup directory (the nightly timer): a new dated archive in it
        out = out / name
    try:
        done = backup(settings.db_url, settings.files_dir, out)
    except BackupError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"backup written: {done.path} ({done.backend}, {done.files} files)")
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from bot.backup import BackupError, restore

    try:
        done = restore(Path(args.archive), settings.db_url, settings.files_dir)
    except (BackupError, OSError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"restored {done.backend} database and {done.files} files from {done.path}")
    return 0


def add_commands(sub: Any) -> None:
    b = sub.add_parser("backup", help="snapshot the database and the file store into one "
                       "archive")
    b.add_argument("--out", help="archive path, or a directory to put "
                   "izin-backup-<UTC time>.tar.gz in (default: that name here)")
    b.set_defaults(func=cmd_backup)
    r = sub.add_parser("restore", help="restore an archive into an empty data dir / database")
    r.add_argument("archive")
    r.set_defaults(func=cmd_restore)
