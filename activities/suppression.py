"""Recording a journey's unsubscribe or bounce in the store, where every send checks it."""

from __future__ import annotations

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


class SuppressionActivities:
    def __init__(self, store: Store) -> None:
        self.store = store

    @activity.defn(name="record_suppression")
    def record_suppression(self, input: SuppressionInput) -> None:
        """Idempotent: a suppression is unique per address, scope, product and mail type."""
        send_gate.suppress_lead(
            self.store,
            input.lead_id,
            scope=input.scope,
            product=input.product,
            mail_types=input.mail_types,
            reason=input.reason,
        )
