"""Replicas starting together each run `izin db upgrade`: on PostgreSQL an advisory
lock lets one migrate while the other waits, then finds the schema at head."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_URL

IZIN = [sys.executable, "-m", "bot.cli"]
DB = "izin_ops_migrate"


def _psql(sql: str, database: str = "postgres") -> str:
    assert PG_URL
    u = make_url(PG_URL)
    return subprocess.run(["psql", "-h", u.host or "127.0.0.1", "-p", str(u.port or 5432),
                           "-U", u.username or "postgres", "-d", database, "-tAqc", sql],
                          check=True, capture_output=True, text=True,
                          env={**os.environ, "PGPASSWORD": str(u.password or "")}).stdout


@pytest.mark.slow  # two `izin` processes migrating a fresh database
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (IZIN_TEST_DATABASE_URL)")
def test_two_concurrent_upgrades_migrate_once() -> None:
    assert PG_URL
    _psql(f"DROP DATABASE IF EXISTS {DB}")
    _psql(f"CREATE DATABASE {DB}")
    try:
        url = make_url(PG_URL).set(database=DB).render_as_string(hide_password=False)
        env = {**os.environ, "IZIN_DATABASE_URL": url}
        procs = [subprocess.Popen([*IZIN, "db", "upgrade"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        heads = _psql("SELECT version_num FROM alembic_version", DB).split()
        assert len(heads) == 1
        assert int(_psql("SELECT count(*) FROM information_schema.tables "
                         "WHERE table_name = 'ops_audit'", DB)) == 1
    finally:
        _psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
