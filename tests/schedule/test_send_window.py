"""The send window: a step due outside it waits for the next opening, in the lead's timezone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from nurture.leads.events import BehaviorEvent
from nurture.scenario.model import SendWindow
from nurture.schedule.send_window import next_send_time, open_hours, preferred_send_hour

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


LUNCH = WINDOW.model_copy(update={"quiet_hours": [(12, 13)]})


def test_quiet_hours_inside_the_window_are_skipped() -> None:
    assert next_send_time(at(2026, 11, 25, 12, 10), LUNCH) == at(2026, 11, 25, 13)
    assert next_send_time(at(2026, 11, 25, 11, 59), LUNCH) == at(2026, 11, 25, 11, 59)


def test_quiet_hours_may_wrap_midnight() -> None:
    late = WINDOW.model_copy(update={"hours": (0, 24), "quiet_hours": [(22, 7)]})
    assert next_send_time(at(2026, 11, 25, 23), late) == at(2026, 11, 26, 7)
    assert next_send_time(at(2026, 11, 25, 3), late) == at(2026, 11, 25, 7)


def test_a_send_hour_picks_that_hour_of_the_next_allowed_day() -> None:
    assert next_send_time(at(2026, 11, 25, 10), WINDOW, send_hour=15) == at(2026, 11, 25, 15)
    inside = at(2026, 11, 25, 15, 40)
    assert next_send_time(inside, WINDOW, send_hour=15) == inside
    assert next_send_time(at(2026, 11, 27, 16), WINDOW, send_hour=15) == at(2026, 11, 30, 15)


def test_a_send_hour_the_window_never_allows_is_ignored() -> None:
    assert next_send_time(at(2026, 11, 25, 10), WINDOW, send_hour=21) == at(2026, 11, 25, 10)
    assert next_send_time(at(2026, 11, 25, 10), LUNCH, send_hour=12) == at(2026, 11, 25, 10)


def opened(hour: int, *, machine: bool = False, day: int = 25) -> BehaviorEvent:
    return BehaviorEvent(
        event_id=f"o-{day}-{hour}-{machine}",
        type="email_open",
        occurred_at=at(2026, 11, day, hour, 5),
        properties={"machine_open": machine},
    )


def test_the_preferred_hour_is_where_human_opens_cluster() -> None:
    events = [opened(15, day=d) for d in (23, 24, 25)] + [
        opened(9, machine=True, day=d) for d in (23, 24, 25, 26)
    ]
    counts = open_hours(events, "Asia/Tokyo")
    assert counts == {15: 3}  # machine opens (privacy proxies, scanners) count for nothing
    assert preferred_send_hour(counts, min_events=3) == 15
    assert preferred_send_hour(counts, min_events=4) is None  # not enough history yet
    assert open_hours(events, "UTC") == {6: 3}  # the lead's own clock
    assert preferred_send_hour({10: 2, 14: 2, 16: 1}, min_events=3) == 10  # ties: earlier
