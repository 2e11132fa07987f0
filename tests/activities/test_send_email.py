"""The outbox send activity: what lands in the lead's inbox, and that a retry never sends twice."""

from __future__ import annotations

import email
import re
import shutil
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities
from nurture.channels.line.links import read_link_token
from nurture.config import LineChannel, Settings
from nurture.mail.compose import Recipient, compose_email
from nurture.mail.outbox import OutboxProvider
from nurture.mail.providers import DELIVERY_UNCERTAIN, SendTags
from nurture.mail.render import SAMPLE_JOURNEY, SAMPLE_LEADS, TemplateRenderer
from nurture.scenario.loader import load_scenario
from nurture.scenario.pins import pin_templates
from nurture.sending.unsubscribe_tokens import verify_unsubscribe
from nurture.store.engine import LeadIn, Store
from nurture.store.models import Lead, Send
from tests.helpers.email import body, run, send_input, send_rows
from tests.helpers.paths import CONSENT, REPO, SCENARIOS
from tests.helpers.scenarios import pinned


@pytest.fixture
def emails(settings: Settings, store: Store) -> EmailActivities:
    pinned(store)
    return EmailActivities(store, settings, OutboxProvider(settings.outbox_dir))


def read(settings: Settings, send_id: str) -> EmailMessage:
    raw = (settings.outbox_dir / "acme" / f"{send_id}.eml").read_bytes()
    return email.message_from_bytes(raw, policy=policy.default)


def test_email_has_both_parts_sender_and_one_click_unsubscribe(
    emails: EmailActivities, settings: Settings, store: Store
) -> None:
    lead, _ = store.upsert_lead(
        LeadIn(
            email="Aiko@Example.com",
            first_name="愛子",
            last_name="佐藤",
            company="<script>alert(1)</script>",
            role="executive",
            consent=CONSENT,
        )
    )
    result = ActivityEnvironment().run(emails.send_email, send_input(lead.id))
    message = read(settings, result.send_id)

    assert message["Subject"] == "Welcome, 愛子"
    assert message["To"].addresses[0].addr_spec == "aiko@example.com"
    assert message["From"].addresses[0].display_name == "Acme Analytics"
    assert message["Reply-To"] == "team@acme.example"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = message["List-Unsubscribe"]
    assert (
        unsubscribe.startswith("<http://localhost:8000/v1/unsubscribe/")
        and "mailto:" in unsubscribe
    )
    token = unsubscribe.split("/v1/unsubscribe/")[1].split(">")[0]
    assert verify_unsubscribe(token, "test-secret") == (lead.id, "acme")
    # on the wire as RFC 2369 wants it, not RFC 2047-encoded: mail clients read it raw
    raw = (settings.outbox_dir / "acme" / f"{result.send_id}.eml").read_bytes()
    assert f"List-Unsubscribe: {unsubscribe}\r\n".encode() in raw.replace(b"\r\n", b"\n").replace(
        b"\n", b"\r\n"
    )
    assert "aiko" not in token.lower()

    text, html = body(message, "plain"), body(message, "html")
    assert "costs and revenue" in html and "costs and revenue" in text  # executive content
    assert "&lt;script&gt;" in html and "<script>" not in html  # lead data is inert
    for part in (html, text):
        assert "1 Example Street, Springfield" in part and "/v1/unsubscribe/" in part


def test_a_retried_send_mails_once(
    emails: EmailActivities, settings: Settings, store: Store
) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="ken@example.com", first_name="Ken", consent=CONSENT))
    first = ActivityEnvironment().run(emails.send_email, send_input(lead.id))
    again = ActivityEnvironment().run(emails.send_email, send_input(lead.id))
    assert first == again
    with store.session() as session:
        rows = list(session.scalars(select(Send)))
    assert len(rows) == 1 and rows[0].status == "sent" and rows[0].subject == "Welcome, Ken"
    assert len(list((settings.outbox_dir / "acme").glob("*"))) == 1


def test_a_send_interrupted_after_claiming_resumes_without_a_second_row(
    emails: EmailActivities, settings: Settings, store: Store
) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="mia@example.com", first_name="Mia", consent=CONSENT))
    broken = EmailActivities(store, settings, _FailingProvider())
    with pytest.raises(RuntimeError):
        ActivityEnvironment().run(broken.send_email, send_input(lead.id))
    with store.session() as session:
        assert [r.status for r in session.scalars(select(Send))] == ["queued"]
    result = ActivityEnvironment().run(emails.send_email, send_input(lead.id))
    with store.session() as session:
        assert [(r.id, r.status) for r in session.scalars(select(Send))] == [
            (result.send_id, "sent")
        ]


