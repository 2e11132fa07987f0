"""Engagement facts: what happened to each send, recorded once, never changed.

A provider repeats itself (SendGrid retries a batch it is unsure we took), so each fact
carries its source's event id and a repeat is a no-op in one statement (INSERT ... ON
CONFLICT DO NOTHING) on both engines. An open or a click says whether a person made it:
Apple Mail Privacy Protection fetches every image when the mail arrives, and no report may
count that as a read; a machine open keeps the reason for its verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from nurture.store.engine import upsert_insert
from nurture.store.models import Engagement

FactKind = Literal[
    "delivered", "bounced", "deferred", "opened", "clicked", "unsubscribed", "spam_reported"
]
Source = Literal["sendgrid", "nurture"]


@dataclass(frozen=True)
class Fact:
    """One thing that happened to one send. `human` is set for opens and clicks only."""

    fact_id: str
    send_id: str
    lead_id: str
    product: str
    kind: FactKind
    occurred_at: datetime
    source: Source
    human: bool | None = None
    machine_reason: str | None = None
    link: str | None = None
    bounce: Literal["hard", "soft"] | None = None
    scope: str | None = None

    def __post_init__(self) -> None:
        if (self.human is None) != (self.kind not in ("opened", "clicked")):
            raise ValueError(f"{self.kind}: `human` is for opens and clicks, and only for them")
        if self.human is False and not self.machine_reason:
            raise ValueError("a machine open or click keeps the reason for the verdict")


def record_facts_in(session: Session, facts: Sequence[Fact]) -> list[str]:
    """Insert the facts in the caller's transaction; returns the ids that were new."""
    if not facts:
        return []
    unique = list({fact.fact_id: fact for fact in facts}.values())
    statement = (
        upsert_insert(session, Engagement)
        .on_conflict_do_nothing(index_elements=["fact_id"])
        .returning(Engagement.fact_id)
    )
    new = set(session.scalars(statement, [asdict(fact) for fact in unique]))
    return [fact.fact_id for fact in unique if fact.fact_id in new]
