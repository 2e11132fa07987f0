"""The checks every email passes at send time: suppression, consent, frequency cap, one claim.

They run in one transaction holding the lead's row lock (PostgreSQL `FOR UPDATE`; SQLite's
write lock, taken at BEGIN), so two journeys of the same lead cannot both take the last
slot of the weekly cap, and two attempts of the same send cannot both deliver it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from nurture.channels.line import links
from nurture.store.engine import LeadNotFound, Store, lock_lead, upsert_insert
from nurture.store.models import Consent, Lead, Send, Suppression, utcnow

CAP_WINDOW = timedelta(days=7)
# Mail the frequency cap counts and limits; sales mail is a person writing, not nurture.
CAPPED_MAIL_TYPES = frozenset({"step", "newsletter", "trigger"})
# A send in any of these states took a slot of the cap; `uncertain` may have gone out.
COUNTED_STATUSES = ("sending", "sent", "delivered", "opened", "clicked", "bounced", "uncertain")
FINAL_STATUSES = frozenset(
    {"sent", "delivered", "opened", "clicked", "bounced", "suppressed", "failed", "uncertain"}
)
Scope = Literal["global", "product", "mail_type"]


@dataclass(frozen=True)
class Decision:
    """`claimed`: deliver now. `done`: already sent or suppressed. `busy`: another attempt is
    delivering. `uncertain`: an earlier attempt claimed it and never finished, so it may have
    gone out (never delivered again). `suppressed` / `deferred`: recorded on the send row
    with `detail`."""

    outcome: Literal["claimed", "done", "busy", "uncertain", "suppressed", "deferred"]
    detail: str | None = None
    until: datetime | None = None
    unreachable: bool = False  # suppressed because the channel cannot reach the lead (LINE)


def email_hash(email: str) -> str:
    """Suppressions are kept by this hash, so they outlive the erasure of the address."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def suppress(
    session: Session,
    *,
    email: str,
    lead_id: str | None,
    scope: Scope,
    reason: str,
    product: str = "",
    mail_type: str = "",
) -> Suppression:
    """Record a suppression once (global; per product; per product × mail type)."""
    if scope == "global":
        product = mail_type = ""
    elif not product or (scope == "mail_type") != bool(mail_type):
        raise ValueError(
            f"scope {scope!r} needs a product"
            + (" and a mail type" if scope == "mail_type" else "")
        )
    key = email_hash(email)
    # ON CONFLICT DO NOTHING: two processes suppressing the same address at once both succeed.
    session.execute(
        upsert_insert(session, Suppression)
        .values(
            email_hash=key,
            lead_id=lead_id,
            scope=scope,
            product=product,
            mail_type=mail_type,
            reason=reason,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["email_hash", "scope", "product", "mail_type"])
    )
    return session.scalars(
        select(Suppression).where(
            Suppression.email_hash == key,
            Suppression.scope == scope,
            Suppression.product == product,
            Suppression.mail_type == mail_type,
        )
    ).one()


def suppress_lead(
    store: Store,
    lead_id: str,
    *,
    scope: Scope,
    product: str,
    mail_types: list[str],
    reason: str,
    unless_consented_since: datetime | None = None,
) -> bool:
    """Suppress a stored lead's address (an unsubscribe, a bounce) for each mail type, or
    for all its mail in `scope` when `mail_types` is empty. Nothing for a lead that was
    never stored: there is no address to keep from.

    With `unless_consented_since`, nothing either when the lead said yes to the product
    again after that moment (an unsubscribe recorded late must not undo a newer "welcome
    back"). The check and the write are one transaction holding the lead's lock, which the
    preference page's writes take too: checked apart, a resubscribe landing between them
    was undone. Returns whether the suppression was recorded."""
    with store.session() as session:
        try:
            lead = lock_lead(session, lead_id)
        except LeadNotFound:
            return False
        if unless_consented_since is not None and _consented_since(
            session, lead_id, product, unless_consented_since
        ):
            return False
        for mail_type in mail_types or [""]:
            suppress(
                session,
                email=lead.email,
                lead_id=lead.id,
                scope=scope,
                product=product,
                mail_type=mail_type,
                reason=reason,
            )
        return True


def suppressions_of(lead: Lead) -> ColumnElement[bool]:
    """The lead's suppressions: by its address's hash (they outlive an erasure) or its id."""
    return or_(Suppression.email_hash == email_hash(lead.email), Suppression.lead_id == lead.id)


def find_suppression(
    session: Session, lead: Lead, product: str, mail_type: str | None
) -> Suppression | None:
    """The oldest suppression covering this mail (mail_type None: all of the product's mail)."""
    scopes = [
        Suppression.scope == "global",
        (Suppression.scope == "product") & (Suppression.product == product),
    ]
    if mail_type is not None:
        scopes.append(
            (Suppression.scope == "mail_type")
            & (Suppression.product == product)
            & (Suppression.mail_type == mail_type)
        )
    return session.scalars(
        select(Suppression)
        .where(suppressions_of(lead), or_(*scopes))
        .order_by(Suppression.created_at)
    ).first()


