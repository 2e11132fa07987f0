"""What a send on any channel shares: its input (ids, the pinned version, the journey's
clock), its claim on the send row, and the tags its provider sees."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from nurture.config import Settings
from nurture.mail.providers import SendTags
from nurture.scenario.model import Brand, MailType
from nurture.sending import claims
from nurture.store.engine import LeadNotFound, Store


class ChannelSendInput(BaseModel):
    """One send of a journey, on any channel; `template` names the channel's own template
    in the pinned version (`<template>.html`, `.line.json`, `.webhook.json`)."""

    brand: Brand
    scenario_version: str
    journey_id: str
    lead_id: str
    product: str
    send_key: str
    mail_type: MailType
    template: str
    journey_time: datetime
    journey: dict[str, Any]
    event: dict[str, Any] | None = None  # a trigger's: what fired it (templates' `event`)
    broadcast_id: str | None = None  # a broadcast's: rendered from its frozen templates


def claim_channel_send(
    store: Store,
    settings: Settings,
    input: ChannelSendInput,
    *,
    channel: str,
    subject: str,
    provider: str,
    variant: int = 0,
    redeliver_stale: bool = True,
    harmless_for: timedelta | None = None,
) -> claims.Attempt:
    """Claim the send's row (nurture/sending/claims.py), on any channel. A stale claim is
    delivered again when a second delivery is harmless (`redeliver_stale`: LINE's retry
    key, a webhook's Idempotency-Key, an email provider that dedupes), for `harmless_for`
    when that is limited."""
    new = claims.NewSend(
        journey_id=input.journey_id,
        send_key=input.send_key,
        lead_id=input.lead_id,
        product=input.product,
        mail_type=input.mail_type,
        template=input.template,
        subject=subject,
        variant=variant,
        provider=provider,
        journey_time=input.journey_time,
        channel=channel,
    )
    try:
        return claims.claim(
            store, new, settings, redeliver_stale=redeliver_stale, harmless_for=harmless_for
        )
    except LeadNotFound:
        raise ApplicationError(
            f"lead {input.lead_id} is not in the store; upsert it before starting its journey",
            type="LeadNotFound",
            non_retryable=True,
        ) from None


def tags_of(input: ChannelSendInput, send_id: str, variant: int = 0) -> SendTags:
    """What the send's provider may know of it: opaque ids and our labels."""
    return SendTags(
        send_id=send_id,
        journey_id=input.journey_id,
        lead_id=input.lead_id,
        product=input.product,
        mail_type=input.mail_type,
        send_key=input.send_key,
        variant=variant,
    )
