"""Sending one email of a journey, at most once per (journey, send key).

The row, its claim and its outcome are nurture/sending/claims.py; the message is rendered
from the journey's pinned scenario version. This module says what each outcome means to
Temporal: a result, a retryable error, or a final one, with the error types journey
histories record.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from typing import Literal

import jinja2
from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.channel_sends import ChannelSendInput, claim_channel_send, tags_of
from nurture.broadcasts.records import content_of, get_broadcast
from nurture.channels.line.links import line_link_url
from nurture.config import Settings
from nurture.mail.compose import LinkTracking, Recipient, compose_email, unsubscribe_url
from nurture.mail.providers import (
    DELIVERY_UNCERTAIN,
    PROVIDER_REJECTED,
    PROVIDER_UNAVAILABLE,
    DeliveryUncertain,
    EmailProvider,
    ProviderError,
    ProviderUnavailable,
    SendTags,
)
from nurture.mail.render import TemplateRenderer
from nurture.observability.metrics import counted_send
from nurture.scenario.pins import pinned_sources
from nurture.sending import claims
from nurture.store.engine import Store
from nurture.store.models import Lead, utcnow


class SendEmailInput(ChannelSendInput):
    """Carries the pinned scenario's brand, so the email matches the version the journey runs."""

    subject: str
    variant: int


class SendEmailResult(BaseModel):
    """`sent`; `suppressed` (with the reason); or `deferred` until `retry_at` by the weekly cap
    (the journey also defers a step itself when the provider stays away). `uncertain` never
    leaves the activity: the gate records it, then the activity raises it, non-retryable."""

    send_id: str
    status: Literal["sent", "suppressed", "deferred", "uncertain"]
    provider_message_id: str | None = None
    detail: str | None = None
    retry_at: datetime | None = None


class EmailActivities:
    def __init__(self, store: Store, settings: Settings, provider: EmailProvider) -> None:
        self.store = store
        self.settings = settings
        self.provider = provider
        self._renderers = PinnedRenderers(store)
        self._tracking = (
            LinkTracking(settings.public_base_url, settings.secret_key)
            if settings.own_tracking
            else None
        )

    @activity.defn(name="send_email")
    def send_email(self, input: SendEmailInput) -> SendEmailResult:
        """Decide (suppression, consent, frequency cap), claim, deliver, mark sent.

        A retry resumes and never resends. Only the attempt holding the claim delivers;
        another attempt running at the same time (a timed-out attempt still alive beside
        its retry) backs off and is retried.
        """
        return counted_send("email", lambda: self._send(input))

    def _send(self, input: SendEmailInput) -> SendEmailResult:
        gate = self._gate(input)
        if isinstance(gate, SendEmailResult) and gate.status == "uncertain":
            # raised once the decision is committed: the row says so from now on
            raise ApplicationError(
                gate.detail or "uncertain", type=DELIVERY_UNCERTAIN, non_retryable=True
            )
        if isinstance(gate, SendEmailResult):
            return gate
        send_id, lead = gate
        message_id = deliver_claimed(
            self.store,
            self.provider,
            lambda: self._message(input, lead, send_id),
            tags_of(input, send_id, input.variant),
        )
        activity.logger.info("sent %s (%s) for %s", input.send_key, send_id, input.journey_id)
        return SendEmailResult(send_id=send_id, status="sent", provider_message_id=message_id)

    def _gate(self, input: SendEmailInput) -> SendEmailResult | tuple[str, Lead]:
        """Claim the send (nurture/sending/claims.py). Returns the final result, or
        (send id, lead) when this attempt delivers."""
        attempt = claim_channel_send(
            self.store,
            self.settings,
            input,
            channel="email",
            subject=input.subject,
            provider=self.provider.name,
            variant=input.variant,
            redeliver_stale=self.provider.redelivery_is_harmless,
        )
        decision = attempt.decision
        if decision.outcome == "claimed":
            return attempt.send_id, attempt.lead
        if decision.outcome == "busy":
            raise in_progress(attempt.send_id)
        if decision.outcome == "done":
            return self._result_of(attempt)
        return SendEmailResult(
            send_id=attempt.send_id,
            status=decision.outcome,
            detail=decision.detail,
            retry_at=decision.until,
        )

    def _message(self, input: SendEmailInput, lead: Lead, send_id: str) -> EmailMessage:
        """Render the pinned version's template for this lead; template errors are final."""
        link = unsubscribe_url(
            self.settings.public_base_url,
            self.settings.secret_key,
            input.lead_id,
            input.product,
            send_id,
        )
        try:
            renderer = (
                self._renderers.for_broadcast(input.broadcast_id)
                if input.broadcast_id is not None
                else self._renderer(input.product, input.scenario_version)
            )
            email = compose_email(
                renderer,
                input.brand,
                Recipient.of(lead),
                template=input.template,
                subject=input.subject,
                journey=input.journey,
                unsubscribe_url=link,
                send_id=send_id,
                sent_at=utcnow(),
                tracking=self._tracking,
                line_link_url=self._line_link(input),
                event=input.event,
            )
        except jinja2.TemplateError as err:
            raise ApplicationError(
                f"template {input.template!r} of {input.product} version "
                f"{input.scenario_version} cannot render: {err}",
                type="TemplateError",
                non_retryable=True,
            ) from None
        return email.message

    def _line_link(self, input: SendEmailInput) -> str:
        """`{{ line_link_url }}`: a fresh link code, when the product's LINE account is set."""
        channel = self.settings.line_channels.get(input.product)
        if channel is None or channel.basic_id is None:
            return ""
        return line_link_url(
            channel.basic_id, input.lead_id, input.product, self.settings.secret_key, utcnow()
        )

    def _renderer(self, product: str, version: str) -> TemplateRenderer:
        return self._renderers.get(product, version)

    @staticmethod
    def _result_of(attempt: claims.Attempt) -> SendEmailResult:
        """What an earlier attempt decided, for a retry that finds the work done."""
        if attempt.status == "failed":
            raise ApplicationError(
                attempt.detail or "failed", type="SendFailed", non_retryable=True
            )
        if attempt.status == "uncertain":
            raise ApplicationError(
                attempt.detail or "uncertain", type=DELIVERY_UNCERTAIN, non_retryable=True
            )
        status = "suppressed" if attempt.status == "suppressed" else "sent"
        return SendEmailResult(
            send_id=attempt.send_id,
            status=status,
            provider_message_id=attempt.provider_message_id,
            detail=attempt.detail,
        )


