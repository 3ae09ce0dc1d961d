"""storage/sqlite_inline.py imitates the aiosqlite objects SQLAlchemy's aiosqlite
dialect drives. SQLAlchemy is pinned to one minor version (pyproject); this test reads
that version's adapter source and fails when it touches an attribute of the driver's
connection or cursor that the shim lacks, i.e. when the contract changed."""

from __future__ import annotations

import ast
import inspect
import re
import sqlite3
from pathlib import Path

import sqlalchemy
from sqlalchemy.connectors import asyncio as sa_asyncio
from sqlalchemy.dialects.sqlite import aiosqlite as sa_aiosqlite

from storage.sqlite_inline import InlineConnection, InlineCursor

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# Only server-side cursors (stream_results) iterate the driver cursor; nothing here
# streams from SQLite.
UNUSED = {"_cursor": {"__aiter__"}}


def _touched(module: object, holder: str) -> set[str]:
    """Attributes read or called on `self.<holder>` anywhere in the module."""
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
            and node.value.attr == holder and isinstance(node.value.value, ast.Name)
            and node.value.value.id == "self"}


def test_sqlalchemy_is_the_pinned_minor_version() -> None:
    pin = re.search(r'"sqlalchemy\[asyncio\]>=(\d+)\.(\d+)\.\d+,<(\d+)\.(\d+)"',
                    PYPROJECT.read_text())
    assert pin, "pyproject must pin SQLAlchemy to one minor version (the shim's contract)"
    major, minor = (int(p) for p in sqlalchemy.__version__.split(".")[:2])
    assert (major, minor) == (int(pin[1]), int(pin[2])), sqlalchemy.__version__


def test_the_shim_has_everything_the_dialect_touches() -> None:
    connection = _touched(sa_aiosqlite, "_connection") | _touched(sa_asyncio, "_connection")
    cursor = _touched(sa_asyncio, "_cursor") - UNUSED["_cursor"]
    assert {"commit", "rollback", "close"} <= connection  # the source reading works
    assert {"execute", "executemany", "fetchall", "description"} <= cursor
    raw = sqlite3.connect(":memory:")
    try:
        shim = InlineConnection(raw, 1.0)
        missing_conn = sorted(a for a in connection | {"cursor"} if not hasattr(shim, a))
    finally:
        raw.close()
    missing_cursor = sorted(a for a in cursor if not hasattr(InlineCursor, a))
    assert missing_conn == [] and missing_cursor == [], (missing_conn, missing_cursor)
