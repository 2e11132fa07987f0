"""Posting a `channel: webhook` step, at most once per (journey, send key) on our side, and
with an idempotency key for the receiver's (nurture/channels/webhook.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import jinja2
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.channel_sends import ChannelSendInput, claim_channel_send, tags_of
from activities.email import PinnedRenderers, in_progress, temporal_error
from nurture.channels.templating import JsonTemplateError, parse_json_template, render_strings
from nurture.channels.webhook import StepPost, post, webhook_file
from nurture.config import Settings
from nurture.mail.compose import Recipient
from nurture.mail.providers import ProviderError
from nurture.mail.render import email_context
from nurture.sending import claims
from nurture.store.engine import Store
from nurture.store.models import Lead


class SendWebhookInput(ChannelSendInput):
    step: str
    url: str


class SendWebhookResult(BaseModel):
    send_id: str
    status: Literal["sent", "suppressed"]
    detail: str | None = None
    retry_at: datetime | None = None  # never set: a webhook step is not capped


class StepWebhookActivities:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._renderers = PinnedRenderers(store)

    @activity.defn(name="post_step_webhook")
    def post_step_webhook(self, input: SendWebhookInput) -> SendWebhookResult:
        """Decide, claim, render, POST, mark sent; a retry resumes with the same
        idempotency key, and never posts a send that is done."""
        secret = self.settings.step_webhook_secret
        if secret is None:
            raise ApplicationError(
                "NURTURE_STEP_WEBHOOK_SECRET is not set: webhook steps are signed with it",
                type="WebhookNotConfigured",
                non_retryable=True,
            )
        attempt = self._claim(input)
        decision = attempt.decision
        if decision.outcome == "busy":
            raise in_progress(attempt.send_id)
        if decision.outcome == "done":
            if attempt.status == "failed":
                raise ApplicationError(
                    attempt.detail or "failed", type="SendFailed", non_retryable=True
                )
            status: Literal["sent", "suppressed"] = (
                "suppressed" if attempt.status == "suppressed" else "sent"
            )
            return SendWebhookResult(send_id=attempt.send_id, status=status, detail=attempt.detail)
        if decision.outcome != "claimed":
            return SendWebhookResult(
                send_id=attempt.send_id, status="suppressed", detail=decision.detail
            )
        call = StepPost(
            input.url, attempt.send_id, self._body(input, attempt.lead, attempt.send_id)
        )
        tags = tags_of(input, attempt.send_id)
        try:
            answer = claims.hand_over(
                self.store,
                tags,
                f"webhook {input.step}",
                lambda: post(call, secret.get_secret_value(), datetime.now(UTC)),
            )
        except ProviderError as err:
            raise temporal_error(err) from None
        return SendWebhookResult(send_id=attempt.send_id, status="sent", detail=answer)

    def _claim(self, input: SendWebhookInput) -> claims.Attempt:
        # Posting the same send again is harmless to a receiver that honours the
        # Idempotency-Key, which every attempt of the send carries.
        return claim_channel_send(
            self.store,
            self.settings,
            input,
            channel="webhook",
            subject=f"webhook {input.step}",
            provider="webhook",
        )

    def _body(self, input: SendWebhookInput, lead: Lead, send_id: str) -> dict[str, Any]:
        """The rendered body; a template that cannot render fails the send for good."""
        renderer = self._renderers.get(input.product, input.scenario_version)
        file = webhook_file(input.template)
        context = email_context(
            input.brand,
            Recipient.of(lead).fields,
            unsubscribe_url="",
            preferences_url="",
            journey=input.journey,
            event=input.event,
        )
        try:
            source = renderer.env.loader.get_source(renderer.env, file)[0]  # type: ignore[union-attr]
            data = render_strings(renderer.env, parse_json_template(file, source), context)
        except (jinja2.TemplateError, JsonTemplateError) as err:
            detail = f"{file}: {err}"
            claims.fail(self.store, send_id, detail)
            raise ApplicationError(detail, type="TemplateError", non_retryable=True) from None
        return {
            "send_id": send_id,
            "product": input.product,
            "lead_id": input.lead_id,
            "step": input.step,
            "mail_type": input.mail_type,
            "data": data,
        }
