"""Hand-offs and what sales made of them, written as the journeys would have recorded
them: for the hand-off report and the scoring suggestion's generated data sets."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy import insert

from nurture.store.engine import Store
from nurture.store.models import Event, Handoff, Journey, Lead, Transition

HOUR = timedelta(hours=1)

# What sales did after each kind of hand-off: (lifecycle, actor) moves after handed_off.
PATHS: dict[str, list[tuple[str, str]]] = {
    "won": [("sal", "sales"), ("opportunity", "rep@acme.example"), ("customer", "sales")],
    "lost": [("sal", "sales"), ("sql", "sales"), ("lost", "sales")],
    "rejected": [("recycled", "sales")],
    "disqualified": [("disqualified", "sales")],
    "rejected_after_sal": [("sal", "sales"), ("recycled", "sales"), ("unsubscribed", "journey")],
    "open_sal": [("sal", "sales")],
    "awaiting": [],
}


class Writer:
    """Writes leads, hand-offs and transitions as the journeys would have recorded them."""

    def __init__(self) -> None:
        self.leads: list[dict[str, Any]] = []
        self.handoffs: list[dict[str, Any]] = []
        self.transitions: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.journeys: list[dict[str, Any]] = []
        self.ids = count()

    def journey(self, product: str, **profile: Any) -> tuple[str, str, count[int]]:
        lead_id = f"lead-{next(self.ids)}"
        self.leads.append({"id": lead_id, "email": f"{lead_id}@example.com", **profile})
        journey_id = f"journey:{product}:{lead_id}"
        self.journeys.append({"workflow_id": journey_id, "lead_id": lead_id, "product": product})
        return lead_id, journey_id, count(1)

    def move(self, journey: tuple[str, str, count[int]], to: str, actor: str, at: datetime) -> None:
        lead_id, journey_id, seq = journey
        self.transitions.append(
            {
                "journey_id": journey_id,
                "seq": next(seq),
                "lead_id": lead_id,
                "product": journey_id.split(":")[1],
                "from_lifecycle": None,
                "to_lifecycle": to,
                "stage": "hot",
                "score": 0,
                "actor": actor,
                "reason": "test",
                "journey_time": at,
            }
        )

    def hand_off(
        self,
        journey: tuple[str, str, count[int]],
        score: int,
        at: datetime,
        kind: str,
        touch_after: timedelta = HOUR,
        handoff_no: int = 1,
    ) -> None:
        lead_id, journey_id, _ = journey
        if handoff_no == 1:
            self.move(journey, "nurturing", "journey", at - timedelta(days=10))
        self.move(journey, "mql", "journey", at)
        self.handoffs.append(
            {
                "journey_id": journey_id,
                "handoff_no": handoff_no,
                "lead_id": lead_id,
                "product": journey_id.split(":")[1],
                "score": score,
                "payload": {},
                "journey_time": at,
            }
        )
        if kind == "withdrawn":
            self.move(journey, "unsubscribed", "lead", at)
            return
        self.move(journey, "handed_off", "journey", at)
        for i, (to, actor) in enumerate(PATHS[kind]):
            self.move(journey, to, actor, at + touch_after + i * HOUR)

    def event(
        self,
        lead_id: str,
        type_: str,
        at: datetime,
        product: str | None = None,
        received_at: datetime | None = None,
    ) -> None:
        """An event of the lead's, received when it happened unless said otherwise."""
        self.events.append(
            {
                "event_id": f"e-{len(self.events)}",
                "lead_id": lead_id,
                "type": type_,
                "product": product,
                "properties": {},
                "occurred_at": at,
                "received_at": received_at or at,
            }
        )

    def save(self, store: Store) -> None:
        with store.session() as session:
            session.execute(insert(Lead), self.leads)
            session.execute(insert(Journey), self.journeys)
            session.execute(insert(Handoff), self.handoffs)
            session.execute(insert(Transition), self.transitions)
            if self.events:
                session.execute(insert(Event), self.events)
