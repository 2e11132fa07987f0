"""A trigger email knows what fired it: the download follow-up names the document."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from nurture.config import Settings
from nurture.store.engine import Store
from nurture.worker_setup import build_worker
from tests.helpers.email import body
from tests.helpers.journeys import behave, eventually, sends, started
from tests.helpers.scenarios import scenario_copy

FOLLOWUP = (
    '{% extends "layout.html" %}{% block body %}<p>Thanks for downloading '
    '{% if event.properties.document is defined %}"{{ event.properties.document }}"'
    "{% else %}our guide{% endif %} ({{ event.type }}).</p>{% endblock %}"
)


async def test_a_trigger_email_names_the_document_that_fired_it(
    env: WorkflowEnvironment, client: Client, settings: Settings, store: Store, tmp_path: Path
) -> None:
    folder = scenario_copy(
        settings,
        tmp_path,
        old="    template: note\n    subject: Thanks for downloading\n",
        new="    template: followup\n    subject: Thanks for downloading\n",
    )
    (folder / "templates" / "followup.html").write_text(FOLLOWUP)
    async with build_worker(client, settings, store):
        named = await started(env, client, settings, store, email="a@example.com")
        await behave(env, named, "document_download", document="Expense guide 2026")
        bare = await started(env, client, settings, store, email="b@example.com")
        await behave(env, bare, "document_download")
        for handle in (named, bare):
            await eventually(handle, lambda s: s.emails_sent >= 2)
    texts = {}
    for send in sends(store):
        if send.send_key.startswith("trigger:"):
            raw = (settings.outbox_dir / "acme" / f"{send.id}.eml").read_bytes()
            message = email.message_from_bytes(raw, policy=policy.default)
            texts[send.journey_id] = body(message, "plain")  # type: ignore[arg-type]
    assert 'Thanks for downloading "Expense guide 2026" (document_download).' in texts[named.id]
    assert "Thanks for downloading our guide (document_download)." in texts[bare.id]
