"""Deep links (`https://t.me/<bot>?start=<payload>`) in the payload format the engine
reads (conversations.flows.common.start_deep_link): `info_<region>_<profession>`,
`apply_<region>_<profession>`, `status_<registration number>`.

Telegram allows only A-Z, a-z, 0-9, `_` and `-` in a payload, at most 64 characters;
a link that would break either rule is refused here rather than printed on a poster.
"""

from __future__ import annotations

import re

_PAYLOAD_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def payload(kind: str, *parts: str) -> str:
    if kind not in {"info", "apply", "status"}:
        raise ValueError(f"unknown deep link kind {kind!r}")
    value = "_".join((kind, *parts))
    if not _PAYLOAD_RE.fullmatch(value) or any("_" in p for p in parts):
        raise ValueError(f"not a valid Telegram start payload: {value!r}")
    return value


def deep_link(bot_username: str, kind: str, *parts: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={payload(kind, *parts)}"
