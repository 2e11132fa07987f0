"""Sending one email of a journey, at most once per (journey, send key)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Literal

import jinja2
from pydantic import BaseModel
from sqlalchemy import case, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from nurture.config import Settings
from nurture.mail.compose import Recipient, compose_email, unsubscribe_url
from nurture.mail.providers import DELIVERY_UNCERTAIN, Delivery, EmailProvider, rejected
from nurture.mail.render import TemplateRenderer
from nurture.scenario.model import Brand, MailType
from nurture.scenario.pins import pinned_sources
from nurture.sending import gate as send_gate
from nurture.store.engine import Store
from nurture.store.models import Lead, Send, utcnow

# Tries and waits (seconds) for marking a send `sent` after the provider took it: a store
# blip must not leave an accepted email looking undelivered.
MARK_SENT_WAITS = (0.1, 0.5, 1.0, 2.0, 4.0)


class SendEmailInput(BaseModel):
    """Carries the pinned scenario's brand, so the email matches the version the journey runs."""

    brand: Brand
    scenario_version: str
    journey_id: str
    lead_id: str
    product: str
    send_key: str
    mail_type: MailType
    template: str
    subject: str
    variant: int
    journey_time: datetime
    journey: dict[str, Any]


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
        self._renderers: dict[tuple[str, str], TemplateRenderer] = {}
        self._lock = threading.Lock()

    @activity.defn(name="send_email")
    def send_email(self, input: SendEmailInput) -> SendEmailResult:
        """Decide (suppression, consent, frequency cap), claim, deliver, mark sent.

        A retry resumes and never resends. Only the attempt holding the claim delivers;
        another attempt running at the same time (a timed-out attempt still alive beside
        its retry) backs off and is retried.
        """
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
            _delivery(input, send_id),
        )
        activity.logger.info("sent %s (%s) for %s", input.send_key, send_id, input.journey_id)
        return SendEmailResult(send_id=send_id, status="sent", provider_message_id=message_id)

    def _gate(self, input: SendEmailInput) -> SendEmailResult | tuple[str, Lead]:
        """One transaction under the lead's row lock: find or create the send row, then
        decide it. Returns the final result, or (send id, lead) when this attempt delivers."""
        with self.store.session() as session:
            lead = session.scalars(
                select(Lead).where(Lead.id == input.lead_id).with_for_update()
            ).first()
            if lead is None:
                raise ApplicationError(
                    f"lead {input.lead_id} is not in the store; upsert it before starting "
                    "its journey",
                    type="LeadNotFound",
                    non_retryable=True,
                )
            send = session.scalars(
                select(Send).where(
                    Send.journey_id == input.journey_id, Send.send_key == input.send_key
                )
            ).first() or self._new_row(session, input)
            decision = send_gate.claim(
                session,
                send,
                journey_now=input.journey_time,
                wall_now=utcnow(),
                lease=claim_lease(self.settings),
                weekly_cap=self.settings.frequency_cap_per_week,
                defer=input.mail_type != "trigger",
                lead=lead,
                redeliver_stale=self.provider.redelivery_is_harmless,
            )
            if decision.outcome == "busy":
                raise ApplicationError(
                    f"send {send.id} is being delivered by another attempt; retrying later",
                    type="SendInProgress",
                )
            if decision.outcome == "done":
                return self._result_of(send)
            if decision.outcome != "claimed":
                return SendEmailResult(
                    send_id=send.id, status=decision.outcome, detail=decision.detail,
                    retry_at=decision.until,
                )  # fmt: skip
            session.expunge(lead)
            return send.id, lead

    def _new_row(self, session: Session, input: SendEmailInput) -> Send:
        send = Send(
            id=_send_id(input),
            journey_id=input.journey_id,
            send_key=input.send_key,
            lead_id=input.lead_id,
            product=input.product,
            mail_type=input.mail_type,
            template=input.template,
            subject=input.subject,
            variant=input.variant,
            provider=self.provider.name,
            journey_time=input.journey_time,
        )
        session.add(send)
        session.flush()
        return send

    def _message(self, input: SendEmailInput, lead: Lead, send_id: str) -> EmailMessage:
        """Render the pinned version's template for this lead; template errors are final."""
        link = unsubscribe_url(
            self.settings.public_base_url, self.settings.secret_key, input.lead_id, input.product
        )
        try:
            renderer = self._renderer(input.product, input.scenario_version)
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
            )
        except jinja2.TemplateError as err:
            raise ApplicationError(
                f"template {input.template!r} of {input.product} version "
                f"{input.scenario_version} cannot render: {err}",
                type="TemplateError",
                non_retryable=True,
            ) from None
        return email.message

    def _renderer(self, product: str, version: str) -> TemplateRenderer:
        """One renderer per pinned version, so each template compiles once per worker."""
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

    @staticmethod
    def _result_of(row: Send) -> SendEmailResult:
        """What an earlier attempt decided, for a retry that finds the work done."""
        if row.status == "failed":
            raise ApplicationError(row.detail or "failed", type="SendFailed", non_retryable=True)
        if row.status == "uncertain":
            raise ApplicationError(
                row.detail or "uncertain", type=DELIVERY_UNCERTAIN, non_retryable=True
            )
        status = "suppressed" if row.status == "suppressed" else "sent"
        return SendEmailResult(
            send_id=row.id, status=status, provider_message_id=row.provider_message_id,
            detail=row.detail,
        )  # fmt: skip


