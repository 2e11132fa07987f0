"""Emailing our own sales team about a hand-off: the hand-off, the SLA reminder, the escalation.

At most once per (journey, send key) like every email (`sales:handoff#2`, `sales:remind#2`,
`sales:escalate#2` for hand-off 2), recorded in `sends` with mail type `sales`, which the
frequency cap does not count. The lead's consent and suppressions do not apply: the lead is
not the recipient. The journey passes ids only; who the lead is comes from the hand-off's
stored payload, so no personal data enters the journey's history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email import deliver_claimed, in_progress
from nurture.config import Settings
from nurture.handoff.records import handoff_payload
from nurture.mail.providers import EmailProvider, SendTags
from nurture.mail.sales import SalesMailKind, SalesNotice, sales_message
from nurture.scenario.model import Brand
from nurture.sending import claims
from nurture.store.engine import Store
from nurture.store.models import utcnow


class SalesMailInput(BaseModel):
    """One email to sales about hand-off `handoff_no` of a journey; `to` is our own
    colleague's address from the pinned scenario (owner or escalation), never the lead's."""

    brand: Brand
    journey_id: str
    lead_id: str
    handoff_no: int
    kind: SalesMailKind
    to: str
    business_days: int = 0
    timezone: str = "UTC"
    journey_time: datetime

    @property
    def send_key(self) -> str:
        return f"sales:{self.kind}#{self.handoff_no}"


class SalesMailResult(BaseModel):
    send_id: str
    status: str
    detail: str | None = None


class SalesMailActivities:
    def __init__(self, store: Store, settings: Settings, provider: EmailProvider) -> None:
        self.store = store
        self.settings = settings
        self.provider = provider

    @activity.defn(name="notify_sales")
    def notify_sales(self, input: SalesMailInput) -> SalesMailResult:
        """Claim, deliver, mark sent; retried until the provider accepts. A retry after
        success returns the recorded outcome and sends nothing."""
        claimed = self._claim(input)
        if isinstance(claimed, SalesMailResult):
            return claimed
        send_id, payload = claimed
        notice = SalesNotice(input.kind, input.to, input.business_days, input.timezone)
        deliver_claimed(
            self.store,
            self.provider,
            lambda: sales_message(notice, payload, input.brand, send_id=send_id, sent_at=utcnow()),
            self._tags(input, send_id),
        )
        activity.logger.info("sent %s (%s) for %s", input.send_key, send_id, input.journey_id)
        return SalesMailResult(send_id=send_id, status="sent")

    def _claim(self, input: SalesMailInput) -> SalesMailResult | tuple[str, dict[str, Any]]:
        """Claim the send like every email (nurture/sending/claims.py), once the hand-off
        is known. Returns the final result, or (send id, hand-off payload) when this
        attempt delivers. The payload is read before the claim: an erasure in between
        makes the claim `suppressed`, so a payload read before it never goes out."""
        payload = handoff_payload(self.store, input.journey_id, input.handoff_no)
        if payload is None:
            raise ApplicationError(
                f"hand-off #{input.handoff_no} of {input.journey_id} is not in the store",
                type="HandoffNotFound",
                non_retryable=True,
            )
        new = claims.NewSend(
            journey_id=input.journey_id,
            send_key=input.send_key,
            lead_id=input.lead_id,
            product=input.brand.product,
            mail_type="sales",
            template=f"sales-{input.kind}",
            subject="",
            provider=self.provider.name,
            journey_time=input.journey_time,
        )
        attempt = claims.claim(
            self.store,
            new,
            self.settings,
            redeliver_stale=self.provider.redelivery_is_harmless,
            to_sales=True,
        )
        if attempt.decision.outcome == "claimed":
            return attempt.send_id, payload
        if attempt.decision.outcome == "busy":
            raise in_progress(attempt.send_id)
        if attempt.decision.outcome == "done":
            return _result_of(attempt)
        return SalesMailResult(
            send_id=attempt.send_id, status=attempt.status, detail=attempt.detail
        )

    def _tags(self, input: SalesMailInput, send_id: str) -> SendTags:
        return SendTags(
            send_id=send_id,
            journey_id=input.journey_id,
            lead_id=input.lead_id,
            product=input.brand.product,
            mail_type="sales",
            send_key=input.send_key,
            variant=0,
        )


def _result_of(attempt: claims.Attempt) -> SalesMailResult:
    """What an earlier attempt decided; a refusal stays final, as it was then."""
    if attempt.status in ("failed", "uncertain"):
        raise ApplicationError(
            attempt.detail or attempt.status,
            type=f"Send{attempt.status.title()}",
            non_retryable=True,
        )
    return SalesMailResult(send_id=attempt.send_id, status=attempt.status, detail=attempt.detail)
