"""Which LINE user is which lead, per product, and the link tokens that prove it.

LINE's account link: the product's bot issues the LINE user a link token, our page sends
them to LINE's account-link dialog with a nonce, and LINE's `accountLink` webhook event
comes back with that nonce once the user agreed. Our nonce is a link token: the lead and
the product sealed (AES-SIV, a key of its own derived from NURTURE_SECRET_KEY, nothing
readable), with when it expires and a random part; spent once (`used_link_tokens`).

The link is the channel's consent: made by the user's own act in LINE, recorded in
`consents` (channel `line`), withdrawn when they unfollow or block the account.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import quote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nurture.store.models import Consent, Lead, LineLink, UsedLinkToken

LINK_TOKEN_TTL = timedelta(hours=24)
# A code in an email waits for the lead to open it; LINE's account-link nonce does not.
EMAILED_CODE_TTL = timedelta(days=30)
CODE_PREFIX = "LINK "
# A link code in a message a LINE user sends the account: the sealed token's alphabet.
CODE = re.compile(r"LINK ([A-Za-z0-9_-]{40,300})")
_KEY_PURPOSE = b"nurture line link token v1"
_KIND = b"l"
INVALID = "invalid LINE link token: it is damaged or not ours"
USED = "this LINE link token was used already: ask for a new link"
FOLLOW_WORDING = "Followed {account} on LINE and linked the account to receive its messages"


class LinkRefused(ValueError):
    """The token cannot link anyone (expired, spent, damaged): says which."""


@dataclass(frozen=True)
class LinkToken:
    lead_id: str
    product: str
    expires: datetime
    nonce: str


@lru_cache(maxsize=4)
def _cipher(secret: str) -> AESSIV:
    return AESSIV(hmac.new(secret.encode(), _KEY_PURPOSE, hashlib.sha512).digest())


def issue_link_token(
    lead_id: str, product: str, secret: str, now: datetime, ttl: timedelta = LINK_TOKEN_TTL
) -> str:
    """A token (LINE's account-link nonce, or an emailed link code) for this lead and
    product, good for `ttl`."""
    expires = (now + ttl).astimezone(UTC)
    body = f"{lead_id}\0{product}\0{expires:%Y-%m-%dT%H:%M:%S}\0{secrets.token_urlsafe(12)}"
    sealed = _cipher(secret).encrypt(body.encode(), [_KIND])
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def read_link_token(token: str, secret: str, now: datetime) -> LinkToken:
    """The token's lead and product; LinkRefused when it is not ours or has expired."""
    try:
        blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        lead_id, product, expires, nonce = (
            _cipher(secret).decrypt(blob, [_KIND]).decode().split("\0")
        )
        expiry = datetime.strptime(expires, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except (ValueError, UnicodeDecodeError, InvalidTag, binascii.Error):
        raise LinkRefused(INVALID) from None
    if now > expiry:
        raise LinkRefused("this LINE link token has expired: ask for a new link")
    return LinkToken(lead_id, product, expiry, nonce)


def line_link_url(basic_id: str, lead_id: str, product: str, secret: str, now: datetime) -> str:
    """LINE's URL that opens a chat with the account (`oaMessage`), the lead's link code
    typed in: the lead sends it, and the webhook links their LINE user to them."""
    code = issue_link_token(lead_id, product, secret, now, EMAILED_CODE_TTL)
    return f"https://line.me/R/oaMessage/{quote(basic_id)}/?{quote(CODE_PREFIX + code)}"


def code_in(text: str) -> str | None:
    """The link code a LINE message carries, if any."""
    found = CODE.search(text)
    return found.group(1) if found else None


def link(
    session: Session, token: LinkToken, line_user_id: str, account: str, now: datetime
) -> LineLink:
    """Spend the token and link the LINE user to its lead, recording the channel's
    consent. A user linked to another lead of the product moves to this one; a lead
    already on LINE with another user is refused (LinkRefused)."""
    if session.get(Lead, token.lead_id) is None:
        raise LinkRefused("the lead of this LINE link token is no longer on record")
    if session.get(UsedLinkToken, token.nonce) is not None:
        raise LinkRefused(USED)
    current = linked_user(session, token.lead_id, token.product)
    if current is not None and current != line_user_id:
        # A forwarded email must not take a lead's LINE messages to someone else: the
        # lead ends its link first (unfollow, or the preference page), then links again.
        raise LinkRefused(
            "this lead already receives LINE messages on another LINE account; it stops "
            "them there first (unfollow, or the email's preference page)"
        )
    try:
        with session.begin_nested():
            session.add(UsedLinkToken(nonce=token.nonce, used_at=now))
    except IntegrityError:  # spent at the same moment by another request
        raise LinkRefused(USED) from None
    earlier = session.scalars(
        select(LineLink).where(
            LineLink.product == token.product,
            (LineLink.line_user_id == line_user_id) | (LineLink.lead_id == token.lead_id),
        )
    )
    for ended in earlier:  # the user's link to another lead, or the lead's ended link
        _withdraw(session, ended.lead_id, token.product, now)
        session.delete(ended)
    session.flush()
    found = LineLink(
        product=token.product,
        line_user_id=line_user_id,
        lead_id=token.lead_id,
        status="linked",
        linked_at=now,
        changed_at=now,
    )
    session.add(found)
    _consent(session, token.lead_id, token.product, account, now)
    return found


def follow_again(session: Session, product: str, line_user_id: str, now: datetime) -> str | None:
    """A linked user who unfollowed or blocked the account and follows it again: linked
    again, with a new consent. Returns the lead, or None for a user never linked."""
    found = _link_of(session, product, line_user_id)
    if found is None:
        return None
    if found.status != "linked":
        found.status, found.changed_at = "linked", now
        _consent(session, found.lead_id, product, product, now)
    return found.lead_id


def stop(
    session: Session, product: str, line_user_id: str, status: str, now: datetime
) -> str | None:
    """`unfollowed` or `blocked`: no LINE message reaches the lead from now; the channel's
    consent is withdrawn. Returns the lead, or None for a user never linked."""
    found = _link_of(session, product, line_user_id)
    if found is None:
        return None
    found.status, found.changed_at = status, now
    _withdraw(session, found.lead_id, product, now)
    return found.lead_id


def lead_of(session: Session, product: str, line_user_id: str) -> str | None:
    found = _link_of(session, product, line_user_id)
    return found.lead_id if found is not None else None


def linked_user(session: Session, lead_id: str, product: str) -> str | None:
    """The LINE user a product's message to this lead goes to, or None (never linked,
    unfollowed, blocked)."""
    return session.scalar(
        select(LineLink.line_user_id).where(
            LineLink.lead_id == lead_id, LineLink.product == product, LineLink.status == "linked"
        )
    )


def _link_of(session: Session, product: str, line_user_id: str) -> LineLink | None:
    return session.scalars(
        select(LineLink).where(LineLink.product == product, LineLink.line_user_id == line_user_id)
    ).first()


def _withdraw(session: Session, lead_id: str, product: str, now: datetime) -> None:
    session.execute(
        update(Consent)
        .where(
            Consent.lead_id == lead_id,
            Consent.product == product,
            Consent.channel == "line",
            Consent.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now)
    )


def _consent(session: Session, lead_id: str, product: str, account: str, now: datetime) -> None:
    session.add(
        Consent(
            lead_id=lead_id,
            basis="line_follow",
            product=product,
            channel="line",
            wording=FOLLOW_WORDING.format(account=account),
            source="LINE follow and account link",
            obtained_at=now,
            recorded_at=now,
        )
    )
