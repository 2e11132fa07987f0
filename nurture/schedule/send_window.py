"""When an email may go out: the scenario's hours, weekdays, holidays and quiet hours in the
lead's timezone, and, with send-time optimisation, the lead's own best hour.

Pure and deterministic so the workflow can call it with `workflow.now()`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from nurture.leads.events import EMAIL_CLICK, EMAIL_OPEN, BehaviorEvent
from nurture.scenario.model import WEEKDAYS, SendWindow

_SEARCH_DAYS = 400
Interval = tuple[datetime, datetime]


def next_send_time(
    due: datetime,
    window: SendWindow | None,
    timezone: str | None = None,
    send_hour: int | None = None,
) -> datetime:
    """The first moment at or after `due` inside the window (`due` itself when it is inside).

    With `send_hour`, the first such moment within that local hour; a send hour the window
    never allows is ignored, so optimisation can only choose among allowed times.
    """
    if window is None:
        return due
    zone = ZoneInfo(timezone or window.timezone)
    local = due.astimezone(zone)
    if send_hour is not None and not hour_ever_open(window, send_hour):
        send_hour = None
    allowed_days = {WEEKDAYS.index(d) for d in window.weekdays}
    holidays = set(window.holidays)
    for _ in range(_SEARCH_DAYS):
        day = local.date()
        if day.weekday() in allowed_days and day not in holidays:
            for start, end in _open_intervals(day, window, zone, send_hour):
                if local < end:
                    return max(local, start).astimezone(due.tzinfo)
        local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    raise ValueError("the send window never opens in the next 400 days: check weekdays/holidays")


def local_day(moment: datetime, window: SendWindow | None) -> date:
    """The calendar day of `moment` in the scenario's timezone (UTC without a window)."""
    return moment.astimezone(ZoneInfo(window.timezone if window else "UTC")).date()


def next_day_opens(moment: datetime, window: SendWindow | None) -> datetime:
    """A minute past the next midnight in the scenario's timezone (how journeys queued
    before capacity kept to business hours ask again)."""
    zone = ZoneInfo(window.timezone if window else "UTC")
    tomorrow = local_day(moment, window) + timedelta(days=1)
    return datetime.combine(tomorrow, time(0, 1), tzinfo=zone)


def next_capacity_check(moment: datetime, window: SendWindow | None) -> datetime:
    """When a hand-off waiting for sales capacity asks again: hourly while the product's
    send window is open (its business hours and days, in the scenario's timezone), else
    when it next opens. Sales capacity is spent on business days only."""
    zone = window.timezone if window else None
    opening = next_send_time(moment, window, zone)
    if opening > moment:
        return opening
    return next_send_time(moment + timedelta(hours=1), window, zone)


def in_business_hours(moment: datetime, window: SendWindow | None) -> bool:
    """Inside the product's send window (no window: always)."""
    return next_send_time(moment, window, window.timezone if window else None) == moment


def _open_intervals(
    day: date, window: SendWindow, zone: ZoneInfo, send_hour: int | None
) -> list[Interval]:
    """The day's open hours minus its quiet hours (and outside `send_hour`), in order."""
    hours = [h for h in range(*window.hours) if not window.is_quiet(h)]
    if send_hour is not None:
        hours = [h for h in hours if h == send_hour]
    intervals: list[Interval] = []
    for hour in hours:
        start = _at(day, hour, zone)
        end = _at(day, hour + 1, zone)
        if intervals and intervals[-1][1] == start:
            intervals[-1] = (intervals[-1][0], end)
        else:
            intervals.append((start, end))
    return intervals


def _at(day: date, hour: int, zone: ZoneInfo) -> datetime:
    if hour == 24:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return datetime.combine(day, time(hour), tzinfo=zone)


def hour_ever_open(window: SendWindow, hour: int) -> bool:
    """Whether email may ever go out in this local hour (inside the hours, not quiet)."""
    return window.hours[0] <= hour < window.hours[1] and not window.is_quiet(hour)


def preferred_send_hour(open_hours: Mapping[int, int], min_events: int) -> int | None:
    """The local hour a lead's human opens and clicks cluster in, once there are
    `min_events` of them; ties go to the earlier hour."""
    if sum(open_hours.values()) < min_events:
        return None
    return min(open_hours, key=lambda hour: (-open_hours[hour], hour))


def open_hours(events: Iterable[BehaviorEvent], timezone: str) -> Counter[int]:
    """Human opens and clicks (machine opens excluded) counted by their local hour."""
    zone = ZoneInfo(timezone)
    return Counter(
        e.occurred_at.astimezone(zone).hour
        for e in events
        if e.type in (EMAIL_OPEN, EMAIL_CLICK) and not e.machine_open
    )
