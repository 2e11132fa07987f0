"""Signed unsubscribe tokens: no readable personal data or ids, unforgeable, bound to one lead.

A token names a lead and a product, and since version 3 the email it came in (its send),
so an unsubscribe counts for that email in the engagement report. Since version 2 it
carries them encrypted and authenticated (AES-SIV, a key derived from NURTURE_SECRET_KEY):
decoding the link shows nothing but random-looking bytes, so a forwarded email does not
hand out the lead id, and altering one byte makes it invalid. It is deterministic (the same
email always gets the same link) and needs no store lookup.

Version 1 (`<base64 "lead_id:product">.<HMAC>`) and version 2 tokens (no send) are in
emails already sent and cannot be recalled: they are still accepted, and never issued again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

VERSION = b"\x02"
VERSION_WITH_SEND = b"\x03"
_KEY_PURPOSE = b"nurture unsubscribe token v2"
INVALID = "invalid unsubscribe token: the link is damaged or not ours"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@lru_cache(maxsize=4)
def _cipher(secret: str) -> AESSIV:
    """AES-256-SIV under a key of its own, derived from the secret (which also signs v1)."""
    return AESSIV(hmac.new(secret.encode(), _KEY_PURPOSE, hashlib.sha512).digest())


def sign_unsubscribe(lead_id: str, product: str, secret: str, send_id: str | None = None) -> str:
    """A version 3 token (version 2 without a send): URL-safe, no dot, nothing readable."""
    if send_id is None:
        sealed = _cipher(secret).encrypt(f"{lead_id}\0{product}".encode(), [VERSION])
        return _b64(VERSION + sealed)
    plain = f"{lead_id}\0{product}\0{send_id}".encode()
    return _b64(VERSION_WITH_SEND + _cipher(secret).encrypt(plain, [VERSION_WITH_SEND]))


def verify_unsubscribe(token: str, secret: str) -> tuple[str, str]:
    """(lead id, product) from a token of any version, or ValueError if it was altered
    or not ours."""
    lead_id, product, _ = read_unsubscribe(token, secret)
    return lead_id, product


def read_unsubscribe(token: str, secret: str) -> tuple[str, str, str | None]:
    """(lead id, product, send id or None before version 3), or ValueError."""
    try:
        if "." in token:
            return (*_verify_v1(token, secret), None)
        blob = _unb64(token)
        version = blob[:1]
        if version not in (VERSION, VERSION_WITH_SEND):
            raise ValueError("unknown token version")
        parts = _cipher(secret).decrypt(blob[1:], [version]).decode().split("\0")
        if len(parts) != (2 if version == VERSION else 3):
            raise ValueError("malformed token")
    except (ValueError, UnicodeDecodeError, InvalidTag, binascii.Error) as err:
        raise ValueError(INVALID) from err
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def _verify_v1(token: str, secret: str) -> tuple[str, str]:
    """The first format, still in old emails: a readable body and a truncated HMAC."""
    body, mac = token.split(".", 1)
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()[:18]
    if not hmac.compare_digest(expected, _unb64(mac)):
        raise ValueError("signature mismatch")
    lead_id, product = _unb64(body).decode().split(":", 1)
    return lead_id, product
