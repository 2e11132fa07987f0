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
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email import claim_lease, deliver_claimed, send_id_for
from nurture.config import Settings
from nurture.mail.providers import Delivery, EmailProvider
from nurture.mail.sales import SalesMailKind, SalesNotice, sales_message
from nurture.scenario.model import Brand
from nurture.sending import gate as send_gate
from nurture.store.engine import Store
from nurture.store.models import Handoff, Lead, Send, utcnow


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
            self._delivery(input, send_id),
        )
        activity.logger.info("sent %s (%s) for %s", input.send_key, send_id, input.journey_id)
        return SalesMailResult(send_id=send_id, status="sent")

    def _claim(self, input: SalesMailInput) -> SalesMailResult | tuple[str, dict[str, Any]]:
        """Under the lead's row lock, like every send: find or create the row, decide it.
        Returns the final result, or (send id, hand-off payload) when this attempt delivers."""
        with self.store.session() as session:
            lead = send_gate.lock_lead(session, input.lead_id)
            handoff = session.scalars(
                select(Handoff).where(
                    Handoff.journey_id == input.journey_id,
                    Handoff.handoff_no == input.handoff_no,
                )
            ).first()
            if handoff is None:
                raise ApplicationError(
                    f"hand-off #{input.handoff_no} of {input.journey_id} is not in the store",
                    type="HandoffNotFound",
                    non_retryable=True,
                )
            send = self._row(session, input, lead)
            decision = send_gate.claim_sales_mail(
                session, send, journey_now=input.journey_time, wall_now=utcnow(),
                lease=claim_lease(self.settings), lead=lead,
                redeliver_stale=self.provider.redelivery_is_harmless,
            )  # fmt: skip
            if decision.outcome == "busy":
                raise ApplicationError(
                    f"send {send.id} is being delivered by another attempt; retrying later",
                    type="SendInProgress",
                )
            if decision.outcome == "done":
                return _result_of(send)
            if decision.outcome != "claimed":
                return SalesMailResult(send_id=send.id, status=send.status, detail=send.detail)
            return send.id, dict(handoff.payload)

    def _row(self, session: Session, input: SalesMailInput, lead: Lead) -> Send:
        existing = session.scalars(
            select(Send).where(Send.journey_id == input.journey_id, Send.send_key == input.send_key)
        ).first()
        if existing is not None:
            return existing
        send = Send(
            id=send_id_for(input.journey_id, input.send_key),
            journey_id=input.journey_id,
            send_key=input.send_key,
            lead_id=lead.id,
            product=input.brand.product,
            mail_type="sales",
            template=f"sales-{input.kind}",
            subject="",
            provider=self.provider.name,
            journey_time=input.journey_time,
        )
        session.add(send)
        session.flush()
        return send

    def _delivery(self, input: SalesMailInput, send_id: str) -> Delivery:
        return Delivery(
            send_id=send_id,
            journey_id=input.journey_id,
            lead_id=input.lead_id,
            product=input.brand.product,
            mail_type="sales",
            send_key=input.send_key,
            variant=0,
        )


def _result_of(row: Send) -> SalesMailResult:
    """What an earlier attempt decided; a refusal stays final, as it was then."""
    if row.status in ("failed", "uncertain"):
        raise ApplicationError(
            row.detail or row.status, type=f"Send{row.status.title()}", non_retryable=True
        )
    return SalesMailResult(send_id=row.id, status=row.status, detail=row.detail)
