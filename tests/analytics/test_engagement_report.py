"""The engagement report on generated data with known answers, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import cast

from nurture.analytics.engagement_report import build_engagement_report
from nurture.analytics.facts import Fact, FactKind, record_facts_in
from nurture.journey.rules import step_of
from nurture.store.engine import LeadIn, Store
from tests.helpers.analytics import sent_row
from tests.helpers.paths import CONSENT

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)
T = SINCE + timedelta(days=3)


def send(
    store: Store,
    send_id: str,
    key: str,
    *,
    variant: int = 0,
    status: str = "sent",
    mail_type: str = "step",
    at: datetime = T,
    channel: str = "email",
) -> None:
    lead, _ = store.upsert_lead(LeadIn(email=f"{send_id}@example.jp", consent=CONSENT))
    with store.session() as session:
        session.add(
            sent_row(
                send_id,
                lead.id,
                at,
                send_key=key,
                variant=variant,
                mail_type=mail_type,
                status=status,
                channel=channel,
            )
        )


def facts(store: Store, send_id: str, *kinds: FactKind | str) -> None:
    """Facts of one send: `opened` / `clicked` by a person, `machine` an open by a machine,
    `hard` a hard bounce, others as named."""
    made = []
    for i, kind in enumerate(kinds):
        base = Fact(
            fact_id=f"{send_id}:{i}",
            send_id=send_id,
            lead_id="x",
            product="acme",
            kind="delivered",
            occurred_at=T + timedelta(hours=i),
            source="sendgrid",
        )
        if kind == "opened" or kind == "clicked":
            fact = replace(base, kind=cast(FactKind, kind), human=True)
        elif kind == "machine":
            fact = replace(base, kind="opened", human=False, machine_reason="prefetch")
        elif kind == "hard":
            fact = replace(base, kind="bounced", bounce="hard")
        else:
            fact = replace(base, kind=cast(FactKind, kind))
        made.append(fact)
    with store.session() as session:
        record_facts_in(session, made)


def test_every_figure_matches_what_happened(any_store: Store) -> None:
    store = any_store
    send(store, "s1", "cold#1/welcome")
    facts(store, "s1", "delivered", "opened", "clicked")
    send(store, "s2", "cold#1/welcome")
    facts(store, "s2", "delivered", "machine")  # Apple MPP: no reader
    send(store, "s3", "cold#1/welcome")
    facts(store, "s3", "delivered", "machine", "opened", "unsubscribed")
    send(store, "s4", "cold#1/welcome", status="bounced")
    facts(store, "s4", "hard")
    send(store, "s5", "cold#2/welcome")  # the track entered again: the same step
    facts(store, "s5", "delivered", "clicked")  # pixel blocked, but a click is a read
    send(store, "s6", "cold#1/guide", variant=1)
    facts(store, "s6", "delivered", "spam_reported")
    send(store, "s7", "trigger:download-followup#1", mail_type="trigger")
    facts(store, "s7", "opened")
    # Not counted: sales mail, an uncertain send, one sent before the period, one never sent.
    send(store, "s8", "sales:handoff#1", mail_type="sales")
    facts(store, "s8", "opened")
    send(store, "s9", "cold#1/welcome", status="uncertain")
    send(store, "s10", "cold#1/welcome", at=SINCE - timedelta(days=1))
    facts(store, "s10", "opened")
    send(store, "s11", "cold#1/welcome", status="suppressed")

    report = build_engagement_report(store, product="acme", since=SINCE, until=UNTIL)
    rows = {(r.track, r.step, r.variant): r for r in report.rows}
    assert list(rows) == [
        ("cold", "guide", "B"),
        ("cold", "welcome", "A"),
        ("trigger", "download-followup", "A"),
    ]
    welcome = rows["cold", "welcome", "A"]
    assert (welcome.sent, welcome.delivered, welcome.bounced, welcome.hard_bounced) == (5, 4, 1, 1)
    assert (welcome.opened, welcome.machine_opened_only, welcome.clicked) == (3, 1, 2)
    assert (welcome.unsubscribed, welcome.spam_reported) == (1, 0)
    assert welcome.open_rate == 3 / 5 and welcome.click_rate == 2 / 5
    assert welcome.click_to_open == 2 / 3 and welcome.bounce_rate == 1 / 5
    guide = rows["cold", "guide", "B"]
    assert (guide.sent, guide.delivered, guide.opened, guide.spam_reported) == (1, 1, 0, 1)
    assert guide.click_to_open is None  # no opens: no ratio, not zero
    trigger = rows["trigger", "download-followup", "A"]
    assert (trigger.mail_type, trigger.sent, trigger.opened) == ("trigger", 1, 1)

    assert build_engagement_report(store, product="other", until=UNTIL).rows == []
    everything = build_engagement_report(store, until=UNTIL)
    assert sum(r.sent for r in everything.rows) == 8  # s10 too, without `since`


def test_send_keys_name_their_track_and_step() -> None:
    assert step_of("cold#2/welcome") == ("cold", "welcome")
    assert step_of("cold#2.line/welcome") == ("cold", "welcome")
    assert step_of("trigger:download-followup#3") == ("trigger", "download-followup")
    assert step_of("broadcast:seminar-jan") == ("broadcast", "seminar-jan")


def test_a_broadcast_is_reported_beside_the_steps(any_store: Store) -> None:
    send(any_store, "snd_b1", "broadcast:seminar-jan", mail_type="newsletter")
    send(any_store, "snd_b2", "broadcast:seminar-jan", mail_type="newsletter", variant=1)
    rows = {
        (r.track, r.step, r.variant): r
        for r in build_engagement_report(any_store, until=UNTIL).rows
    }
    assert rows["broadcast", "seminar-jan", "A"].sent == 1
    assert rows["broadcast", "seminar-jan", "B"].mail_type == "newsletter"


def test_a_line_step_counts_per_channel_beside_its_email_fallback(any_store: Store) -> None:
    send(any_store, "snd_line1", "warm#1.line/seminar", channel="line")
    send(any_store, "snd_line2", "warm#1.line/seminar", channel="line")
    send(any_store, "snd_mail1", "warm#1/seminar")
    facts(any_store, "snd_mail1", "delivered", "opened")
    rows = build_engagement_report(any_store, since=SINCE, until=UNTIL).rows
    seen = {(r.track, r.step, r.channel): (r.sent, r.opened) for r in rows}
    assert seen == {("warm", "seminar", "line"): (2, 0), ("warm", "seminar", "email"): (1, 1)}
