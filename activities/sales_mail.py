"""Emailing our own sales team about a hand-off: the hand-off, the SLA reminder, the escalation.

At most once per (journey, send key) like every email (`sales:handoff#2`, `sales:remind#2`,
`sales:escalate#2` for hand-off 2), recorded in `sends` with mail type `sales`, which the
frequency cap does not count. The lead's consent and suppressions do not apply: the lead is
not the recipient. The journey passes ids only; who the lead is comes from the hand-off's
stored payload, so no personal data enters the journey's history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from slack_sdk import WebClient
from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email import deliver_claimed, in_progress, temporal_error
from nurture.config import Settings
from nurture.handoff.records import handoff_payload
from nurture.handoff.slack import action_token, handoff_blocks, post_message, slack_client
from nurture.mail.providers import EmailProvider, ProviderError, SendTags
from nurture.mail.sales import SalesMailKind, SalesNotice, sales_message
from nurture.scenario.model import Brand
from nurture.sending import claims
from nurture.store.engine import Store
from nurture.store.models import Send, utcnow


class SalesMailInput(BaseModel):
    """One email to sales about hand-off `handoff_no` of a journey; `to` is our own
    colleague's address from the pinned scenario (owner or escalation), never the lead's."""

    brand: Brand
    journey_id: str
    lead_id: str
    handoff_no: int
    kind: SalesMailKind
    to: str
    business_days: int = 0
    timezone: str = "UTC"
    journey_time: datetime
    slack_channel: str | None = None  # the scenario's `handoff.notify.slack.channel`

    @property
    def send_key(self) -> str:
        return f"sales:{self.kind}#{self.handoff_no}"

    @property
    def slack_key(self) -> str:
        return f"slack:{self.kind}#{self.handoff_no}"


class SalesMailResult(BaseModel):
    send_id: str
    status: str
    detail: str | None = None


class SalesMailActivities:
    def __init__(self, store: Store, settings: Settings, provider: EmailProvider) -> None:
        self.store = store
        self.settings = settings
        self.provider = provider

    @activity.defn(name="notify_sales")
    def notify_sales(self, input: SalesMailInput) -> SalesMailResult:
        """The owner's email (when the scenario has an owner), then the Slack message (when
        it has `handoff.notify.slack`), each claimed, delivered and marked sent on its own
        send row: a retry repeats neither once it went out."""
        parts = [
            ("email", self._email) if input.to else None,
            ("Slack", self._slack) if input.slack_channel else None,
        ]
        done: list[SalesMailResult] = []
        failed: list[tuple[str, ApplicationError]] = []
        for name, part in (p for p in parts if p is not None):
            try:  # one channel failing for good must not keep the other from sales
                done.append(part(input))
            except ApplicationError as err:
                failed.append((name, err))
        retryable = [err for _, err in failed if not err.non_retryable]
        if retryable:
            raise retryable[0]  # a retry repeats neither part that went out
        if not done:
            raise failed[0][1]
        result = done[0]
        if failed:  # the other went out: say what did not
            said = "; ".join(f"{name}: {err.message}" for name, err in failed)
            result = result.model_copy(update={"status": "partly sent", "detail": said})
        return result

    def _email(self, input: SalesMailInput) -> SalesMailResult:
        claimed = self._claim(input)
        if isinstance(claimed, SalesMailResult):
            return claimed
        send_id, payload = claimed
        notice = SalesNotice(input.kind, input.to, input.business_days, input.timezone)
        deliver_claimed(
            self.store,
            self.provider,
            lambda: sales_message(notice, payload, input.brand, send_id=send_id, sent_at=utcnow()),
            self._tags(input, send_id),
        )
        activity.logger.info("sent %s (%s) for %s", input.send_key, send_id, input.journey_id)
        return SalesMailResult(send_id=send_id, status="sent")

    def _claim(self, input: SalesMailInput) -> SalesMailResult | tuple[str, dict[str, Any]]:
        """Claim the owner's email like every email (nurture/sending/claims.py), once the
        hand-off is known. Returns the final result, or (send id, hand-off payload) when
        this attempt delivers. The payload is read before the claim: an erasure in between
        makes the claim `suppressed`, so a payload read before it never goes out."""
        payload = self._payload(input)
        claimed = self._claim_notice(
            input,
            key=input.send_key,
            template=f"sales-{input.kind}",
            provider=self.provider.name,
            channel="email",
            redeliver_stale=self.provider.redelivery_is_harmless,
        )
        return claimed if isinstance(claimed, SalesMailResult) else (claimed, payload)

    def _claim_notice(
        self,
        input: SalesMailInput,
        *,
        key: str,
        template: str,
        provider: str,
        channel: str,
        redeliver_stale: bool,
    ) -> SalesMailResult | str:
        """Claim one notice to sales on its channel: its send id when this attempt
        delivers, else what was decided (done before, suppressed, ...)."""
        new = claims.NewSend(
            journey_id=input.journey_id,
            send_key=key,
            lead_id=input.lead_id,
            product=input.brand.product,
            mail_type="sales",
            template=template,
            subject="",
            provider=provider,
            journey_time=input.journey_time,
            channel=channel,
        )
        attempt = claims.claim(
            self.store, new, self.settings, redeliver_stale=redeliver_stale, to_sales=True
        )
        if attempt.decision.outcome == "claimed":
            return attempt.send_id
        if attempt.decision.outcome == "busy":
            raise in_progress(attempt.send_id)
        if attempt.decision.outcome == "done":
            return _result_of(attempt)
        return SalesMailResult(
            send_id=attempt.send_id, status=attempt.status, detail=attempt.detail
        )

    def _tags(self, input: SalesMailInput, send_id: str, key: str | None = None) -> SendTags:
        return SendTags(
            send_id=send_id,
            journey_id=input.journey_id,
            lead_id=input.lead_id,
            product=input.brand.product,
            mail_type="sales",
            send_key=key or input.send_key,
            variant=0,
        )

    def _slack(self, input: SalesMailInput) -> SalesMailResult:
        """Post the notice to the product's Slack channel: the hand-off with its buttons,
        a reminder or escalation in its thread. Never posted twice (Slack has no
        idempotency key: an attempt that may have posted leaves the send `uncertain`)."""
        assert input.slack_channel is not None
        client = self._slack_client()  # before the claim: a missing token claims nothing
        payload = self._payload(input)
        claimed = self._claim_notice(
            input,
            key=input.slack_key,
            template=f"slack-{input.kind}",
            provider="slack",
            channel="slack",
            redeliver_stale=False,  # Slack has no idempotency key
        )
        if isinstance(claimed, SalesMailResult):
            return claimed
        notice = SalesNotice(input.kind, input.to, input.business_days, input.timezone)
        secret = self.settings.secret_key
        buttons = action_token(input.journey_id, input.handoff_no, secret)
        text, blocks = handoff_blocks(
            notice, payload, input.brand, buttons if input.kind == "handoff" else None
        )
        thread = None if input.kind == "handoff" else self._thread_of(input)
        try:
            claims.hand_over(
                self.store,
                self._tags(input, claimed, input.slack_key),
                text,
                lambda: post_message(client, input.slack_channel or "", text, blocks, thread),
            )
        except ProviderError as err:
            raise temporal_error(err) from None
        return SalesMailResult(send_id=claimed, status="sent")

    def _payload(self, input: SalesMailInput) -> dict[str, Any]:
        payload = handoff_payload(self.store, input.journey_id, input.handoff_no)
        if payload is None:
            raise ApplicationError(
                f"hand-off #{input.handoff_no} of {input.journey_id} is not in the store",
                type="HandoffNotFound",
                non_retryable=True,
            )
        return payload

    def _slack_client(self) -> WebClient:
        token = self.settings.slack_bot_token
        if token is None:
            raise ApplicationError(
                "the scenario posts hand-offs to Slack but NURTURE_SLACK_BOT_TOKEN is not set",
                type="SlackNotConfigured",
                non_retryable=True,
            )
        return slack_client(token.get_secret_value(), self.settings.slack_api_base)

    def _thread_of(self, input: SalesMailInput) -> str | None:
        """The hand-off message's `ts`, which reminders and escalations reply under."""
        with self.store.session() as session:
            return session.scalar(
                select(Send.provider_message_id).where(
                    Send.journey_id == input.journey_id,
                    Send.send_key == f"slack:handoff#{input.handoff_no}",
                    Send.status == "sent",
                )
            )


def _result_of(attempt: claims.Attempt) -> SalesMailResult:
    """What an earlier attempt decided; a refusal stays final, as it was then."""
    if attempt.status in ("failed", "uncertain"):
        raise ApplicationError(
            attempt.detail or attempt.status,
            type=f"Send{attempt.status.title()}",
            non_retryable=True,
        )
    return SalesMailResult(send_id=attempt.send_id, status=attempt.status, detail=attempt.detail)
