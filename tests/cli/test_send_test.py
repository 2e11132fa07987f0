"""`nurture send-test`: one email, rendered as the worker renders it, to an allowed address
through each provider; never a send row, never to an address the allow-list lacks."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from nurture.config import Settings
from nurture.store.engine import Store
from nurture.store.models import Send
from tests.helpers.journeys import rows
from tests.helpers.processes import free_port, run_starter
from tests.helpers.sendgrid import API_KEY, FakeSendGrid

ALLOWED = {"NURTURE_TEST_RECIPIENTS": "marketing@acme.example, @qa.acme.example"}


async def send_test(settings: Settings, *args: str, **env: str) -> tuple[int, str]:
    return await run_starter(
        settings, "send-test", "acme", *args, script="-m nurture.cli", env=ALLOWED | env
    )


def outbox_messages(settings: Settings) -> list[EmailMessage]:
    files = sorted(Path(settings.outbox_dir).rglob("*.eml"))
    return [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]


async def test_an_address_off_the_allow_list_gets_nothing(settings: Settings, store: Store) -> None:
    code, out = await send_test(settings, "cold/welcome", "--to", "ceo@bigcorp.example")
    assert code == 1
    assert "ceo@bigcorp.example is not allowed to receive test sends" in out
    assert "add it or @bigcorp.example to NURTURE_TEST_RECIPIENTS" in out
    code, out = await send_test(
        settings, "cold/welcome", "--to", "me@acme.example", NURTURE_TEST_RECIPIENTS=""
    )
    assert code == 1 and "(allowed: nothing yet)" in out
    assert outbox_messages(settings) == []


async def test_the_outbox_gets_the_rendered_step_marked_as_a_test(
    settings: Settings, store: Store
) -> None:
    code, out = await send_test(
        settings,
        "cold/guide",
        "--to",
        "Tester@QA.acme.example",
        "--variant",
        "B",
        "--lead",
        "practitioner",
    )
    assert code == 0, out
    assert (
        "sent [TEST] cold/guide (variant B, practitioner's data) to tester@qa.acme.example" in out
    )
    [message] = outbox_messages(settings)
    assert message["Subject"] == "[TEST] Your guide"
    assert message["To"] == "tester@qa.acme.example"
    assert message["X-Nurture-Test"] == "true"
    assert message["List-Unsubscribe"]  # as the lead would get it
    assert "1 Example Street" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert rows(store, Send) == []  # no send row: no analytics, no weekly cap


async def test_sendgrid_gets_it_tagged_as_a_test(settings: Settings, store: Store) -> None:
    sendgrid = FakeSendGrid()
    try:
        code, out = await send_test(
            settings,
            "welcome",
            "--to",
            "marketing@acme.example",
            NURTURE_EMAIL_PROVIDER="sendgrid",
            NURTURE_SENDGRID_API_KEY=API_KEY,
            NURTURE_SENDGRID_HOST=sendgrid.url,
        )
    finally:
        sendgrid.close()
    assert code == 0, out
    [body] = sendgrid.payloads
    assert body["subject"] == "[TEST] Welcome, Kenji" or body["subject"].startswith(
        "[TEST] Welcome"
    )
    assert [p["email"] for p in body["personalizations"][0]["to"]] == ["marketing@acme.example"]
    assert body["custom_args"]["mail_type"] == "test"
    assert rows(store, Send) == []


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


async def test_smtp_gets_it_for_the_tester_only(
    settings: Settings, store: Store, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    code, out = await send_test(
        settings,
        "trigger:download-followup",
        "--to",
        "marketing@acme.example",
        NURTURE_EMAIL_PROVIDER="smtp",
        NURTURE_SMTP_HOST="127.0.0.1",
        NURTURE_SMTP_PORT=str(port),
    )
    assert code == 0, out
    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == ["marketing@acme.example"]
    message = email.message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[arg-type]
    assert message["Subject"] == "[TEST] Thanks for downloading"