def suppression_reason(
    session: Session, lead: Lead, product: str, mail_type: str | None
) -> str | None:
    """Why this lead must not get this mail, or None."""
    found = find_suppression(session, lead, product, mail_type)
    if found is None:
        return None
    where = {
        "global": "all email",
        "product": f"{product} email",
        "mail_type": f"{product} {mail_type}",
    }
    return f"suppressed ({where[found.scope]}): {found.reason}"


def has_consent(session: Session, lead_id: str, product: str, channel: str = "email") -> bool:
    """Whether the lead's latest word on `channel` messages from `product` is yes.

    The consent history is only appended to: each record says yes when recorded and, once
    withdrawn, no at `withdrawn_at`. Records for every product ('') and for this one both
    speak; the latest statement wins, so withdrawing one product's email (a record of its
    own, nurture/leads/preferences.py) leaves the other products of an 'every product' consent
    alone, and a later consent (a resubscribe) says yes again.
    """
    statements = [
        statement
        for record in session.scalars(
            select(Consent).where(
                Consent.lead_id == lead_id,
                Consent.product.in_(("", product)),
                Consent.channel == channel,
            )
        )
        for statement in _statements(record)
    ]
    return bool(statements) and max(statements)[2] == YES


def _consented_since(session: Session, lead_id: str, product: str, since: datetime) -> bool:
    """Whether the lead said yes to `product`'s email after `since` and still says it: an
    unsubscribe asked for before that is out of date."""
    later = session.scalar(
        select(Consent.id).where(
            Consent.lead_id == lead_id,
            Consent.product.in_(("", product)),
            Consent.channel == "email",
            Consent.recorded_at > since,
        )
    )
    return later is not None and has_consent(session, lead_id, product)


YES, NO = 0, 1
NOT_ON_LINE = (
    "not on LINE: the lead has not linked the product's LINE account, or unfollowed or blocked it"
)


def _statements(record: Consent) -> list[tuple[datetime, int, int]]:
    """(when, record, YES or NO): at equal times the later record, then a withdrawal, wins."""
    said = [(record.recorded_at, record.id, YES)]
    if record.withdrawn_at is not None:
        said.append((record.withdrawn_at, record.id, NO))
    return said


def decide(
    session: Session,
    send: Send,
    *,
    journey_now: datetime,
    wall_now: datetime,
    lease: timedelta,
    weekly_cap: int,
    defer: bool,
    lead: Lead | None = None,
    redeliver_stale: bool = False,
    harmless_for: timedelta | None = None,
) -> Decision:
    """Decide this send under the lead's row lock (pass `lead` if the caller locked it);
    mutate the row to record the decision. `redeliver_stale`: the provider makes a second
    delivery of the same send harmless (the outbox rewrites one file), for `harmless_for`
    after the first try when that is limited (LINE's retry key: 24 hours)."""
    if lead is None:
        lead = lock_lead(session, send.lead_id)
        session.refresh(send)
    settled = _settled(send, lead, wall_now, lease, redeliver_stale)
    if settled is not None:
        return settled
    expired = _retry_key_expired(send, wall_now, harmless_for)
    if expired is not None:
        return expired
    refusal = {"line": _line_refusal, "webhook": _webhook_refusal}.get(send.channel, _email_refusal)
    refused = refusal(session, send, lead)
    if refused is not None:
        return refused
    if weekly_cap and send.channel != "webhook" and send.mail_type in CAPPED_MAIL_TYPES:
        until = _cap_frees_at(session, send, journey_now, weekly_cap)
        if until is not None:
            detail = f"frequency cap: {weekly_cap} emails in 7 days reached"
            if not defer:
                return _suppress(send, detail)
            send.status, send.detail, send.deferred_until = "deferred", detail, until
            return Decision("deferred", detail, until)
    return _claimed(send, journey_now, wall_now)


def _email_refusal(session: Session, send: Send, lead: Lead) -> Decision | None:
    """Suppressions (global, the product's, the mail type's) and the email consent."""
    reason = suppression_reason(session, lead, send.product, send.mail_type)
    if reason:
        return _suppress(send, reason)
    if not has_consent(session, lead.id, send.product):
        return _suppress(
            send,
            "no consent basis on record for this lead and product: record how the lead "
            "agreed to email (opt-in form wording or business-card exchange) before sending",
        )
    return None


def _webhook_refusal(session: Session, send: Send, lead: Lead) -> Decision | None:
    """A webhook step goes to the team's own system, not to the lead's inbox: no email
    consent is asked, but a lead who stopped the product's messages (or this mail type) is
    not handed on either."""
    reason = suppression_reason(session, lead, send.product, send.mail_type)
    return _suppress(send, reason) if reason else None


