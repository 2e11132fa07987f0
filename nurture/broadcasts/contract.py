"""What the broadcast workflows take, report and hand to journeys (kept stable: running
journeys and broadcasts carry these in their histories)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from nurture.scenario.model import LineMessage, MailType

WORKFLOW_TYPE = "Broadcast"
JOURNEY_WORKFLOW_TYPE = "BroadcastJourney"
UPDATE_NAME = "broadcast"
SEND_KEY_PREFIX = "broadcast:"
# A broadcast the frequency cap or the send window holds back is still sent this long
# after its time; later it is dropped ("expired"): a seminar invitation two weeks late is
# noise. Longer than the weekly cap's window, so a capped lead gets it once a slot frees.
DEFAULT_EXPIRY = timedelta(days=10)


def broadcast_workflow_id(broadcast_id: str) -> str:
    return f"broadcast:{broadcast_id}"


def broadcast_journey_id(broadcast_id: str, lead_id: str) -> str:
    """The short-lived journey of a lead that had none: opaque ids only."""
    return f"broadcast-journey:{broadcast_id}:{lead_id}"


def send_key(broadcast_id: str) -> str:
    """One per lead and broadcast, whichever journey sends it (nurture/sending/claims.py
    finds it across journeys)."""
    return f"{SEND_KEY_PREFIX}{broadcast_id}"


class Variant(BaseModel):
    subject: str = Field(min_length=1, max_length=300)
    template: str = Field(min_length=1, max_length=100)


class BroadcastDelivery(BaseModel):
    """What a journey gets in the `broadcast` update: the message, and when it may go."""

    broadcast_id: str
    mail_type: MailType = "newsletter"
    variants: list[Variant] = Field(min_length=1)
    send_at: datetime = Field(description="UTC; with local_time, its wall-clock time is kept")
    local_time: bool = False
    expires_after: timedelta = DEFAULT_EXPIRY
    channel: Literal["email", "line"] = "email"
    line: LineMessage | None = Field(
        default=None, description="on LINE: the message; the variants are its email fallback"
    )
    fallback: Literal["email", "none"] = Field(
        default="email", description="on LINE, for a lead not on LINE: the email, or nothing"
    )


HandOutcome = Literal["journey", "broadcast_journey", "skipped", "already", "failed"]


class BroadcastAnswer(BaseModel):
    """A journey's answer to the `broadcast` update."""

    outcome: Literal["queued", "skipped", "already"]
    due: datetime | None = None
    detail: str = ""


class PendingBroadcast(BaseModel):
    """A broadcast a journey will send at `due` (held by the send window or the cap)."""

    delivery: BroadcastDelivery
    due: datetime
    expires_at: datetime


class BroadcastInput(BaseModel):
    broadcast_id: str
    rate: float = Field(default=50.0, gt=0, le=1000, description="leads per second at most")
    heartbeat_seconds: int = Field(default=30, ge=1, le=600)
    progress: BroadcastProgress | None = Field(default=None, description="carried across runs")


class BroadcastProgress(BaseModel):
    recipients: int = 0
    next_seq: int = 1
    handed: int = 0
    to_journeys: int = 0
    to_broadcast_journeys: int = 0
    skipped: int = 0
    failed: int = 0
    paused: bool = False
    state: Literal["waiting", "freezing", "sending", "paused", "finished", "cancelled"] = "waiting"


class HandOverInput(BaseModel):
    broadcast_id: str
    from_seq: int
    to_seq: int


class HandOverResult(BaseModel):
    counts: dict[str, int] = Field(default_factory=dict)


class BroadcastJourneyInput(BaseModel):
    product: str
    lead_id: str
    delivery: BroadcastDelivery
    timezone: str | None = None


class BroadcastJourneyResult(BaseModel):
    status: str
    detail: str = ""


BroadcastInput.model_rebuild()
