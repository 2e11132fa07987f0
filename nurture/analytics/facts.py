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

from sqlalchemy import and_, exists, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from nurture.store.engine import upsert_insert
from nurture.store.models import Engagement, Send

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
    recorded = [fact for fact in unique if fact.fact_id in new]
    _roll_up(session, recorded)
    return [fact.fact_id for fact in recorded]


@dataclass(frozen=True)
class _Outcome:
    """Which facts set one of a send's `sends.ever_*` flags: their kinds, and whether only a
    person's (opens, clicks) or only a hard bounce counts."""

    kinds: tuple[str, ...]
    by_a_person: bool = False
    hard: bool = False

    def set_by(self, fact: Fact) -> bool:
        return (
            fact.kind in self.kinds
            and (not self.by_a_person or fact.human is True)
            and (not self.hard or fact.bounce == "hard")
        )

    def condition(self) -> ColumnElement[bool]:
        """The same test in SQL, over `engagements`."""
        parts: list[ColumnElement[bool]] = [Engagement.kind.in_(self.kinds)]
        if self.by_a_person:
            parts.append(Engagement.human.is_(True))
        if self.hard:
            parts.append(Engagement.bounce == "hard")
        return and_(*parts)


# flag → the facts that set it (migration 0009 says the same in SQL, for the facts stored
# before it: migrations do not import the code they migrate for)
OUTCOMES: dict[str, _Outcome] = {
    "ever_delivered": _Outcome(("delivered",)),
    "ever_bounced": _Outcome(("bounced",)),
    "ever_hard_bounced": _Outcome(("bounced",), hard=True),
    "ever_opened": _Outcome(("opened",)),
    "ever_read": _Outcome(("opened", "clicked"), by_a_person=True),
    "ever_clicked": _Outcome(("clicked",), by_a_person=True),
    "ever_unsubscribed": _Outcome(("unsubscribed",)),
    "ever_spam_reported": _Outcome(("spam_reported",)),
}


def outcome_flags(fact: Fact) -> tuple[str, ...]:
    """The `sends.ever_*` flags a fact sets on its send."""
    return tuple(flag for flag, outcome in OUTCOMES.items() if outcome.set_by(fact))


def _roll_up(session: Session, facts: Sequence[Fact]) -> None:
    """Set the new facts' flags on their sends, in the facts' transaction: one UPDATE per
    flag, touching only sends whose flag was still 0."""
    sends: dict[str, set[str]] = {}
    for fact in facts:
        for flag in outcome_flags(fact):
            sends.setdefault(flag, set()).add(fact.send_id)
    for flag, ids in sends.items():
        column = getattr(Send, flag)
        session.execute(
            update(Send).where(Send.id.in_(sorted(ids)), column == 0).values({flag: 1}),
            execution_options={"synchronize_session": False},
        )


def refresh_outcome_flags(session: Session) -> None:
    """Set every send's flags from the facts stored for it: for sends whose facts were
    written around `record_facts_in` (bulk loads, `bench/reports.py`, a rolling deploy)."""
    for flag, outcome in OUTCOMES.items():
        has_fact = exists().where(Engagement.send_id == Send.id, outcome.condition())
        session.execute(
            update(Send).where(getattr(Send, flag) == 0, has_fact).values({flag: 1}),
            execution_options={"synchronize_session": False},
        )
