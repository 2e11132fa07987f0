"""Pushing one LINE message of a journey, at most once per (journey, send key).

The same claim as email (nurture/sending/claims.py), decided by the same gate with the
channel's own rules: a lead not linked to the product's LINE account (or who unfollowed or
blocked it) is `unlinked`, so the journey can fall back to email. The message is rendered
from the journey's pinned scenario version; LINE's retry key makes a retried push harmless.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, cast

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.channel_sends import ChannelSendInput, claim_channel_send, tags_of
from activities.email import PinnedRenderers, in_progress, temporal_error
from nurture.channels.line import links
from nurture.channels.line.messages import LineMessageError, line_file, render_line_messages
from nurture.channels.line.push import LinePusher, Push
from nurture.config import Settings
from nurture.mail.compose import Recipient, unsubscribe_url
from nurture.mail.providers import DELIVERY_UNCERTAIN, ProviderError
from nurture.mail.render import email_context
from nurture.observability.metrics import counted_send
from nurture.sending import claims
from nurture.sending.gate import NOT_ON_LINE
from nurture.store.engine import Store
from nurture.store.models import Lead

RETRY_KEY_KEPT = timedelta(hours=23)  # LINE keeps a retry key 24 hours; an hour to spare


class SendLineInput(ChannelSendInput):
    alt_text: str


class SendLineResult(BaseModel):
    """`sent`; `unlinked` (the lead is not on LINE for this product: fall back); or
    `suppressed` / `deferred` (the mail type's opt-out, the LINE weekly cap) with why."""

    send_id: str
    status: Literal["sent", "unlinked", "suppressed", "deferred"]
    detail: str | None = None
    retry_at: datetime | None = None


class LineActivities:
    def __init__(self, store: Store, settings: Settings, pusher: LinePusher) -> None:
        self.store = store
        self.settings = settings
        self.pusher = pusher
        self._renderers = PinnedRenderers(store)

    @activity.defn(name="send_line")
    def send_line(self, input: SendLineInput) -> SendLineResult:
        """Decide, claim, render, push, mark sent; a retry resumes and never pushes twice."""
        return counted_send("line", lambda: self._send(input))

    def _send(self, input: SendLineInput) -> SendLineResult:
        attempt = self._claim(input)
        decision = attempt.decision
        if decision.outcome == "busy":
            raise in_progress(attempt.send_id)
        if decision.outcome == "done":
            return self._result_of(attempt)
        if decision.outcome == "uncertain":  # recorded on the row: raised once committed
            raise ApplicationError(
                decision.detail or "uncertain", type=DELIVERY_UNCERTAIN, non_retryable=True
            )
        if decision.outcome != "claimed":
            status = "unlinked" if decision.unreachable else decision.outcome
            return SendLineResult(
                send_id=attempt.send_id,
                status=cast(Literal["unlinked", "suppressed", "deferred"], status),
                detail=decision.detail,
                retry_at=decision.until,
            )
        tags = tags_of(input, attempt.send_id)
        push, alt_text = self._push(input, attempt.lead, attempt.send_id)
        try:
            request_id = claims.hand_over(
                self.store, tags, alt_text, lambda: self.pusher.push(push)
            )
        except ProviderError as err:
            raise temporal_error(err) from None
        activity.logger.info("pushed %s (%s) on LINE", input.send_key, attempt.send_id)
        return SendLineResult(send_id=attempt.send_id, status="sent", detail=request_id)

    def _claim(self, input: SendLineInput) -> claims.Attempt:
        # LINE refuses a retry key it has seen for 24 hours; after that a send tried
        # before is uncertain, never pushed again.
        return claim_channel_send(
            self.store,
            self.settings,
            input,
            channel="line",
            subject=input.alt_text,
            provider=self.pusher.name,
            harmless_for=RETRY_KEY_KEPT,
        )

    def _push(self, input: SendLineInput, lead: Lead, send_id: str) -> tuple[Push, str]:
        """The rendered push and its alt text; a template LINE would refuse fails the send
        for good."""
        with self.store.session() as session:
            to = links.linked_user(session, input.lead_id, input.product)
        if to is None:  # unlinked since the claim: nothing went out, the retry decides
            claims.release(self.store, send_id)
            raise ApplicationError("the lead left LINE while its message was claimed")
        link = unsubscribe_url(
            self.settings.public_base_url,
            self.settings.secret_key,
            input.lead_id,
            input.product,
            send_id,
        )
        context = email_context(
            input.brand,
            Recipient.of(lead).fields,
            unsubscribe_url=link,
            preferences_url=link,
            journey=input.journey,
            event=input.event,
        )
        renderer = (
            self._renderers.for_broadcast(input.broadcast_id)
            if input.broadcast_id is not None
            else self._renderers.get(input.product, input.scenario_version)
        )
        name = input.template
        try:
            source = renderer.env.loader.get_source(renderer.env, line_file(name))[0]  # type: ignore[union-attr]
            rendered = render_line_messages(renderer.env, name, source, input.alt_text, context)
        except Exception as err:  # TemplateNotFound, LineMessageError
            detail = (
                str(err) if isinstance(err, LineMessageError) else f"{line_file(name)}: {err!r}"
            )
            claims.fail(self.store, send_id, detail)
            raise ApplicationError(detail, type="TemplateError", non_retryable=True) from None
        push = Push(send_id=send_id, product=input.product, to=to, messages=rendered.messages)
        return push, rendered.alt_text

    @staticmethod
    def _result_of(attempt: claims.Attempt) -> SendLineResult:
        """What an earlier attempt decided, for a retry that finds the work done."""
        if attempt.status == "failed":
            raise ApplicationError(
                attempt.detail or "failed", type="SendFailed", non_retryable=True
            )
        if attempt.status == "uncertain":
            raise ApplicationError(
                attempt.detail or "uncertain", type=DELIVERY_UNCERTAIN, non_retryable=True
            )
        if attempt.status == "suppressed":
            status: Literal["unlinked", "suppressed"] = (
                "unlinked" if attempt.detail == NOT_ON_LINE else "suppressed"
            )
            return SendLineResult(send_id=attempt.send_id, status=status, detail=attempt.detail)
        return SendLineResult(
            send_id=attempt.send_id, status="sent", detail=attempt.provider_message_id
        )
