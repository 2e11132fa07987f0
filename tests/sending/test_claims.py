"""A send's claim and outcome (nurture/sending/claims.py), on real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from nurture.config import Settings
from nurture.leads.erasure import erase_lead
from nurture.mail.providers import (
    DeliveryUncertain,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    SendTags,
)
from nurture.sending import claims
from nurture.store.engine import LeadIn, LeadNotFound, Store
from nurture.store.models import Send
from tests.helpers.paths import CONSENT

T0 = datetime(2026, 11, 25, 3, tzinfo=UTC)


@pytest.fixture
def database_url(any_database_url: str) -> str:
    return any_database_url


@pytest.fixture
def lead_id(store: Store) -> str:
    lead, _ = store.upsert_lead(LeadIn(email="aiko@example.jp", first_name="Aiko", consent=CONSENT))
    return lead.id


def new_send(lead_id: str, key: str = "cold#1/welcome", mail_type: str = "step") -> claims.NewSend:
    return claims.NewSend(
        journey_id=f"journey:acme:{lead_id}",
        send_key=key,
        lead_id=lead_id,
        product="acme",
        mail_type=mail_type,
        template="note",
        subject="Welcome",
        provider="test",
        journey_time=T0,
    )


def tags_of(send: claims.NewSend) -> SendTags:
    return SendTags(
        send_id=claims.send_id_for(send.journey_id, send.send_key),
        journey_id=send.journey_id,
        lead_id=send.lead_id,
        product=send.product,
        mail_type=send.mail_type,
        send_key=send.send_key,
        variant=0,
    )


def message(subject: str = "Welcome, Aiko") -> EmailMessage:
    built = EmailMessage()
    built["Subject"] = subject
    built.set_content("hello")
    return built


def row(store: Store, send_id: str) -> Send:
    with store.session() as session:
        return session.get_one(Send, send_id)


class Provider:
    """Takes the message, or raises `error` instead."""

    name = "test"
    redelivery_is_harmless = False

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error

    def deliver(self, message: EmailMessage, tags: SendTags) -> str:
        if self.error is not None:
            raise self.error
        return f"msg-{tags.send_id}"


def claimed(store: Store, settings: Settings, send: claims.NewSend) -> claims.Attempt:
    attempt = claims.claim(store, send, settings, redeliver_stale=False)
    assert attempt.decision.outcome == "claimed"
    return attempt


def test_the_first_attempt_creates_the_row_and_claims_it_a_second_finds_it_busy(
    store: Store, settings: Settings, lead_id: str
) -> None:
    send = new_send(lead_id)
    attempt = claimed(store, settings, send)
    assert attempt.send_id == claims.send_id_for(send.journey_id, send.send_key)
    assert attempt.lead.id == lead_id and attempt.lead.first_name == "Aiko"  # detached, loaded
    assert row(store, attempt.send_id).status == "sending"
    again = claims.claim(store, send, settings, redeliver_stale=False)
    assert again.decision.outcome == "busy" and again.send_id == attempt.send_id
    with store.session() as session:
        assert len(list(session.scalars(select(Send)))) == 1


def test_a_delivered_send_is_sent_and_a_retry_finds_it_done(
    store: Store, settings: Settings, lead_id: str
) -> None:
    send = new_send(lead_id)
    attempt = claimed(store, settings, send)
    message_id = claims.deliver(store, Provider(), message(), tags_of(send))
    stored = row(store, attempt.send_id)
    assert (stored.status, stored.subject, stored.provider_message_id) == (
        "sent",
        "Welcome, Aiko",
        message_id,
    )
    assert stored.claimed_at is not None and stored.sent_at is not None
    retry = claims.claim(store, send, settings, redeliver_stale=False)
    assert retry.decision.outcome == "done" and retry.status == "sent"
    assert retry.provider_message_id == message_id


@pytest.mark.parametrize(
    ("error", "status", "detail"),
    [
        (ProviderUnavailable("down", retry_after=timedelta(seconds=9)), "queued", None),
        (ProviderRejected("550 no such user"), "failed", "550 no such user"),
        (DeliveryUncertain("answer lost"), "uncertain", "answer lost"),
    ],
    ids=["unavailable", "rejected", "uncertain"],
)
def test_a_providers_error_is_recorded_and_raised_as_it_is(
    store: Store,
    settings: Settings,
    lead_id: str,
    error: ProviderError,
    status: str,
    detail: str | None,
) -> None:
    send = new_send(lead_id)
    attempt = claimed(store, settings, send)
    with pytest.raises(type(error)) as raised:
        claims.deliver(store, Provider(error), message(), tags_of(send))
    assert raised.value is error
    stored = row(store, attempt.send_id)
    assert (stored.status, stored.detail, stored.claimed_at) == (status, detail, None)


def test_a_message_the_provider_cannot_encode_is_refused_for_good(
    store: Store, settings: Settings, lead_id: str
) -> None:
    send = new_send(lead_id)
    attempt = claimed(store, settings, send)
    with pytest.raises(ProviderRejected, match="could not take this message: bad address"):
        claims.deliver(store, Provider(ValueError("bad address")), message(), tags_of(send))
    assert row(store, attempt.send_id).status == "failed"


def test_any_other_failure_gives_the_claim_back(
    store: Store, settings: Settings, lead_id: str
) -> None:
    send = new_send(lead_id)
    attempt = claimed(store, settings, send)
    with pytest.raises(ConnectionResetError):
        claims.deliver(store, Provider(ConnectionResetError()), message(), tags_of(send))
    assert (row(store, attempt.send_id).status, row(store, attempt.send_id).claimed_at) == (
        "queued",
        None,
    )
    assert claims.claim(store, send, settings, redeliver_stale=False).decision.outcome == "claimed"


def test_release_and_fail_touch_only_a_claimed_send(
    store: Store, settings: Settings, lead_id: str
) -> None:
    send = new_send(lead_id)
    attempt = claimed(store, settings, send)
    claims.fail(store, attempt.send_id, "the template cannot render")
    assert row(store, attempt.send_id).detail == "the template cannot render"
    claims.release(store, attempt.send_id)  # no longer claimed: nothing changes
    claims.fail(store, attempt.send_id, "again")
    stored = row(store, attempt.send_id)
    assert (stored.status, stored.detail) == ("failed", "the template cannot render")


def test_an_erasure_while_the_email_went_out_keeps_the_subject_blank(
    store: Store, settings: Settings, lead_id: str
) -> None:
    send = new_send(lead_id)
    attempt = claimed(store, settings, send)
    erase_lead(store, lead_id)
    claims.deliver(store, Provider(), message(), tags_of(send))
    stored = row(store, attempt.send_id)
    assert (stored.status, stored.subject) == ("sent", "")


def test_sales_mail_skips_consent_and_the_cap_but_not_erasure(
    store: Store, settings: Settings
) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="no-consent@example.jp"))  # no consent on record
    settings.frequency_cap_per_week = 1
    step = claims.claim(store, new_send(lead.id), settings, redeliver_stale=False)
    assert step.decision.outcome == "suppressed" and "no consent" in (step.detail or "")
    sales = new_send(lead.id, "sales:handoff#1", mail_type="sales")
    to_sales = claims.claim(store, sales, settings, redeliver_stale=False, to_sales=True)
    assert to_sales.decision.outcome == "claimed" and to_sales.lead.id == lead.id
    # A mail type alone opens no gate: only the sales-mail activity says the mail is to sales.
    posing = new_send(lead.id, "sales:posing#1", mail_type="sales")
    refused = claims.claim(store, posing, settings, redeliver_stale=False)
    assert refused.decision.outcome == "suppressed" and "no consent" in (refused.detail or "")
    erase_lead(store, lead.id)
    later = claims.claim(
        store,
        new_send(lead.id, "sales:remind#1", mail_type="sales"),
        settings,
        redeliver_stale=False,
        to_sales=True,
    )
    assert later.decision.outcome == "suppressed" and later.status == "suppressed"


def test_at_the_cap_a_step_is_deferred_and_a_trigger_dropped(
    store: Store, settings: Settings, lead_id: str
) -> None:
    settings.frequency_cap_per_week = 1
    first = new_send(lead_id)
    claimed(store, settings, first)
    claims.deliver(store, Provider(), message(), tags_of(first))
    step = claims.claim(store, new_send(lead_id, "cold#2/tips"), settings, redeliver_stale=False)
    assert step.decision.outcome == "deferred" and step.decision.until == T0 + timedelta(days=7)
    trigger = claims.claim(
        store,
        new_send(lead_id, "trigger:pricing", mail_type="trigger"),
        settings,
        redeliver_stale=False,
    )
    assert trigger.decision.outcome == "suppressed" and "frequency cap" in (trigger.detail or "")


def test_an_unknown_lead_is_said_and_nothing_is_stored(store: Store, settings: Settings) -> None:
    with pytest.raises(LeadNotFound):
        claims.claim(store, new_send("ld_none"), settings, redeliver_stale=False)
    with store.session() as session:
        assert list(session.scalars(select(Send))) == []


def test_a_store_that_stays_away_after_delivery_leaves_the_claim_and_says_uncertain(
    store: Store, settings: Settings, lead_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claims, "MARK_SENT_WAITS", (0.01,))
    send = new_send(lead_id)
    attempt = claimed(store, settings, send)

    @event.listens_for(store.engine, "before_cursor_execute")
    def down(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("UPDATE sends SET subject"):
            raise OperationalError(statement, {}, Exception("server closed the connection"))

    with pytest.raises(DeliveryUncertain, match="will not be sent again"):
        claims.deliver(store, Provider(), message(), tags_of(send))
    event.remove(store.engine, "before_cursor_execute", down)
    assert row(store, attempt.send_id).status == "sending"  # a later attempt finds it stale
