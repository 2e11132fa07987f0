"""One email for one lead, built the same way by the worker and by `nurture preview`.

The send activity and the preview both call `compose_email`, so what a marketer previews
cannot drift from what the lead receives: the same template renderer (sandboxed,
autoescaped, StrictUndefined), the same template context, the same signed unsubscribe link
and the same MIME message. Only where the templates come from differs (the worker reads
the pinned version from the store, the preview reads the folder).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from nurture.mail.link_tracking import track_links
from nurture.mail.message import build_message
from nurture.mail.render import EmailContent, TemplateRenderer, email_context
from nurture.scenario.model import Brand
from nurture.sending.unsubscribe_tokens import sign_unsubscribe
from nurture.store.models import Lead


@dataclass(frozen=True)
class Recipient:
    """The lead as an email sees it: its address, its name for the To header, and the
    fields templates may use (nothing else of the lead reaches a template)."""

    email: str
    fields: dict[str, Any]

    @property
    def name(self) -> str:
        parts = (self.fields.get("first_name"), self.fields.get("last_name"))
        return " ".join(p for p in parts if p)

    @classmethod
    def of(cls, lead: Lead) -> Recipient:
        return cls(
            email=lead.email,
            fields={
                "first_name": lead.first_name,
                "last_name": lead.last_name,
                "company": lead.company,
                "title": lead.title,
                "role": lead.role,
                "industry": lead.industry,
                "company_size": lead.company_size,
                "attributes": dict(lead.attributes or {}),
            },
        )


@dataclass(frozen=True)
class LinkTracking:
    """Nurture's own open and click tracking: where the API answers, and the secret that
    seals the links (None in an email: the provider tracks, or nobody does)."""

    base_url: str
    secret: str


@dataclass(frozen=True)
class ComposedEmail:
    content: EmailContent
    message: EmailMessage


def unsubscribe_url(
    public_base_url: str, secret_key: str, lead_id: str, product: str, send_id: str | None = None
) -> str:
    """The one-click link of the API (`/v1/unsubscribe/{token}`), sealed for lead × product
    and the email it is in (so the unsubscribe counts for that email)."""
    token = sign_unsubscribe(lead_id, product, secret_key, send_id)
    return f"{public_base_url}/v1/unsubscribe/{token}"


def compose_email(
    renderer: TemplateRenderer,
    brand: Brand,
    recipient: Recipient,
    *,
    template: str,
    subject: str,
    journey: dict[str, Any],
    unsubscribe_url: str,
    send_id: str,
    sent_at: datetime,
    tracking: LinkTracking | None = None,
    line_link_url: str = "",
    event: dict[str, Any] | None = None,
) -> ComposedEmail:
    """Render `template` with `subject` (one variant's Jinja source) for the recipient and
    build the message; template errors propagate as `jinja2.TemplateError`. With
    `tracking`, the HTML's links go through the API and it carries the open pixel."""
    context = email_context(
        brand,
        recipient.fields,
        unsubscribe_url=unsubscribe_url,
        preferences_url=unsubscribe_url,
        journey=journey,
        line_link_url=line_link_url,
        event=event,
    )
    content = renderer.render(template, subject, context)
    if tracking is not None:
        tracked = track_links(
            content.html,
            base_url=tracking.base_url,
            send_id=send_id,
            secret=tracking.secret,
            keep={unsubscribe_url},
        )
        content = replace(content, html=tracked)
    message = build_message(
        content,
        sender=brand.sender,
        to_email=recipient.email,
        to_name=recipient.name,
        unsubscribe_url=unsubscribe_url,
        send_id=send_id,
        sent_at=sent_at,
    )
    return ComposedEmail(content, message)
