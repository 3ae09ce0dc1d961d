"""Quiet hours: reminders and broadcasts wait between 21:00 and 06:00 at the recipient's.

Indonesia's zones (WIB, WITA, WIT) have no daylight saving, but the zone is kept by
name so the rule stays right wherever a region is.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

QUIET_START = time(21, 0)
QUIET_END = time(6, 0)


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def quiet_until(now: datetime, tz: str, *, start: time = QUIET_START,
                end: time = QUIET_END) -> datetime | None:
    """When quiet hours end if `now` is inside them in zone `tz` (aware), else None."""
    local = now.astimezone(_zone(tz))
    t = local.timetz().replace(tzinfo=None)
    if start <= t:
        day = local.date() + timedelta(days=1)
    elif t < end:
        day = local.date()
    else:
        return None
    return datetime.combine(day, end, tzinfo=local.tzinfo)


def in_quiet_hours(now: datetime, tz: str) -> bool:
    return quiet_until(now, tz) is not None
