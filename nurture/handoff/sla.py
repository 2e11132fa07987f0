"""The sales SLA on a hand-off: when feedback is overdue, counted in business days.

Sales works the scenario's business days: the send window's weekdays minus its holidays
(public holidays included, resolved when the scenario loads), in the scenario's timezone
(not the lead's); Monday to Friday in UTC without a window. Pure and deterministic, so the
journey can plan its reminder from `workflow.now()`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from nurture.scenario.model import WEEKDAYS, Scenario, SendWindow
from nurture.schedule.send_window import next_send_time

SlaNotice = Literal["remind", "escalate"]
_SEARCH_DAYS = 400


def is_business_day(day: date, window: SendWindow | None) -> bool:
    weekdays = window.weekdays if window else WEEKDAYS[:5]
    holidays = window.holidays if window else []
    return WEEKDAYS[day.weekday()] in weekdays and day not in holidays


def add_business_days(start: datetime, days: int, window: SendWindow | None) -> datetime:
    """`days` business days after `start`, at the same local time of day.

    A hand-off on Friday at 12:00 with 2 business days is due on Tuesday at 12:00 (the
    weekend does not count). A hand-off outside a business day starts the clock when the
    next business day begins, so Saturday + 1 business day is the end of Monday.
    """
    zone = ZoneInfo(window.timezone if window else "UTC")
    local = start.astimezone(zone)
    day, clock = local.date(), local.time()
    if not is_business_day(day, window):
        day, clock = _next_business_day(day, window), time(0)
    for _ in range(days):
        day = _next_business_day(day, window)
    due = datetime.combine(day, clock, tzinfo=zone)
    return due.astimezone(start.tzinfo)


def _next_business_day(day: date, window: SendWindow | None) -> date:
    for _ in range(_SEARCH_DAYS):
        day += timedelta(days=1)
        if is_business_day(day, window):
            return day
    raise ValueError("no business day in the next 400 days: check send_window weekdays/holidays")


def next_sla_notice(
    scenario: Scenario, handed_off_at: datetime, notices_sent: int
) -> tuple[datetime, SlaNotice] | None:
    """The next SLA email of a hand-off still awaiting feedback, and when it is due: the
    reminder after `business_days`, the escalation after as many again (when there is
    someone to escalate to); None when the SLA has nothing more to send.

    A deadline outside the window's hours (a hand-off made at night) is met when the window
    next opens, so sales is reminded at work, not at 5 a.m.
    """
    sla = scenario.handoff.sla
    if sla is None:
        return None
    window = scenario.send_window
    if notices_sent == 0:
        notice: SlaNotice = "remind"
        days = sla.business_days
    elif notices_sent == 1 and sla.escalate_to is not None:
        notice, days = "escalate", 2 * sla.business_days
    else:
        return None
    return next_send_time(add_business_days(handed_off_at, days, window), window), notice
