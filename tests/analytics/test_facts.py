"""Engagement facts on real SQLite and PostgreSQL: each fact once, and only sound ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from nurture.analytics.facts import Fact, record_facts_in, refresh_outcome_flags
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Engagement, Send
from tests.helpers.analytics import sent_row
from tests.helpers.paths import CONSENT

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def fact(fact_id: str, kind: str = "delivered", **extra: object) -> Fact:
    fields: dict[str, object] = {
        "fact_id": fact_id,
        "send_id": "snd_1",
        "lead_id": "ld_1",
        "product": "acme",
        "kind": kind,
        "occurred_at": T0,
        "source": "sendgrid",
    }
    return Fact(**(fields | extra))  # type: ignore[arg-type]


def test_a_fact_is_recorded_once_however_often_its_source_repeats_it(any_store: Store) -> None:
    opened = fact("sg:2", "opened", human=True, occurred_at=T0 + timedelta(minutes=5))
    with any_store.session() as session:
        assert record_facts_in(session, [fact("sg:1"), opened, fact("sg:1")]) == ["sg:1", "sg:2"]
    with any_store.session() as session:
        assert record_facts_in(session, [opened, fact("sg:3", "clicked", human=True)]) == ["sg:3"]
    with any_store.session() as session:
        rows = session.scalars(select(Engagement).order_by(Engagement.fact_id)).all()
        assert [(r.fact_id, r.kind, r.human) for r in rows] == [
            ("sg:1", "delivered", None),
            ("sg:2", "opened", True),
            ("sg:3", "clicked", True),
        ]
        assert rows[1].occurred_at == T0 + timedelta(minutes=5) and rows[1].recorded_at > T0


def test_a_machine_open_keeps_its_reason_and_a_person_is_only_said_of_reads() -> None:
    with pytest.raises(ValueError, match="keeps the reason"):
        fact("sg:1", "opened", human=False)
    with pytest.raises(ValueError, match="only for them"):
        fact("sg:2", "delivered", human=True)
    with pytest.raises(ValueError, match="only for them"):
        fact("sg:3", "opened")
    machine = fact("sg:4", "opened", human=False, machine_reason="prefetched")
    assert machine.human is False


def test_facts_written_around_record_facts_in_are_rolled_up_by_a_refresh(
    any_store: Store,
) -> None:
    """Bulk loads write facts directly; a refresh gives their sends the flags
    record_facts_in would have set."""
    lead, _ = any_store.upsert_lead(LeadIn(email="bulk@example.jp", consent=CONSENT))
    at = datetime(2026, 11, 2, tzinfo=UTC)
    with any_store.session() as session:
        session.add(sent_row("bulk-1", lead.id, at))
        session.flush()
        session.add(Engagement(fact_id="raw-1", send_id="bulk-1", lead_id=lead.id,
                               product="acme", kind="clicked", human=True, source="nurture",
                               occurred_at=at))  # fmt: skip
    with any_store.session() as session:
        assert session.get(Send, "bulk-1").ever_clicked == 0  # type: ignore[union-attr]
        refresh_outcome_flags(session)
    with any_store.session() as session:
        send = session.get(Send, "bulk-1")
        assert send is not None
        assert (send.ever_read, send.ever_clicked, send.ever_opened) == (1, 1, 0)
