"""`izin backup` / `izin restore`: the database and the file store as one archive.

The database is snapshotted first (SQLite: the online backup API, a consistent copy
while the server keeps writing; PostgreSQL: `pg_dump -Fc`, one snapshot transaction),
then the file store. Stored files are content-addressed and written before the row that
names them commits, so every file the snapshot names is already there; files stored
later are harmless extras. The manifest lists every file with its SHA-256; restore
checks each one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.db import is_sqlite

FORMAT = 1
DB_SQLITE = "db.sqlite3"
DB_PG = "db.pgdump"


class BackupError(RuntimeError):
    pass


@dataclass(frozen=True)
class Summary:
    path: Path
    files: int
    backend: str


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The SQLAlchemy URL as pg_dump takes it, with the password in the environment."""
    u = make_url(url)
    env = dict(os.environ)
    if u.password is not None:
        env["PGPASSWORD"] = str(u.password)
    plain = u.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _store_files(files_dir: Path) -> list[Path]:
    if not files_dir.is_dir():
        return []
    return sorted(p for p in files_dir.rglob("*")
                  if p.is_file() and p.relative_to(files_dir).parts[0] != "tmp")


def backup(db_url: str, files_dir: Path, out: Path) -> Summary:
    """Write the archive `out` (a .tar.gz, mode 0600)."""
    with tempfile.TemporaryDirectory(prefix="izin-backup-") as work:
        stage = Path(work)
        if is_sqlite(db_url):
            backend, db_name = "sqlite", DB_SQLITE
            source = _sqlite_path(db_url)
            if not source.is_file():
                raise BackupError(f"no database at {source}")
            with closing(sqlite3.connect(source)) as src, \
                    closing(sqlite3.connect(stage / db_name)) as dst:
                src.backup(dst)
        else:
            backend, db_name = "postgresql", DB_PG
            target, env = _libpq(db_url)
            done = subprocess.run(["pg_dump", "-Fc", "--no-owner", "-f", str(stage / db_name),
                                   target], env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        files = _store_files(files_dir)
        manifest = {
            "format": FORMAT, "created_at": datetime.now(UTC).isoformat(), "backend": backend,
            "database": db_name, "database_sha256": _sha256(stage / db_name),
            "files": {str(p.relative_to(files_dir)): _sha256(p) for p in files},
        }
        (stage / "manifest.json").write_text(json.dumps(manifest, indent=1))
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            tar.add(stage / "manifest.json", arcname="manifest.json")
            tar.add(stage / db_name, arcname=db_name)
            for p in files:
                tar.add(p, arcname=f"files/{p.relative_to(files_dir)}")
        os.replace(partial, out)  # a crash mid-backup never leaves a truncated archive
    return Summary(out, len(files), backend)


def restore(archive: Path, db_url: str, files_dir: Path) -> Summary:
    """Restore into an empty database and file store; every file's hash is checked."""
    with tempfile.TemporaryDirectory(prefix="izin-restore-") as work:
        stage = Path(work)
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(stage, filter="data")
        manifest = json.loads((stage / "manifest.json").read_text())
        if manifest.get("format") != FORMAT:
            raise BackupError(f"unknown backup format {manifest.get('format')}")
        db_file = stage / manifest["database"]
        if _sha256(db_file) != manifest["database_sha256"]:
            raise BackupError("the database snapshot does not match its checksum")
        for rel, digest in manifest["files"].items():
            if _sha256(stage / "files" / rel) != digest:
                raise BackupError(f"file {rel} does not match its checksum")
        backend = manifest["backend"]
        if backend != ("sqlite" if is_sqlite(db_url) else "postgresql"):
            raise BackupError(f"this backup is of a {backend} database; IZIN_DATABASE_URL "
                              "is another kind (restore into the same kind)")
        if backend == "sqlite":
            target = _sqlite_path(db_url)
            if target.exists() and target.stat().st_size > 0:
                raise BackupError(f"{target} exists: restore into an empty data directory")
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copyfile(db_file, target)
            target.chmod(0o600)
        else:
            url, env = _libpq(db_url)
            done = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "-d", url,
                                   str(db_file)], env=env, capture_output=True, text=True,
                                  check=False)
            if done.returncode != 0:
                raise BackupError(f"pg_restore failed (restore into an empty database): "
                                  f"{done.stderr.strip()}")
        for rel in manifest["files"]:
            dest = files_dir / rel
            if dest.exists():
                continue  # content-addressed: same name, same bytes
            dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            shutil.copyfile(stage / "files" / rel, dest)
            dest.chmod(0o600)
    return Summary(archive, len(manifest["files"]), backend)
