"""When a journey sends a broadcast, and when it does not: pure functions the journeys
(workflows/lead_journey.py, workflows/broadcast_journey.py) share."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from nurture.broadcasts.contract import BroadcastDelivery, PendingBroadcast
from nurture.journey.lifecycle import SALES_OWNED
from nurture.scenario.model import SendWindow, Touch
from nurture.schedule.send_window import next_send_time


def intended_time(delivery: BroadcastDelivery, timezone: str) -> datetime:
    """`send_at`; with `local_time`, its wall-clock time in the lead's zone (10:00 in
    Tokyo for a lead in Tokyo, 10:00 in London for one in London)."""
    if not delivery.local_time:
        return delivery.send_at
    wall = delivery.send_at.astimezone(UTC).replace(tzinfo=None)
    return wall.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def pending(
    delivery: BroadcastDelivery,
    window: SendWindow | None,
    timezone: str | None,
    now: datetime,
) -> PendingBroadcast:
    """The broadcast as a journey holds it: due at its time (not before now), moved into
    the product's send window; it expires `expires_after` past its intended time."""
    zone = timezone or (window.timezone if window else "UTC")
    intended = intended_time(delivery, zone)
    due = next_send_time(max(intended, now), window, zone)
    return PendingBroadcast(
        delivery=delivery, due=due, expires_at=intended + delivery.expires_after
    )


def deferred(held: PendingBroadcast, retry_at: datetime) -> PendingBroadcast | None:
    """The cap or an outage held it until `retry_at`: due then, or None once expired."""
    if retry_at > held.expires_at:
        return None
    return held.model_copy(update={"due": retry_at})


def as_touch(delivery: BroadcastDelivery) -> Touch:
    """A broadcast as a step's touch, so it goes the way a step goes
    (workflows/lead_journey.py): its variants by email, or its LINE message with the
    variants as the email fallback."""
    return Touch(
        key=delivery.broadcast_id,
        channel=delivery.channel,
        line=delivery.line,
        fallback=delivery.fallback,
        template=[v.template for v in delivery.variants],
        subject=[v.subject for v in delivery.variants],
    )


def skip_reason(
    *, lifecycle: str, paused: bool, email_stopped: str | None, ended: str | None
) -> str | None:
    """Why a journey does not send a broadcast now (None: it does)."""
    if ended is not None:
        return f"the journey has ended ({ended})"
    if email_stopped is not None:
        return f"email stopped ({email_stopped})"
    if paused:
        return "the journey is paused"
    if lifecycle in SALES_OWNED:
        return f"sales owns the lead ({lifecycle})"
    return None