def _line_refusal(session: Session, send: Send, lead: Lead) -> Decision | None:
    """LINE reaches a lead linked to the product's account who has not unfollowed or
    blocked it (the follow is the consent). The lead's mail-type choices for the product
    apply to every channel; an email unsubscribe or bounce does not stop LINE."""
    if links.linked_user(session, lead.id, send.product) is None or not has_consent(
        session, lead.id, send.product, channel="line"
    ):
        send.status, send.detail = "suppressed", NOT_ON_LINE
        return Decision("suppressed", NOT_ON_LINE, unreachable=True)
    found = session.scalars(
        select(Suppression).where(
            suppressions_of(lead),
            Suppression.scope == "mail_type",
            Suppression.product == send.product,
            Suppression.mail_type == send.mail_type,
        )
    ).first()
    if found is not None:
        return _suppress(send, f"suppressed ({send.product} {send.mail_type}): {found.reason}")
    return None


def decide_sales_mail(
    session: Session,
    send: Send,
    *,
    journey_now: datetime,
    wall_now: datetime,
    lease: timedelta,
    lead: Lead,
    redeliver_stale: bool = False,
) -> Decision:
    """Decide an email to our own sales team about `lead` (caller holds the lead's lock).

    The lead is not the recipient, so its consent, suppressions and the frequency cap do
    not apply; only an erased lead's data may no longer travel, and still only once per
    send row.
    """
    return _settled(send, lead, wall_now, lease, redeliver_stale) or _claimed(
        send, journey_now, wall_now
    )


def _settled(
    send: Send, lead: Lead, wall_now: datetime, lease: timedelta, redeliver_stale: bool
) -> Decision | None:
    """What every send decides first: already done, being delivered, claimed by an attempt
    that never finished, or the lead erased.

    At most once: a claim older than its lease belongs to an attempt that died (worker
    killed) or lost its way after handing the message over (the store failed to mark it
    sent). Either may have delivered, so the send becomes `uncertain` and is never
    delivered again; the provider's own events (SendGrid's webhook) settle it later.
    """
    if send.status in FINAL_STATUSES:
        return Decision("done")
    if send.status == "sending" and send.claimed_at and send.claimed_at > wall_now - lease:
        return Decision("busy")
    if send.status == "sending" and not redeliver_stale:
        claimed = f"{send.claimed_at:%Y-%m-%d %H:%M:%S} UTC" if send.claimed_at else "?"
        detail = (
            f"an earlier attempt claimed this send at {claimed} and never finished (its "
            "worker stopped, or the store failed after the provider took it): it may have "
            "gone out, so it is not sent again"
        )
        send.status, send.detail = "uncertain", detail
        return Decision("uncertain", detail)
    if lead.erased_at is not None:
        return _suppress(send, "the lead's personal data was erased")
    return None


def _retry_key_expired(
    send: Send, wall_now: datetime, harmless_for: timedelta | None
) -> Decision | None:
    """A send tried before, longer ago than its provider would recognise the repeat: the
    earlier try may have gone out, so it becomes `uncertain`, never delivered again."""
    first = send.first_tried_at
    if harmless_for is None or first is None or wall_now - first <= harmless_for:
        return None
    detail = (
        f"first tried at {first:%Y-%m-%d %H:%M} UTC, longer ago than the provider recognises "
        "a repeat: that try may have gone out, so it is not sent again"
    )
    send.status, send.detail = "uncertain", detail
    return Decision("uncertain", detail)


def _claimed(send: Send, journey_now: datetime, wall_now: datetime) -> Decision:
    send.status, send.claimed_at, send.journey_time = "sending", wall_now, journey_now
    send.first_tried_at = send.first_tried_at or wall_now
    send.detail = send.deferred_until = None
    return Decision("claimed")


def _cap_frees_at(session: Session, send: Send, now: datetime, weekly_cap: int) -> datetime | None:
    """None while the lead is under the cap; else when enough counted sends leave the window."""
    taken = list(
        session.scalars(
            select(Send.journey_time)
            .where(
                Send.lead_id == send.lead_id,
                Send.id != send.id,
                Send.channel == send.channel,  # each channel has its own cap
                Send.mail_type.in_(CAPPED_MAIL_TYPES),
                Send.status.in_(COUNTED_STATUSES),
                Send.journey_time > now - CAP_WINDOW,
            )
            .order_by(Send.journey_time)
        )
    )
    if len(taken) < weekly_cap:
        return None
    return taken[len(taken) - weekly_cap] + CAP_WINDOW


def _suppress(send: Send, detail: str) -> Decision:
    send.status, send.detail = "suppressed", detail
    return Decision("suppressed", detail)
