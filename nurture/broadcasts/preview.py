"""A broadcast as a lead would read it, before it is scheduled: every variant rendered
from its frozen templates for a lead of the store (or a sample lead)."""

from __future__ import annotations

from pathlib import Path

from nurture.broadcasts.records import content_of
from nurture.mail.compose import Recipient
from nurture.mail.render import SAMPLE_JOURNEY, EmailContent, email_context, sample_leads
from nurture.scenario.loader import load_scenario
from nurture.store.models import Broadcast, Lead

PREVIEW_LINK = "https://example.invalid/v1/unsubscribe/preview"


def render_preview(root: Path, row: Broadcast, lead: Lead | None) -> list[EmailContent]:
    scenario = load_scenario(root, row.product)
    fields = Recipient.of(lead).fields if lead is not None else sample_leads(scenario.attributes)[0]
    context = email_context(
        scenario.brand,
        fields,
        unsubscribe_url=PREVIEW_LINK,
        preferences_url=PREVIEW_LINK,
        journey=SAMPLE_JOURNEY,
    )
    content = content_of(row)
    renderer = content.renderer()
    return [renderer.render(v.template, v.subject, context) for v in content.variants]
