"""Personal data at rest: the data directory is the service user's alone (0700), the
database and stored files are 0600. New files get it from the process umask (set once
at start); an install made before this gets its modes fixed on start."""

from __future__ import annotations

import os
from pathlib import Path

from storage.db import is_sqlite

UMASK = 0o077


def restrict_umask() -> None:
    os.umask(UMASK)


def secure(data_dir: Path, db_url: str | None = None) -> None:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    files = data_dir / "files"
    if files.is_dir():
        files.chmod(0o700)
    if db_url and is_sqlite(db_url):
        db = Path(db_url.split("///", 1)[1])
        for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            if path.exists():
                path.chmod(0o600)
