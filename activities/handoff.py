"""Handing a lead to sales: record it, and post it to the CRM webhook when one is configured."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from nurture.config import Settings
from nurture.handoff.capacity import SlotRequest, leave_queue, request_slot
from nurture.handoff.records import NewHandoff, mark_posted, record_handoff, webhook_post
from nurture.observability.metrics import HANDOFFS
from nurture.scenario.model import Owners
from nurture.scoring.score import ScoreBreakdown
from nurture.store.engine import Store

SIGNATURE_HEADER = "X-Nurture-Signature"


class HandoffInput(BaseModel):
    journey_id: str
    lead_id: str
    product: str
    handoff_no: int
    score: ScoreBreakdown
    moments: list[str]
    journey_time: datetime
    owners: Owners | None = None


class PostHandoffInput(BaseModel):
    handoff_id: int


class HandoffResult(BaseModel):
    handoff_id: int
    webhook_status: str
    owner: str | None = None  # with several owners: the one this hand-off went to


class SlotInput(BaseModel):
    """A hand-off asking for a place in its product's daily capacity (ids and a score)."""

    journey_id: str
    handoff_no: int
    product: str
    score: int
    day: date
    capacity: int


class SlotResult(BaseModel):
    granted: bool
    position: int = 0


class LeaveQueueInput(BaseModel):
    journey_id: str
    handoff_no: int
    release: bool = False  # a granted slot goes back too


def sign_body(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class HandoffActivities:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    @activity.defn(name="hand_off")
    def hand_off(self, input: HandoffInput) -> HandoffResult:
        """Record once per (journey, hand-off number); `pending` when a webhook awaits it."""
        new = NewHandoff(
            journey_id=input.journey_id,
            handoff_no=input.handoff_no,
            lead_id=input.lead_id,
            product=input.product,
            score=input.score,
            moments=input.moments,
            journey_time=input.journey_time,
            owners=input.owners,
        )
        handoff = record_handoff(self.store, self.settings, new)
        HANDOFFS.labels("recorded").inc()
        return HandoffResult(
            handoff_id=handoff.id,
            webhook_status=handoff.webhook_status,
            owner=handoff.payload.get("owner"),
        )

    @activity.defn(name="request_handoff_slot")
    def request_handoff_slot(self, input: SlotInput) -> SlotResult:
        """A slot of the day's sales capacity, or the hand-off's place in the queue."""
        slot = request_slot(self.store, SlotRequest(**input.model_dump()))
        return SlotResult(granted=slot.granted, position=slot.position)

    @activity.defn(name="leave_handoff_queue")
    def leave_handoff_queue(self, input: LeaveQueueInput) -> None:
        leave_queue(self.store, input.journey_id, input.handoff_no, release=input.release)

    @activity.defn(name="post_handoff")
    def post_handoff(self, input: PostHandoffInput) -> None:
        """Post until the CRM accepts; a 4xx other than 408/429 is final (retrying won't help).

        The `Idempotency-Key` header lets the CRM drop a repeat when our attempt timed out
        after it had accepted the first one.
        """
        post = webhook_post(self.store, input.handoff_id)
        if post is None or not self.settings.handoff_webhook_url:
            return
        try:
            self._post(*post)
        except BaseException as err:
            HANDOFFS.labels("refused" if isinstance(err, ApplicationError) else "retried").inc()
            raise
        mark_posted(self.store, input.handoff_id)
        HANDOFFS.labels("posted").inc()

    def _post(self, payload: dict[str, Any], idempotency_key: str) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key}
        if self.settings.handoff_webhook_secret:
            headers[SIGNATURE_HEADER] = sign_body(body, self.settings.handoff_webhook_secret)
        request = urllib.request.Request(
            str(self.settings.handoff_webhook_url), data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                if response.status >= 300:
                    raise RuntimeError(f"hand-off webhook answered {response.status}")
        except urllib.error.HTTPError as err:
            if 400 <= err.code < 500 and err.code not in (408, 429):
                raise ApplicationError(
                    f"hand-off webhook refused it with {err.code}: fix the receiver or "
                    "NURTURE_HANDOFF_WEBHOOK_URL",
                    type="HandoffRefused",
                    non_retryable=True,
                ) from err
            raise RuntimeError(f"hand-off webhook answered {err.code}") from err
        except urllib.error.URLError as err:
            raise RuntimeError(f"hand-off webhook failed: {err}") from err
