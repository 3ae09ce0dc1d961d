"""The office's side of an application that the chat needs: starting the deadline clock."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from licensing.calendar import WorkingCalendar
from licensing.catalog import CatalogEntry
from storage.models import Application


def start_clock(
    app: Application, entry: CatalogEntry, calendar: WorkingCalendar, *, now: datetime
) -> None:
    """Start the published deadline from today (in the region's time zone)."""
    today = now.astimezone(ZoneInfo(entry.region.timezone)).date()
    app.clock_started_on = today
    app.due_on = calendar.due_date(today, entry.deadline.days, entry.deadline.unit.value)
