"""Alembic, driven from code: `izin db upgrade` and the upgrade-on-start for SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATION_LOCK_KEY = 0x697A696E  # "izin": the PostgreSQL advisory lock migrations hold


class DowngradeRefused(RuntimeError):
    """Downgrades drop columns and their data: production rolls back by restoring."""


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str, *, production: bool) -> None:
    if production:
        raise DowngradeRefused(
            "migrations only move forward in production: restore the backup taken before "
            "the upgrade instead (`izin restore`)")
    command.downgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    # Alembic's env runs its own event loop for async drivers, so keep it off ours.
    await asyncio.to_thread(upgrade, url, revision)