class _FailingProvider:
    name = "outbox"
    redelivery_is_harmless = True

    def deliver(self, message: EmailMessage, tags: SendTags) -> str:
        raise RuntimeError("provider unavailable")


def test_a_live_claim_blocks_a_second_attempt_and_a_stale_one_is_taken_over(
    emails: EmailActivities, settings: Settings, store: Store
) -> None:
    lead, _ = store.upsert_lead(LeadIn(email="raj@example.com", first_name="Raj", consent=CONSENT))
    broken = EmailActivities(store, settings, _FailingProvider())
    with pytest.raises(RuntimeError):
        ActivityEnvironment().run(broken.send_email, send_input(lead.id))

    def claim(age: timedelta) -> None:
        with store.session() as session:
            row = session.scalars(select(Send)).one()
            row.status, row.claimed_at = "sending", datetime.now(UTC) - age

    claim(timedelta(seconds=10))  # another attempt is delivering right now
    with pytest.raises(ApplicationError) as busy:
        ActivityEnvironment().run(emails.send_email, send_input(lead.id))
    assert busy.value.type == "SendInProgress" and not busy.value.non_retryable
    claim(timedelta(minutes=10))  # that attempt died: its lease ran out
    assert ActivityEnvironment().run(emails.send_email, send_input(lead.id)).status == "sent"


class _Styles(HTMLParser):
    """Each element's class and inline style, and the text of the <style> blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.styled: dict[str, str] = {}
        self.style_blocks: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self._in_style = tag == "style"
        if found.get("class"):
            self.styled.setdefault(str(found["class"]), found.get("style") or "")

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style_blocks.append(data)
            self._in_style = False


def test_the_html_carries_its_styles_inline_and_keeps_the_style_block() -> None:
    """Mail clients that drop <style> still show the layout the template's CSS gives."""
    scenario = load_scenario(REPO / "scenarios", "cloudbook")
    composed = compose_email(
        TemplateRenderer.for_folder(REPO / "scenarios" / "cloudbook"),
        scenario.brand,
        Recipient(email="aiko@example.jp", fields=SAMPLE_LEADS[0]),
        template="cold-checklist",
        subject="経費精算チェックリスト",
        journey=SAMPLE_JOURNEY,
        unsubscribe_url="https://n.example/v1/unsubscribe/t",
        send_id="snd_x",
        sent_at=datetime.now(UTC),
    )
    html = body(composed.message, "html")
    styles = _Styles()
    styles.feed(html)
    assert "max-width: 600px" in styles.styled["wrap"]
    assert "border-bottom: 3px solid #1a73c8" in styles.styled["head"]
    assert "color: #ffffff !important" in styles.styled["button"]
    assert any(".wrap {" in block for block in styles.style_blocks)  # the block is kept


class CountingProvider:
    """A provider that takes every message and counts what it took, by send id."""

    name = "counting"
    redelivery_is_harmless = False

    def __init__(self) -> None:
        self.taken: list[str] = []

    def deliver(self, message: EmailMessage, tags: SendTags) -> str:
        bytes(message)
        self.taken.append(tags.send_id)
        return f"msg-{len(self.taken)}"


def test_a_claim_whose_attempt_never_finished_becomes_uncertain_and_is_not_resent(
    settings: Settings, store: Store
) -> None:
    """A worker killed mid-send leaves its claim; the retry after the lease must not mail
    the lead again (before: it re-claimed and delivered a second time)."""
    pinned(store)
    provider = CountingProvider()
    emails = EmailActivities(store, settings, provider)
    lead, _ = store.upsert_lead(LeadIn(email="kai@example.com", first_name="Kai", consent=CONSENT))
    run(emails, send_input(lead.id))
    with store.session() as session:  # as if the worker died right after the provider took it
        row = session.scalars(select(Send)).one()
        row.status, row.claimed_at = "sending", datetime.now(UTC) - timedelta(minutes=10)
    with pytest.raises(ApplicationError) as stale:
        run(emails, send_input(lead.id))
    assert stale.value.type == DELIVERY_UNCERTAIN and stale.value.non_retryable
    assert "never finished" in stale.value.message
    [row] = send_rows(store)
    assert row.status == "uncertain" and len(provider.taken) == 1


