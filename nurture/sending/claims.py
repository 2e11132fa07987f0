"""A send's row from its first attempt to its outcome: what makes every email at most once.

Every email of a journey (a step, a trigger, a note to our own sales team) is one row in
`sends` per (journey, send key), and every attempt to send it takes the same path:

1. `claim`: under the lead's row lock, find or create the row and let the gate decide it
   (nurture/sending/gate.py): deliver now (`claimed`), already done, another attempt is
   delivering (`busy`), or suppressed, deferred or uncertain, recorded on the row.
2. The caller builds the message; if it cannot, `fail` the send (no retry can fix it), or
   `release` the claim when the attempt stops for any other reason before delivering.
3. `deliver`: hand the message to the provider and record how it went: `sent` (retried
   through store blips), back to `queued` (nothing went out: a retry may deliver),
   `failed` (the provider refused it) or `uncertain` (the provider may have it: never
   delivered again).

The send activities (activities/email.py, activities/sales_mail.py) build the message and
say what each outcome means to Temporal; nothing here knows of Temporal.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import case, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from nurture.broadcasts.contract import SEND_KEY_PREFIX as BROADCAST_KEY
from nurture.config import Settings
from nurture.mail.providers import (
    DeliveryUncertain,
    EmailProvider,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    SendTags,
)
from nurture.sending import gate
from nurture.store.engine import Store, lock_lead
from nurture.store.models import Lead, Send, utcnow

# Tries and waits (seconds) for marking a send `sent` after the provider took it: a store
# blip must not leave an accepted email looking undelivered.
MARK_SENT_WAITS = (0.1, 0.5, 1.0, 2.0, 4.0)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewSend:
    """The send an attempt is for, as its row is created on the first attempt; later
    attempts find the row by (journey, send key). `journey_time` is the journey's clock at
    this attempt: the frequency cap counts by it."""

    journey_id: str
    send_key: str
    lead_id: str
    product: str
    mail_type: str
    template: str
    subject: str
    provider: str
    journey_time: datetime
    variant: int = 0
    channel: str = "email"


@dataclass(frozen=True)
class Attempt:
    """What the gate decided for one attempt, and the send's row as it stands after it:
    `status` and `detail` say what an earlier attempt decided when the decision is `done`.
    `lead` (detached) is who the email goes to or, for sales mail, is about."""

    decision: gate.Decision
    send_id: str
    status: str
    detail: str | None
    provider_message_id: str | None
    lead: Lead


def send_id_for(journey_id: str, send_key: str) -> str:
    """Derived from the journey and key, so the outbox file and provider id are stable on retry."""
    digest = hashlib.sha256(f"{journey_id}\0{send_key}".encode()).hexdigest()
    return "snd_" + digest[:24]


def claim(
    store: Store,
    send: NewSend,
    settings: Settings,
    *,
    redeliver_stale: bool,
    to_sales: bool = False,
    harmless_for: timedelta | None = None,
) -> Attempt:
    """Decide this attempt in one transaction under the lead's row lock: find or create the
    send's row, then let the gate decide it. `to_sales`: an email to our own sales team
    about the lead skips the lead's consent, suppressions and cap (the lead is not the
    recipient); only the sales-mail activity says so, never a mail type a journey chose.
    Raises LeadNotFound for a lead not in the store.

    `redeliver_stale`: the provider makes a second delivery of the same send harmless, so a
    claim left by an attempt that never finished may be delivered again.
    """
    lease = timedelta(seconds=settings.send_claim_lease_seconds)
    with store.session() as session:
        lead = lock_lead(session, send.lead_id)
        row = _row(session, send)
        if to_sales:
            decision = gate.decide_sales_mail(
                session,
                row,
                journey_now=send.journey_time,
                wall_now=utcnow(),
                lease=lease,
                lead=lead,
                redeliver_stale=redeliver_stale,
            )
        else:
            decision = gate.decide(
                session,
                row,
                journey_now=send.journey_time,
                wall_now=utcnow(),
                lease=lease,
                weekly_cap=settings.frequency_cap_per_week,
                defer=send.mail_type != "trigger",  # a trigger is timely or pointless
                lead=lead,
                redeliver_stale=redeliver_stale,
                harmless_for=harmless_for,
            )
        session.expunge(lead)
        return Attempt(decision, row.id, row.status, row.detail, row.provider_message_id, lead)


def _row(session: Session, send: NewSend) -> Send:
    """The send's row, created on the first attempt. The caller holds the lead's lock, so
    two attempts cannot both create it."""
    found = session.scalars(
        select(Send).where(Send.journey_id == send.journey_id, Send.send_key == send.send_key)
    ).first()
    if found is None and send.send_key.startswith(BROADCAST_KEY):
        # A broadcast reaches a lead once, through whichever journey: its running one or a
        # short-lived one (nurture/broadcasts). The other's row answers for it.
        found = session.scalars(
            select(Send).where(Send.lead_id == send.lead_id, Send.send_key == send.send_key)
        ).first()
    if found is not None:
        return found
    row = Send(
        id=send_id_for(send.journey_id, send.send_key),
        journey_id=send.journey_id,
        send_key=send.send_key,
        lead_id=send.lead_id,
        product=send.product,
        channel=send.channel,
        mail_type=send.mail_type,
        template=send.template,
        subject=send.subject,
        variant=send.variant,
        provider=send.provider,
        journey_time=send.journey_time,
    )
    session.add(row)
    session.flush()
    return row


def deliver(store: Store, provider: EmailProvider, message: EmailMessage, tags: SendTags) -> str:
    """Deliver a send this attempt has claimed, then mark it sent; returns the provider's
    message id. On failure the claim goes back (queued, for a retry) or the row records
    why no retry may follow, and the provider's error is raised. A message the provider
    cannot encode (ValueError, TypeError, LookupError: an address's UnicodeEncodeError...)
    is refused for good: a retry would encode it no better.

    Raises DeliveryUncertain, the row keeping its claim, when the message went out but
    the store stays away: a later attempt finds the claim stale and leaves it uncertain.
    """
    return hand_over(store, tags, str(message["Subject"]), lambda: provider.deliver(message, tags))


def hand_over(store: Store, tags: SendTags, subject: str, deliver: Callable[[], str]) -> str:
    """`deliver` a claimed send through any channel (an email provider, a LINE push), then
    mark it sent with `subject` (what the send row shows); returns the channel's message id.
    The outcomes are `deliver`'s as the docstring above says."""
    try:
        message_id = deliver()
    except ProviderError as err:
        _record_failure(store, tags.send_id, err)
        raise
    except (ValueError, TypeError, LookupError) as err:
        refused = ProviderRejected(f"the provider could not take this message: {err}")
        _record_failure(store, tags.send_id, refused)
        raise refused from None
    except BaseException:
        release(store, tags.send_id)  # nothing went out: the retry may try at once
        raise
    mark_sent(store, tags, subject, message_id)
    return message_id


def _record_failure(store: Store, send_id: str, err: ProviderError) -> None:
    """What the provider's error means for the row: queued again, failed or uncertain."""
    if isinstance(err, ProviderUnavailable):
        release(store, send_id)
    elif isinstance(err, DeliveryUncertain):
        _end_claim(store, send_id, status="uncertain", detail=err.detail)
    else:
        fail(store, send_id, err.detail)


def release(store: Store, send_id: str) -> None:
    """Give the claim back (queued): nothing went out, so a retry may deliver at once."""
    _end_claim(store, send_id, status="queued")


def fail(store: Store, send_id: str, detail: str) -> None:
    """The send can never go out (its message cannot be built, the provider refused it):
    recorded `failed` with why, so no retry tries again."""
    _end_claim(store, send_id, status="failed", detail=detail)


def _end_claim(store: Store, send_id: str, **values: str) -> None:
    """End this attempt's claim, if the row is still claimed, with the outcome in `values`."""
    with store.session() as session:
        session.execute(
            update(Send)
            .where(Send.id == send_id, Send.status == "sending")
            .values(claimed_at=None, **values)
        )


def mark_sent(store: Store, tags: SendTags, subject: str, message_id: str) -> None:
    """Record that the provider took the message, retried through store blips: the email
    went out, so failing here must not make it look undelivered. If the store stays away,
    the row keeps its claim and a later attempt finds it `uncertain`, never resent."""
    for wait in (*MARK_SENT_WAITS, None):
        try:
            with store.session() as session:
                erased = select(Lead.erased_at).where(Lead.id == tags.lead_id).scalar_subquery()
                session.execute(
                    update(Send)
                    .where(Send.id == tags.send_id, Send.status.in_(("sending", "uncertain")))
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
                log.error(
                    "send %s was delivered but could not be marked sent: %s",
                    tags.send_id,
                    type(err).__name__,
                )
                raise DeliveryUncertain(
                    f"send {tags.send_id} went out but the store could not record it; "
                    "it will not be sent again"
                ) from None
            time.sleep(wait)
