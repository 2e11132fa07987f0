"""Send-time checks on real SQLite and PostgreSQL: suppression scopes, consent, frequency cap."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from nurture.sending import gate as send_gate
from nurture.store.engine import ConsentIn, LeadIn, Store
from nurture.store.models import Consent, Send, utcnow
from tests.helpers.paths import CONSENT

T0 = datetime(2026, 11, 25, 3, tzinfo=UTC)


@pytest.fixture
def database_url(any_database_url: str) -> str:
    return any_database_url


def new_send(store: Store, lead_id: str, product: str, mail_type: str, key: str) -> str:
    with store.session() as session:
        send = Send(
            id=f"snd_{product}_{key}",
            journey_id=f"journey:{product}:{lead_id}",
            send_key=key,
            lead_id=lead_id,
            product=product,
            mail_type=mail_type,
            template="t",
            subject="s",
            variant=0,
            provider="outbox",
            journey_time=T0,
        )
        session.add(send)
        return send.id


def decide(
    store: Store, send_id: str, *, at: datetime = T0, cap: int = 0, defer: bool = True
) -> send_gate.Decision:
    with store.session() as session:
        return send_gate.decide(
            session,
            session.get_one(Send, send_id),
            journey_now=at,
            wall_now=utcnow(),
            lease=timedelta(minutes=5),
            weekly_cap=cap,
            defer=defer,
        )


def mark_sent(store: Store, send_id: str) -> None:
    with store.session() as session:
        session.get_one(Send, send_id).status = "sent"


@pytest.fixture
def lead_id(store: Store) -> str:
    lead, _ = store.upsert_lead(LeadIn(email="aiko@example.jp", consent=CONSENT))
    return lead.id


def test_newsletter_opt_out_of_one_product_keeps_everything_else(
    store: Store, lead_id: str
) -> None:
    with store.session() as session:
        send_gate.suppress(
            session,
            email="aiko@example.jp",
            lead_id=lead_id,
            scope="mail_type",
            product="cloudbook",
            mail_type="newsletter",
            reason="preference page",
        )
    news = decide(store, new_send(store, lead_id, "cloudbook", "newsletter", "n1"))
    assert news.outcome == "suppressed"
    assert news.detail == "suppressed (cloudbook newsletter): preference page"
    assert decide(store, new_send(store, lead_id, "cloudbook", "step", "s1")).outcome == "claimed"
    other = new_send(store, lead_id, "smartfactory", "newsletter", "n2")
    assert decide(store, other).outcome == "claimed"
    with store.session() as session:
        row = session.get_one(Send, "snd_cloudbook_n1")
        assert (row.status, row.detail) == ("suppressed", news.detail)


def test_product_and_global_suppression(store: Store, lead_id: str) -> None:
    with store.session() as session:
        send_gate.suppress(
            session,
            email="aiko@example.jp",
            lead_id=lead_id,
            scope="product",
            product="cloudbook",
            reason="unsubscribed",
        )
    assert decide(store, new_send(store, lead_id, "cloudbook", "step", "a")).outcome == "suppressed"
    assert decide(store, new_send(store, lead_id, "smartfactory", "step", "b")).outcome == "claimed"
    with store.session() as session:
        send_gate.suppress(
            session, email="AIKO@example.jp", lead_id=None, scope="global", reason="bounce"
        )
    blocked = decide(store, new_send(store, lead_id, "smartfactory", "step", "c"))
    assert blocked.outcome == "suppressed" and "bounce" in (blocked.detail or "")


def test_suppression_scope_needs_its_keys(store: Store) -> None:
    with (
        store.session() as session,
        pytest.raises(ValueError, match="needs a product and a mail type"),
    ):
        send_gate.suppress(
            session,
            email="x@example.com",
            lead_id=None,
            scope="mail_type",
            product="cloudbook",
            reason="r",
        )


def test_no_consent_basis_refuses_to_send_and_says_why(store: Store) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="nobody@example.com"))
    decision = decide(store, new_send(store, lead.id, "cloudbook", "step", "x"))
    assert decision.outcome == "suppressed"
    assert "no consent basis" in (decision.detail or "") and "business-card" in (
        decision.detail or ""
    )


def test_consent_for_another_product_or_withdrawn_does_not_count(store: Store) -> None:
    card = ConsentIn(basis="business_card", wording="名刺交換(展示会 2026)", product="smartfactory")
    lead, _ = store.upsert_lead(LeadIn(email="card@example.jp", consent=card))
    assert decide(store, new_send(store, lead.id, "cloudbook", "step", "x")).outcome == "suppressed"
    assert decide(store, new_send(store, lead.id, "smartfactory", "step", "y")).outcome == "claimed"
    with store.session() as session:
        session.scalars(select(Consent)).one().withdrawn_at = utcnow()
    assert (
        decide(store, new_send(store, lead.id, "smartfactory", "step", "z")).outcome == "suppressed"
    )


def test_weekly_cap_defers_steps_and_drops_triggers(store: Store, lead_id: str) -> None:
    for i, at in enumerate((T0, T0 + timedelta(days=1), T0 + timedelta(days=2))):
        sid = new_send(store, lead_id, "cloudbook" if i % 2 else "smartfactory", "step", f"s{i}")
        assert decide(store, sid, at=at, cap=3).outcome == "claimed"
        mark_sent(store, sid)
    fourth = new_send(store, lead_id, "cloudbook", "step", "s3")
    deferred = decide(store, fourth, at=T0 + timedelta(days=3), cap=3)
    assert deferred.outcome == "deferred" and deferred.until == T0 + timedelta(days=7)
    trigger = decide(
        store,
        new_send(store, lead_id, "cloudbook", "trigger", "t1"),
        at=T0 + timedelta(days=3),
        cap=3,
        defer=False,
    )
    assert trigger.outcome == "suppressed" and "frequency cap" in (trigger.detail or "")
    # A week after the first send a slot frees up, and the deferred step goes out.
    assert decide(store, fourth, at=T0 + timedelta(days=7, seconds=1), cap=3).outcome == "claimed"


def test_racing_journeys_cannot_break_the_cap(store: Store, lead_id: str) -> None:
    """Twelve journeys of one lead try to send at the same moment; three may."""
    sends = [new_send(store, lead_id, f"p{i}", "step", "welcome") for i in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(lambda sid: decide(store, sid, cap=3).outcome, sends))
    assert sorted(outcomes).count("claimed") == 3
    assert sorted(outcomes).count("deferred") == 9


def test_two_processes_suppressing_the_same_address_both_succeed(store: Store) -> None:
    def suppress(_: int) -> str:
        with store.session() as session:
            return send_gate.suppress(
                session, email="dup@example.com", lead_id=None, scope="global", reason="bounce"
            ).reason

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(suppress, range(8))) == {"bounce"}


def line_send(store: Store, lead_id: str, key: str, first_tried: datetime | None) -> str:
    send_id = new_send(store, lead_id, "acme", "step", key)
    with store.session() as session:
        send = session.get_one(Send, send_id)
        send.channel, send.first_tried_at = "line", first_tried
    return send_id


def decide_line(store: Store, send_id: str) -> send_gate.Decision:
    with store.session() as session:
        return send_gate.decide(
            session,
            session.get_one(Send, send_id),
            journey_now=T0,
            wall_now=utcnow(),
            lease=timedelta(minutes=5),
            weekly_cap=0,
            defer=True,
            redeliver_stale=True,
            harmless_for=timedelta(hours=23),
        )


def test_a_line_send_tried_longer_ago_than_its_retry_key_lasts_is_never_pushed_again(
    store: Store, lead_id: str
) -> None:
    old = line_send(store, lead_id, "cold#1.line/a", utcnow() - timedelta(hours=25))
    decision = decide_line(store, old)
    assert decision.outcome == "uncertain" and "not sent again" in (decision.detail or "")
    with store.session() as session:
        assert session.get_one(Send, old).status == "uncertain"
    # Tried an hour ago (LINE still knows the key), or never: the gate goes on to decide.
    recent = line_send(store, lead_id, "cold#1.line/b", utcnow() - timedelta(hours=1))
    assert decide_line(store, recent).outcome != "uncertain"
    fresh = line_send(store, lead_id, "cold#1.line/c", None)
    assert decide_line(store, fresh).outcome != "uncertain"
