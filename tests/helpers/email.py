"""Sending in tests: leads with a sent email, running send_email, reading its rows and the
bodies of what it sent."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities, SendEmailInput, SendEmailResult
from nurture.mail.providers import DELIVERY_UNCERTAIN
from nurture.scenario.loader import load_scenario
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Send
from tests.helpers.paths import CONSENT, SCENARIOS

ACME = load_scenario(SCENARIOS, "acme")


def send_input(lead_id: str, key: str = "cold#1/welcome") -> SendEmailInput:
    return SendEmailInput(
        brand=ACME.brand,
        scenario_version=ACME.version,
        journey_id=f"journey:acme:{lead_id}",
        lead_id=lead_id,
        product="acme",
        send_key=key,
        mail_type="step",
        template="note",
        subject="Welcome, {{ lead.first_name }}",
        variant=0,
        journey_time=datetime(2026, 11, 25, 3, tzinfo=UTC),
        journey={"stage": "cold", "score": 10, "track": "cold", "step": key},
    )


def japanese_input(lead_id: str, **update: Any) -> SendEmailInput:
    """A send to a Japanese lead from a Japanese sender name: encodings must survive."""
    sender = ACME.brand.sender.model_copy(update={"from_name": "アクメ分析 営業部"})
    brand = ACME.brand.model_copy(update={"sender": sender})
    return send_input(lead_id).model_copy(
        update={"brand": brand, "subject": "{{ lead.last_name }}様、ようこそ", **update}
    )


def new_lead(store: Store, email: str = "aiko@example.com") -> str:
    lead, _ = store.upsert_lead(
        LeadIn(email=email, first_name="愛子", last_name="佐藤", consent=CONSENT)
    )
    return lead.id


def send_rows(store: Store) -> list[Send]:
    with store.session() as session:
        return list(session.scalars(select(Send)))


def run(emails: EmailActivities, input: SendEmailInput) -> SendEmailResult:
    return ActivityEnvironment().run(emails.send_email, input)


def left_uncertain(emails: EmailActivities, store: Store, input: SendEmailInput) -> None:
    """The send fails as `uncertain` (the provider may have it), and a later attempt
    fails the same way without trying the provider again."""
    with pytest.raises(ApplicationError) as unsure:
        run(emails, input)
    assert unsure.value.type == DELIVERY_UNCERTAIN and unsure.value.non_retryable
    assert send_rows(store)[0].status == "uncertain"
    with pytest.raises(ApplicationError):
        run(emails, input)


def body(message: EmailMessage, subtype: str) -> str:
    """The text of the message's text/`subtype` part; the message must have one."""
    part = message.get_body((subtype,))
    assert part is not None, f"the message has no text/{subtype} part"
    content = part.get_content()
    assert isinstance(content, str), f"text/{subtype} holds {type(content).__name__}, not text"
    return content
