"""Platform bodies read defensively: JSON that is too deep or not JSON becomes None.

Python's json parser recurses: a 1000-level body raises RecursionError, and one a
little shallower would raise it later, wherever the value is serialised again (the
database's JSON column). Platform payloads are a handful of levels deep.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32


def load_json(raw: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed body, or None when it is not JSON or nests deeper than `max_depth`."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value if depth(value, max_depth) <= max_depth else None


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of containers, without recursion (counting stops past `limit`)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            items: Any = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((child, level + 1) for child in items)
    return deepest