def deliver_claimed(
    store: Store, provider: EmailProvider, build: Callable[[], EmailMessage], delivery: Delivery
) -> str:
    """Build and deliver a send this attempt has claimed, then mark it sent; returns the
    provider's message id. On failure the claim goes back (queued, for a retry) or records
    why no retry may follow. A message that cannot be built (a template error, a header a
    lead's data made invalid) fails the send for good: no retry can fix it."""
    try:
        message = _built(build)
        message_id = provider.deliver(message, delivery)
    except (ValueError, TypeError, LookupError) as err:  # UnicodeEncodeError of an address...
        failure = rejected(f"the provider could not take this message: {err}")
        release_claim(store, delivery.send_id, "failed", failure.message)
        raise failure from None
    except ApplicationError as err:
        release_claim(store, delivery.send_id, final_status(err), err.message)
        raise
    except BaseException:
        release_claim(store, delivery.send_id)  # nothing went out: the retry may try at once
        raise
    mark_sent(store, delivery, str(message["Subject"]), message_id)
    return message_id


def _built(build: Callable[[], EmailMessage]) -> EmailMessage:
    """The message, or a non-retryable error saying why it cannot exist."""
    try:
        return build()
    except ApplicationError:
        raise
    except Exception as err:  # ValueError from a CR/LF in a header, an encoding error, ...
        raise ApplicationError(
            f"the message cannot be built: {type(err).__name__}: {err}",
            type="MessageInvalid",
            non_retryable=True,
        ) from None


def mark_sent(store: Store, delivery: Delivery, subject: str, message_id: str) -> None:
    """Record that the provider took the message, retried through store blips: the email
    went out, so failing here must not make it look undelivered. If the store stays away,
    the row keeps its claim and a later attempt finds it `uncertain`, never resent."""
    for wait in (*MARK_SENT_WAITS, None):
        try:
            with store.session() as session:
                erased = select(Lead.erased_at).where(Lead.id == delivery.lead_id).scalar_subquery()
                session.execute(
                    update(Send)
                    .where(Send.id == delivery.send_id, Send.status.in_(("sending", "uncertain")))
                    .values(
                        status="sent",
                        # an erasure that ran while the email went out keeps the subject blank
                        subject=case((erased.is_(None), subject), else_=""),
                        provider_message_id=message_id,
                        sent_at=utcnow(),
                    )
                )
            return
        except SQLAlchemyError as err:
            if wait is None:
                activity.logger.error(
                    "send %s was delivered but could not be marked sent: %s",
                    delivery.send_id, type(err).__name__,
                )  # fmt: skip
                raise ApplicationError(
                    f"send {delivery.send_id} went out but the store could not record it; "
                    "it will not be sent again",
                    type=DELIVERY_UNCERTAIN,
                    non_retryable=True,
                ) from None
            time.sleep(wait)


def claim_lease(settings: Settings) -> timedelta:
    """How long a claim protects an attempt that may still be delivering; longer than the
    activity's start-to-close timeout, so a live attempt is never overtaken."""
    return timedelta(seconds=settings.send_claim_lease_seconds)


def release_claim(store: Store, send_id: str, final: str | None = None, detail: str = "") -> None:
    """Give the claim back (queued, for a retry), or record why no retry may follow:
    `failed` (no retry can fix it) or `uncertain` (the provider may have the message)."""
    values = {"status": final, "detail": detail} if final else {"status": "queued"}
    with store.session() as session:
        session.execute(
            update(Send)
            .where(Send.id == send_id, Send.status == "sending")
            .values(claimed_at=None, **values)
        )


def send_id_for(journey_id: str, send_key: str) -> str:
    """Derived from the journey and key, so the outbox file and provider id are stable on retry."""
    digest = hashlib.sha256(f"{journey_id}\0{send_key}".encode()).hexdigest()
    return "snd_" + digest[:24]


def _send_id(input: SendEmailInput) -> str:
    return send_id_for(input.journey_id, input.send_key)


def _delivery(input: SendEmailInput, send_id: str) -> Delivery:
    return Delivery(
        send_id=send_id,
        journey_id=input.journey_id,
        lead_id=input.lead_id,
        product=input.product,
        mail_type=input.mail_type,
        send_key=input.send_key,
        variant=input.variant,
    )


def final_status(err: ApplicationError) -> str | None:
    """None for a retryable error (the claim goes back to `queued`)."""
    if not err.non_retryable:
        return None
    return "uncertain" if err.type == DELIVERY_UNCERTAIN else "failed"
