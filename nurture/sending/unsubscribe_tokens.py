"""Signed unsubscribe tokens: no readable personal data or ids, unforgeable, bound to one lead.

A token names a lead and a product. Since version 2 it carries them encrypted and
authenticated (AES-SIV, a key derived from NURTURE_SECRET_KEY): decoding the link shows
nothing but random-looking bytes, so a forwarded email does not hand out the lead id, and
altering one byte makes it invalid. It is deterministic (the same lead and product always
get the same link), needs no store lookup, and the send path builds it as before.

Version 1 tokens (`<base64 "lead_id:product">.<HMAC>`) are in emails already sent and
cannot be recalled: they are still accepted, and never issued again.
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


def sign_unsubscribe(lead_id: str, product: str, secret: str) -> str:
    """A version 2 token: URL-safe, no dot, nothing readable inside."""
    sealed = _cipher(secret).encrypt(f"{lead_id}\0{product}".encode(), [VERSION])
    return _b64(VERSION + sealed)


def verify_unsubscribe(token: str, secret: str) -> tuple[str, str]:
    """(lead id, product) from a token of either version, or ValueError if it was altered
    or not ours."""
    try:
        if "." in token:
            return _verify_v1(token, secret)
        blob = _unb64(token)
        if blob[:1] != VERSION:
            raise ValueError("unknown token version")
        lead_id, product = _cipher(secret).decrypt(blob[1:], [VERSION]).decode().split("\0")
    except (ValueError, UnicodeDecodeError, InvalidTag, binascii.Error) as err:
        raise ValueError(INVALID) from err
    return lead_id, product


def _verify_v1(token: str, secret: str) -> tuple[str, str]:
    """The first format, still in old emails: a readable body and a truncated HMAC."""
    body, mac = token.split(".", 1)
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()[:18]
    if not hmac.compare_digest(expected, _unb64(mac)):
        raise ValueError("signature mismatch")
    lead_id, product = _unb64(body).decode().split(":", 1)
    return lead_id, product
