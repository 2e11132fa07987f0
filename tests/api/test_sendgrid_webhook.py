"""SendGrid's Event Webhook, signed with a real ECDSA key: verified, deduplicated, routed."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from nurture.config import Settings
from nurture.sending import gate as send_gate
from nurture.store.engine import Store
from nurture.store.models import Consent, Engagement, Event, Lead, Send, Suppression
from nurture.store.relay import relay_once
from tests.helpers.api import LEAD, Api
from tests.helpers.history_text import decoded_history
from tests.helpers.journeys import eventually
from tests.helpers.sendgrid_webhook import PUBLIC, sg, signed


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.sendgrid_webhook_public_key = PUBLIC
    return settings


async def lead_with_a_sent_email(api: Api, store: Store, send_id: str) -> str:
    """A lead created through the API, and a step email SendGrid took for it."""
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    with store.session() as session:
        session.add(
            Send(
                id=send_id,
                journey_id=f"journey:acme:{lead_id}",
                send_key="k",
                lead_id=lead_id,
                product="acme",
                mail_type="step",
                template="t",
                subject="s",
                variant=0,
                provider="sendgrid",
                journey_time=datetime.now(UTC),
                status="sent",
            )
        )
    return lead_id


async def test_signed_events_are_routed_once_and_forgeries_refused(
    env: WorkflowEnvironment, client: Client, api: Api, store: Store, worker: Worker
) -> None:
    lead_id = await lead_with_a_sent_email(api, store, "snd_x")
    events = [
        sg("delivered", "e1", lead_id, send_id="snd_x"),
        sg("open", "e2", lead_id, send_id="snd_x", sg_machine_open=True),
        sg("open", "e3", lead_id, send_id="snd_x"),
        sg("click", "e4", lead_id, send_id="snd_x", url="https://acme.example/guide"),
    ]
    body, headers = signed(events)
    first = await api.http.post("/v1/webhooks/sendgrid", content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 4, "new": 3, "unsubscribed": 0}
    again = await api.http.post("/v1/webhooks/sendgrid", content=body, headers=headers)
    assert again.json()["new"] == 0  # SendGrid retries: counted once

    with store.session() as session:
        assert session.get_one(Send, "snd_x").status == "clicked"
        assert len(session.scalars(select(Event)).all()) == 3
        facts = session.scalars(select(Engagement).order_by(Engagement.fact_id)).all()
        assert [(f.kind, f.human) for f in facts] == [
            ("delivered", None), ("opened", False), ("opened", True), ("clicked", True),
        ]  # fmt: skip
        assert "sg_machine_open" in (facts[1].machine_reason or "")
        assert facts[3].link == "https://acme.example/guide"
    assert (await relay_once(store, client)).delivered == 3
    st = await eventually(
        client.get_workflow_handle(f"journey:acme:{lead_id}"),
        lambda s: any(r.rule == "email_click" for r in s.score.rules),
    )
    assert {r.rule: r.points for r in st.score.rules}["email_open"] == 1  # the human open only

    tampered = body.replace(b"e4", b"e9")
    forged = await api.http.post("/v1/webhooks/sendgrid", content=tampered, headers=headers)
    assert forged.status_code == 403 and "does not verify" in forged.text
    old_body, old_headers = signed(events, at=int(time.time()) - 3600)
    stale = await api.http.post("/v1/webhooks/sendgrid", content=old_body, headers=old_headers)
    assert stale.status_code == 403 and "stale" in stale.text
    other_key = ec.generate_private_key(ec.SECP256R1())
    body2, headers2 = signed(events, key=other_key)
    assert (
        await api.http.post("/v1/webhooks/sendgrid", content=body2, headers=headers2)
    ).status_code == 403


async def test_group_unsubscribe_stops_that_mail_type_only(
    env: WorkflowEnvironment, client: Client, api: Api, store: Store, worker: Worker
) -> None:
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    body, headers = signed([sg("group_unsubscribe", "u1", lead_id, mail_type="newsletter")])
    result = await api.http.post("/v1/webhooks/sendgrid", content=body, headers=headers)
    assert result.json()["unsubscribed"] == 1
    with store.session() as session:
        lead = session.get_one(Lead, lead_id)
        assert send_gate.suppression_reason(session, lead, "acme", "newsletter") is not None
        assert send_gate.suppression_reason(session, lead, "acme", "step") is None
    await eventually(
        client.get_workflow_handle(f"journey:acme:{lead_id}"),
        lambda s: s.suppressed_mail_types == ["newsletter"],
    )


async def test_events_of_sales_mail_move_its_status_but_are_not_the_leads_behaviour(
    env: WorkflowEnvironment, client: Client, api: Api, store: Store, worker: Worker
) -> None:
    """A hand-off email goes to our sales team: their opens, clicks and unsubscribes say
    nothing about the lead, and must neither score it nor stop its email."""
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    with store.session() as session:
        session.add(
            Send(
                id="snd_s",
                journey_id=f"journey:acme:{lead_id}",
                send_key="sales:handoff#1",
                lead_id=lead_id,
                product="acme",
                mail_type="sales",
                template="sales-handoff",
                subject="s",
                variant=0,
                provider="sendgrid",
                journey_time=datetime.now(UTC),
                status="sent",
            )
        )
    events = [
        sg(kind, f"s{i}", lead_id, send_id="snd_s", mail_type="sales")
        for i, kind in enumerate(("delivered", "open", "click", "unsubscribe", "bounce"))
    ]
    body, headers = signed(events)
    result = await api.http.post("/v1/webhooks/sendgrid", content=body, headers=headers)
    assert result.json() == {"received": 5, "new": 0, "unsubscribed": 0}
    with store.session() as session:
        assert session.get_one(Send, "snd_s").status == "clicked"
        assert session.scalars(select(Event)).all() == []
        lead = session.get_one(Lead, lead_id)
        assert send_gate.suppression_reason(session, lead, "acme", None) is None


async def test_a_blocked_bounce_is_recorded_but_suppresses_nothing_and_a_hard_one_does(
    env: WorkflowEnvironment, client: Client, api: Api, store: Store, worker: Worker
) -> None:
    """SendGrid's `bounce` with `type: blocked` is the receiving server refusing for now
    (reputation, content): the address is fine, so neither the lead nor the journey may be
    treated as bounced. `type: bounce` is the dead address and still ends everything."""
    lead_id = await lead_with_a_sent_email(api, store, "snd_b")
    blocked = sg(
        "bounce",
        "b1",
        lead_id,
        send_id="snd_b",
        type="blocked",
        status="5.7.1",
        bounce_classification="Reputation",
        reason="550 5.7.1 <aiko@example.jp> refused",
    )
    body, headers = signed([blocked])
    result = await api.http.post("/v1/webhooks/sendgrid", content=body, headers=headers)
    assert result.json() == {"received": 1, "new": 1, "unsubscribed": 0}
    with store.session() as session:
        event = session.scalars(select(Event)).one()
        assert event.type == "email_blocked" and event.lead_id == lead_id
        assert event.properties["bounce_type"] == "blocked"
        assert event.properties["bounce_classification"] == "Reputation"
        assert "aiko@example.jp" not in json.dumps(event.properties)  # not the server's text
        assert session.get_one(Send, "snd_b").status == "sent"
        lead = session.get_one(Lead, lead_id)
        assert send_gate.suppression_reason(session, lead, "acme", None) is None
    assert (await relay_once(store, client)).delivered == 0
    handle = client.get_workflow_handle(f"journey:acme:{lead_id}")
    assert (await eventually(handle, lambda s: s.lifecycle == "nurturing")).lifecycle

    hard = sg("bounce", "b2", lead_id, send_id="snd_b", type="bounce", status="5.1.1")
    body, headers = signed([hard])
    await api.http.post("/v1/webhooks/sendgrid", content=body, headers=headers)
    with store.session() as session:
        assert session.get_one(Send, "snd_b").status == "bounced"
        lead = session.get_one(Lead, lead_id)
        assert "email_bounce" in (send_gate.suppression_reason(session, lead, "acme", None) or "")
    assert (await relay_once(store, client)).delivered == 1
    await eventually(handle, lambda s: s.lifecycle == "bounced")


async def test_an_unsubscribe_at_sendgrid_withdraws_the_consent_to_that_product(
    api: Api, store: Store
) -> None:
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    body, headers = signed([sg("unsubscribe", "u9", lead_id)])
    assert (await api.http.post("/v1/webhooks/sendgrid", content=body, headers=headers)).json()[
        "unsubscribed"
    ] == 1
    with store.session() as session:
        assert not send_gate.has_consent(session, lead_id, "acme")
        withdrawn = session.scalars(select(Consent).where(Consent.product == "acme")).one()
        assert withdrawn.withdrawn_at is not None


async def test_a_clicked_link_reaches_the_journey_without_the_address(
    env: WorkflowEnvironment, client: Client, api: Api, store: Store, worker: Worker
) -> None:
    """SendGrid sends the recipient's `email` with every event, and links may carry it in
    their query (a pre-filled form): neither reaches the journey's history."""
    lead_id = (await api.http.post("/v1/leads", json=LEAD, headers=api.leads)).json()["lead_id"]
    link = "https://acme.example/webinar?email=aiko%40example.jp&utm_campaign=nov#aiko@example.jp"
    body, headers = signed([sg("click", "c1", lead_id, url=link)])
    assert (await api.http.post("/v1/webhooks/sendgrid", content=body, headers=headers)).json()[
        "new"
    ] == 1
    assert (await relay_once(store, client)).delivered == 1
    handle = client.get_workflow_handle(f"journey:acme:{lead_id}")
    await eventually(handle, lambda s: any(r.rule == "email_click" for r in s.score.rules))
    history = decoded_history(await handle.fetch_history())
    assert "example.jp" not in history, "the address leaked into the journey history"
    assert "https://acme.example/webinar?utm_campaign=nov" in history


