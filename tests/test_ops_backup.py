"""`izin backup` / `izin restore`: a round trip into an empty data dir (SQLite) or an
empty database (PostgreSQL) gives back every row and every file, byte for byte."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bot.backup import BackupError, backup, restore
from bot.composition import App
from storage.db import create_engine, is_sqlite
from storage.models import Base
from tests.conftest import PG_URL
from tests.test_permit_journey import approve, submit

IZIN = [sys.executable, "-m", "bot.cli"]
RESTORE_DB = "izin_ops_restore"


async def every_row(url: str) -> dict[str, list[Any]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            out: dict[str, list[Any]] = {}
            for table in Base.metadata.sorted_tables:
                rows = (await conn.execute(select(table).order_by(*table.primary_key))).all()
                out[table.name] = [tuple(r) for r in rows]
            out["alembic_version"] = (await conn.execute(
                text("SELECT version_num FROM alembic_version"))).all()
            return out
    finally:
        await engine.dispose()


def file_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts}


async def some_data(app: App, samples: dict[str, Path]) -> None:
    reg_no = await submit(app, "backup-user", "pekanbaru", "okupasi-terapis", samples)
    await approve(app, reg_no)


def _psql(sql: str) -> None:
    assert PG_URL
    u = make_url(PG_URL)
    subprocess.run(["psql", "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U",
                    u.username or "postgres", "-d", "postgres", "-qc", sql], check=True,
                   capture_output=True, env={**os.environ, "PGPASSWORD": str(u.password or "")})


@pytest.fixture
def restore_url() -> Iterator[str | None]:
    if not PG_URL:
        yield None
        return
    _psql(f"DROP DATABASE IF EXISTS {RESTORE_DB}")
    _psql(f"CREATE DATABASE {RESTORE_DB}")
    yield make_url(PG_URL).set(database=RESTORE_DB).render_as_string(hide_password=False)
    _psql(f"DROP DATABASE IF EXISTS {RESTORE_DB} WITH (FORCE)")


async def test_round_trip_gives_back_every_row_and_file(
        app: App, samples: dict[str, Path], tmp_path: Path, db_url: str,
        restore_url: str | None) -> None:
    await some_data(app, samples)
    archive = tmp_path / "out" / "izin.tar.gz"
    done = backup(db_url, app.files.root, archive)
    assert done.files >= 3 and stat.S_IMODE(archive.stat().st_mode) == 0o600
    target_dir = tmp_path / "restored"
    target_url = (f"sqlite+aiosqlite:///{target_dir / 'izin.db'}" if is_sqlite(db_url)
                  else restore_url)
    assert target_url
    restore(archive, target_url, target_dir / "files")
    assert await every_row(target_url) == await every_row(db_url)
    assert file_hashes(target_dir / "files") == file_hashes(app.files.root)
    assert len(file_hashes(app.files.root)) == done.files
    if is_sqlite(db_url):  # the restored database is the service user's alone
        assert stat.S_IMODE((target_dir / "izin.db").stat().st_mode) == 0o600
        with pytest.raises(BackupError, match="empty data directory"):
            restore(archive, target_url, target_dir / "files")


async def test_a_tampered_file_is_refused(app: App, samples: dict[str, Path], tmp_path: Path,
                                          db_url: str) -> None:
    await some_data(app, samples)
    archive = tmp_path / "izin.tar.gz"
    backup(db_url, app.files.root, archive)
    with tarfile.open(archive, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None)  # type: ignore[union-attr]
                   for m in tar.getmembers()]
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        for m, data in members:
            if m.name.startswith("files/") and data is not None:
                data = b"x" + data[1:]
            tar.addfile(m, io.BytesIO(data) if data is not None else None)
    with pytest.raises(BackupError, match="does not match its checksum"):
        restore(bad, f"sqlite+aiosqlite:///{tmp_path / 'r' / 'izin.db'}", tmp_path / "r" / "f")


@pytest.mark.slow  # four `izin` processes
def test_the_commands(tmp_path: Path) -> None:
    env = {**os.environ, "IZIN_DATA_DIR": str(tmp_path / "var")}
    env.pop("IZIN_DATABASE_URL", None)
    nothing = subprocess.run([*IZIN, "backup"], env=env, capture_output=True, text=True,
                             timeout=120, check=False)
    assert nothing.returncode == 1 and "no database at" in nothing.stderr
    subprocess.run([*IZIN, "db", "upgrade"], env=env, timeout=120, check=True,
                   capture_output=True)
    (tmp_path / "backups").mkdir()
    made = subprocess.run([*IZIN, "backup", "--out", str(tmp_path / "backups")], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert made.returncode == 0 and "backup written" in made.stdout, made.stderr
    (archive,) = (tmp_path / "backups").glob("izin-backup-*.tar.gz")  # as the timer keeps them
    env["IZIN_DATA_DIR"] = str(tmp_path / "new")
    back = subprocess.run([*IZIN, "restore", str(archive)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert back.returncode == 0 and "restored sqlite database" in back.stdout, back.stderr
