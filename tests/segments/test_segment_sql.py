"""Segments against known data, on SQLite and PostgreSQL: each key, and/or/not, other
segments, and the kept-current journey status they read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nurture.journey.contract import StageMove
from nurture.journey.stage_changes import record_stage_move
from nurture.journey.transitions import record_transition
from nurture.leads.attributes import AttributeCatalog, AttributeSpec
from nurture.leads.erasure import erase_lead
from nurture.segments.definitions import Known
from nurture.segments.membership import SegmentBook, count, export_rows, lead_ids
from nurture.segments.model import Segment
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Consent, Engagement, Event, Journey

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
CATALOG = AttributeCatalog.of(
    [
        (
            "cloudbook",
            {
                "plan": AttributeSpec(type="enum", values=["starter", "pro", "enterprise"]),
                "seats": AttributeSpec(type="number"),
                "budget_approved": AttributeSpec(type="boolean"),
                "renewal": AttributeSpec(type="date"),
            },
        )
    ]
)
KNOWN = Known(products=frozenset({"cloudbook", "smartfactory"}), attributes=CATALOG)


def _lead(store: Store, name: str, **fields: Any) -> str:
    lead, _ = store.upsert_lead(LeadIn(email=f"{name}@example.com", first_name=name, **fields))
    return lead.id


def _journey(store: Store, lead_id: str, product: str, stage: str, score: int) -> str:
    journey_id = f"journey:{product}:{lead_id}"
    with store.session() as session:
        session.add(Journey(workflow_id=journey_id, lead_id=lead_id, product=product))
    record_stage_move(
        store,
        StageMove(
            journey_id=journey_id,
            seq=1,
            lead_id=lead_id,
            product=product,
            from_stage=None,
            to_stage="cold",
            score=0,
            track="cold",
            journey_time=NOW - timedelta(days=30),
        ),
    )
    _transition(store, journey_id, lead_id, product, 1, "nurturing", "cold", 0, days_ago=30)
    if stage != "cold":
        record_stage_move(
            store,
            StageMove(
                journey_id=journey_id,
                seq=2,
                lead_id=lead_id,
                product=product,
                from_stage="cold",
                to_stage=stage,
                score=score,
                track="warm",
                journey_time=NOW - timedelta(days=2),
            ),
        )
    return journey_id


def _transition(
    store: Store,
    journey_id: str,
    lead_id: str,
    product: str,
    seq: int,
    to: str,
    stage: str,
    score: int,
    *,
    days_ago: int,
) -> None:
    record_transition(
        store,
        journey_id=journey_id,
        seq=seq,
        lead_id=lead_id,
        product=product,
        from_lifecycle=None,
        to_lifecycle=to,
        stage=stage,
        score=score,
        actor="journey",
        reason="test",
        journey_time=NOW - timedelta(days=days_ago),
    )


def _event(store: Store, lead_id: str, kind: str, days_ago: int, url: str | None = None) -> None:
    with store.session() as session:
        session.add(
            Event(
                event_id=f"{lead_id}-{kind}-{days_ago}-{url}",
                lead_id=lead_id,
                type=kind,
                url=url,
                product="cloudbook",
                properties={},
                occurred_at=NOW - timedelta(days=days_ago),
            )
        )


def _anonymous_event(store: Store, kind: str, days_ago: int) -> None:
    with store.session() as session:
        session.add(
            Event(
                event_id=f"anon-{kind}-{days_ago}",
                lead_id=None,
                anonymous_id="visitor-1",
                type=kind,
                product="cloudbook",
                properties={},
                occurred_at=NOW - timedelta(days=days_ago),
            )
        )


def _engagement(store: Store, lead_id: str, kind: str, days_ago: int, human: bool) -> None:
    with store.session() as session:
        session.add(
            Engagement(
                fact_id=f"{lead_id}-{kind}-{days_ago}-{human}",
                send_id="s1",
                lead_id=lead_id,
                product="cloudbook",
                kind=kind,
                human=human,
                machine_reason=None if human else "apple privacy",
                source="nurture",
                occurred_at=NOW - timedelta(days=days_ago),
            )
        )


@pytest.fixture
def leads(any_store: Store) -> dict[str, str]:
    """Six leads whose every difference a segment below tells apart."""
    s = any_store
    ids = {
        "ann": _lead(s, "ann", industry="Finance ", company_size=120, source="website",
                     attributes={"plan": "pro", "seats": 40, "budget_approved": True,
                                 "renewal": "2027-06-30"}),
        "bob": _lead(s, "bob", industry="finance", company_size=15, source="trade_show",
                     attributes={"plan": "starter", "seats": 5, "budget_approved": False}),
        "cat": _lead(s, "cat", industry="retail", company_size=900,
                     attributes={"plan": "enterprise", "seats": 300}),
        "dan": _lead(s, "dan", industry="finance"),
        "eve": _lead(s, "eve", industry="manufacturing", source="website"),
        "fay": _lead(s, "fay", industry="finance", company_size=60),
        "gus": _lead(s, "gus"),  # nothing known: in every `not:` of a field
    }  # fmt: skip
    _journey(s, ids["ann"], "cloudbook", "warm", 45)
    _journey(s, ids["bob"], "cloudbook", "hot", 85)
    _journey(s, ids["cat"], "cloudbook", "cold", 0)
    bob = f"journey:cloudbook:{ids['bob']}"
    _transition(s, bob, ids["bob"], "cloudbook", 2, "handed_off", "hot", 90, days_ago=1)
    _journey(s, ids["dan"], "cloudbook", "warm", 50)
    _journey(s, ids["eve"], "smartfactory", "hot", 95)
    # fay has no journey at all
    _event(s, ids["ann"], "seminar_attended", days_ago=100)
    _event(s, ids["ann"], "page_view", days_ago=3, url="https://cloudbook.example/pricing?x=1")
    for days in (1, 5, 9):
        _event(s, ids["dan"], "product_page", days_ago=days)
    _event(s, ids["cat"], "page_view", days_ago=40, url="https://cloudbook.example/pricing")
    _event(s, ids["bob"], "seminar_attended", days_ago=400)
    for days in (1, 2, 3):  # an anonymous visitor's: counted for no lead
        _anonymous_event(s, "product_page", days_ago=days)
    _engagement(s, ids["ann"], "opened", days_ago=10, human=True)
    _engagement(s, ids["cat"], "opened", days_ago=2, human=False)  # a mail scanner
    _engagement(s, ids["dan"], "clicked", days_ago=20, human=True)
    with s.session() as session:
        session.add(Consent(lead_id=ids["ann"], basis="opt_in", product="", obtained_at=NOW))
        session.add(Consent(lead_id=ids["bob"], basis="opt_in", product="smartfactory",
                            obtained_at=NOW))  # fmt: skip
        session.add(Consent(lead_id=ids["cat"], basis="opt_in", product="cloudbook",
                            obtained_at=NOW, withdrawn_at=NOW))  # fmt: skip
        session.add(Consent(lead_id=ids["dan"], basis="follow", product="cloudbook",
                            channel="line", obtained_at=NOW))  # fmt: skip
    return ids


def _members(store: Store, ids: dict[str, str], definition: dict[str, Any],
             **others: dict[str, Any]) -> set[str]:  # fmt: skip
    segments = {
        name: Segment.model_validate({**d, "name": name})
        for name, d in {**others, "it": definition}.items()
    }
    book = SegmentBook(segments, KNOWN, frozenset())
    names = {lead_id: name for name, lead_id in ids.items()}
    found = {names[i] for i in lead_ids(store, book, "it", now=NOW)}
    assert count(store, book, "it", NOW) == len(found)
    return found


CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"product": "cloudbook"}, {"ann", "bob", "cat", "dan"}),
    ({"product": "cloudbook", "stage": "warm"}, {"ann", "dan"}),
    ({"product": "cloudbook", "stage": ["warm", "hot"]}, {"ann", "bob", "dan"}),
    ({"product": "cloudbook", "lifecycle": "handed_off"}, {"bob"}),
    ({"product": "cloudbook", "lifecycle": ["nurturing"]}, {"ann", "cat", "dan"}),
    ({"product": "cloudbook", "score": {"at_least": 45, "below": 90}}, {"ann", "dan"}),
    ({"product": "cloudbook", "score": {"at_least": 90}}, {"bob"}),  # the transition's score
    ({"lead": {"industry": ["FINANCE"]}}, {"ann", "bob", "dan", "fay"}),
    ({"lead": {"company_size": {"at_least": 50, "below": 500}}}, {"ann", "fay"}),
    ({"lead": {"source": ["website"], "not": {"industry": ["manufacturing"]}}}, {"ann"}),
    ({"lead": {"plan": ["Pro", "enterprise"]}}, {"ann", "cat"}),
    ({"lead": {"seats": {"at_least": 10}}}, {"ann", "cat"}),
    ({"lead": {"seats": 5}}, {"bob"}),
    ({"lead": {"budget_approved": False}}, {"bob"}),
    ({"lead": {"renewal": {"below": datetime(2027, 7, 1).date()}}}, {"ann"}),
    ({"consent": "email"}, {"ann", "bob"}),
    ({"product": "cloudbook", "consent": "email"}, {"ann"}),  # bob's is for smartfactory
    ({"consent": ["line"]}, {"dan"}),
    ({"opened": {"within": "30d"}}, {"ann", "dan"}),  # cat's open was a scanner
    ({"opened": {"within": "7d"}}, set()),
    ({"clicked": {"within": "30d"}}, {"dan"}),
    ({"visited": {"url": "*/pricing*", "within": "14d"}}, {"ann"}),
    ({"visited": {"url": "*/pricing"}}, {"cat"}),  # the whole URL matches
    ({"did": {"event": "product_page", "at_least": 3, "within": "14d"}}, {"dan"}),
    ({"did": {"event": "product_page", "at_least": 3, "within": "7d"}}, set()),
    ({"did": {"event": "product_page", "at_least": 2, "below": 3, "within": "6d"}}, {"dan"}),
    ({"did": {"event": "product_page", "at_least": 2, "below": 3, "within": "14d"}}, set()),
    (
        {
            "product": "cloudbook",
            "stage": ["warm", "hot"],
            "lead": {"industry": ["finance"]},
            "not": {"did": {"event": "seminar_attended", "within": "365d"}},
        },
        {"bob", "dan"},
    ),
    ({"any": [{"lead": {"industry": ["retail"]}}, {"consent": "line"}]}, {"cat", "dan"}),
    # a lead with no value is outside a field's condition and inside its `not:`
    ({"not": {"lead": {"industry": ["retail"]}}}, {"ann", "bob", "dan", "eve", "fay", "gus"}),
    ({"lead": {"not": {"seats": {"at_least": 10}}}}, {"bob", "dan", "eve", "fay", "gus"}),
    ({"not": {"lead": {"budget_approved": True}}}, {"bob", "cat", "dan", "eve", "fay", "gus"}),
    ({"not": {"lead": {"plan": ["pro"]}}}, {"bob", "cat", "dan", "eve", "fay", "gus"}),
    (
        {"not": {"did": {"event": "product_page", "at_least": 3, "within": "14d"}}},
        {"ann", "bob", "cat", "eve", "fay", "gus"},
    ),
    (
        {"all": [{"lead": {"industry": ["finance"]}}, {"opened": {"within": "30d"}}]},
        {"ann", "dan"},
    ),
]


@pytest.mark.parametrize(("definition", "expected"), CASES, ids=[str(c[0]) for c in CASES])
def test_segment_picks_exactly_its_leads(
    any_store: Store, leads: dict[str, str], definition: dict[str, Any], expected: set[str]
) -> None:
    assert _members(any_store, leads, definition) == expected


def test_a_segment_of_a_segment_narrows_it(any_store: Store, leads: dict[str, str]) -> None:
    warm = {"product": "cloudbook", "stage": ["warm", "hot"]}
    found = _members(any_store, leads, {"in_segment": "warm", "lead": {"industry": ["finance"]},
                                        "not": {"lifecycle": "handed_off"},
                                        "product": "cloudbook"}, warm=warm)  # fmt: skip
    assert found == {"ann", "dan"}


def test_erased_leads_are_in_no_segment(any_store: Store, leads: dict[str, str]) -> None:
    erase_lead(any_store, leads["ann"])
    assert "ann" not in _members(any_store, leads, {"product": "cloudbook"})


def test_the_status_never_goes_back_to_an_older_move(
    any_store: Store, leads: dict[str, str]
) -> None:
    """A stage move recorded late (it runs beside the journey) does not undo a later one."""
    journey_id = f"journey:cloudbook:{leads['cat']}"
    for seq, stage in ((3, "hot"), (2, "warm")):
        record_stage_move(
            any_store,
            StageMove(journey_id=journey_id, seq=seq, lead_id=leads["cat"], product="cloudbook",
                      from_stage=None, to_stage=stage, score=70, track="warm",
                      journey_time=NOW - timedelta(hours=10 - seq)),
        )  # fmt: skip
    assert "cat" in _members(any_store, leads, {"product": "cloudbook", "stage": "hot"})
    assert "cat" not in _members(any_store, leads, {"product": "cloudbook", "stage": "warm"})


def test_export_carries_fields_and_attributes(any_store: Store, leads: dict[str, str]) -> None:
    segments = {"it": Segment(name="it", product="cloudbook", stage=["warm"])}
    book = SegmentBook(segments, KNOWN, frozenset())
    rows = {r["first_name"]: r for r in export_rows(any_store, book, "it", NOW)}
    assert set(rows) == {"ann", "dan"}
    assert rows["ann"]["attributes.plan"] == "pro"
    assert rows["ann"]["email"] == "ann@example.com"


def test_a_journey_with_only_transitions_shows_its_latest_stage(any_store: Store) -> None:
    """Journeys started before stage moves were recorded have transitions only: the status
    takes each transition's stage until a stage move is recorded."""
    lead = _lead(any_store, "hal")
    journey_id = f"journey:cloudbook:{lead}"
    with any_store.session() as session:
        session.add(Journey(workflow_id=journey_id, lead_id=lead, product="cloudbook"))
    _transition(any_store, journey_id, lead, "cloudbook", 1, "nurturing", "cold", 5, days_ago=9)
    _transition(any_store, journey_id, lead, "cloudbook", 2, "mql", "hot", 80, days_ago=1)
    segments = {"it": Segment(name="it", product="cloudbook", stage=["hot"],
                              score={"at_least": 80})}  # fmt: skip
    book = SegmentBook(segments, KNOWN, frozenset())
    assert lead_ids(any_store, book, "it", now=NOW) == [lead]
