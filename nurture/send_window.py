"""When an email may go out: the scenario's hours, weekdays and holidays in the lead's timezone.

Pure and deterministic so the workflow can call it with `workflow.now()`.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from nurture.scenario import WEEKDAYS, SendWindow

_SEARCH_DAYS = 400


def next_send_time(
    due: datetime, window: SendWindow | None, timezone: str | None = None
) -> datetime:
    """The first moment at or after `due` inside the window (`due` itself when it is inside)."""
    if window is None:
        return due
    zone = ZoneInfo(timezone or window.timezone)
    local = due.astimezone(zone)
    start_hour, end_hour = window.hours
    allowed_days = {WEEKDAYS.index(d) for d in window.weekdays}
    holidays = set(window.holidays)
    for _ in range(_SEARCH_DAYS):
        day = local.date()
        if day.weekday() in allowed_days and day not in holidays:
            opening = datetime.combine(day, time(start_hour), tzinfo=zone)
            closing = (
                datetime.combine(day, time(end_hour), tzinfo=zone)
                if end_hour < 24
                else datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
            )
            if local < opening:
                return opening.astimezone(due.tzinfo)
            if local < closing:
                return local.astimezone(due.tzinfo)
        local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    raise ValueError("the send window never opens in the next 400 days: check weekdays/holidays")