@pytest.mark.parametrize("store_fails", [2, 99], ids=["blip", "outage"])
def test_a_store_failure_after_the_provider_took_the_email_never_sends_it_again(
    settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch, store_fails: int
) -> None:
    """Marking the send `sent` is retried inside the attempt; if the store stays away the
    send is uncertain, and neither the activity's retry nor a later one delivers again."""
    monkeypatch.setattr("nurture.sending.claims.MARK_SENT_WAITS", (0.01, 0.01, 0.01))
    pinned(store)
    provider = CountingProvider()
    emails = EmailActivities(store, settings, provider)
    lead, _ = store.upsert_lead(LeadIn(email="leo@example.com", first_name="Leo", consent=CONSENT))
    failures = {"left": 0}

    @event.listens_for(store.engine, "before_cursor_execute")
    def blip(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if failures["left"] and statement.startswith("UPDATE sends SET subject"):
            failures["left"] -= 1
            raise OperationalError(statement, {}, Exception("database is locked"))

    original = provider.deliver

    def deliver_then_fail(message: EmailMessage, tags: SendTags) -> str:
        failures["left"] = store_fails  # the store goes away once the provider has it
        return original(message, tags)

    monkeypatch.setattr(provider, "deliver", deliver_then_fail)
    if store_fails < 4:
        assert run(emails, send_input(lead.id)).status == "sent"
        assert [r.status for r in send_rows(store)] == ["sent"]
    else:
        with pytest.raises(ApplicationError) as lost:
            run(emails, send_input(lead.id))
        assert lost.value.type == DELIVERY_UNCERTAIN and lost.value.non_retryable
        failures["left"] = 0
        settings.send_claim_lease_seconds = 1
        with store.session() as session:
            session.scalars(select(Send)).one().claimed_at = datetime.now(UTC) - timedelta(
                seconds=5
            )
        with pytest.raises(ApplicationError):  # the retry finds it uncertain
            run(emails, send_input(lead.id))
        assert [r.status for r in send_rows(store)] == ["uncertain"]
    assert len(provider.taken) == 1


def test_a_message_that_cannot_be_built_fails_the_send_for_good(
    emails: EmailActivities, settings: Settings, store: Store
) -> None:
    """A CR or LF in a name stored before leads were validated made building raise
    ValueError, which released the claim and retried forever; now the send fails, said why."""
    lead, _ = store.upsert_lead(LeadIn(email="eve@example.com", first_name="Eve", consent=CONSENT))
    with store.session() as session:
        session.get_one(Lead, lead.id).first_name = "Eve\r\nBcc: victim@example.com"
    with pytest.raises(ApplicationError) as invalid:
        run(emails, send_input(lead.id))
    assert invalid.value.non_retryable and invalid.value.type == "MessageInvalid"
    [row] = send_rows(store)
    assert row.status == "failed" and "cannot be built" in (row.detail or "")
    assert not list((settings.outbox_dir / "acme").glob("*.eml"))


def test_an_email_can_carry_a_line_link_code_when_the_product_has_a_line_account(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "acme"
    shutil.copytree(SCENARIOS / "acme", folder)
    note = folder / "templates" / "note.html"
    link = (
        '{% if line_link_url %}<p><a href="{{ line_link_url }}">Get us on LINE</a></p>{% endif %}'
    )
    note.write_text(note.read_text().replace("{% endblock %}", link + "\n{% endblock %}"))
    pin_templates(store, folder, "acme", "withline")
    lead, _ = store.upsert_lead(LeadIn(email="aiko@example.com", consent=CONSENT))
    emails = EmailActivities(store, settings, OutboxProvider(settings.outbox_dir))
    without = ActivityEnvironment().run(
        emails.send_email, send_input(lead.id).model_copy(update={"scenario_version": "withline"})
    )
    assert "Get us on LINE" not in body(read(settings, without.send_id), "plain")

    settings.line_channels = {
        "acme": LineChannel.model_validate(
            {"access_token": "t", "secret": "s", "basic_id": "@acme"}
        )
    }
    later = send_input(lead.id, "cold#1/guide").model_copy(update={"scenario_version": "withline"})
    sent = ActivityEnvironment().run(emails.send_email, later)
    text = body(read(settings, sent.send_id), "plain")
    [url] = re.findall(r"https://line\.me/R/oaMessage/[^\s)]+", text)
    assert url.startswith("https://line.me/R/oaMessage/%40acme/?LINK%20")
    code = unquote(url.partition("?")[2]).removeprefix("LINK ")
    token = read_link_token(code, settings.secret_key, datetime.now(UTC) + timedelta(days=29))
    assert (token.lead_id, token.product) == (lead.id, "acme")
