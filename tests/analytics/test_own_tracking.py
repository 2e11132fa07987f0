"""Nurture's own opens and clicks on real SQLite and PostgreSQL: a fact with its verdict,
a person's hit as behaviour for the journeys, and the machines that are no readers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from nurture.analytics.own_tracking import (
    Hit,
    Tracked,
    machine_click,
    machine_open,
    record_click,
    record_hits,
    record_open,
)
from nurture.leads.erasure import erase_lead
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Engagement, Event, EventDelivery, Journey, Send
from tests.helpers.analytics import sent_row
from tests.helpers.paths import CONSENT

SENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
READER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko)"
LINK = "https://acme.example/guide?utm_source=nurture&email=aiko%40example.jp"


def keep_path(product: str, url: str) -> str:
    return url.split("?")[0]


def sent_email(store: Store) -> str:
    lead, _ = store.upsert_lead(LeadIn(email="aiko@example.jp", consent=CONSENT))
    with store.session() as session:
        session.add(Journey(workflow_id=f"journey:acme:{lead.id}", lead_id=lead.id, product="acme"))
        session.add(sent_row("snd_1", lead.id, SENT, subject="Hi"))
    return lead.id


def why_open(agent: str, after: timedelta = timedelta(hours=1)) -> str:
    return machine_open(SENT, Hit("s", SENT + after, agent)) or ""


def why_click(previous: tuple[float, str] | None) -> str | None:
    at = SENT + timedelta(hours=1)
    last = None if previous is None else (at - timedelta(seconds=previous[0]), previous[1])
    return machine_click(SENT, Hit("s", at, READER, "https://acme.example/a"), last)


def test_the_machine_verdicts() -> None:
    assert why_open(READER) == ""
    assert "within 2 s of sending" in why_open(READER, timedelta(seconds=1))
    assert "Apple Mail Privacy Protection" in why_open("Mozilla/5.0")
    assert "proofpoint" in why_open("Proofpoint URL defense").lower()
    assert "no User-Agent" in why_open("")
    assert why_click(None) is None
    assert why_click((30, "https://acme.example/b")) is None  # a reader, moving on
    assert why_click((0.5, "https://acme.example/a")) is None  # a double click
    assert "another link" in (why_click((0.5, "https://acme.example/b")) or "")


def test_a_readers_open_and_click_are_facts_behaviour_and_status(any_store: Store) -> None:
    lead_id = sent_email(any_store)
    at = SENT + timedelta(hours=2)
    assert record_open(any_store, Hit("snd_1", at, READER))
    assert record_click(any_store, Hit("snd_1", at + timedelta(minutes=1), READER, LINK), keep_path)
    with any_store.session() as session:
        facts = session.scalars(select(Engagement).order_by(Engagement.occurred_at)).all()
        assert [(f.kind, f.human, f.source, f.link) for f in facts] == [
            ("opened", True, "nurture", None),
            ("clicked", True, "nurture", "https://acme.example/guide"),
        ]
        events = session.scalars(select(Event).order_by(Event.occurred_at)).all()
        assert [(e.type, e.lead_id, e.url) for e in events] == [
            ("email_open", lead_id, None),
            ("email_click", lead_id, "https://acme.example/guide"),
        ]
        assert events[1].properties == {"send_id": "snd_1", "machine_open": False}
        queued = session.scalars(select(EventDelivery.workflow_id)).all()
        assert queued == [f"journey:acme:{lead_id}"] * 2  # on their way to the journey
        assert session.get_one(Send, "snd_1").status == "clicked"


def test_machines_are_counted_as_machines_and_a_machine_click_reaches_no_journey(
    any_store: Store,
) -> None:
    sent_email(any_store)
    at = SENT + timedelta(hours=2)
    record_open(any_store, Hit("snd_1", at, "Mozilla/5.0"))
    record_click(any_store, Hit("snd_1", at, "Mimecast", LINK), keep_path)
    with any_store.session() as session:
        facts = session.scalars(select(Engagement).order_by(Engagement.kind)).all()
        assert [(f.kind, f.human) for f in facts] == [("clicked", False), ("opened", False)]
        assert all(f.machine_reason for f in facts)
        events = session.scalars(select(Event)).all()
        assert [(e.type, e.properties["machine_open"]) for e in events] == [("email_open", True)]
        assert session.get_one(Send, "snd_1").status == "sent"  # no one has read it yet


def test_nothing_is_counted_for_an_erased_lead_or_an_unknown_send(any_store: Store) -> None:
    lead_id = sent_email(any_store)
    assert not record_open(any_store, Hit("snd_404", SENT + timedelta(hours=1), READER))
    before = Hit("snd_1", SENT + timedelta(hours=1), READER, LINK)
    assert record_click(any_store, before, keep_path)
    erase_lead(any_store, lead_id)
    click = Hit("snd_1", SENT + timedelta(hours=2), READER, LINK)
    assert not record_click(any_store, click, keep_path)
    with any_store.session() as session:
        [fact] = session.scalars(select(Engagement)).all()  # counted before, nothing after
        assert fact.kind == "clicked" and fact.link is None  # the link it clicked is gone


def test_repeated_hits_add_a_fact_a_minute_at_most_and_score_once(any_store: Store) -> None:
    """Before: every hit was a new fact and a new behaviour event, so anyone holding a
    forwarded email could replay a link to flood the store and push the lead's score."""
    sent_email(any_store)
    at = SENT + timedelta(hours=2)
    for seconds in (0, 10, 20, 130):  # three in one minute, one two minutes later
        hit = Hit("snd_1", at + timedelta(seconds=seconds), READER, LINK)
        assert record_click(any_store, hit, keep_path)
    with any_store.session() as session:
        assert len(session.scalars(select(Engagement)).all()) == 2
        events = session.scalars(select(Event)).all()
        assert [e.type for e in events] == ["email_click"]  # the journey hears once


def test_hits_counted_together_are_judged_as_if_one_by_one(any_store: Store) -> None:
    """The API commits the hits that arrive together in one transaction: a scanner's two
    clicks in one group still give it away, each hit gets its own answer, an unknown send
    is not counted, and the send rolls up a person's read."""
    lead_id = sent_email(any_store)
    at = SENT + timedelta(hours=1)
    hits = [
        Tracked(Hit("snd_1", at, READER), "opened"),
        Tracked(Hit("snd_1", at, READER, "https://acme.example/a"), "clicked", keep_path),
        Tracked(
            Hit("snd_1", at + timedelta(milliseconds=300), READER, "https://acme.example/b"),
            "clicked",
            keep_path,
        ),
        Tracked(Hit("snd_gone", at, READER), "opened"),
    ]
    assert record_hits(any_store, hits) == [lead_id, lead_id, lead_id, None]
    with any_store.session() as session:
        facts = session.scalars(select(Engagement).order_by(Engagement.link)).all()
        send = session.get(Send, "snd_1")
        events = session.scalars(select(Event.type).where(Event.lead_id == lead_id)).all()
    verdicts = [(f.kind, f.link, f.human) for f in facts]
    assert sorted(verdicts, key=str) == sorted(
        [("opened", None, True), ("clicked", "https://acme.example/a", True),
         ("clicked", "https://acme.example/b", False)], key=str
    )  # fmt: skip
    assert send is not None and (send.ever_read, send.ever_clicked, send.status) == (
        1, 1, "clicked",
    )  # fmt: skip
    assert sorted(events) == ["email_click", "email_open"]  # the scanner's click is no behaviour
