"""When leads read, in their own time zone (summer time included), on both engines."""

from __future__ import annotations

from datetime import UTC, datetime

from nurture.analytics.facts import Fact, record_facts_in
from nurture.analytics.send_time_report import build_send_time_report
from nurture.store.engine import LeadIn, Store
from tests.helpers.analytics import sent_row
from tests.helpers.paths import CONSENT, SCENARIOS


def reader(store: Store, name: str, role: str, timezone: str | None,
           reads: list[tuple[str, datetime, bool]]) -> None:  # fmt: skip
    """A lead with one email, and what happened to it: (kind, when in UTC, by a person)."""
    lead, _ = store.upsert_lead(
        LeadIn(email=f"{name}@example.jp", role=role, timezone=timezone, consent=CONSENT)
    )
    at = datetime(2026, 10, 20, tzinfo=UTC)
    with store.session() as session:
        session.add(sent_row(name, lead.id, at, template='t'))  # fmt: skip
        session.flush()
        record_facts_in(session, [
            Fact(fact_id=f"{name}-{i}", send_id=name, lead_id=lead.id, product="acme",
                 kind=kind, occurred_at=when, source="nurture", human=human,  # type: ignore[arg-type]
                 machine_reason=None if human else "prefetch")
            for i, (kind, when, human) in enumerate(reads)
        ])  # fmt: skip


def test_reads_land_on_each_leads_local_weekday_and_hour(any_store: Store) -> None:
    reader(any_store, "exec", "executive", "Asia/Tokyo", [
        ("opened", datetime(2026, 11, 2, 0, 30, tzinfo=UTC), True),   # Mon 09:30 in Tokyo
        ("clicked", datetime(2026, 11, 2, 0, 45, tzinfo=UTC), True),  # Mon 09:45
        ("opened", datetime(2026, 11, 2, 13, 0, tzinfo=UTC), False),  # a machine: not a read
    ])  # fmt: skip
    reader(any_store, "prac1", "practitioner", None, [  # no zone: the scenario's (Tokyo)
        ("opened", datetime(2026, 11, 3, 12, 10, tzinfo=UTC), True),  # Tue 21:10
    ])  # fmt: skip
    reader(any_store, "prac2", "practitioner", "America/New_York", [
        ("opened", datetime(2026, 11, 3, 12, 10, tzinfo=UTC), True),  # Tue 07:10 (EST)
        ("opened", datetime(2026, 10, 27, 12, 10, tzinfo=UTC), True),  # Tue 08:10 (EDT)
    ])  # fmt: skip
    report = build_send_time_report(any_store, SCENARIOS, product="acme")
    [acme] = report.products
    assert acme.timezone == "Asia/Tokyo"
    roles = {r.role: r for r in acme.roles}
    executive, practitioner = roles["executive"], roles["practitioner"]
    assert executive.reads == 2 and executive.grid[0][9] == 2 and executive.best_hours == [9]
    assert practitioner.reads == 3
    assert (practitioner.grid[1][21], practitioner.grid[1][7], practitioner.grid[1][8]) == (1, 1, 1)
    assert practitioner.best_hours == [7, 8, 21]
    assert executive.optimised_hour is None  # fewer than 20 reads: the role has no hour yet


def test_half_and_quarter_hour_zones_read_in_their_own_hour(any_store: Store) -> None:
    """India (+5:30) and Nepal (+5:45): the local hour, not the UTC hour shifted whole."""
    reader(any_store, "delhi", "executive", "Asia/Kolkata", [
        ("opened", datetime(2026, 11, 2, 3, 40, tzinfo=UTC), True),  # Mon 09:10 in Delhi
        ("opened", datetime(2026, 11, 2, 3, 20, tzinfo=UTC), True),  # Mon 08:50
    ])  # fmt: skip
    reader(any_store, "kathmandu", "practitioner", "Asia/Kathmandu", [
        ("opened", datetime(2026, 11, 2, 3, 20, tzinfo=UTC), True),  # Mon 09:05 in Kathmandu
    ])  # fmt: skip
    [acme] = build_send_time_report(any_store, SCENARIOS, product="acme").products
    roles = {r.role: r for r in acme.roles}
    assert (roles["executive"].grid[0][8], roles["executive"].grid[0][9]) == (1, 1)
    assert roles["practitioner"].grid[0][9] == 1
