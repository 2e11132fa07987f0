"""A lead's own choices about one product's email, as the preference page reads and writes
them: which mail types are on, unsubscribing from everything, and coming back.

Two records carry them. Suppressions stop a send at once (the send gate checks them); the
page's own are scoped to the product or a mail type and say `unsubscribe link`, and only
those are lifted when the lead turns mail back on: a bounce, a spam report, an erasure or
an unsubscribe at the provider are not the page's to undo. Consent is the legal basis,
kept as one history that is only appended to: unsubscribing from every email of the
product sets `withdrawn_at` (on the product's own records, or on a record added for the
product when the consent was for every product), and coming back adds a new consent
record with the page's wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from nurture.sending import gate as send_gate
from nurture.store.models import Consent, Lead, Suppression, utcnow

# The lead's choices; sales mail goes to our own team and is not the lead's to choose.
MailChoice = Literal["newsletter", "step", "trigger"]
MAIL_TYPES: tuple[MailChoice, ...] = get_args(MailChoice)
LINK_REASON = "unsubscribe link"
PAGE_SOURCE = "preference page"


@dataclass(frozen=True)
class Preferences:
    """What the page shows: the mail types on; `unsubscribed` when every email of the
    product is off by the lead's choice; `blocked` when something the page cannot undo
    stops all of it (why, for the page to say)."""

    receiving: frozenset[str]
    unsubscribed: bool
    blocked: str | None


@dataclass(frozen=True)
class Change:
    """What a save did: mail types turned on and off, and whether the lead came back to a
    product it had left entirely (a new consent record)."""

    started: tuple[str, ...]
    stopped: tuple[str, ...]
    resubscribed: bool
    after: Preferences  # read in the transaction that made the change


def read_preferences(session: Session, lead: Lead, product: str) -> Preferences:
    found = _suppressions(session, lead, product)
    blocked = next((s.reason for s in found if s.scope == "global"), None)
    if blocked is None:
        blocked = next((s.reason for s in found if s.scope == "product" and not _ours(s)), None)
    unsubscribed = any(s.scope == "product" for s in found) or not send_gate.has_consent(
        session, lead.id, product
    )
    off = {s.mail_type for s in found if s.scope == "mail_type"}
    receiving = frozenset() if blocked or unsubscribed else frozenset(MAIL_TYPES) - off
    return Preferences(receiving, unsubscribed and blocked is None, blocked)


def unsubscribe_all(
    session: Session, lead: Lead, product: str, *, reason: str = LINK_REASON
) -> None:
    """Every email of the product stops: suppressed at once, consent withdrawn. `reason`:
    who said so (the page lifts only its own suppressions on a resubscribe)."""
    send_gate.suppress(
        session,
        email=lead.email,
        lead_id=lead.id,
        scope="product",
        product=product,
        reason=reason,
    )
    withdraw_consent(session, lead.id, product, utcnow())


def stop_mail_types(
    session: Session,
    lead: Lead,
    product: str,
    mail_types: list[str],
    *,
    reason: str = LINK_REASON,
) -> None:
    for mail_type in mail_types:
        send_gate.suppress(
            session,
            email=lead.email,
            lead_id=lead.id,
            scope="mail_type",
            product=product,
            mail_type=mail_type,
            reason=reason,
        )


def choose(session: Session, lead: Lead, product: str, receive: set[str], wording: str) -> Change:
    """Make `receive` the mail types on (nothing on: unsubscribe from the product). Turning
    anything on after an unsubscribe lifts the page's suppressions and records the lead's
    new consent in `wording` (what the page said next to the button)."""
    before = read_preferences(session, lead, product)
    if before.blocked:
        return Change((), (), False, before)
    if not receive:
        if not before.unsubscribed:
            unsubscribe_all(session, lead, product)
    else:
        if before.unsubscribed:
            _lift(session, lead, product, scopes=("product",))
            if not send_gate.has_consent(session, lead.id, product):
                session.add(
                    Consent(
                        lead_id=lead.id,
                        basis="opt_in_form",
                        product=product,
                        wording=wording,
                        source=PAGE_SOURCE,
                        obtained_at=utcnow(),
                    )
                )
        _lift(session, lead, product, scopes=("mail_type",), mail_types=sorted(receive))
        stop_mail_types(session, lead, product, [t for t in MAIL_TYPES if t not in receive])
    session.flush()
    after = read_preferences(session, lead, product)
    return Change(
        started=tuple(t for t in MAIL_TYPES if t in after.receiving - before.receiving),
        stopped=tuple(t for t in MAIL_TYPES if t in before.receiving - after.receiving),
        resubscribed=before.unsubscribed and not after.unsubscribed,
        after=after,
    )


def stop(session: Session, lead: Lead, product: str, mail_types: list[str] | None) -> Change:
    """The earlier form's `stop` list: these mail types off (None: every email of the
    product), and the preferences that result."""
    if mail_types is None:
        unsubscribe_all(session, lead, product)
    else:
        stop_mail_types(session, lead, product, mail_types)
    session.flush()
    stopped = tuple(mail_types or MAIL_TYPES)
    return Change((), stopped, False, read_preferences(session, lead, product))


def withdraw_consent(session: Session, lead_id: str, product: str, at: datetime) -> None:
    """Set `withdrawn_at` on the product's consent records; a consent for every product is
    withdrawn for this product only, by a record of its own (basis and wording copied,
    withdrawn at once), so the other products keep theirs and the history keeps the row."""
    for record in session.scalars(
        select(Consent).where(
            Consent.lead_id == lead_id,
            Consent.product == product,
            Consent.channel == "email",  # LINE's consent is the follow: LINE withdraws it
            Consent.withdrawn_at.is_(None),
        )
    ):
        record.withdrawn_at = at
    session.flush()
    if not send_gate.has_consent(session, lead_id, product):
        return
    every = session.scalars(
        select(Consent)
        .where(
            Consent.lead_id == lead_id,
            Consent.product == "",
            Consent.channel == "email",
            Consent.withdrawn_at.is_(None),
        )
        .order_by(Consent.recorded_at.desc())
    ).first()
    if every is not None:
        session.add(
            Consent(
                lead_id=lead_id,
                basis=every.basis,
                product=product,
                wording=every.wording,
                source=every.source,
                obtained_at=every.obtained_at,
                recorded_at=at,
                withdrawn_at=at,
            )
        )
        session.flush()


def _ours(suppression: Suppression) -> bool:
    return suppression.reason == LINK_REASON


def _suppressions(session: Session, lead: Lead, product: str) -> list[Suppression]:
    """Every suppression that covers some of the product's email for this lead."""
    return list(
        session.scalars(
            select(Suppression).where(
                send_gate.suppressions_of(lead),
                or_(Suppression.scope == "global", Suppression.product == product),
            )
        )
    )


def _lift(
    session: Session,
    lead: Lead,
    product: str,
    *,
    scopes: tuple[str, ...],
    mail_types: list[str] | None = None,
) -> None:
    """Delete the page's own suppressions of these scopes (and mail types)."""
    statement = delete(Suppression).where(
        send_gate.suppressions_of(lead),
        Suppression.product == product,
        Suppression.scope.in_(scopes),
        Suppression.reason == LINK_REASON,
    )
    if mail_types is not None:
        statement = statement.where(Suppression.mail_type.in_(mail_types))
    session.execute(statement)
