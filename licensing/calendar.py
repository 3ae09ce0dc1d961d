"""Working-day calendar for Indonesian licensing deadlines.

Service standards count deadlines in working days: Monday-Friday minus national
holidays (PUBLIC category of the `holidays` package) and collective leave / cuti
bersama (its GOVERNMENT category; government offices close on those days too).
A small YAML override file covers changes the government announces at short notice.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import holidays
import yaml

DEFAULT_OVERRIDES = Path(__file__).with_name("calendar_overrides.yaml")

UNITS = ("working", "calendar")


class WorkingCalendar:
    """Answers working-day questions; holiday years are loaded lazily and cached."""

    def __init__(
        self,
        overrides_path: Path | None = DEFAULT_OVERRIDES,
        *,
        include_collective_leave: bool = True,
    ) -> None:
        # include_collective_leave=False exists to compare against the PUBLIC-only view.
        self._categories: tuple[str, ...] = (
            (holidays.PUBLIC, holidays.GOVERNMENT)
            if include_collective_leave
            else (holidays.PUBLIC,)
        )
        self._added: dict[date, str] = {}
        self._removed: frozenset[date] = frozenset()
        if overrides_path is not None:
            self._added, self._removed = _load_overrides(overrides_path)
        self._years: dict[int, dict[date, str]] = {}

    def _holidays(self, year: int) -> dict[date, str]:
        """Holidays and cuti bersama of one year by date, overrides applied; cached."""
        cached = self._years.get(year)
        if cached is not None:
            return cached
        source = holidays.country_holidays(
            "ID", years=year, categories=self._categories, language="id"
        )
        names = {d: str(n) for d, n in source.items() if d.year == year}
        for d in self._removed:
            names.pop(d, None)
        names.update({d: n for d, n in self._added.items() if d.year == year})
        self._years[year] = names
        return names

    def is_working_day(self, d: date) -> bool:
        return d.weekday() < 5 and d not in self._holidays(d.year)

    def holiday_name(self, d: date) -> str | None:
        """Name of the holiday or cuti bersama on `d`; None for working days and plain weekends."""
        return self._holidays(d.year).get(d)

    def add_working_days(self, start: date, n: int) -> date:
        """The date `n` working days after `start` (`start` itself is not counted).

        n == 0 returns `start` unchanged; negative n counts backwards.
        """
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        d = start
        while remaining:
            d += step
            if self.is_working_day(d):
                remaining -= 1
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative (-count of (end, start]) if end < start."""
        if end < start:
            return -self.working_days_between(end, start)
        # Arithmetic weekday count, then subtract weekday holidays: O(years), not O(days).
        count = _weekdays_up_to(end) - _weekdays_up_to(start)
        for year in range(start.year, end.year + 1):
            count -= sum(1 for d in self._holidays(year) if start < d <= end and d.weekday() < 5)
        return count

    def due_date(self, start: date, days: int, unit: str) -> date:
        """Deadline of `days` working or calendar days counted from `start`."""
        _check_unit(unit)
        if unit == "working":
            return self.add_working_days(start, days)
        return start + timedelta(days=days)

    def days_left(self, today: date, due: date, unit: str) -> int:
        """Days from `today` to `due`: 0 on the due date, negative when overdue."""
        _check_unit(unit)
        if unit == "working":
            return self.working_days_between(today, due)
        return (due - today).days


@functools.cache
def default_calendar() -> WorkingCalendar:
    """Process-wide calendar with the bundled overrides, so its year cache is shared."""
    return WorkingCalendar()


def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise ValueError(f"unknown deadline unit {unit!r}; expected one of {UNITS}")


def _weekdays_up_to(d: date) -> int:
    """Number of Monday-Friday dates in [date.min, d]; date(1, 1, 1) is a Monday."""
    full_weeks, rest = divmod(d.toordinal(), 7)
    return full_weeks * 5 + min(rest, 5)


class _StringDateLoader(yaml.SafeLoader):
    """SafeLoader that leaves timestamps as text, so a bad date is reported per entry."""


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode)
    return str(loader.construct_scalar(node))


_StringDateLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def _load_overrides(path: Path) -> tuple[dict[date, str], frozenset[date]]:
    try:
        raw: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=_StringDateLoader)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read calendar overrides: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from exc
    if raw is None:
        return {}, frozenset()
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping with 'add' and 'remove' lists")
    unknown = set(raw) - {"add", "remove"}
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {sorted(map(str, unknown))}")

    added: dict[date, str] = {}
    for i, entry in enumerate(_entries(path, raw, "add")):
        where = f"{path}: add[{i}] {entry!r}"
        d = _entry_date(where, entry, allowed_keys={"date", "name"})
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}: 'name' must be a non-empty string")
        if d in added:
            raise ValueError(f"{where}: date {d} is listed twice")
        added[d] = name.strip()

    removed: set[date] = set()
    for i, entry in enumerate(_entries(path, raw, "remove")):
        where = f"{path}: remove[{i}] {entry!r}"
        d = _entry_date(where, entry, allowed_keys={"date", "name", "reason"})
        if d in added:
            raise ValueError(f"{where}: date {d} is in both 'add' and 'remove'")
        removed.add(d)
    return added, frozenset(removed)


def _entries(path: Path, raw: dict[Any, Any], key: str) -> list[dict[str, Any]]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{path}: '{key}' must be a list")
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: {key}[{i}] {entry!r}: expected a mapping with 'date'")
    return value


def _entry_date(where: str, entry: dict[str, Any], *, allowed_keys: set[str]) -> date:
    unknown = set(entry) - allowed_keys
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(map(str, unknown))}")
    value = entry.get("date")
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{where}: 'date' must be a YYYY-MM-DD date")
