"""The store on real SQLite and real PostgreSQL: leads upsert without duplicates, sends once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities, SendEmailInput
from activities.transitions import TransitionActivities, TransitionInput
from nurture.config import Settings
from nurture.mail.outbox import OutboxProvider
from nurture.sending import gate as send_gate
from nurture.sending.status import advance_send_status
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Lead, Send, Transition
from tests.helpers.databases import postgres_database
from tests.helpers.paths import CONSENT
from tests.helpers.scenarios import pinned


@pytest.fixture
def database_url(any_database_url: str) -> str:
    return any_database_url


def count(store: Store, model: type) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_upsert_by_email_normalises_and_updates(store: Store) -> None:
    first, created = store.upsert_lead(LeadIn(email=" Aiko@Example.COM ", first_name="Aiko"))
    again, created_again = store.upsert_lead(LeadIn(email="aiko@example.com", company="Example"))
    assert created and not created_again and first.id == again.id
    lead = store.get_lead(first.id)
    assert lead is not None
    assert (lead.email, lead.first_name, lead.company) == ("aiko@example.com", "Aiko", "Example")
    assert count(store, Lead) == 1


def test_upsert_by_external_id_follows_an_email_change(store: Store) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="old@example.com", external_id="crm-1"))
    moved, created = store.upsert_lead(LeadIn(email="new@example.com", external_id="crm-1"))
    assert not created and moved.id == lead.id and moved.email == "new@example.com"


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        (
            "first_name",
            "Aiko\r\nBcc: all@example.com",
            "first_name contains a line break (CR/LF); names must be one line of text",
        ),
        (
            "company",
            "Example\nManufacturing",
            "company contains a line break (CR/LF); company names must be one line of text",
        ),
        (
            "title",
            "CFO\u2028CTO",
            "title contains a line break (U+2028 LINE SEPARATOR); titles must be one line of text",
        ),
        (
            "department",
            "R&D\x00",
            "department contains a control character (U+0000 NUL); department must be printable "
            "text only",
        ),
    ],
)
def test_a_line_break_or_control_character_in_a_lead_is_refused_naming_the_field(
    field: str, value: str, says: str
) -> None:
    """Names, company and title reach email headers: a line break there once froze a journey."""
    with pytest.raises(ValidationError) as refused:
        LeadIn(email="aiko@example.jp", **{field: value})
    assert [(e["loc"], e["msg"]) for e in refused.value.errors()] == [((field,), says)]


def test_ordinary_text_in_any_script_is_accepted() -> None:
    lead = LeadIn(email="aiko@example.jp", first_name="佐藤\u3000愛子", company="Zoë & Søn GmbH")
    assert (lead.first_name, lead.company) == ("佐藤\u3000愛子", "Zoë & Søn GmbH")


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("aiko@@example.com", "The part after the @-sign contains invalid characters: '@'."),
        ("aiko..sato@example.com", "An email address cannot have two periods in a row."),
        ("aiko@example.com.", "An email address cannot end with a period."),
        ("aiko@localhost", "The part after the @-sign is not valid. It should have a period."),
    ],
)
def test_an_invalid_email_is_refused_with_the_reason(email: str, reason: str) -> None:
    with pytest.raises(ValidationError) as refused:
        LeadIn(email=email)
    assert refused.value.errors()[0]["msg"] == f"email {email!r} is not a valid address: {reason}"


def test_an_internationalised_address_is_one_lead_however_its_domain_is_typed(
    store: Store,
) -> None:
    """A Japanese form may send the domain in full-width letters (IME); it is the same domain."""
    lead, created = store.upsert_lead(LeadIn(email="愛子@example.jp"))
    again, created_again = store.upsert_lead(LeadIn(email="愛子@ＥＸＡＭＰＬＥ.JP"))
    assert created and not created_again and again.id == lead.id
    assert again.email == "愛子@example.jp" and count(store, Lead) == 1


def test_leads_and_suppressions_stored_before_validation_still_match(store: Store) -> None:
    """Rows from before email-validator: an ASCII address is stored, matched and hashed for
    suppression exactly as it was (stripped and lower-cased)."""
    old = "aiko.sato+news@example.co.jp"  # as the store kept " Aiko.Sato+News@Example.CO.JP "
    with store.session() as session:
        session.add(Lead(id="ld_old", email=old))
        session.flush()
        send_gate.suppress(session, email=old, lead_id=None, scope="global", reason="bounce")
    lead, created = store.upsert_lead(LeadIn(email=" Aiko.Sato+News@Example.CO.JP "))
    assert not created and lead.id == "ld_old" and lead.email == old
    assert send_gate.email_hash(lead.email) == send_gate.email_hash(old)
    with store.session() as session:
        assert send_gate.suppression_reason(session, lead, "acme", "step") is not None


def test_concurrent_upserts_of_one_lead_make_one_lead(store: Store) -> None:
    def upsert(i: int) -> str:
        lead, _ = store.upsert_lead(LeadIn(email="race@example.com", title=f"t{i}"))
        return lead.id

    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = set(pool.map(upsert, range(20)))
    assert len(ids) == 1 and count(store, Lead) == 1


def test_concurrent_retries_of_one_send_make_one_email(store: Store, settings: Settings) -> None:
    lead, _ = store.upsert_lead(
        LeadIn(email="once@example.com", first_name="Once", consent=CONSENT)
    )
    emails = EmailActivities(store, settings, OutboxProvider(settings.outbox_dir))
    scenario = pinned(store)
    request = SendEmailInput(
        brand=scenario.brand,
        scenario_version=scenario.version,
        journey_id=f"journey:acme:{lead.id}",
        lead_id=lead.id,
        product="acme",
        send_key="cold#1/welcome",
        mail_type="step",
        template="note",
        subject="Hi",
        variant=0,
        journey_time=datetime(2026, 11, 25, 3, tzinfo=UTC),
        journey={},
    )

    def send(_: int) -> str:
        """An attempt that finds another one delivering is retried, as Temporal would."""
        for _attempt in range(100):
            try:
                return ActivityEnvironment().run(emails.send_email, request).send_id
            except ApplicationError as err:
                assert err.type == "SendInProgress"
                time.sleep(0.01)
        raise AssertionError("never converged")

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(send, range(8)))
    assert len(ids) == 1 and count(store, Send) == 1
    assert len(list((settings.outbox_dir / "acme").glob("*.eml"))) == 1


def test_recording_a_transition_twice_keeps_one_row(store: Store) -> None:
    transitions = TransitionActivities(store)
    record = TransitionInput(
        journey_id="journey:acme:ld_1",
        seq=1,
        lead_id="ld_1",
        product="acme",
        from_lifecycle=None,
        to_lifecycle="nurturing",
        stage="cold",
        score=0,
        actor="journey",
        reason="journey started",
        journey_time=datetime(2026, 11, 25, tzinfo=UTC),
    )
    ActivityEnvironment().run(transitions.record_transition, record)
    ActivityEnvironment().run(transitions.record_transition, record)
    assert count(store, Transition) == 1


def test_send_status_only_moves_forward(store: Store, settings: Settings) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="st@example.com", consent=CONSENT))
    with store.session() as session:
        session.add(
            Send(
                id="snd_1",
                journey_id="j",
                send_key="k",
                lead_id=lead.id,
                product="acme",
                mail_type="step",
                template="t",
                subject="s",
                variant=0,
                provider="outbox",
                journey_time=datetime(2026, 11, 25, tzinfo=UTC),
                status="sent",
            )
        )
    assert advance_send_status(store, "snd_1", "opened")
    assert not advance_send_status(store, "snd_1", "delivered")  # late, out of order
    assert not advance_send_status(store, "snd_1", "opened")  # repeated
    assert not advance_send_status(store, "snd_1", "bounced")  # an opened mail did not bounce
    assert advance_send_status(store, "snd_1", "clicked")
    with store.session() as session:
        assert session.get_one(Send, "snd_1").status == "clicked"


@pytest.mark.parametrize("scheme", ["postgresql://", "postgres://"])
def test_the_postgresql_url_hosts_give_works_as_it_is(scheme: str) -> None:
    """`postgresql://` (every host and compose file) and `postgres://` (Heroku style) mean
    PostgreSQL through the psycopg2 we ship, not a missing psycopg 3."""
    for url in postgres_database():
        store = Store(scheme + url.split("://", 1)[1])
        try:
            store.upgrade()
            lead, created = store.upsert_lead(LeadIn(email="aiko@example.jp"))
            assert created and store.get_lead(lead.id) is not None
            assert store.engine.url.drivername == "postgresql+psycopg2"
        finally:
            store.engine.dispose()