class PinnedRenderers:
    """One renderer per pinned scenario version, so each template compiles once per worker
    (emails and LINE messages alike)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._renderers: dict[tuple[str, str], TemplateRenderer] = {}
        self._lock = threading.Lock()

    def get(self, product: str, version: str) -> TemplateRenderer:
        key = (product, version)
        with self._lock:
            renderer = self._renderers.get(key)
        if renderer is None:
            sources = pinned_sources(self.store, product, version)
            if not sources:
                raise ApplicationError(
                    f"the templates of {product} version {version} are not in the store; "
                    "they are pinned when a journey loads its scenario",
                    type="TemplatesMissing",
                    non_retryable=True,
                )
            renderer = TemplateRenderer.from_sources(sources)
            with self._lock:
                self._renderers[key] = renderer
        return renderer

    def for_broadcast(self, broadcast_id: str) -> TemplateRenderer:
        """A broadcast's frozen templates (nurture/broadcasts/content.py)."""
        key = ("broadcast", broadcast_id)
        renderer = self._renderers.get(key)
        if renderer is None:
            try:
                renderer = content_of(get_broadcast(self.store, broadcast_id)).renderer()
            except LookupError as err:
                raise ApplicationError(
                    str(err), type="TemplatesMissing", non_retryable=True
                ) from None
            with self._lock:
                self._renderers[key] = renderer
        return renderer


def in_progress(send_id: str) -> ApplicationError:
    """Another attempt holds the claim and may be delivering: retry later (retryable)."""
    return ApplicationError(
        f"send {send_id} is being delivered by another attempt; retrying later",
        type="SendInProgress",
    )


def deliver_claimed(
    store: Store, provider: EmailProvider, build: Callable[[], EmailMessage], tags: SendTags
) -> str:
    """Build and deliver a send this attempt has claimed (nurture/sending/claims.py marks
    it sent, or records why not); returns the provider's message id. The provider's errors
    become Temporal's: retried when nothing went out, final otherwise."""
    message = _built(store, build, tags.send_id)
    try:
        return claims.deliver(store, provider, message, tags)
    except ProviderError as err:
        raise temporal_error(err) from None


def _built(store: Store, build: Callable[[], EmailMessage], send_id: str) -> EmailMessage:
    """The message, or a final error saying why it cannot exist: no retry can fix a
    template error or a header a lead's data made invalid, so the send fails for good."""
    try:
        return build()
    except ApplicationError as err:  # TemplateError, TemplatesMissing: said already
        failure = err
    except Exception as err:  # ValueError from a CR/LF in a header, an encoding error, ...
        failure = ApplicationError(
            f"the message cannot be built: {type(err).__name__}: {err}",
            type="MessageInvalid",
            non_retryable=True,
        )
    except BaseException:
        claims.release(store, send_id)  # nothing went out: the retry may try at once
        raise
    if failure.non_retryable:
        claims.fail(store, send_id, failure.message)
    else:
        claims.release(store, send_id)
    raise failure from None


def temporal_error(err: ProviderError) -> ApplicationError:
    """A provider's error as the journey knows it: the error type its history records, and
    whether and when Temporal retries the activity."""
    if isinstance(err, ProviderUnavailable):
        return ApplicationError(
            err.detail, type=PROVIDER_UNAVAILABLE, next_retry_delay=err.retry_after
        )
    kind = DELIVERY_UNCERTAIN if isinstance(err, DeliveryUncertain) else PROVIDER_REJECTED
    return ApplicationError(err.detail, type=kind, non_retryable=True)
