"""Tokens of Nurture's own open pixel and click links: sealed, so nothing in them is readable.

A click token carries the send and the exact link the email was rendered with; an open
token carries the send. Both are encrypted and authenticated (AES-SIV, a key derived from
NURTURE_SECRET_KEY for this purpose alone), so a forwarded email hands out neither ids nor
the link's query, altering one byte invalidates the token, and the redirect can only ever
lead to a link we rendered (no open redirect). Deterministic: the same send and link give
the same token, with no store lookup to build or read one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

OPEN, CLICK, VISITOR = b"o", b"c", b"v"
# How long the `#nt=` a click carries to the site can identify its visitor: the page's
# tracker uses it at once, and a shorter life leaves less to a copied or forwarded URL.
VISITOR_TTL = timedelta(hours=1)
_KEY_PURPOSE = b"nurture tracking token v1"
INVALID = "invalid tracking link: it is damaged or not ours"


@lru_cache(maxsize=4)
def _cipher(secret: str) -> AESSIV:
    return AESSIV(hmac.new(secret.encode(), _KEY_PURPOSE, hashlib.sha512).digest())


def _seal(kind: bytes, body: str, secret: str) -> str:
    sealed = _cipher(secret).encrypt(body.encode(), [kind])
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def _open(kind: bytes, token: str, secret: str) -> str:
    try:
        blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        return _cipher(secret).decrypt(blob, [kind]).decode()
    except (ValueError, UnicodeDecodeError, InvalidTag, binascii.Error) as err:
        raise ValueError(INVALID) from err


def open_token(send_id: str, secret: str) -> str:
    return _seal(OPEN, send_id, secret)


def click_token(send_id: str, url: str, secret: str) -> str:
    return _seal(CLICK, f"{send_id}\0{url}", secret)


def read_open(token: str, secret: str) -> str:
    """The send of an open token, or ValueError."""
    return _open(OPEN, token, secret)


def read_click(token: str, secret: str) -> tuple[str, str]:
    """(send id, link) of a click token, or ValueError."""
    send_id, _, url = _open(CLICK, token, secret).partition("\0")
    if not url.lower().startswith(("https://", "http://")):
        raise ValueError(INVALID)
    return send_id, url


def visitor_token(lead_id: str, secret: str, issued: datetime) -> str:
    """The `#nt=` a click on our email adds to a link into a tracked site: the site's tracker
    may identify its visitor as this lead with it (and with nothing else: no address typed
    into a console can). Sealed: the lead id is not readable; it ages out in an hour."""
    return _seal(VISITOR, f"{lead_id}\0{issued.astimezone(UTC):%Y-%m-%dT%H:%M}", secret)


def read_visitor(token: str, secret: str, now: datetime) -> str:
    """The lead of a visitor token no older than VISITOR_TTL, or ValueError."""
    lead_id, _, minute = _open(VISITOR, token, secret).partition("\0")
    try:
        issued = datetime.strptime(minute, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
    except ValueError as err:
        raise ValueError(INVALID) from err
    if not lead_id or now - issued > VISITOR_TTL:
        raise ValueError("this visitor token is too old to identify anyone")
    return lead_id
