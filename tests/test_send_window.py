"""The send window: a step due outside it waits for the next opening, in the lead's timezone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from nurture.scenario import SendWindow
from nurture.send_window import next_send_time

TOKYO = ZoneInfo("Asia/Tokyo")
WINDOW = SendWindow(timezone="Asia/Tokyo", hours=(9, 18), holidays=[date(2026, 11, 23)])


def at(y: int, mo: int, d: int, h: int, mi: int = 0, tz: ZoneInfo = TOKYO) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


def test_inside_the_window_sends_when_due() -> None:
    assert next_send_time(at(2026, 11, 25, 10, 30), WINDOW) == at(2026, 11, 25, 10, 30)


def test_before_opening_waits_for_nine() -> None:
    assert next_send_time(at(2026, 11, 25, 6), WINDOW) == at(2026, 11, 25, 9)


def test_after_closing_waits_for_the_next_weekday() -> None:
    assert next_send_time(at(2026, 11, 27, 18), WINDOW) == at(2026, 11, 30, 9)  # Fri → Mon


def test_weekend_and_holiday_are_skipped() -> None:
    assert next_send_time(at(2026, 11, 22, 12), WINDOW) == at(2026, 11, 24, 9)  # Sun, holiday Mon


def test_lead_timezone_overrides_the_scenario() -> None:
    new_york = ZoneInfo("America/New_York")
    due = at(2026, 11, 25, 10)  # 20:00 in New York the evening before
    assert next_send_time(due, WINDOW, "America/New_York") == at(2026, 11, 25, 9, tz=new_york)


def test_no_window_means_any_time() -> None:
    assert next_send_time(at(2026, 11, 22, 3), None) == at(2026, 11, 22, 3)
