"""Recording a journey's unsubscribe or bounce in the store, where every send checks it."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from temporalio import activity

from nurture.sending import gate as send_gate
from nurture.store.engine import Store


class SuppressionInput(BaseModel):
    lead_id: str
    product: str
    scope: Literal["global", "product", "mail_type"]
    mail_types: list[str] = []
    reason: str
    asked_at: datetime | None = None


class SuppressionActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name="record_suppression")
    def record_suppression(self, input: SuppressionInput) -> None:
        """Idempotent: a suppression is unique per address, scope, product and mail type.

        A journey records an unsubscribe after the lead asked, sometimes much later (a store
        outage, a busy worker); if the lead came back in between (the preference page's
        "Welcome back"), recording it now would silently undo their newer choice."""
        recorded = send_gate.suppress_lead(
            self.store,
            input.lead_id,
            scope=input.scope,
            product=input.product,
            mail_types=input.mail_types,
            reason=input.reason,
            unless_consented_since=input.asked_at,
        )
        if not recorded:
            activity.logger.info("suppression not recorded: no such lead, or it consented again")