async def test_a_machine_open_is_no_open_until_a_person_opens(
    env: WorkflowEnvironment, client: Client, api: Api, store: Store
) -> None:
    """Before: SendGrid's `open` moved the send to `opened` even when SendGrid itself said a
    machine fetched the pixel (Apple Mail Privacy Protection opens every mail on arrival)."""
    lead_id = await lead_with_a_sent_email(api, store, "snd_m")
    machine = [
        sg("delivered", "m1", lead_id, send_id="snd_m"),
        sg("open", "m2", lead_id, send_id="snd_m", sg_machine_open=True),
    ]
    body, headers = signed(machine)
    assert (await api.http.post("/v1/webhooks/sendgrid", content=body, headers=headers)).is_success
    with store.session() as session:
        assert session.get_one(Send, "snd_m").status == "delivered"
    body, headers = signed([sg("open", "m3", lead_id, send_id="snd_m")])
    assert (await api.http.post("/v1/webhooks/sendgrid", content=body, headers=headers)).is_success
    with store.session() as session:
        assert session.get_one(Send, "snd_m").status == "opened"
        kinds = session.scalars(select(Engagement.kind).where(Engagement.send_id == "snd_m"))
        assert sorted(kinds) == ["delivered", "opened", "opened"]


async def test_events_of_a_test_send_are_dropped(api: Api, store: Store) -> None:
    """`nurture send-test` mails a colleague with `mail_type: test` and no lead: SendGrid's
    events about it record no fact, no behaviour and no suppression."""
    events = [
        sg(kind, f"t{i}", "test", send_id="test_0123", mail_type="test")
        for i, kind in enumerate(("delivered", "open", "click", "spamreport", "bounce"))
    ]
    body, headers = signed(events)
    result = await api.http.post("/v1/webhooks/sendgrid", content=body, headers=headers)
    assert result.json() == {"received": 5, "new": 0, "unsubscribed": 0}
    with store.session() as session:
        assert session.scalars(select(Event)).all() == []
        assert session.scalars(select(Engagement)).all() == []
        assert session.scalars(select(Suppression)).all() == []
