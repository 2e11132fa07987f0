"""When a journey sends a broadcast: its time (in the lead's zone), the send window, the
expiry of one held back, and the leads it skips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nurture.broadcasts.contract import BroadcastDelivery, Variant
from nurture.broadcasts.delivery import deferred, intended_time, pending, skip_reason
from nurture.scenario.model import SendWindow

NOON = datetime(2027, 1, 12, 10, 0, tzinfo=UTC)  # a Tuesday
VARIANTS = [Variant(subject="Seminar", template="note")]


def delivery(**fields: object) -> BroadcastDelivery:
    return BroadcastDelivery(broadcast_id="b", variants=VARIANTS, send_at=NOON, **fields)


def test_a_local_time_is_that_hour_in_each_leads_zone() -> None:
    local = delivery(local_time=True)
    assert intended_time(local, "Asia/Tokyo") == datetime(2027, 1, 12, 1, 0, tzinfo=UTC)
    assert intended_time(local, "Europe/London") == NOON
    assert intended_time(delivery(), "Asia/Tokyo") == NOON  # a fixed instant stays one


def test_a_broadcast_waits_for_the_send_window_and_never_goes_early() -> None:
    window = SendWindow(timezone="Asia/Tokyo", hours=(9, 18))
    # 10:00 UTC is 19:00 in Tokyo: after hours, so 09:00 the next (business) day
    held = pending(delivery(), window, None, NOON - timedelta(days=1))
    assert held.due == datetime(2027, 1, 13, 0, 0, tzinfo=UTC)
    assert held.expires_at == NOON + timedelta(days=10)
    late = pending(delivery(), None, "UTC", NOON + timedelta(hours=3))
    assert late.due == NOON + timedelta(hours=3)  # handed over late: as soon as it may


def test_one_held_back_past_its_expiry_is_dropped() -> None:
    held = pending(delivery(), None, "UTC", NOON)
    assert deferred(held, NOON + timedelta(days=7)) is not None
    assert deferred(held, NOON + timedelta(days=10, seconds=1)) is None


def why(
    lifecycle: str = "nurturing", paused: bool = False, email_stopped: str | None = None
) -> str | None:
    return skip_reason(lifecycle=lifecycle, paused=paused, email_stopped=email_stopped, ended=None)


def test_leads_that_moved_on_are_skipped_with_the_reason() -> None:
    assert why() is None
    assert why(lifecycle="customer") is None  # nurtured after the win: still on the list
    assert why(lifecycle="sql") == "sales owns the lead (sql)"
    assert why(paused=True) == "the journey is paused"
    assert why(email_stopped="bounced") == "email stopped (bounced)"
